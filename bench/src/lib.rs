//! What the benchmarks share: percentiles, how figures are printed, and the release
//! binary run as a process of its own.

use std::time::Duration;

/// The `p` quantile (0.0..=1.0) of sorted samples, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// p50 / p99 / max of samples, in milliseconds with two decimals.
pub fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    let two = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    format!(
        "p50 {} ms, p99 {} ms, max {} ms ({} samples)",
        two(percentile(samples, 0.5)),
        two(percentile(samples, 0.99)),
        two(samples[samples.len() - 1]),
        samples.len()
    )
}

/// Resident memory of this process, from /proc.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// CPU time this process has used (all threads), from /proc; Linux counts it in ticks
/// of 1/100 s on every architecture Roomkeeper runs on.
pub fn cpu_time() -> Duration {
    cpu_time_of("self")
}

/// CPU time the process `pid` ("self" for this one) has used, as [`cpu_time`].
pub fn cpu_time_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ')'.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A child process (the service, nginx) killed and reaped when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port` (at most 30 s).
pub async fn wait_listening(port: u16) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
