//! Outputs of a source: JSON lines, MP4/display, RTSP server; opened from the config.

pub mod events;
pub mod jsonl;
pub mod mqtt;
pub mod rtsp;
pub mod snapshot;
pub mod video;

use crate::config::PipelineConfig;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use gstreamer as gst;
use jsonl::{JsonlSink, SharedJsonl};
use rtsp::RtspSink;
use std::path::Path;
use video::VideoSink;

/// The outputs of one source.
pub struct Sinks {
    /// Written into each JSON line's `source`.
    pub source: String,
    /// JSON lines; possibly one file shared with the other sources.
    pub metadata: Option<SharedJsonl>,
    pub videos: Vec<VideoSink>,
    /// `--rtsp-out`: the annotated stream served over RTSP.
    pub rtsp: Option<RtspSink>,
    /// Object events (events file, MQTT); the pipeline's events stage writes them.
    pub events: Option<events::EventSinks>,
}

impl Sinks {
    pub fn needs_pixels(&self) -> bool {
        !self.videos.is_empty() || self.rtsp.is_some()
    }

    /// Writes `frame` to every output (MP4 and RTSP get its PTS as the output timestamp).
    ///
    /// # Errors
    /// [`crate::Error::Output`] when an output fails.
    pub fn write(&mut self, frame: &mut AnalyzedFrame) -> Result<()> {
        if let Some(m) = &self.metadata {
            m.lock().write(frame, &self.source)?;
        }
        if self.needs_pixels() {
            // Continuous timestamps across loops, so the muxer sees a monotonic stream.
            let pts = gst::ClockTime::from_nseconds(frame.frame.pts);
            if frame.frame.buffer.pts() != Some(pts) {
                frame.frame.buffer.make_mut().set_pts(pts);
            }
            for v in &mut self.videos {
                v.push(&frame.frame)?;
            }
            if let Some(r) = self.rtsp.as_mut() {
                r.push(&frame.frame)?;
            }
        }
        Ok(())
    }

    /// Finalizes every output (mp4 `moov`, JSON flush); reports the first failure.
    pub fn finish(&mut self) -> Result<()> {
        let mut first = Ok(());
        if let Some(m) = &self.metadata {
            first = first.and(m.lock().finish());
        }
        for v in &mut self.videos {
            let r = v.finish();
            first = first.and(r);
        }
        if let Some(r) = self.rtsp.as_mut() {
            first = first.and(r.finish());
        }
        first
    }
}

/// Opens the outputs the config asks for, for one source named `source` (it goes into each
/// JSON line and fills `{name}` in output paths).
///
/// # Errors
/// [`Error::Output`] naming a path that cannot be created.
pub fn sinks_from_config(config: &PipelineConfig, source: &str) -> Result<Sinks> {
    let mut all = sinks_for_sources(config, &[source.to_string()])?;
    Ok(all.pop().expect("one source, one set of sinks"))
}

/// Opens the outputs of every source in `names` (in order): `{name}` in the MP4/JSON/RTSP
/// paths is filled per source (added to MP4 paths and RTSP mounts that lack it, see
/// [`crate::config::names::mp4_template`]); a JSON-lines path without it is one file shared by all
/// sources; RTSP outputs share one server, a mount per source.
///
/// # Errors
/// [`Error::Output`] naming a path that cannot be created or an address that cannot be bound.
pub fn sinks_for_sources(config: &PipelineConfig, names: &[String]) -> Result<Vec<Sinks>> {
    let mqtt = config
        .output
        .mqtt
        .as_ref()
        .map(mqtt::Mqtt::start)
        .transpose()?;
    sinks_sharing(config, names, mqtt)
}

/// [`sinks_for_sources`] with an MQTT publisher already running (the service adds sources one
/// at a time; they share one connection).
///
/// # Errors
/// As [`sinks_for_sources`].
pub fn sinks_sharing(
    config: &PipelineConfig,
    names: &[String],
    mqtt: Option<mqtt::Mqtt>,
) -> Result<Vec<Sinks>> {
    use crate::config::names::{expand, mp4_template, rtsp_template};
    let out = &config.output;
    // What can fail without touching a file first (RTSP port), then the files.
    let rtsp_urls: Vec<String> = out
        .rtsp
        .as_deref()
        .map(|url| {
            let url = rtsp_template(url, names.len());
            names.iter().map(|n| expand(&url, n)).collect()
        })
        .unwrap_or_default();
    let mut rtsp = if rtsp_urls.is_empty() {
        Vec::new()
    } else {
        RtspSink::serve_all(&rtsp_urls)?
    }
    .into_iter();
    let mut metadata_files = PerSourceJsonl::open(out.metadata.as_deref())?;
    let mut events_files = PerSourceJsonl::open(out.events.as_deref())?;
    let mut all = Vec::with_capacity(names.len());
    for name in names {
        let frames = out.mqtt.as_ref().is_some_and(|m| m.frames);
        let events =
            events::EventSinks::new(name, events_files.for_source(name)?, mqtt.clone(), frames);
        let metadata = metadata_files.for_source(name)?;
        let mut videos = Vec::new();
        if let Some(path) = &out.mp4 {
            let template = mp4_template(&path.display().to_string(), names.len());
            let path = expand(&template, name);
            videos.push(VideoSink::mp4(Path::new(&path))?);
        }
        if out.display {
            check_display()?;
            videos.push(VideoSink::display());
        }
        all.push(Sinks {
            source: name.clone(),
            metadata,
            videos,
            rtsp: rtsp.next(),
            events: (!events.is_empty()).then_some(events),
        });
    }
    Ok(all)
}

