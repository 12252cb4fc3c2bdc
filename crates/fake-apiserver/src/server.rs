//! The API server's verbs on objects, independent of HTTP: create, read, update, patch, apply,
//! delete, with resourceVersions, generations, managedFields, finalizers and admission.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::admission::{self, FieldValidation};
use crate::auth::{Auth, User};
use crate::faults::{FaultConfig, Faults};
use crate::fields::{self, ApplyError, ApplyRequest, Schema, Section};
use crate::registry::ResourceType;
use crate::stats::Stats;
use crate::status::{self, ApiError};
use crate::store::{EventType, Store};
use crate::{builtin, convert, patch};

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// Enforce RBAC for every caller but system:masters.
    pub rbac: bool,
    /// How long a Deployment takes to report its replicas ready.
    pub deployment_ready_after: Duration,
    /// Whether Deployments report ready at all (false: as a kube-apiserver with no
    /// kube-controller-manager or kubelet, where they keep the status their writers give them).
    pub deployment_controller: bool,
    /// Watch history kept for resuming; older resourceVersions get 410 Gone.
    pub history_limit: usize,
    pub faults: FaultConfig,
    /// Bearer token of the admin user (system:masters), written into the kubeconfig.
    pub admin_token: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rbac: false,
            deployment_ready_after: Duration::from_millis(200),
            deployment_controller: true,
            history_limit: 100_000,
            faults: FaultConfig::default(),
            admin_token: format!("admin-{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

pub struct Server {
    store: Mutex<Store>,
    pub auth: Auth,
    pub stats: Stats,
    pub faults: Faults,
    pub config: Config,
    /// Wakes the garbage collector after deletions.
    pub gc_wake: Notify,
}

/// Options of a write.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub manager: String,
    pub field_validation: FieldValidation,
    pub dry_run: bool,
    pub force: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { manager: "unknown".into(), field_validation: FieldValidation::Warn, dry_run: false, force: false }
    }
}

/// The result of a write: the object as the client reads it, and warnings for the header.
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
    pub created: bool,
}

/// The patch formats of PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

/// DELETE's propagation policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn meta(object: &Value, field: &str) -> Option<String> {
    object.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).map(str::to_string)
}

fn set_meta(object: &mut Value, field: &str, value: Value) {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    if let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if value.is_null() {
            m.remove(field);
        } else {
            m.insert(field.into(), value);
        }
    }
}

fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn schema(rt: &ResourceType) -> Schema<'_> {
    rt.schema.as_deref().map_or(Schema::Builtin, Schema::Crd)
}

/// The object without what does not make a change: resourceVersion and managedFields times.
fn comparable(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
            for e in entries {
                if let Some(e) = e.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    o
}

/// Everything generation counts: all but metadata (and status, when it is a subresource).
fn generation_part(rt: &ResourceType, object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        if rt.status {
            m.remove("status");
        }
    }
    o
}

impl Server {
    pub fn new(config: Config) -> Arc<Self> {
        let auth = Auth::new(config.rbac);
        auth.add_token(&config.admin_token, User::new("kubernetes-admin", &["system:masters"]));
        Arc::new(Self {
            store: Mutex::new(Store::new(config.history_limit)),
            auth,
            stats: Stats::default(),
            faults: Faults::new(config.faults.clone()),
            config,
            gc_wake: Notify::new(),
        })
    }

    /// The store, locked. Never held across an await.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        match self.store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn section(rt: &ResourceType, subresource: Option<&str>) -> Section {
        match (rt.status, subresource) {
            (_, Some("status")) => Section::Status,
            (true, _) => Section::Main,
            (false, _) => Section::All,
        }
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let st = self.store();
        st.get(&rt.storage_key(), ns, name)
            .map(|o| convert::from_storage(rt, o))
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    pub fn create(&self, rt: &ResourceType, ns: &str, body: Value, opts: &WriteOptions) -> Result<Written, ApiError> {
        let mut st = self.store();
        self.create_locked(&mut st, rt, ns, body, opts, true)
    }

