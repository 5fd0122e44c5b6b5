//! Retention: clips older than `retain_days`, beyond `max_bytes`, or while the file system has
//! less than `min_free` free, are deleted oldest first. Only files the recorder wrote are
//! touched: `{dir}/{source}/{YYYY-MM-DD}/{HH-MM-SS}-{clip_id}.mp4` and its `.json` / `.jpg`
//! beside it; anything else in the folder stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The clips this process is writing now: retention never deletes them.
static RECORDING: std::sync::LazyLock<parking_lot::Mutex<std::collections::HashSet<PathBuf>>> =
    std::sync::LazyLock::new(Default::default);

/// Marks a clip as being written until dropped ([`sweep`] passes it over).
#[derive(Debug)]
pub struct Hold(PathBuf);

impl Hold {
    pub fn new(mp4: &Path) -> Hold {
        RECORDING.lock().insert(mp4.to_path_buf());
        Hold(mp4.to_path_buf())
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        RECORDING.lock().remove(&self.0);
    }
}

/// What retention keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub max_age: Duration,
    pub max_bytes: u64,
    pub min_free: u64,
}

/// A clip on disk (its MP4 and sidecars).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipFiles {
    /// The MP4.
    pub mp4: PathBuf,
    /// Bytes of the MP4 and its sidecars.
    pub bytes: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

/// Whether `name` is a clip file name the recorder makes: `HH-MM-SS-{clip_id}.mp4`.
pub fn is_clip_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".mp4") else {
        return false;
    };
    let b = stem.as_bytes();
    b.len() > 9
        && b[..8].iter().enumerate().all(|(i, c)| {
            if i % 3 == 2 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && b[8] == b'-'
        && super::valid_clip_id(&stem[9..])
}

/// Whether `name` is a date folder `YYYY-MM-DD`.
fn is_date(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// The sidecars of a clip: its `.json` and `.jpg`.
pub fn sidecars(mp4: &Path) -> [PathBuf; 2] {
    [mp4.with_extension("json"), mp4.with_extension("jpg")]
}

/// Every clip under `dir` (`{source}/{date}/{clip}.mp4`), oldest first.
pub fn clips(dir: &Path) -> Vec<ClipFiles> {
    let mut out = Vec::new();
    let entries = |p: &Path| std::fs::read_dir(p).into_iter().flatten().flatten();
    for source in entries(dir).filter(|e| e.file_type().is_ok_and(|t| t.is_dir())) {
        for day in entries(&source.path()).filter(|e| {
            e.file_type().is_ok_and(|t| t.is_dir()) && is_date(&e.file_name().to_string_lossy())
        }) {
            for clip in entries(&day.path()) {
                let name = clip.file_name().to_string_lossy().to_string();
                let Ok(meta) = clip.metadata() else { continue };
                if !meta.is_file() || !is_clip_name(&name) {
                    continue;
                }
                let mp4 = clip.path();
                let side: u64 = sidecars(&mp4)
                    .iter()
                    .filter_map(|p| std::fs::metadata(p).ok())
                    .map(|m| m.len())
                    .sum();
                out.push(ClipFiles {
                    bytes: meta.len() + side,
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    mp4,
                });
            }
        }
    }
    // Day folder and time in the name order clips by start; the path breaks ties.
    out.sort_by(|a, b| {
        let key = |c: &ClipFiles| {
            let day = c
                .mp4
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_owned());
            (day, c.mp4.file_name().map(|n| n.to_owned()))
        };
        key(a).cmp(&key(b))
    });
    out
}

/// Deletes a clip's MP4 and sidecars (and its day folder once empty).
///
/// # Errors
/// The MP4's removal error.
pub fn delete(mp4: &Path) -> std::io::Result<()> {
    std::fs::remove_file(mp4)?;
    for side in sidecars(mp4) {
        let _ = std::fs::remove_file(side);
    }
    if let Some(day) = mp4.parent() {
        let _ = std::fs::remove_dir(day); // only succeeds when empty
    }
    Ok(())
}

/// Free bytes for unprivileged users on the file system of `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `stat` is a valid out-pointer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// Applies `policy` to the clips under `dir`, never deleting `keep` (the clip being written).
/// Returns the deleted MP4s.
pub fn sweep(dir: &Path, policy: &Policy, keep: Option<&Path>) -> Vec<PathBuf> {
    let now = SystemTime::now();
    let mut all = clips(dir);
    let mut total: u64 = all.iter().map(|c| c.bytes).sum();
    let mut free = free_bytes(dir);
    let mut deleted = Vec::new();
    // Never a clip being written.
    let recording = RECORDING.lock().clone();
    all.retain(|c| Some(c.mp4.as_path()) != keep && !recording.contains(&c.mp4));
    for clip in all {
        let old = now
            .duration_since(clip.modified)
            .is_ok_and(|age| age > policy.max_age);
        let over = total > policy.max_bytes;
        let full = free.is_some_and(|f| f < policy.min_free);
        if !(old || over || full) {
            continue;
        }
        match delete(&clip.mp4) {
            Ok(()) => {
                total = total.saturating_sub(clip.bytes);
                free = free.map(|f| f + clip.bytes);
                tracing::info!(clip = %clip.mp4.display(), old, over, full, "clip deleted by retention");
                deleted.push(clip.mp4);
            }
            Err(e) => tracing::warn!(clip = %clip.mp4.display(), "retention: cannot delete: {e}"),
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_recognized_and_foreign_files_are_left_alone() {
        assert!(is_clip_name("12-00-07-cam1-1765000000123.mp4"));
        assert!(!is_clip_name("12-00-07-.mp4"));
        assert!(!is_clip_name("holiday.mp4"));
        assert!(!is_clip_name("12-00-07-cam1-1.mkv"));
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("cam1/2026-12-06");
        std::fs::create_dir_all(&day).unwrap();
        for (name, size) in [
            ("10-00-00-cam1-1.mp4", 400),
            ("11-00-00-cam1-2.mp4", 400),
            ("12-00-00-cam1-3.mp4", 400),
            ("notes.mp4", 5000),
        ] {
            std::fs::write(day.join(name), vec![0u8; size]).unwrap();
        }
        std::fs::write(day.join("10-00-00-cam1-1.json"), b"{}").unwrap();
        let policy = Policy {
            max_age: Duration::from_secs(3600),
            max_bytes: 900,
            min_free: 0,
        };
        let deleted = sweep(dir.path(), &policy, None);
        assert_eq!(deleted, [day.join("10-00-00-cam1-1.mp4")]);
        assert!(!day.join("10-00-00-cam1-1.json").exists());
        assert!(day.join("notes.mp4").exists());
        assert_eq!(clips(dir.path()).len(), 2);
    }
}
