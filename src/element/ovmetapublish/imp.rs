//! `ovmetapublish` implementation: an in-place passthrough transform that serializes the ROI
//! metas of each buffer with the CLI's JSON-lines writer ([`crate::sink::jsonl::JsonlSink`]),
//! to a file (`method=file`) or to an MQTT topic (`method=mqtt`, the CLI's publisher:
//! [`crate::sink::mqtt::Mqtt`], queued, never blocking the stream, redelivered after a broker
//! outage).

use crate::config::MqttConfig;
use crate::element::{meta, string_property, string_value};
use crate::sink::jsonl::{frame_record_json, JsonlSink};
use crate::sink::mqtt::Mqtt;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_base as gst_base;
use gstreamer_base::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "ovmetapublish",
        gst::DebugColorFlags::empty(),
        Some("ovstream JSON-lines metadata"),
    )
});

const DEFAULT_FILE_PATH: &str = "-";

const DEFAULT_ADDRESS: &str = "127.0.0.1:1883";
const DEFAULT_TOPIC: &str = "ovstream";

/// `method`: where the records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[enum_type(name = "GstOvMetaPublishMethod")]
pub enum Method {
    #[default]
    #[enum_value(name = "JSON lines to file-path", nick = "file")]
    File,
    #[enum_value(name = "One MQTT message per buffer on topic", nick = "mqtt")]
    Mqtt,
}

#[derive(Debug, Clone)]
struct Settings {
    method: Method,
    file_path: String,
    source: String,
    address: String,
    topic: String,
    client_id: String,
    qos: u32,
    max_connect_attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            method: Method::default(),
            file_path: DEFAULT_FILE_PATH.into(),
            source: String::new(),
            address: DEFAULT_ADDRESS.into(),
            topic: DEFAULT_TOPIC.into(),
            client_id: String::new(),
            qos: 1,
            max_connect_attempts: 0,
        }
    }
}

/// Where the records go.
enum Output {
    File(JsonlSink),
    Mqtt { mqtt: Mqtt, topic: String },
}

struct State {
    output: Output,
    info: Option<gst_video::VideoInfo>,
    seq: u64,
}

