//! A record input (`[source] record_input`, `[[sources]] record_input`): the camera's main
//! stream, parsed but never decoded, feeding the recorder's [`Tap`] while detection decodes a
//! lower-resolution substream — Frigate's `record` role beside `detect`, DeepStream's Smart
//! Record on a second input. One thread per record input, reconnecting like a live source.
//!
//! The two streams are two pipelines with their own timestamps. Both run on the system clock,
//! so a packet's time in the ring is its *clock time* (the pipeline's base time plus the
//! packet's running time, ns) and a detected frame is found there by its own
//! ([`crate::frame::Frame::clock_time`]). A camera encodes both streams from one sensor, so
//! equal clock times are the same moment, to within the network's jitter.

use super::supervise::{Health, HealthCell, Supervision};
use super::{input_uri, secrets, SourceOptions, Tap, OPEN_TIMEOUT};
use crate::backoff::Backoff;
use crate::error::{Error, Result};
use gstreamer as gst;
use gstreamer::prelude::*;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where decoding stops: H.264/H.265 through its parser (a depayloader's output lacks the
/// picture size an MP4 needs; the parser adds it from the SPS).
pub const PARSED_CAPS: &str = "video/x-h264,parsed=true;video/x-h265,parsed=true";
/// Access units as an MP4 holds them (the parser converts).
pub const MP4_CAPS: &str = "video/x-h264,stream-format=avc,alignment=au;\
                            video/x-h265,stream-format=hvc1,alignment=au";
/// How often the watcher checks the bus, the stall timer and the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// A running record input; dropping it stops it.
pub struct RecordInput {
    /// The input as shown (password redacted).
    pub uri: String,
    health: Arc<HealthCell>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RecordInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordInput")
            .field("uri", &self.uri)
            .finish()
    }
}

/// One connection: the parse-only pipeline and when its last packet came.
struct Connection {
    pipeline: gst::Pipeline,
    last_packet: Arc<Mutex<Option<Instant>>>,
}

impl RecordInput {
    /// Opens `input` (path or URI, `${env:…}`/`${cred:…}` expanded) for source `name`, waits
    /// for its first H.264/H.265 packet, then keeps feeding `tap` on its own thread: the input
    /// is opened again with backoff whenever it errors, ends or sends nothing for
    /// `policy.stall_timeout` (each connection a new segment of the tap), until dropped. It
    /// never gives up: without it only recordings stop, detection goes on. Files play at their
    /// own rate (a stand-in for a camera).
    ///
    /// # Errors
    /// [`Error::Input`] naming the input (password redacted) when it cannot be opened, carries
    /// no H.264/H.265 video, or sends no packet within 20 s.
    pub fn start(
        name: &str,
        input: &str,
        options: &SourceOptions,
        tap: Tap,
        policy: Supervision,
    ) -> Result<RecordInput> {
        crate::gst_init()?;
        let open_uri = input_uri(&secrets::expand(input)?)?;
        let uri = crate::redact::redact(&open_uri);
        let stop = Arc::new(AtomicBool::new(false));
        let first = Connection::open(&open_uri, options, &tap, &stop)?;
        tracing::info!(source = name, uri, "record input started");
        let health = Arc::new(HealthCell::default());
        health.set(Health::Streaming, "");
        let run = Supervised {
            label: format!("{name} ({uri})"),
            open_uri,
            options: *options,
            tap,
            policy,
            stop: Arc::clone(&stop),
            health: Arc::clone(&health),
        };
        let thread = std::thread::Builder::new()
            .name(format!("record-{name}"))
            .spawn(move || run.supervise(first))
            .map_err(|e| Error::gst("record input thread", e))?;
        Ok(RecordInput {
            uri,
            health,
            stop,
            thread: Some(thread),
        })
    }

    /// Its health: `streaming`, or `reconnecting` with the reconnects so far and why.
    pub fn health(&self) -> Arc<HealthCell> {
        Arc::clone(&self.health)
    }
}

