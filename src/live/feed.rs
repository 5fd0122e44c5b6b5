//! One fragmented-MP4 feed of a stream ([`super::Track`]: annotated, or the camera's own
//! video): its viewers, the current init segment and the fan-out of fragments. A viewer gets
//! the init segment, then fragments from a keyframe on; a viewer whose queue is full skips to
//! the next keyframe and is dropped once behind for the viewer timeout.

use super::{Chunk, LiveStats, Sent};
use axum::body::Bytes;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(super) struct Mp4Viewer {
    pub tx: mpsc::Sender<Chunk>,
    /// It got the current init segment.
    has_init: bool,
    /// Skipping to the next keyframe (it just joined, or its queue was full).
    waiting: bool,
    behind_since: Option<Instant>,
}

#[derive(Default)]
pub(super) struct Feed {
    pub viewers: Vec<Mp4Viewer>,
    pub init: Option<Bytes>,
    /// The MSE codecs string of the init segment's track.
    pub codecs: Option<String>,
}

impl Feed {
    pub fn join(&mut self, tx: mpsc::Sender<Chunk>) {
        self.viewers.push(Mp4Viewer {
            tx,
            has_init: false,
            waiting: true,
            behind_since: None,
        });
    }

    /// A new init segment (the muxer restarted): every viewer needs it before the next
    /// keyframe fragment.
    pub fn publish_init(&mut self, init: Vec<u8>) {
        self.codecs = super::fmp4::codecs(&init);
        self.init = Some(Bytes::from(init));
        for m in &mut self.viewers {
            m.has_init = false;
            m.waiting = true;
        }
    }

    /// `fragment` to every viewer not skipping to a keyframe; returns whether a viewer left.
    pub fn publish_fragment(
        &mut self,
        fragment: &Chunk,
        keyframe: bool,
        stats: &LiveStats,
        timeout: Duration,
    ) -> bool {
        let now = Instant::now();
        let init = self.init.clone();
        let before = self.viewers.len();
        self.viewers.retain_mut(|m| {
            if m.waiting && !keyframe {
                return !m.tx.is_closed();
            }
            if !m.has_init {
                let Some(init) = &init else { return true };
                let init = Chunk {
                    bytes: init.clone(),
                    first_frame: None,
                };
                match stats.offer(&m.tx, &init) {
                    Sent::Ok => m.has_init = true,
                    Sent::Behind => return !stats.expired(&mut m.behind_since, now, timeout),
                    Sent::Gone => return false,
                }
            }
            match stats.offer(&m.tx, fragment) {
                Sent::Ok => {
                    m.waiting = false;
                    m.behind_since = None;
                    true
                }
                Sent::Behind => {
                    m.waiting = true;
                    !stats.expired(&mut m.behind_since, now, timeout)
                }
                Sent::Gone => false,
            }
        });
        self.viewers.len() != before
    }

    /// The muxer stopped: every viewer's stream ends (a browser reconnects).
    pub fn end(&mut self) {
        self.viewers.clear();
        self.init = None;
    }
}
