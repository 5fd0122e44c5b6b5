//! `ovdetect` implementation. The model is loaded on READY→PAUSED (a bad model or device fails
//! that state change with a message naming it). Each buffer takes a free infer request, its
//! input is written and the request started; buffers wait in a FIFO while their requests run
//! and are pushed downstream in order with their ROI metas once the oldest completes, so up to
//! `nireq` inferences overlap. EOS and drain wait for all of them; flushes drop them.

use crate::adapters::InputFormat;
use crate::config::{Hint, PipelineConfig, Precision};
use crate::detector::Detector;
use crate::element::meta;
use crate::engine::{InputSpec, Request};
use crate::frame::Frame;
use crate::preprocess::fill_input;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "ovdetect",
        gst::DebugColorFlags::empty(),
        Some("ovstream OpenVINO detection"),
    )
});

const DEFAULT_MODEL: &str = "pedestrian-ssdlite";
const DEFAULT_DEVICE: &str = "CPU";
const DEFAULT_THRESHOLD: f32 = crate::config::DEFAULT_THRESHOLD;

#[derive(Debug, Clone)]
struct Settings {
    model: String,
    device: String,
    nireq: u32,
    hint: String,
    precision: String,
    threshold: f32,
    labels: String,
    object_class: String,
    inference_interval: u32,
    cache_dir: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: DEFAULT_MODEL.into(),
            device: DEFAULT_DEVICE.into(),
            nireq: 0,
            hint: "throughput".into(),
            precision: String::new(),
            threshold: DEFAULT_THRESHOLD,
            labels: String::new(),
            object_class: String::new(),
            inference_interval: 1,
            cache_dir: String::new(),
        }
    }
}

/// A buffer waiting for its results (or, between inference intervals, for its turn).
struct Pending {
    buffer: gst::Buffer,
    request: Option<Request>,
}

struct State {
    detector: Detector,
    spec: InputSpec,
    format: InputFormat,
    output_names: Vec<String>,
    free: Vec<Request>,
    pending: VecDeque<Pending>,
    info: Option<gst_video::VideoInfo>,
    seq: u64,
    last: Vec<crate::frame::Detection>,
    scratch: Vec<u8>,
    work: Vec<u8>,
}

pub struct OvDetect {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// Median-ish inference latency in ns (last measured), for latency queries.
    infer_ns: AtomicU64,
}

fn frame_of(buffer: &gst::Buffer, info: &gst_video::VideoInfo, seq: u64) -> Frame {
    Frame {
        source_id: 0,
        seq,
        pts: buffer.pts().map_or(0, |p| p.nseconds()),
        buffer: buffer.clone(),
        info: info.clone(),
        arrival: Instant::now(),
    }
}

