//! A TCP proxy on a free 127.0.0.1 port in front of another port, for cutting one client's
//! connection while the server stays up: [`Proxy::cut`] closes the listener and every
//! connection through it; [`Proxy::resume`] listens again on the same port.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Proxy {
    pub port: u16,
    upstream: u16,
    stop: Arc<AtomicBool>,
    /// Both ends of every connection made, to shut down on a cut.
    streams: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Forwards a free port to `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> Proxy {
        let mut p = Proxy {
            port: super::broker::free_port(),
            upstream,
            stop: Arc::default(),
            streams: Arc::default(),
            accept: None,
        };
        p.resume();
        p
    }

    /// Listens again (after [`Proxy::cut`]) on the same port.
    pub fn resume(&mut self) {
        assert!(self.accept.is_none(), "proxy already listening");
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        self.stop.store(false, Ordering::SeqCst);
        let (stop, streams, upstream) = (
            Arc::clone(&self.stop),
            Arc::clone(&self.streams),
            self.upstream,
        );
        self.accept = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue; // the client sees its connection closed
                };
                let mut all = streams.lock().unwrap();
                all.push(client.try_clone().unwrap());
                all.push(server.try_clone().unwrap());
                pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(server, client);
            }
        }));
    }

    /// Closes the listener and every connection through it (both directions, at once).
    pub fn cut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            t.join().unwrap();
        }
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Copies `from` to `to` on its own thread until either end closes.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