/// A JSON-lines output of every source: one shared file when the path has no `{name}`, else a
/// file per source.
struct PerSourceJsonl<'a> {
    template: Option<&'a str>,
    shared: Option<SharedJsonl>,
}

impl<'a> PerSourceJsonl<'a> {
    fn open(template: Option<&'a str>) -> Result<Self> {
        use crate::config::names::NAME_PLACEHOLDER;
        let shared = match template {
            Some(t) if !t.contains(NAME_PLACEHOLDER) => Some(JsonlSink::create(t)?.shared()),
            _ => None,
        };
        Ok(PerSourceJsonl { template, shared })
    }

    /// The file source `name` writes to.
    fn for_source(&mut self, name: &str) -> Result<Option<SharedJsonl>> {
        Ok(match (&self.shared, self.template) {
            (Some(shared), _) => Some(shared.clone()),
            (None, Some(t)) => {
                Some(JsonlSink::create(&crate::config::names::expand(t, name))?.shared())
            }
            (None, None) => None,
        })
    }
}

/// A display to show video on: `DISPLAY` or `WAYLAND_DISPLAY` set (without one, GStreamer's
/// `autovideosink` may pick a sink that crashes the process).
///
/// # Errors
/// [`crate::Error::Output`] saying there is none.
pub fn check_display() -> Result<()> {
    let set = |v: &str| std::env::var_os(v).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        return Ok(());
    }
    Err(crate::Error::Output {
        path: "--display".into(),
        message: "no display: neither DISPLAY nor WAYLAND_DISPLAY is set (write --output \
                  FILE.mp4 or serve --rtsp-out instead)"
            .into(),
    })
}

/// Warns that an endpoint bound to every interface has no authentication.
pub fn warn_if_unauthenticated(what: &str, host: &str) {
    let host = host.trim_matches(|c| c == '[' || c == ']');
    if host == "0.0.0.0" || host == "::" || host.is_empty() {
        tracing::warn!("{what} listens on every interface ({host}) without authentication");
        eprintln!(
            "warning: {what} listens on every interface ({host}); it has no authentication: \
             bind 127.0.0.1 unless the network is trusted"
        );
    }
}

/// An output path that can be written: not a folder, and its folder (the nearest one that
/// exists; the rest is created) writable.
///
/// # Errors
/// [`crate::Error::Output`] naming the path.
fn check_writable(path: &Path) -> Result<()> {
    let err = |message: String| crate::Error::Output {
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

/// What makes two paths the same file: device and inode when it exists, else the canonical
/// folder and the name it would be created with.
#[derive(Debug, PartialEq, Eq, Hash, Clone)]
enum FileId {
    Inode(u64, u64),
    Planned(std::path::PathBuf, std::ffi::OsString),
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

/// Refuses outputs that would destroy an input or each other: an MP4, metadata or events file
/// that is the same file as an input (`--output IN.avi`), or as another output
/// (`--output X --metadata X`); files are compared by identity (device and inode, links and
/// `..` resolved), not by name. A JSON-lines path without `{name}` is one shared file for all
/// sources, which is not a clash.
///
/// # Errors
/// [`crate::Error::Config`] naming both paths.
pub fn check_outputs(config: &PipelineConfig, names: &[String], inputs: &[String]) -> Result<()> {
    use crate::config::names::{expand, mp4_template};
    use std::collections::HashMap;
    let out = &config.output;
    let mut seen: HashMap<FileId, String> = HashMap::new();
    for input in inputs {
        let path = input.strip_prefix("file://").unwrap_or(input);
        if let Some(id) = Path::new(path)
            .is_file()
            .then(|| file_id(Path::new(path)))
            .flatten()
        {
            seen.insert(id, format!("input {input}"));
        }
    }
    let mut outputs: Vec<(String, String)> = Vec::new();
    for (what, template) in [("metadata", &out.metadata), ("events", &out.events)] {
        if let Some(t) = template.as_deref().filter(|t| *t != "-") {
            let mut paths: Vec<String> = names.iter().map(|n| expand(t, n)).collect();
            paths.dedup(); // no `{name}`: one shared file
            outputs.extend(
                paths
                    .into_iter()
                    .map(|p| (format!("--{what} output {p}"), p)),
            );
        }
    }
    if let Some(mp4) = &out.mp4 {
        let template = mp4_template(&mp4.display().to_string(), names.len());
        outputs.extend(
            names
                .iter()
                .map(|n| expand(&template, n))
                .map(|p| (format!("--output {p}"), p)),
        );
    }
    for (what, path) in outputs {
        check_writable(Path::new(&path))?;
        let Some(id) = file_id(Path::new(&path)) else {
            continue; // a folder that does not exist: the sink reports it when it opens
        };
        if let Some(other) = seen.get(&id) {
            return Err(crate::Error::Config {
                path: path.into(),
                message: format!("{what} is the same file as {other}; refusing to overwrite it"),
            });
        }
        seen.insert(id, what);
    }
    Ok(())
}
