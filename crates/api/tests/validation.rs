//! Every validation rule of the GitOpsAgent schema refuses what it should, with a message that
//! names the field; valid specs pass. These run the same admission checks `render` uses, which
//! are generated from the same schema the API server enforces.

use gitops_agent_api::admission::{self, openapi_schema};
use gitops_agent_api::{AdmissionError, GitOpsAgent, admit};
use serde_json::{Value, json};

fn manifest(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "agents.gitops.dev/v1alpha1",
        "kind": "GitOpsAgent",
        "metadata": {"name": name, "namespace": "gitops-agent"},
        "spec": spec,
    })
}

fn refused(name: &str, spec: Value) -> Vec<String> {
    match admit(&manifest(name, spec)) {
        Ok(_) => panic!("spec was admitted but should have been refused"),
        Err(e) => e.field_errors().iter().map(ToString::to_string).collect(),
    }
}

#[track_caller]
fn assert_refused(spec: Value, expected: &str) {
    let errors = refused("agent", spec);
    assert!(errors.iter().any(|e| e.contains(expected)), "expected an error containing {expected:?}, got {errors:?}");
}

#[test]
fn every_cel_rule_compiles() {
    let compiled = kube::core::cel::compile_schema(openapi_schema());
    let errors: Vec<String> = compiled.compilation_errors().iter().map(|e| format!("{e:?}")).collect();
    assert!(errors.is_empty(), "CEL rules that do not compile: {errors:?}");
}

#[test]
fn an_empty_spec_gets_every_default() {
    let agent: GitOpsAgent = admit(&manifest("agent", json!({}))).expect("admitted");
    assert_eq!(agent.spec, gitops_agent_api::GitOpsAgentSpec::default());
    let agent: GitOpsAgent = admit(&json!({
        "apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent", "metadata": {"name": "a"}
    }))
    .expect("admitted without spec");
    assert!(agent.spec.read_only);
    assert_eq!(agent.spec.replicas, 2);
    assert_eq!(agent.spec.service.port, 8080);
    assert_eq!(agent.spec.metrics.port, 9090);
}

#[test]
fn autoscaling_min_must_not_exceed_max() {
    assert_refused(
        json!({"autoscaling": {"enabled": true, "minReplicas": 6, "maxReplicas": 3}}),
        "spec: Invalid value: \"object\": autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas",
    );
    // Disabled autoscaling is not checked.
    assert!(
        admit(&manifest("a", json!({"autoscaling": {"enabled": false, "minReplicas": 6, "maxReplicas": 3}}))).is_ok()
    );
}

#[test]
fn http_route_needs_hostnames_and_parent_refs() {
    assert_refused(
        json!({"httpRoute": {"enabled": true, "parentRefs": [{"name": "gw"}]}}),
        "httpRoute.enabled needs at least one entry in httpRoute.hostnames",
    );
    assert_refused(
        json!({"httpRoute": {"enabled": true, "hostnames": ["a.example.com"]}}),
        "httpRoute.enabled needs at least one entry in httpRoute.parentRefs",
    );
}

#[test]
fn tls_needs_a_secret_or_an_issuer() {
    assert_refused(json!({"tls": {"enabled": true}}), "tls.enabled needs tls.secretName");
    assert!(admit(&manifest("a", json!({"tls": {"enabled": true, "secretName": "existing"}}))).is_ok());
}

#[test]
fn an_issuer_needs_the_route_it_signs_for() {
    assert_refused(
        json!({"tls": {"enabled": true, "issuerRef": {"name": "letsencrypt-prod"}}}),
        "tls.issuerRef issues a certificate for httpRoute.hostnames, so it needs httpRoute.enabled",
    );
}

#[test]
fn create_cluster_issuer_needs_tls_and_a_cluster_issuer_ref() {
    assert_refused(
        json!({"tls": {"createClusterIssuer": {"enabled": true, "selfSigned": true}}}),
        "tls.createClusterIssuer.enabled needs tls.enabled and tls.issuerRef with kind ClusterIssuer",
    );
    let route = json!({"enabled": true, "hostnames": ["a.example.com"], "parentRefs": [{"name": "gw"}]});
    assert_refused(
        json!({"httpRoute": route, "tls": {"enabled": true, "issuerRef": {"name": "x", "kind": "Issuer"},
            "createClusterIssuer": {"enabled": true, "selfSigned": true}}}),
        "tls.createClusterIssuer.enabled needs tls.enabled and tls.issuerRef with kind ClusterIssuer",
    );
    assert_refused(
        json!({"httpRoute": route, "tls": {"enabled": true, "issuerRef": {"name": "x"},
            "createClusterIssuer": {"enabled": true}}}),
        "tls.createClusterIssuer needs tls.createClusterIssuer.acmeEmail for ACME, or selfSigned: true",
    );
}

