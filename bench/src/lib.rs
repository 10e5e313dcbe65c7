//! What the benchmarks share: percentiles and how figures are printed.

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
