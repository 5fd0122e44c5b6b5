//! Outputs of a source: JSON lines, MP4/display, RTSP server; opened from the config.

pub mod events;
pub mod jsonl;
pub mod mqtt;
pub mod output;
pub mod rtsp;
pub mod snapshot;
pub mod thumbnails;
pub mod video;

use crate::config::PipelineConfig;
use crate::error::Result;
use crate::frame::AnalyzedFrame;
use gstreamer as gst;
use jsonl::{JsonlSink, SharedJsonl};
pub use output::{Claim, Claims, EncoderShare, Output};
use rtsp::RtspSink;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use video::VideoSink;

/// The outputs of one source: [`Output`] components, written in order and finished once;
/// its object events go through the events stage instead.
pub struct Sinks {
    /// The source's name: written into each JSON line's `source`.
    pub source: String,
    pub outputs: Vec<Box<dyn Output>>,
    /// Object events (events file, MQTT); the pipeline's events stage writes them.
    pub events: Option<events::EventSinks>,
    /// The recorder's counters, when one of the outputs records clips (the metrics).
    pub record: Option<std::sync::Arc<RecordStats>>,
}

/// Counters of one source's recordings (Prometheus `ovstream_clips_total`,
/// `ovstream_record_bytes`, `ovstream_record_errors_total`); the recorder ([`crate::record`])
/// counts into it.
#[derive(Debug, Default)]
pub struct RecordStats {
    pub clips: AtomicU64,
    pub bytes: AtomicU64,
    /// Clips that could not be written or finished (a full disk, an unwritable folder).
    pub write_errors: AtomicU64,
    /// Clips that could not start: too little free space even after retention.
    pub disk_full: AtomicU64,
    /// Packets a clip lost because the ring overflowed.
    pub overflow: AtomicU64,
    /// Bytes the ring of encoded packets holds now (pre-capture plus a GOP).
    pub ring_bytes: AtomicU64,
    /// The health of the record input feeding the ring (`record_input`), when there is one.
    pub input: std::sync::OnceLock<std::sync::Arc<crate::source::supervise::HealthCell>>,
}

impl Sinks {
    /// Whether an output shows pixels (the overlay stage must draw).
    pub fn needs_pixels(&self) -> bool {
        self.outputs.iter().any(|o| o.needs_pixels())
    }

    /// Writes `frame` to every output, in the order they were opened (video outputs get its
    /// PTS as the output timestamp).
    ///
    /// # Errors
    /// [`crate::Error::Output`] when an output fails.
    pub fn write(&mut self, frame: &mut AnalyzedFrame) -> Result<()> {
        if self.needs_pixels() {
            // Continuous timestamps across loops, so a muxer sees a monotonic stream.
            let pts = gst::ClockTime::from_nseconds(frame.frame.pts);
            if frame.frame.buffer.pts() != Some(pts) {
                frame.frame.buffer.make_mut().set_pts(pts);
            }
        }
        for o in &mut self.outputs {
            o.write(frame, &self.source)?;
        }
        Ok(())
    }

