//! The command-line flags of every pipeline command (`run`, `serve`, `bench`, `gallery`, the hot
//! reload), each declared once beside the key it overrides and merged onto the file by
//! [`PipelineConfig::load_with`] ([`super::Override`]).

use super::overrides::{parse_property, parse_size, Override};
use super::{Hint, MqttConfig, Nireq, PipelineConfig, Precision, Resize, RtspTransport};
use crate::error::{Error, Result};
use std::path::PathBuf;

/// The place an error about a flag points at.
const COMMAND_LINE: &str = "command line";

fn flag_error(message: impl Into<String>) -> Error {
    Error::Setting {
        key: COMMAND_LINE.into(),
        message: message.into(),
    }
}

/// Model, detection and input flags: `run`, `serve`, `bench` and the reload share them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Input file or URI; repeat for several sources in one process (one model, one request
    /// pool; names from the file stem or host, `{name}` in output paths).
    #[arg(long)]
    pub input: Vec<String>,
    /// Model: manifest id or path to a model file.
    #[arg(long)]
    pub model: Option<String>,
    /// OpenVINO device string: CPU, GPU, GPU.1, NPU, AUTO, HETERO:GPU,CPU, …
    #[arg(long)]
    pub device: Option<String>,
    /// Infer requests in flight, or `auto` to measure (default: OPTIMAL_NUMBER_OF_INFER_REQUESTS).
    #[arg(long)]
    pub nireq: Option<Nireq>,
    /// PERFORMANCE_HINT: latency or throughput.
    #[arg(long)]
    pub hint: Option<Hint>,
    /// INFERENCE_PRECISION_HINT: f32, f16 or bf16.
    #[arg(long)]
    pub precision: Option<Precision>,
    /// Images per inference, gathered across sources (default 1).
    #[arg(long)]
    pub batch: Option<usize>,
    /// How frames are resized to the model input: rgb (convert, then resize; the default) or
    /// planes (resize the I420 planes, then convert).
    #[arg(long)]
    pub resize: Option<Resize>,
    /// NUM_STREAMS: a number, or `auto` to measure (default: the device's choice for the hint).
    #[arg(long)]
    pub nstreams: Option<String>,
    /// Static model input size `HEIGHTxWIDTH` (e.g. 300x300); needed for a model file with a
    /// dynamic input that is not in the manifest.
    #[arg(long, value_parser = parse_size)]
    pub input_size: Option<[u32; 2]>,
    /// Detection confidence threshold in [0, 1].
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Keep only these classes (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// Compiled-model cache directory.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Disable the compiled-model cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Face gallery folder (pipelines with [recognize]).
    #[arg(long)]
    pub gallery: Option<PathBuf>,
    /// Output decoder for a model file: one of the registered adapters (`ssd`, `blazeface`,
    /// `yolo`; default: the manifest, the model file's rt_info, else chosen from the output
    /// shapes).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Class names, one per line (line i is class i for YOLO, label id i+1 for SSD).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// NMS IoU threshold in (0, 1] (YOLO; default 0.45).
    #[arg(long)]
    pub iou: Option<f32>,
    /// An OpenVINO property set on the device before compiling, KEY=VALUE (repeatable;
    /// added to `[model] properties`).
    #[arg(long = "ov-property", value_parser = parse_property)]
    pub ov_property: Vec<(String, String)>,
}

impl Override for Overrides {
    fn apply(&self, c: &mut PipelineConfig) -> Result<()> {
        if !self.input.is_empty() {
            c.set_inputs(&self.input);
        }
        if let Some(v) = &self.model {
            c.model.model = v.clone();
        }
        if let Some(v) = &self.device {
            c.model.device = v.clone();
        }
        c.model.nireq = self.nireq.or(c.model.nireq);
        c.model.hint = self.hint.unwrap_or(c.model.hint);
        c.model.precision = self.precision.or(c.model.precision);
        c.model.nstreams = self.nstreams.clone().or(c.model.nstreams.take());
        c.model.batch = self.batch.unwrap_or(c.model.batch);
        c.model.resize = self.resize.unwrap_or(c.model.resize);
        c.model.cache_dir = self.cache_dir.clone().or(c.model.cache_dir.take());
        c.model.cache &= !self.no_cache;
        c.model.input_size = self.input_size.or(c.model.input_size);
        if let Some(t) = self.threshold {
            c.detect.threshold = t;
            c.detect.threshold_given = true;
        }
        if let Some(v) = &self.classes {
            c.detect.classes = v.clone();
        }
        c.model.adapter = self.adapter.clone().or(c.model.adapter.take());
        c.detect.labels_file = self.labels.clone().or(c.detect.labels_file.take());
        c.detect.iou = self.iou.or(c.detect.iou);
        for (k, v) in &self.ov_property {
            c.model.properties.insert(k.clone(), v.clone());
        }
        match (&self.gallery, c.recognize.as_mut()) {
            (Some(dir), Some(r)) => r.gallery = dir.clone(),
            (Some(_), None) => {
                return Err(flag_error(
                    "--gallery needs a pipeline with a [recognize] table (e.g. \
                     pipelines/faces.toml)",
                ))
            }
            _ => {}
        }
        Ok(())
    }
}

