//! The agent's NetworkPolicy: in, only the service ports from the Gateway's and chosen namespaces;
//! out, only DNS, the API server, the OTLP collector and the Redis task store (plus what the spec adds).

use std::collections::BTreeSet;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use gitops_agent_api::spec::{TaskStoreSpec, TaskStoreType};

use super::RenderError;
use super::meta::Context;

const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

pub fn network_policy(ctx: &Context) -> Result<Option<NetworkPolicy>, RenderError> {
    let np = &ctx.spec.network_policy;
    if !np.enabled {
        return Ok(None);
    }
    let spec = ctx.spec;

    // Pods of the agent's own namespace, the namespaces of its Gateways and of the operator
    // (which verifies the agent over MCP and A2A), and whoever the spec names.
    let mut gateway_namespaces: BTreeSet<String> = BTreeSet::new();
    if spec.http_route.enabled {
        for p in &spec.http_route.parent_refs {
            gateway_namespaces.insert(p.namespace.clone().unwrap_or_else(|| ctx.namespace.clone()));
        }
    }
    gateway_namespaces.extend(ctx.operator_namespace.iter().cloned());
    gateway_namespaces.remove(&ctx.namespace);
    let mut from = vec![NetworkPolicyPeer { pod_selector: Some(LabelSelector::default()), ..Default::default() }];
    if !gateway_namespaces.is_empty() {
        from.push(NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: NAMESPACE_NAME_LABEL.into(),
                    operator: "In".into(),
                    values: Some(gateway_namespaces.into_iter().collect()),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    from.extend(np.ingress_from.iter().cloned());
    let mut ingress = vec![NetworkPolicyIngressRule { from: Some(from), ports: Some(vec![tcp(spec.service.port)]) }];
    if spec.metrics.enabled {
        ingress.push(NetworkPolicyIngressRule {
            from: (!np.metrics_from.is_empty()).then(|| np.metrics_from.clone()),
            ports: Some(vec![tcp(spec.metrics.port)]),
        });
    }

    let mut egress = vec![
        NetworkPolicyEgressRule { to: None, ports: Some(vec![port("UDP", 53), port("TCP", 53)]) },
        NetworkPolicyEgressRule {
            to: (!np.api_server_cidrs.is_empty()).then(|| {
                np.api_server_cidrs
                    .iter()
                    .map(|cidr| NetworkPolicyPeer {
                        ip_block: Some(IPBlock { cidr: cidr.clone(), except: None }),
                        ..Default::default()
                    })
                    .collect()
            }),
            ports: Some(vec![tcp(443), tcp(6443)]),
        },
    ];
    if let (true, Some(endpoint)) = (spec.tracing.enabled, &spec.tracing.endpoint) {
        egress.push(NetworkPolicyEgressRule { to: None, ports: Some(vec![tcp(otlp_port(endpoint)?)]) });
    }
    if let Some(port) = redis_port(&spec.a2a.task_store) {
        egress.push(NetworkPolicyEgressRule { to: None, ports: Some(vec![tcp(port)]) });
    }
    if !np.egress_to.is_empty() {
        egress.push(NetworkPolicyEgressRule { to: Some(np.egress_to.clone()), ports: None });
    }

    Ok(Some(NetworkPolicy {
        metadata: ctx.meta(ctx.name.clone()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector { match_labels: Some(ctx.selector()), ..Default::default() }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    }))
}

fn port(protocol: &str, number: i32) -> NetworkPolicyPort {
    NetworkPolicyPort { protocol: Some(protocol.into()), port: Some(IntOrString::Int(number)), end_port: None }
}

fn tcp(number: i32) -> NetworkPolicyPort {
    port("TCP", number)
}

/// The port the A2A task store listens on: the Redis URL's, else Redis's default (a URL kept in a
/// Secret is not read by the operator).
fn redis_port(store: &TaskStoreSpec) -> Option<i32> {
    if store.type_ != TaskStoreType::Redis {
        return None;
    }
    let url = store.redis.as_ref().and_then(|r| r.url.as_deref()).unwrap_or("");
    let authority = url.strip_prefix("redis://").unwrap_or("").split('/').next().unwrap_or("");
    Some(authority.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(6379))
}

/// The port of an OTLP endpoint URL: explicit, or the scheme's default (OTLP gRPC's 4317 for http).
fn otlp_port(endpoint: &str) -> Result<i32, RenderError> {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("http", endpoint));
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((_, p)) => p.parse::<i32>().ok().filter(|p| (1..=65535).contains(p)).ok_or_else(|| RenderError::Invalid {
            field: "tracing.endpoint",
            message: format!("port {p:?} of {endpoint:?} is not a number from 1 to 65535"),
        }),
        None if scheme == "https" => Ok(443),
        None => Ok(4317),
    }
}

#[cfg(test)]
mod tests {
    use super::otlp_port;

    #[test]
    fn otlp_port_comes_from_the_url_or_the_scheme() {
        assert_eq!(otlp_port("http://collector:4318").ok(), Some(4318));
        assert_eq!(otlp_port("http://collector").ok(), Some(4317));
        assert_eq!(otlp_port("https://collector/").ok(), Some(443));
        assert!(otlp_port("http://collector:99999").is_err());
    }
}
