//! TokenReview (who holds this token?) and SubjectAccessReview (may they do this?), each answer
//! remembered briefly in a bounded cache so a busy client costs a few reviews a minute, not one
//! per request.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::{Client, ResourceExt};
use sha2::{Digest, Sha256};

use super::{AuthError, Caller};

/// A rejected token is remembered for less time than an accepted one: a client that just fixed
/// its token should not wait long.
const REJECTED_TTL: Duration = Duration::from_secs(5);
/// Entries each cache holds at most.
const MAX_ENTRIES: usize = 10_000;

/// One thing a caller wants to do, in SubjectAccessReview terms. Empty strings mean "any": an
/// empty namespace asks about every namespace (or a cluster-scoped object).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Access {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

impl Access {
    pub fn new(verb: &str, resource: &ApiResource, namespace: &str, name: &str) -> Access {
        Access {
            verb: verb.into(),
            group: resource.group.clone(),
            resource: resource.plural.clone(),
            namespace: namespace.into(),
            name: name.into(),
            ..Access::default()
        }
    }

    fn refusal(&self, caller: &Caller) -> AuthError {
        let mut resource = self.resource.clone();
        if !self.subresource.is_empty() {
            resource = format!("{resource}/{}", self.subresource);
        }
        if !self.group.is_empty() {
            resource = format!("{resource}.{}", self.group);
        }
        if !self.name.is_empty() {
            resource = format!("{resource} {:?}", self.name);
        }
        let scope = if self.namespace.is_empty() {
            " at cluster scope (their RBAC allows less)".to_string()
        } else {
            format!(" in namespace {:?} (their RBAC does not allow it)", self.namespace)
        };
        AuthError::Forbidden { user: caller.username.clone(), verb: self.verb.clone(), resource, scope }
    }
}

/// A map whose entries expire, holding at most `MAX_ENTRIES`: when full, expired entries go, and
/// if that frees nothing everything goes (a burst of new callers costs re-reviews, never memory).
struct Expiring<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    fn new() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(until, _)| Instant::now() < *until).map(|(_, v)| v.clone())
    }

    fn put(&self, key: K, value: V, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let now = Instant::now();
            entries.retain(|_, (until, _)| now < *until);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now() + ttl, value));
    }

    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

pub struct Reviewer {
    client: Client,
    audiences: Vec<String>,
    ttl: Duration,
    /// By SHA-256 of the token: the tokens themselves are not kept.
    tokens: Expiring<[u8; 32], Result<Caller, String>>,
    decisions: Expiring<(Caller, Access), bool>,
}

impl Reviewer {
    /// `client` must be the agent's own client (not one that checks requests for a caller).
    pub fn new(client: Client, audiences: Vec<String>, ttl: Duration) -> Reviewer {
        Reviewer { client, audiences, ttl, tokens: Expiring::new(), decisions: Expiring::new() }
    }

