//! `ovstream serve` started on a port the kernel picks (`--api 127.0.0.1:0`): no race with
//! another test for a port found free a moment before. The port is read from the service's
//! own "serving the API at http://…" line; the rest of its stderr is kept for the test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running service, its port and what it printed so far.
pub struct Served {
    pub child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

/// What the service prints once it answers.
const READY_LINE: &str = "serving the API at http://127.0.0.1:";

/// Starts `ovstream serve ARGS… --api 127.0.0.1:0` from the repository root and waits (up to
/// `within`) until it serves; panics with its stderr when it exits or times out first.
pub fn start(args: &[&str], within: Duration) -> Served {
    start_limited(args, within, None)
}

/// [`start`] on `pipeline` with `token` (written to `dir/token`) and the state file
/// `dir/state.json`.
pub fn start_with_token(dir: &std::path::Path, pipeline: &std::path::Path, token: &str) -> Served {
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let state = dir.join("state.json");
    start(
        &[
            pipeline.to_str().unwrap(),
            "--api-token-file",
            token_file.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    )
}

/// [`start`] with at most `nofile` open file descriptors in the service (`ulimit -n`).
pub fn start_limited(args: &[&str], within: Duration, nofile: Option<u64>) -> Served {
    start_full(args, within, nofile, &[])
}

/// [`start`] with these environment variables set in the service.
pub fn start_env(args: &[&str], within: Duration, envs: &[(&str, &str)]) -> Served {
    start_full(args, within, None, envs)
}

fn start_full(
    args: &[&str],
    within: Duration,
    nofile: Option<u64>,
    envs: &[(&str, &str)],
) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ovstream"));
    command.envs(envs.iter().copied());
    if let Some(n) = nofile {
        use std::os::unix::process::CommandExt;
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = command
        .arg("serve")
        .args(args)
        .args(["--api", "127.0.0.1:0"])
        .current_dir(super::root())
        .env("OVSTREAM_LOG", "warn")
        .env("XDG_CACHE_HOME", super::test_cache())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ovstream serve");
    let log = Arc::new(Mutex::new(String::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().expect("piped stderr");
    let kept = Arc::clone(&log);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(READY_LINE) {
                let port = rest.split('/').next().and_then(|p| p.parse::<u16>().ok());
                let _ = port_tx.send(port);
            }
            let mut all = kept.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let deadline = Instant::now() + within;
    let port = loop {
        match port_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(port)) => break port,
            Ok(None) => panic!("no port in the ready line: {}", log.lock().unwrap()),
            Err(_) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            let _ = reader.join();
            panic!("serve exited ({status}): {}", log.lock().unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "serve did not answer within {within:?}: {}",
            log.lock().unwrap()
        );
    };
    Served {
        child,
        port,
        log,
        reader: Some(reader),
    }
}

impl Served {
    /// Its stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for it to exit (after a signal): its status and all it printed.
    pub fn wait(&mut self) -> (ExitStatus, String) {
        let status = self.child.wait().expect("wait for serve");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (status, self.log())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
