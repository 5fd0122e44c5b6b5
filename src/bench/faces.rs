//! Face-recognition benchmark: on the pipeline's input looped, in one process, metadata-only:
//! detection only (BlazeFace + tracking), then full recognition with `reidentify_interval` 1
//! (every face embedded every frame) and with the configured interval. Reported as FPS and
//! the ratio to detection only (goal: ≥ 0.8 with the default interval).

use crate::config::PipelineConfig;
use crate::detector::Detector;
use crate::error::{Error, Result};
use crate::face::recognizer_from_config;
use crate::pipeline::{self, RunOptions};
use crate::sink::sinks_from_config;
use crate::source::Source;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// One variant's measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FacesRun {
    pub name: String,
    /// `None`: detection only.
    pub reidentify_interval: Option<u32>,
    pub fps: f64,
    pub ratio_to_detection: f64,
    /// Stage p50 of the identify stage in ms (0 for detection only).
    pub identify_p50_ms: f64,
}

/// What `ovstream bench --faces` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FacesReport {
    pub detector: String,
    pub embedder: String,
    pub input: String,
    pub frames: u64,
    pub runs: Vec<FacesRun>,
}

/// Runs the three variants for `limit` frames each.
///
/// # Errors
/// [`Error::Config`] without a `[recognize]` table; model, input and output errors.
pub fn run(
    config: &PipelineConfig,
    limit: u64,
    scratch: &Path,
    openvino_lib: Option<&Path>,
) -> Result<FacesReport> {
    let recognize = config.recognize.clone().ok_or_else(|| Error::Setting {
        key: "pipeline".into(),
        message: "bench --faces needs a pipeline with a [recognize] table".into(),
    })?;
    let cfg = super::scratch_outputs(config, scratch, "faces", false);
    let mut detector = Detector::from_config(&cfg, openvino_lib)?;
    let variants = [
        ("detection only".to_string(), None),
        ("recognition, every frame".to_string(), Some(1)),
        (
            format!("recognition, every {}", recognize.reidentify_interval),
            Some(recognize.reidentify_interval),
        ),
    ];
    let mut runs: Vec<FacesRun> = Vec::new();
    for (name, interval) in variants {
        let mut recognizer = match interval {
            Some(i) => {
                let mut c = cfg.clone();
                c.recognize.as_mut().expect("checked").reidentify_interval = i;
                recognizer_from_config(&c, openvino_lib, &mut detector)?
            }
            None => None,
        };
        let source = Source::open(cfg.first_input(), &cfg.source.options())?;
        let sinks = sinks_from_config(&cfg, &source.uri)?;
        let options = RunOptions {
            looping: true,
            limit: Some(limit),
            ..RunOptions::for_config(&cfg, false)
        };
        let summary = pipeline::run(
            source,
            &mut detector.engine,
            &detector.adapter,
            sinks,
            pipeline::Secondary::new(recognizer.as_mut(), None),
            &options,
            &AtomicBool::new(false),
        )?;
        let base = runs.first().map_or(summary.fps, |r| r.fps);
        runs.push(FacesRun {
            name,
            reidentify_interval: interval,
            fps: summary.fps,
            ratio_to_detection: summary.fps / base,
            identify_p50_ms: summary
                .stages
                .iter()
                .find(|s| s.name == "identify")
                .map_or(0.0, |s| s.p50_ms),
        });
    }
    Ok(FacesReport {
        detector: detector.model.clone(),
        embedder: recognize.model,
        input: cfg.first_input().to_string(),
        frames: limit,
        runs,
    })
}

impl std::fmt::Display for FacesReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "faces: {} → {} on {} ({} frames per run, looped)",
            self.detector, self.embedder, self.input, self.frames
        )?;
        for r in &self.runs {
            writeln!(
                f,
                "  {:<28} {:>8.1} FPS  ratio to detection only {:.3}",
                r.name, r.fps, r.ratio_to_detection
            )?;
        }
        Ok(())
    }
}
