//! One compile at a time per compiled-model cache folder, across processes: OpenVINO writes its
//! cache blobs without coordinating with other processes, and two that compile the same model
//! into one folder at once (test runs, replicas sharing a volume) can fail with "filesystem
//! error: cannot set permissions: No such file or directory [<dir>/<hash>.blob]". An exclusive
//! `flock` on `<dir>/.compile.lock` around the compile serializes them; the second then imports
//! the first one's blob.

use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Held while compiling; released when dropped (the file is closed).
pub(super) struct CacheLock(#[allow(dead_code)] std::fs::File);

impl CacheLock {
    /// Waits for the lock of `dir`; `None` when it cannot be taken (a read-only folder): the
    /// compile then goes on without it, as before.
    pub(super) fn take(dir: &Path) -> Option<CacheLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".compile.lock"))
            .ok()?;
        // SAFETY: `file` is an open descriptor for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        (rc == 0).then_some(CacheLock(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = CacheLock::take(dir.path()).unwrap();
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _second = CacheLock::take(&path).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        waiter.join().unwrap();
    }
}
