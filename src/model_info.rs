//! A model's own settings, stored in an OpenVINO IR's `<rt_info><model_info>` — the OpenVINO
//! Model API convention that Ultralytics' OpenVINO export writes and DL Streamer reads — so an
//! annotated IR runs with no manifest entry and no flags:
//!
//! ```xml
//! <rt_info>
//!   <model_info>
//!     <model_type value="YOLO" />
//!     <labels value="Normal Fall" />            <!-- space-separated; spaces in names as _ -->
//!     <confidence_threshold value="0.5" />
//!     <iou_threshold value="0.45" />
//!     <resize_type value="fit_to_window_letterbox" />   <!-- or standard (stretch) -->
//!     <pad_value value="114" />
//!     <reverse_input_channels value="YES" />     <!-- the model wants RGB -->
//!     <scale_values value="255" />
//!     <mean_values value="0" />
//!   </model_info>
//! </rt_info>
//! ```
//!
//! OpenVINO's C API does not expose `rt_info`, so the IR's XML is read here (it is text; the
//! weights are in the `.bin`). Other formats (ONNX, TFLite, TF) carry no `model_info`.

use crate::adapters;
use crate::engine::{InputElement, InputFormat};
use std::path::Path;

/// Largest IR XML read for its `rt_info`, bytes (the graph of a big model is a few MB).
const MAX_IR_XML: u64 = 64 * 1024 * 1024;

/// What an IR's `model_info` says (every field optional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelInfo {
    pub model_type: Option<String>,
    pub labels: Option<Vec<String>>,
    pub confidence_threshold: Option<f32>,
    pub iou_threshold: Option<f32>,
    pub resize_type: Option<String>,
    pub pad_value: Option<f32>,
    pub reverse_input_channels: Option<bool>,
    pub scale_values: Option<Vec<f32>>,
    pub mean_values: Option<Vec<f32>>,
}

impl ModelInfo {
    /// Reads `path`'s `model_info` when it is an IR (`.xml`); nothing for other formats.
    ///
    /// # Errors
    /// A message naming the file when it is an IR that cannot be read or parsed, or whose
    /// `model_info` has a value of the wrong kind.
    pub fn read(path: &Path) -> Result<ModelInfo, String> {
        let is_ir = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
        if !is_ir || !path.is_file() {
            return Ok(ModelInfo::default()); // a missing file is reported when it is loaded
        }
        let text = crate::config::read_capped(path, MAX_IR_XML)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the `model_info` of an IR's XML text.
    ///
    /// # Errors
    /// Malformed XML, or a number or flag that does not parse (named).
    pub fn parse(xml: &str) -> Result<ModelInfo, String> {
        let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not XML: {e}"))?;
        let mut info = ModelInfo::default();
        let Some(node) = doc
            .root_element()
            .children()
            .find(|n| n.has_tag_name("rt_info"))
            .and_then(|rt| rt.children().find(|n| n.has_tag_name("model_info")))
        else {
            return Ok(info);
        };
        for item in node.children().filter(|n| n.is_element()) {
            let Some(value) = item.attribute("value") else {
                continue;
            };
            let key = item.tag_name().name();
            let number = |v: &str| {
                v.trim()
                    .parse::<f32>()
                    .map_err(|_| format!("model_info {key} = {v:?} is not a number"))
            };
            let numbers = |v: &str| {
                v.split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(number)
                    .collect::<Result<Vec<f32>, String>>()
            };
            match key {
                "model_type" => info.model_type = Some(value.to_string()),
                "labels" => {
                    info.labels = Some(value.split_whitespace().map(String::from).collect());
                }
                "confidence_threshold" => info.confidence_threshold = Some(number(value)?),
                "iou_threshold" => info.iou_threshold = Some(number(value)?),
                "resize_type" => info.resize_type = Some(value.to_string()),
                "pad_value" => info.pad_value = Some(number(value)?),
                "reverse_input_channels" => {
                    info.reverse_input_channels = Some(match value.to_ascii_lowercase().as_str() {
                        "yes" | "true" | "1" => true,
                        "no" | "false" | "0" => false,
                        _ => return Err(format!("model_info {key} = {value:?} is not YES/NO")),
                    });
                }
                "scale_values" => info.scale_values = Some(numbers(value)?),
                "mean_values" => info.mean_values = Some(numbers(value)?),
                _ => {} // other Model API keys (task, anchors, …): not used here
            }
        }
        Ok(info)
    }

    /// The detection adapter its `model_type` names: `ssd` for SSD, `yolo` for the Ultralytics
    /// family (`YOLO`, `YOLOv8`, `yolo_v11`, …); `None` without a model type.
    ///
    /// # Errors
    /// A model type ovstream does not decode (named, with the ones it does).
    pub fn adapter(&self) -> Result<Option<&'static str>, String> {
        let Some(t) = &self.model_type else {
            return Ok(None);
        };
        let lower = t.to_ascii_lowercase().replace(['_', '-'], "");
        let anchor_based = ["yolov3", "yolov4", "yolov5", "yolox", "yolof"];
        if lower.starts_with("yolo") && !anchor_based.iter().any(|a| lower.starts_with(a)) {
            Ok(Some(adapters::YOLO))
        } else if lower == "ssd" {
            Ok(Some(adapters::SSD))
        } else {
            Err(format!(
                "model_info model_type {t:?} is not decoded by ovstream (it decodes SSD and \
                 the anchor-free YOLO head: YOLO, YOLOv8, YOLOv9, YOLOv10, YOLO11)"
            ))
        }
    }

