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

/// Files left by removed streams remembered as theirs (for a re-add of the same name), at most.
const MAX_RELEASED: usize = 4096;

/// One file a stream writes.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamFile {
    /// `mp4`, `metadata` or `events`.
    pub key: &'static str,
    pub path: PathBuf,
    /// One of the pipeline file's per-stream outputs, named after the stream (so its own).
    pub default: bool,
}

/// The files stream `name` writes: `own` (its `outputs`, resolved under `root`) in place of
/// the pipeline file's per-stream `[output]` files (`defaults`, `{name}` expanded; `-`, stdout,
/// is none).
///
/// # Errors
/// See [`StreamOutputs::resolve`].
pub fn stream_files(
    name: &str,
    own: Option<&StreamOutputs>,
    defaults: &crate::config::OutputConfig,
    root: Option<&Path>,
) -> Result<Vec<StreamFile>, Refusal> {
    use crate::config::names::expand;
    let mut files: Vec<StreamFile> = own
        .map_or(Ok(Vec::new()), |o| o.resolve(name, root))?
        .into_iter()
        .map(|(key, path)| StreamFile {
            key,
            path,
            default: false,
        })
        .collect();
    let defaults = [
        (
            "mp4",
            defaults.mp4.as_ref().map(|p| p.display().to_string()),
        ),
        ("metadata", defaults.metadata.clone()),
        ("events", defaults.events.clone()),
    ];
    for (key, template) in defaults {
        let Some(template) = template.filter(|t| t != "-") else {
            continue;
        };
        if !files.iter().any(|f| f.key == key) {
            files.push(StreamFile {
                key,
                path: PathBuf::from(expand(&template, name)),
                default: true,
            });
        }
    }
    Ok(files)
}

impl super::Service {
    /// The files stream `spec` writes (see [`stream_files`]), with the service's pipeline-file
    /// outputs and output root.
    ///
    /// # Errors
    /// See [`StreamOutputs::resolve`].
    pub(super) fn files_of(&self, spec: &super::StreamSpec) -> Result<Vec<StreamFile>, Refusal> {
        let root = self.output_root.as_deref();
        stream_files(&spec.name, spec.outputs.as_ref(), &self.defaults, root)
    }
}

/// What decides whether a new stream may write its files: the other streams' files, the files
/// removed streams left (path → name), and whether it comes back from the state file.
pub struct ClaimCheck<'a> {
    pub others: Vec<(&'a str, Vec<StreamFile>)>,
    pub released: &'a std::collections::HashMap<PathBuf, String>,
    pub restored: bool,
}

