//! `ovdetect` with several requests in flight keeps serialized events between the buffers they
//! arrived between, and its latency query counts the requests really in use.

use crate::common;

use common::*;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_check::Harness;
use std::sync::{Arc, Mutex};

const MARKER: &str = "ovstream-test-marker";

#[test]
fn a_serialized_event_leaves_between_the_buffers_it_arrived_between() {
    register();
    let mut h = Harness::new("ovdetect");
    let element = h.element().unwrap();
    element.set_property("model", "pedestrian-ssdlite");
    element.set_property("nireq", 4u32);
    // Everything that leaves the element, buffers and events in one list, in order.
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    element.static_pad("src").unwrap().add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            let what = match &info.data {
                Some(gst::PadProbeData::Buffer(b)) => format!("buffer {}", b.offset()),
                Some(gst::PadProbeData::Event(e)) => match e.structure() {
                    Some(s) if s.name() == MARKER => "marker".to_string(),
                    _ => format!("event {:?}", e.type_()),
                },
                _ => return gst::PadProbeReturn::Ok,
            };
            log.lock().unwrap().push(what);
            gst::PadProbeReturn::Ok
        },
    );
    let (caps, frames) = vtest_frames(20);
    h.set_src_caps(caps);
    h.play();
    for (i, b) in frames.iter().enumerate() {
        let mut b = b.copy();
        b.make_mut().set_offset(i as u64);
        assert_eq!(h.push(b), Ok(gst::FlowSuccess::Ok));
        if i == 10 {
            let marker = gst::event::CustomDownstream::new(gst::Structure::new_empty(MARKER));
            assert!(h.push_event(marker));
        }
    }
    assert!(h.push_event(gst::event::Eos::new()));
    for _ in 0..frames.len() {
        h.pull().unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let at = |what: &str| {
        seen.iter()
            .position(|s| s == what)
            .unwrap_or_else(|| panic!("{what} never left ovdetect: {seen:?}"))
    };
    let marker = at("marker");
    assert!(
        at("buffer 10") < marker && marker < at("buffer 11"),
        "the marker overtook or fell behind the frames: {seen:?}"
    );
    let buffers: Vec<&String> = seen.iter().filter(|s| s.starts_with("buffer")).collect();
    assert_eq!(buffers.len(), 20, "{seen:?}");
}

/// `(live, min, max)` of a latency query on `ovdetect`'s src pad after `n` frames from a live
/// appsrc that reports `UPSTREAM_MIN`/`UPSTREAM_MAX`.
fn latency_after_frames(nireq: u32, n: usize) -> (bool, gst::ClockTime, gst::ClockTime) {
    register();
    let (caps, frames) = vtest_frames(n);
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src is-live=true format=time min-latency={UPSTREAM_MIN} \
         max-latency={UPSTREAM_MAX} ! ovdetect name=d model=pedestrian-ssdlite nireq={nireq} ! \
         appsink name=out sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gstreamer_app::AppSrc>()
        .unwrap();
    let out = pipeline
        .by_name("out")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    src.set_caps(Some(&caps));
    pipeline.set_state(gst::State::Playing).unwrap();
    for (i, b) in frames.into_iter().enumerate() {
        let mut b = b.copy();
        b.make_mut()
            .set_pts(gst::ClockTime::from_mseconds(40 * i as u64));
        src.push_buffer(b).unwrap();
    }
    src.end_of_stream().unwrap();
    // Every frame out: the element has measured its inference latency.
    for _ in 0..n {
        out.pull_sample().expect("frame through ovdetect");
    }
    let detect = pipeline.by_name("d").unwrap();
    let mut q = gst::query::Latency::new();
    assert!(
        detect.static_pad("src").unwrap().query(&mut q),
        "latency query answered"
    );
    pipeline.set_state(gst::State::Null).unwrap();
    let (live, min, max) = q.result();
    (live, min, max.expect("a bounded max latency"))
}

const UPSTREAM_MIN: u64 = 10_000_000;
const UPSTREAM_MAX: u64 = 50_000_000;

/// Requests counted in a latency answer: ovdetect adds one inference latency to the minimum
/// and one per request in flight to the maximum.
fn requests_in(min: gst::ClockTime, max: gst::ClockTime) -> u64 {
    let infer = min.nseconds() - UPSTREAM_MIN;
    assert!(infer > 0, "an inference latency was added: min {min}");
    let added = max.nseconds() - UPSTREAM_MAX;
    assert_eq!(added % infer, 0, "max adds whole inference latencies");
    added / infer
}

#[test]
fn the_latency_query_counts_the_requests_in_use() {
    let (live, min, max) = latency_after_frames(4, 8);
    assert!(live);
    assert_eq!(requests_in(min, max), 4, "nireq=4: min {min}, max {max}");
    // nireq=0 is the compiled model's OPTIMAL_NUMBER_OF_INFER_REQUESTS, as in the CLI.
    let config = gstovstream::config::PipelineConfig::new("", "pedestrian-ssdlite");
    let optimal = gstovstream::detector::Detector::from_config(&config, None)
        .unwrap()
        .engine
        .nireq as u64;
    let (_, min, max) = latency_after_frames(0, 8);
    assert_eq!(
        requests_in(min, max),
        optimal,
        "nireq=0: min {min}, max {max}"
    );
}
