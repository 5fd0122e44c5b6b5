//! What moves between stages: decoded frames and the detections attached to them.

pub mod analytics;

use gstreamer as gst;
use gstreamer_video as gst_video;
use std::sync::Arc;
use std::time::Instant;

/// One decoded frame. The pixels stay in the ref-counted `gst::Buffer` from decode to sink.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Index of the source in the pipeline (0 for a single input).
    pub source_id: usize,
    /// Frame number from 0, increasing across loops.
    pub seq: u64,
    /// Presentation time in ns, increasing across loops (buffer PTS + loop offset).
    pub pts: u64,
    /// The buffer's own PTS in ns, as its source pipeline stamped it (restarts with each
    /// loop and connection): where the frame sits in the source's encoded stream.
    pub raw_pts: u64,
    /// The source's segment it was decoded in ([`crate::source::tap`]; 0 without a tap).
    pub segment: u32,
    /// Its time on the system clock (ns since boot: the source pipeline's base time plus the
    /// buffer's running time), which every source pipeline shares: where it sits in a record
    /// input's stream ([`crate::source::record_input`]). `None` outside a source pipeline.
    pub clock_time: Option<u64>,
    /// The pixels: planar I420 (`info` gives size, plane offsets and strides).
    pub buffer: gst::Buffer,
    pub info: gst_video::VideoInfo,
    /// When the frame left the decoder (appsink); end-to-end latency is measured from here.
    pub arrival: Instant,
    /// The detector ran on it; `false` between detections (`[detect] interval`): its
    /// detections are its source's last inferred frame's.
    pub inferred: bool,
    /// Motion boxes (normalized) from the motion detector in `[detect] mode = "motion"`;
    /// `None` where no motion detector looked at the frame (other modes, interval-skipped).
    pub motion: Option<Vec<BBox>>,
}

impl Frame {
    /// A frame of `buffer` (pixels as `info` describes them) from source `source_id`, number
    /// `seq`, at the buffer's PTS (0 when it has none), arriving now.
    pub fn from_buffer(
        buffer: gst::Buffer,
        info: gst_video::VideoInfo,
        source_id: usize,
        seq: u64,
    ) -> Frame {
        let pts = buffer.pts().map_or(0, |p| p.nseconds());
        Frame {
            source_id,
            seq,
            pts,
            raw_pts: pts,
            segment: 0,
            clock_time: None,
            buffer,
            info,
            arrival: Instant::now(),
            inferred: true,
            motion: None,
        }
    }
    /// A zeroed 16x16 I420 frame number `seq` of source 0 at stream time `pts` (ns), for tests.
    #[cfg(test)]
    pub(crate) fn blank(seq: u64, pts: u64) -> Frame {
        gst::init().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 16, 16)
            .build()
            .unwrap();
        let mut f = Frame::from_buffer(gst::Buffer::with_size(info.size()).unwrap(), info, 0, seq);
        f.pts = pts;
        f
    }

    /// A 64x48 I420 frame of one colour `yuv` whose caps say `colorimetry` (`bt709`,
    /// `1:4:0:0`, …), for tests.
    #[cfg(test)]
    pub(crate) fn solid(yuv: (u8, u8, u8), colorimetry: &str) -> Frame {
        gst::init().unwrap();
        let c: gst_video::VideoColorimetry = colorimetry.parse().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 64, 48)
            .colorimetry(&c)
            .build()
            .unwrap();
        let mut data = vec![0u8; info.size()];
        let ends = [info.offset()[1], info.offset()[2], info.size()];
        for (plane, v) in [yuv.0, yuv.1, yuv.2].into_iter().enumerate() {
            data[info.offset()[plane]..ends[plane]].fill(v);
        }
        Frame::from_buffer(gst::Buffer::from_slice(data), info, 0, 0)
    }
}

/// Normalized box in `[0, 1]` image coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BBox {
    pub x_min: f32,
    pub y_min: f32,
    pub x_max: f32,
    pub y_max: f32,
}

impl BBox {
    /// Clamps every coordinate into `[0, 1]`.
    pub fn clamped(self) -> BBox {
        BBox {
            x_min: self.x_min.clamp(0.0, 1.0),
            y_min: self.y_min.clamp(0.0, 1.0),
            x_max: self.x_max.clamp(0.0, 1.0),
            y_max: self.y_max.clamp(0.0, 1.0),
        }
    }

