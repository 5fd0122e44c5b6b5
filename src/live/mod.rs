//! Live view: what a stream sees now, annotated, to any number of viewers — fragmented MP4
//! (H.264, for a browser's Media Source Extensions) and MJPEG. One [`Live`] per stream is the
//! hub: viewers join it (bounded by [`LiveOptions::max_viewers`]), its [`output::LiveOutput`]
//! (an [`crate::sink::Output`] of the stream) feeds it frames, and a worker thread encodes
//! them only while someone watches: with no viewer, a frame costs one atomic load.
//!
//! A viewer never slows the pipeline: frames reach the worker through a queue of
//! [`WORKER_QUEUE`] that drops when full; each viewer has its own bounded queue
//! ([`MP4_QUEUE`] fragments, [`MJPEG_QUEUE`] pictures). A viewer whose queue is full misses
//! fragments until the next one that starts at a keyframe, and is dropped once it has been
//! behind for [`LiveOptions::viewer_timeout`] (its connection is closed by the server's write
//! timeout, the same length).

mod copy;
mod encoder;
mod feed;
pub mod fmp4;
pub mod mjpeg;
pub mod output;
pub mod rtsp;
mod stats;

use stats::Sent;
pub use stats::{Kind, LiveStats};

use axum::body::Bytes;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Default most viewers of one stream (all kinds together).
pub const DEFAULT_MAX_VIEWERS: usize = 16;
/// Default time a viewer may stay behind before it is disconnected.
pub const DEFAULT_VIEWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Fragments queued per MP4 viewer (about 3 s of video at 0.1 s fragments).
pub const MP4_QUEUE: usize = 32;
/// Pictures queued per MJPEG viewer.
pub const MJPEG_QUEUE: usize = 2;
/// Frames queued between the stream's sink and its live worker.
pub const WORKER_QUEUE: usize = 2;
/// Default and largest MJPEG rate, pictures per second.
pub const DEFAULT_MJPEG_FPS: f64 = 5.0;
pub const MAX_MJPEG_FPS: f64 = 30.0;
/// Narrowest and widest MJPEG picture a viewer may ask for, pixels.
pub const MJPEG_WIDTHS: std::ops::RangeInclusive<u32> = 16..=3840;

/// `[serve]` settings of the live view.
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    pub max_viewers: usize,
    pub viewer_timeout: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            max_viewers: DEFAULT_MAX_VIEWERS,
            viewer_timeout: DEFAULT_VIEWER_TIMEOUT,
        }
    }
}

/// What a viewer receives: bytes, and when the frame they start with reached the sink (the
/// latency from a frame's result to its bytes on the socket).
#[derive(Debug, Clone)]
pub struct Chunk {
    pub bytes: Bytes,
    pub first_frame: Option<Instant>,
}

struct MjpegViewer {
    tx: mpsc::Sender<Chunk>,
    interval: Duration,
    next_due: Instant,
    width: Option<u32>,
    behind_since: Option<Instant>,
}

/// The appsrc of an RTSP media (shared by that mount's clients).
struct RtspFeed {
    appsrc: gstreamer_app::AppSrc,
    /// Skipping to the first keyframe.
    waiting: bool,
}

/// What a `live.mp4` viewer watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    /// The annotated frames, encoded (H.264).
    Annotated,
    /// The camera's own video: its H.264 packets copied when it has them (no re-encode),
    /// else the frames as decoded, encoded.
    Raw,
}

#[derive(Default)]
struct Viewers {
    /// `live.mp4` feeds: annotated, raw.
    mp4: [feed::Feed; 2],
    mjpeg: Vec<MjpegViewer>,
    rtsp: Vec<RtspFeed>,
    /// A viewer joined: the encoder should start a GOP now.
    want_keyframe: bool,
}

impl Viewers {
    fn feed(&mut self, track: Track) -> &mut feed::Feed {
        &mut self.mp4[track as usize]
    }

    fn mp4_count(&self) -> usize {
        self.mp4.iter().map(|f| f.viewers.len()).sum()
    }
}

/// The stream has [`LiveOptions::max_viewers`] viewers already.
#[derive(Debug)]
pub struct Full(pub usize);

