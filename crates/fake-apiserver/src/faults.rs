//! Fault injection for reliability tests: latency, error bursts, dropped watches, forced 410 Gone,
//! and outage windows. Set at start or changed at run time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The faults in force. Every field's zero value means "no fault".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// Added to every API request.
    pub latency_ms: u64,
    /// Share of API requests answered with `error_code` (0.0–1.0).
    pub error_rate: f64,
    /// 500 or 429 (429 carries Retry-After).
    pub error_code: u16,
    /// Seconds for Retry-After on 429 and outage responses.
    pub retry_after_secs: u64,
    /// Watches are closed this long after they start.
    pub drop_watches_after_ms: u64,
    /// The next watches (this many) get 410 Gone, forcing clients to relist.
    pub gone_watches: u32,
    /// Every API request fails with 503 for this long from when it is set.
    pub outage_ms: u64,
}

pub struct Faults {
    config: Mutex<(FaultConfig, Option<Instant>)>,
    rng: Mutex<u64>,
    /// Bumped when open watches must end: an API server that goes away breaks its connections.
    cuts: tokio::sync::watch::Sender<u64>,
}

/// What a request meets.
pub enum Verdict {
    Pass,
    Fail { code: u16, retry_after: Option<u64> },
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let faults = Self {
            config: Mutex::new((FaultConfig::default(), None)),
            rng: Mutex::new(0x9e37_79b9_7f4a_7c15),
            cuts: tokio::sync::watch::Sender::new(0),
        };
        faults.set(config);
        faults
    }

    /// Sets the faults. An outage or a watch lifetime also ends the watches already open, as a
    /// real API server that goes away (or a proxy that cuts connections) does.
    /// The faults are stored before the cut is signalled: a cut watch reconnects at once and must
    /// meet the new faults (a forced 410 Gone), not the old ones.
    pub fn set(&self, config: FaultConfig) {
        let cut = config.outage_ms > 0 || config.drop_watches_after_ms > 0;
        let outage_until = (config.outage_ms > 0).then(|| Instant::now() + Duration::from_millis(config.outage_ms));
        if let Ok(mut c) = self.config.lock() {
            *c = (config, outage_until);
        }
        if cut {
            self.cuts.send_modify(|generation| *generation += 1);
        }
    }

    pub fn get(&self) -> FaultConfig {
        self.config.lock().map(|c| c.0.clone()).unwrap_or_default()
    }

    fn random(&self) -> f64 {
        let mut s = self.rng.lock().map(|g| *g).unwrap_or(1);
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if let Ok(mut g) = self.rng.lock() {
            *g = s;
        }
        (s >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.get().latency_ms)
    }

    pub fn verdict(&self) -> Verdict {
        let Ok(guard) = self.config.lock() else { return Verdict::Pass };
        let (config, outage_until) = &*guard;
        if outage_until.is_some_and(|until| Instant::now() < until) {
            return Verdict::Fail { code: 503, retry_after: Some(config.retry_after_secs.max(1)) };
        }
        let (rate, code, retry) = (config.error_rate, config.error_code, config.retry_after_secs);
        drop(guard);
        if rate > 0.0 && self.random() < rate {
            let code = if code == 0 { 500 } else { code };
            return Verdict::Fail { code, retry_after: (code == 429).then_some(retry.max(1)) };
        }
        Verdict::Pass
    }

    /// Whether this watch must get 410 Gone (consumes one).
    pub fn take_gone(&self) -> bool {
        let Ok(mut c) = self.config.lock() else { return false };
        if c.0.gone_watches > 0 {
            c.0.gone_watches -= 1;
            true
        } else {
            false
        }
    }

    /// Changes when open watches must end. A watch takes it before it reads the faults, so a
    /// `set` between the two either reaches it as a cut or is what it read.
    pub fn cut_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.cuts.subscribe()
    }

    pub fn watch_lifetime(&self) -> Option<Duration> {
        let ms = self.get().drop_watches_after_ms;
        (ms > 0).then(|| Duration::from_millis(ms))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A watch cut by `set` reconnects at once; if the cut were signalled before the new faults
    /// were stored, the reconnect could miss the 410 Gone meant for it and resume instead of
    /// relisting. A thread spinning on the signal is the fastest possible reconnect.
    #[test]
    fn a_watch_cut_by_new_faults_reconnects_under_them() {
        for round in 0..2_000 {
            let faults = Arc::new(Faults::new(FaultConfig::default()));
            let cut = faults.cut_signal();
            let reconnect = {
                let faults = Arc::clone(&faults);
                std::thread::spawn(move || {
                    while !cut.has_changed().unwrap_or(true) {
                        std::hint::spin_loop();
                    }
                    faults.take_gone()
                })
            };
            faults.set(FaultConfig { drop_watches_after_ms: 600_000, gone_watches: 1, ..FaultConfig::default() });
            let gone = reconnect.join().unwrap_or(false);
            assert!(gone, "round {round}: the reconnect met the old faults");
        }
    }
}