#[test]
fn pdb_takes_exactly_one_of_min_available_and_max_unavailable() {
    assert_refused(
        json!({"pdb": {"enabled": true, "minAvailable": 1, "maxUnavailable": 1}}),
        "pdb.enabled needs exactly one of pdb.minAvailable and pdb.maxUnavailable",
    );
    assert_refused(json!({"pdb": {"enabled": true}}), "pdb.enabled needs exactly one of");
    assert!(admit(&manifest("a", json!({"pdb": {"enabled": true, "maxUnavailable": "50%"}}))).is_ok());
}

#[test]
fn tracing_needs_an_endpoint() {
    assert_refused(json!({"tracing": {"enabled": true}}), "tracing.enabled needs tracing.endpoint");
    assert_refused(
        json!({"tracing": {"enabled": true, "endpoint": "otel-collector:4317"}}),
        "spec.tracing.endpoint: Invalid value: \"otel-collector:4317\": spec.tracing.endpoint in body should match",
    );
}

#[test]
fn service_monitor_needs_metrics() {
    assert_refused(
        json!({"metrics": {"enabled": false, "serviceMonitor": {"enabled": true}}}),
        "metrics.serviceMonitor.enabled needs metrics.enabled",
    );
}

#[test]
fn metrics_and_service_ports_differ() {
    assert_refused(json!({"metrics": {"port": 8080}}), "metrics.port must differ from service.port");
}

#[test]
fn a_tool_is_not_both_enabled_and_disabled() {
    assert_refused(
        json!({"tools": {"enabled": ["get_events"], "disabled": ["get_events"]}}),
        "tools.enabled and tools.disabled must not name the same tool",
    );
}

#[test]
fn write_access_needs_rbac() {
    assert_refused(
        json!({"readOnly": false, "rbac": {"create": false}}),
        "readOnly: false grants write access through the operator's RBAC, so it needs rbac.create: true",
    );
}

#[test]
fn secret_references_the_agent_needs_are_not_optional() {
    let optional = json!({"name": "s", "key": "k", "optional": true});
    assert_refused(
        json!({"readOnly": false, "confirmationKeySecretRef": optional}),
        "confirmationKeySecretRef.optional must not be true: without the Secret each replica would seal confirmations with a key of its own",
    );
    assert_refused(
        json!({"a2a": {"taskStore": {"type": "Redis", "redis": {"urlSecretRef": optional}}}}),
        "a2a.taskStore.redis.urlSecretRef.optional must not be true",
    );
    assert_refused(
        json!({"a2a": {"pushNotifications": {"signingKeySecretRef": optional}}}),
        "a2a.pushNotifications.signingKeySecretRef.optional must not be true",
    );
    let required = json!({"name": "s", "key": "k", "optional": false});
    let spec = json!({"readOnly": false, "confirmationKeySecretRef": required,
        "a2a": {"taskStore": {"type": "Redis", "redis": {"urlSecretRef": required}},
            "pushNotifications": {"signingKeySecretRef": required}}});
    assert!(admit(&manifest("a", spec)).is_ok(), "optional: false says what the field means anyway");
}

#[test]
fn watch_namespaces_are_unique_dns_labels() {
    assert_refused(json!({"watchNamespaces": ["a", "a"]}), "watchNamespaces must not list a namespace twice");
    assert_refused(json!({"watchNamespaces": ["Team_A"]}), "spec.watchNamespaces[0]: Invalid value: \"Team_A\"");
}

#[test]
fn the_name_must_fit_its_children() {
    let errors = refused(&"a".repeat(48), json!({}));
    assert!(errors.iter().any(|e| e.contains("metadata.name must be at most 47 characters")), "{errors:?}");
    let errors = refused("1agent", json!({}));
    assert!(errors.iter().any(|e| e.contains("metadata.name must be a DNS-1035 label")), "{errors:?}");
}

#[test]
fn structural_checks_name_the_field() {
    assert_refused(
        json!({"replicas": -1}),
        "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
    );
    assert_refused(json!({"replicas": "two"}), "spec.replicas in body must be of type integer");
    assert_refused(
        json!({"logLevel": "verbose"}),
        "spec.logLevel: Unsupported value: \"verbose\": supported values: \"debug\", \"info\", \"warn\", \"error\"",
    );
    assert_refused(
        json!({"service": {"port": 70000}}),
        "spec.service.port in body should be less than or equal to 65535",
    );
    assert_refused(
        json!({"tools": {"enabled": ["delete_everything"]}}),
        "spec.tools.enabled[0]: Unsupported value: \"delete_everything\"",
    );
    assert_refused(json!({"httpRoute": {"hostnames": ["Not A Host"]}}), "spec.httpRoute.hostnames[0]: Invalid value");
}

