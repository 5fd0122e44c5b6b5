//! `ovanalytics` implementation: an in-place transform over the ROI metas. The configuration
//! is built in `start()` from `config` (a TOML file with `[analytics]` tables) and the inline
//! `zones` / `lines` properties (JSON arrays of the same tables); changing a property, or the
//! file's contents, while playing applies at the next buffer (counts kept for lines that keep
//! their name).

use crate::analytics::Analytics;
use crate::config::analytics::{AnalyticsConfig, LineConfig, ZoneConfig};
use crate::element::{labels, meta};
use crate::frame::analytics::AnalyticsEvent;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "ovanalytics",
        gst::DebugColorFlags::empty(),
        Some("ovstream zone and line analytics"),
    )
});

const DEFAULT_TRACK_BUFFER: u32 = crate::config::DEFAULT_TRACK_BUFFER as u32;
/// How often the `config` file is checked for changes while playing.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
struct Settings {
    config: Option<PathBuf>,
    zones: Option<String>,
    lines: Option<String>,
    source: String,
    track_buffer: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            config: None,
            zones: None,
            lines: None,
            source: String::new(),
            track_buffer: DEFAULT_TRACK_BUFFER,
        }
    }
}

impl Settings {
    /// The zones and lines: the `config` file's tables, then the inline ones.
    fn analytics(&self) -> Result<AnalyticsConfig, String> {
        let mut config = match &self.config {
            Some(path) => {
                let text = crate::config::read_capped(path, crate::config::MAX_TEXT_FILE_BYTES)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                AnalyticsConfig::from_toml_tables(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => AnalyticsConfig::default(),
        };
        if let Some(z) = &self.zones {
            let zones: Vec<ZoneConfig> =
                serde_json::from_str(z).map_err(|e| format!("zones: {e}"))?;
            config.zones.extend(zones);
        }
        if let Some(l) = &self.lines {
            let lines: Vec<LineConfig> =
                serde_json::from_str(l).map_err(|e| format!("lines: {e}"))?;
            config.lines.extend(lines);
        }
        config.validate()?;
        Ok(config)
    }
}

/// Modification time and size of the config file.
fn stamp(path: Option<&PathBuf>) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path?).ok()?;
    Some((m.modified().ok()?, m.len()))
}

struct State {
    analytics: Analytics,
    /// The detector's labels (the `ovstream-labels` query at caps time; `None` when nothing
    /// upstream answers): zone and line classes are checked against them.
    labels: Option<Vec<String>>,
    seq: u64,
    info: Option<gst_video::VideoInfo>,
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
}

#[derive(Default)]
pub struct OvAnalytics {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// A property changed while playing: rebuild the configuration at the next buffer.
    dirty: std::sync::atomic::AtomicBool,
}

