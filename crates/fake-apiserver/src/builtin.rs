//! The built-in kinds: typed decoding (which drops unknown fields, like the real server's
//! decoder), the API server's defaults, and the validation rules a client of ours can hit.

use gitops_agent_api::schema_check::{FieldError, FieldErrorKind};
use k8s_openapi::api::{apps, autoscaling, batch, coordination, core, networking, policy, rbac};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::admission::{FieldValidation, dropped_fields, unknown_fields};
use crate::registry::ResourceType;
use crate::status::ApiError;

fn round_trip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(typed).map_err(|e| e.to_string())
}

/// Decodes through the Kubernetes type: wrong types are refused, unknown fields are found.
fn decode(rt: &ResourceType, v: &Value) -> Result<Value, String> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => round_trip::<core::v1::Namespace>(v),
        ("", "Pod") => round_trip::<core::v1::Pod>(v),
        ("", "Event") => round_trip::<core::v1::Event>(v),
        ("", "Service") => round_trip::<core::v1::Service>(v),
        ("", "ConfigMap") => round_trip::<core::v1::ConfigMap>(v),
        ("", "Secret") => round_trip::<core::v1::Secret>(v),
        ("", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(v),
        ("apps", "Deployment") => round_trip::<apps::v1::Deployment>(v),
        ("apps", "ReplicaSet") => round_trip::<apps::v1::ReplicaSet>(v),
        ("apps", "StatefulSet") => round_trip::<apps::v1::StatefulSet>(v),
        ("apps", "DaemonSet") => round_trip::<apps::v1::DaemonSet>(v),
        ("batch", "Job") => round_trip::<batch::v1::Job>(v),
        ("batch", "CronJob") => round_trip::<batch::v1::CronJob>(v),
        // events.k8s.io Events are stored (and so admitted) as core/v1 Events.
        ("events.k8s.io", "Event") => round_trip::<core::v1::Event>(v),
        ("policy", "PodDisruptionBudget") => round_trip::<policy::v1::PodDisruptionBudget>(v),
        ("autoscaling", "HorizontalPodAutoscaler") => round_trip::<autoscaling::v2::HorizontalPodAutoscaler>(v),
        ("networking.k8s.io", "NetworkPolicy") => round_trip::<networking::v1::NetworkPolicy>(v),
        ("rbac.authorization.k8s.io", "Role") => round_trip::<rbac::v1::Role>(v),
        ("rbac.authorization.k8s.io", "RoleBinding") => round_trip::<rbac::v1::RoleBinding>(v),
        ("rbac.authorization.k8s.io", "ClusterRole") => round_trip::<rbac::v1::ClusterRole>(v),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => round_trip::<rbac::v1::ClusterRoleBinding>(v),
        ("coordination.k8s.io", "Lease") => round_trip::<coordination::v1::Lease>(v),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => round_trip::<CustomResourceDefinition>(v),
        _ => Ok(v.clone()),
    }
}

pub fn admit(
    rt: &ResourceType,
    object: Value,
    old: Option<&Value>,
    validation: FieldValidation,
    errors: &mut Vec<FieldError>,
) -> Result<(Value, Vec<String>), ApiError> {
    let decoded = decode(rt, &object).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            rt.kind, rt.version, rt.kind
        ))
    })?;
    let mut unknown = Vec::new();
    dropped_fields(&object, &decoded, "", &mut unknown);
    // managedFields and other metadata round-trip; anything else dropped was unknown.
    let warnings = unknown_fields(&unknown, validation)?;
    let mut object = decoded;
    apply_defaults(rt, &mut object);
    validate(rt, &object, old, errors);
    Ok((object, warnings))
}

fn invalid(path: &str, value: &Value, detail: &str) -> FieldError {
    FieldError { path: path.into(), kind: FieldErrorKind::Invalid(value.to_string()), detail: detail.into() }
}

fn required(path: &str) -> FieldError {
    FieldError { path: path.into(), kind: FieldErrorKind::Required, detail: String::new() }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_label_value(s: &str) -> bool {
    s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

/// Object metadata rules shared by every kind.
pub fn validate_metadata(rt: &ResourceType, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        errors.push(FieldError {
            path: "metadata.name".into(),
            kind: FieldErrorKind::Required,
            detail: "name or generateName is required".into(),
        });
    } else {
        let ok = match (rt.group.as_str(), rt.kind.as_str()) {
            ("", "Namespace") | ("", "Service") => is_dns_label(name),
            ("rbac.authorization.k8s.io", _) => {
                !name.contains('/') && !name.contains('%') && name != "." && name != ".."
            }
            _ => is_dns_subdomain(name),
        };
        if !ok {
            errors.push(invalid(
                "metadata.name",
                &json!(name),
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            ));
        }
    }
    if let Some(labels) = object.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            let value = v.as_str().unwrap_or_default();
            if !is_label_value(value) {
                errors.push(invalid(
                    &format!("metadata.labels.{k}"),
                    v,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                ));
            }
        }
    }
    errors
}

