//! Exponential backoff, the one used by every retry loop: live sources reconnecting
//! ([`crate::source::supervise`]), `serve` opening a stream's input, the MQTT publisher
//! reconnecting. The delay starts at `initial`, doubles after each wait up to `max`, and goes
//! back to `initial` after a success ([`Backoff::reset`]).

use std::time::{Duration, Instant};

/// The delays of one retry loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starting at `initial`, at most `max` (`max` below `initial` is raised to it).
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    /// The delay the next wait takes.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// The delay to wait now; the one after it is twice as long (up to `max`).
    pub fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (now * 2).min(self.max);
        now
    }

    /// Back to `initial` (the thing retried worked, or stayed healthy long enough).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// Waits [`Self::next_delay`] in slices of `step`, checking `cancelled` between them;
    /// returns `false` when it was cancelled before the delay ran out.
    pub fn wait(&mut self, step: Duration, cancelled: impl Fn() -> bool) -> bool {
        let until = Instant::now() + self.next_delay();
        loop {
            if cancelled() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep(step.min(until - now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_max_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(3));
        let delays: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 3000, 3000]);
        b.reset();
        assert_eq!(b.peek(), Duration::from_millis(500));
        let odd = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(odd.max, Duration::from_secs(2));
    }

    #[test]
    fn a_cancelled_wait_returns_early() {
        let mut b = Backoff::new(Duration::from_secs(30), Duration::from_secs(30));
        let started = Instant::now();
        assert!(!b.wait(Duration::from_millis(10), || true));
        assert!(started.elapsed() < Duration::from_secs(1));
        let mut b = Backoff::new(Duration::from_millis(20), Duration::from_millis(20));
        assert!(b.wait(Duration::from_millis(5), || false));
    }
}
