//! Track recall of a gated detection mode (`interval`, `motion`) against `always` on the same
//! clip, from the two runs' JSON-lines metadata (one source each, tracking on).
//!
//! The reference is every track of the `always` run lasting at least `min_seconds` of stream
//! time. A reference track is *reported* by the other run when, on one of the frames the track
//! was seen, the other run has a box of the same label with IoU ≥ [`MATCH_IOU`] to it (carried
//! boxes on frames that were not inferred count: they are what the user is shown). Its
//! *first-report delay* is the stream time from the track's first frame to that frame.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

/// IoU at which a box of the gated run stands for a reference track's box on the same frame.
pub const MATCH_IOU: f32 = 0.5;

/// Shortest reference track, seconds of stream time (the issue's "tracks lasting ≥ 1 s").
pub const MIN_TRACK_SECONDS: f64 = 1.0;

/// How many of the reference tracks the gated run reported, and how late.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrackRecall {
    /// Reference tracks (`always`, ≥ `min_seconds`).
    pub tracks: usize,
    pub reported: usize,
    /// `reported / tracks` (1 when there is no reference track).
    pub recall: f64,
    /// Median first-report delay over the reported tracks, ms.
    pub first_report_delay_ms: f64,
    /// The largest first-report delay, ms.
    pub max_delay_ms: f64,
    /// Reference track ids the gated run never reported.
    pub missed: Vec<u64>,
}

#[derive(Deserialize)]
struct Line {
    frame: u64,
    timestamp: u64,
    #[serde(default)]
    objects: Vec<Object>,
}

#[derive(Deserialize)]
struct Object {
    #[serde(default)]
    id: Option<u64>,
    detection: Detection,
}

#[derive(Deserialize)]
struct Detection {
    bounding_box: BoundingBox,
    label: String,
}

#[derive(Deserialize)]
struct BoundingBox {
    x_min: f32,
    y_min: f32,
    x_max: f32,
    y_max: f32,
}

impl BoundingBox {
    fn corners(&self) -> [f32; 4] {
        [self.x_min, self.y_min, self.x_max, self.y_max]
    }
}

/// Where a reference track was seen: frame, timestamp (ns), label, `[x_min, y_min, x_max,
/// y_max]`.
type Sighting<'a> = (u64, u64, &'a str, [f32; 4]);

/// One frame's boxes: `(label, [x_min, y_min, x_max, y_max])`, and its timestamp (ns).
type Frames = BTreeMap<u64, (u64, Vec<(Object, [f32; 4])>)>;

fn read(path: &Path) -> Result<Frames> {
    let bad = |message: String| Error::Output {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut frames = Frames::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| bad(e.to_string()))?;
        let parsed: Line =
            serde_json::from_str(&line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
        let objects = parsed
            .objects
            .into_iter()
            .map(|o| {
                let corners = o.detection.bounding_box.corners();
                (o, corners)
            })
            .collect();
        frames.insert(parsed.frame, (parsed.timestamp, objects));
    }
    Ok(frames)
}

/// Compares `gated`'s metadata with the `always` run's (`reference`); see the module docs.
///
/// # Errors
/// [`Error::Output`] naming a file that cannot be read or has a malformed line.
pub fn track_recall(reference: &Path, gated: &Path, min_seconds: f64) -> Result<TrackRecall> {
    let reference = read(reference)?;
    let gated = read(gated)?;
    // Track id → its (frame, timestamp, label, box) in frame order.
    let mut tracks: HashMap<u64, Vec<Sighting<'_>>> = HashMap::new();
    for (&frame, (ts, objects)) in &reference {
        for (o, corners) in objects {
            if let Some(id) = o.id {
                let seen = (frame, *ts, o.detection.label.as_str(), *corners);
                tracks.entry(id).or_default().push(seen);
            }
        }
    }
    let min_ns = (min_seconds * 1e9) as u64;
    let mut ids: Vec<u64> = tracks
        .iter()
        .filter(|(_, seen)| seen[seen.len() - 1].1.saturating_sub(seen[0].1) >= min_ns)
        .map(|(&id, _)| id)
        .collect();
    ids.sort_unstable();
    let mut delays = Vec::new();
    let mut missed = Vec::new();
    for id in &ids {
        let seen = &tracks[id];
        let first_ts = seen[0].1;
        let report = seen.iter().find(|(frame, _, label, corners)| {
            gated.get(frame).is_some_and(|(_, objects)| {
                objects.iter().any(|(o, c)| {
                    o.detection.label == *label && crate::adapters::iou(c, corners) >= MATCH_IOU
                })
            })
        });
        match report {
            Some((_, ts, _, _)) => delays.push((ts - first_ts) as f64 / 1e6),
            None => missed.push(*id),
        }
    }
    delays.sort_by(f64::total_cmp);
    let median = if delays.is_empty() {
        0.0
    } else {
        delays[delays.len() / 2]
    };
    Ok(TrackRecall {
        tracks: ids.len(),
        reported: delays.len(),
        recall: if ids.is_empty() {
            1.0
        } else {
            delays.len() as f64 / ids.len() as f64
        },
        first_report_delay_ms: median,
        max_delay_ms: delays.last().copied().unwrap_or(0.0),
        missed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(frame: u64, objects: &[(u64, &str, f32)]) -> String {
        let objects: Vec<String> = objects
            .iter()
            .map(|(id, label, x)| {
                format!(
                    r#"{{"id":{id},"detection":{{"bounding_box":{{"x_min":{x},"y_min":0.1,"x_max":{},"y_max":0.5}},"label":"{label}"}}}}"#,
                    x + 0.1
                )
            })
            .collect();
        format!(
            r#"{{"frame":{frame},"timestamp":{},"objects":[{}]}}"#,
            frame * 100_000_000,
            objects.join(",")
        )
    }

    fn file(dir: &Path, name: &str, lines: &[String]) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        path
    }

    #[test]
    fn recall_counts_long_tracks_and_delay() {
        let dir = std::env::temp_dir().join(format!("ovstream-recall-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 10 fps: track 1 lasts 2 s, track 2 lasts 1.5 s, track 3 only 0.5 s (not counted).
        let reference: Vec<String> = (0..21)
            .map(|f| {
                let mut o = vec![(1, "person", 0.1)];
                if (5..=20).contains(&f) {
                    o.push((2, "person", 0.5));
                }
                if f < 5 {
                    o.push((3, "car", 0.8));
                }
                line(f, &o)
            })
            .collect();
        // The gated run sees track 1 from frame 3 (300 ms late), never track 2; a box of
        // another label where track 2 is does not count.
        let gated: Vec<String> = (0..21)
            .map(|f| {
                let mut o = Vec::new();
                if f >= 3 {
                    o.push((7, "person", 0.11));
                }
                o.push((8, "car", 0.5));
                line(f, &o)
            })
            .collect();
        let r = file(&dir, "always.jsonl", &reference);
        let g = file(&dir, "motion.jsonl", &gated);
        let recall = track_recall(&r, &g, MIN_TRACK_SECONDS).unwrap();
        assert_eq!((recall.tracks, recall.reported), (2, 1));
        assert_eq!(recall.missed, vec![2]);
        assert!((recall.recall - 0.5).abs() < 1e-9);
        assert!((recall.first_report_delay_ms - 300.0).abs() < 1e-6);
        // Against itself: everything, at once.
        let same = track_recall(&r, &r, MIN_TRACK_SECONDS).unwrap();
        assert_eq!((same.reported, same.first_report_delay_ms), (2, 0.0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