/// The live view of one stream: its viewers and counters.
pub struct Live {
    pub name: String,
    pub options: LiveOptions,
    /// Its RTSP mount and URL (`[serve] rtsp`), until the stream ends.
    mount: Mutex<Option<(rtsp::Mount, String)>>,
    viewers: Mutex<Viewers>,
    /// Viewers of any kind (read by the sink on every frame, without the lock).
    watched: AtomicUsize,
    /// `live.mp4?raw=1` viewers (read by the tap's listener on every packet).
    raw_viewers: AtomicUsize,
    /// Annotated `live.mp4` viewers (read on every access unit of a shared encoder).
    annotated_viewers: AtomicUsize,
    /// The MP4 output's encoder, when the stream shares it ([`Self::encoder_share`]).
    shared: Mutex<Option<Arc<crate::sink::EncoderShare>>>,
    /// The source's encoded stream, when it was opened with one (`?raw=1` copies from it).
    /// (Let go when the stream ends: a removed stream's hub outlives it in the metrics.)
    tap: Mutex<Option<crate::source::Tap>>,
    pub stats: LiveStats,
}

impl Live {
    pub fn new(name: &str, options: LiveOptions) -> Self {
        Live {
            name: name.to_string(),
            options,
            mount: Mutex::default(),
            viewers: Mutex::default(),
            watched: AtomicUsize::new(0),
            raw_viewers: AtomicUsize::new(0),
            annotated_viewers: AtomicUsize::new(0),
            shared: Mutex::new(None),
            tap: Mutex::new(None),
            stats: LiveStats::default(),
        }
    }

    /// Keeps the stream's RTSP mount (at `url`) until it ends.
    pub fn set_mount(&self, mount: rtsp::Mount, url: String) {
        *self.mount.lock() = Some((mount, url));
    }

    /// `rtsp://…/{name}` while the stream is mounted.
    pub fn rtsp_url(&self) -> Option<String> {
        self.mount.lock().as_ref().map(|(_, url)| url.clone())
    }

    /// Copies the source's own packets to `?raw=1` viewers from `tap` (a listener on it).
    pub fn copy_from(self: &Arc<Self>, tap: &crate::source::Tap) {
        let copier = copy::Copier::new(Arc::clone(self), Track::Raw);
        tap.set_listener(Some(Arc::new(move |caps, packet| {
            copier.packet(caps, packet)
        })));
        *self.tap.lock() = Some(tap.clone());
    }

    /// Whether `?raw=1` is the camera's own H.264, copied (else the decoded frames, encoded).
    pub fn copies(&self) -> bool {
        self.tap
            .lock()
            .as_ref()
            .and_then(crate::source::Tap::caps)
            .and_then(|c| c.structure(0).map(|s| s.name() == "video/x-h264"))
            .unwrap_or(false)
    }

    /// What an MP4 output of the stream is offered ([`crate::sink::Output::share_encoder`]):
    /// its annotated H.264 instead of an encoder of the live view's own — every access unit
    /// goes to RTSP and, re-muxed, to `live.mp4` viewers. Taken, it is kept with
    /// [`Self::set_shared`].
    pub fn encoder_share(self: &Arc<Self>) -> Arc<crate::sink::EncoderShare> {
        let copier = copy::Copier::new(Arc::clone(self), Track::Annotated);
        let hub = Arc::downgrade(self);
        let share = Arc::new(crate::sink::EncoderShare {
            on_unit: Box::new(move |sample| {
                let Some(live) = hub.upgrade() else { return };
                live.publish_h264(sample);
                if let (Some(caps), Some(buffer)) = (sample.caps(), sample.buffer_owned()) {
                    let packet = crate::source::tap::Packet {
                        index: 0,
                        segment: 0,
                        keyframe: !buffer.flags().contains(gstreamer::BufferFlags::DELTA_UNIT),
                        time: buffer.pts().map_or(0, |t| t.nseconds()),
                        buffer,
                    };
                    copier.packet(&caps.to_owned(), &packet);
                }
            }),
            want_keyframe: AtomicBool::new(false),
        });
        share
    }