/// The defaults the real API server fills in, for the fields clients look at.
fn apply_defaults(rt: &ResourceType, object: &mut Value) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment") => {
            let spec = &mut object["spec"];
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            if let Some(pod) = object.pointer_mut("/spec/template/spec") {
                pod_defaults(pod);
            }
        }
        ("", "Pod") => {
            if let Some(pod) = object.get_mut("spec") {
                pod_defaults(pod);
            }
        }
        ("", "Service") => {
            let spec = &mut object["spec"];
            default(spec, "type", json!("ClusterIP"));
            default(spec, "sessionAffinity", json!("None"));
            default(spec, "internalTrafficPolicy", json!("Cluster"));
            default(spec, "ipFamilyPolicy", json!("SingleStack"));
            default(spec, "ipFamilies", json!(["IPv4"]));
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    default(p, "protocol", json!("TCP"));
                    let port = p.get("port").cloned().unwrap_or(Value::Null);
                    default(p, "targetPort", port);
                }
            }
        }
        ("", "Namespace") => {
            default(&mut object["spec"], "finalizers", json!(["kubernetes"]));
            default(&mut object["status"], "phase", json!("Active"));
            let name = object.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
            object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        }
        ("", "Secret") => {
            // As the API server does: stringData is a write-only convenience, merged into data
            // (base64) on every write and never stored or returned.
            use base64::Engine;
            if let Some(Value::Object(plain)) = object.as_object_mut().and_then(|o| o.remove("stringData")) {
                for (key, value) in plain {
                    let text = value.as_str().unwrap_or_default();
                    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                    default(&mut object["data"], &key, Value::Null);
                    object["data"][key.as_str()] = Value::String(encoded);
                }
            }
            default(object, "type", json!("Opaque"));
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            let has_egress = object.pointer("/spec/egress").is_some();
            let spec = &mut object["spec"];
            default(spec, "policyTypes", if has_egress { json!(["Ingress", "Egress"]) } else { json!(["Ingress"]) });
        }
        _ => {}
    }
}

fn default(target: &mut Value, key: &str, value: Value) {
    if !target.is_object() {
        *target = json!({});
    }
    if let Some(map) = target.as_object_mut() {
        map.entry(key).or_insert(value);
    }
}

fn pod_defaults(pod: &mut Value) {
    default(pod, "restartPolicy", json!("Always"));
    default(pod, "dnsPolicy", json!("ClusterFirst"));
    default(pod, "schedulerName", json!("default-scheduler"));
    default(pod, "terminationGracePeriodSeconds", json!(30));
    default(pod, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        let Some(containers) = pod.get_mut(list).and_then(Value::as_array_mut) else { continue };
        for c in containers {
            let image = c.get("image").and_then(Value::as_str).unwrap_or_default().to_string();
            let latest = !image.contains(':') || image.ends_with(":latest");
            default(c, "imagePullPolicy", json!(if latest { "Always" } else { "IfNotPresent" }));
            default(c, "terminationMessagePath", json!("/dev/termination-log"));
            default(c, "terminationMessagePolicy", json!("File"));
            if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    default(p, "protocol", json!("TCP"));
                }
            }
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                if let Some(p) = c.get_mut(probe) {
                    default(p, "timeoutSeconds", json!(1));
                    default(p, "periodSeconds", json!(10));
                    default(p, "successThreshold", json!(1));
                    default(p, "failureThreshold", json!(3));
                    if let Some(h) = p.get_mut("httpGet") {
                        default(h, "scheme", json!("HTTP"));
                    }
                }
            }
        }
    }
}

