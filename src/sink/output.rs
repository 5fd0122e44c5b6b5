//! Outputs as components: the one trait every per-source output implements ([`Output`]), and
//! the resources outputs claim ([`Claim`]: files by identity, ports, MQTT topics) with the one
//! collision check ([`Claims`]) that `run`, `serve` and the elements use. A new output (a
//! recorder, a live view) is its own file: an `impl Output`, its claims, and one line where
//! [`super::sinks_sharing`] opens the outputs.

use crate::error::{Error, Result};
use crate::frame::AnalyzedFrame;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One output of one source: it gets that source's frames in order, then is finished once.
pub trait Output: Send {
    /// What it is and where it writes, for messages: `metadata out/a.jsonl`, `rtsp://…`.
    fn describe(&self) -> String;

    /// Whether it shows the frame's pixels (the overlay stage draws on them first).
    fn needs_pixels(&self) -> bool {
        false
    }

    /// Writes one frame of source `source` (its name). Pixels of `frame` may be drawn on.
    ///
    /// # Errors
    /// [`Error::Output`] naming what failed to be written.
    fn write(&mut self, frame: &mut AnalyzedFrame, source: &str) -> Result<()>;

    /// The source ended (EOS, limit, stop, removal): finalize (MP4 `moov`, flush, end the
    /// stream for clients). Called once, also after a failed write.
    ///
    /// # Errors
    /// [`Error::Output`] naming what could not be finalized.
    fn finish(&mut self) -> Result<()>;

    /// Shares its H.264 encoder (an MP4 output's): each access unit also goes to
    /// `share.on_unit`, and a keyframe is made when `share.want_keyframe` is raised. Returns
    /// whether it encodes H.264 and took the share (the default: it does not).
    fn share_encoder(&mut self, _share: std::sync::Arc<EncoderShare>) -> bool {
        false
    }
}

/// The other side of [`Output::share_encoder`]: who else takes the encoded video (the live
/// view of the stream), and its wish for a keyframe (a viewer joined).
pub struct EncoderShare {
    /// Called with each access unit (with its caps) on the encoder's thread; must not block.
    pub on_unit: Box<dyn Fn(&gstreamer::Sample) + Send + Sync>,
    pub want_keyframe: std::sync::atomic::AtomicBool,
}

/// A resource an output takes for itself; two outputs (or an output and an input) may not
/// claim the same one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Claim {
    /// A file it writes (created or truncated), by path; compared by identity.
    File(PathBuf),
    /// A file it reads: only outputs may not write it.
    Input(PathBuf),
    /// A TCP port on an address (`HOST:PORT`).
    Port(String),
    /// An MQTT topic (with its broker URL, credentials redacted).
    Topic(String),
    /// A URL it serves (an RTSP mount); several mounts may share one server's port.
    Url(String),
}

/// What makes two paths the same file: device and inode when it exists, else the canonical
/// folder and the name it would be created with.
#[derive(Debug, PartialEq, Eq, Hash, Clone)]
enum FileId {
    Inode(u64, u64),
    Planned(PathBuf, std::ffi::OsString),
}

fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(m) = std::fs::metadata(path) {
        return Some(FileId::Inode(m.dev(), m.ino()));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(FileId::Planned(
        parent.canonicalize().ok()?,
        path.file_name()?.to_os_string(),
    ))
}

/// Whether `a` and `b` are (or would be created as) the same file: links, `..` and `.`
/// resolved, not compared by name.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (file_id(a), file_id(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The resources claimed so far, and by whom.
#[derive(Debug, Default)]
pub struct Claims {
    files: HashMap<FileId, String>,
    others: HashMap<Claim, String>,
}