    /// Checks that the preprocessing it asks for is what `format` (the adapter's) does.
    ///
    /// # Errors
    /// The first setting that differs, named with what the adapter does.
    pub fn check_input(&self, adapter: &str, format: &InputFormat) -> Result<(), String> {
        let bad = |key: &str, want: &str| {
            Err(format!(
                "model_info {key} differs from what the `{adapter}` adapter feeds the model \
                 ({want})"
            ))
        };
        if let Some(r) = &self.resize_type {
            let letterbox = r.contains("letterbox");
            if letterbox != format.letterbox {
                return bad(
                    "resize_type",
                    if format.letterbox {
                        "fit_to_window_letterbox"
                    } else {
                        "standard"
                    },
                );
            }
        }
        if let Some(p) = self.pad_value {
            if format.letterbox && (p - f32::from(format.pad)).abs() > 0.5 {
                return bad("pad_value", &format.pad.to_string());
            }
        }
        if self.reverse_input_channels == Some(false) {
            return bad("reverse_input_channels", "RGB: YES");
        }
        let (scale, mean) = match format.element {
            InputElement::F32Unit => (255.0, 0.0),
            InputElement::F32Symmetric => (127.5, 127.5),
            InputElement::U8 | InputElement::F32 => (1.0, 0.0),
        };
        if let Some(s) = &self.scale_values {
            if s.iter().any(|v| (v - scale).abs() > 1e-3) {
                return bad("scale_values", &scale.to_string());
            }
        }
        if let Some(m) = &self.mean_values {
            if m.iter().any(|v| (v - mean).abs() > 1e-3) {
                return bad("mean_values", &mean.to_string());
            }
        }
        Ok(())
    }
}

