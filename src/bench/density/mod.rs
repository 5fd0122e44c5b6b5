//! Stream density (`ovstream bench --density`): how many real-time camera streams one box
//! analyses, per detection mode — `always` (every frame), `interval` (every 3rd frame) and
//! `motion` (frames with motion; see `pipeline::gate`).
//!
//! Per mode, N streams of the camera clip (each played in real time, looped, as a live camera:
//! drop-oldest) run for `window` seconds, N = 1, 2, …; a run *holds* when every stream kept
//! ≥ [`HOLD_RATE`] × the clip's frame rate (frames written per second) and the end-to-end p99
//! stayed ≤ [`MAX_P99_MS`]. The mode's density is the largest N that held before the first
//! that did not. Where the streams start in the clip is `phases`' job: the window holds at least
//! the clip's active share of stream-seconds, spread so that as few streams as that allows are
//! active at once (a site's cameras are not in step).
//! Each N is a fresh run on the one compiled model.
//!
//! Recall: the whole clip once per mode as a file (full speed, one stream, tracking on),
//! compared by [`super::recall::track_recall`] with the `always` run. CPU of idle and active
//! stretches: `motion` mode over the clip's first active stretch and over the later half of
//! the idle stretch after it, each as the difference of two runs (see `stretch_cpu`).

mod phases;
mod report;

use phases::Layout;

pub use report::{Densities, DensityReport, DensityStep, Mode, ModeDensity, DENSITY_INTERVAL};

use super::recall;
use super::{resources, run_for, scratch_outputs};
use crate::config::PipelineConfig;
use crate::detector::Detector;
use crate::error::{Error, Result};
use crate::pipeline::{self, Input, RunOptions};
use crate::sink::sinks_for_sources;
use crate::source::Source;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// A stream holds while it keeps this share of the clip's frame rate.
pub const HOLD_RATE: f64 = 0.95;
/// … and its end-to-end p99 latency stays within this, ms.
pub const MAX_P99_MS: f64 = 500.0;
/// The camera clip's first idle stretch and the active stretch after it, seconds (see
/// `scripts/camera_clip.py`).
const IDLE_STRETCH: f64 = 10.0;
const ACTIVE_STRETCH: f64 = 10.0;

/// What `ovstream bench --density` is asked to measure.
#[derive(Debug, Clone)]
pub struct DensityOptions {
    /// Seconds per step.
    pub window: Duration,
    /// Most streams tried per mode.
    pub max_streams: usize,
    /// The modes measured.
    pub modes: Vec<Mode>,
    /// Frames of the clip in the recall runs (`None`: all).
    pub recall_frames: Option<u64>,
}

