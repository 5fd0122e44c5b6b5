//! A stream's live counters ([`LiveStats`]: viewers, bytes, drops, latency; the metrics and
//! `GET /api/streams/{name}/live`) and the one way a chunk is offered to a viewer's queue.

use super::Chunk;
use crate::telemetry::StageStats;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Viewer kinds, as the metrics label them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mp4,
    Mjpeg,
    /// An RTSP mount's media (one, shared by all its clients).
    Rtsp,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Mp4, Kind::Mjpeg, Kind::Rtsp];
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mp4 => "mp4",
            Kind::Mjpeg => "mjpeg",
            Kind::Rtsp => "rtsp",
        }
    }
}

/// A stream's live counters (the metrics and `GET /api/streams/{name}/live`).
#[derive(Default)]
pub struct LiveStats {
    pub mp4_viewers: AtomicUsize,
    pub mjpeg_viewers: AtomicUsize,
    /// Bytes handed to viewers' sockets, by kind.
    pub mp4_bytes: AtomicU64,
    pub mjpeg_bytes: AtomicU64,
    /// Fragments or pictures a viewer missed (its queue was full).
    pub drops: AtomicU64,
    /// Viewers disconnected for staying behind.
    pub evicted: AtomicU64,
    /// The H.264 encoder runs (someone watches `live.mp4` or the RTSP mount).
    pub encoding: AtomicBool,
    /// RTSP media of the stream's mount being fed (one per mount, shared by its clients).
    pub rtsp_media: AtomicUsize,
    /// Bytes of H.264 handed to RTSP media.
    pub rtsp_bytes: AtomicU64,
    /// Frames the worker's queue dropped (the encoders were busy).
    pub frames_dropped: AtomicU64,
    latency: Mutex<Option<StageStats>>,
}

impl LiveStats {
    /// Counts `n` bytes sent to a viewer of `kind`, and the latency of the frame they start with.
    pub fn sent(&self, kind: Kind, n: usize, first_frame: Option<Instant>) {
        self.bytes_counter(kind)
            .fetch_add(n as u64, Ordering::Relaxed);
        if let Some(t) = first_frame {
            self.latency
                .lock()
                .get_or_insert_with(|| StageStats::new("live"))
                .record(t.elapsed());
        }
    }

    /// p50 and p99 of the latency from a frame at the sink to its bytes on a socket, ms.
    pub fn latency_ms(&self) -> Option<(f64, f64)> {
        self.latency.lock().as_ref().map(|s| {
            let l = s.summary();
            (l.p50_ms, l.p99_ms)
        })
    }

    pub fn viewers(&self, kind: Kind) -> usize {
        match kind {
            Kind::Mp4 => self.mp4_viewers.load(Ordering::Relaxed),
            Kind::Mjpeg => self.mjpeg_viewers.load(Ordering::Relaxed),
            Kind::Rtsp => self.rtsp_media.load(Ordering::Relaxed),
        }
    }

    /// Bytes sent so far to viewers of `kind`.
    pub fn bytes(&self, kind: Kind) -> u64 {
        self.bytes_counter(kind).load(Ordering::Relaxed)
    }

    fn bytes_counter(&self, kind: Kind) -> &AtomicU64 {
        match kind {
            Kind::Mp4 => &self.mp4_bytes,
            Kind::Mjpeg => &self.mjpeg_bytes,
            Kind::Rtsp => &self.rtsp_bytes,
        }
    }
}

/// How a send to one viewer went.
pub(super) enum Sent {
    Ok,
    Behind,
    Gone,
}

impl LiveStats {
    /// Sends `chunk` to one viewer's queue; a full queue counts a drop.
    pub(super) fn offer(&self, tx: &mpsc::Sender<Chunk>, chunk: &Chunk) -> Sent {
        match tx.try_send(chunk.clone()) {
            Ok(()) => Sent::Ok,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.drops.fetch_add(1, Ordering::Relaxed);
                Sent::Behind
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Sent::Gone,
        }
    }

    /// Whether a viewer behind since `since` has been behind longer than `timeout` (it is
    /// then dropped, and counted).
    pub(super) fn expired(
        &self,
        since: &mut Option<Instant>,
        now: Instant,
        timeout: Duration,
    ) -> bool {
        let late = since.get_or_insert(now).elapsed() > timeout;
        if late {
            self.evicted.fetch_add(1, Ordering::Relaxed);
            tracing::info!("a live viewer stayed behind: disconnected");
        }
        late
    }
}