fn validate(rt: &ResourceType, object: &Value, old: Option<&Value>, errors: &mut Vec<FieldError>) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            let selector = object.pointer("/spec/selector");
            match selector.and_then(|s| s.get("matchLabels")).and_then(Value::as_object) {
                None if selector.is_none() => errors.push(required("spec.selector")),
                Some(match_labels) => {
                    let labels = object.pointer("/spec/template/metadata/labels");
                    if !match_labels.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v)) {
                        errors.push(invalid(
                            "spec.template.metadata.labels",
                            labels.unwrap_or(&Value::Null),
                            "`selector` does not match template `labels`",
                        ));
                    }
                }
                None => {}
            }
            if let (Some(old), Some(sel)) = (old, selector)
                && old.pointer("/spec/selector").is_some_and(|o| o != sel)
            {
                errors.push(invalid("spec.selector", sel, "field is immutable"));
            }
            if let Some(r) = object.pointer("/spec/replicas").and_then(Value::as_i64)
                && r < 0
            {
                errors.push(invalid("spec.replicas", &json!(r), "must be greater than or equal to 0"));
            }
            validate_pod_spec(object.pointer("/spec/template/spec"), "spec.template.spec", errors);
        }
        ("", "Pod") => validate_pod_spec(object.get("spec"), "spec", errors),
        ("", "Service") => {
            let kind = object.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
            let ports = object.pointer("/spec/ports").and_then(Value::as_array);
            if kind != "ExternalName" && ports.is_none_or(Vec::is_empty) {
                errors.push(required("spec.ports"));
            }
            for (i, p) in ports.into_iter().flatten().enumerate() {
                let n = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                if !(1..=65535).contains(&n) {
                    errors.push(invalid(
                        &format!("spec.ports[{i}].port"),
                        &json!(n),
                        "must be between 1 and 65535, inclusive",
                    ));
                }
            }
            if let Some(old) = old {
                let (a, b) = (old.pointer("/spec/clusterIP"), object.pointer("/spec/clusterIP"));
                if a.is_some() && b.is_some() && a != b {
                    errors.push(invalid("spec.clusterIP", b.unwrap_or(&Value::Null), "field is immutable"));
                }
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            if let Some(old) = old
                && old.get("roleRef") != object.get("roleRef")
            {
                errors.push(invalid("roleRef", object.get("roleRef").unwrap_or(&Value::Null), "cannot change roleRef"));
            }
        }
        ("policy", "PodDisruptionBudget")
            if object.pointer("/spec/minAvailable").is_some() && object.pointer("/spec/maxUnavailable").is_some() =>
        {
            errors.push(invalid("spec", &json!("object"), "minAvailable and maxUnavailable cannot be both set"));
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let min = object.pointer("/spec/minReplicas").and_then(Value::as_i64).unwrap_or(1);
            let max = object.pointer("/spec/maxReplicas").and_then(Value::as_i64).unwrap_or(0);
            if max < min {
                errors.push(invalid("spec.maxReplicas", &json!(max), "must be greater than or equal to `minReplicas`"));
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let plural = object.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
            let group = object.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
            if name != format!("{plural}.{group}") {
                errors.push(invalid("metadata.name", &json!(name), "must be spec.names.plural+\".\"+spec.group"));
            }
            let storage = object
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .map_or(0, |v| v.iter().filter(|v| v.get("storage") == Some(&json!(true))).count());
            if storage != 1 {
                errors.push(invalid(
                    "spec.versions",
                    &json!(storage),
                    "must have exactly one version marked as storage version",
                ));
            }
        }
        _ => {}
    }
}

fn validate_pod_spec(pod: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) {
    let Some(pod) = pod else {
        errors.push(required(path));
        return;
    };
    let volumes: Vec<&str> = pod
        .get("volumes")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(|v| v.get("name").and_then(Value::as_str)).collect())
        .unwrap_or_default();
    let containers = pod.get("containers").and_then(Value::as_array);
    if containers.is_none_or(Vec::is_empty) {
        errors.push(required(&format!("{path}.containers")));
    }
    for (i, c) in containers.into_iter().flatten().enumerate() {
        let cpath = format!("{path}.containers[{i}]");
        if c.get("name").and_then(Value::as_str).is_none_or(|n| !is_dns_label(n)) {
            errors.push(required(&format!("{cpath}.name")));
        }
        if c.get("image").and_then(Value::as_str).is_none_or(str::is_empty) {
            errors.push(required(&format!("{cpath}.image")));
        }
        for (j, m) in c.get("volumeMounts").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
            if !volumes.contains(&name) {
                errors.push(FieldError {
                    path: format!("{cpath}.volumeMounts[{j}].name"),
                    kind: FieldErrorKind::NotFound(json!(name).to_string()),
                    detail: String::new(),
                });
            }
        }
    }
}

/// What the API server sets on a CRD it accepts: its names are accepted and it is established.
pub fn crd_status(crd: &mut Value, now: &str) {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(Value::Null);
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter().filter(|v| v.get("storage") == Some(&json!(true))).filter_map(|v| v.get("name").cloned()).collect()
        })
        .unwrap_or_default();
    let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "reason": reason, "message": message, "lastTransitionTime": now});
    crd["status"] = json!({
        "acceptedNames": names,
        "storedVersions": storage,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
    });
}