    /// Pixel rectangle `(x, y, w, h)` in a `width` x `height` frame, rounded.
    pub fn to_pixels(&self, width: u32, height: u32) -> (i32, i32, i32, i32) {
        let x = (self.x_min * width as f32).round() as i32;
        let y = (self.y_min * height as f32).round() as i32;
        let x2 = (self.x_max * width as f32).round() as i32;
        let y2 = (self.y_max * height as f32).round() as i32;
        (x, y, x2 - x, y2 - y)
    }
}

/// One detected object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detection {
    /// Model class id (1-based for SSD; 0 is background).
    pub label_id: u32,
    /// Class name from the labels list (`"<id>"` when the list has none).
    pub label: Arc<str>,
    pub confidence: f32,
    pub bbox: BBox,
    /// Landmarks `(x, y)` normalized to the frame (faces: BlazeFace's 6 keypoints).
    pub keypoints: Vec<[f32; 2]>,
    /// Tracker id, stable while the object stays in view.
    pub track_id: Option<u64>,
    /// Who this face is (face recognition only).
    pub identity: Option<Identity>,
    /// Zones the object is in (zone analytics; empty without).
    pub zones: Vec<Arc<str>>,
    /// Second-stage classifier results ([`crate::classify`]), smoothed over the track.
    pub attributes: Vec<Attribute>,
}

/// One attribute of an object (or a frame) from a second-stage classifier: `gender`, `age`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// `[[classify.outputs]] name`.
    pub name: Arc<str>,
    pub value: AttributeValue,
    /// Frames since the object was last classified (0: this frame), as gvaclassify reports.
    pub frames_ago: u64,
}

/// What an attribute says, by its output's `kind`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum AttributeValue {
    /// The most probable class and its probability in `[0, 1]` (0-based `label_id`).
    Label {
        label: Arc<str>,
        label_id: u32,
        confidence: f32,
    },
    /// An expectation over the class values (the age in years).
    Value { value: f32 },
    /// Every class at or above its threshold, with its probability.
    Multi {
        labels: Vec<Arc<str>>,
        confidences: Vec<f32>,
    },
}

impl AttributeValue {
    /// Short text for overlays and logs: `male`, `52`, `hat, glasses`.
    pub fn text(&self) -> String {
        match self {
            AttributeValue::Label { label, .. } => label.to_string(),
            AttributeValue::Value { value } => format!("{value:.0}"),
            AttributeValue::Multi { labels, .. } => labels.join(", "),
        }
    }
}

/// Attributes as a JSON object keyed by name:
/// `{"gender": {"label": "male", "label_id": 1, "confidence": 0.97, "frames_ago": 0},
///   "age": {"value": 51.8, "frames_ago": 0}}`.
#[derive(Debug, Clone, Copy)]
pub struct AttributesJson<'a>(pub &'a [Attribute]);

impl serde::Serialize for AttributesJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(serde::Serialize)]
        struct One<'a> {
            #[serde(flatten)]
            value: &'a AttributeValue,
            frames_ago: u64,
        }
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for a in self.0 {
            map.serialize_entry(
                &*a.name,
                &One {
                    value: &a.value,
                    frames_ago: a.frames_ago,
                },
            )?;
        }
        map.end()
    }
}

/// A face matched against the gallery.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Gallery name, or [`UNKNOWN`] below the similarity threshold.
    pub name: Arc<str>,
    /// Cosine similarity to the best gallery embedding, in `[-1, 1]`.
    pub similarity: f32,
    /// The remembered unknown person this face is ([`crate::face::unknown`]); only with
    /// `name` [`UNKNOWN`], once its track has had enough good frames.
    pub unknown_id: Option<u64>,
}

/// Name of a face that matches nobody in the gallery.
pub const UNKNOWN: &str = "unknown";

/// A frame with its inference results.
#[derive(Debug, Clone)]
pub struct AnalyzedFrame {
    pub frame: Frame,
    pub detections: Vec<Detection>,
    /// Zone and line results (the analytics stage; `None` for a source without analytics).
    pub analytics: Option<Arc<analytics::FrameAnalytics>>,
    /// Types of the `[[alerts]]` that fired on this frame (`fall`; the events stage).
    pub alerts: Vec<Arc<str>>,
    /// Whole-frame classifier results (`[[classify]] region = "full-frame"`).
    pub attributes: Vec<Attribute>,
    /// The overlay is drawn on its pixels ([`crate::overlay::draw`]).
    pub drawn: bool,
}

impl AnalyzedFrame {
    /// `frame` with `detections` and nothing else yet (no analytics, alerts or attributes).
    pub fn new(frame: Frame, detections: Vec<Detection>) -> Self {
        AnalyzedFrame {
            frame,
            detections,
            analytics: None,
            alerts: Vec::new(),
            drawn: false,
            attributes: Vec::new(),
        }
    }
}