/// `[source]` and `[output]` flags of `ovstream run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunOverrides {
    /// Annotated H.264 MP4 output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// JSON-lines metadata output (`-` for stdout).
    #[arg(long)]
    pub metadata: Option<String>,
    /// Object events (new/update/end per track), one JSON object per line.
    #[arg(long)]
    pub events: Option<String>,
    /// Publish events to MQTT: mqtt://[user[:password]@]host[:port][/prefix] (or mqtts://).
    #[arg(long)]
    pub mqtt: Option<String>,
    /// MQTT QoS: 0, 1 (default) or 2.
    #[arg(long)]
    pub mqtt_qos: Option<u8>,
    /// Show the annotated video.
    #[arg(long)]
    pub display: bool,
    /// Serve the annotated video over RTSP, e.g. rtsp://127.0.0.1:8554/ovstream.
    #[arg(long)]
    pub rtsp_out: Option<String>,
    /// Stop after N frames (of each source).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Restart the file at EOS.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Play files at their own frame rate as live cameras (drop-oldest, never blocking).
    #[arg(long)]
    pub realtime: bool,
    /// Live sources: seconds without a frame before the source is reconnected (default 5).
    #[arg(long)]
    pub stall_timeout: Option<f64>,
    /// Live sources: give up after N reconnects in a row (default: retry forever).
    #[arg(long)]
    pub max_reconnects: Option<u32>,
    /// RTSP inputs: lower transport: tcp, udp or auto.
    #[arg(long)]
    pub rtsp_transport: Option<RtspTransport>,
    /// RTSP inputs: jitter-buffer latency in ms (default 200).
    #[arg(long)]
    pub rtsp_latency: Option<u32>,
    /// Seconds between stats lines (health, FPS, drops, latency); 0: off. Default: 10 for
    /// live sources, off for files.
    #[arg(long)]
    pub stats_interval: Option<f64>,
    /// Event recordings (clips with pre-capture) into this folder (`[record] dir`).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Seconds kept before a clip's trigger, 0..=60 (`[record] pre_capture`; default 5).
    #[arg(long, value_name = "S")]
    pub pre_capture: Option<f64>,
    /// Seconds kept after a clip's last trigger, 0..=300 (`[record] post_capture`; default 5).
    #[arg(long, value_name = "S")]
    pub post_capture: Option<f64>,
    /// Labels whose tracks keep a clip active, comma-separated (`[record] labels`; default
    /// person).
    #[arg(long, value_delimiter = ',', value_name = "LABELS")]
    pub record_labels: Option<Vec<String>>,
}

impl RunOverrides {
    /// `--record` and its companions onto `[record]` and every `[sources.record]`.
    fn apply_record(&self, c: &mut PipelineConfig) -> Result<()> {
        if let Some(dir) = &self.record {
            match c.record.as_mut() {
                Some(r) => r.dir = dir.clone(),
                None => c.record = Some(crate::config::RecordConfig::new(dir.clone())),
            }
        }
        let tuned = self.pre_capture.is_some()
            || self.post_capture.is_some()
            || self.record_labels.is_some();
        let own = c.sources.iter_mut().filter_map(|s| s.record.as_mut());
        let records: Vec<_> = c.record.iter_mut().chain(own).collect();
        if tuned && records.is_empty() {
            return Err(flag_error(
                "--pre-capture, --post-capture and --record-labels need --record DIR or [record]",
            ));
        }
        for r in records {
            r.pre_capture = self.pre_capture.unwrap_or(r.pre_capture);
            r.post_capture = self.post_capture.unwrap_or(r.post_capture);
            if let Some(labels) = &self.record_labels {
                r.labels = labels.clone();
            }
        }
        Ok(())
    }
}

