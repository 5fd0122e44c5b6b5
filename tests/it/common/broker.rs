//! A real mosquitto on a free 127.0.0.1 port for the MQTT tests (config and persistence in a
//! temporary folder), started as a child and stopped by its PID; and `mosquitto_sub`
//! subscribers writing what they receive to a file.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the broker may take to listen and a subscriber to receive its probe: on a loaded
/// 2-core box (the test files' tests run in parallel, each with its pipelines) it took over 10 s
/// once.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Broker {
    pub port: u16,
    pub dir: PathBuf,
    /// Extra lines for the listener (TLS files).
    extra: String,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker with persistence in `dir`.
    pub fn start(dir: &Path) -> Broker {
        Broker::start_with(dir, "")
    }

    /// Starts a broker whose listener also gets `extra` config lines.
    pub fn start_with(dir: &Path, extra: &str) -> Broker {
        let mut b = Broker {
            port: free_port(),
            dir: dir.to_path_buf(),
            extra: extra.to_string(),
            child: None,
        };
        b.restart();
        b
    }

    /// (Re)starts the broker on the same port with the same persistence.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let conf = self.dir.join("mosquitto.conf");
        let mut f = std::fs::File::create(&conf).unwrap();
        writeln!(
            f,
            // `user root`: as root, mosquitto would otherwise switch to its own user, which
            // cannot read the test's temporary folder (ignored when not run as root).
            "user root\nlistener {} 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}/\nlog_dest file {}/mosquitto.log\n{}",
            self.port,
            self.dir.display(),
            self.dir.display(),
            self.extra
        )
        .unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto runs (scripts/setup.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the broker by its PID (SIGTERM: it saves its persistence) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child by its PID.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    pub fn url(&self, prefix: &str) -> String {
        format!("mqtt://127.0.0.1:{}/{prefix}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `mosquitto_sub -v` on `topic` at QoS 1 with a persistent session (`-c -i id`), lines
/// `topic payload` in `out`.
pub struct Subscriber {
    pub out: PathBuf,
    child: Child,
}

impl Subscriber {
    /// Subscribes to `prefix/#` on the broker at `port` (more `mosquitto_sub` arguments in
    /// `extra`), and returns once it receives (a probe published on `prefix/probe`).
    pub fn start(port: u16, prefix: &str, out: &Path, extra: &[&str]) -> Subscriber {
        let topic = format!("{prefix}/#");
        let file = std::fs::File::create(out).unwrap();
        let id = format!("test-sub-{}-{}", std::process::id(), free_port());
        let child = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-v",
                "-q",
                "1",
                "-c",
            ])
            .args(["-i", &id, "-t", &topic])
            .args(extra)
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub runs");
        let sub = Subscriber {
            out: out.to_path_buf(),
            child,
        };
        let probe = format!("{prefix}/probe");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let _ = Command::new("mosquitto_pub")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-t",
                    &probe,
                    "-m",
                    "probe",
                ])
                .args(extra)
                .status();
            if sub.wait_for(&probe, "probe", Duration::from_millis(300)) {
                return sub;
            }
            assert!(Instant::now() < deadline, "mosquitto_sub never received");
        }
    }

    /// `(topic, payload)` of every message so far.
    pub fn messages(&self) -> Vec<(String, String)> {
        // Lossy: a binary payload (a snapshot JPEG) must not hide the text messages.
        std::fs::read(&self.out)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(t, p)| (t.to_string(), p.to_string()))
            .collect()
    }

    /// Waits (at most `timeout`) until a message on `topic` with `payload` arrived.
    pub fn wait_for(&self, topic: &str, payload: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self
                .messages()
                .iter()
                .any(|(t, p)| t == topic && p == payload)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