    /// Finalizes every output (MP4 `moov`, JSON flush), even after one failed; reports the
    /// first failure.
    pub fn finish(&mut self) -> Result<()> {
        let mut first = Ok(());
        for o in &mut self.outputs {
            let r = o.finish();
            first = first.and(r);
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
    let mut metadata_files = PerSourceJsonl::open(out.metadata.as_deref(), false, out.append)?;
    // Events are few and each matters: every line reaches the file at once.
    let mut events_files = PerSourceJsonl::open(out.events.as_deref(), true, out.append)?;
    let mut all = Vec::with_capacity(names.len());
    for name in names {
        let frames = out.mqtt.as_ref().is_some_and(|m| m.frames);
        let events =
            events::EventSinks::new(name, events_files.for_source(name)?, mqtt.clone(), frames);
        // The outputs, in the order they are written: one line per kind.
        let mut outputs: Vec<Box<dyn Output>> = Vec::new();
        if let Some(m) = metadata_files.for_source(name)? {
            outputs.push(Box::new(m));
        }
        if let Some(path) = &out.mp4 {
            let template = mp4_template(&path.display().to_string(), names.len());
            let path = expand(&template, name);
            outputs.push(Box::new(VideoSink::mp4(Path::new(&path))?));
        }
        if out.display {
            check_display()?;
            outputs.push(Box::new(VideoSink::display()));
        }
        if let Some(r) = rtsp.next() {
            outputs.push(Box::new(r));
        }
        all.push(Sinks {
            source: name.clone(),
            outputs,
            events: (!events.is_empty()).then_some(events),
            record: None,
        });
    }
    Ok(all)
}

/// A JSON-lines output of every source: one shared file when the path has no `{name}`, else a
/// file per source.
struct PerSourceJsonl<'a> {
    template: Option<&'a str>,
    shared: Option<SharedJsonl>,
    /// Flush every line (else at most [`jsonl::FLUSH_INTERVAL`] apart).
    each_line: bool,
    /// Add to existing files instead of truncating them.
    append: bool,
}

impl<'a> PerSourceJsonl<'a> {
    fn open(template: Option<&'a str>, each_line: bool, append: bool) -> Result<Self> {
        use crate::config::names::NAME_PLACEHOLDER;
        let shared = match template {
            Some(t) if !t.contains(NAME_PLACEHOLDER) => {
                Some(Self::create(t, each_line, append)?.shared())
            }
            _ => None,
        };
        Ok(PerSourceJsonl {
            template,
            shared,
            each_line,
            append,
        })
    }

    fn create(path: &str, each_line: bool, append: bool) -> Result<JsonlSink> {
        let sink = JsonlSink::open(path, append)?;
        Ok(if each_line {
            sink.flushing_each_line()
        } else {
            sink
        })
    }

    /// The file source `name` writes to.
    fn for_source(&mut self, name: &str) -> Result<Option<SharedJsonl>> {
        Ok(match (&self.shared, self.template) {
            (Some(shared), _) => Some(shared.clone()),
            (None, Some(t)) => {
                let path = crate::config::names::expand(t, name);
                Some(Self::create(&path, self.each_line, self.append)?.shared())
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

/// Refuses outputs that would destroy an input or each other: an MP4, metadata or events file
/// that is the same file as an input (`--output IN.avi`), or as another output
/// (`--output X --metadata X`); an RTSP port or MQTT topic taken twice. Files are compared by
/// identity (device and inode, links and `..` resolved), not by name. A JSON-lines path
/// without `{name}` is one shared file for all sources, which is not a clash.
///
/// # Errors
/// [`crate::Error::Setting`] naming both claimants; [`crate::Error::Output`] for a path that
/// cannot be written.
pub fn check_outputs(config: &PipelineConfig, names: &[String], inputs: &[String]) -> Result<()> {
    let mut claims = Claims::default();
    for input in inputs {
        let path = input.strip_prefix("file://").unwrap_or(input);
        if Path::new(path).is_file() {
            claims.claim(&format!("input {input}"), Claim::Input(path.into()))?;
        }
    }
    for (who, claim) in claims_of(config, names) {
        claims.claim(&who, claim)?;
    }
    Ok(())
}

/// What the outputs of `config` for the sources `names` claim, each with who claims it.
pub fn claims_of(config: &PipelineConfig, names: &[String]) -> Vec<(String, Claim)> {
    use crate::config::names::{expand, mp4_template, rtsp_template};
    let out = &config.output;
    let mut all = Vec::new();
    for (what, template) in [("metadata", &out.metadata), ("events", &out.events)] {
        if let Some(t) = template.as_deref().filter(|t| *t != "-") {
            let mut paths: Vec<String> = names.iter().map(|n| expand(t, n)).collect();
            paths.dedup(); // no `{name}`: one shared file
            all.extend(
                paths
                    .into_iter()
                    .map(|p| (format!("--{what} output {p}"), Claim::File(p.into()))),
            );
        }
    }
    if let Some(mp4) = &out.mp4 {
        let template = mp4_template(&mp4.display().to_string(), names.len());
        all.extend(names.iter().map(|n| {
            let p = expand(&template, n);
            (format!("--output {p}"), Claim::File(p.into()))
        }));
    }
    if let Some(url) = out.rtsp.as_deref() {
        let url = rtsp_template(url, names.len());
        all.extend(
            names
                .iter()
                .map(|n| expand(&url, n))
                .map(|u| (format!("--rtsp-out {u}"), Claim::Url(u))),
        );
    }
    all
}
