//! Measured tuning. `nireq = "auto"`: a short trial picks the number of infer requests.
//! Candidates are 1–4 and the device's OPTIMAL_NUMBER_OF_INFER_REQUESTS (and twice it), at
//! most [`MAX_NIREQ`]; each keeps its requests busy on one prepared frame for [`TRIAL`].
//! `nstreams = "auto"`: the model is compiled with each candidate NUM_STREAMS (1, 2, the
//! cores, the device's own choice) and measured the same way with that compile's
//! OPTIMAL_NUMBER_OF_INFER_REQUESTS. Under `hint = throughput` the highest FPS wins; under
//! `latency` the lowest latency per frame (`nireq / FPS`, Little's law). The table is printed,
//! and the choice is cached per model, device, hint, precision and input in `~/.cache/ovstream/`
//! (`nireq.json`, `nstreams.json`), so later runs skip the trial.

use crate::config::Hint;
use crate::engine::{Engine, EngineOptions, Request};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::preprocess::{fill_input, Scratch};
use gstreamer as gst;
use gstreamer_video as gst_video;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The `nstreams` value that asks for a measured choice.
pub const AUTO: &str = "auto";

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

/// `~/.cache/ovstream/<file>`.
fn cache_path(file: &str) -> PathBuf {
    crate::config::default_cache_dir()
        .parent()
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(file)
}

/// A choice cached in `path` under `key`.
/// Largest NUM_STREAMS a cached choice may hold.
const MAX_CACHED_STREAMS: usize = 256;

/// A choice cached in `path` under `key`, when it is in `1..=max` (a 0 or absurd value, from a
/// damaged or hand-edited cache, is ignored and measured again).
fn cached(path: &Path, key: &str, max: usize) -> Option<usize> {
    let cache: BTreeMap<String, usize> = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let value = cache.get(key).copied()?;
    if (1..=max).contains(&value) {
        Some(value)
    } else {
        tracing::warn!(path = %path.display(), value, "ignoring a cached value out of range 1..={max}; measuring again");
        None
    }
}

/// Caches `value` under `key` in `path` (a warning when it cannot be written).
fn store(path: &Path, key: String, value: usize) {
    let mut cache: BTreeMap<String, usize> = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    cache.insert(key, value);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(json) = serde_json::to_vec_pretty(&cache) {
        if let Err(e) = std::fs::write(path, json) {
            tracing::warn!("cannot cache the choice in {}: {e}", path.display());
        }
    }
}

