//! The API resources the server serves: the built-in kinds, and custom resources registered from
//! CustomResourceDefinitions. Also the discovery documents derived from them.

use std::sync::Arc;

use kube::core::cel::{CompiledSchema, compile_schema};
use serde_json::{Value, json};

/// Paths of the scale subresource, as a CRD declares them (or fixed for built-ins).
#[derive(Clone, Debug, PartialEq)]
pub struct Scale {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

/// One served resource at one group/version.
#[derive(Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status: bool,
    pub scale: Option<Scale>,
    /// Subresources besides status and scale (e.g. `log` for pods).
    pub extra_subresources: Vec<&'static str>,
    /// Only `create` (TokenReview, SubjectAccessReview).
    pub create_only: bool,
    /// The CRD's openAPIV3Schema and its compiled CEL rules (custom resources only).
    pub schema: Option<Arc<Value>>,
    pub compiled: Option<Arc<CompiledSchema>>,
    pub printer_columns: Vec<Value>,
    /// Registered from a CRD (lists then carry apiVersion/kind on every item, as unstructured
    /// objects do on a real server).
    pub custom: bool,
    /// The version objects are stored at (differs from `version` for multi-version CRDs).
    pub storage_version: String,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// Objects of all versions of a resource share one storage.
    pub fn storage_key(&self) -> StorageKey {
        // events.k8s.io/v1 Events are the core/v1 Events, seen through another schema.
        let group = if self.group == "events.k8s.io" { "" } else { self.group.as_str() };
        StorageKey { group: group.to_string(), plural: self.plural.clone() }
    }

    pub fn group_resource(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        if self.create_only {
            vec!["create"]
        } else {
            vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        }
    }

    fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool, short: &[&str]) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: Vec::new(),
            status: false,
            scale: None,
            extra_subresources: Vec::new(),
            create_only: false,
            schema: None,
            compiled: None,
            printer_columns: Vec::new(),
            custom: false,
            storage_version: version.into(),
        }
    }

    fn with_status(mut self) -> Self {
        self.status = true;
        self
    }

    fn with_scale(mut self) -> Self {
        self.scale = Some(Scale {
            spec_replicas_path: ".spec.replicas".into(),
            status_replicas_path: ".status.replicas".into(),
            label_selector_path: Some(".status.selector".into()),
        });
        self
    }

    fn all(mut self) -> Self {
        self.categories = vec!["all".into()];
        self
    }
}

/// Where objects of a resource live, whatever version they are read at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey {
    pub group: String,
    pub plural: String,
}

/// Every resource served, built-in and custom.
#[derive(Clone, Default)]
pub struct Registry {
    types: Vec<ResourceType>,
}

impl Registry {
    pub fn with_builtins() -> Self {
        use ResourceType as R;
        let mut pods = R::builtin("", "v1", "Pod", "pods", true, &["po"]).with_status().all();
        pods.extra_subresources = vec!["log"];
        let mut sa = R::builtin("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]);
        sa.extra_subresources = vec!["token"];
        let create_only = |mut r: R| {
            r.create_only = true;
            r
        };
        let types = vec![
            R::builtin("", "v1", "Namespace", "namespaces", false, &["ns"]).with_status(),
            pods,
            R::builtin("", "v1", "Event", "events", true, &["ev"]),
            R::builtin("", "v1", "Service", "services", true, &["svc"]).with_status().all(),
            R::builtin("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
            R::builtin("", "v1", "Secret", "secrets", true, &[]),
            sa,
            R::builtin("apps", "v1", "Deployment", "deployments", true, &["deploy"]).with_status().with_scale().all(),
            R::builtin("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"]).with_status().with_scale().all(),
            R::builtin("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"]).with_status().with_scale().all(),
            R::builtin("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"]).with_status().all(),
            R::builtin("batch", "v1", "Job", "jobs", true, &[]).with_status().all(),
            R::builtin("batch", "v1", "CronJob", "cronjobs", true, &["cj"]).with_status().all(),
            R::builtin("events.k8s.io", "v1", "Event", "events", true, &["ev"]),
            R::builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"]).with_status(),
            R::builtin("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, &["hpa"])
                .with_status()
                .all(),
            R::builtin("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, &["netpol"]),
            R::builtin("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[]),
            R::builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, &[]),
            R::builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, &[]),
            R::builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, &[]),
            R::builtin("coordination.k8s.io", "v1", "Lease", "leases", true, &[]),
            R::builtin(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                "customresourcedefinitions",
                false,
                &["crd", "crds"],
            )
            .with_status(),
            create_only(R::builtin("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", false, &[])),
            create_only(R::builtin(
                "authorization.k8s.io",
                "v1",
                "SubjectAccessReview",
                "subjectaccessreviews",
                false,
                &[],
            )),
            create_only(R::builtin(
                "authorization.k8s.io",
                "v1",
                "SelfSubjectAccessReview",
                "selfsubjectaccessreviews",
                false,
                &[],
            )),
        ];
        Self { types }
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    pub fn find_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// The types served for one storage (all versions of one resource).
    pub fn versions_of(&self, key: &StorageKey) -> impl Iterator<Item = &ResourceType> {
        self.types.iter().filter(move |t| &t.storage_key() == key)
    }

