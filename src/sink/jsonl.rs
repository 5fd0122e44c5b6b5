//! JSON-lines metadata sink, one line per frame, modeled on DL Streamer's `gvametaconvert`:
//!
//! ```json
//! {"frame":0,"timestamp":0,"source":"file:///…/vtest.avi","resolution":{"width":768,"height":576},
//!  "objects":[{"x":500,"y":160,"w":29,"h":72,"roi_type":"person",
//!   "detection":{"bounding_box":{"x_min":0.65,"y_min":0.28,"x_max":0.69,"y_max":0.40},
//!                "confidence":0.97,"label":"person","label_id":1}}]}
//! ```
//! `x, y, w, h` are pixels; `bounding_box` is normalized to `[0, 1]`; `timestamp` is the PTS in ns.
//! Faces add `"keypoints": [[x, y], …]` (normalized; BlazeFace order: right eye, left eye, nose,
//! mouth, right ear, left ear), tracked objects `"id"`, recognized faces
//! `"identity": {"name": "obama", "similarity": 0.71}` (`"unknown"` below the threshold), and
//! `"unknown_id": 7` for an unknown face that is a remembered person.
//! Second-stage classifiers (`[[classify]]`) add `"attributes": {"gender": {"label": "male",
//! "label_id": 1, "confidence": 0.97, "frames_ago": 0}, "age": {"value": 51.8, "frames_ago": 0}}`
//! to the objects they ran on (the frame's own for `region = "full-frame"`).
//! With zone/line analytics each object has `"zones": ["loading_bay"]` and the frame
//! `"analytics": {"zones": {"loading_bay": {"person": 2}}, "lines": {"door": {"in": 14, "out": 9}}}`
//! (objects inside each zone now, per label; crossings of each line so far).
//! Frames between detections have `"inferred": false`; in `[detect] mode = "motion"` each frame
//! the motion detector looked at has `"motion": [{"x_min": …, "y_min": …, "x_max": …,
//! "y_max": …}, …]` (normalized; empty when nothing moved).

use crate::error::{Error, Result};
use crate::frame::analytics::FrameAnalytics;
use crate::frame::{AnalyzedFrame, AttributesJson, BBox, Detection};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Serialize)]
struct FrameRecord<'a> {
    frame: u64,
    timestamp: u64,
    source: &'a str,
    resolution: Resolution,
    objects: Vec<ObjectRecord<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    analytics: Option<&'a FrameAnalytics>,
    /// `false` on frames between detections (`[detect] interval`); absent when inferred.
    #[serde(skip_serializing_if = "is_true")]
    inferred: bool,
    /// Motion boxes (normalized), on frames the motion detector looked at (`mode = "motion"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    motion: Option<Vec<BoxRecord>>,
    /// Whole-frame classifier results (`[[classify]] region = "full-frame"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<AttributesJson<'a>>,
}

fn is_true(v: &bool) -> bool {
    *v
}

#[derive(Serialize)]
struct Resolution {
    width: u32,
    height: u32,
}

#[derive(Serialize)]
struct ObjectRecord<'a> {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
    roi_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    detection: DetectionRecord<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    keypoints: &'a [[f32; 2]],
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<IdentityRecord<'a>>,
    /// The remembered unknown person this face is (face recognition).
    #[serde(skip_serializing_if = "Option::is_none")]
    unknown_id: Option<u64>,
    /// Zones the object is in; present when the frame has analytics.
    #[serde(skip_serializing_if = "Option::is_none")]
    zones: Option<&'a [std::sync::Arc<str>]>,
    /// Second-stage classifier results (`[[classify]]`), keyed by attribute name.
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<AttributesJson<'a>>,
}

#[derive(Serialize)]
struct IdentityRecord<'a> {
    name: &'a str,
    similarity: f32,
}

#[derive(Serialize)]
struct DetectionRecord<'a> {
    bounding_box: BoxRecord,
    confidence: f32,
    label: &'a str,
    label_id: u32,
}

#[derive(Serialize)]
struct BoxRecord {
    x_min: f32,
    y_min: f32,
    x_max: f32,
    y_max: f32,
}

impl From<&BBox> for BoxRecord {
    fn from(b: &BBox) -> Self {
        BoxRecord {
            x_min: b.x_min,
            y_min: b.y_min,
            x_max: b.x_max,
            y_max: b.y_max,
        }
    }
}

fn motion_records(motion: Option<&Vec<BBox>>) -> Option<Vec<BoxRecord>> {
    motion.map(|boxes| boxes.iter().map(BoxRecord::from).collect())
}

/// A [`JsonlSink`] that several sources' [`crate::sink::Sinks`] write to.
pub type SharedJsonl = std::sync::Arc<parking_lot::Mutex<JsonlSink>>;

/// Longest a written line waits in the buffer before it reaches the file: a process killed
/// without a chance to finish loses at most this much of a busy file.
pub const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes one JSON object per frame to a file or stdout (`-`).
pub struct JsonlSink {
    target: String,
    out: Box<dyn Write + Send>,
    /// Flush after every line (stdout, whose consumers read it live; events files, whose
    /// lines are few and each matters).
    line_flush: bool,
    /// When the buffer last went to the file.
    flushed: std::time::Instant,
}

impl JsonlSink {
    /// Opens `target` (a path, or `-` for stdout), creating parent folders; truncates it.
    ///
    /// # Errors
    /// [`Error::Output`] naming the path when it cannot be created.
    pub fn create(target: &str) -> Result<Self> {
        Self::open(target, false)
    }