impl Drop for RecordInput {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the record input's thread runs with.
struct Supervised {
    /// `NAME (URI)`, the password redacted.
    label: String,
    open_uri: String,
    options: SourceOptions,
    tap: Tap,
    policy: Supervision,
    stop: Arc<AtomicBool>,
    health: Arc<HealthCell>,
}

impl Supervised {
    /// Watches `first` and opens the input again whenever a connection fails, until `stop`.
    fn supervise(self, first: Connection) {
        let mut backoff = Backoff::new(self.policy.backoff_initial, self.policy.backoff_max);
        let stop = || self.stop.load(Ordering::Relaxed);
        let mut conn = Some(first);
        loop {
            let started = Instant::now();
            let why = match conn.take() {
                Some(c) => match c.watch(self.policy.stall_timeout, &self.stop) {
                    None => return,
                    Some(why) => why,
                },
                None => {
                    match Connection::open(&self.open_uri, &self.options, &self.tap, &self.stop) {
                        Ok(c) => {
                            eprintln!("record input {}: streaming", self.label);
                            self.health.set(Health::Streaming, "");
                            conn = Some(c);
                            continue;
                        }
                        Err(e) => e.to_string(),
                    }
                }
            };
            if started.elapsed() >= self.policy.healthy_after {
                backoff.reset();
            }
            let why = format!(
                "{}; retry in {} s",
                crate::redact::redact(&why),
                backoff.peek().as_secs_f64()
            );
            tracing::warn!(input = self.label, "record input reconnecting: {why}");
            eprintln!("record input {}: reconnecting ({why})", self.label);
            self.health.set(Health::Reconnecting, &why);
            if !backoff.wait(POLL, stop) {
                return;
            }
        }
    }
}

impl Connection {
    /// `uridecodebin` stopping at parsed video ([`PARSED_CAPS`], in [`MP4_CAPS`]) into a
    /// fakesink whose pad feeds `tap`, playing; returns once the first packet is in the ring.
    fn open(
        uri: &str,
        options: &SourceOptions,
        tap: &Tap,
        stop: &AtomicBool,
    ) -> Result<Connection> {
        // A refused connection or unknown host, in front of GStreamer's generic message.
        let bad = |message: String| Error::Input {
            uri: uri.to_string(),
            message: match super::uri::network_unreachable(uri) {
                Some(cause) => format!("{cause} ({message})"),
                None => message,
            },
        };
        // Files are paced by the clock, as a camera sends; network streams come when they come.
        let sync = uri.starts_with("file:");
        let pipeline = gst::parse::launch(&format!(
            "uridecodebin name=decode ! capsfilter name=mp4 ! fakesink name=sink sync={sync} \
             async=false"
        ))
        .map_err(|e| bad(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| Error::gst("record input pipeline", "not a pipeline"))?;
        pipeline.use_clock(Some(&gst::SystemClock::obtain()));
        let decode = pipeline
            .by_name("decode")
            .expect("named in the description");
        decode.set_property("uri", uri);
        let caps = |s: &str| s.parse::<gst::Caps>().expect("valid caps");
        decode.set_property("caps", caps(PARSED_CAPS));
        let mp4 = pipeline.by_name("mp4").expect("named in the description");
        mp4.set_property("caps", caps(MP4_CAPS));
        let opts = *options;
        decode.connect("source-setup", false, move |args| {
            if let Some(element) = args.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
                opts.setup_source(&element);
            }
            None
        });
        let sink = pipeline.by_name("sink").expect("named in the description");
        let last_packet = Arc::new(Mutex::new(None));
        tap.new_segment();
        feed(&sink, tap.clone(), Arc::clone(&last_packet));
        let conn = Connection {
            pipeline,
            last_packet,
        };
        conn.pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| bad(format!("cannot start: {e}")))?;
        let bus = conn.pipeline.bus().expect("pipeline has a bus");
        let deadline = Instant::now() + Duration::from(OPEN_TIMEOUT);
        while conn.last_packet.lock().is_none() {
            if let Some(why) = conn.ended(&bus) {
                return Err(bad(why));
            }
            if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                return Err(bad(format!(
                    "no H.264/H.265 packet within {} s of opening it",
                    OPEN_TIMEOUT.seconds()
                )));
            }
        }
        Ok(conn)
    }

    /// Why the pipeline ended (an error, EOS), waiting up to [`POLL`] for it; `None`: it runs.
    fn ended(&self, bus: &gst::Bus) -> Option<String> {
        let wait = gst::ClockTime::from_nseconds(POLL.as_nanos() as u64);
        let msg =
            bus.timed_pop_filtered(wait, &[gst::MessageType::Error, gst::MessageType::Eos])?;
        Some(match msg.view() {
            gst::MessageView::Error(err) => {
                let mut why = err.error().to_string();
                if err.error().matches(gst::CoreError::MissingPlugin) {
                    why.push_str(": no H.264/H.265 video in it to record");
                }
                why
            }
            _ => "end of stream".to_string(),
        })
    }

    /// Runs until `stop` (`None`) or a failure: an error, EOS, or no packet for `stall`.
    fn watch(self, stall: Duration, stop: &AtomicBool) -> Option<String> {
        let bus = self.pipeline.bus().expect("pipeline has a bus");
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(why) = self.ended(&bus) {
                return Some(why);
            }
            let last = self.last_packet.lock().unwrap_or_else(Instant::now);
            if last.elapsed() > stall {
                return Some(format!("stalled: no packet for {} s", stall.as_secs_f64()));
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// `sink`'s packets go into `tap` at their clock time, from its `handoff` (rendered in
/// PLAYING, when the base time is set: a file's first packets come in PAUSED); a probe on its
/// pad notes the segment, caps and flushes (new segments).
fn feed(sink: &gst::Element, tap: Tap, last_packet: Arc<Mutex<Option<Instant>>>) {
    let pad = sink.static_pad("sink").expect("a fakesink has a sink pad");
    let segment = Arc::new(Mutex::new(None::<gst::FormattedSegment<gst::ClockTime>>));
    let (events_tap, events_segment) = (tap.clone(), Arc::clone(&segment));
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(event)) = &info.data {
            if let gst::EventView::Segment(s) = event.view() {
                *events_segment.lock() = s.segment().downcast_ref::<gst::ClockTime>().cloned();
            }
            events_tap.event(event);
        }
        gst::PadProbeReturn::Ok
    });
    sink.set_property("signal-handoffs", true);
    sink.connect("handoff", false, move |args| {
        let sink = args[0].get::<gst::Element>().ok()?;
        let buffer = args[1].get::<gst::Buffer>().ok()?;
        let running = segment
            .lock()
            .as_ref()
            .and_then(|s| s.to_running_time(buffer.pts().or(buffer.dts())?));
        if let (Some(base), Some(running)) = (sink.base_time(), running) {
            tap.push_at(buffer, (base + running).nseconds());
            *last_packet.lock() = Some(Instant::now());
        }
        None
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1-s H.264 MP4 (30 frames, a keyframe every 10) at `path`.
    fn clip(path: &std::path::Path) {
        let pipeline = gst::parse::launch(&format!(
            "videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120,framerate=30/1 ! \
             x264enc key-int-max=10 speed-preset=ultrafast ! mp4mux ! filesink location={}",
            path.display()
        ))
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let done = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(20),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(matches!(done.unwrap().view(), gst::MessageView::Eos(_)));
    }

    #[test]
    fn packets_carry_clock_time_and_an_ended_input_is_reopened_as_a_new_segment() {
        crate::gst_init().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("main.mp4");
        clip(&file);
        let tap = Tap::new(Duration::from_secs(1));
        let policy = Supervision {
            backoff_initial: Duration::from_millis(50),
            ..Supervision::default()
        };
        let options = SourceOptions::default();
        let input =
            RecordInput::start("cam", file.to_str().unwrap(), &options, tap.clone(), policy)
                .unwrap();
        let first = tap.segment();
        let now = || gst::SystemClock::obtain().time().nseconds();
        let (key, caps) = tap.keyframe_before(first, u64::MAX).expect("a keyframe");
        assert!(
            key.time.abs_diff(now()) < 2_000_000_000,
            "clock time: {}",
            key.time
        );
        assert_eq!(caps.structure(0).unwrap().get::<i32>("width"), Ok(160));
        // Played at its own rate, the file ends after 1 s; it is opened again.
        let deadline = Instant::now() + Duration::from_secs(10);
        while tap.keyframe_before(tap.segment(), u64::MAX).is_none() || tap.segment() == first {
            assert!(Instant::now() < deadline, "not reopened");
            std::thread::sleep(Duration::from_millis(20));
        }
        let (again, _) = tap.keyframe_before(tap.segment(), u64::MAX).unwrap();
        assert!(
            again.time > key.time + 900_000_000,
            "{} after {}",
            again.time,
            key.time
        );
        assert!(input.health().reconnects() >= 1);
        assert!(input
            .health()
            .last_error()
            .unwrap()
            .contains("end of stream"));
        drop(input); // stops and joins its thread
        let segment = tap.segment();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(tap.segment(), segment, "stopped");
    }
}