fn cache_key(engine: &Engine, hint: Hint) -> String {
    format!(
        "{}|{}|{:?}|{}|{}x{}|{:?}|{}",
        engine.model_path.display(),
        engine.device,
        hint,
        engine.precision,
        engine.input.height,
        engine.input.width,
        engine.input.format.element,
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
    Ok(Frame::from_buffer(
        gst::Buffer::from_mut_slice(data),
        info,
        0,
        0,
    ))
}

/// What [`keep_busy`] measured.
pub struct Busy {
    /// Images inferred (inferences × batch) and the seconds they took.
    pub images: u64,
    pub seconds: f64,
    /// The request that finished last, its outputs still readable (the benchmark decodes them
    /// to check what it timed was the model's real input).
    pub last: Request,
}

/// Keeps `n` requests busy on `frame` (written in the model's own input format, in every
/// batch slot) for at least `duration` and `2 × n` inferences, after one warm-up inference
/// each. The `benchmark_app` equivalent used by `nireq = "auto"` and `ovstream bench`.
///
/// # Errors
/// OpenVINO or preprocessing failures.
pub fn keep_busy(engine: &mut Engine, frame: &Frame, n: usize, duration: Duration) -> Result<Busy> {
    let mut idle = engine.create_requests(n.max(1))?;
    let mut scratch = Scratch::default();
    // The model's own input format (u8 or f32, letterboxed or not), in every batch slot.
    let spec = engine.input.clone();
    for r in &mut idle {
        for slot in r.input_mut()?.chunks_exact_mut(spec.byte_size()) {
            fill_input(frame, &spec, slot, &mut scratch)?;
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
    loop {
        let mut r = in_flight.pop_front().expect("n >= 1 requests in flight");
        r.wait()?;
        count += 1;
        if started.elapsed() < duration || count < min_count {
            r.start()?;
            in_flight.push_back(r);
        } else if in_flight.is_empty() {
            return Ok(Busy {
                images: count * spec.batch as u64,
                seconds: started.elapsed().as_secs_f64(),
                last: r,
            });
        }
    }
}

/// Measures `n` requests for [`TRIAL`].
fn trial(engine: &mut Engine, frame: &Frame, n: usize) -> Result<Trial> {
    let busy = keep_busy(engine, frame, n, TRIAL)?;
    let fps = busy.images as f64 / busy.seconds;
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

/// Whether `b` beats `a` under `hint`.
fn better(b: &Trial, a: &Trial, hint: Hint) -> bool {
    match hint {
        Hint::Throughput => b.fps > a.fps,
        Hint::Latency => b.latency_ms < a.latency_ms,
    }
}

/// The best of `trials` for `hint`.
pub fn best(trials: &[Trial], hint: Hint) -> Option<Trial> {
    trials
        .iter()
        .copied()
        .reduce(|a, b| if better(&b, &a, hint) { b } else { a })
}

/// Measures (or reads from the cache) the nireq for `engine` under `hint`.
///
/// # Errors
/// OpenVINO failures during the trial.
pub fn pick_nireq(engine: &mut Engine, hint: Hint) -> Result<usize> {
    let key = cache_key(engine, hint);
    let path = cache_path("nireq.json");
    if let Some(n) = cached(&path, &key, MAX_NIREQ) {
        eprintln!("nireq auto: {n} (cached in {})", path.display());
        return Ok(n);
    }
    let frame = black_frame()?;
    let optimal = engine.nireq;
    let mut trials = Vec::new();
    for n in candidates(optimal) {
        trials.push(trial(engine, &frame, n)?);
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
    store(&path, key, pick);
    Ok(pick)
}

/// NUM_STREAMS candidates: 1, 2, the cores and the device's own choice.
pub fn stream_candidates(suggested: usize, cores: usize) -> Vec<usize> {
    let mut c = vec![1, 2, cores.max(1), suggested.max(1)];
    c.sort_unstable();
    c.dedup();
    c
}

/// Measures (or reads from the cache) the NUM_STREAMS for the model at `model_path` compiled
/// with `options` (its `nstreams` is ignored): one compile and trial per candidate.
///
/// # Errors
/// Compile or OpenVINO failures during the trial.
pub fn pick_nstreams(model_path: &Path, options: &EngineOptions) -> Result<usize> {
    let mut opts = options.clone();
    opts.nstreams = None;
    opts.nireq = None;
    let suggested_engine = Engine::load(model_path, &opts)?;
    let key = format!(
        "{}|b{}",
        cache_key(&suggested_engine, opts.hint),
        opts.batch
    );
    let path = cache_path("nstreams.json");
    if let Some(n) = cached(&path, &key, MAX_CACHED_STREAMS) {
        eprintln!("nstreams auto: {n} (cached in {})", path.display());
        return Ok(n);
    }
    let suggested = suggested_engine.nstreams.unwrap_or(1);
    drop(suggested_engine);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let frame = black_frame()?;
    let mut trials = Vec::new();
    for n in stream_candidates(suggested, cores) {
        opts.nstreams = Some(n.to_string());
        let mut engine = Engine::load(model_path, &opts)?;
        let nireq = engine.nireq;
        trials.push((n, trial(&mut engine, &frame, nireq)?));
    }
    let pick = trials
        .iter()
        .copied()
        .reduce(|a, b| if better(&b.1, &a.1, opts.hint) { b } else { a })
        .map_or(suggested, |(n, _)| n);
    eprintln!(
        "nstreams auto ({:?}, {} s per candidate; device suggests {suggested}):",
        opts.hint,
        TRIAL.as_secs_f64()
    );
    eprintln!("  nstreams  nireq      FPS   latency ms");
    for (n, t) in &trials {
        let mark = if *n == pick { "  <- picked" } else { "" };
        eprintln!(
            "  {n:>8} {:>6} {:>8.1} {:>12.2}{mark}",
            t.nireq, t.fps, t.latency_ms
        );
    }
    store(&path, key, pick);
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
    fn stream_candidates_include_the_suggestion_and_the_cores() {
        assert_eq!(stream_candidates(2, 2), vec![1, 2]);
        assert_eq!(stream_candidates(4, 16), vec![1, 2, 4, 16]);
        assert_eq!(stream_candidates(0, 0), vec![1, 2]);
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