    /// [`Self::create`], or with `append` adds to the end of an existing file.
    ///
    /// # Errors
    /// [`Error::Output`] naming the path when it cannot be opened.
    pub fn open(target: &str, append: bool) -> Result<Self> {
        if target == "-" {
            return Ok(JsonlSink {
                target: target.into(),
                out: Box::new(std::io::stdout()),
                line_flush: true,
                flushed: std::time::Instant::now(),
            });
        }
        let path = PathBuf::from(target);
        let err = |e: std::io::Error| Error::Output {
            path: path.clone(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let file = if append {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
        } else {
            File::create(&path)
        }
        .map_err(err)?;
        Ok(JsonlSink {
            target: target.into(),
            out: Box::new(BufWriter::new(file)),
            line_flush: false,
            flushed: std::time::Instant::now(),
        })
    }

    /// Flushes after every line from now on (events files).
    pub fn flushing_each_line(mut self) -> Self {
        self.line_flush = true;
        self
    }

    /// This sink behind a lock, for several sources writing one file.
    pub fn shared(self) -> SharedJsonl {
        std::sync::Arc::new(parking_lot::Mutex::new(self))
    }

    /// Writes the line for one frame.
    pub fn write(&mut self, frame: &AnalyzedFrame, source: &str) -> Result<()> {
        let f = &frame.frame;
        let (width, height) = (f.info.width(), f.info.height());
        let analytics = frame.analytics.as_deref();
        let mut record = record(
            f.seq,
            f.pts,
            (width, height),
            &frame.detections,
            analytics,
            source,
        );
        record.inferred = f.inferred;
        record.motion = motion_records(f.motion.as_ref());
        record.attributes =
            (!frame.attributes.is_empty()).then(|| AttributesJson(&frame.attributes));
        self.write_value(&record)
    }

    /// Writes the line for frame number `seq` at `pts` (ns) of `size` (width, height) pixels,
    /// with the frame's `analytics` counts when it has some.
    pub fn write_record(
        &mut self,
        seq: u64,
        pts: u64,
        size: (u32, u32),
        detections: &[Detection],
        analytics: Option<&FrameAnalytics>,
        source: &str,
    ) -> Result<()> {
        let record = record(seq, pts, size, detections, analytics, source);
        self.write_value(&record)
    }

    /// Writes `value` as one JSON line.
    ///
    /// # Errors
    /// [`Error::Output`] naming the file.
    pub fn write_value<T: serde::Serialize>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| {
                if self.line_flush || self.flushed.elapsed() >= FLUSH_INTERVAL {
                    self.flushed = std::time::Instant::now();
                    self.out.flush()
                } else {
                    Ok(())
                }
            })
            .map_err(|e| self.error(e))
    }

    /// Flushes everything written.
    pub fn finish(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| self.error(e))
    }

    fn error(&self, e: std::io::Error) -> Error {
        Error::Output {
            path: PathBuf::from(&self.target),
            message: e.to_string(),
        }
    }
}

/// The JSON-lines output of a source (a file of its own, or shared with the other sources).
impl crate::sink::Output for SharedJsonl {
    fn describe(&self) -> String {
        format!("metadata {}", self.lock().target)
    }

    fn write(&mut self, frame: &mut AnalyzedFrame, source: &str) -> Result<()> {
        self.lock().write(frame, source)
    }

    fn finish(&mut self) -> Result<()> {
        self.lock().finish()
    }
}

/// The JSON record of `frame` (one line of `--metadata`), as bytes.
pub fn frame_json(frame: &AnalyzedFrame, source: &str) -> Vec<u8> {
    let f = &frame.frame;
    let size = (f.info.width(), f.info.height());
    let analytics = frame.analytics.as_deref();
    let mut record = record(f.seq, f.pts, size, &frame.detections, analytics, source);
    record.inferred = f.inferred;
    record.motion = motion_records(f.motion.as_ref());
    record.attributes = (!frame.attributes.is_empty()).then(|| AttributesJson(&frame.attributes));
    serde_json::to_vec(&record).expect("a frame record serializes")
}

/// The JSON record of frame `seq` (as [`JsonlSink::write_record`] writes it), as bytes.
pub fn frame_record_json(
    seq: u64,
    pts: u64,
    size: (u32, u32),
    detections: &[Detection],
    analytics: Option<&FrameAnalytics>,
    source: &str,
) -> Vec<u8> {
    serde_json::to_vec(&record(seq, pts, size, detections, analytics, source))
        .expect("a frame record serializes")
}

fn record<'a>(
    seq: u64,
    pts: u64,
    (width, height): (u32, u32),
    detections: &'a [Detection],
    analytics: Option<&'a FrameAnalytics>,
    source: &'a str,
) -> FrameRecord<'a> {
    FrameRecord {
        frame: seq,
        timestamp: pts,
        source,
        resolution: Resolution { width, height },
        inferred: true,
        motion: None,
        attributes: None,
        objects: detections
            .iter()
            .map(|d| {
                let (x, y, w, h) = d.bbox.to_pixels(width, height);
                ObjectRecord {
                    x,
                    y,
                    w,
                    h,
                    roi_type: &d.label,
                    id: d.track_id,
                    keypoints: &d.keypoints,
                    zones: analytics.map(|_| d.zones.as_slice()),
                    unknown_id: d.identity.as_ref().and_then(|i| i.unknown_id),
                    attributes: (!d.attributes.is_empty()).then(|| AttributesJson(&d.attributes)),
                    identity: d.identity.as_ref().map(|i| IdentityRecord {
                        name: &i.name,
                        similarity: i.similarity,
                    }),
                    detection: DetectionRecord {
                        bounding_box: BoxRecord::from(&d.bbox),
                        confidence: d.confidence,
                        label: &d.label,
                        label_id: d.label_id,
                    },
                }
            })
            .collect(),
        analytics,
    }
}
