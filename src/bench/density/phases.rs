//! Where in the clip each of N density streams starts.
//!
//! A site's cameras are not in step: at any moment about the clip's active share of them sees
//! something. With a clip whose active stretches are uneven (`samples/camera_walkway.mp4`:
//! 10 s stretches at 10, 45 and 80 s of 120), evenly spaced starts do not give that: three
//! streams starting 40 s apart are all active for 10 of the first 20 s (50% of the
//! stream-seconds of a 20 s window, twice the clip's 25%). When the clip's layout is known (the
//! JSON that `scripts/camera_clip.py` writes beside it), the starts are chosen so that the window
//! holds **at least** the clip's active share of stream-seconds, spread as evenly as that
//! allows (fewest streams active at once); without a layout they are evenly spaced.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// Grid of candidate starts and of the coverage count, seconds.
const STEP_SECONDS: f64 = 0.5;

/// The clip's activity, from `<clip>.json` (written by `scripts/camera_clip.py`).
#[derive(Debug, Clone, Deserialize)]
pub struct Layout {
    /// Frames per second.
    pub fps: f64,
    /// Frames in the clip.
    pub frames: u64,
    /// Active stretches as `[first, end)` frame ranges, in order.
    pub active: Vec<(u64, u64)>,
}

impl Layout {
    /// The layout beside `clip` (`clip` with the extension `.json`), if `clip` is a local file
    /// that has one.
    ///
    /// # Errors
    /// [`Error::Input`] when the JSON exists but cannot be read or parsed.
    pub fn beside(clip: &str) -> Result<Option<Layout>> {
        let local = clip.strip_prefix("file://").unwrap_or(clip);
        if local.contains("://") {
            return Ok(None);
        }
        let path = Path::new(local).with_extension("json");
        if !path.is_file() {
            return Ok(None);
        }
        let bad = |message: String| Error::Input {
            uri: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let layout: Layout =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a clip layout: {e}")))?;
        if layout.fps <= 0.0
            || layout
                .active
                .iter()
                .any(|&(a, b)| a >= b || b > layout.frames)
        {
            return Err(bad("fps ≤ 0 or an active range outside the clip".into()));
        }
        Ok(Some(layout))
    }

    /// Clip length, seconds.
    pub fn seconds(&self) -> f64 {
        self.frames as f64 / self.fps
    }

    /// Whether clip time `t` seconds (taken modulo the clip's length: streams loop) is active.
    pub fn active_at(&self, t: f64) -> bool {
        let frame = (t.rem_euclid(self.seconds()) * self.fps) as u64;
        self.active.iter().any(|&(a, b)| (a..b).contains(&frame))
    }

    /// Share of the clip that is active.
    pub fn active_share(&self) -> f64 {
        let active: u64 = self.active.iter().map(|&(a, b)| b - a).sum();
        active as f64 / self.frames.max(1) as f64
    }
}

/// Starts of `n` streams, seconds into the clip, and how active the `window` is with them.
#[derive(Debug, Clone, PartialEq)]
pub struct Phases {
    pub starts: Vec<f64>,
    /// Share of the window's stream-seconds that are active (`None`: no layout).
    pub active_share: Option<f64>,
    /// Most streams active at once in the window (`None`: no layout).
    pub peak_active: Option<usize>,
}

/// Starts for `n` streams over `window` seconds: with a `layout`, stream by stream the start
/// (on a 0.5 s grid) that keeps the window's active stream-seconds at or above the clip's share
/// so far, with the fewest streams active at once, then the least surplus, then the earliest;
/// without one, `k × clip_seconds / n`.
pub fn starts(n: usize, window: f64, clip_seconds: f64, layout: Option<&Layout>) -> Phases {
    let Some(layout) = layout else {
        return Phases {
            starts: (0..n).map(|k| k as f64 * clip_seconds / n as f64).collect(),
            active_share: None,
            peak_active: None,
        };
    };
    let slots = ((window / STEP_SECONDS).ceil() as usize).max(1);
    let candidates = ((layout.seconds() / STEP_SECONDS).floor() as usize).max(1);
    // profile[c][i]: whether a stream starting at candidate c is active in slot i (at its middle).
    let profile: Vec<Vec<bool>> = (0..candidates)
        .map(|c| {
            (0..slots)
                .map(|i| layout.active_at((c + i) as f64 * STEP_SECONDS + STEP_SECONDS / 2.0))
                .collect()
        })
        .collect();
    let share = layout.active_share();
    let mut coverage = vec![0usize; slots];
    let mut active_slots = 0usize;
    let mut starts = Vec::with_capacity(n);
    for k in 1..=n {
        let target = (share * (k * slots) as f64).round() as usize;
        let best = (0..candidates)
            .map(|c| {
                let own = profile[c].iter().filter(|&&a| a).count();
                let peak = (0..slots)
                    .map(|i| coverage[i] + usize::from(profile[c][i]))
                    .max()
                    .unwrap_or(0);
                let short = target.saturating_sub(active_slots + own);
                let surplus = (active_slots + own).saturating_sub(target);
                ((short, peak, surplus, c), own)
            })
            .min_by_key(|&(key, _)| key)
            .expect("at least one candidate");
        let ((_, _, _, c), own) = best;
        for (slot, &a) in coverage.iter_mut().zip(&profile[c]) {
            *slot += usize::from(a);
        }
        active_slots += own;
        starts.push(c as f64 * STEP_SECONDS);
    }
    Phases {
        starts,
        active_share: Some(active_slots as f64 / (n * slots).max(1) as f64),
        peak_active: Some(coverage.into_iter().max().unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The camera clip's layout: 120 s at 30 fps, active 10–20, 45–55, 80–90 s.
    fn walkway() -> Layout {
        Layout {
            fps: 30.0,
            frames: 3600,
            active: vec![(300, 600), (1350, 1650), (2400, 2700)],
        }
    }

    #[test]
    fn without_a_layout_starts_are_evenly_spaced() {
        let p = starts(4, 20.0, 120.0, None);
        assert_eq!(p.starts, vec![0.0, 30.0, 60.0, 90.0]);
        assert_eq!(p.peak_active, None);
    }

    #[test]
    fn the_window_holds_at_least_the_clips_share_spread_out() {
        let layout = walkway();
        assert!((layout.active_share() - 0.25).abs() < 1e-9);
        for n in 1..=12 {
            let p = starts(n, 20.0, 120.0, Some(&layout));
            assert_eq!(p.starts.len(), n);
            let share = p.active_share.unwrap();
            assert!(share >= 0.25 - 1e-9, "n {n}: share {share}");
            // Never more than one stretch (10 s of the window) beyond the share.
            assert!(
                share * n as f64 * 20.0 <= 0.25 * n as f64 * 20.0 + 10.0,
                "n {n}"
            );
            // As even as the share allows: ⌈n/4⌉ at once (one more where stretches cannot tile).
            let peak = p.peak_active.unwrap();
            assert!(peak <= n.div_ceil(4) + 1, "n {n}: peak {peak}");
        }
        // Four streams tile the window: exactly one active at every moment.
        let four = starts(4, 20.0, 120.0, Some(&layout));
        assert_eq!(four.peak_active, Some(1));
        assert!((four.active_share.unwrap() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn evenly_spaced_starts_overload_the_window_this_fixes() {
        // Three streams 40 s apart: every one is active 10 of the first 20 s.
        let layout = walkway();
        let active = |start: f64| {
            (0..40)
                .filter(|i| layout.active_at(start + *i as f64 * 0.5 + 0.25))
                .count()
        };
        assert_eq!(active(0.0) + active(40.0) + active(80.0), 60);
        // Spread: 20 active seconds of 60 (10 s stretches do not make 15), never two at once.
        let p = starts(3, 20.0, 120.0, Some(&layout));
        assert_eq!(p.peak_active, Some(1));
        assert!((p.active_share.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_layout_is_read_beside_the_clip_and_checked() {
        let dir = std::env::temp_dir().join(format!("ovstream-phases-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let clip = dir.join("cam.mp4");
        assert!(Layout::beside(clip.to_str().unwrap()).unwrap().is_none());
        std::fs::write(
            dir.join("cam.json"),
            r#"{"fps": 30, "frames": 90, "active": [[30, 60]], "width": 8}"#,
        )
        .unwrap();
        let layout = Layout::beside(clip.to_str().unwrap()).unwrap().unwrap();
        assert!(layout.active_at(1.5) && !layout.active_at(0.5) && layout.active_at(4.5));
        std::fs::write(
            dir.join("cam.json"),
            r#"{"fps": 30, "frames": 90, "active": [[30, 99]]}"#,
        )
        .unwrap();
        let err = Layout::beside(clip.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cam.json"), "{err}");
        assert!(Layout::beside("rtsp://127.0.0.1/cam").unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
