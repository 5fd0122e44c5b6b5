//! The terminal progress bar of a run (indicatif).

use super::RunOptions;
use crate::source::Source;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over every source's frames (a spinner when a count is unknown); hidden
/// unless `options.progress`.
pub fn bar(sources: &[&Source], options: &RunOptions) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    // Frames of every source, when each one's count is known.
    let len = sources
        .iter()
        .map(|source| {
            let from_duration = match (options.looping, source.duration, source.framerate()) {
                (false, Some(d), Some(fps)) => Some((d.seconds_f64() * fps).round() as u64),
                _ => None,
            };
            match (options.limit, from_duration) {
                (Some(l), Some(d)) => Some(l.min(d)),
                (l, d) => l.or(d),
            }
        })
        .sum::<Option<u64>>();
    let fps = |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.1} FPS", state.per_sec());
    };
    let template = match len {
        Some(_) => "{bar:40} {pos}/{len} frames  {fps}  eta {eta}",
        None => "{spinner} {pos} frames  {fps}",
    };
    let style = ProgressStyle::with_template(template)
        .expect("valid template")
        .with_key("fps", fps);
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    }
    .with_style(style);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar
}
