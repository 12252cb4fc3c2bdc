//! MCP resources: every cached Flux object of every cluster, and each cluster's Flux health, with
//! stable URIs ([`uri`]). Listing reads the watch caches (no API request), scoped to what the
//! caller may list; reading runs the tool that answers for the object through the registry, so a
//! resource holds the same markdown as the tool (plus its JSON) and is checked for the caller in
//! exactly the same way. [`subscriptions`] tells subscribers when one changes ([`changes`]).
//!
//! A kind is offered as resources only while the tool that reads it is offered (`--tools`).

pub mod changes;
pub mod subscriptions;
pub mod uri;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gitops_agent_api::tools::ToolName;
use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

use self::subscriptions::Subscriptions;
use self::uri::{ResourceUri, UriError};
use crate::auth::review::Access;
use crate::auth::{self, Caller};
use crate::interact;
use crate::kinds::{self, Kind};
use crate::markdown;
use crate::registry::{Registry, ToolError};
use crate::tools::{ToolContext, flux_item};

/// One entry of `resources/list`.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub uri: String,
    pub name: String,
    pub title: String,
    pub description: String,
}

/// One page of `resources/list`.
#[derive(Debug)]
pub struct Listing {
    pub resources: Vec<Listed>,
    pub next_cursor: Option<String>,
}

/// What `resources/read` answers: the tool's markdown and its JSON.
#[derive(Debug)]
pub struct Contents {
    pub uri: String,
    pub markdown: String,
    pub json: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(transparent)]
    Uri(#[from] UriError),
    #[error("resource {uri} not found: {reason}")]
    NotFound { uri: String, reason: String },
    #[error("invalid cursor {0:?}: pass the nextCursor of the previous resources/list answer")]
    Cursor(String),
    #[error("{uri}: this agent does not serve it, because tool `{tool}` is not offered (--tools)")]
    NotOffered { uri: String, tool: &'static str },
    #[error("{uri}: {error}")]
    Read { uri: String, error: ToolError },
}

impl ResourceError {
    /// The URI the error is about, for the error's data.
    pub fn uri(&self) -> Option<&str> {
        match self {
            Self::NotFound { uri, .. } | Self::NotOffered { uri, .. } | Self::Read { uri, .. } => Some(uri),
            Self::Uri(_) | Self::Cursor(_) => None,
        }
    }

    /// The request named something that is not there (JSON-RPC "resource not found").
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. } | Self::NotOffered { .. })
    }

    /// The request itself was wrong (JSON-RPC "invalid params").
    pub fn is_invalid(&self) -> bool {
        matches!(self, Self::Uri(_) | Self::Cursor(_))
            || matches!(self, Self::Read { error, .. } if error.is_protocol_error() || error.is_forbidden())
    }
}

/// The tool that answers for a resource, and its arguments.
fn reader(uri: &ResourceUri) -> (ToolName, Value) {
    match uri {
        ResourceUri::Object { cluster, kind, namespace, name } => match *kind {
            kinds::KUSTOMIZATION => {
                (ToolName::GetKustomization, json!({"cluster": cluster, "namespace": namespace, "name": name}))
            }
            kinds::HELMRELEASE => {
                (ToolName::GetHelmrelease, json!({"cluster": cluster, "namespace": namespace, "name": name}))
            }
            source => (
                ToolName::DebugReconciliation,
                json!({"cluster": cluster, "resource_type": source.kind, "namespace": namespace, "name": name}),
            ),
        },
        ResourceUri::Summary { cluster } => (ToolName::FluxHealthSummary, json!({"cluster": cluster})),
    }
}

fn reader_of_kind(kind: Kind) -> ToolName {
    reader(&ResourceUri::Object { cluster: String::new(), kind, namespace: String::new(), name: String::new() }).0
}

/// Something `resources/list` found, before it is described.
enum Found {
    Summary { cluster: String },
    Object { cluster: String, object: Arc<DynamicObject> },
}

pub struct Resources {
    registry: Arc<Registry>,
    /// The default cluster's context; calls are routed from it to the cluster a URI names.
    ctx: Arc<ToolContext>,
    pub subscriptions: Arc<Subscriptions>,
}

impl Resources {
    pub fn new(registry: Arc<Registry>, ctx: Arc<ToolContext>, subscriptions: Arc<Subscriptions>) -> Self {
        Self { registry, ctx, subscriptions }
    }