    /// An output took `share`: the live view encodes nothing itself.
    pub fn set_shared(&self, share: Arc<crate::sink::EncoderShare>) {
        *self.shared.lock() = Some(share);
    }

    /// The stream's encoder is its MP4 output's (the live view runs none of its own).
    pub fn shares_encoder(&self) -> bool {
        self.shared.lock().is_some()
    }

    /// Annotated `live.mp4` viewers wait.
    pub(crate) fn wants_annotated(&self) -> bool {
        self.annotated_viewers.load(Ordering::Relaxed) > 0
    }

    /// Raw viewers wait and the source has H.264 to copy.
    pub(crate) fn wants_raw_copy(&self) -> bool {
        self.raw_viewers.load(Ordering::Relaxed) > 0 && self.copies()
    }

    /// Whether anyone watches (a closed viewer counts until the worker notices).
    pub fn watched(&self) -> bool {
        self.watched.load(Ordering::Relaxed) > 0
    }

    /// The MSE codecs string of `track`'s H.264 (known once its muxer ran).
    pub fn codecs(&self, track: Track) -> Option<String> {
        self.viewers.lock().feed(track).codecs.clone()
    }

    fn admit(&self, v: &Viewers) -> Result<(), Full> {
        if v.mp4_count() + v.mjpeg.len() >= self.options.max_viewers {
            return Err(Full(self.options.max_viewers));
        }
        Ok(())
    }

    fn recount(&self, v: &Viewers) {
        self.stats
            .mp4_viewers
            .store(v.mp4_count(), Ordering::Relaxed);
        self.raw_viewers
            .store(v.mp4[Track::Raw as usize].viewers.len(), Ordering::Relaxed);
        self.annotated_viewers.store(
            v.mp4[Track::Annotated as usize].viewers.len(),
            Ordering::Relaxed,
        );
        self.stats
            .mjpeg_viewers
            .store(v.mjpeg.len(), Ordering::Relaxed);
        self.stats.rtsp_media.store(v.rtsp.len(), Ordering::Relaxed);
        self.watched.store(
            v.mp4_count() + v.mjpeg.len() + v.rtsp.len(),
            Ordering::Relaxed,
        );
    }

    /// A new `live.mp4` viewer of `track`: it gets the init segment, then fragments from a
    /// keyframe on.
    ///
    /// # Errors
    /// [`Full`] at [`LiveOptions::max_viewers`].
    pub fn join_mp4(&self, track: Track) -> Result<mpsc::Receiver<Chunk>, Full> {
        let mut v = self.viewers.lock();
        self.admit(&v)?;
        let (tx, rx) = mpsc::channel(MP4_QUEUE);
        v.feed(track).join(tx);
        v.want_keyframe = true;
        self.recount(&v);
        Ok(rx)
    }

    /// A new `live.mjpeg` viewer at `fps` pictures per second, scaled to `width` (aspect kept).
    ///
    /// # Errors
    /// [`Full`] at [`LiveOptions::max_viewers`].
    pub fn join_mjpeg(&self, fps: f64, width: Option<u32>) -> Result<mpsc::Receiver<Chunk>, Full> {
        let mut v = self.viewers.lock();
        self.admit(&v)?;
        let (tx, rx) = mpsc::channel(MJPEG_QUEUE);
        v.mjpeg.push(MjpegViewer {
            tx,
            interval: Duration::from_secs_f64(1.0 / fps.clamp(0.1, MAX_MJPEG_FPS)),
            next_due: Instant::now(),
            width,
            behind_since: None,
        });
        self.recount(&v);
        Ok(rx)
    }

    /// What the worker should do now: whether H.264 is wanted (and a keyframe was asked for),
    /// and the widths MJPEG viewers are due a picture at. Drops viewers that left.
    pub(crate) fn wanted(&self, now: Instant) -> Wanted {
        let mut v = self.viewers.lock();
        for f in &mut v.mp4 {
            f.viewers.retain(|m| !m.tx.is_closed());
        }
        v.mjpeg.retain(|m| !m.tx.is_closed());
        self.recount(&v);
        let mut widths: Vec<Option<u32>> = v
            .mjpeg
            .iter()
            .filter(|m| m.next_due <= now)
            .map(|m| m.width)
            .collect();
        widths.sort_unstable();
        widths.dedup();
        Wanted {
            h264: !v.mp4[Track::Annotated as usize].viewers.is_empty() || !v.rtsp.is_empty(),
            raw: !v.mp4[Track::Raw as usize].viewers.is_empty(),
            keyframe: self.keyframe_wanted(&mut v),
            jpeg_widths: widths,
        }
    }