impl Override for RunOverrides {
    fn apply(&self, c: &mut PipelineConfig) -> Result<()> {
        if let Some(v) = &self.output {
            c.output.mp4 = Some(v.clone());
        }
        if let Some(v) = &self.metadata {
            c.output.metadata = Some(v.clone());
        }
        if let Some(v) = &self.events {
            c.output.events = Some(v.clone());
        }
        if let Some(url) = &self.mqtt {
            let mut m = c
                .output
                .mqtt
                .take()
                .unwrap_or_else(|| MqttConfig::new(url.clone()));
            m.url = url.clone();
            c.output.mqtt = Some(m);
        }
        if let Some(qos) = self.mqtt_qos {
            match c.output.mqtt.as_mut() {
                Some(m) => m.qos = qos,
                None => return Err(flag_error("--mqtt-qos needs --mqtt or [output.mqtt]")),
            }
        }
        c.output.display |= self.display;
        if let Some(v) = &self.rtsp_out {
            c.output.rtsp = Some(v.clone());
        }
        c.source.looping |= self.looping;
        c.source.realtime |= self.realtime;
        c.source.limit = self.limit.or(c.source.limit);
        c.source.stall_timeout = self.stall_timeout.or(c.source.stall_timeout);
        c.source.max_reconnects = self.max_reconnects.or(c.source.max_reconnects);
        c.source.rtsp_transport = self.rtsp_transport.or(c.source.rtsp_transport);
        c.source.rtsp_latency = self.rtsp_latency.or(c.source.rtsp_latency);
        c.output.stats_interval = self.stats_interval.or(c.output.stats_interval);
        self.apply_record(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Inputs;
    use std::path::Path;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("p.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn input_flag_completes_a_file_without_input() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[model]\nmodel = \"pedestrian-ssdlite\"\n");
        let err = PipelineConfig::load_with(&path, &[], Inputs::Required).unwrap_err();
        assert!(err.to_string().contains("no input"), "{err}");
        let o = Overrides {
            input: vec!["samples/vtest.avi".into()],
            ..Default::default()
        };
        let c = PipelineConfig::load_with(&path, &[&o], Inputs::Required).unwrap();
        assert_eq!(c.source.input, "samples/vtest.avi");
        let c = PipelineConfig::load_with(&path, &[], Inputs::Optional).unwrap();
        assert!(c.source.input.is_empty());
    }

    #[test]
    fn flags_override_the_file_and_are_validated_once_merged() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "[source]\ninput = \"a.mp4\"\nstall_timeout = 3\n[model]\nmodel = \"m\"\n\
             [detect]\nthreshold = 0.7\n",
        );
        let run = RunOverrides {
            stall_timeout: Some(1.0),
            limit: Some(5),
            ..Default::default()
        };
        let model = Overrides {
            threshold: Some(0.3),
            nireq: Some(Nireq::Count(3)),
            ..Default::default()
        };
        let c = PipelineConfig::load_with(&path, &[&model, &run], Inputs::Required).unwrap();
        assert_eq!(c.source.stall_timeout, Some(1.0));
        assert_eq!(c.source.limit, Some(5));
        assert_eq!(c.detect.threshold, 0.3);
        assert!(c.detect.threshold_given);
        assert_eq!(c.model.nireq, Some(Nireq::Count(3)));
        let bad = Overrides {
            threshold: Some(2.0),
            ..Default::default()
        };
        let err = PipelineConfig::load_with(&path, &[&bad], Inputs::Required).unwrap_err();
        assert!(err.to_string().contains("detect.threshold = 2"), "{err}");
    }

    #[test]
    fn flag_combinations_name_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "[source]\ninput = \"a.mp4\"\n[model]\nmodel = \"m\"\n",
        );
        let qos = RunOverrides {
            mqtt_qos: Some(2),
            ..Default::default()
        };
        let err = PipelineConfig::load_with(&path, &[&qos], Inputs::Required).unwrap_err();
        assert!(err.to_string().contains("--mqtt-qos needs --mqtt"), "{err}");
        let gallery = Overrides {
            gallery: Some("g".into()),
            ..Default::default()
        };
        let err = PipelineConfig::load_with(&path, &[&gallery], Inputs::Required).unwrap_err();
        assert!(err.to_string().contains("--gallery needs"), "{err}");
        assert_eq!(err.exit_code(), crate::error::exit_code::CONFIG);
        let pre = RunOverrides {
            pre_capture: Some(2.0),
            ..Default::default()
        };
        let err = PipelineConfig::load_with(&path, &[&pre], Inputs::Required).unwrap_err();
        assert!(err.to_string().contains("need --record"), "{err}");
    }

    #[test]
    fn record_flags_fill_the_record_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "[source]\ninput = \"a.mp4\"\n[model]\nmodel = \"m\"\n",
        );
        let flags = RunOverrides {
            record: Some("rec".into()),
            pre_capture: Some(3.0),
            record_labels: Some(vec!["person".into(), "car".into()]),
            ..Default::default()
        };
        let c = PipelineConfig::load_with(&path, &[&flags], Inputs::Required).unwrap();
        let r = c.record_for("a").unwrap();
        assert_eq!((r.dir.as_path(), r.pre_capture), (Path::new("rec"), 3.0));
        assert_eq!(r.post_capture, crate::config::record::DEFAULT_POST_CAPTURE);
        assert_eq!(r.labels, ["person", "car"]);
        let too_long = RunOverrides {
            record: Some("rec".into()),
            pre_capture: Some(90.0),
            ..Default::default()
        };
        let err = PipelineConfig::load_with(&path, &[&too_long], Inputs::Required).unwrap_err();
        assert!(err.to_string().contains("record.pre_capture = 90"), "{err}");
    }
}