impl OvDetect {
    fn config(settings: &Settings) -> Result<PipelineConfig, String> {
        let mut c = PipelineConfig::parse(
            "[source]\ninput = \"ovdetect\"\n[model]\nmodel = \"ovdetect\"\n",
            Path::new("ovdetect"),
        )
        .map_err(|e| e.to_string())?;
        c.model.model = settings.model.clone();
        c.model.device = settings.device.clone();
        c.model.nireq =
            (settings.nireq > 0).then_some(crate::config::Nireq::Count(settings.nireq as usize));
        c.model.hint = match settings.hint.to_ascii_lowercase().as_str() {
            "latency" => Hint::Latency,
            "throughput" => Hint::Throughput,
            other => return Err(format!("hint `{other}`: expected latency or throughput")),
        };
        c.model.precision = match settings.precision.to_ascii_lowercase().as_str() {
            "" => None,
            "f32" => Some(Precision::F32),
            "f16" => Some(Precision::F16),
            "bf16" => Some(Precision::Bf16),
            other => return Err(format!("precision `{other}`: expected f32, f16 or bf16")),
        };
        if !settings.cache_dir.is_empty() {
            c.model.cache_dir = Some(PathBuf::from(&settings.cache_dir));
        }
        c.detect.threshold = settings.threshold;
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect()
        };
        if !settings.labels.is_empty() {
            c.detect.labels = Some(list(&settings.labels));
        }
        c.detect.classes = list(&settings.object_class);
        c.validate(Path::new("ovdetect"))
            .map_err(|e| e.to_string())?;
        Ok(c)
    }

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let config = Self::config(&settings)
            .map_err(|m| gst::error_msg!(gst::LibraryError::Settings, ["ovdetect: {m}"]))?;
        let mut detector = Detector::from_config(&config, None).map_err(|e| {
            gst::error_msg!(
                gst::LibraryError::Init,
                [
                    "ovdetect: model {} on {}: {e}",
                    settings.model,
                    settings.device
                ]
            )
        })?;
        let free = detector
            .engine
            .create_requests(detector.engine.nireq)
            .map_err(|e| gst::error_msg!(gst::LibraryError::Init, ["ovdetect: {e}"]))?;
        gst::info!(
            CAT,
            imp = self,
            "model {} ready on {} (nireq {})",
            settings.model,
            detector.engine.execution_devices,
            free.len()
        );
        let state = State {
            spec: detector.engine.input.clone(),
            format: detector.adapter.input_format(),
            output_names: detector.adapter.output_names(),
            detector,
            free,
            pending: VecDeque::new(),
            info: None,
            seq: 0,
            last: Vec::new(),
            scratch: Vec::new(),
            work: Vec::new(),
        };
        *self.state.lock().unwrap() = Some(state);
        Ok(())
    }

    /// Completes the oldest pending buffer: waits for its request, decodes, attaches metas.
    fn complete_oldest(&self, state: &mut State) -> Result<Option<gst::Buffer>, gst::FlowError> {
        let Some(Pending {
            mut buffer,
            request,
        }) = state.pending.pop_front()
        else {
            return Ok(None);
        };
        let size = state
            .info
            .as_ref()
            .map(|i| (i.width(), i.height()))
            .ok_or(gst::FlowError::NotNegotiated)?;
        if let Some(mut request) = request {
            let t0 = Instant::now();
            let outputs = request.wait().and_then(|()| {
                let mut outputs = vec![Vec::new(); state.output_names.len()];
                for (name, out) in state.output_names.iter().zip(outputs.iter_mut()) {
                    request.read_output(name, out)?;
                }
                Ok(outputs)
            });
            state.free.push(request);
            let outputs = outputs.map_err(|e| {
                gst::element_imp_error!(self, gst::LibraryError::Failed, ["infer: {e}"]);
                gst::FlowError::Error
            })?;
            self.infer_ns
                .store(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
            state.last = state.detector.adapter.decode(&outputs, size, &state.spec);
        }
        meta::attach(buffer.make_mut(), &state.last, size.0, size.1);
        Ok(Some(buffer))
    }

    fn chain(&self, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let interval = u64::from(self.settings.lock().unwrap().inference_interval.max(1));
        let mut ready = Vec::new();
        {
            let mut guard = self.state.lock().unwrap();
            let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
            let infer = state.seq % interval == 0;
            state.seq += 1;
            let request = if infer {
                while state.free.is_empty() {
                    if let Some(b) = self.complete_oldest(state)? {
                        ready.push(b);
                    }
                }
                let mut request = state.free.pop().expect("a free request");
                let frame = frame_of(&buffer, &info, state.seq);
                let started = request
                    .input_mut()
                    .and_then(|input| {
                        fill_input(
                            &frame,
                            &state.spec,
                            state.format,
                            input,
                            &mut state.scratch,
                            &mut state.work,
                        )
                    })
                    .and_then(|()| request.start());
                if let Err(e) = started {
                    state.free.push(request);
                    gst::element_imp_error!(self, gst::LibraryError::Failed, ["preprocess: {e}"]);
                    return Err(gst::FlowError::Error);
                }
                Some(request)
            } else {
                None
            };
            state.pending.push_back(Pending { buffer, request });
        }
        for b in ready {
            self.srcpad.push(b)?;
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// Completes every pending buffer and pushes them (EOS, drain).
    fn drain(&self) -> Result<(), gst::FlowError> {
        loop {
            let next = {
                let mut guard = self.state.lock().unwrap();
                match guard.as_mut() {
                    Some(state) => self.complete_oldest(state)?,
                    None => None,
                }
            };
            match next {
                Some(b) => {
                    self.srcpad.push(b)?;
                }
                None => return Ok(()),
            }
        }
    }

    fn flush(&self) {
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            while let Some(p) = state.pending.pop_front() {
                if let Some(mut r) = p.request {
                    let _ = r.wait();
                    state.free.push(r);
                }
            }
        }
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(c) => {
                let caps = c.caps_owned();
                match gst_video::VideoInfo::from_caps(&caps) {
                    Ok(info) => {
                        let _ = self.drain();
                        if let Some(state) = self.state.lock().unwrap().as_mut() {
                            state.info = Some(info);
                        }
                    }
                    Err(_) => return false,
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            gst::EventView::Eos(_) => {
                if self.drain().is_err() {
                    gst::warning!(CAT, imp = self, "could not drain at EOS");
                }
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            gst::EventView::FlushStop(_) => {
                self.flush();
                gst::Pad::event_default(pad, Some(&*self.obj()), event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let mut upstream = gst::query::Latency::new();
            if !self.sinkpad.peer_query(&mut upstream) {
                return false;
            }
            let (live, min, max) = upstream.result();
            let nireq = self.settings.lock().unwrap().nireq.max(1) as u64;
            let ours = gst::ClockTime::from_nseconds(self.infer_ns.load(Ordering::Relaxed));
            q.set(live, min + ours, max.map(|m| m + ours * nireq));
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for OvDetect {
    const NAME: &'static str = "OvDetect";
    type Type = super::OvDetect;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let sinkpad = gst::Pad::builder_from_template(&klass.pad_template("sink").expect("sink"))
            .chain_function(|_pad, parent, buffer| {
                OvDetect::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |d| d.chain(buffer),
                )
            })
            .event_function(|pad, parent, event| {
                OvDetect::catch_panic_pad_function(parent, || false, |d| d.sink_event(pad, event))
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        let srcpad = gst::Pad::builder_from_template(&klass.pad_template("src").expect("src"))
            .query_function(|pad, parent, query| {
                OvDetect::catch_panic_pad_function(parent, || false, |d| d.src_query(pad, query))
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        OvDetect {
            sinkpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(None),
            infer_ns: AtomicU64::new(0),
        }
    }
}

impl ObjectImpl for OvDetect {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("sink pad");
        obj.add_pad(&self.srcpad).expect("src pad");
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let s = |name: &str, blurb: &str, default: &str| {
                glib::ParamSpecString::builder(name)
                    .blurb(blurb)
                    .default_value(Some(default))
                    .mutable_ready()
                    .build()
            };
            vec![
                s("model", "Manifest id (models/manifest.toml) or model file path", DEFAULT_MODEL),
                s("device", "OpenVINO device: CPU, GPU, GPU.1, NPU, AUTO, HETERO:GPU,CPU", DEFAULT_DEVICE),
                glib::ParamSpecUInt::builder("nireq")
                    .blurb("Infer requests in flight; 0 = OPTIMAL_NUMBER_OF_INFER_REQUESTS")
                    .maximum(64)
                    .default_value(0)
                    .mutable_ready()
                    .build(),
                s("hint", "PERFORMANCE_HINT: throughput or latency", "throughput"),
                s("precision", "INFERENCE_PRECISION_HINT: f32, f16, bf16; empty = device default", ""),
                glib::ParamSpecFloat::builder("threshold")
                    .blurb("Detection confidence threshold")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_THRESHOLD)
                    .mutable_ready()
                    .build(),
                s("labels", "Comma-separated class names (label id L is the L-th); empty = from the manifest", ""),
                s("object-class", "Keep only these comma-separated classes; empty keeps all", ""),
                glib::ParamSpecUInt::builder("inference-interval")
                    .blurb("Run inference on every Nth frame; the others get the last results")
                    .minimum(1)
                    .default_value(1)
                    .mutable_playing()
                    .build(),
                s("cache-dir", "Compiled-model cache folder; empty = ~/.cache/ovstream/compiled", ""),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        let text = || {
            value
                .get::<Option<String>>()
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        match pspec.name() {
            "model" => s.model = text(),
            "device" => s.device = text(),
            "nireq" => s.nireq = value.get().expect("uint"),
            "hint" => s.hint = text(),
            "precision" => s.precision = text(),
            "threshold" => s.threshold = value.get().expect("float"),
            "labels" => s.labels = text(),
            "object-class" => s.object_class = text(),
            "inference-interval" => s.inference_interval = value.get().expect("uint"),
            "cache-dir" => s.cache_dir = text(),
            _ => unreachable!("unknown property"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "model" => s.model.to_value(),
            "device" => s.device.to_value(),
            "nireq" => s.nireq.to_value(),
            "hint" => s.hint.to_value(),
            "precision" => s.precision.to_value(),
            "threshold" => s.threshold.to_value(),
            "labels" => s.labels.to_value(),
            "object-class" => s.object_class.to_value(),
            "inference-interval" => s.inference_interval.to_value(),
            "cache-dir" => s.cache_dir.to_value(),
            _ => unreachable!("unknown property"),
        }
    }
}

impl GstObjectImpl for OvDetect {}

impl ElementImpl for OvDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream detection",
                "Filter/Analyzer/Video",
                "Detects objects with OpenVINO (SSD, BlazeFace); attaches GstVideoRegionOfInterestMeta",
                "ovstream developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        crate::element::i420_templates()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            if let Err(msg) = self.start() {
                self.post_error_message(msg);
                return Err(gst::StateChangeError);
            }
        }
        let result = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.flush();
            *self.state.lock().unwrap() = None;
        }
        Ok(result)
    }
}