    /// Whether a viewer asked for a keyframe; a shared encoder is asked directly.
    fn keyframe_wanted(&self, v: &mut Viewers) -> bool {
        let wanted = std::mem::take(&mut v.want_keyframe);
        if wanted {
            if let Some(share) = self.shared.lock().as_ref() {
                share.want_keyframe.store(true, Ordering::Relaxed);
            }
        }
        wanted
    }

    /// `track`'s muxer (re)started with this init segment.
    pub(crate) fn publish_init(&self, track: Track, init: Vec<u8>) {
        self.viewers.lock().feed(track).publish_init(init);
    }

    /// A fragment of `track`'s muxer: to its viewers not skipping to a keyframe.
    pub(crate) fn publish_fragment(&self, track: Track, fragment: Chunk, keyframe: bool) {
        let mut v = self.viewers.lock();
        let timeout = self.options.viewer_timeout;
        if v.feed(track)
            .publish_fragment(&fragment, keyframe, &self.stats, timeout)
        {
            self.recount(&v);
        }
    }

    /// A JPEG at `width`: to the MJPEG viewers of that width that are due one.
    pub(crate) fn publish_jpeg(&self, width: Option<u32>, picture: Chunk) {
        let now = Instant::now();
        let mut v = self.viewers.lock();
        let before = v.mjpeg.len();
        v.mjpeg.retain_mut(|m| {
            if m.width != width || m.next_due > now {
                return true;
            }
            // Even pacing: the next is due one interval after this one was, unless that is
            // already past (frames came slower than asked).
            m.next_due = (m.next_due + m.interval).max(now);
            match self.stats.offer(&m.tx, &picture) {
                Sent::Ok => {
                    m.behind_since = None;
                    true
                }
                Sent::Behind => {
                    !self
                        .stats
                        .expired(&mut m.behind_since, now, self.options.viewer_timeout)
                }
                Sent::Gone => false,
            }
        });
        if v.mjpeg.len() != before {
            self.recount(&v);
        }
    }

    /// `track`'s muxer stopped or failed: its viewers' streams end (a browser reconnects);
    /// for the annotated track, RTSP media wait for the next keyframe.
    pub(crate) fn end_mp4(&self, track: Track) {
        let mut v = self.viewers.lock();
        v.feed(track).end();
        if track == Track::Annotated {
            for feed in &mut v.rtsp {
                feed.waiting = true;
            }
        }
        self.recount(&v);
    }

    /// The stream ended: every viewer's response ends, RTSP clients get the end of stream.
    pub(crate) fn close(&self) {
        {
            let mut v = self.viewers.lock();
            for f in &mut v.mp4 {
                f.end();
            }
            v.mjpeg.clear();
            for feed in v.rtsp.drain(..) {
                let _ = feed.appsrc.end_of_stream();
            }
            self.recount(&v);
        }
        drop(self.mount.lock().take()); // unmounted: new clients get 404
                                        // Without the viewers' lock: the copier's muxer, stopping, waits for its appsink
                                        // thread, which may be waiting for that lock.
        let tap = self.tap.lock().take();
        if let Some(tap) = tap {
            tap.set_listener(None); // the copier (and its hold on this hub) goes
        }
    }
}

/// What the live worker is asked for on one frame.
#[derive(Debug, Default)]
pub(crate) struct Wanted {
    /// Annotated `live.mp4` viewers or RTSP clients wait: the H.264 encoder runs.
    pub h264: bool,
    /// Raw `live.mp4` viewers wait (copied from the tap when it has packets, else encoded).
    pub raw: bool,
    pub keyframe: bool,
    pub jpeg_widths: Vec<Option<u32>>,
}

#[cfg(test)]
mod tests;