impl Claims {
    /// Records that `who` claims `claim`.
    ///
    /// # Errors
    /// [`Error::Setting`] naming both claimants when the resource is taken (an output that is
    /// an input or another output's file, the same port or topic twice), or [`Error::Output`]
    /// when a file it would write cannot be (a folder; an unwritable folder).
    pub fn claim(&mut self, who: &str, claim: Claim) -> Result<()> {
        let taken = |other: &str, what: &str| Error::Setting {
            key: what.to_string(),
            message: format!("{who} is the same as {other}; refusing to overwrite it"),
        };
        match &claim {
            Claim::File(path) | Claim::Input(path) => {
                if matches!(claim, Claim::File(_)) {
                    check_writable(path)?;
                }
                let Some(id) = file_id(path) else {
                    return Ok(()); // a folder that does not exist: the output reports it
                };
                if let Some(other) = self.files.get(&id) {
                    let both_inputs =
                        matches!(claim, Claim::Input(_)) && other.starts_with("input");
                    if !both_inputs {
                        let message = format!("{who} is the same file as {other}");
                        return Err(Error::Setting {
                            key: path.display().to_string(),
                            message: format!("{message}; refusing to overwrite it"),
                        });
                    }
                }
                self.files.insert(id, who.to_string());
            }
            Claim::Port(_) | Claim::Topic(_) | Claim::Url(_) => {
                if let Some(other) = self.others.get(&claim) {
                    return Err(taken(other, &format!("{claim:?}")));
                }
                self.others.insert(claim, who.to_string());
            }
        }
        Ok(())
    }
}

/// An output path that can be written: not a folder, and its folder (the nearest one that
/// exists; the rest is created) writable.
///
/// # Errors
/// [`Error::Output`] naming the path.
fn check_writable(path: &Path) -> Result<()> {
    let err = |message: String| Error::Output {
        path: path.to_path_buf(),
        message,
    };
    if path.is_dir() {
        return Err(err("is a folder; give a file name".into()));
    }
    let mut dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    while !dir.exists() {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p,
            _ => {
                dir = Path::new(".");
                break;
            }
        }
    }
    let c_dir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| err("path contains a NUL byte".into()))?;
    // SAFETY: access(2) on a valid C string.
    if !dir.is_dir() || unsafe { libc::access(c_dir.as_ptr(), libc::W_OK) } != 0 {
        return Err(err(format!("folder {} is not writable", dir.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_claimed_once_whatever_its_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.mp4");
        std::fs::write(&input, b"x").unwrap();
        let mut claims = Claims::default();
        claims
            .claim("input in.mp4", Claim::Input(input.clone()))
            .unwrap();
        let other = dir.path().join("sub/../in.mp4");
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        let err = claims.claim("--output", Claim::File(other)).unwrap_err();
        assert!(err.to_string().contains("input in.mp4"), "{err}");
        let out = dir.path().join("out.jsonl");
        claims
            .claim("--metadata", Claim::File(out.clone()))
            .unwrap();
        let err = claims.claim("--events", Claim::File(out)).unwrap_err();
        assert!(err.to_string().contains("--metadata"), "{err}");
        assert_eq!(err.exit_code(), crate::error::exit_code::CONFIG);
        // The same input twice (a clip played as two streams) is fine.
        claims.claim("input again", Claim::Input(input)).unwrap();
    }

    #[test]
    fn ports_and_topics_are_claimed_once() {
        let mut claims = Claims::default();
        claims
            .claim("rtsp a", Claim::Port("127.0.0.1:8554".into()))
            .unwrap();
        assert!(claims
            .claim("rtsp b", Claim::Port("127.0.0.1:8554".into()))
            .is_err());
        claims
            .claim("mqtt a", Claim::Topic("ovstream/a/events".into()))
            .unwrap();
        claims
            .claim("mqtt b", Claim::Topic("ovstream/b/events".into()))
            .unwrap();
    }

    #[test]
    fn same_file_resolves_links_and_dots() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        std::fs::write(&a, b"").unwrap();
        let link = dir.path().join("b.jsonl");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        assert!(same_file(&a, &link));
        assert!(same_file(&dir.path().join("x"), &dir.path().join("./x")));
        assert!(!same_file(&a, &dir.path().join("x")));
    }
}
