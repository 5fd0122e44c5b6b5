//! Process resource readings for the benchmarks: CPU time (`getrusage`), resident set size and
//! its peak (`/proc/self/status`), with the peak reset between measurements
//! (`/proc/self/clear_refs`, Linux ≥ 4.0).

use std::time::Duration;

/// User + system CPU time of this process (all threads) so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we own; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A `kB` field of /proc/self/status (`VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Resident set size of this process in kB.
pub fn rss_kb() -> Option<u64> {
    status_kb("VmRSS")
}

/// Peak resident set size in kB since the process started or [`reset_peak_rss`] last worked.
pub fn peak_rss_kb() -> Option<u64> {
    status_kb("VmHWM")
}

/// Resets the peak RSS to the current RSS; `false` when the kernel does not allow it (then
/// [`peak_rss_kb`] keeps counting from the process start).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_move_with_work_and_allocation() {
        let before = cpu_time();
        let mut x = 0u64;
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(cpu_time() > before, "CPU time grows while spinning");
        let reset = reset_peak_rss();
        let base = peak_rss_kb().unwrap();
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let peak = peak_rss_kb().unwrap();
        assert!(peak >= base + 60_000, "64 MiB touched: {base} → {peak} kB");
        drop(block);
        if reset {
            assert!(reset_peak_rss());
            assert!(peak_rss_kb().unwrap() < peak, "the peak was reset");
        }
        assert!(rss_kb().unwrap() > 0);
    }
}
