//! Prometheus metrics, with exactly the predecessor's names (dashboards and the guide's alert
//! `http_requests_total{status=~"5.."}` keep working) plus tool latency and cache sizes.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub path: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub path: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// The fleet member the request went to (`local` for the agent's own cluster).
    pub cluster: String,
    pub verb: String,
    pub resource: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    pub tool: String,
    pub status: String,
    /// `mcp` or `a2a` (`mcp-resource`, `mcp-prompt`: reads behind MCP resources and prompts).
    pub protocol: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolNameLabels {
    pub tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub cluster: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    pub cluster: String,
}

pub struct Metrics {
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<RouteLabels, Histogram>,
    pub api_calls: Family<ApiLabels, Counter>,
    pub tool_calls: Family<ToolLabels, Counter>,
    pub tool_duration: Family<ToolNameLabels, Histogram>,
    pub cache_objects: Family<KindLabels, Gauge>,
    pub cache_ready: Family<ClusterLabels, Gauge>,
    /// Push notifications by how they ended: delivered, failed (given up), refused (address).
    pub push_deliveries: Family<OutcomeLabels, Counter>,
    /// Each try of a push notification: ok, 3xx, 4xx, 5xx, error, timeout, refused.
    pub push_attempts: Family<OutcomeLabels, Counter>,
    /// MCP resource subscriptions: (subscriber, URI) pairs held now.
    pub resource_subscriptions: Gauge,
    /// MCP resource notifications by outcome: updated, list_changed (sent), refused (the caller
    /// may no longer read the resource), dropped (the client's queue was full or gone).
    pub resource_notifications: Family<OutcomeLabels, Counter>,
    /// Set when /metrics is read: a task leak shows as growth over a soak run.
    pub runtime_tasks: Gauge,
    registry: Mutex<Registry>,
}

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(latency as fn() -> Histogram);
        let api_calls = Family::<ApiLabels, Counter>::default();
        let tool_calls = Family::<ToolLabels, Counter>::default();
        let tool_duration = Family::<ToolNameLabels, Histogram>::new_with_constructor(latency as fn() -> Histogram);
        let cache_objects = Family::<KindLabels, Gauge>::default();
        let cache_ready = Family::<ClusterLabels, Gauge>::default();
        let runtime_tasks = Gauge::default();
        let resource_subscriptions = Gauge::default();
        let resource_notifications = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "mcp_resource_subscriptions",
            "MCP resource subscriptions held (one per subscriber and resource URI)",
            resource_subscriptions.clone(),
        );
        for outcome in ["updated", "list_changed", "refused", "dropped"] {
            let _ = resource_notifications.get_or_create(&OutcomeLabels { outcome: outcome.into() });
        }
        registry.register(
            "mcp_resource_notifications",
            "MCP resource notifications by outcome (updated and list_changed sent; refused: the caller may not read it; dropped: the client's queue was full or gone)",
            resource_notifications.clone(),
        );
        let push_deliveries = Family::<OutcomeLabels, Counter>::default();
        let push_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "a2a_push_deliveries",
            "A2A push notifications by outcome (delivered, failed after every retry, refused address)",
            push_deliveries.clone(),
        );
        // Every outcome is exported from the start, at 0, so a rate over it exists before the
        // first notification.
        for outcome in ["delivered", "failed", "refused"] {
            let _ = push_deliveries.get_or_create(&OutcomeLabels { outcome: outcome.into() });
        }
        for outcome in ["ok", "3xx", "4xx", "5xx", "error", "timeout", "refused"] {
            let _ = push_attempts.get_or_create(&OutcomeLabels { outcome: outcome.into() });
        }
        registry.register(
            "a2a_push_attempts",
            "Tries of A2A push notifications by outcome (ok, 3xx, 4xx, 5xx, error, timeout, refused)",
            push_attempts.clone(),
        );
        registry.register("http_requests", "HTTP requests by method, path and status", http_requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", http_duration.clone());
        registry.register(
            "k8s_api_calls",
            "Kubernetes API requests by cluster, verb, resource and status code",
            api_calls.clone(),
        );
        registry.register(
            "tool_calls",
            "Tool calls by tool, status (success, error, invalid, not_confirmed, input_required, cancelled) and protocol (mcp, a2a; mcp-resource and mcp-prompt for the reads behind resources and prompts)",
            tool_calls.clone(),
        );
        registry.register("tool_call_duration_seconds", "Tool call latency", tool_duration.clone());
        registry.register(
            "cache_objects",
            "Objects held in the watch cache, by cluster and resource",
            cache_objects.clone(),
        );
        registry.register(
            "cache_ready",
            "1 once every watch cache of the cluster has listed its objects",
            cache_ready.clone(),
        );
        registry.register("runtime_tasks", "Tasks alive in the async runtime", runtime_tasks.clone());
        Self {
            http_requests,
            http_duration,
            api_calls,
            tool_calls,
            tool_duration,
            cache_objects,
            cache_ready,
            push_deliveries,
            push_attempts,
            resource_subscriptions,
            resource_notifications,
            runtime_tasks,
            registry: Mutex::new(registry),
        }
    }
}