/// Measures the three modes on `clip` (see the module docs): streams added up to
/// `max_streams`, `window` each; the recall runs on the first `recall_frames` frames (all).
///
/// # Errors
/// Model, input and output errors.
pub fn run(
    config: &PipelineConfig,
    clip: &str,
    options: &DensityOptions,
    scratch: &Path,
    openvino_lib: Option<&Path>,
) -> Result<DensityReport> {
    let DensityOptions {
        window,
        max_streams,
        modes: ref measured,
        recall_frames,
    } = *options;
    let mut detector = Detector::from_config(config, openvino_lib)?;
    let (clip_seconds, clip_fps) = clip_timing(clip, config)?;
    let layout = Layout::beside(clip)?;
    // `always` is the recall reference, so its clip run is always made.
    let runs = Mode::ALL
        .iter()
        .filter(|&&m| m == Mode::Always || measured.contains(&m))
        .map(|&m| {
            Ok((
                m,
                full_clip(&mut detector, config, clip, m, recall_frames, scratch)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut modes = [None, None, None];
    for (mode, (jsonl, inferred_share)) in &runs {
        let mode = *mode;
        if !measured.contains(&mode) {
            continue;
        }
        let recall_detail = if mode == Mode::Always {
            None
        } else {
            Some(recall::track_recall(
                &runs[0].1 .0,
                jsonl,
                recall::MIN_TRACK_SECONDS,
            )?)
        };
        tracing::info!(mode = mode.name(), ?recall_detail, "recall");
        let clip_info = (clip_seconds, clip_fps, layout.as_ref());
        let steps = steps(
            &mut detector,
            config,
            clip,
            clip_info,
            mode,
            max_streams,
            window,
            scratch,
        )?;
        modes[mode as usize] = Some(ModeDensity::new(steps, *inferred_share, recall_detail));
    }
    let (idle, active) = stretch_cpu(
        &mut detector,
        config,
        clip,
        clip_fps,
        layout.as_ref(),
        scratch,
    )?;
    let [always, interval, motion] = modes;
    Ok(DensityReport {
        clip: clip.to_string(),
        model: detector.model.clone(),
        execution_devices: detector.engine.execution_devices.clone(),
        nireq: detector.engine.nireq,
        clip_fps,
        window_seconds: window.as_secs_f64(),
        motion_to_always: match (&motion, &always) {
            (Some(m), Some(a)) => Some(m.streams as f64 / a.streams.max(1) as f64),
            _ => None,
        },
        density: Densities {
            always,
            interval,
            motion,
        },
        idle_cpu_ms_per_frame: idle,
        active_cpu_ms_per_frame: active,
        idle_to_active: idle / active.max(1e-9),
    })
}

/// `clip`'s duration (s) and frame rate (30 when it does not say).
///
/// # Errors
/// [`Error::Input`] for a clip that cannot be opened or has no known duration.
fn clip_timing(clip: &str, config: &PipelineConfig) -> Result<(f64, f64)> {
    let probe = Source::open(clip, &config.source.options())?;
    let fps = probe.framerate().unwrap_or(30.0);
    let seconds = probe
        .duration
        .map(|d| d.nseconds() as f64 / 1e9)
        .filter(|&s| s > 0.0)
        .ok_or_else(|| Error::Input {
            uri: probe.uri.clone(),
            message: "the density benchmark needs a file of known duration".into(),
        })?;
    Ok((seconds, fps))
}

/// `mode`'s steps: 1, 2, … real-time streams up to `max_streams`, `window` each, ending at the
/// first that does not hold.
#[allow(clippy::too_many_arguments)]
fn steps(
    detector: &mut Detector,
    config: &PipelineConfig,
    clip: &str,
    clip_info: (f64, f64, Option<&Layout>),
    mode: Mode,
    max_streams: usize,
    window: Duration,
    scratch: &Path,
) -> Result<Vec<DensityStep>> {
    let mut steps = Vec::new();
    for n in 1..=max_streams.max(1) {
        let step = streams(detector, config, clip, clip_info, mode, n, window, scratch)?;
        tracing::info!(mode = mode.name(), ?step, "density step");
        let held = step.held;
        steps.push(step);
        if !held {
            break;
        }
    }
    Ok(steps)
}

/// The whole clip as a file in `mode` (one stream, full speed): its metadata file and the
/// share of frames inferred.
fn full_clip(
    detector: &mut Detector,
    config: &PipelineConfig,
    clip: &str,
    mode: Mode,
    frames: Option<u64>,
    scratch: &Path,
) -> Result<(std::path::PathBuf, f64)> {
    let cfg = scratch_outputs(&mode.config(config), scratch, mode.name(), false);
    let summary = run_clip(detector, &cfg, clip, frames)?;
    let skipped: u64 = summary.sources.iter().map(|s| s.skipped).sum();
    let path = scratch.join(format!("{}.jsonl", mode.name()));
    Ok((path, 1.0 - skipped as f64 / summary.frames.max(1) as f64))
}

/// What a run of `cfg` (a [`Mode::config`]) does: its detection interval, its motion gate,
/// tracking — as a camera's (live) run of it would, less the stats lines (the benchmark
/// reports its own figures).
fn run_options(cfg: &PipelineConfig) -> RunOptions {
    RunOptions {
        stats_interval: None,
        ..RunOptions::for_config(cfg, true)
    }
}

/// One file run of `clip` from its start, `limit` frames at most, at full speed.
fn run_clip(
    detector: &mut Detector,
    cfg: &PipelineConfig,
    clip: &str,
    limit: Option<u64>,
) -> Result<pipeline::Summary> {
    let mut options = cfg.source.options();
    options.realtime = false;
    let source = Source::open(clip, &options)?;
    let sinks = sinks_for_sources(cfg, &["clip".to_string()])?;
    let inputs = vec![Input {
        source,
        sinks: sinks.into_iter().next().expect("one source's sinks"),
        analytics: None,
    }];
    // Once through: a camera file's `loop = true` (pipelines/camera.toml) would never end.
    let options = RunOptions {
        limit,
        looping: false,
        ..run_options(cfg)
    };
    pipeline::run_many(
        inputs,
        &mut detector.engine,
        &detector.adapter,
        pipeline::Secondary::none(),
        &options,
        &AtomicBool::new(false),
    )
}

/// `motion` mode CPU ms per frame on an idle stretch and on an active one, in a running
/// camera's steady state. Each is the difference of two runs from the clip's start over the
/// frames between their ends, so what every run pays once (opening the input, the first
/// frame's inference, shutdown) cancels. See [`stretches`] for which frames.
fn stretch_cpu(
    detector: &mut Detector,
    config: &PipelineConfig,
    clip: &str,
    fps: f64,
    layout: Option<&Layout>,
    scratch: &Path,
) -> Result<(f64, f64)> {
    let cfg = scratch_outputs(&Mode::Motion.config(config), scratch, "stretch", false);
    let mut cpu_of = |frames: u64| -> Result<Duration> {
        let before = resources::cpu_time();
        run_clip(detector, &cfg, clip, Some(frames))?;
        Ok(resources::cpu_time().saturating_sub(before))
    };
    let mut ms_per_frame = |(from, to): (u64, u64)| -> Result<f64> {
        let cpu = cpu_of(to)?.saturating_sub(cpu_of(from)?);
        Ok(cpu.as_secs_f64() * 1000.0 / to.saturating_sub(from).max(1) as f64)
    };
    let (idle, active) = stretches(layout, fps);
    Ok((ms_per_frame(idle)?, ms_per_frame(active)?))
}

/// The `[from, to)` frames measured as idle and as active: active, the clip's first active
/// stretch; idle, the second half of the idle stretch after it, when the scene has been empty
/// for a while (what a camera spends most of its time in: the motion hold, the fading ghost
/// and the last idle checks of the objects that left are over). Without a second active
/// stretch, the second half of the first idle stretch; without a layout, the second half of
/// [`IDLE_STRETCH`] and the [`ACTIVE_STRETCH`] after it.
fn stretches(layout: Option<&Layout>, fps: f64) -> ((u64, u64), (u64, u64)) {
    let active = layout.and_then(|l| l.active.first().copied());
    let second = layout.and_then(|l| l.active.get(1).copied());
    match (active, second) {
        (Some((first, end)), Some((next, _))) if next > end + 1 => {
            (((end + next) / 2, next), (first, end))
        }
        (Some((first, end)), _) if first > 1 => ((first / 2, first), (first, end)),
        _ => {
            let idle = (IDLE_STRETCH * fps).round() as u64;
            let active = (ACTIVE_STRETCH * fps).round() as u64;
            ((idle / 2, idle), (idle, idle + active))
        }
    }
}

/// `n` real-time streams of `clip` in `mode` for `window`.
#[allow(clippy::too_many_arguments)]
fn streams(
    detector: &mut Detector,
    config: &PipelineConfig,
    clip: &str,
    (clip_seconds, clip_fps, layout): (f64, f64, Option<&Layout>),
    mode: Mode,
    n: usize,
    window: Duration,
    scratch: &Path,
) -> Result<DensityStep> {
    let base = mode.config(config);
    let cfg = scratch_outputs(
        &base,
        scratch,
        &format!("{}-{n}-{{name}}", mode.name()),
        false,
    );
    let names: Vec<String> = (1..=n).map(|i| format!("cam{i}")).collect();
    let sinks = sinks_for_sources(&cfg, &names)?;
    let mut options = cfg.source.options();
    options.realtime = true;
    let phases = phases::starts(n, window.as_secs_f64(), clip_seconds, layout);
    let mut inputs = Vec::with_capacity(n);
    for (sinks, &start) in sinks.into_iter().zip(&phases.starts) {
        let source = Source::open(clip, &options)?;
        source.seek(start)?;
        inputs.push(Input {
            source,
            sinks,
            analytics: None,
        });
    }
    let run_options = RunOptions {
        looping: true,
        ..run_options(&cfg)
    };
    let cpu = resources::cpu_time();
    let summary = run_for(window, |stop| {
        pipeline::run_many(
            inputs,
            &mut detector.engine,
            &detector.adapter,
            pipeline::Secondary::none(),
            &run_options,
            stop,
        )
    })?;
    let cpu = resources::cpu_time().saturating_sub(cpu);
    for name in &names {
        let _ = std::fs::remove_file(scratch.join(format!("{}-{n}-{name}.jsonl", mode.name())));
    }
    let slowest_fps = summary
        .sources
        .iter()
        .map(|s| s.fps)
        .fold(f64::INFINITY, f64::min);
    let p99_ms = summary
        .sources
        .iter()
        .map(|s| s.end_to_end.p99_ms)
        .fold(0.0, f64::max);
    let skipped: u64 = summary.sources.iter().map(|s| s.skipped).sum();
    Ok(DensityStep {
        streams: n,
        slowest_fps,
        p99_ms,
        cpu_ms_per_frame: cpu.as_secs_f64() * 1000.0 / summary.frames.max(1) as f64,
        inferred_share: 1.0 - skipped as f64 / summary.frames.max(1) as f64,
        drops: summary.sources.iter().map(|s| s.drops).sum(),
        starts: phases.starts,
        active_share: phases.active_share,
        peak_active: phases.peak_active,
        held: slowest_fps >= HOLD_RATE * clip_fps && p99_ms <= MAX_P99_MS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_is_measured_late_in_the_idle_stretch_after_the_first_activity() {
        let layout = |active: Vec<(u64, u64)>| Layout {
            fps: 30.0,
            frames: 3600,
            active,
        };
        // The stand-in clip: walkers at 10-20 s and 45-55 s; idle from 32.5 s to 45 s.
        let clip = layout(vec![(300, 600), (1350, 1650), (2400, 2700)]);
        assert_eq!(stretches(Some(&clip), 30.0), ((975, 1350), (300, 600)));
        // One active stretch: the later half of the idle one before it.
        let one = layout(vec![(300, 600)]);
        assert_eq!(stretches(Some(&one), 30.0), ((150, 300), (300, 600)));
        // No layout: 5-10 s idle, 10-20 s active.
        assert_eq!(stretches(None, 5.0), ((25, 50), (50, 100)));
    }
}
