//! Naming faces: embed, match the gallery, and vote per track; remember the unknown ones.
//!
//! A tracked face is identified on its first [`FIRST_MATCHES`] frames and then every
//! `reidentify_interval` frames;
//! its name is the vote over its last [`VOTE_WINDOW`] matches, each weighted by similarity and
//! face size (√(w·h) in pixels: big, sharp faces count more), so one bad frame does not flip a
//! name. Untracked faces (not yet confirmed by the tracker) are matched every frame, alone.
//! When the gallery changes (a [`GalleryCell`] swap: enrollment over the API) every track
//! votes again from its next frame. A track the gallery calls [`UNKNOWN`] gets an
//! `unknown_id` from the [`UnknownStore`] once it has had enough good frames (see
//! [`super::unknown`]).

use super::align::RgbFrame;
use super::embed::{Embedder, Embedding};
use super::gallery::{Gallery, GalleryCell};
use super::unknown::{UnknownStore, MIN_FACE_PX, MIN_GOOD_FRAMES};
use crate::error::Result;
use crate::frame::{AnalyzedFrame, Detection, Identity, UNKNOWN};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Matches a track's name is voted over.
pub const VOTE_WINDOW: usize = 8;
/// A new track is identified on this many consecutive frames before the interval applies, so
/// its first name already comes from a vote.
pub const FIRST_MATCHES: usize = 3;
/// A track not seen for this many frames is forgotten.
const FORGET_AFTER: u64 = 300;
/// Side (pixels) and margin (× the larger box side) of a remembered unknown's face crop.
pub const SAMPLE_SIDE: i32 = 160;
pub const SAMPLE_MARGIN: f32 = 2.0;

#[derive(Debug, Default)]
struct TrackVotes {
    /// (name, similarity, weight)
    recent: VecDeque<(Arc<str>, f32, f32)>,
    last_identified: Option<u64>,
    last_seen: u64,
    /// Matches made for this track so far.
    matches: usize,
    /// Embeddings of its good frames while it is unknown and has no `unknown_id` yet.
    good: Vec<Embedding>,
    unknown_id: Option<u64>,
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

    /// Forgets the votes (the gallery changed): the track is identified again from its next
    /// frame, as a new one is.
    fn revote(&mut self) {
        self.recent.clear();
        self.matches = 0;
        self.last_identified = None;
    }

    /// The name with the most weight, with its mean similarity (and the track's `unknown_id`
    /// when that name is [`UNKNOWN`]).
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
                unknown_id: self.unknown_id.filter(|_| &*name == UNKNOWN),
                name,
                similarity: sim / n as f32,
            })
    }
}

/// Embedding model, gallery and per-track votes of one source.
pub struct Recognizer {
    pub embedder: Embedder,
    /// The gallery, shared with whatever changes it (the API's face library).
    pub gallery: Arc<GalleryCell>,
    /// Remembered unknown people (`None`: `[recognize] remember_unknown = false`).
    pub unknowns: Option<Arc<UnknownStore>>,
    pub threshold: f32,
    pub reidentify_interval: u32,
    /// The gallery matched against now, and the cell's generation it was taken at.
    current: Arc<Gallery>,
    generation: u64,
    /// Votes per `(source_id, track id)`: track ids are per source.
    tracks: HashMap<(usize, u64), TrackVotes>,
}

impl Recognizer {
    pub fn new(
        embedder: Embedder,
        gallery: Arc<GalleryCell>,
        unknowns: Option<Arc<UnknownStore>>,
        threshold: f32,
        reidentify_interval: u32,
    ) -> Self {
        Recognizer {
            embedder,
            current: gallery.current(),
            generation: gallery.generation(),
            gallery,
            unknowns,
            threshold,
            reidentify_interval: reidentify_interval.max(1),
            tracks: HashMap::new(),
        }
    }

    /// Forgets the votes of source `source_id` (it left the pipeline).
    pub fn end_source(&mut self, source_id: usize) {
        self.tracks.retain(|(source, _), _| *source != source_id);
    }

    /// Takes a changed gallery: every track votes again.
    fn refresh(&mut self) {
        let generation = self.gallery.generation();
        if generation != self.generation {
            self.current = self.gallery.current();
            self.generation = generation;
            self.tracks.values_mut().for_each(TrackVotes::revote);
        }
    }

    /// Sets `identity` on every face of `frame` (seen by stream `camera`); embeds only the
    /// faces that are due.
    ///
    /// # Errors
    /// OpenCV or OpenVINO failures.
    pub fn identify(&mut self, frame: &mut AnalyzedFrame, camera: &str) -> Result<()> {
        self.refresh();
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
            for (&i, e) in due.iter().zip(embeddings) {
                let mut identity = self.current.identify(&e, self.threshold);
                let d = &mut frame.detections[i];
                let b = &d.bbox;
                let (bw, bh) = ((b.x_max - b.x_min) * w, (b.y_max - b.y_min) * h);
                match d.track_id {
                    Some(t) => {
                        let unknown = &*identity.name == UNKNOWN;
                        let votes = self.tracks.entry((source, t)).or_default();
                        votes.push(identity, identity_weight(d.confidence, (bw * bh).sqrt()));
                        votes.last_identified = Some(seq);
                        if let (true, Some(store)) = (unknown, &self.unknowns) {
                            let good = bw.min(bh) >= MIN_FACE_PX;
                            remember(store, votes, e, good, self.threshold, camera, || {
                                crop_jpeg(&rgb, d)
                            });
                        }
                    }
                    None => {
                        if &*identity.name == UNKNOWN {
                            identity.unknown_id = self
                                .unknowns
                                .as_ref()
                                .and_then(|s| s.best_match(&e, self.threshold))
                                .map(|(id, _)| id);
                        }
                        d.identity = Some(identity);
                    }
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

/// One unknown match of a track: a remembered person hears of it again; a track without an
/// `unknown_id` collects good frames and, with enough of them and still voted unknown, gets
/// one (joining a remembered person or a new one).
fn remember(
    store: &UnknownStore,
    votes: &mut TrackVotes,
    embedding: Embedding,
    good: bool,
    threshold: f32,
    camera: &str,
    crop: impl FnOnce() -> Option<Vec<u8>>,
) {
    if let Some(id) = votes.unknown_id {
        if store.seen(id, good.then_some(embedding.as_slice())) {
            return;
        }
        // Named or forgotten meanwhile: start again.
        votes.unknown_id = None;
        votes.good.clear();
    }
    if !good {
        return;
    }
    votes.good.push(embedding);
    let still_unknown = votes.winner().is_some_and(|w| &*w.name == UNKNOWN);
    if votes.good.len() >= MIN_GOOD_FRAMES && still_unknown {
        votes.unknown_id = Some(store.assign(&votes.good, threshold, camera, crop));
        votes.good.clear();
    }
}

/// The JPEG of a remembered unknown's face crop (`None`, logged, when encoding fails).
fn crop_jpeg(rgb: &RgbFrame, face: &Detection) -> Option<Vec<u8>> {
    let jpeg = rgb
        .crop(face, SAMPLE_SIDE, SAMPLE_MARGIN)
        .and_then(|m| super::thumb::jpeg(&m));
    jpeg.map_err(|e| tracing::warn!("unknown face crop not kept: {e}"))
        .ok()
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
            unknown_id: None,
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
