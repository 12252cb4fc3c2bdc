//! Property test of render (the fuzzing of the operator): any GitOpsAgent the API server would
//! admit (OpenAPI schema and CEL rules) renders without panic or error into children with valid
//! names and labels. `PROPTEST_CASES` raises the number of cases for long local runs.

use gitops_agent_api::admit;
use gitops_agent_api::tools::ToolName;
use gitops_agent_controller::render::{OperatorDefaults, render};
use proptest::prelude::*;
use serde_json::{Value, json};

fn dns_label() -> impl Strategy<Value = String> {
    "[a-z]([-a-z0-9]{0,10}[a-z0-9])?"
}

fn tools() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(ToolName::ALL.iter().map(|t| t.as_str().to_string()).collect::<Vec<_>>(), 0..4)
}

prop_compose! {
    fn spec()(
        replicas in 0i32..6,
        read_only in any::<bool>(),
        rbac in any::<bool>(),
        autoscaling in (any::<bool>(), 1i32..4, 1i32..8),
        pdb in prop_oneof![Just(json!({"enabled": false})), Just(json!({"enabled": true, "minAvailable": 1})), Just(json!({"enabled": true, "maxUnavailable": "50%"}))],
        metrics in (any::<bool>(), 1024i32..65535, any::<bool>()),
        network_policy in any::<bool>(),
        namespaces in prop::collection::btree_set(dns_label(), 0..4),
        (enabled, disabled) in (tools(), tools()),
        route in prop::option::of((prop::collection::vec("[a-z]{1,8}\\.example\\.com", 1..3), dns_label(), any::<bool>())),
        store in prop_oneof![Just(json!({})), Just(json!({"type": "Redis", "redis": {"url": "redis://redis.cache:6379/1"}})),
            Just(json!({"type": "Redis", "redis": {"urlSecretRef": {"name": "r", "key": "url"}}, "maxTasks": 10, "ttlSeconds": 60}))],
        tracing in any::<bool>(),
        name in "[a-z][-a-z0-9]{0,46}",
    ) -> Value {
        let (autoscale, min, max) = autoscaling;
        let (metrics_on, metrics_port, monitor) = metrics;
        let mut spec = json!({
            "replicas": replicas, "readOnly": read_only, "rbac": {"create": rbac},
            "autoscaling": {"enabled": autoscale, "minReplicas": min, "maxReplicas": max},
            "pdb": pdb,
            "metrics": {"enabled": metrics_on, "port": metrics_port, "serviceMonitor": {"enabled": monitor}},
            "networkPolicy": {"enabled": network_policy},
            "watchNamespaces": namespaces.into_iter().collect::<Vec<_>>(),
            "tools": {"enabled": enabled, "disabled": disabled},
            "a2a": {"taskStore": store},
            "tracing": {"enabled": tracing, "endpoint": "http://otel-collector.monitoring:4317"},
        });
        if let Some((hostnames, gateway, tls)) = route {
            spec["httpRoute"] = json!({"enabled": true, "hostnames": hostnames, "parentRefs": [{"name": gateway, "namespace": "gateways"}]});
            if tls {
                spec["tls"] = json!({"enabled": true, "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}});
            }
        }
        json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent",
               "metadata": {"name": name, "namespace": "team-a", "uid": "0b7c1a52-4c5e-4a43-9d7e-6a4f0f6f3c11"}, "spec": spec})
    }
}

proptest! {
    #[test]
    fn every_admitted_spec_renders_into_valid_children(manifest in spec()) {
        let Ok(agent) = admit(&manifest) else { return Ok(()) };
        let children = render(&agent, &OperatorDefaults::default());
        prop_assert!(children.is_ok(), "{manifest}: {children:?}");
        for child in children.unwrap_or_default() {
            prop_assert!(child.naming_problem().is_none(), "{manifest}: {:?}", child.naming_problem());
        }
    }
}
