//! Authentication by bearer token, and optional RBAC authorisation evaluated from the stored
//! Roles, ClusterRoles and their bindings; TokenReview and SubjectAccessReview answer from the
//! same data.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::registry::StorageKey;
use crate::store::Store;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn new(name: &str, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        Self { name: name.into(), uid: uuid::Uuid::new_v4().to_string(), groups }
    }

    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self::new(
            &format!("system:serviceaccount:{namespace}:{name}"),
            &["system:serviceaccounts", &format!("system:serviceaccounts:{namespace}")],
        )
    }

    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }
}

/// What a request wants to do, for authorisation.
#[derive(Clone, Debug, PartialEq)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Attributes {
    /// The API server's words for a refusal.
    pub fn forbidden_message(&self, user: &User) -> String {
        let resource = match &self.subresource {
            Some(s) => format!("{}/{}", self.resource, s),
            None => self.resource.clone(),
        };
        let gr =
            if self.group.is_empty() { self.resource.clone() } else { format!("{}.{}", self.resource, self.group) };
        let subject = match &self.name {
            Some(n) => format!("{gr} \"{n}\" is forbidden"),
            None => format!("{gr} is forbidden"),
        };
        let scope = match &self.namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".into(),
        };
        format!(
            "{subject}: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            user.name, self.verb, self.group
        )
    }
}

pub struct Auth {
    tokens: RwLock<HashMap<String, User>>,
    rbac: AtomicBool,
}

impl Auth {
    pub fn new(rbac: bool) -> Self {
        Self { tokens: RwLock::new(HashMap::new()), rbac: AtomicBool::new(rbac) }
    }

    pub fn set_rbac(&self, on: bool) {
        self.rbac.store(on, Ordering::SeqCst);
    }

    pub fn rbac(&self) -> bool {
        self.rbac.load(Ordering::SeqCst)
    }

    pub fn add_token(&self, token: &str, user: User) {
        if let Ok(mut t) = self.tokens.write() {
            t.insert(token.into(), user);
        }
    }

    /// A fresh token for a user.
    pub fn issue_token(&self, user: User) -> String {
        let token = format!("fake-{}", uuid::Uuid::new_v4().simple());
        self.add_token(&token, user);
        token
    }

    pub fn lookup(&self, token: &str) -> Option<User> {
        self.tokens.read().ok().and_then(|t| t.get(token).cloned())
    }

