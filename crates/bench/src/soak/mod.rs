//! `make soak`: long runs of the release binaries under steady churn and repeated faults, that
//! prove nothing leaks. Each run samples its processes every SOAK_SAMPLE_SECONDS (default 10),
//! prints the samples as a table, writes them under bench/results/ (`<date>-soak-<name>.md` and
//! `.json`, which scripts/soak-plot.py draws) and fails when a check fails: memory that grows
//! more than 10 % between minute 5 and the last minute, file descriptors or tasks that grow,
//! a wrong answer after a fault, an orphaned child, a write loop.
//!
//! Environment: SOAK_MINUTES (default 30), SOAK_SAMPLE_SECONDS (default 10); each run's own
//! knobs are in its module.

pub mod agent;
pub mod operator;

use std::fmt::Write as _;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use fake_apiserver::process::{open_fds, rss_mib, threads};
use serde_json::{Value, json};

use crate::{knobs, paths};

/// How long a run lasts and how often it samples.
pub struct Timing {
    pub total: Duration,
    pub every: Duration,
}

impl Timing {
    pub fn from_env() -> Timing {
        Timing {
            total: Duration::from_secs(knobs::number("SOAK_MINUTES", 30).max(1) * 60),
            every: Duration::from_secs(knobs::number("SOAK_SAMPLE_SECONDS", 10).max(1)),
        }
    }

    /// The window memory is compared from (minute 5 of a run of 6 minutes or more: start-up,
    /// cache fill and the first faults are behind it) and the last minute.
    pub fn windows(&self) -> (Range<f64>, Range<f64>) {
        let total = self.total.as_secs_f64();
        let span = (total / 3.0).min(60.0);
        let from = (total / 3.0).min(240.0);
        (from..from + span, total - span..total + 1.0)
    }

    /// For a process whose memory follows its role (an operator replica leads, then stands by):
    /// one `cycle` (a term in each role) from minute 5, and the last `cycle`. A single minute
    /// judged a replica by the role it happened to hold then.
    pub fn cycle_windows(&self, cycle: Duration) -> (Range<f64>, Range<f64>) {
        let (base, _) = self.windows();
        let total = self.total.as_secs_f64();
        let cycle = cycle.as_secs_f64().min(total / 3.0).max(base.end - base.start);
        (base.start..base.start + cycle, total - cycle..total + 1.0)
    }

    /// For counts that move with load and role (descriptors: idle pooled connections, a leader's
    /// watches): the range they took over a third of the run from minute 5, which holds a fault of
    /// each kind and a failover each way with the default intervals, and the last minute. One
    /// minute of baseline judged the operator's leader by whichever replica led in it (61 FDs, then
    /// 51 to 78 over the run with no trend).
    pub fn range_windows(&self) -> (Range<f64>, Range<f64>) {
        let (base, last) = self.windows();
        let total = self.total.as_secs_f64();
        (base.start..(base.start + total / 3.0).max(base.end), last)
    }
}

/// What a run is doing (steady, a fault, a recovery): set by its fault loop, read with each sample.
pub struct Phase(std::sync::Mutex<String>);

impl Phase {
    pub fn steady() -> Phase {
        Phase(std::sync::Mutex::new("steady".into()))
    }

    pub fn get(&self) -> String {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub fn set(&self, phase: &str) {
        if let Ok(mut p) = self.0.lock() {
            *p = phase.to_string();
        }
    }
}

/// RSS (MiB), open file descriptors and threads of a process.
pub fn process_columns(pid: u32) -> [f64; 3] {
    [rss_mib(pid), open_fds(pid) as f64, threads(pid) as f64]
}

/// Samples of a run: one row per sampling time, with the phase the run was in.
pub struct Series {
    pub columns: Vec<String>,
    rows: Vec<(f64, String, Vec<f64>)>,
}

impl Series {
    pub fn new(columns: &[&str]) -> Series {
        Series { columns: columns.iter().map(|c| c.to_string()).collect(), rows: Vec::new() }
    }

    pub fn push(&mut self, at: Duration, phase: &str, values: Vec<f64>) {
        debug_assert_eq!(values.len(), self.columns.len());
        self.rows.push((at.as_secs_f64(), phase.to_string(), values));
    }

    fn column(&self, name: &str) -> usize {
        self.columns.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"))
    }

    /// The values of `column` sampled within `window` (seconds from the start).
    pub fn values(&self, column: &str, window: &Range<f64>) -> Vec<f64> {
        let i = self.column(column);
        self.rows.iter().filter(|(at, _, _)| window.contains(at)).map(|(_, _, v)| v[i]).collect()
    }