impl Metrics {
    pub fn tool_call(&self, tool: &str, protocol: &str, status: &str, seconds: f64) {
        self.tool_calls
            .get_or_create(&ToolLabels { tool: tool.into(), status: status.into(), protocol: protocol.into() })
            .inc();
        if status != "invalid" {
            self.tool_duration.get_or_create(&ToolNameLabels { tool: tool.into() }).observe(seconds);
        }
    }

    pub fn resource_notification(&self, outcome: &str) {
        self.resource_notifications.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
    }

    pub fn push_delivery(&self, outcome: &str) {
        self.push_deliveries.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
    }

    pub fn push_attempt(&self, outcome: &str) {
        self.push_attempts.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
    }

    pub fn http(&self, method: &str, path: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels { method: method.into(), path: path.into(), status: status.to_string() })
            .inc();
        self.http_duration.get_or_create(&RouteLabels { method: method.into(), path: path.into() }).observe(seconds);
    }

    pub fn api_call(&self, cluster: &str, verb: &str, resource: &str, code: u16) {
        let labels =
            ApiLabels { cluster: cluster.into(), verb: verb.into(), resource: resource.into(), code: code.to_string() };
        self.api_calls.get_or_create(&labels).inc();
    }

    pub fn render(&self) -> String {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.runtime_tasks.set(i64::try_from(runtime.metrics().num_alive_tasks()).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Encoding into a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        out
    }
}

/// `verb` and `resource` of a Kubernetes API request, for `k8s_api_calls_total`.
pub fn classify(method: &http::Method, uri: &http::Uri) -> (&'static str, String) {
    match crate::api_request::parse(method, uri) {
        Some(r) if r.subresource.is_empty() => (r.verb, r.resource.to_string()),
        Some(r) => (r.verb, format!("{}/{}", r.resource, r.subresource)),
        None if method == http::Method::GET => ("discovery", String::new()),
        None => ("other", String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(method: http::Method, uri: &str) -> (&'static str, String) {
        classify(&method, &uri.parse().expect("uri"))
    }

    #[test]
    fn api_requests_are_classified_like_the_api_server_audits_them() {
        assert_eq!(c(http::Method::GET, "/api/v1/namespaces/team-a/events?fieldSelector=x"), ("list", "events".into()));
        assert_eq!(
            c(http::Method::GET, "/api/v1/namespaces/team-a/pods/api-1/log?tailLines=5"),
            ("get", "pods/log".into())
        );
        assert_eq!(
            c(http::Method::GET, "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations?watch=true&resourceVersion=5"),
            ("watch", "kustomizations".into())
        );
        assert_eq!(
            c(http::Method::PATCH, "/apis/helm.toolkit.fluxcd.io/v2/namespaces/a/helmreleases/b"),
            ("patch", "helmreleases".into())
        );
        assert_eq!(c(http::Method::GET, "/apis/source.toolkit.fluxcd.io/v1"), ("discovery", String::new()));
        assert_eq!(c(http::Method::GET, "/apis"), ("discovery", String::new()));
    }

    #[test]
    fn metric_names_are_the_predecessors() {
        let m = Metrics::default();
        m.http("POST", "/mcp", 200, 0.01);
        m.api_call("local", "list", "kustomizations", 200);
        m.tool_call("list_kustomizations", "mcp", "success", 0.001);
        let text = m.render();
        for name in [
            "http_requests_total{",
            "http_request_duration_seconds_bucket{",
            "k8s_api_calls_total{",
            "tool_calls_total{",
            "tool_call_duration_seconds_bucket{",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
        assert!(text.contains(r#"http_requests_total{method="POST",path="/mcp",status="200"} 1"#));
    }
}
