//! Environment knobs, a quick mode, percentiles and ids for the scale benches.

#![allow(dead_code)] // each bench uses part of it

use std::time::Duration;

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not valid")),
        Err(_) => default,
    }
}

pub fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {s:?} is not a number"))
        })
        .collect()
}

/// Whether the bench runs only to show that it runs: `cargo test --bench X` (cargo
/// passes no `--bench`), `-- --quick`, or `<PREFIX>_QUICK=1`.
pub fn quick(prefix: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|a| a == "--bench")
        || args.iter().any(|a| a == "--quick")
        || env_or(&format!("{prefix}_QUICK"), 0u8) != 0
}

/// The `p`-th percentile (0..=100) of sorted `v`, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `n` as a bench id: a UUID whose last group is `n` in decimal (valid hex), with `kind`
/// in its first group, so the server can tell what an id names.
pub fn uuid_of(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012}")
}

/// The `n` of [`uuid_of`].
pub fn index_of(id: &str) -> Option<usize> {
    id.get(24..36)?.parse().ok()
}
