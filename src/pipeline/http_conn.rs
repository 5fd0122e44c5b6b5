//! The accept loop of [`super::http::HttpServer`]: hyper's HTTP/1.1 with the limits a service
//! open to a network needs, which `axum::serve` does not set.
//!
//! - At most [`MAX_CONNECTIONS`] connections at once; one more is answered `503` with a JSON
//!   error and closed at once (it never waits holding a file descriptor).
//! - A connection has [`HEADER_TIMEOUT`] to send a request's header, the first one and each
//!   next one on a kept-alive connection: idle and slow-loris sockets are closed.
//! - A response whose bytes the client does not take for a `write_timeout` (default
//!   [`WRITE_TIMEOUT`]; `serve` uses `[serve] viewer_timeout`) is cut: a stalled live viewer or
//!   a client that stopped reading does not hold a connection and its buffers forever.
//! - A failed `accept` (out of file descriptors) waits [`ACCEPT_BACKOFF`] before the next try
//!   and is logged at most once per [`LOG_EVERY`], with the count since the last line.
//! - Stopping ends the loop; requests under way get [`super::http::SHUTDOWN_TIMEOUT`].

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

/// Most connections one server holds at once.
pub const MAX_CONNECTIONS: usize = 128;
/// Longest time to receive a request's header (and idle time between kept-alive requests).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The kernel's send buffer of a connection, bytes (fixed: no autotuning to megabytes per
/// client); with hyper's own buffer, what a client that stopped reading can hold up before
/// its writes wait and [`WRITE_TIMEOUT`] runs.
pub const SEND_BUFFER: usize = 256 * 1024;
/// Default longest time a write to a client may wait for the client to take bytes.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Wait after a failed `accept` (e.g. no file descriptor left) before trying again.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(500);
/// At most one log line about failed accepts per this long.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// What a connection over [`MAX_CONNECTIONS`] gets before it is closed.
const BUSY: &str = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
                    Connection: close\r\nRetry-After: 1\r\nContent-Length: 56\r\n\r\n\
                    {\"error\":\"too many connections; try again in a second\"}\n";

/// Counts failed accepts and says so at most once per [`LOG_EVERY`].
struct AcceptErrors {
    last_log: Option<Instant>,
    since: u64,
}

impl AcceptErrors {
    fn note(&mut self, what: &str, e: &std::io::Error) {
        self.since += 1;
        if self.last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            tracing::error!(
                "{what}: accept failed ({} time(s) since the last report): {e}",
                self.since
            );
            self.last_log = Some(Instant::now());
            self.since = 0;
        }
    }
}

/// Serves `router` on `listener` until `stop` fires.
pub(super) async fn serve(
    what: &'static str,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    write_timeout: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut errors = AcceptErrors {
        last_log: None,
        since: 0,
    };
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                errors.note(what, &e);
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        limit_send_buffer(&stream);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(write_timeout));
        let service = TowerToHyperService::new(router.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(Box::pin(stream)), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    let _ = tokio::time::timeout(super::http::SHUTDOWN_TIMEOUT, graceful.shutdown()).await;
}

/// Sets the connection's `SO_SNDBUF` to [`SEND_BUFFER`] (a failure keeps the default).
fn limit_send_buffer(stream: &tokio::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let size = SEND_BUFFER as libc::c_int;
    // SAFETY: a valid socket, a pointer to a c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        tracing::debug!("SO_SNDBUF: {}", std::io::Error::last_os_error());
    }
}

/// Answers `503` and closes (a connection over the limit).
async fn refuse(mut stream: tokio::net::TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(BUSY.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_busy_answer_is_well_formed() {
        let (head, body) = super::BUSY.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503"));
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }
}