    /// The caller of a request, from its `Authorization: Bearer` header.
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<User> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        self.lookup(token)
    }

    /// Whether `user` may do `attrs`; Err holds the refusal message.
    pub fn authorize(&self, store: &Store, user: &User, attrs: &Attributes) -> Result<(), String> {
        if !self.rbac() || user.is_admin() || allows(store, user, attrs) {
            Ok(())
        } else {
            Err(attrs.forbidden_message(user))
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn subject_matches(subject: &Value, user: &User, binding_ns: Option<&str>) -> bool {
    let name = subject.get("name").and_then(Value::as_str).unwrap_or_default();
    match subject.get("kind").and_then(Value::as_str) {
        Some("User") => user.name == name,
        Some("Group") => user.groups.iter().any(|g| g == name),
        Some("ServiceAccount") => {
            let ns = subject.get("namespace").and_then(Value::as_str).or(binding_ns).unwrap_or_default();
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn rule_allows(rule: &Value, attrs: &Attributes) -> bool {
    let has = |list: Vec<&str>, v: &str| list.iter().any(|x| *x == "*" || *x == v);
    let resource = match &attrs.subresource {
        Some(s) => format!("{}/{}", attrs.resource, s),
        None => attrs.resource.clone(),
    };
    let resources = strings(rule.get("resources"));
    let resource_ok = resources
        .iter()
        .any(|r| *r == "*" || *r == resource || attrs.subresource.as_ref().is_some_and(|s| *r == format!("*/{s}")));
    let names = strings(rule.get("resourceNames"));
    let name_ok = names.is_empty() || attrs.name.as_deref().is_some_and(|n| names.contains(&n));
    has(strings(rule.get("verbs")), &attrs.verb)
        && has(strings(rule.get("apiGroups")), &attrs.group)
        && resource_ok
        && name_ok
}

fn role_rules<'a>(store: &'a Store, role_ref: &Value, namespace: &str) -> Vec<&'a Value> {
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or_default();
    let (plural, ns) = match role_ref.get("kind").and_then(Value::as_str) {
        Some("ClusterRole") => ("clusterroles", ""),
        _ => ("roles", namespace),
    };
    let key = StorageKey { group: "rbac.authorization.k8s.io".into(), plural: plural.into() };
    store
        .get(&key, ns, name)
        .and_then(|r| r.get("rules"))
        .and_then(Value::as_array)
        .map(|r| r.iter().collect())
        .unwrap_or_default()
}

fn allows(store: &Store, user: &User, attrs: &Attributes) -> bool {
    // Every authenticated user may ask about itself (kubectl auth can-i).
    if attrs.group == "authorization.k8s.io" && attrs.resource.starts_with("selfsubject") {
        return true;
    }
    let crb = StorageKey { group: "rbac.authorization.k8s.io".into(), plural: "clusterrolebindings".into() };
    for b in store.list(&crb, None) {
        let subjects = b.get("subjects").and_then(Value::as_array).cloned().unwrap_or_default();
        if subjects.iter().any(|s| subject_matches(s, user, None))
            && let Some(role_ref) = b.get("roleRef")
            && role_rules(store, role_ref, "").iter().any(|r| rule_allows(r, attrs))
        {
            return true;
        }
    }
    let Some(ns) = attrs.namespace.as_deref() else { return false };
    let rb = StorageKey { group: "rbac.authorization.k8s.io".into(), plural: "rolebindings".into() };
    for b in store.list(&rb, Some(ns)) {
        let subjects = b.get("subjects").and_then(Value::as_array).cloned().unwrap_or_default();
        if subjects.iter().any(|s| subject_matches(s, user, Some(ns)))
            && let Some(role_ref) = b.get("roleRef")
            && role_rules(store, role_ref, ns).iter().any(|r| rule_allows(r, attrs))
        {
            return true;
        }
    }
    false
}

/// TokenReview: who a token belongs to.
pub fn token_review(auth: &Auth, review: &Value) -> Value {
    let token = review.pointer("/spec/token").and_then(Value::as_str).unwrap_or_default();
    let audiences =
        review.pointer("/spec/audiences").cloned().unwrap_or_else(|| json!(["https://kubernetes.default.svc"]));
    let status = match auth.lookup(token) {
        Some(u) => {
            json!({"authenticated": true, "user": {"username": u.name, "uid": u.uid, "groups": u.groups}, "audiences": audiences})
        }
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    let mut out = review.clone();
    out["status"] = status;
    out
}

/// SubjectAccessReview (or the self/local variants, with the caller filled in).
pub fn access_review(auth: &Auth, store: &Store, review: &Value, caller: &User, self_review: bool) -> Value {
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let user = if self_review {
        caller.clone()
    } else {
        User {
            name: spec.get("user").and_then(Value::as_str).unwrap_or_default().into(),
            uid: spec.get("uid").and_then(Value::as_str).unwrap_or_default().into(),
            groups: strings(spec.get("groups")).into_iter().map(str::to_string).collect(),
        }
    };
    let allowed = match spec.get("resourceAttributes") {
        Some(ra) => {
            let text = |k: &str| ra.get(k).and_then(Value::as_str).map(str::to_string);
            let attrs = Attributes {
                verb: text("verb").unwrap_or_default(),
                group: text("group").unwrap_or_default(),
                resource: text("resource").unwrap_or_default(),
                subresource: text("subresource").filter(|s| !s.is_empty()),
                namespace: text("namespace").filter(|s| !s.is_empty()),
                name: text("name").filter(|s| !s.is_empty()),
            };
            auth.authorize(store, &user, &attrs).is_ok()
        }
        // Non-resource URLs (discovery, health) are open to every authenticated user.
        None => !auth.rbac() || user.is_admin() || user.groups.iter().any(|g| g == "system:authenticated"),
    };
    let mut out = review.clone();
    out["status"] = if allowed {
        json!({"allowed": true, "reason": "allowed by RBAC"})
    } else {
        json!({"allowed": false, "reason": "no RBAC policy matched"})
    };
    out
}
