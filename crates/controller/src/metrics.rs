//! The operator's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

pub struct Metrics {
    pub reconciles: Family<ResultLabels, Counter>,
    pub errors: Family<ReasonLabels, Counter>,
    pub duration: Histogram,
    pub in_flight: Gauge,
    pub managed_objects: Family<KindLabels, Gauge>,
    pub writes: Family<KindLabels, Counter>,
    pub leader: Gauge,
    pub registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gitops_agent_operator");
        let reconciles = Family::<ResultLabels, Counter>::default();
        let errors = Family::<ReasonLabels, Counter>::default();
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        let in_flight = Gauge::default();
        let managed_objects = Family::<KindLabels, Gauge>::default();
        let writes = Family::<KindLabels, Counter>::default();
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciliations by result (success, error)", reconciles.clone());
        registry.register("reconcile_errors", "Failed reconciliations by reason", errors.clone());
        registry.register("reconcile_duration_seconds", "Time to reconcile one GitOpsAgent", duration.clone());
        registry.register(
            "reconciles_in_flight",
            "Reconciliations running now (work queue depth being served)",
            in_flight.clone(),
        );
        registry.register("managed_objects", "Child objects the operator manages, by kind", managed_objects.clone());
        registry.register("child_writes", "Server-side applies and deletes of child objects, by kind", writes.clone());
        registry.register("leader", "1 while this replica holds the leader lease", leader.clone());
        Self { reconciles, errors, duration, in_flight, managed_objects, writes, leader, registry }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