#[test]
fn unknown_fields_are_refused() {
    assert_refused(json!({"replicaCount": 2}), "unknown field \"spec.replicaCount\"");
    assert_refused(json!({"securityContext": {"runAsRoot": true}}), "unknown field \"spec.securityContext.runAsRoot\"");
}

#[test]
fn wrong_kind_and_missing_name_are_refused() {
    let err = admit(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})).unwrap_err();
    assert!(matches!(err, AdmissionError::WrongKind { .. }), "{err}");
    let err =
        admit(&json!({"apiVersion": "agents.gitops.dev/v1alpha1", "kind": "GitOpsAgent", "metadata": {}})).unwrap_err();
    assert!(err.to_string().contains("metadata.name: Required value"), "{err}");
}

#[test]
fn the_whole_error_reads_like_the_api_servers() {
    let err = admit(&manifest("agent", json!({"replicas": -1}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "GitOpsAgent.agents.gitops.dev \"agent\" is invalid: spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"
    );
}

#[test]
fn cel_rules_are_checked_on_their_own_too() {
    let defaulted = kube::core::cel::apply_defaults(
        openapi_schema(),
        &manifest("agent", json!({"autoscaling": {"enabled": true, "minReplicas": 9, "maxReplicas": 2}})),
    );
    let errors = admission::check_cel(openapi_schema(), &defaulted);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].path, "spec");
}

#[test]
fn clusters_accept_targets_a_selector_or_local_alone() {
    let agent = admit(&manifest(
        "a",
        json!({"clusters": {"targets": [{"name": "prod-eu"}, {"name": "prod-us", "secretRef": {"name": "us-admin"}}],
            "selector": {"matchLabels": {"env": "prod"}}}}),
    ))
    .expect("admitted");
    let clusters = agent.spec.clusters.expect("clusters");
    assert!(clusters.local, "local defaults to true");
    let secrets: Vec<(String, String)> = clusters.targets.iter().map(|t| t.secret()).map(|s| (s.name, s.key)).collect();
    assert_eq!(
        secrets,
        [("prod-eu-kubeconfig".to_string(), "value".to_string()), ("us-admin".to_string(), "value".to_string())],
        "the CAPI convention fills in what secretRef leaves out"
    );
    assert!(admit(&manifest("a", json!({"clusters": {}}))).is_ok(), "local alone is a source");
    assert!(admit(&manifest("a", json!({"clusters": {"local": false, "targets": [{"name": "a"}]}}))).is_ok());
    assert!(
        admit(&manifest(
            "a",
            json!({"clusters": {"local": false, "selector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]}}})
        ))
        .is_ok()
    );
}

#[test]
fn clusters_need_a_source() {
    assert_refused(json!({"clusters": {"local": false}}), "clusters needs at least one source");
    assert_refused(json!({"clusters": {"local": false, "targets": []}}), "clusters needs at least one source");
}

#[test]
fn cluster_targets_are_unique_dns_labels_other_than_local() {
    assert_refused(
        json!({"clusters": {"targets": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}}),
        "clusters.targets must not name a cluster twice",
    );
    assert_refused(json!({"clusters": {"targets": [{"name": "local"}]}}), "must not be 'local'");
    for bad in ["Prod", "prod.eu", "-prod", "prod_eu", ""] {
        let errors = refused("agent", json!({"clusters": {"targets": [{"name": bad}]}}));
        assert!(errors.iter().any(|e| e.contains("spec.clusters.targets[0].name")), "{bad:?}: {errors:?}");
    }
    let errors = refused("agent", json!({"clusters": {"targets": [{"name": "a", "secretRef": {"key": "a/b"}}]}}));
    assert!(errors.iter().any(|e| e.contains("spec.clusters.targets[0].secretRef.key")), "{errors:?}");
    let errors = refused(
        "agent",
        json!({"clusters": {"targets": [{"name": "a", "secretRef": {"name": "s", "namespace": "other"}}]}}),
    );
    assert!(
        errors.iter().any(|e| e.contains("namespace")),
        "a Secret in another namespace cannot be named: {errors:?}"
    );
}

#[test]
fn an_empty_cluster_selector_is_refused() {
    assert_refused(json!({"clusters": {"selector": {}}}), "clusters.selector needs matchLabels or matchExpressions");
    assert_refused(
        json!({"clusters": {"selector": {"matchLabels": {}, "matchExpressions": []}}}),
        "clusters.selector needs matchLabels or matchExpressions",
    );
}
