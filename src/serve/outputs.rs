//! A stream's own output files (`outputs` in `POST /api/streams`), kept under the operator's
//! `[serve] output_root`.

use super::refusal::Refusal;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `outputs` of `POST /api/streams`: files for this stream in place of the pipeline file's,
/// as paths relative to `[serve] output_root` (`{name}` is the stream's name). A key left out
/// keeps the pipeline file's output. Absolute paths, `..` and symlinks out of the root are
/// refused, so a client can never write outside the folder the operator gave.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamOutputs {
    /// Annotated H.264 MP4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp4: Option<String>,
    /// JSON lines, one per frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// Object and analytics events, one JSON object per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<String>,
    /// `false`: not re-streamed on `[serve] rtsp` (default: it is, when that is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtsp: Option<bool>,
}

/// Longest path of a per-stream output, bytes.
const MAX_OUTPUT_PATH: usize = 1024;

impl StreamOutputs {
    /// `(key, path)` of each output given.
    fn given(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("mp4", self.mp4.as_deref()),
            ("metadata", self.metadata.as_deref()),
            ("events", self.events.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.map(|p| (k, p)))
    }

    /// Each given output as a path under `root`, checked.
    ///
    /// # Errors
    /// A 422 [`Refusal`] naming the output and the rule: no root configured, empty, absolute,
    /// `..`, a symlink or folder leading out of the root, the same file twice.
    pub fn resolve(
        &self,
        name: &str,
        root: Option<&Path>,
    ) -> Result<Vec<(&'static str, PathBuf)>, Refusal> {
        let given: Vec<_> = self.given().collect();
        if given.is_empty() {
            return Ok(Vec::new());
        }
        let Some(root) = root else {
            return Err(Refusal::new(
                422,
                "outputs: per-stream outputs need [serve] output_root in the pipeline file \
                 (none configured)",
            ));
        };
        let real_root = root.canonicalize().map_err(|e| {
            Refusal::new(
                422,
                format!("outputs: [serve] output_root {}: {e}", root.display()),
            )
        })?;
        let mut out: Vec<(&'static str, PathBuf)> = Vec::new();
        for (key, raw) in given {
            let bad = |why: &str| Refusal::new(422, format!("outputs.{key} {raw:?}: {why}"));
            let expanded = crate::config::names::expand(raw, name);
            let path = under_root(&expanded, &real_root).map_err(bad)?;
            if path.is_dir() {
                return Err(bad("is a folder"));
            }
            if out.iter().any(|(_, p)| *p == path) {
                return Err(bad("the same file as another output"));
            }
            out.push((key, path));
        }
        Ok(out)
    }
}

/// `rel`, a path relative to `[serve] output_root` (`real_root`, canonical), as a path under
/// it: 1 to 1024 bytes, no `..` or absolute part, no symlink leading out.
///
/// # Errors
/// What is wrong with it, for the caller's message.
pub(super) fn under_root(rel: &str, real_root: &Path) -> Result<PathBuf, &'static str> {
    if rel.is_empty() || rel.len() > MAX_OUTPUT_PATH {
        return Err("expected 1 to 1024 bytes");
    }
    if !Path::new(rel)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err("expected a path relative to [serve] output_root, without `..`");
    }
    let path = real_root.join(rel);
    if !inside(&path, real_root) {
        return Err("leads out of [serve] output_root (a symlink)");
    }
    Ok(path)
}

/// `path` (which may not exist yet) stays under `root` once its existing part is resolved.
fn inside(path: &Path, root: &Path) -> bool {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return false;
        }
    }
    let mut existing = path.parent();
    while let Some(dir) = existing {
        if let Ok(real) = dir.canonicalize() {
            return real.starts_with(root);
        }
        existing = dir.parent();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_stay_under_the_output_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        std::fs::create_dir_all(root.join("cams")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("escape")).unwrap();
        let outputs = |mp4: &str| StreamOutputs {
            mp4: Some(mp4.into()),
            ..Default::default()
        };
        let real = root.canonicalize().unwrap();
        let ok = outputs("cams/{name}.mp4")
            .resolve("door", Some(&root))
            .unwrap();
        assert_eq!(ok, vec![("mp4", real.join("cams/door.mp4"))]);
        for (path, why) in [
            ("escape/x.mp4", "out of"),
            ("../x.mp4", "`..`"),
            ("/x.mp4", "relative"),
            ("cams", "folder"),
            ("", "1 to 1024"),
        ] {
            let e = outputs(path).resolve("door", Some(&root)).unwrap_err();
            assert!(e.message.contains(why), "{path}: {e:?}");
        }
        let e = outputs("a.mp4").resolve("door", None).unwrap_err();
        assert!(e.message.contains("output_root"), "{e:?}");
        let same = StreamOutputs {
            metadata: Some("a".into()),
            events: Some("a".into()),
            ..Default::default()
        };
        assert!(same.resolve("door", Some(&root)).is_err());
    }
}
