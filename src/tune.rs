//! `nireq = "auto"`: a short measured trial picks the number of infer requests. Candidates are
//! 1–4 and the device's OPTIMAL_NUMBER_OF_INFER_REQUESTS (and twice it), at most
//! [`MAX_NIREQ`]; each keeps its requests busy on one prepared frame for [`TRIAL`]. Under
//! `hint = throughput` the highest FPS wins; under `latency` the lowest latency per frame
//! (`nireq / FPS`, Little's law). The table is printed, and the choice is cached per model,
//! device, hint and input in `~/.cache/ovstream/nireq.json`, so later runs skip the trial.

use crate::adapters::InputFormat;
use crate::config::Hint;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::preprocess::fill_input;
use gstreamer as gst;
use gstreamer_video as gst_video;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Measurement per candidate.
pub const TRIAL: Duration = Duration::from_millis(1500);
/// Largest nireq tried.
pub const MAX_NIREQ: usize = 8;
/// Size of the synthetic frame the trial infers on (black I420; CPU inference time does not
/// depend on the pixels).
const TRIAL_FRAME: (u32, u32) = (640, 480);

/// One candidate's measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trial {
    pub nireq: usize,
    pub fps: f64,
    /// Mean time a frame spends in inference, ms (`nireq / fps`).
    pub latency_ms: f64,
}

fn cache_path() -> PathBuf {
    crate::detector::default_cache_dir()
        .parent()
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join("nireq.json")
}

fn cache_key(engine: &Engine, hint: Hint) -> String {
    format!(
        "{}|{}|{:?}|{}x{}|{:?}|{}",
        engine.model_path.display(),
        engine.device,
        hint,
        engine.input.height,
        engine.input.width,
        engine.input.element,
        crate::engine::runtime_version()
    )
}

fn black_frame() -> Result<Frame> {
    crate::gst_init()?;
    let info =
        gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, TRIAL_FRAME.0, TRIAL_FRAME.1)
            .build()
            .map_err(|e| Error::gst("trial frame", e))?;
    let mut data = vec![0u8; info.size()];
    // Black in YUV: Y 16, U and V 128.
    let y = info.width() as usize * info.height() as usize;
    data[..y].fill(16);
    data[y..].fill(128);
    Ok(Frame {
        source_id: 0,
        seq: 0,
        pts: 0,
        buffer: gst::Buffer::from_mut_slice(data),
        info,
        arrival: Instant::now(),
    })
}

/// Keeps `n` requests busy on `frame` for at least `duration` and `2 × n` inferences (after
/// one warm-up inference each); returns the images inferred (inferences × batch) and the
/// seconds they took. The
/// `benchmark_app` equivalent used by `nireq = "auto"` and `ovstream bench`.
///
/// # Errors
/// OpenVINO or preprocessing failures.
pub fn keep_busy(
    engine: &mut Engine,
    frame: &Frame,
    format: InputFormat,
    n: usize,
    duration: Duration,
) -> Result<(u64, f64)> {
    let mut idle = engine.create_requests(n)?;
    let (mut scratch, mut work) = (Vec::new(), Vec::new());
    let spec = engine.input.clone();
    for r in &mut idle {
        for slot in r.input_mut()?.chunks_exact_mut(spec.byte_size()) {
            fill_input(frame, &spec, format, slot, &mut scratch, &mut work)?;
        }
        r.infer()?; // warm-up
    }
    let min_count = 2 * n as u64;
    let started = Instant::now();
    let mut in_flight: VecDeque<_> = idle.into_iter().collect();
    for r in &mut in_flight {
        r.start()?;
    }
    let mut count = 0u64;
    while let Some(mut r) = in_flight.pop_front() {
        r.wait()?;
        count += 1;
        if started.elapsed() < duration || count < min_count {
            r.start()?;
            in_flight.push_back(r);
        }
    }
    Ok((count * spec.batch as u64, started.elapsed().as_secs_f64()))
}

/// Measures `n` requests for [`TRIAL`].
fn trial(engine: &mut Engine, frame: &Frame, format: InputFormat, n: usize) -> Result<Trial> {
    let (count, seconds) = keep_busy(engine, frame, format, n, TRIAL)?;
    let fps = count as f64 / seconds;
    Ok(Trial {
        nireq: n,
        fps,
        latency_ms: 1000.0 * n as f64 / fps,
    })
}

/// Candidates around the device's suggestion.
pub fn candidates(optimal: usize) -> Vec<usize> {
    let mut c: Vec<usize> = [1, 2, 3, 4, optimal, 2 * optimal]
        .into_iter()
        .filter(|n| (1..=MAX_NIREQ).contains(n))
        .collect();
    c.sort_unstable();
    c.dedup();
    c
}

/// The best of `trials` for `hint`.
pub fn best(trials: &[Trial], hint: Hint) -> Option<Trial> {
    trials.iter().copied().reduce(|a, b| {
        let better = match hint {
            Hint::Throughput => b.fps > a.fps,
            Hint::Latency => b.latency_ms < a.latency_ms,
        };
        if better {
            b
        } else {
            a
        }
    })
}

/// Measures (or reads from the cache) the nireq for `engine` under `hint`.
///
/// # Errors
/// OpenVINO failures during the trial.
pub fn pick_nireq(engine: &mut Engine, hint: Hint, format: InputFormat) -> Result<usize> {
    let key = cache_key(engine, hint);
    let path = cache_path();
    let mut cache: BTreeMap<String, usize> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let Some(&n) = cache.get(&key) {
        eprintln!("nireq auto: {n} (cached in {})", path.display());
        return Ok(n);
    }
    let frame = black_frame()?;
    let optimal = engine.nireq;
    let mut trials = Vec::new();
    for n in candidates(optimal) {
        trials.push(trial(engine, &frame, format, n)?);
    }
    let pick = best(&trials, hint).map_or(optimal, |t| t.nireq);
    eprintln!(
        "nireq auto ({hint:?}, {} s per candidate; device suggests {optimal}):",
        TRIAL.as_secs_f64()
    );
    eprintln!("  nireq      FPS   latency ms");
    for t in &trials {
        let mark = if t.nireq == pick { "  <- picked" } else { "" };
        eprintln!(
            "  {:>5} {:>8.1} {:>12.2}{mark}",
            t.nireq, t.fps, t.latency_ms
        );
    }
    cache.insert(key, pick);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(json) = serde_json::to_vec_pretty(&cache) {
        if let Err(e) = std::fs::write(&path, json) {
            tracing::warn!("cannot cache the nireq choice in {}: {e}", path.display());
        }
    }
    Ok(pick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_surround_the_suggestion() {
        assert_eq!(candidates(2), vec![1, 2, 3, 4]);
        assert_eq!(candidates(6), vec![1, 2, 3, 4, 6]);
        assert_eq!(candidates(4), vec![1, 2, 3, 4, 8]);
    }

    #[test]
    fn the_hint_decides_what_is_best() {
        let t = |nireq, fps| Trial {
            nireq,
            fps,
            latency_ms: 1000.0 * nireq as f64 / fps,
        };
        let trials = [t(1, 80.0), t(2, 120.0), t(4, 125.0)];
        assert_eq!(best(&trials, Hint::Throughput).unwrap().nireq, 4);
        assert_eq!(best(&trials, Hint::Latency).unwrap().nireq, 1);
    }
}