impl ClaimCheck<'_> {
    /// Refuses (409) a file of stream `name` (`mine`) that another stream writes, or that
    /// exists but is not this stream's own earlier output — neither one of its defaults (named
    /// after it), nor restored with it from the state file, nor left by a stream of its name
    /// earlier in this run: another stream's file, a finished recording, an input. An output
    /// never truncates a file it did not write.
    ///
    /// # Errors
    /// The 409 [`Refusal`] naming the output, the file and why.
    pub fn check(&self, name: &str, mine: &[StreamFile]) -> Result<(), Refusal> {
        use crate::sink::output::same_file;
        for f in mine {
            let taken = |why: String| {
                Refusal::new(
                    409,
                    format!("outputs.{}: {} {why}", f.key, f.path.display()),
                )
            };
            if let Some((other, _)) = self
                .others
                .iter()
                .find(|(_, files)| files.iter().any(|o| same_file(&o.path, &f.path)))
            {
                return Err(taken(format!("is written by stream {other}")));
            }
            let left_by_it = self.released.get(&f.path).is_some_and(|n| n == name);
            if f.path.exists() && !f.default && !self.restored && !left_by_it {
                return Err(taken(
                    "exists and was not written by this stream (another stream's output, a                      recording or an input?): it is never overwritten; remove it or choose                      another path"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// Remembers `files` as left by stream `name` (it was removed), so a re-add of that name may
/// write them again; bounded at [`MAX_RELEASED`] (the oldest-inserted are not tracked: a
/// forgotten one is refused, never overwritten).
pub fn release(
    released: &mut std::collections::HashMap<PathBuf, String>,
    name: &str,
    files: Vec<StreamFile>,
) {
    for f in files.into_iter().filter(|f| !f.default) {
        if released.len() >= MAX_RELEASED && !released.contains_key(&f.path) {
            let Some(any) = released.keys().next().cloned() else {
                break;
            };
            released.remove(&any);
        }
        released.insert(f.path, name.to_string());
    }
}

/// `path`, or when it exists the first free `{stem}-{n}.{ext}` (n = 1, 2, …, up to 10,000):
/// a restarted stream's MP4 never replaces the one before.
pub fn next_free(path: &Path) -> PathBuf {
    if !path.exists() {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string());
    let ext = path.extension().map(|e| e.to_string_lossy().to_string());
    (1..=10_000)
        .map(|n| {
            let file = match (&stem, &ext) {
                (Some(s), Some(e)) => format!("{s}-{n}.{e}"),
                (Some(s), None) => format!("{s}-{n}"),
                _ => format!("{n}"),
            };
            path.with_file_name(file)
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

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
            let bad = |why: &str| {
                let raw = crate::redact::clip(raw);
                Refusal::new(422, format!("outputs.{key} {raw:?}: {why}"))
            };
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

/// The per-stream form of the outputs: `-{name}` before the extension of MP4, JSON and events
/// paths that lack `{name}` (streams come one at a time and must not share or truncate a file).
pub(super) fn per_stream_outputs(
    config: &crate::config::PipelineConfig,
) -> crate::error::Result<crate::config::PipelineConfig> {
    use crate::config::names::mp4_template;
    let mut c = config.clone();
    if c.output.rtsp.is_some() || c.output.display {
        return Err(crate::error::Error::Setting {
            key: "serve".into(),
            message: "[output] rtsp and display are not for `ovstream serve`: its streams are \
                      re-streamed with [serve] rtsp = \"HOST:PORT\" (and watched in a browser at \
                      /api/streams/{name}/live.mp4)"
                .into(),
        });
    }
    c.output.mp4 = c
        .output
        .mp4
        .map(|p| PathBuf::from(mp4_template(&p.display().to_string(), 2)));
    let per = |p: Option<String>| p.filter(|p| p != "-").map(|p| mp4_template(&p, 2));
    c.output.metadata = per(c.output.metadata.take());
    c.output.events = per(c.output.events.take());
    Ok(c)
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

    #[test]
    fn next_free_numbers_beside_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cam.mp4");
        assert_eq!(next_free(&p), p);
        std::fs::write(&p, b"x").unwrap();
        assert_eq!(next_free(&p), dir.path().join("cam-1.mp4"));
        std::fs::write(dir.path().join("cam-1.mp4"), b"x").unwrap();
        assert_eq!(next_free(&p), dir.path().join("cam-2.mp4"));
    }

    #[test]
    fn claims_refuse_others_files_and_files_not_written_by_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, default: bool| StreamFile {
            key: "metadata",
            path: dir.path().join(name),
            default,
        };
        std::fs::write(dir.path().join("old.jsonl"), b"{}").unwrap();
        let mut released = std::collections::HashMap::new();
        fn check<'a>(
            released: &'a std::collections::HashMap<PathBuf, String>,
            restored: bool,
            a: StreamFile,
        ) -> ClaimCheck<'a> {
            ClaimCheck {
                others: vec![("a", vec![a])],
                released,
                restored,
            }
        }
        let e = check(&released, false, file("a.jsonl", true))
            .check("b", &[file("a.jsonl", false)])
            .unwrap_err();
        assert_eq!(
            (e.status, e.message.contains("stream a")),
            (409, true),
            "{e:?}"
        );
        let e = check(&released, false, file("a.jsonl", true))
            .check("b", &[file("old.jsonl", false)])
            .unwrap_err();
        assert!(e.message.contains("never overwritten"), "{e:?}");
        // Its default, a restore, or left by the same name earlier: its own.
        assert!(check(&released, false, file("a.jsonl", true))
            .check("b", &[file("old.jsonl", true)])
            .is_ok());
        assert!(check(&released, true, file("a.jsonl", true))
            .check("b", &[file("old.jsonl", false)])
            .is_ok());
        release(&mut released, "b", vec![file("old.jsonl", false)]);
        assert!(check(&released, false, file("a.jsonl", true))
            .check("b", &[file("old.jsonl", false)])
            .is_ok());
        assert!(check(&released, false, file("a.jsonl", true))
            .check("c", &[file("old.jsonl", false)])
            .is_err());
    }
}