    fn check_type(rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request("the body of the request is not a JSON object"));
        }
        if let Some(kind) = body.get("kind").and_then(Value::as_str)
            && kind != rt.kind
        {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                rt.kind
            )));
        }
        if let Some(av) = body.get("apiVersion").and_then(Value::as_str)
            && av != rt.api_version()
        {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                rt.api_version()
            )));
        }
        Ok(())
    }

    fn check_namespace(st: &Store, rt: &ResourceType, ns: &str) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        let ns_type = st.registry.find("", "v1", "namespaces").cloned();
        let Some(ns_type) = ns_type else { return Ok(()) };
        match st.get(&ns_type.storage_key(), "", ns) {
            None => Err(ApiError::not_found(&ns_type, ns)),
            Some(n) if meta(n, "deletionTimestamp").is_some() => Err(ApiError::forbidden(format!(
                "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                rt.group_resource()
            ))),
            Some(_) => Ok(()),
        }
    }

    /// `record`: whether this write takes field ownership as an update (an apply has already
    /// recorded its own).
    fn create_locked(
        &self,
        st: &mut Store,
        rt: &ResourceType,
        ns: &str,
        body: Value,
        opts: &WriteOptions,
        record: bool,
    ) -> Result<Written, ApiError> {
        Self::check_type(rt, &body)?;
        let mut object = convert::to_storage(rt, body);
        if rt.namespaced {
            match meta(&object, "namespace") {
                Some(n) if n != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => set_meta(&mut object, "namespace", json!(ns)),
            }
        } else {
            set_meta(&mut object, "namespace", Value::Null);
        }
        Self::check_namespace(st, rt, ns)?;
        if meta(&object, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
            return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
        }
        if meta(&object, "name").is_none_or(|n| n.is_empty())
            && let Some(prefix) = meta(&object, "generateName")
        {
            let suffix: String = uuid::Uuid::new_v4().simple().to_string().chars().take(5).collect();
            set_meta(&mut object, "name", json!(format!("{prefix}{suffix}")));
        }
        let name = meta(&object, "name").unwrap_or_default();
        let key = rt.storage_key();
        let ns_key = if rt.namespaced { ns } else { "" };
        if !name.is_empty() && st.get(&key, ns_key, &name).is_some() {
            return Err(ApiError::already_exists(rt, &name));
        }
        for field in
            ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"]
        {
            set_meta(&mut object, field, Value::Null);
        }
        if rt.status
            && rt.kind != "Namespace"
            && let Some(m) = object.as_object_mut()
        {
            m.remove("status");
        }
        let (mut object, warnings) = admission::admit(rt, object, None, opts.field_validation)?;
        let section = Self::section(rt, None);
        if record {
            fields::record_update(
                None,
                &mut object,
                schema(rt),
                &opts.manager,
                &rt.api_version(),
                None,
                section,
                &now(),
            );
        }
        set_meta(&mut object, "uid", json!(uuid::Uuid::new_v4().to_string()));
        set_meta(&mut object, "creationTimestamp", json!(now()));
        set_meta(&mut object, "generation", json!(1));
        self.on_create(st, rt, &mut object)?;
        if opts.dry_run {
            return Ok(Written { object: convert::from_storage(rt, &object), warnings, created: true });
        }
        let stored = st.put(&key, object, EventType::Added);
        Ok(Written { object: convert::from_storage(rt, &stored), warnings, created: true })
    }

    /// What the API server's registry strategies do on create for some kinds.
    fn on_create(&self, st: &mut Store, rt: &ResourceType, object: &mut Value) -> Result<(), ApiError> {
        match (rt.group.as_str(), rt.kind.as_str()) {
            ("", "Service") => {
                let ty = object.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
                let ip = object.pointer("/spec/clusterIP").and_then(Value::as_str).unwrap_or_default();
                if ty != "ExternalName" && ip.is_empty() {
                    let ip = st.allocate_cluster_ip();
                    object["spec"]["clusterIP"] = json!(ip);
                    object["spec"]["clusterIPs"] = json!([ip]);
                }
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                builtin::crd_status(object, &now());
                let name = meta(object, "name").unwrap_or_default();
                st.registry
                    .register_crd(object)
                    .map_err(|e| ApiError::invalid(rt, &name, vec![("FieldValueInvalid".into(), String::new(), e)]))?;
            }
            _ => {}
        }
        Ok(())
    }

    /// PUT: replaces the object (or its status) at a given resourceVersion.
    pub fn update(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        subresource: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        Self::check_type(rt, &body)?;
        let mut st = self.store();
        let key = rt.storage_key();
        let old = st.get(&key, ns, name).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        if meta(&body, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta(&body, "name").unwrap_or_default()
            )));
        }
        match meta(&body, "resourceVersion") {
            None => {
                return Err(ApiError::invalid(
                    rt,
                    name,
                    vec![(
                        "FieldValueInvalid".into(),
                        "metadata.resourceVersion".into(),
                        "Invalid value: 0x0: must be specified for an update".into(),
                    )],
                ));
            }
            Some(rv) if Some(rv.clone()) != meta(&old, "resourceVersion") => return Err(ApiError::conflict(rt, name)),
            Some(_) => {}
        }
        let body = convert::to_storage(rt, body);
        let new = Self::scoped(rt, &old, body, subresource);
        self.commit(&mut st, rt, old, new, subresource, opts, true)
    }

    /// Keeps the part of `new` a write to `subresource` may change, the rest from `old`.
    fn scoped(rt: &ResourceType, old: &Value, new: Value, subresource: Option<&str>) -> Value {
        match Self::section(rt, subresource) {
            Section::Main => {
                let mut n = new;
                match old.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                n
            }
            Section::Status => {
                let mut n = old.clone();
                match new.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                if let Some(mf) = new.pointer("/metadata/managedFields") {
                    n["metadata"]["managedFields"] = mf.clone();
                }
                n
            }
            Section::All => new,
        }
    }

    /// PATCH in any of its formats; apply creates the object when it does not exist.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        subresource: Option<&str>,
        patch_type: PatchType,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let mut st = self.store();
        let key = rt.storage_key();
        let old = st.get(&key, ns, name).cloned();
        if patch_type == PatchType::Apply {
            return self.apply(&mut st, rt, ns, name, subresource, old, body, opts);
        }
        let old = old.ok_or_else(|| ApiError::not_found(rt, name))?;
        let current = convert::from_storage(rt, &old);
        let patched = match patch_type {
            PatchType::Merge => patch::merge_patch(&current, &body),
            PatchType::Strategic => {
                if rt.custom {
                    return Err(ApiError::unsupported_media(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    ));
                }
                patch::strategic_merge_patch(&current, &body)
            }
            PatchType::Json => patch::json_patch(&current, &body).map_err(ApiError::bad_request)?,
            PatchType::Apply => unreachable!("handled above"),
        };
        if meta(&patched, "resourceVersion") != meta(&old, "resourceVersion") {
            return Err(ApiError::conflict(rt, name));
        }
        let patched = convert::to_storage(rt, patched);
        let new = Self::scoped(rt, &old, patched, subresource);
        self.commit(&mut st, rt, old, new, subresource, opts, true)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        st: &mut Store,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        subresource: Option<&str>,
        old: Option<Value>,
        config: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        if opts.manager.is_empty() || opts.manager == "unknown" {
            return Err(ApiError::invalid(
                rt,
                "",
                vec![(
                    "FieldValueRequired".into(),
                    "fieldManager".into(),
                    "Required value: is required for apply patch".into(),
                )],
            ));
        }
        Self::check_type(rt, &config)?;
        if config.get("kind").is_none() || config.get("apiVersion").is_none() {
            return Err(ApiError::bad_request("apply configuration must set apiVersion and kind"));
        }
        if meta(&config, "name").is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta(&config, "name").unwrap_or_default()
            )));
        }
        let config = convert::to_storage(rt, config);
        let section = Self::section(rt, subresource);
        let live = match &old {
            Some(o) => o.clone(),
            None => {
                if subresource.is_some() {
                    return Err(ApiError::not_found(rt, name));
                }
                let mut base =
                    json!({"apiVersion": config["apiVersion"], "kind": config["kind"], "metadata": {"name": name}});
                if rt.namespaced {
                    base["metadata"]["namespace"] = json!(ns);
                }
                base
            }
        };
        let req = ApplyRequest {
            manager: &opts.manager,
            api_version: &rt.api_version(),
            subresource,
            section,
            force: opts.force,
            now: &now(),
        };
        let merged = fields::apply(&live, &config, schema(rt), &req).map_err(|refused| match refused {
            ApplyError::Conflicts(conflicts) => ApiError::apply_conflicts(rt, name, &conflicts),
            ApplyError::Invalid(why) => ApiError::untyped_apply(rt, ns, name, &why),
        })?;
        match old {
            None => self.create_locked(st, rt, ns, merged, opts, false),
            Some(old) => {
                let new = Self::scoped(rt, &old, merged, subresource);
                self.commit(st, rt, old, new, subresource, opts, false)
            }
        }
    }

    /// Stores an update after admission; a write that changes nothing stores nothing.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        st: &mut Store,
        rt: &ResourceType,
        old: Value,
        mut new: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
        record: bool,
    ) -> Result<Written, ApiError> {
        let name = meta(&old, "name").unwrap_or_default();
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            set_meta(&mut new, field, old.get("metadata").and_then(|m| m.get(field)).cloned().unwrap_or(Value::Null));
        }
        if let Some(m) = new.as_object_mut() {
            m.insert("apiVersion".into(), old["apiVersion"].clone());
            m.insert("kind".into(), old["kind"].clone());
        }
        if meta(&old, "deletionTimestamp").is_some() {
            let before = finalizers(&old);
            if finalizers(&new).iter().any(|f| !before.contains(f)) {
                return Err(ApiError::invalid(
                    rt,
                    &name,
                    vec![(
                        "FieldValueForbidden".into(),
                        "metadata.finalizers".into(),
                        "Forbidden: no new finalizers can be added if the object is being deleted".into(),
                    )],
                ));
            }
        }
        let (mut new, warnings) = admission::admit(rt, new, Some(&old), opts.field_validation)?;
        if rt.kind == "Service"
            && new.pointer("/spec/clusterIP").is_none()
            && let Some(ip) = old.pointer("/spec/clusterIP")
        {
            new["spec"]["clusterIP"] = ip.clone();
            new["spec"]["clusterIPs"] = old.pointer("/spec/clusterIPs").cloned().unwrap_or(Value::Null);
        }
        if record {
            let section = Self::section(rt, subresource);
            fields::record_update(
                Some(&old),
                &mut new,
                schema(rt),
                &opts.manager,
                &rt.api_version(),
                subresource,
                section,
                &now(),
            );
        }
        if generation_part(rt, &old) != generation_part(rt, &new) {
            let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
            set_meta(&mut new, "generation", json!(generation + 1));
        }
        if comparable(&old) == comparable(&new) {
            return Ok(Written { object: convert::from_storage(rt, &old), warnings, created: false });
        }
        if rt.kind == "CustomResourceDefinition" {
            builtin::crd_status(&mut new, &now());
            st.registry
                .register_crd(&new)
                .map_err(|e| ApiError::invalid(rt, &name, vec![("FieldValueInvalid".into(), String::new(), e)]))?;
        }
        if opts.dry_run {
            return Ok(Written { object: convert::from_storage(rt, &new), warnings, created: false });
        }
        let key = rt.storage_key();
        if meta(&new, "deletionTimestamp").is_some() && finalizers(&new).is_empty() {
            let ns = meta(&new, "namespace").unwrap_or_default();
            if let Some(removed) = st.remove(&key, &ns, &name)
                && rt.kind == "CustomResourceDefinition"
            {
                self.drop_crd(st, &removed);
            }
            self.gc_wake.notify_one();
            return Ok(Written { object: convert::from_storage(rt, &new), warnings, created: false });
        }
        let stored = st.put(&key, new, EventType::Modified);
        Ok(Written { object: convert::from_storage(rt, &stored), warnings, created: false })
    }

    /// DELETE: immediate when nothing holds the object, otherwise marks it for deletion.
    pub fn delete(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        propagation: Propagation,
        preconditions: (Option<String>, Option<String>),
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut st = self.store();
        self.delete_locked(&mut st, rt, ns, name, propagation, preconditions, dry_run)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn delete_locked(
        &self,
        st: &mut Store,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        propagation: Propagation,
        (uid, rv): (Option<String>, Option<String>),
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let key = rt.storage_key();
        let old = st.get(&key, ns, name).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        if uid.is_some_and(|u| Some(u) != meta(&old, "uid"))
            || rv.is_some_and(|r| Some(r) != meta(&old, "resourceVersion"))
        {
            return Err(ApiError::conflict(rt, name));
        }
        if dry_run {
            return Ok(convert::from_storage(rt, &old));
        }
        let mut finals = finalizers(&old);
        let namespace = rt.kind == "Namespace" && rt.group.is_empty();
        match propagation {
            Propagation::Foreground if !finals.iter().any(|f| f == "foregroundDeletion") => {
                finals.push("foregroundDeletion".into())
            }
            Propagation::Orphan if !finals.iter().any(|f| f == "orphan") => finals.push("orphan".into()),
            _ => {}
        }
        if finals.is_empty() && !namespace {
            let removed = st.remove(&key, ns, name).unwrap_or(old);
            if rt.kind == "CustomResourceDefinition" {
                self.drop_crd(st, &removed);
            }
            self.gc_wake.notify_one();
            return Ok(status::success(rt, name, &meta(&removed, "uid").unwrap_or_default()));
        }
        if meta(&old, "deletionTimestamp").is_some() && finals == finalizers(&old) {
            return Ok(convert::from_storage(rt, &old));
        }
        let mut marked = old;
        set_meta(&mut marked, "deletionTimestamp", json!(now()));
        set_meta(&mut marked, "deletionGracePeriodSeconds", json!(0));
        set_meta(&mut marked, "finalizers", if finals.is_empty() { Value::Null } else { json!(finals) });
        if namespace {
            marked["status"]["phase"] = json!("Terminating");
        }
        let stored = st.put(&key, marked, EventType::Modified);
        self.gc_wake.notify_one();
        Ok(convert::from_storage(rt, &stored))
    }

    /// A deleted CRD takes its custom resources with it.
    fn drop_crd(&self, st: &mut Store, crd: &Value) {
        let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default().to_string();
        let plural = crd.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default().to_string();
        st.drop_storage(&crate::registry::StorageKey { group: group.clone(), plural: plural.clone() });
        st.registry.unregister(&group, &plural);
    }

    /// An update made by the cluster itself (garbage collector, namespace lifecycle).
    pub fn system_update(
        &self,
        st: &mut Store,
        rt: &ResourceType,
        old: Value,
        new: Value,
        manager: &str,
    ) -> Result<Written, ApiError> {
        let opts = WriteOptions { manager: manager.into(), ..Default::default() };
        self.commit(st, rt, old, new, None, &opts, true)
    }

    /// Writes status as a controller of the cluster would (not counted as a client request).
    pub fn write_status(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        status: Value,
        manager: &str,
    ) -> Result<(), ApiError> {
        let mut st = self.store();
        let old = st.get(&rt.storage_key(), ns, name).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        let mut new = old.clone();
        new["status"] = status;
        let opts = WriteOptions { manager: manager.into(), ..Default::default() };
        self.commit(&mut st, rt, old, new, Some("status"), &opts, true).map(|_| ())
    }

    /// Runs `f` with the store locked, for the cluster's own controllers.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut st = self.store();
        f(&mut st)
    }

    /// Stores pod log text served by `pods/log`.
    pub fn set_pod_log(&self, ns: &str, pod: &str, container: &str, text: &str) {
        self.store().logs.insert((ns.into(), pod.into(), container.into()), text.into());
    }

    pub fn set_faults(&self, faults: FaultConfig) {
        self.faults.set(faults);
    }
}
