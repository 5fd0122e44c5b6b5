//! `ovdetect` implementation. The model is loaded on READY→PAUSED (a bad model or device fails
//! that state change with a message naming it). Each buffer takes a free infer request, its
//! input is written and the request started (through the inference core,
//! [`crate::inference::Inference`]); buffers wait in a FIFO while their requests run and are
//! pushed downstream in order with their ROI metas once the oldest completes, so up to
//! `nireq` inferences overlap. Serialized events (segment, gap, tags, custom downstream
//! events) queue in the same FIFO, so they leave between the same buffers they arrived
//! between. EOS and drain wait for all of them; flushes drop them.

use super::settings::Settings;
use crate::detector::Detector;
use crate::element::{labels, meta};
use crate::engine::Request;
use crate::frame::{Detection, Frame};
use crate::inference::Inference;
use crate::preprocess::Scratch;
use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer::subclass::prelude::*;
use gstreamer_video as gst_video;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "ovdetect",
        gst::DebugColorFlags::empty(),
        Some("ovstream OpenVINO detection"),
    )
});

/// What waits in the FIFO: a buffer for its results (or, between inference intervals, for its
/// turn), or a serialized event behind the buffers that came before it.
enum Pending {
    Buffer {
        buffer: gst::Buffer,
        /// The request inferring on it and when it started; `None` between inference
        /// intervals.
        request: Option<(Request, Instant)>,
    },
    Event(gst::Event),
}

/// What leaves the FIFO, in order.
enum Ready {
    Buffer(gst::Buffer),
    Event(gst::Event),
}

struct State {
    inference: Inference,
    /// Keeps the compiled model (and its requests) alive; its labels answer the
    /// `ovstream-labels` query ([`labels`]).
    detector: Detector,
    free: Vec<Request>,
    pending: VecDeque<Pending>,
    info: Option<gst_video::VideoInfo>,
    seq: u64,
    last: Vec<Detection>,
    scratch: Scratch,
}

pub struct OvDetect {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// The last measured inference latency (start to results) in ns, for latency queries.
    infer_ns: AtomicU64,
    /// Infer requests in use (the compiled model's choice when `nireq` is 0).
    requests: AtomicU32,
}

impl OvDetect {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let config = settings
            .config()
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
        self.requests.store(free.len() as u32, Ordering::Relaxed);
        let state = State {
            inference: Inference::new(&detector.engine, &detector.adapter),
            detector,
            free,
            pending: VecDeque::new(),
            info: None,
            seq: 0,
            last: Vec::new(),
            scratch: Scratch::default(),
        };
        *self.state.lock().unwrap() = Some(state);
        Ok(())
    }

    /// Completes the oldest pending item: waits for a buffer's request, decodes, attaches
    /// metas; an event leaves as it is.
    fn complete_oldest(&self, state: &mut State) -> Result<Option<Ready>, gst::FlowError> {
        let (mut buffer, request) = match state.pending.pop_front() {
            None => return Ok(None),
            Some(Pending::Event(event)) => return Ok(Some(Ready::Event(event))),
            Some(Pending::Buffer { buffer, request }) => (buffer, request),
        };
        let info = state.info.clone().ok_or(gst::FlowError::NotNegotiated)?;
        if let Some((mut request, started)) = request {
            let outputs = state.inference.collect(&mut request, 1);
            state.free.push(request);
            let mut outputs = outputs.map_err(|e| {
                gst::element_imp_error!(self, gst::LibraryError::Failed, ["infer: {e}"]);
                gst::FlowError::Error
            })?;
            self.infer_ns
                .store(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            let frame = Frame::from_buffer(buffer.clone(), info.clone(), 0, state.seq);
            state.last = state.inference.decode(&outputs.swap_remove(0), &frame);
        }
        meta::attach(buffer.make_mut(), &state.last, info.width(), info.height());
        Ok(Some(Ready::Buffer(buffer)))
    }

    /// Pushes what left the FIFO downstream, in order.
    fn push_ready(&self, ready: Vec<Ready>) -> Result<gst::FlowSuccess, gst::FlowError> {
        for r in ready {
            match r {
                Ready::Buffer(b) => {
                    self.srcpad.push(b)?;
                }
                Ready::Event(e) => {
                    self.srcpad.push_event(e);
                }
            }
        }
        Ok(gst::FlowSuccess::Ok)
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
                    if let Some(r) = self.complete_oldest(state)? {
                        ready.push(r);
                    }
                }
                let mut request = state.free.pop().expect("a free request");
                let frame = Frame::from_buffer(buffer.clone(), info, 0, state.seq);
                let started = state.inference.start(
                    &mut request,
                    std::slice::from_ref(&frame),
                    &mut state.scratch,
                );
                if let Err(e) = started {
                    state.free.push(request);
                    gst::element_imp_error!(self, gst::LibraryError::Failed, ["preprocess: {e}"]);
                    return Err(gst::FlowError::Error);
                }
                Some((request, Instant::now()))
            } else {
                None
            };
            state.pending.push_back(Pending::Buffer { buffer, request });
        }
        self.push_ready(ready)
    }

    /// Completes every pending item and pushes them (EOS, drain).
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
                Some(r) => {
                    self.push_ready(vec![r])?;
                }
                None => return Ok(()),
            }
        }
    }

    fn flush(&self) {
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            while let Some(p) = state.pending.pop_front() {
                if let Pending::Buffer {
                    request: Some((mut r, _)),
                    ..
                } = p
                {
                    let _ = r.wait();
                    state.free.push(r);
                }
            }
        }
    }

    /// Queues a serialized event behind the buffers still in flight; `false` when nothing is
    /// in flight (the event can go now).
    fn queue_event(&self, event: &gst::Event) -> bool {
        match self.state.lock().unwrap().as_mut() {
            Some(state) if !state.pending.is_empty() => {
                state.pending.push_back(Pending::Event(event.clone()));
                true
            }
            _ => false,
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
            _ if event.is_serialized() && self.queue_event(&event) => true,
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
            let nireq = u64::from(self.requests.load(Ordering::Relaxed).max(1));
            let ours = gst::ClockTime::from_nseconds(self.infer_ns.load(Ordering::Relaxed));
            q.set(live, min + ours, max.map(|m| m + ours * nireq));
            return true;
        }
        if labels::asks(query) {
            // Only this query takes the state lock (the streaming thread holds it while it
            // waits on a request); without a model yet, upstream may answer.
            if let Some(state) = self.state.lock().unwrap().as_ref() {
                labels::answer(query, &state.detector.adapter.labels());
                return true;
            }
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
            requests: AtomicU32::new(0),
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
        Settings::specs()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        self.settings.lock().unwrap().set(pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        self.settings.lock().unwrap().get(pspec.name())
    }
}

impl GstObjectImpl for OvDetect {}

impl ElementImpl for OvDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "ovstream detection",
                "Filter/Analyzer/Video",
                "Detects objects with OpenVINO (SSD, BlazeFace); attaches GstVideoRegionOfInterestMeta. \
Example: gst-launch-1.0 filesrc location=samples/vtest.avi ! decodebin ! videoconvert ! \
ovdetect model=pedestrian-ssdlite device=CPU nireq=2 ! ovmetapublish file-path=out.jsonl ! \
fakesink",
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
