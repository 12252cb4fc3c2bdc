//! Leader election through a coordination.k8s.io/v1 Lease: one replica reconciles, the others
//! wait; a replica that cannot renew in time stops reconciling at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;

/// Timing of the lease.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// How long a lease holds without renewal.
    pub duration: Duration,
    /// How often the holder renews (and others retry).
    pub renew_every: Duration,
}

/// Holds or waits for the lease; publishes whether this replica leads.
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
}

fn now() -> MicroTime {
    MicroTime(jiff::Timestamp::now())
}

impl Elector {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self { api: Api::namespaced(client, &config.namespace), config }
    }

    /// One attempt to acquire or renew; Ok(true) when this replica holds the lease afterwards.
    pub async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let c = &self.config;
        let duration_secs = i32::try_from(c.duration.as_secs()).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&c.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(c.name.clone()), ..Default::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(c.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(now()),
                    renew_time: Some(now()),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_for = spec.lease_duration_seconds.map_or(c.duration, |s| Duration::from_secs(s.max(0) as u64));
        let expired = spec.renew_time.as_ref().is_none_or(|t| {
            let age = jiff::Timestamp::now().duration_since(t.0);
            age.as_secs_f64() > held_for.as_secs_f64()
        });
        if holder != c.identity && !holder.is_empty() && !expired {
            return Ok(false);
        }
        let mut new_spec = spec.clone();
        if holder != c.identity {
            new_spec.acquire_time = Some(now());
            new_spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        new_spec.holder_identity = Some(c.identity.clone());
        new_spec.lease_duration_seconds = Some(duration_secs);
        new_spec.renew_time = Some(now());
        lease.spec = Some(new_spec);
        // resourceVersion makes this a compare-and-swap: a racing replica gets 409.
        match self.api.replace(&c.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the lease up (on shutdown) so another replica takes over without waiting.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else { return };
        if let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(self.config.identity.as_str())
        {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            if let Err(e) = self.api.replace(&self.config.name, &PostParams::default(), &lease).await {
                tracing::warn!(error = %e, "releasing the leader lease failed; it expires on its own");
            }
        }
    }

    /// Campaigns forever; `leading` is true exactly while the lease was renewed within its
    /// duration.
    pub async fn run(self, leading: watch::Sender<bool>) {
        let mut last_renewal: Option<tokio::time::Instant> = None;
        // Leading holds for the lease's duration less one renewal interval after the last
        // renewal, as the others count it; an attempt may not outlast that (a hung request
        // would keep this replica leading after another took the lease).
        let holds_for = self.config.duration.saturating_sub(self.config.renew_every);
        loop {
            let allowed = match last_renewal {
                Some(t) if *leading.borrow() => holds_for.saturating_sub(t.elapsed()),
                _ => self.config.duration,
            };
            let attempt = tokio::time::timeout(allowed, self.try_acquire()).await.unwrap_or_else(|_| {
                Err(kube::Error::Service(
                    format!("no answer within {} ms, before the lease lapses", allowed.as_millis()).into(),
                ))
            });
            match attempt {
                Ok(true) => {
                    last_renewal = Some(tokio::time::Instant::now());
                    if !*leading.borrow() {
                        tracing::info!(identity = %self.config.identity, "acquired the leader lease");
                    }
                    leading.send_replace(true);
                }
                Ok(false) => {
                    if *leading.borrow() {
                        tracing::warn!("another replica holds the leader lease; stopping reconciliation");
                    }
                    last_renewal = None;
                    leading.send_replace(false);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "leader lease renewal failed");
                    // Keep leading only while the last renewal still holds.
                    if last_renewal.is_none_or(|t| t.elapsed() >= holds_for) {
                        if *leading.borrow() {
                            tracing::warn!("leader lease lapsed; stopping reconciliation");
                        }
                        leading.send_replace(false);
                    }
                }
            }
            tokio::time::sleep(self.config.renew_every).await;
        }
    }
}