    /// The Flux kinds offered as resources.
    pub fn kinds(&self) -> Vec<Kind> {
        kinds::FLUX.into_iter().filter(|k| self.registry.offers(reader_of_kind(*k))).collect()
    }

    pub fn offers_summaries(&self) -> bool {
        self.registry.offers(ToolName::FluxHealthSummary)
    }

    /// The templates of the resources offered.
    pub fn templates(&self) -> Vec<uri::Template> {
        let kinds = self.kinds();
        uri::templates()
            .into_iter()
            .filter(|t| match t.kind {
                Some(k) => kinds.contains(&k),
                None => self.offers_summaries(),
            })
            .collect()
    }

    /// One page of the resources `caller` may list, in URI order, after `cursor`.
    pub async fn list(&self, cursor: Option<&str>, caller: Option<Caller>) -> Result<Listing, ResourceError> {
        let after = cursor.map(decode_cursor).transpose()?;
        auth::run_as(caller, self.list_visible(after)).await
    }

    async fn list_visible(&self, after: Option<String>) -> Result<Listing, ResourceError> {
        let kinds = self.kinds();
        let members = self.ctx.fleet.members();
        let steps = (members.len() * kinds.len()).max(1) as f64;
        let mut done = 0.0;
        let mut found: Vec<(String, Found)> = Vec::new();
        let mut keep = |uri: String, what: Found| {
            if after.as_ref().is_none_or(|a| uri > *a) {
                found.push((uri, what));
            }
        };
        for member in members {
            let cluster = member.name.clone();
            if self.offers_summaries() {
                keep(
                    ResourceUri::Summary { cluster: cluster.clone() }.to_string(),
                    Found::Summary { cluster: cluster.clone() },
                );
            }
            let Ok(on) = self.ctx.on(Some(&cluster)) else {
                done += kinds.len() as f64;
                continue;
            };
            for kind in &kinds {
                match on.list(*kind, None).await {
                    Ok(objects) => {
                        for object in objects.into_iter().filter(|o| on.in_scope(o.metadata.namespace.as_deref())) {
                            let uri = ResourceUri::Object {
                                cluster: cluster.clone(),
                                kind: *kind,
                                namespace: object.metadata.namespace.clone().unwrap_or_default(),
                                name: object.metadata.name.clone().unwrap_or_default(),
                            };
                            keep(uri.to_string(), Found::Object { cluster: cluster.clone(), object });
                        }
                    }
                    // Not installed there, not listable by the agent, or still loading: left out.
                    Err(e) => tracing::debug!(cluster = %cluster, %kind, error = %e, "not listed as resources"),
                }
                done += 1.0;
                interact::progress(done, Some(steps), &format!("listed {kind} objects of cluster {cluster}")).await;
            }
        }
        let page = self.ctx.limits.max_page as usize;
        let more = found.len() > page;
        if more {
            found.select_nth_unstable_by(page, |a, b| a.0.cmp(&b.0));
            found.truncate(page);
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let next_cursor = if more { found.last().map(|(uri, _)| URL_SAFE_NO_PAD.encode(uri)) } else { None };
        let resources = found.into_iter().map(|(uri, what)| describe(uri, what)).collect();
        Ok(Listing { resources, next_cursor })
    }

    /// A resource's contents for `caller`: the tool that answers for it, run as they would run it.
    pub async fn read(&self, uri: &str, caller: Option<Caller>) -> Result<Contents, ResourceError> {
        let parsed = ResourceUri::parse(uri)?;
        let uri = parsed.to_string();
        let (tool, args) = reader(&parsed);
        if !self.registry.offers(tool) {
            return Err(ResourceError::NotOffered { uri, tool: tool.as_str() });
        }
        match self.registry.call(self.ctx.clone(), tool.as_str(), args, "mcp-resource", caller).await {
            Ok(answer) => Ok(Contents { uri, markdown: answer.markdown, json: answer.data }),
            Err(ToolError::NotFound(reason)) => Err(ResourceError::NotFound { uri, reason }),
            Err(ToolError::InvalidArgument { param, reason }) if param == "cluster" => {
                Err(ResourceError::NotFound { uri, reason })
            }
            Err(error) => Err(ResourceError::Read { uri, error }),
        }
    }

    /// Whether `caller` may be told about the resource: it is one of this agent's (a known
    /// cluster, a Flux kind it serves, a namespace it answers for) and, with caller checks on,
    /// they may `get` the object. Asked whether or not the object exists, so an answer tells
    /// nothing about existence.
    pub async fn check_access(&self, uri: &ResourceUri, caller: Option<&Caller>) -> Result<(), ResourceError> {
        let not_found = |reason: String| ResourceError::NotFound { uri: uri.to_string(), reason };
        let member = self.ctx.fleet.member(Some(uri.cluster())).map_err(|e| not_found(e.to_string()))?;
        let ResourceUri::Object { kind, namespace, name, .. } = uri else {
            if self.offers_summaries() {
                return Ok(());
            }
            return Err(ResourceError::NotOffered { uri: uri.to_string(), tool: ToolName::FluxHealthSummary.as_str() });
        };
        if !self.kinds().contains(kind) {
            return Err(ResourceError::NotOffered { uri: uri.to_string(), tool: reader_of_kind(*kind).as_str() });
        }
        let Ok(link) = &member.link else { return Ok(()) };
        if !link.cache.in_scope(Some(namespace)) {
            return Err(not_found(format!("namespace {namespace:?} is outside this agent's watch namespaces")));
        }
        let (Some(reviewer), Some(caller)) = (&link.access, caller) else { return Ok(()) };
        // The served version when the kind is installed; its plural is the same in every version.
        let resource = link
            .cache
            .resource(*kind)
            .unwrap_or_else(|_| ApiResource::from_gvk(&GroupVersionKind::gvk(kind.group, kind.version, kind.kind)));
        reviewer
            .check(caller, &Access::new("get", &resource, namespace, name))
            .await
            .map_err(|e| ResourceError::Read { uri: uri.to_string(), error: ToolError::Auth(e) })
    }
}

fn decode_cursor(cursor: &str) -> Result<String, ResourceError> {
    let bad = || ResourceError::Cursor(crate::validate::sanitize(cursor));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let uri = String::from_utf8(bytes).map_err(|_| bad())?;
    ResourceUri::parse(&uri).map_err(|_| bad())?;
    Ok(uri)
}

fn describe(uri: String, what: Found) -> Listed {
    match what {
        Found::Summary { cluster } => Listed {
            uri,
            name: format!("{cluster} summary"),
            title: format!("Flux health of cluster {cluster}"),
            description: format!(
                "Ready, failing, stalled, progressing and suspended Kustomizations, HelmReleases and sources on cluster {cluster}, with the failing ones"
            ),
        },
        Found::Object { cluster, object } => {
            let item = flux_item(&object);
            let mut description = item.state.as_str().to_string();
            if !item.reason.is_empty() {
                description.push_str(&format!(" ({})", item.reason));
            }
            if !item.message.is_empty() {
                description.push_str(&format!(": {}", markdown::clip(&item.message, 200)));
            }
            Listed {
                uri,
                name: format!("{}/{}", item.namespace, item.name),
                title: format!("{} {}/{} on {cluster}", item.kind, item.namespace, item.name),
                description,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_read_by_its_tool() {
        assert_eq!(reader_of_kind(kinds::KUSTOMIZATION), ToolName::GetKustomization);
        assert_eq!(reader_of_kind(kinds::HELMRELEASE), ToolName::GetHelmrelease);
        assert_eq!(reader_of_kind(kinds::BUCKET), ToolName::DebugReconciliation);
        let (tool, args) = reader(&ResourceUri::parse("flux://prod/gitrepository/flux-system/infra").expect("uri"));
        assert_eq!(tool, ToolName::DebugReconciliation);
        assert_eq!(
            args,
            json!({"cluster": "prod", "resource_type": "GitRepository", "namespace": "flux-system", "name": "infra"})
        );
    }

    #[test]
    fn cursors_are_opaque_uris() {
        let cursor = URL_SAFE_NO_PAD.encode("flux://local/kustomization/a/b");
        assert_eq!(decode_cursor(&cursor).expect("cursor"), "flux://local/kustomization/a/b");
        for bad in ["%%%", "", &URL_SAFE_NO_PAD.encode("not a uri")] {
            let err = decode_cursor(bad).expect_err(bad);
            assert!(err.to_string().contains("nextCursor"), "{err}");
        }
    }
}
