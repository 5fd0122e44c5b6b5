//! `ovstream classify IMAGE…`: every object the pipeline's detector finds in each image, with
//! the attributes of its `[[classify]]` tables (or of `--model`), one JSON line per image.

use anyhow::Result;
use clap::Args;
use ovstream::classify::Classifiers;
use ovstream::config::classify::ClassifyConfig;
use ovstream::config::{Inputs, PipelineConfig};
use ovstream::detector::Detector;
use ovstream::error::{exit_code, Error};
use ovstream::face::gallery::FaceFinder;
use ovstream::frame::{AnalyzedFrame, AttributesJson};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub(crate) struct ClassifyArgs {
    /// Pipeline file whose [model] finds the objects and whose [[classify]] tables classify
    /// them.
    #[arg(long, default_value = "pipelines/faces.toml")]
    pipeline: PathBuf,
    /// A classifier (manifest id such as `age-gender`, or a model file with its outputs in the
    /// pipeline) instead of the pipeline's [[classify]] tables.
    #[arg(long)]
    model: Option<String>,
    /// Images (JPEG, PNG, or a video: its first frame).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

pub(crate) fn run(args: &ClassifyArgs, lib: Option<&Path>) -> Result<i32> {
    let mut config = PipelineConfig::load_with(&args.pipeline, &[], Inputs::Optional)?;
    if let Some(model) = &args.model {
        config.classify = vec![ClassifyConfig::new(model.clone())];
    }
    let mut detector = Detector::from_config(&config, lib)?;
    let mut finder = FaceFinder::new(&mut detector)?;
    let Some(mut classifiers) = Classifiers::from_config(&config, lib)? else {
        return Err(Error::Setting {
            key: "classify".into(),
            message: format!(
                "{} has no [[classify]] table; give --model (e.g. age-gender)",
                args.pipeline.display()
            ),
        }
        .into());
    };
    for image in &args.images {
        let uri = image.display().to_string();
        let frame = ovstream::source::first_frame(&uri).map_err(|e| Error::Input {
            uri: uri.clone(),
            message: format!("cannot decode: {e}"),
        })?;
        let (w, h) = (frame.info.width() as f32, frame.info.height() as f32);
        let detections = finder.find(&frame)?;
        let mut analyzed = AnalyzedFrame::new(frame, detections);
        classifiers.classify_one(&mut analyzed)?;
        let objects: Vec<_> = (analyzed.detections.iter())
            .map(|d| {
                let b = &d.bbox;
                serde_json::json!({
                    "box": [b.x_min * w, b.y_min * h, b.x_max * w, b.y_max * h],
                    "label": &*d.label,
                    "confidence": d.confidence,
                    "keypoints": d.keypoints.iter().map(|k| [k[0] * w, k[1] * h]).collect::<Vec<_>>(),
                    "attributes": AttributesJson(&d.attributes),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({ "image": image, "objects": objects })
        );
    }
    for line in classifiers.report() {
        eprintln!("{line}");
    }
    Ok(exit_code::OK)
}
