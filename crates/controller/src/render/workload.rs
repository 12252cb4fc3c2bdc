//! The agent's Deployment: hardened pod, probes, spread, and the server's command line.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HTTPGetAction, ObjectFieldSelector,
    PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec, Probe, SecretKeySelector, TopologySpreadConstraint,
    Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RenderError;
use super::meta::{CONFIG_HASH_ANNOTATION, Context, stable_hash};
use super::{clusters, push};
use gitops_agent_api::spec::{AuthMode, TaskStoreSpec, default_pod_security_context, default_security_context};

pub const CONTAINER_NAME: &str = "agent";
pub const HTTP_PORT_NAME: &str = "http";
pub const METRICS_PORT_NAME: &str = "metrics";

pub fn deployment(ctx: &Context) -> Result<Deployment, RenderError> {
    let spec = ctx.spec;
    let args = server_args(ctx);
    let env = merge_by_name(builtin_env(ctx), &spec.extra_env, |e| &e.name);
    let config_hash = stable_hash(serde_json::to_string(&(&args, &env, &ctx.image)).unwrap_or_default().as_bytes());

    let mut ports = vec![container_port(HTTP_PORT_NAME, spec.service.port)];
    if spec.metrics.enabled {
        ports.push(container_port(METRICS_PORT_NAME, spec.metrics.port));
    }
    let tmp = Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource { size_limit: Some(Quantity("64Mi".into())), ..Default::default() }),
        ..Default::default()
    };
    let tmp_mount = VolumeMount { name: "tmp".into(), mount_path: "/tmp".into(), ..Default::default() };
    let volumes: Vec<Volume> = std::iter::once(tmp).chain(clusters::volume(ctx)).chain(push::volume(ctx)).collect();
    let mounts: Vec<VolumeMount> =
        std::iter::once(tmp_mount).chain(clusters::volume_mount(ctx)).chain(push::volume_mount(ctx)).collect();

    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(ctx.image.clone()),
        image_pull_policy: Some(format!("{:?}", spec.image.pull_policy)),
        args: Some(args),
        env: Some(env),
        ports: Some(ports),
        resources: Some(spec.resources.clone()),
        security_context: Some(overlay(&default_security_context(), &spec.security_context, "securityContext")?),
        liveness_probe: Some(probe("/healthz", 10, 3)),
        readiness_probe: Some(probe("/readyz", 5, 3)),
        startup_probe: Some(probe("/healthz", 2, 30)),
        volume_mounts: Some(merge_by_name(mounts, &spec.extra_volume_mounts, |m| &m.mount_path)),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Default::default()
    };

    let mut pod_labels = ctx.labels.clone();
    pod_labels.extend(spec.pod_labels.clone());
    pod_labels.extend(ctx.selector());
    let mut pod_annotations = spec.pod_annotations.clone();
    pod_annotations.insert(CONFIG_HASH_ANNOTATION.into(), config_hash);

    let spread = ctx.min_replicas() >= 2;
    let pod = PodSpec {
        service_account_name: Some(ctx.service_account_name()),
        automount_service_account_token: Some(true),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(30),
        security_context: Some(overlay(
            &default_pod_security_context(),
            &spec.pod_security_context,
            "podSecurityContext",
        )?),
        containers: vec![container],
        volumes: Some(merge_by_name(volumes, &spec.extra_volumes, |v| &v.name)),
        node_selector: non_empty_map(&spec.node_selector),
        tolerations: non_empty(&spec.tolerations),
        affinity: spec.affinity.clone().or_else(|| spread.then(|| anti_affinity(ctx))),
        topology_spread_constraints: non_empty(&spec.topology_spread_constraints)
            .or_else(|| spread.then(|| default_spread(ctx))),
        priority_class_name: spec.priority_class_name.clone(),
        image_pull_secrets: non_empty(&spec.image_pull_secrets),
        ..Default::default()
    };

    Ok(Deployment {
        metadata: ctx.meta(ctx.name.clone()),
        spec: Some(DeploymentSpec {
            // The HPA owns the replica count when autoscaling; setting it here would fight it.
            replicas: (!spec.autoscaling.enabled).then_some(spec.replicas),
            revision_history_limit: Some(5),
            selector: LabelSelector { match_labels: Some(ctx.selector()), ..Default::default() },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(pod_annotations),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The agent server's command line: every setting the spec gives it.
fn server_args(ctx: &Context) -> Vec<String> {
    let spec = ctx.spec;
    let mut args = vec![
        "serve".to_string(),
        "--transport=http".to_string(),
        format!("--port={}", spec.service.port),
        format!("--read-only={}", spec.read_only),
        format!("--log-level={}", spec.log_level.as_str()),
        format!("--log-format={}", spec.log_format.as_str()),
    ];
    args.push(if spec.metrics.enabled {
        format!("--metrics-port={}", spec.metrics.port)
    } else {
        "--metrics-port=0".to_string()
    });
    if spec.metrics.enabled && spec.metrics.path != "/metrics" {
        args.push(format!("--metrics-path={}", spec.metrics.path));
    }
    if !spec.watch_namespaces.is_empty() {
        args.push(format!("--watch-namespaces={}", spec.watch_namespaces.join(",")));
    }
    if !spec.tools.enabled.is_empty() || !spec.tools.disabled.is_empty() {
        let tools: Vec<&str> = spec.effective_tools().iter().map(|t| t.as_str()).collect();
        args.push(format!("--tools={}", tools.join(",")));
    }
    if let Some(url) = ctx.public_url() {
        args.push(format!("--base-url={url}"));
    }
    match spec.auth.mode {
        AuthMode::Kubernetes => args.push("--auth=kubernetes".to_string()),
        // Pods listen on every address: the server refuses `none` there unless told it is meant.
        AuthMode::None => args.extend(["--auth=none".to_string(), "--allow-unauthenticated".to_string()]),
    }
    if !spec.auth.issuers.is_empty() {
        args.push(format!("--auth-issuers={}", spec.auth.issuers.join(",")));
    }
    if !spec.auth.audiences.is_empty() {
        args.push(format!("--auth-audiences={}", spec.auth.audiences.join(",")));
    }
    args.extend(clusters::args(ctx));
    let store = &spec.a2a.task_store;
    if let Some(url) = store.redis.as_ref().and_then(|r| r.url.as_ref()) {
        args.push(format!("--task-store={url}"));
    }
    let defaults = TaskStoreSpec::default();
    if store.max_tasks != defaults.max_tasks {
        args.push(format!("--task-max={}", store.max_tasks));
    }
    if store.ttl_seconds != defaults.ttl_seconds {
        args.push(format!("--task-ttl-seconds={}", store.ttl_seconds));
    }
    args.extend(push::args(ctx));
    args
}

fn builtin_env(ctx: &Context) -> Vec<EnvVar> {
    let field = |name: &str, path: &str| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector { field_path: path.into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let value = |name: &str, value: String| EnvVar { name: name.into(), value: Some(value), ..Default::default() };
    let secret = |name: &str, selector: &SecretKeySelector| EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource { secret_key_ref: Some(selector.clone()), ..Default::default() }),
        ..Default::default()
    };
    let mut env = vec![field("POD_NAME", "metadata.name"), field("POD_NAMESPACE", "metadata.namespace")];
    // A Redis URL with a password stays in its Secret; the server reads it from the environment.
    if let Some(selector) = ctx.spec.a2a.task_store.redis.as_ref().and_then(|r| r.url_secret_ref.as_ref()) {
        env.push(secret("GITOPS_AGENT_TASK_STORE", selector));
    }
    // Replicas accept each other's sealed confirmation states only when they share this key.
    if let Some(selector) = &ctx.spec.confirmation_key_secret_ref {
        env.push(secret("GITOPS_AGENT_REQUEST_STATE_KEY", selector));
    }
    let tracing = &ctx.spec.tracing;
    if let (true, Some(endpoint)) = (tracing.enabled, &tracing.endpoint) {
        env.push(value("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()));
        env.push(value("OTEL_SERVICE_NAME", format!("gitops-agent.{}.{}", ctx.namespace, ctx.name)));
        env.push(value("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".into()));
        env.push(value("OTEL_TRACES_SAMPLER_ARG", format!("{:.2}", f64::from(tracing.sampling_percentage) / 100.0)));
    }
    env
}

fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort { name: Some(name.into()), container_port: port, protocol: Some("TCP".into()), ..Default::default() }
}

fn probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(HTTP_PORT_NAME.into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

fn anti_affinity(ctx: &Context) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                weight: 100,
                pod_affinity_term: PodAffinityTerm {
                    label_selector: Some(LabelSelector { match_labels: Some(ctx.selector()), ..Default::default() }),
                    topology_key: "kubernetes.io/hostname".into(),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn default_spread(ctx: &Context) -> Vec<TopologySpreadConstraint> {
    ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
        .into_iter()
        .map(|key| TopologySpreadConstraint {
            max_skew: 1,
            topology_key: key.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            label_selector: Some(LabelSelector { match_labels: Some(ctx.selector()), ..Default::default() }),
            ..Default::default()
        })
        .collect()
}

/// `top` over `base`, field by field: what the user set wins, what they left unset keeps the
/// hardened default.
fn overlay<T: Serialize + DeserializeOwned>(base: &T, top: &T, field: &'static str) -> Result<T, RenderError> {
    fn merge(base: &mut serde_json::Value, top: serde_json::Value) {
        match (base, top) {
            (serde_json::Value::Object(b), serde_json::Value::Object(t)) => {
                for (k, v) in t {
                    merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, t) if !t.is_null() => *b = t,
            _ => {}
        }
    }
    let invalid = |e: serde_json::Error| RenderError::Invalid { field, message: e.to_string() };
    let mut merged = serde_json::to_value(base).map_err(invalid)?;
    merge(&mut merged, serde_json::to_value(top).map_err(invalid)?);
    serde_json::from_value(merged).map_err(invalid)
}

/// Built-in entries, with user entries of the same key replacing them in place and new ones
/// appended: lists keyed by name must not hold a name twice (server-side apply refuses them).
fn merge_by_name<T: Clone>(builtin: Vec<T>, extra: &[T], key: impl Fn(&T) -> &String) -> Vec<T> {
    let mut out = builtin;
    for item in extra {
        match out.iter_mut().find(|b| key(b) == key(item)) {
            Some(slot) => *slot = item.clone(),
            None => out.push(item.clone()),
        }
    }
    out
}

fn non_empty<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn non_empty_map(m: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then(|| m.clone())
}