#[glib::object_subclass]
impl ObjectSubclass for OvAnalytics {
    const NAME: &'static str = "OvAnalytics";
    type Type = super::OvAnalytics;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for OvAnalytics {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("config")
                    .blurb(
                        "TOML file with [[analytics.zones]] / [[analytics.lines]] tables (a \
                         pipeline file works); re-read when it changes",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("zones")
                    .blurb(
                        "Zones as a JSON array of the [[analytics.zones]] tables, e.g. \
                         [{\"name\":\"bay\",\"polygon\":[[0.1,0.5],[0.5,0.5],[0.5,0.9]]}]",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("lines")
                    .blurb(
                        "Lines as a JSON array of the [[analytics.lines]] tables, e.g. \
                         [{\"name\":\"door\",\"points\":[[0.5,0],[0.5,1]],\"in\":[1,0]}]",
                    )
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("source")
                    .blurb("Source name in the events (default: the element's name)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("track-buffer")
                    .blurb("Frames without a track after which it is lost (ovtrack's track-buffer)")
                    .minimum(1)
                    .default_value(DEFAULT_TRACK_BUFFER)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let text = || value.get::<Option<String>>().expect("string");
        match pspec.name() {
            "config" => s.config = text().filter(|t| !t.is_empty()).map(PathBuf::from),
            "zones" => s.zones = text().filter(|t| !t.is_empty()),
            "lines" => s.lines = text().filter(|t| !t.is_empty()),
            "source" => s.source = text().unwrap_or_default(),
            "track-buffer" => s.track_buffer = value.get().expect("uint"),
            _ => unreachable!("unknown property"),
        }
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "config" => s
                .config
                .as_ref()
                .map(|p| p.display().to_string())
                .to_value(),
            "zones" => s.zones.to_value(),
            "lines" => s.lines.to_value(),
            "source" => s.source.to_value(),
            "track-buffer" => s.track_buffer.to_value(),
            _ => unreachable!("unknown property"),
        }
    }
}

impl GstObjectImpl for OvAnalytics {}

impl ElementImpl for OvAnalytics {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream zone and line analytics",
                "Filter/Analyzer/Video",
                "Tests tracked objects against zones (enter, exit, loitering, crowding) and \
directed lines (crossings in/out); adds `zones` to the ROI metas, the frame's counts and events \
as a custom meta (ovoverlay draws them, ovmetapublish writes them) and posts each event as an \
`ovanalytics` element message. Example: gst-launch-1.0 -m filesrc location=samples/vtest.avi ! \
decodebin ! videoconvert ! ovdetect ! ovtrack ! ovanalytics \
lines='[{\"name\":\"mid\",\"points\":[[0.5,0],[0.5,1]]}]' ! ovoverlay ! videoconvert ! \
autovideosink",
                "ovstream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            crate::element::filter_templates(&gst::Caps::builder("video/x-raw").build())
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for OvAnalytics {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        meta::register_analytics_meta();
        let s = self.settings.lock().unwrap().clone();
        let config = s
            .analytics()
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ["ovanalytics: {e}"]))?;
        let source = if s.source.is_empty() {
            self.obj().name().to_string()
        } else {
            s.source.clone()
        };
        self.dirty
            .store(false, std::sync::atomic::Ordering::Relaxed);
        *self.state.lock().unwrap() = Some(State {
            analytics: Analytics::new(&source, Arc::new(config), u64::from(s.track_buffer)),
            labels: None,
            seq: 0,
            info: None,
            stamp: stamp(s.config.as_ref()),
            checked: Instant::now(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        self.state.lock().unwrap().take();
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = crate::element::roifilter::info_from_caps(incaps)?;
        // Asked before the state is locked: the answer comes from upstream's threads.
        let sinkpad = self.obj().static_pad("sink").expect("a sink pad");
        let labels = labels::ask(&sinkpad);
        let mut guard = self.state.lock().unwrap();
        let Some(state) = guard.as_mut() else {
            return Ok(());
        };
        state.info = Some(info);
        if let Some(problem) =
            (labels.as_deref()).and_then(|l| state.analytics.config().unknown_class(l))
        {
            drop(guard);
            gst::element_imp_error!(
                self,
                gst::LibraryError::Settings,
                ["ovanalytics: {problem}"]
            );
            return Err(gst::loggable_error!(CAT, "ovanalytics: {problem}"));
        }
        state.labels = labels;
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        self.reload_if_changed(state);
        let info = state.info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
        let (w, h) = (info.width(), info.height());
        let mut detections = meta::read(buf, w, h);
        let pts = buf.pts().map_or(0, |p| p.nseconds());
        let result = state
            .analytics
            .analyze(state.seq, true, pts, (w, h), &mut detections);
        state.seq += 1;
        meta::replace(buf, &detections, w, h);
        meta::attach_analytics(buf, &result);
        drop(guard);
        for e in &result.events {
            self.post(e);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}

impl OvAnalytics {
    /// Rebuilds the configuration after a property change or a change of the `config` file;
    /// a bad one is reported (warning message) and the running one stays.
    fn reload_if_changed(&self, state: &mut State) {
        let dirty = self.dirty.swap(false, std::sync::atomic::Ordering::Relaxed);
        let settings = self.settings.lock().unwrap().clone();
        let mut changed = dirty;
        if state.checked.elapsed() >= RELOAD_CHECK {
            state.checked = Instant::now();
            let now = stamp(settings.config.as_ref());
            changed |= now != state.stamp;
            state.stamp = now;
        }
        if !changed {
            return;
        }
        let checked = settings.analytics().and_then(|c| {
            match state.labels.as_deref().and_then(|l| c.unknown_class(l)) {
                Some(problem) => Err(problem),
                None => Ok(c),
            }
        });
        match checked {
            Ok(c) => {
                gst::info!(CAT, imp = self, "zones and lines reloaded");
                state.analytics.reload(Arc::new(c));
            }
            Err(e) => gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                ["ovanalytics: not reloaded (the running zones and lines stay): {e}"]
            ),
        }
    }

    /// Posts `e` as an `ovanalytics` element message.
    fn post(&self, e: &AnalyticsEvent) {
        let mut s = gst::Structure::builder("ovanalytics")
            .field("type", e.kind.as_str())
            .field("event_id", e.event_id.as_str())
            .field("source", &*e.source)
            .field("frame", e.frame)
            .field("timestamp", e.timestamp)
            .field(
                "json",
                serde_json::to_string(e).expect("an event serializes"),
            )
            .build();
        if let Some(z) = &e.zone {
            s.set("zone", &**z);
        }
        if let Some(l) = &e.line {
            s.set("line", &**l);
        }
        if let Some(d) = e.direction {
            s.set("direction", d.as_str());
        }
        if let Some(id) = e.id {
            s.set("id", id);
        }
        if let Some(label) = &e.label {
            s.set("label", &**label);
        }
        if let Some(d) = e.dwell_seconds {
            s.set("dwell_seconds", d);
        }
        if let Some(c) = e.count {
            s.set("count", c);
        }
        let msg = gst::message::Element::builder(s).src(&*self.obj()).build();
        let _ = self.obj().post_message(msg);
    }
}
