//! Input damage that does not stop decoding: frames lost to corrupt data (gaps in the
//! timestamps) and GStreamer warnings, each with its position.

/// Most damage events kept verbatim; the rest are only counted.
const MAX_DAMAGE_EVENTS: usize = 10;

/// Problems that did not stop decoding but lost or damaged frames: gaps in the timestamps
/// (frames the demuxer/decoder dropped on corrupt data) and GStreamer warnings, each with the
/// position where it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    pub events: Vec<String>,
    /// Events beyond [`MAX_DAMAGE_EVENTS`].
    pub more: usize,
    /// Frames missing according to the timestamps.
    pub lost_frames: u64,
}

impl Damage {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub(crate) fn push(&mut self, event: String) {
        if self.events.len() < MAX_DAMAGE_EVENTS {
            self.events.push(event);
        } else {
            self.more += 1;
        }
    }

    /// One line: lost frames and every event (with positions).
    pub fn describe(&self) -> String {
        let more = if self.more > 0 {
            format!("; and {} more", self.more)
        } else {
            String::new()
        };
        format!(
            "damaged input, about {} frame(s) lost: {}{more}",
            self.lost_frames,
            self.events.join("; ")
        )
    }
}

/// Expects each frame to start where the previous one ended; a later start is a gap.
#[derive(Debug, Default)]
pub(crate) struct GapDetector {
    expected: Option<(u64, u64)>, // (next pts, frame duration), raw stream time in ns
}

impl GapDetector {
    /// Checks a frame with raw `pts` and `duration`; returns the frames missing before it.
    pub(crate) fn check(&mut self, pts: u64, duration: Option<u64>) -> Option<(u64, u64)> {
        let gap = match self.expected {
            Some((next, dur)) if dur > 0 && pts > next + dur / 2 => Some((
                next,
                ((pts - next) as f64 / dur as f64).round().max(1.0) as u64,
            )),
            _ => None,
        };
        self.expected = duration
            .filter(|d| *d > 0)
            .map(|d| (pts + d, d))
            .or(self.expected.map(|(_, d)| (pts + d, d)));
        gap
    }

    pub(crate) fn reset(&mut self) {
        self.expected = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: u64 = 100_000_000;

    #[test]
    fn gap_detector_counts_missing_frames() {
        let mut g = GapDetector::default();
        assert_eq!(g.check(0, Some(D)), None);
        assert_eq!(g.check(D, Some(D)), None);
        assert_eq!(g.check(5 * D, Some(D)), Some((2 * D, 3)));
        assert_eq!(g.check(6 * D, None), None, "duration carried over");
        g.reset();
        assert_eq!(g.check(0, Some(D)), None, "loop restart is not a gap");
    }

    #[test]
    fn damage_keeps_the_first_events_and_counts_the_rest() {
        let mut d = Damage::default();
        for i in 0..MAX_DAMAGE_EVENTS + 3 {
            d.push(format!("e{i}"));
        }
        assert_eq!(d.events.len(), MAX_DAMAGE_EVENTS);
        assert!(d.describe().ends_with("and 3 more"));
    }
}
