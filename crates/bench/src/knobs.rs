//! The environment variables that size a benchmark run (BENCH_SECONDS, BENCH_SIZES, ...).

/// A comma-separated list of numbers, e.g. `BENCH_SIZES=100,1000`.
pub fn list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|_| default.to_vec())
}

/// One number, e.g. `BENCH_SECONDS=2`; unset or unreadable gives the default.
pub fn number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(default)
}
