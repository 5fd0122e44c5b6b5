//! Event thumbnails (`GET /api/events/{event_id}/thumbnail.jpg`): the object's crop, cut from
//! the frame its event was made on — Frigate's event thumbnail. A track keeps its best crop
//! (highest score so far), so its `update`, `end`, zone, line and alert events show the
//! object at its clearest even after it left the picture; an event without an object
//! (`crowding`) gets the whole frame. Crops are kept as small RGB images (longest side
//! [`MAX_SIDE`] px) in a store bounded by bytes, oldest out first, and encoded as JPEG only when
//! asked for.

use crate::error::{Error, Result};
use crate::face::align::RgbFrame;
use crate::frame::AnalyzedFrame;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Longest side of a thumbnail, px.
pub const MAX_SIDE: f64 = 160.0;
/// Largest upscale of a small object's crop.
const MAX_UPSCALE: f64 = 2.0;
/// Margin around the box: the crop is this many times the box's size.
const MARGIN: f64 = 1.2;
/// Bytes of RGB kept across every event's thumbnail (32 MiB: ≥ 400 full-size crops).
pub const MAX_BYTES: usize = 32 << 20;

/// An RGB u8 image, `width` a multiple of 4 (what the JPEG encoder takes).
pub struct Thumb {
    height: i32,
    rgb: Vec<u8>,
}

impl Thumb {
    /// The crop of `bbox` (`[x_min, y_min, x_max, y_max]`, normalized) with a margin, or the
    /// whole frame for `None`, scaled so its longest side is [`MAX_SIDE`] (at most 2× up).
    ///
    /// # Errors
    /// [`Error::OpenCv`] on an OpenCV failure.
    pub fn cut(frame: &RgbFrame, bbox: Option<[f32; 4]>) -> Result<Thumb> {
        let (w, h) = frame.size();
        let (w, h) = (f64::from(w), f64::from(h));
        let [x0, y0, x1, y1] = bbox.map_or([0.0, 0.0, 1.0, 1.0], |b| b.map(f64::from));
        let margin = if bbox.is_some() { MARGIN } else { 1.0 };
        let (rw, rh) = (
            ((x1 - x0) * w * margin).max(8.0),
            ((y1 - y0) * h * margin).max(8.0),
        );
        let scale = (MAX_SIDE / rw.max(rh)).min(MAX_UPSCALE);
        let width = (((rw * scale) / 4.0).round() as i32).max(1) * 4;
        let height = ((rh * scale).round() as i32).max(2);
        let (cx, cy) = ((x0 + x1) / 2.0 * w, (y0 + y1) / 2.0 * h);
        let m = [
            [scale, 0.0, f64::from(width) / 2.0 - scale * cx],
            [0.0, scale, f64::from(height) / 2.0 - scale * cy],
        ];
        let mat = frame.warp(m, width, height)?;
        use opencv::prelude::*;
        let rgb = mat
            .data_bytes()
            .map_err(|e| Error::opencv("event thumbnail", e))?
            .to_vec();
        Ok(Thumb { height, rgb })
    }

    /// The image as JPEG (a few ms: call it off the async workers).
    ///
    /// # Errors
    /// [`Error::OpenCv`] or [`Error::Gst`] when it cannot be encoded.
    pub fn jpeg(&self) -> Result<Vec<u8>> {
        use opencv::prelude::*;
        let flat = opencv::core::Mat::from_slice(&self.rgb)
            .map_err(|e| Error::opencv("event thumbnail", e))?;
        let mat = flat
            .reshape(3, self.height)
            .and_then(|m| m.try_clone())
            .map_err(|e| Error::opencv("event thumbnail", e))?;
        crate::face::thumb::jpeg(&mat)
    }
}

/// Thumbnails by event id, bounded by [`MAX_BYTES`] (a crop shared by several events of one
/// track counts once per event: the bound errs on the small side).
#[derive(Default)]
pub struct Thumbnails {
    inner: parking_lot::Mutex<Store>,
}