/// The `model_info` an adapter's preprocessing implies, with `labels` and the thresholds:
/// `(key, value)` pairs as the Model API stores them (what `ovstream models annotate` writes).
///
/// # Errors
/// An adapter the Model API has no `model_type` for (BlazeFace), or a label with whitespace
/// that the space-separated list would split (named).
pub fn annotation(
    adapter: &str,
    labels: &[String],
    confidence_threshold: Option<f32>,
    iou_threshold: Option<f32>,
) -> Result<Vec<(&'static str, String)>, String> {
    let (model_type, letterbox, pad, scale) = match adapter {
        adapters::YOLO => ("YOLO", true, 114, 255.0),
        adapters::SSD => ("SSD", false, 0, 1.0),
        other => {
            return Err(format!(
                "adapter `{other}`: the Model API has a model_type for ssd and yolo only"
            ))
        }
    };
    if let Some(l) = labels
        .iter()
        .find(|l| l.chars().any(char::is_whitespace) || l.is_empty())
    {
        return Err(format!(
            "label {l:?}: model_info labels are space-separated; use _ for spaces"
        ));
    }
    let mut out = vec![
        ("model_type", model_type.to_string()),
        (
            "resize_type",
            if letterbox {
                "fit_to_window_letterbox"
            } else {
                "standard"
            }
            .to_string(),
        ),
        ("reverse_input_channels", "YES".to_string()),
        ("scale_values", format!("{scale}")),
        ("mean_values", "0".to_string()),
    ];
    if letterbox {
        out.push(("pad_value", pad.to_string()));
    }
    if !labels.is_empty() {
        out.push(("labels", labels.join(" ")));
    }
    if let Some(t) = confidence_threshold {
        out.push(("confidence_threshold", t.to_string()));
    }
    if let Some(t) = iou_threshold {
        out.push(("iou_threshold", t.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IR: &str = r#"<?xml version="1.0"?>
<net name="m" version="11">
  <layers/>
  <rt_info>
    <framework><x value="1"/></framework>
    <model_info>
      <confidence_threshold value="0.25" />
      <iou_threshold value="0.7" />
      <labels value="Normal Fall" />
      <model_type value="YOLOv8" />
      <pad_value value="114" />
      <resize_type value="fit_to_window_letterbox" />
      <reverse_input_channels value="YES" />
      <scale_values value="255" />
      <task value="detect" />
    </model_info>
  </rt_info>
</net>"#;

    #[test]
    fn ultralytics_style_model_info_is_read() {
        let info = ModelInfo::parse(IR).unwrap();
        assert_eq!(info.model_type.as_deref(), Some("YOLOv8"));
        assert_eq!(info.labels, Some(vec!["Normal".into(), "Fall".into()]));
        assert_eq!(info.confidence_threshold, Some(0.25));
        assert_eq!(info.iou_threshold, Some(0.7));
        assert_eq!(info.adapter(), Ok(Some(adapters::YOLO)));
        let yolo = adapters::input_format(adapters::YOLO).unwrap();
        assert_eq!(info.check_input(adapters::YOLO, &yolo), Ok(()));
        let ssd = adapters::input_format(adapters::SSD).unwrap();
        let e = info.check_input(adapters::SSD, &ssd).unwrap_err();
        assert!(e.contains("resize_type"), "{e}");
    }

    #[test]
    fn an_annotation_reads_back_as_the_adapter_it_names() {
        let labels = vec!["Normal".to_string(), "Fall".to_string()];
        let pairs = annotation(adapters::YOLO, &labels, Some(0.4), None).unwrap();
        let xml = format!(
            "<net><rt_info><model_info>{}</model_info></rt_info></net>",
            pairs
                .iter()
                .map(|(k, v)| format!("<{k} value=\"{v}\"/>"))
                .collect::<String>()
        );
        let info = ModelInfo::parse(&xml).unwrap();
        assert_eq!(info.adapter(), Ok(Some(adapters::YOLO)));
        assert_eq!(info.labels.as_deref(), Some(&labels[..]));
        assert_eq!(info.confidence_threshold, Some(0.4));
        let format = adapters::input_format(adapters::YOLO).unwrap();
        assert_eq!(info.check_input(adapters::YOLO, &format), Ok(()));
        assert!(annotation(adapters::YOLO, &["two words".into()], None, None).is_err());
        assert!(annotation(adapters::BLAZEFACE, &[], None, None).is_err());
    }

    #[test]
    fn other_model_types_and_bad_values_are_named() {
        let info = ModelInfo {
            model_type: Some("YOLOv5".into()),
            ..Default::default()
        };
        assert!(info.adapter().unwrap_err().contains("YOLOv5"));
        let e = ModelInfo::parse(&IR.replace("0.25", "lots")).unwrap_err();
        assert!(e.contains("confidence_threshold"), "{e}");
        assert_eq!(
            ModelInfo::parse("<net/>").unwrap(),
            ModelInfo::default(),
            "no rt_info: nothing"
        );
    }
}
