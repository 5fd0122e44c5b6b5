//! Detections ↔ `GstVideoRegionOfInterestMeta` (DL Streamer's convention): `roi_type` is the
//! label, the rect is in pixels, and a `detection` param structure carries `label_id` (int),
//! `confidence` (double) and `x_min`, `y_min`, `x_max`, `y_max` (double, normalized `[0, 1]`);
//! trackers add `object_id` (int) to it, face detectors `keypoints` (array of doubles,
//! normalized `x0, y0, x1, y1, …`), recognizers an `identity` structure (`name`, `similarity`),
//! `ovclassify` one structure per attribute (see [`ATTRIBUTE_FIELD`]),
//! `ovanalytics` the zones the object is in (`zones`, array of strings) and, per buffer, a
//! custom meta [`ANALYTICS_META`] with the frame's zones, lines, counts and events.

use crate::frame::analytics::FrameAnalytics;
use crate::frame::{Attribute, AttributeValue, BBox, Detection, Identity};
use gstreamer as gst;
use gstreamer_video::VideoRegionOfInterestMeta;
use std::sync::Arc;

/// Name of the param structure with the detection.
pub const DETECTION: &str = "detection";
/// Marks an attribute's param structure (`ovclassify`): a boolean field `attribute = true`
/// beside `label`/`label_id`/`confidence`, `value`, or `labels`/`confidences`, and
/// `frames_ago`. The structure's name is the attribute's (`gender`, `age`), as DL Streamer's
/// gvaclassify names its params after the model's output.
pub const ATTRIBUTE_FIELD: &str = "attribute";
/// Name of the param structure with the identity.
pub const IDENTITY: &str = "identity";

/// Attaches one ROI meta per detection to `buffer` (a `width` x `height` frame).
pub fn attach(buffer: &mut gst::BufferRef, detections: &[Detection], width: u32, height: u32) {
    for d in detections {
        let (x, y, w, h) = d.bbox.to_pixels(width, height);
        let rect = (
            x.max(0) as u32,
            y.max(0) as u32,
            w.max(0) as u32,
            h.max(0) as u32,
        );
        let mut meta = VideoRegionOfInterestMeta::add(buffer, &d.label, rect);
        let mut s = gst::Structure::builder(DETECTION)
            .field("label_id", d.label_id as i32)
            .field("confidence", f64::from(d.confidence))
            .field("x_min", f64::from(d.bbox.x_min))
            .field("y_min", f64::from(d.bbox.y_min))
            .field("x_max", f64::from(d.bbox.x_max))
            .field("y_max", f64::from(d.bbox.y_max))
            .build();
        if let Some(id) = d.track_id {
            s.set("object_id", id as i64);
        }
        if !d.zones.is_empty() {
            let zones: Vec<&str> = d.zones.iter().map(|z| &**z).collect();
            s.set("zones", gst::Array::new(zones));
        }
        if !d.keypoints.is_empty() {
            // Landmarks, normalized, flattened: [x0, y0, x1, y1, …].
            let flat: Vec<f64> = d
                .keypoints
                .iter()
                .flat_map(|k| [f64::from(k[0]), f64::from(k[1])])
                .collect();
            s.set("keypoints", gst::Array::new(flat));
        }
        meta.add_param(s);
        for a in &d.attributes {
            meta.add_param(attribute_param(a));
        }
        if let Some(i) = &d.identity {
            let mut b = gst::Structure::builder(IDENTITY)
                .field("name", i.name.as_ref())
                .field("similarity", f64::from(i.similarity));
            if let Some(u) = i.unknown_id {
                b = b.field("unknown_id", u);
            }
            meta.add_param(b.build());
        }
    }
}

/// The detections attached to `buffer` (ROI metas with a `detection` param; others are read
/// from their pixel rect with confidence 1).
pub fn read(buffer: &gst::BufferRef, width: u32, height: u32) -> Vec<Detection> {
    buffer
        .iter_meta::<VideoRegionOfInterestMeta>()
        .map(|m| {
            let label: Arc<str> = Arc::from(m.roi_type());
            let (x, y, w, h) = m.rect();
            let pixel_box = BBox {
                x_min: x as f32 / width as f32,
                y_min: y as f32 / height as f32,
                x_max: (x + w) as f32 / width as f32,
                y_max: (y + h) as f32 / height as f32,
            };
            let mut d = Detection {
                label,
                confidence: 1.0,
                bbox: pixel_box,
                ..Detection::default()
            };
            if let Some(s) = m.param(DETECTION) {
                let f = |k: &str| s.get::<f64>(k).ok().map(|v| v as f32);
                d.label_id = s.get::<i32>("label_id").map_or(0, |v| v as u32);
                d.confidence = f("confidence").unwrap_or(1.0);
                if let (Some(x0), Some(y0), Some(x1), Some(y1)) =
                    (f("x_min"), f("y_min"), f("x_max"), f("y_max"))
                {
                    d.bbox = BBox {
                        x_min: x0,
                        y_min: y0,
                        x_max: x1,
                        y_max: y1,
                    };
                }
                d.track_id = s.get::<i64>("object_id").ok().map(|v| v as u64);
                if let Ok(zones) = s.get::<gst::Array>("zones") {
                    d.zones = zones
                        .iter()
                        .filter_map(|v| v.get::<&str>().ok())
                        .map(Arc::from)
                        .collect();
                }
                if let Ok(points) = s.get::<gst::Array>("keypoints") {
                    let flat: Vec<f32> = points
                        .iter()
                        .filter_map(|v| v.get::<f64>().ok())
                        .map(|v| v as f32)
                        .collect();
                    d.keypoints = flat.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
                }
            }
            d.attributes = m.params().filter_map(read_attribute).collect();
            if let Some(s) = m.param(IDENTITY) {
                if let (Ok(name), Ok(sim)) = (s.get::<&str>("name"), s.get::<f64>("similarity")) {
                    d.identity = Some(Identity {
                        name: Arc::from(name),
                        similarity: sim as f32,
                        unknown_id: s.get::<u64>("unknown_id").ok(),
                    });
                }
            }
            d
        })
        .collect()
}