    pub fn all(&self) -> &[ResourceType] {
        &self.types
    }

    /// Registers (or re-registers) the resources a CustomResourceDefinition declares.
    pub fn register_crd(&mut self, crd: &Value) -> Result<(), String> {
        let types = types_from_crd(crd)?;
        let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default().to_string();
        let plural = crd.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default().to_string();
        self.unregister(&group, &plural);
        self.types.extend(types);
        Ok(())
    }

    pub fn unregister(&mut self, group: &str, plural: &str) {
        self.types.retain(|t| !(t.custom && t.group == group && t.plural == plural));
    }

    /// Groups with their versions, in registration order (the built-in groups first).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.types {
            match groups.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) if !versions.contains(&t.version) => versions.push(t.version.clone()),
                Some(_) => {}
                None => groups.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        groups
    }

    /// `/api` (legacy core group).
    pub fn core_versions(&self) -> Value {
        json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}
        ]})
    }

    /// `/apis`.
    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .into_iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, versions)| group_json(&g, &versions))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `/apis/<group>`.
    pub fn group(&self, group: &str) -> Option<Value> {
        self.groups().into_iter().find(|(g, _)| g == group).map(|(g, versions)| {
            let mut v = group_json(&g, &versions);
            v["kind"] = json!("APIGroup");
            v["apiVersion"] = json!("v1");
            v
        })
    }

    /// `/api/v1` or `/apis/<group>/<version>`.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let types: Vec<&ResourceType> =
            self.types.iter().filter(|t| t.group == group && t.version == version).collect();
        if types.is_empty() {
            return None;
        }
        let mut resources = Vec::new();
        for t in &types {
            let mut r = json!({
                "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                "kind": t.kind, "verbs": t.verbs(),
            });
            if !t.short_names.is_empty() {
                r["shortNames"] = json!(t.short_names);
            }
            if !t.categories.is_empty() {
                r["categories"] = json!(t.categories);
            }
            resources.push(r);
            let sub = |name: &str, kind: &str, verbs: &[&str]| {
                json!({"name": format!("{}/{}", t.plural, name), "singularName": "", "namespaced": t.namespaced,
                       "kind": kind, "verbs": verbs})
            };
            if t.status {
                resources.push(sub("status", &t.kind, &["get", "patch", "update"]));
            }
            if t.scale.is_some() {
                let mut s = sub("scale", "Scale", &["get", "patch", "update"]);
                s["group"] = json!("autoscaling");
                s["version"] = json!("v1");
                resources.push(s);
            }
            for extra in &t.extra_subresources {
                let (kind, verbs): (&str, &[&str]) = match *extra {
                    "log" => ("Pod", &["get"]),
                    "token" => ("TokenRequest", &["create"]),
                    _ => (&t.kind, &["get"]),
                };
                resources.push(sub(extra, kind, verbs));
            }
        }
        let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
    }
}

impl Registry {
    /// `/openapi/v3`: one entry per group/version.
    pub fn openapi_index(&self) -> Value {
        let mut paths = serde_json::Map::new();
        for (group, versions) in self.groups() {
            for v in versions {
                let gv_path = if group.is_empty() { format!("api/{v}") } else { format!("apis/{group}/{v}") };
                let hash = self.openapi_hash(&group, &v);
                paths.insert(
                    gv_path.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{gv_path}?hash={hash}")}),
                );
            }
        }
        json!({"paths": paths})
    }

    fn openapi_hash(&self, group: &str, version: &str) -> String {
        let doc = self.openapi_group_version(group, version).map(|d| d.to_string()).unwrap_or_default();
        let hash =
            doc.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
        format!("{hash:016X}")
    }

    /// `/openapi/v3/<gv>`: the operations clients probe. kubectl reads the PATCH operations to
    /// learn that the server validates fields itself (`fieldValidation`), so it sends
    /// `fieldValidation=Strict` instead of needing full schemas.
    pub fn openapi_group_version(&self, group: &str, version: &str) -> Option<Value> {
        let types: Vec<&ResourceType> =
            self.types.iter().filter(|t| t.group == group && t.version == version).collect();
        if types.is_empty() {
            return None;
        }
        let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let mut paths = serde_json::Map::new();
        let mut schemas = serde_json::Map::new();
        for t in types {
            let gvk = json!([{"group": t.group, "version": t.version, "kind": t.kind}]);
            let schema_name =
                format!("{}.{}.{}", if t.group.is_empty() { "core" } else { &t.group }, t.version, t.kind);
            let schema = t
                .schema
                .as_deref()
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
            let mut schema = schema;
            schema["x-kubernetes-group-version-kind"] = gvk.clone();
            schemas.insert(schema_name.clone(), schema);
            let item = if t.namespaced {
                format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
            } else {
                format!("{prefix}/{}/{{name}}", t.plural)
            };
            let body = json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema_name}")}}}});
            let op = |id: &str| {
                json!({
                    "operationId": id, "x-kubernetes-group-version-kind": gvk[0],
                    "parameters": [
                        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                        {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "requestBody": body,
                    "responses": {"200": body},
                })
            };
            paths.insert(item, json!({"patch": op(&format!("patch{}", t.kind)), "put": op(&format!("replace{}", t.kind)), "get": op(&format!("read{}", t.kind))}));
        }
        Some(json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0-fake"},
            "paths": paths,
            "components": {"schemas": schemas},
        }))
    }
}

