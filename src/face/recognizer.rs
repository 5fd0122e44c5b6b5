//! Naming faces: embed, match the gallery, and vote per track.
//!
//! A tracked face is identified on its first [`FIRST_MATCHES`] frames and then every
//! `reidentify_interval` frames;
//! its name is the vote over its last [`VOTE_WINDOW`] matches, each weighted by similarity and
//! face size (√(w·h) in pixels: big, sharp faces count more), so one bad frame does not flip a
//! name. Untracked faces (not yet confirmed by the tracker) are matched every frame, alone.

use super::align::RgbFrame;
use super::embed::Embedder;
use super::gallery::Gallery;
use crate::error::Result;
use crate::frame::{AnalyzedFrame, Identity};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Matches a track's name is voted over.
pub const VOTE_WINDOW: usize = 8;
/// A new track is identified on this many consecutive frames before the interval applies, so
/// its first name already comes from a vote.
pub const FIRST_MATCHES: usize = 3;
/// A track not seen for this many frames is forgotten.
const FORGET_AFTER: u64 = 300;

#[derive(Debug, Default)]
struct TrackVotes {
    /// (name, similarity, weight)
    recent: VecDeque<(Arc<str>, f32, f32)>,
    last_identified: Option<u64>,
    last_seen: u64,
    /// Matches made for this track so far.
    matches: usize,
}

impl TrackVotes {
    fn push(&mut self, identity: Identity, weight: f32) {
        if self.recent.len() == VOTE_WINDOW {
            self.recent.pop_front();
        }
        self.recent
            .push_back((identity.name, identity.similarity, weight));
        self.matches += 1;
    }

    /// Whether frame `seq` should embed this track's face again.
    fn due(&self, seq: u64, interval: u32) -> bool {
        self.matches < FIRST_MATCHES
            || self
                .last_identified
                .is_none_or(|last| seq >= last + u64::from(interval))
    }

    /// The name with the most weight, with its mean similarity.
    fn winner(&self) -> Option<Identity> {
        let mut totals: Vec<(Arc<str>, f32, f32, u32)> = Vec::new();
        for (name, sim, w) in &self.recent {
            match totals.iter_mut().find(|t| &t.0 == name) {
                Some(t) => {
                    t.1 += w;
                    t.2 += sim;
                    t.3 += 1;
                }
                None => totals.push((Arc::clone(name), *w, *sim, 1)),
            }
        }
        totals
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(name, _, sim, n)| Identity {
                name,
                similarity: sim / n as f32,
            })
    }
}

/// Embedding model, gallery and per-track votes of one source.
pub struct Recognizer {
    pub embedder: Embedder,
    pub gallery: Gallery,
    pub threshold: f32,
    pub reidentify_interval: u32,
    /// Votes per `(source_id, track id)`: track ids are per source.
    tracks: HashMap<(usize, u64), TrackVotes>,
}

impl Recognizer {
    pub fn new(
        embedder: Embedder,
        gallery: Gallery,
        threshold: f32,
        reidentify_interval: u32,
    ) -> Self {
        Recognizer {
            embedder,
            gallery,
            threshold,
            reidentify_interval: reidentify_interval.max(1),
            tracks: HashMap::new(),
        }
    }

    /// Forgets the votes of source `source_id` (it left the pipeline).
    pub fn end_source(&mut self, source_id: usize) {
        self.tracks.retain(|(source, _), _| *source != source_id);
    }

    /// Sets `identity` on every face of `frame`; embeds only the faces that are due.
    ///
    /// # Errors
    /// OpenCV or OpenVINO failures.
    pub fn identify(&mut self, frame: &mut AnalyzedFrame) -> Result<()> {
        let (seq, source) = (frame.frame.seq, frame.frame.source_id);
        let (w, h) = (
            frame.frame.info.width() as f32,
            frame.frame.info.height() as f32,
        );
        let due: Vec<usize> = frame
            .detections
            .iter()
            .enumerate()
            .filter(
                |(_, d)| match d.track_id.and_then(|t| self.tracks.get(&(source, t))) {
                    Some(v) => v.due(seq, self.reidentify_interval),
                    None => true,
                },
            )
            .map(|(i, _)| i)
            .collect();
        if !due.is_empty() {
            let rgb = RgbFrame::from_frame(&frame.frame)?;
            let faces: Vec<_> = due.iter().map(|&i| &frame.detections[i]).collect();
            let embeddings = self.embedder.embed(&rgb, &faces)?;
            for (&i, e) in due.iter().zip(&embeddings) {
                let identity = self.gallery.identify(e, self.threshold);
                let d = &mut frame.detections[i];
                match d.track_id {
                    Some(t) => {
                        let b = &d.bbox;
                        let size = ((b.x_max - b.x_min) * w * (b.y_max - b.y_min) * h).sqrt();
                        let votes = self.tracks.entry((source, t)).or_default();
                        votes.push(identity, identity_weight(d.confidence, size));
                        votes.last_identified = Some(seq);
                    }
                    None => d.identity = Some(identity),
                }
            }
        }
        for d in &mut frame.detections {
            if let Some(v) = d.track_id.and_then(|t| self.tracks.get_mut(&(source, t))) {
                v.last_seen = seq;
                d.identity = v.winner();
            }
        }
        self.tracks
            .retain(|&(s, _), v| s != source || seq.saturating_sub(v.last_seen) < FORGET_AFTER);
        Ok(())
    }
}

/// Weight of one match in a track's vote: detection confidence × face size in pixels.
fn identity_weight(confidence: f32, size: f32) -> f32 {
    confidence.max(0.0) * size.max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, similarity: f32) -> Identity {
        Identity {
            name: Arc::from(name),
            similarity,
        }
    }

    #[test]
    fn one_bad_frame_does_not_flip_a_name() {
        let mut v = TrackVotes::default();
        for _ in 0..4 {
            v.push(id("obama", 0.7), 50.0);
        }
        v.push(id("biden", 0.55), 80.0);
        let w = v.winner().unwrap();
        assert_eq!(&*w.name, "obama");
        assert!((w.similarity - 0.7).abs() < 1e-6);
        // The window forgets: enough later matches change the name.
        for _ in 0..VOTE_WINDOW {
            v.push(id("biden", 0.6), 50.0);
        }
        assert_eq!(&*v.winner().unwrap().name, "biden");
    }
}
