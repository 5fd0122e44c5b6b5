//! Start-up cost: time to the first result from a cold compiled-model cache (an empty folder:
//! OpenVINO compiles and writes the blob) and from a warm one (the blob is imported), each in
//! a fresh `Core`. Measured as a real run does it: open the input, read + compile (or import)
//! the model, run one frame through the pipeline to its JSON line. Goal: warm ≤ 0.3 × cold.
//! Both starts run in the bench process, so neither pays for loading GStreamer's registry or
//! the OpenVINO libraries (a new process pays that on every start, cold or warm).

use crate::config::{Nireq, PipelineConfig};
use crate::detector::Detector;
use crate::error::Result;
use crate::pipeline::{self, RunOptions};
use crate::sink::sinks_from_config;
use crate::source::Source;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Cold and warm time to the first result, ms.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Startup {
    pub cold_ms: f64,
    pub warm_ms: f64,
    /// The compile (cold) and import (warm) part of each.
    pub cold_compile_ms: f64,
    pub warm_compile_ms: f64,
    /// `warm_ms / cold_ms`.
    pub ratio: f64,
}

impl std::fmt::Display for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "time to first result: cold cache {:.0} ms (compile {:.0}), warm cache {:.0} ms \
             (import {:.0}); warm/cold {:.2} (goal ≤ 0.30)",
            self.cold_ms, self.cold_compile_ms, self.warm_ms, self.warm_compile_ms, self.ratio
        )
    }
}

/// One start: `(time to first result, compile part)`.
fn first_result(
    config: &PipelineConfig,
    input: &str,
    openvino_lib: Option<&Path>,
) -> Result<(Duration, Duration)> {
    let t0 = Instant::now();
    let source = Source::open(input, &config.source.options())?;
    let mut detector = Detector::from_config(config, openvino_lib)?;
    let sinks = sinks_from_config(config, "startup")?;
    let options = RunOptions {
        limit: Some(1),
        ..RunOptions::for_config(config, false)
    };
    pipeline::run(
        source,
        &mut detector.engine,
        &detector.adapter,
        sinks,
        pipeline::Secondary::none(),
        &options,
        &AtomicBool::new(false),
    )?;
    Ok((t0.elapsed(), detector.engine.compile_time))
}

/// Measures a cold then a warm start with a cache folder of its own under `scratch`, `nireq`
/// requests and `nstreams` streams (fixed, so no `"auto"` trial is timed).
///
/// # Errors
/// Model, input and output errors.
pub fn measure(
    config: &PipelineConfig,
    input: &str,
    nireq: usize,
    nstreams: Option<usize>,
    scratch: &Path,
    openvino_lib: Option<&Path>,
) -> Result<Startup> {
    // GStreamer's registry is loaded once per process: before both starts, not in the first.
    crate::gst_init()?;
    let mut cfg = super::scratch_outputs(config, scratch, "startup", false);
    let cache = scratch.join("compiled-cache");
    let _ = std::fs::remove_dir_all(&cache);
    cfg.model.cache = true;
    cfg.model.cache_dir = Some(cache.clone());
    cfg.model.nireq = Some(Nireq::Count(nireq));
    if let Some(n) = nstreams {
        cfg.model.nstreams = Some(n.to_string());
    }
    let (cold, cold_compile) = first_result(&cfg, input, openvino_lib)?;
    let (warm, warm_compile) = first_result(&cfg, input, openvino_lib)?;
    let _ = std::fs::remove_dir_all(&cache);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(Startup {
        cold_ms: ms(cold),
        warm_ms: ms(warm),
        cold_compile_ms: ms(cold_compile),
        warm_compile_ms: ms(warm_compile),
        ratio: warm.as_secs_f64() / cold.as_secs_f64().max(1e-9),
    })
}