#[derive(Default)]
pub struct OvMetaPublish {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

#[glib::object_subclass]
impl ObjectSubclass for OvMetaPublish {
    const NAME: &'static str = "OvMetaPublish";
    type Type = super::OvMetaPublish;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for OvMetaPublish {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let s = string_property;
            vec![
                glib::ParamSpecEnum::builder_with_default("method", Method::default())
                    .blurb("Where the records go")
                    .mutable_ready()
                    .build(),
                s("address", "method=mqtt: broker HOST:PORT", DEFAULT_ADDRESS),
                s("topic", "method=mqtt: topic of the records", DEFAULT_TOPIC),
                s(
                    "mqtt-client-id",
                    "method=mqtt: client id; empty = ovstream-<host>-<pid>",
                    "",
                ),
                glib::ParamSpecUInt::builder("qos")
                    .blurb("method=mqtt: QoS 0, 1 or 2")
                    .maximum(2)
                    .default_value(1)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-connect-attempts")
                    .blurb(
                        "method=mqtt: fail the start after this many failed connection \
                         attempts; 0 = start at once and keep retrying in the background",
                    )
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("file-path")
                    .nick("File path")
                    .blurb("JSON-lines output file; - for stdout")
                    .default_value(Some(DEFAULT_FILE_PATH))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("source")
                    .nick("Source")
                    .blurb("Value of each line's \"source\" field (e.g. the input URI)")
                    .default_value(Some(""))
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let v = || string_value(value);
        match pspec.name() {
            "method" => s.method = value.get().expect("method enum"),
            "qos" => s.qos = value.get().expect("uint"),
            "max-connect-attempts" => s.max_connect_attempts = value.get().expect("uint"),
            "address" => s.address = v(),
            "topic" => s.topic = v(),
            "mqtt-client-id" => s.client_id = v(),
            "file-path" => s.file_path = v(),
            "source" => s.source = v(),
            _ => unreachable!("unknown property"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "method" => s.method.to_value(),
            "qos" => s.qos.to_value(),
            "max-connect-attempts" => s.max_connect_attempts.to_value(),
            "address" => s.address.to_value(),
            "topic" => s.topic.to_value(),
            "mqtt-client-id" => s.client_id.to_value(),
            "file-path" => s.file_path.to_value(),
            "source" => s.source.to_value(),
            _ => unreachable!("unknown property"),
        }
    }
}

impl GstObjectImpl for OvMetaPublish {}

impl ElementImpl for OvMetaPublish {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream metadata publisher",
                "Filter/Metadata/Video",
                "Writes ROI metas as JSON lines, one per buffer (same format as ovstream --metadata). \
Example: gst-launch-1.0 filesrc location=samples/vtest.avi ! decodebin ! videoconvert ! \
ovdetect ! ovtrack ! ovmetapublish file-path=out.jsonl ! fakesink",
                "ovstream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst::Caps::builder("video/x-raw").build();
            crate::element::filter_templates(&caps)
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for OvMetaPublish {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let output = match s.method {
            Method::File => Output::File(
                JsonlSink::create(&s.file_path)
                    .map_err(|e| gst::error_msg!(gst::ResourceError::OpenWrite, ["{e}"]))?,
            ),
            Method::Mqtt => {
                let mut config = MqttConfig::new(format!("mqtt://{}", s.address));
                config.qos = s.qos as u8;
                config.topic_prefix = Some(s.topic.clone());
                config.client_id = (!s.client_id.is_empty()).then(|| s.client_id.clone());
                let mqtt = Mqtt::start(&config).map_err(|e| {
                    gst::error_msg!(gst::ResourceError::Settings, ["ovmetapublish: {e}"])
                })?;
                if s.max_connect_attempts > 0 {
                    if let Err(e) = mqtt.wait_connected(u64::from(s.max_connect_attempts)) {
                        mqtt.shutdown();
                        return Err(gst::error_msg!(
                            gst::ResourceError::OpenWrite,
                            ["ovmetapublish: {e}"]
                        ));
                    }
                }
                Output::Mqtt {
                    mqtt,
                    topic: s.topic.clone(),
                }
            }
        };
        *self.state.lock().unwrap() = Some(State {
            output,
            info: None,
            seq: 0,
        });
        gst::debug!(CAT, imp = self, "publishing with {:?}", s.method);
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        match self.state.lock().unwrap().take().map(|s| s.output) {
            Some(Output::File(mut sink)) => sink
                .finish()
                .map_err(|e| gst::error_msg!(gst::ResourceError::Write, ["{e}"]))?,
            // Delivers what is queued (at most 10 s), then `offline`.
            Some(Output::Mqtt { mqtt, .. }) => mqtt.shutdown(),
            None => {}
        }
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, _outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "not raw video caps: {incaps}"))?;
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.info = Some(info);
        }
        Ok(())
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.publish(buf)
    }

    fn transform_ip_passthrough(
        &self,
        buf: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.publish(buf)
    }
}

impl OvMetaPublish {
    fn publish(&self, buf: &gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let source = self.settings.lock().unwrap().source.clone();
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let info = state.info.as_ref().ok_or(gst::FlowError::NotNegotiated)?;
        let size = (info.width(), info.height());
        let detections = meta::read(buf, size.0, size.1);
        let analytics = meta::read_analytics(buf);
        let pts = buf.pts().map_or(0, |p| p.nseconds());
        let written = match &mut state.output {
            Output::File(sink) => sink.write_record(
                state.seq,
                pts,
                size,
                &detections,
                analytics.as_ref(),
                &source,
            ),
            Output::Mqtt { mqtt, topic } => {
                let record = frame_record_json(
                    state.seq,
                    pts,
                    size,
                    &detections,
                    analytics.as_ref(),
                    &source,
                );
                mqtt.publish(topic.clone(), record, false);
                Ok(())
            }
        };
        state.seq += 1;
        if let Err(e) = written {
            gst::element_imp_error!(self, gst::ResourceError::Write, ["ovmetapublish: {e}"]);
            return Err(gst::FlowError::Error);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