    /// The caller a bearer token belongs to.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(known) = self.tokens.get(&key) {
            return known.map_err(AuthError::InvalidToken);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_string()),
                audiences: (!self.audiences.is_empty()).then(|| self.audiences.clone()),
            },
            ..TokenReview::default()
        };
        let answer = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| AuthError::Unavailable(format!("TokenReview failed: {e}")))?;
        let status = answer.status.unwrap_or_default();
        let result = match (status.authenticated, status.user) {
            (Some(true), Some(user)) if user.username.as_deref().is_some_and(|u| !u.is_empty()) => Ok(Caller {
                username: user.username.unwrap_or_default(),
                uid: user.uid.unwrap_or_default(),
                groups: user.groups.unwrap_or_default(),
                extra: user.extra.unwrap_or_default(),
            }),
            _ => Err(status.error.filter(|e| !e.is_empty()).unwrap_or_else(|| "not authenticated".into())),
        };
        let ttl = if result.is_ok() { self.ttl } else { REJECTED_TTL };
        self.tokens.put(key, result.clone(), ttl);
        result.map_err(AuthError::InvalidToken)
    }

    /// Whether the caller's RBAC allows `access`.
    pub async fn allowed(&self, caller: &Caller, access: &Access) -> Result<bool, AuthError> {
        let key = (caller.clone(), access.clone());
        if let Some(known) = self.decisions.get(&key) {
            return Ok(known);
        }
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(caller.username.clone()),
                uid: non_empty(&caller.uid),
                groups: Some(caller.groups.clone()),
                extra: (!caller.extra.is_empty()).then(|| caller.extra.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(access.verb.clone()),
                    group: Some(access.group.clone()),
                    resource: Some(access.resource.clone()),
                    subresource: non_empty(&access.subresource),
                    namespace: non_empty(&access.namespace),
                    name: non_empty(&access.name),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let answer = Api::<SubjectAccessReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| AuthError::Unavailable(format!("SubjectAccessReview failed: {e}")))?;
        let allowed = answer.status.is_some_and(|s| s.allowed && !s.denied.unwrap_or(false));
        self.decisions.put(key, allowed, self.ttl);
        Ok(allowed)
    }

    /// `Ok` when allowed; a refusal naming the caller, verb and scope otherwise.
    pub async fn check(&self, caller: &Caller, access: &Access) -> Result<(), AuthError> {
        if self.allowed(caller, access).await? { Ok(()) } else { Err(access.refusal(caller)) }
    }

    /// The objects of one kind the caller may list: all of them when their RBAC allows listing the
    /// kind in every namespace, otherwise those in the namespaces where it does.
    pub async fn visible(
        &self,
        caller: &Caller,
        resource: &ApiResource,
        objects: Vec<Arc<DynamicObject>>,
    ) -> Result<Vec<Arc<DynamicObject>>, AuthError> {
        if self.allowed(caller, &Access::new("list", resource, "", "")).await? {
            return Ok(objects);
        }
        let mut namespaces: Vec<String> = objects.iter().filter_map(|o| o.namespace()).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        let mut allowed = Vec::new();
        for ns in namespaces {
            if self.allowed(caller, &Access::new("list", resource, &ns, "")).await? {
                allowed.push(ns);
            }
        }
        // Cluster-scoped objects stay hidden: listing them needs the cluster-wide permission.
        Ok(objects.into_iter().filter(|o| o.namespace().is_some_and(|ns| allowed.binary_search(&ns).is_ok())).collect())
    }

    /// Entries in the token and decision caches (for tests and debugging).
    pub fn cached(&self) -> (usize, usize) {
        (self.tokens.len(), self.decisions.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache: Expiring<u32, bool> = Expiring::new();
        cache.put(1, true, Duration::from_secs(60));
        cache.put(2, true, Duration::ZERO);
        assert_eq!(cache.get(&1), Some(true));
        assert_eq!(cache.get(&2), None, "expired");
        for i in 0..(MAX_ENTRIES as u32 + 10) {
            cache.put(i, false, Duration::from_secs(60));
        }
        assert!(cache.len() <= MAX_ENTRIES, "{}", cache.len());
    }

    #[test]
    fn refusals_name_the_caller_the_verb_and_the_scope() {
        let caller = Caller { username: "alice".into(), ..caller() };
        let ar = ApiResource {
            group: "kustomize.toolkit.fluxcd.io".into(),
            version: "v1".into(),
            api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
            kind: "Kustomization".into(),
            plural: "kustomizations".into(),
        };
        let e = Access::new("patch", &ar, "team-b", "apps").refusal(&caller);
        assert_eq!(
            e.to_string(),
            "alice may not patch kustomizations.kustomize.toolkit.fluxcd.io \"apps\" in namespace \"team-b\" (their RBAC does not allow it)"
        );
        let e = Access::new("list", &ar, "", "").refusal(&caller);
        assert!(e.to_string().ends_with("at cluster scope (their RBAC allows less)"), "{e}");
    }

    fn caller() -> Caller {
        Caller { username: String::new(), uid: String::new(), groups: vec![], extra: Default::default() }
    }
}