impl Registry {
    /// Aggregated discovery (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList): every group,
    /// version and resource in one document; `core` selects `/api` (the legacy group) or `/apis`.
    pub fn aggregated(&self, core: bool) -> Value {
        let items: Vec<Value> = self
            .groups()
            .into_iter()
            .filter(|(g, _)| g.is_empty() == core)
            .map(|(group, versions)| {
                let versions: Vec<Value> = versions
                    .iter()
                    .map(|v| {
                        let resources: Vec<Value> = self
                            .types
                            .iter()
                            .filter(|t| t.group == group && &t.version == v)
                            .map(|t| {
                                let kind = json!({"group": t.group, "version": t.version, "kind": t.kind});
                                let mut subresources = Vec::new();
                                if t.status {
                                    subresources.push(json!({"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}));
                                }
                                if t.scale.is_some() {
                                    subresources.push(json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]}));
                                }
                                for extra in &t.extra_subresources {
                                    subresources.push(json!({"subresource": extra, "responseKind": kind, "verbs": ["get", "create"]}));
                                }
                                let mut r = json!({
                                    "resource": t.plural, "responseKind": kind, "singularResource": t.singular,
                                    "scope": if t.namespaced { "Namespaced" } else { "Cluster" }, "verbs": t.verbs(),
                                });
                                if !t.short_names.is_empty() {
                                    r["shortNames"] = json!(t.short_names);
                                }
                                if !t.categories.is_empty() {
                                    r["categories"] = json!(t.categories);
                                }
                                if !subresources.is_empty() {
                                    r["subresources"] = json!(subresources);
                                }
                                r
                            })
                            .collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
                json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
            })
            .collect();
        json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
    }
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// The resource types a CRD declares, one per served version.
fn types_from_crd(crd: &Value) -> Result<Vec<ResourceType>, String> {
    let spec = crd.get("spec").ok_or("spec: Required value")?;
    let text = |p: &str| spec.pointer(p).and_then(Value::as_str).map(str::to_string);
    let group = text("/group").ok_or("spec.group: Required value")?;
    let kind = text("/names/kind").ok_or("spec.names.kind: Required value")?;
    let plural = text("/names/plural").ok_or("spec.names.plural: Required value")?;
    let singular = text("/names/singular").unwrap_or_else(|| kind.to_lowercase());
    let namespaced = match text("/scope").as_deref() {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => {
            return Err(format!(
                "spec.scope: Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""
            ));
        }
    };
    let strings = |p: &str| -> Vec<String> {
        spec.pointer(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let versions = spec.get("versions").and_then(Value::as_array).ok_or("spec.versions: Required value")?;
    let storage_version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").and_then(Value::as_str))
        .ok_or("spec.versions: Invalid value: must have exactly one version marked as storage version")?
        .to_string();
    let mut out = Vec::new();
    for v in versions {
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let name = v.get("name").and_then(Value::as_str).ok_or("spec.versions[].name: Required value")?;
        let schema = v.pointer("/schema/openAPIV3Schema").cloned();
        let scale = v.pointer("/subresources/scale").map(|s| Scale {
            spec_replicas_path: s.get("specReplicasPath").and_then(Value::as_str).unwrap_or(".spec.replicas").into(),
            status_replicas_path: s
                .get("statusReplicasPath")
                .and_then(Value::as_str)
                .unwrap_or(".status.replicas")
                .into(),
            label_selector_path: s.get("labelSelectorPath").and_then(Value::as_str).map(str::to_string),
        });
        out.push(ResourceType {
            group: group.clone(),
            version: name.into(),
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced,
            short_names: strings("/names/shortNames"),
            categories: strings("/names/categories"),
            status: v.pointer("/subresources/status").is_some(),
            scale,
            extra_subresources: Vec::new(),
            create_only: false,
            compiled: schema.as_ref().map(|s| Arc::new(compile_schema(s))),
            schema: schema.map(Arc::new),
            printer_columns: v.get("additionalPrinterColumns").and_then(Value::as_array).cloned().unwrap_or_default(),
            custom: true,
            storage_version: storage_version.clone(),
        });
    }
    Ok(out)
}
