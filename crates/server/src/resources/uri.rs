//! Resource URIs: `flux://{cluster}/{kind}/{namespace}/{name}` for a cached Flux object and
//! `flux://{cluster}/summary` for a cluster's Flux health. The cluster is the name `list_contexts`
//! shows (`local` for the agent's own); the kind is the Flux kind in lower case.

use std::fmt;

use crate::kinds::{self, Kind};
use crate::validate;

pub const SCHEME: &str = "flux";

/// A resource this agent serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceUri {
    Object { cluster: String, kind: Kind, namespace: String, name: String },
    Summary { cluster: String },
}

/// Why a URI names no resource of this agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error(
        "{uri:?} is not a resource of this agent: expected {SCHEME}://{{cluster}}/{{kind}}/{{namespace}}/{{name}} or {SCHEME}://{{cluster}}/summary"
    )]
    Shape { uri: String },
    #[error("{uri:?}: {kind:?} is not a Flux kind; expected one of {}", kind_segments().join(", "))]
    Kind { uri: String, kind: String },
    #[error("{uri:?}: {reason}")]
    Segment { uri: String, reason: String },
}

/// The path segment of a Flux kind: its name in lower case.
pub fn kind_segment(kind: Kind) -> String {
    kind.kind.to_ascii_lowercase()
}

fn kind_segments() -> Vec<String> {
    kinds::FLUX.iter().map(|k| kind_segment(*k)).collect()
}

/// The Flux kind of a path segment (exactly its lower-case name).
pub fn kind_of_segment(segment: &str) -> Option<Kind> {
    kinds::FLUX.into_iter().find(|k| kind_segment(*k) == segment)
}

impl ResourceUri {
    pub fn parse(uri: &str) -> Result<ResourceUri, UriError> {
        let shape = || UriError::Shape { uri: validate::sanitize(uri) };
        let rest = uri.strip_prefix(SCHEME).and_then(|r| r.strip_prefix("://")).ok_or_else(shape)?;
        let segments: Vec<&str> = rest.split('/').collect();
        let segment = |param: &str, e: crate::registry::ToolError| UriError::Segment {
            uri: validate::sanitize(uri),
            reason: e.to_string().replace("invalid argument", &format!("invalid {param}")),
        };
        let cluster = segments.first().copied().unwrap_or_default();
        validate::name("cluster", cluster).map_err(|e| segment("cluster", e))?;
        match segments[1..] {
            ["summary"] => Ok(ResourceUri::Summary { cluster: cluster.to_string() }),
            [kind, namespace, name] => {
                let kind = kind_of_segment(kind)
                    .ok_or_else(|| UriError::Kind { uri: validate::sanitize(uri), kind: validate::sanitize(kind) })?;
                validate::namespace("namespace", namespace).map_err(|e| segment("namespace", e))?;
                validate::name("name", name).map_err(|e| segment("name", e))?;
                Ok(ResourceUri::Object {
                    cluster: cluster.to_string(),
                    kind,
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                })
            }
            _ => Err(shape()),
        }
    }

    pub fn cluster(&self) -> &str {
        match self {
            ResourceUri::Object { cluster, .. } | ResourceUri::Summary { cluster } => cluster,
        }
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceUri::Object { cluster, kind, namespace, name } => {
                write!(f, "{SCHEME}://{cluster}/{}/{namespace}/{name}", kind_segment(*kind))
            }
            ResourceUri::Summary { cluster } => write!(f, "{SCHEME}://{cluster}/summary"),
        }
    }
}

/// A URI template (RFC 6570, level 1) of `resources/templates/list`, and what completes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub uri_template: String,
    /// The Flux kind it names (`None`: the cluster summary).
    pub kind: Option<Kind>,
}

/// Every template: one per Flux kind, then the cluster summary.
pub fn templates() -> Vec<Template> {
    let mut out: Vec<Template> = kinds::FLUX
        .iter()
        .map(|k| Template {
            uri_template: format!("{SCHEME}://{{cluster}}/{}/{{namespace}}/{{name}}", kind_segment(*k)),
            kind: Some(*k),
        })
        .collect();
    out.push(Template { uri_template: format!("{SCHEME}://{{cluster}}/summary"), kind: None });
    out
}

/// The template of this exact `uriTemplate` string.
pub fn template(uri_template: &str) -> Option<Template> {
    templates().into_iter().find(|t| t.uri_template == uri_template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_and_summary_uris_round_trip() {
        for uri in [
            "flux://local/kustomization/flux-system/apps",
            "flux://prod-eu/helmrelease/team-b/redis",
            "flux://local/summary",
        ] {
            assert_eq!(ResourceUri::parse(uri).expect(uri).to_string(), uri);
        }
        let parsed = ResourceUri::parse("flux://local/ocirepository/flux-system/podinfo").expect("parse");
        assert_eq!(
            parsed,
            ResourceUri::Object {
                cluster: "local".into(),
                kind: kinds::OCIREPOSITORY,
                namespace: "flux-system".into(),
                name: "podinfo".into()
            }
        );
    }

    #[test]
    fn bad_uris_say_what_is_wrong() {
        let err = ResourceUri::parse("test://watched-resource").expect_err("scheme");
        assert!(err.to_string().contains("expected flux://{cluster}/{kind}/{namespace}/{name}"), "{err}");
        let err = ResourceUri::parse("flux://local/deployment/a/b").expect_err("kind");
        assert!(err.to_string().contains("\"deployment\" is not a Flux kind"), "{err}");
        assert!(err.to_string().contains("kustomization, helmrelease"), "{err}");
        let err = ResourceUri::parse("flux://local/kustomization/Bad_NS/b").expect_err("namespace");
        assert!(err.to_string().contains("invalid namespace"), "{err}");
        for bad in
            ["flux://", "flux:///summary", "flux://local", "flux://local/kustomization/a", "flux://local/summary/x"]
        {
            assert!(ResourceUri::parse(bad).is_err(), "{bad}");
        }
        // The kind segment is exact: clients build URIs from the templates.
        assert!(ResourceUri::parse("flux://local/Kustomization/a/b").is_err());
    }

    #[test]
    fn templates_cover_every_flux_kind_and_the_summary() {
        let all = templates();
        assert_eq!(all.len(), kinds::FLUX.len() + 1);
        assert_eq!(all[0].uri_template, "flux://{cluster}/kustomization/{namespace}/{name}");
        assert_eq!(template("flux://{cluster}/summary").and_then(|t| t.kind), None);
        assert!(template("flux://{cluster}/helmrelease/{namespace}/{name}").is_some());
        assert!(template("flux://{cluster}/nope").is_none());
    }
}