    pub fn last(&self, column: &str) -> f64 {
        let i = self.column(column);
        self.rows.last().map_or(0.0, |(_, _, v)| v[i])
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| minute | phase | {} |\n", self.columns.join(" | "));
        let _ = writeln!(out, "|---|---|{}", "---|".repeat(self.columns.len()));
        for (at, phase, values) in &self.rows {
            let cells: Vec<String> =
                values.iter().map(|v| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }).collect();
            let _ = writeln!(out, "| {:.1} | {phase} | {} |", at / 60.0, cells.join(" | "));
        }
        out
    }

    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|(at, phase, values)| {
                let mut row = json!({"seconds": at, "phase": phase});
                for (c, v) in self.columns.iter().zip(values) {
                    row[c] = json!(v);
                }
                row
            })
            .collect();
        json!({"columns": self.columns, "rows": rows})
    }
}

/// One pass/fail verdict of a run.
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Check {
        Check { name: name.into(), passed, detail: detail.into() }
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Memory: the last window's mean at most `limit_pct` above the baseline window's mean.
pub fn grows_at_most(series: &Series, column: &str, timing: &Timing, limit_pct: f64) -> Check {
    grows_at_most_between(series, column, timing.windows(), limit_pct)
}

/// [`grows_at_most`] over windows of the caller's choosing (e.g. [`Timing::cycle_windows`]).
pub fn grows_at_most_between(
    series: &Series,
    column: &str,
    (base, last): (Range<f64>, Range<f64>),
    limit_pct: f64,
) -> Check {
    let (b, l) = (mean(&series.values(column, &base)), mean(&series.values(column, &last)));
    let growth = if b > 0.0 { (l - b) / b * 100.0 } else { 0.0 };
    Check::new(
        format!("{column} grows at most {limit_pct:.0} %"),
        b > 0.0 && growth <= limit_pct,
        format!(
            "{b:.1} (minutes {:.1}-{:.1}) → {l:.1} (minutes {:.1}-{:.1}), {growth:+.1} %",
            base.start / 60.0,
            base.end / 60.0,
            last.start / 60.0,
            (last.end - 1.0) / 60.0
        ),
    )
}

/// Counts that move with load (descriptors, tasks, threads): the last window's median no higher
/// than the most the baseline range saw.
pub fn does_not_grow(series: &Series, column: &str, timing: &Timing) -> Check {
    let (base, last) = timing.range_windows();
    let b = series.values(column, &base).into_iter().fold(0.0, f64::max);
    let l = median(&series.values(column, &last));
    Check::new(
        format!("{column} does not grow"),
        b > 0.0 && l <= b,
        format!("at most {b:.0} in minutes {:.1}-{:.1}, median {l:.0} in the last", base.start / 60.0, base.end / 60.0),
    )
}

/// Prints the run and writes `<date>-soak-<name>.md` and `.json` under bench/results/; an error
/// when a check failed.
pub fn report(name: &str, title: &str, series: &Series, checks: &[Check], notes: &str) -> crate::Outcome {
    let mut md = format!("## {title}\n\n{notes}\n\n| check | result | figures |\n|---|---|---|\n");
    for c in checks {
        let _ = writeln!(md, "| {} | {} | {} |", c.name, if c.passed { "pass" } else { "FAIL" }, c.detail);
    }
    let _ = write!(md, "\n{}", series.markdown());
    println!("{md}");
    let dir = paths::results_dir();
    std::fs::create_dir_all(&dir)?;
    let date = jiff::Zoned::now().strftime("%Y-%m-%d").to_string();
    let path = |ext: &str| -> PathBuf { dir.join(format!("{date}-soak-{name}.{ext}")) };
    std::fs::write(path("md"), &md)?;
    let checks: Vec<Value> =
        checks.iter().map(|c| json!({"name": c.name, "passed": c.passed, "detail": c.detail})).collect();
    let mut figures = series.json();
    figures["title"] = json!(title);
    figures["checks"] = json!(checks);
    std::fs::write(path("json"), serde_json::to_string_pretty(&figures)?)?;
    eprintln!("wrote {} and {}", path("md").display(), path("json").display());
    let failed: Vec<&str> = checks.iter().filter(|c| c["passed"] == false).filter_map(|c| c["name"].as_str()).collect();
    if failed.is_empty() { Ok(()) } else { Err(format!("soak {name} failed: {}", failed.join("; ")).into()) }
}