/// The param structure of one attribute (see [`ATTRIBUTE_FIELD`]).
fn attribute_param(a: &Attribute) -> gst::Structure {
    let b = gst::Structure::builder(&*a.name)
        .field(ATTRIBUTE_FIELD, true)
        .field("frames_ago", a.frames_ago);
    match &a.value {
        AttributeValue::Label {
            label,
            label_id,
            confidence,
        } => b
            .field("label", &**label)
            .field("label_id", *label_id as i32)
            .field("confidence", f64::from(*confidence)),
        AttributeValue::Value { value } => b.field("value", f64::from(*value)),
        AttributeValue::Multi {
            labels,
            confidences,
        } => b
            .field("labels", gst::Array::new(labels.iter().map(|l| &**l)))
            .field(
                "confidences",
                gst::Array::new(confidences.iter().map(|c| f64::from(*c))),
            ),
    }
    .build()
}

/// The attribute a param structure carries, if it is one.
fn read_attribute(s: &gst::StructureRef) -> Option<Attribute> {
    if !s.get::<bool>(ATTRIBUTE_FIELD).unwrap_or(false) {
        return None;
    }
    let value = if let Ok(label) = s.get::<&str>("label") {
        AttributeValue::Label {
            label: Arc::from(label),
            label_id: s.get::<i32>("label_id").unwrap_or(0).max(0) as u32,
            confidence: s.get::<f64>("confidence").unwrap_or(0.0) as f32,
        }
    } else if let Ok(value) = s.get::<f64>("value") {
        AttributeValue::Value {
            value: value as f32,
        }
    } else {
        let labels = s.get::<gst::Array>("labels").ok()?;
        let confidences = s.get::<gst::Array>("confidences").ok()?;
        AttributeValue::Multi {
            labels: (labels.iter())
                .filter_map(|v| v.get::<&str>().ok())
                .map(Arc::from)
                .collect(),
            confidences: (confidences.iter())
                .filter_map(|v| v.get::<f64>().ok())
                .map(|c| c as f32)
                .collect(),
        }
    };
    Some(Attribute {
        name: Arc::from(s.name().as_str()),
        value,
        frames_ago: s.get::<u64>("frames_ago").unwrap_or(0),
    })
}

/// Replaces the ROI metas of `buffer` by `detections` (elements that refine results: tracker,
/// recognizer).
pub fn replace(buffer: &mut gst::BufferRef, detections: &[Detection], width: u32, height: u32) {
    buffer.foreach_meta_mut(|mut m| {
        if m.downcast_ref::<VideoRegionOfInterestMeta>().is_some() {
            std::ops::ControlFlow::Continue(gst::buffer::BufferMetaForeachAction::Remove)
        } else {
            std::ops::ControlFlow::Continue(gst::buffer::BufferMetaForeachAction::Keep)
        }
    });
    attach(buffer, detections, width, height);
}

/// Name of the custom meta (`GstCustomMeta`) with one frame's analytics: its structure has a
/// `wire` string field ([`FrameAnalytics::to_wire`]).
pub const ANALYTICS_META: &str = "OvstreamAnalyticsMeta";

/// Registers [`ANALYTICS_META`] (once; GStreamer must be initialized).
pub fn register_analytics_meta() {
    if !gst::meta::CustomMeta::is_registered(ANALYTICS_META) {
        gst::meta::CustomMeta::register(ANALYTICS_META, &[]);
    }
}

/// Attaches `analytics` to `buffer` (replacing any earlier one).
pub fn attach_analytics(buffer: &mut gst::BufferRef, analytics: &FrameAnalytics) {
    register_analytics_meta();
    let meta = match gst::meta::CustomMeta::from_mut_buffer(buffer, ANALYTICS_META) {
        Ok(existing) => Ok(existing),
        Err(_) => gst::meta::CustomMeta::add(buffer, ANALYTICS_META),
    };
    if let Ok(mut meta) = meta {
        meta.mut_structure().set("wire", analytics.to_wire());
    }
}

/// The analytics attached to `buffer` by `ovanalytics`, if any.
pub fn read_analytics(buffer: &gst::BufferRef) -> Option<FrameAnalytics> {
    if !gst::meta::CustomMeta::is_registered(ANALYTICS_META) {
        return None;
    }
    let meta = gst::meta::CustomMeta::from_buffer(buffer, ANALYTICS_META).ok()?;
    let wire = meta.structure().get::<&str>("wire").ok()?;
    FrameAnalytics::from_wire(wire)
}