#[derive(Default)]
struct Store {
    by_event: HashMap<String, Arc<Thumb>>,
    order: VecDeque<(String, usize)>,
    bytes: usize,
}

impl Thumbnails {
    /// Keeps `thumb` as event `event_id`'s (the oldest go past [`MAX_BYTES`]).
    pub fn insert(&self, event_id: &str, thumb: Arc<Thumb>) {
        let size = thumb.rgb.len();
        let mut s = self.inner.lock();
        if s.by_event.insert(event_id.to_string(), thumb).is_some() {
            return;
        }
        s.order.push_back((event_id.to_string(), size));
        s.bytes += size;
        while s.bytes > MAX_BYTES {
            let Some((old, n)) = s.order.pop_front() else {
                break;
            };
            s.by_event.remove(&old);
            s.bytes -= n;
        }
    }

    /// Event `event_id`'s thumbnail, while it is kept.
    pub fn get(&self, event_id: &str) -> Option<Arc<Thumb>> {
        self.inner.lock().by_event.get(event_id).cloned()
    }

    /// Whether event `event_id` has one.
    pub fn contains(&self, event_id: &str) -> bool {
        self.inner.lock().by_event.contains_key(event_id)
    }
}

/// One source's side: the best crop of each live track.
#[derive(Default)]
pub struct TrackThumbs {
    best: HashMap<u64, (f32, Arc<Thumb>)>,
}

/// What one event needs: its id, its track (if any), the track's score now and box on this
/// frame (if it is on it), and whether the track ends with it.
pub struct Wanted<'a> {
    pub event_id: &'a str,
    pub track: Option<u64>,
    pub score: f32,
    pub bbox: Option<[f32; 4]>,
    pub ends: bool,
}

impl TrackThumbs {
    /// Stores a thumbnail for each of `events` in `store`: the track's best crop (cut anew
    /// when this frame shows the object at a higher score), or the whole frame for an event
    /// without a track. The frame is converted to RGB once, only when something is cut.
    ///
    /// # Errors
    /// [`Error::Gst`], [`Error::Layout`] or [`Error::OpenCv`] when the frame cannot be read.
    pub fn capture<'a>(
        &mut self,
        store: &Thumbnails,
        frame: &AnalyzedFrame,
        events: impl IntoIterator<Item = Wanted<'a>>,
    ) -> Result<()> {
        let mut rgb: Option<RgbFrame> = None;
        let mut cut = |bbox: Option<[f32; 4]>| -> Result<Arc<Thumb>> {
            if rgb.is_none() {
                rgb = Some(RgbFrame::from_frame(&frame.frame)?);
            }
            Ok(Arc::new(Thumb::cut(
                rgb.as_ref().expect("converted"),
                bbox,
            )?))
        };
        for e in events {
            let thumb = match e.track {
                Some(id) => {
                    let better = self.best.get(&id).is_none_or(|(s, _)| e.score > *s);
                    if let Some(bbox) = e.bbox.filter(|_| better) {
                        self.best.insert(id, (e.score, cut(Some(bbox))?));
                    }
                    let best = self.best.get(&id).map(|(_, t)| Arc::clone(t));
                    if e.ends {
                        self.best.remove(&id);
                    }
                    best
                }
                None => Some(cut(None)?),
            };
            if let Some(t) = thumb {
                store.insert(e.event_id, t);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thumb(bytes: usize) -> Arc<Thumb> {
        Arc::new(Thumb {
            height: 1,
            rgb: vec![0; bytes],
        })
    }

    #[test]
    fn the_store_drops_the_oldest_past_its_bound() {
        let store = Thumbnails::default();
        let big = MAX_BYTES / 4;
        for i in 0..6 {
            store.insert(&format!("e{i}"), thumb(big));
        }
        assert!(!store.contains("e0") && !store.contains("e1"));
        assert!((2..6).all(|i| store.contains(&format!("e{i}"))));
        // The same id again replaces, and counts once.
        store.insert("e5", thumb(big));
        assert!(store.contains("e2"));
    }
}
