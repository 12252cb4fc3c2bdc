//! Resolving `spec.clusters` on each reconcile: which clusters the agent answers for, which of
//! their kubeconfig Secrets can be mounted, and what to say about the others.
//!
//! Least privilege: Secrets are read one by one, by name, with `get` (the operator may neither
//! list nor watch them), only to learn that the Secret and its key exist; the content is dropped
//! at once and never copied anywhere. The kubelet mounts the Secret into the agent's pods.

use gitops_agent_api::GitOpsAgent;
use gitops_agent_api::fleet::{ClusterSource, ClusterStatus, ClustersSpec, KUBECONFIG_SECRET_KEY, LOCAL_CLUSTER};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::core::{ApiResource, GroupVersionKind, Selector};
use kube::{Client, ResourceExt};

use crate::discovery::{OptionalApi, OptionalApis};
use crate::render::MountedKubeconfig;
use crate::status::Cond;
use crate::verify::ContextReport;

/// The condition that reports how `spec.clusters` resolved.
pub const CONDITION: &str = "ClustersResolved";

/// A Cluster API Cluster (only its metadata is read).
pub fn capi_clusters() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta1", "Cluster"), "clusters")
}

/// What resolving `spec.clusters` found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resolution {
    /// The kubeconfigs to mount into the agent's pods.
    pub mounted: Vec<MountedKubeconfig>,
    /// One entry per cluster, for `status.clusters`.
    pub clusters: Vec<ClusterStatus>,
    /// `ClustersResolved`, when the agent has `spec.clusters`.
    pub condition: Option<Cond>,
}

/// Why (part of) the selection could not be made; the first one names the condition's reason.
struct Problem {
    reason: &'static str,
    message: String,
}

impl Problem {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}

const NOT_INSTALLED: &str = "ClusterAPINotInstalled";
const SELECTOR_FAILED: &str = "SelectorFailed";

/// A cluster asked for, before its Secret is checked.
struct Wanted {
    name: String,
    source: ClusterSource,
    secret: String,
    key: String,
}

/// Resolves the agent's clusters. Errors are the retryable ones (the API server failing); what
/// the spec or the cluster's state makes impossible is reported in the resolution instead.
pub async fn resolve(client: &Client, apis: &OptionalApis, agent: &GitOpsAgent) -> Result<Resolution, kube::Error> {
    let Some(spec) = agent.spec.clusters.as_ref() else { return Ok(Resolution::default()) };
    let ns = crate::render::agent_namespace(agent);
    let mut problems = Vec::new();
    let mut wanted: Vec<Wanted> = spec
        .targets
        .iter()
        .map(|t| {
            let s = t.secret();
            Wanted { name: t.name.clone(), source: ClusterSource::Target, secret: s.name, key: s.key }
        })
        .collect();
    for name in selected(client, apis, spec, &ns, &mut problems).await? {
        if name == LOCAL_CLUSTER {
            let message =
                format!("the CAPI Cluster {LOCAL_CLUSTER:?} is skipped: that name is the agent's own cluster");
            problems.push(Problem::new(SELECTOR_FAILED, message));
        } else if !wanted.iter().any(|w| w.name == name) {
            let secret = gitops_agent_api::fleet::kubeconfig_secret_name(&name);
            wanted.push(Wanted { name, source: ClusterSource::Selector, secret, key: KUBECONFIG_SECRET_KEY.into() });
        }
    }

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut resolution = Resolution::default();
    if spec.local {
        resolution.clusters.push(ClusterStatus {
            name: LOCAL_CLUSTER.into(),
            source: ClusterSource::Local,
            secret: String::new(),
            mounted: true,
            reachable: None,
            message: String::new(),
        });
    }
    for w in wanted {
        let missing = check_secret(&secrets, &ns, &w.secret, &w.key).await?;
        if missing.is_none() {
            resolution.mounted.push(MountedKubeconfig {
                cluster: w.name.clone(),
                secret: w.secret.clone(),
                key: w.key.clone(),
            });
        }
        resolution.clusters.push(ClusterStatus {
            name: w.name,
            source: w.source,
            secret: w.secret,
            mounted: missing.is_none(),
            reachable: None,
            message: missing.unwrap_or_default(),
        });
    }
    resolution.condition = Some(condition(&resolution, &problems));
    Ok(resolution)
}

/// Names of the CAPI Clusters the selector picks (none, with a problem noted, when it cannot).
async fn selected(
    client: &Client,
    apis: &OptionalApis,
    spec: &ClustersSpec,
    ns: &str,
    problems: &mut Vec<Problem>,
) -> Result<Vec<String>, kube::Error> {
    let Some(selector) = spec.selector.clone() else { return Ok(Vec::new()) };
    if !apis.is_served(OptionalApi::ClusterApi) {
        let message = format!(
            "clusters.selector is set but {} is not served by this cluster; only clusters.targets are used",
            OptionalApi::ClusterApi.name()
        );
        problems.push(Problem::new(NOT_INSTALLED, message));
        return Ok(Vec::new());
    }
    let selector = match Selector::try_from(selector) {
        Ok(s) => s,
        Err(e) => {
            problems
                .push(Problem::new(SELECTOR_FAILED, format!("clusters.selector is not a valid label selector: {e}")));
            return Ok(Vec::new());
        }
    };
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), ns, &capi_clusters());
    match api.list_metadata(&ListParams::default().labels_from(&selector)).await {
        Ok(list) => {
            let mut names: Vec<String> = list.items.iter().map(|c| c.name_any()).collect();
            names.sort();
            Ok(names)
        }
        // The CRD went away since discovery: as if it had never been there.
        Err(kube::Error::Api(s)) if s.code == 404 => {
            let message =
                format!("{} is no longer served; only clusters.targets are used", OptionalApi::ClusterApi.name());
            problems.push(Problem::new(NOT_INSTALLED, message));
            Ok(Vec::new())
        }
        Err(kube::Error::Api(s)) if s.code == 403 => {
            let message = format!("the operator may not list CAPI Clusters in {ns}: {}", s.message);
            problems.push(Problem::new(SELECTOR_FAILED, message));
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// Why the kubeconfig cannot be mounted, or None when it can.
async fn check_secret(secrets: &Api<Secret>, ns: &str, name: &str, key: &str) -> Result<Option<String>, kube::Error> {
    match secrets.get_opt(name).await {
        Ok(Some(secret)) => {
            let has_key = secret.data.as_ref().is_some_and(|d| d.contains_key(key))
                || secret.string_data.as_ref().is_some_and(|d| d.contains_key(key));
            Ok((!has_key).then(|| format!("Secret {ns}/{name} has no key {key:?}; not mounted")))
        }
        Ok(None) => Ok(Some(format!(
            "Secret {ns}/{name} not found; not mounted (it is picked up at the next resync once it exists)"
        ))),
        Err(kube::Error::Api(s)) if s.code == 403 => {
            Ok(Some(format!("the operator may not get Secret {ns}/{name}: {}; not mounted", s.message)))
        }
        Err(e) => Err(e),
    }
}

fn condition(resolution: &Resolution, problems: &[Problem]) -> Cond {
    let remote: Vec<&ClusterStatus> = resolution.clusters.iter().filter(|c| c.source != ClusterSource::Local).collect();
    let unmounted: Vec<&str> = remote.iter().filter(|c| !c.mounted).map(|c| c.name.as_str()).collect();
    let summary = format!("{} of {} remote cluster(s) mounted", remote.len() - unmounted.len(), remote.len());
    if let Some(first) = problems.first() {
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        return Cond::new(CONDITION, false, first.reason, format!("{summary}; {}", messages.join("; ")));
    }
    if !unmounted.is_empty() {
        return Cond::new(
            CONDITION,
            false,
            "KubeconfigMissing",
            format!("{summary}; not mounted: {} (see status.clusters)", unmounted.join(", ")),
        );
    }
    Cond::new(CONDITION, true, "Resolved", summary)
}

/// Fills `reachable` and `message` of the mounted clusters from the agent's `list_contexts`
/// answer (matched by name). When the agent could not answer, reachability stays unknown.
pub fn merge_reachability(clusters: &mut [ClusterStatus], contexts: &Result<Vec<ContextReport>, String>) {
    for cluster in clusters.iter_mut().filter(|c| c.mounted) {
        match contexts {
            Err(e) => {
                cluster.reachable = None;
                cluster.message = format!("reachability unknown: {e}");
            }
            Ok(list) => match list.iter().find(|c| c.name == cluster.name) {
                Some(c) => {
                    cluster.reachable = c.reachable;
                    cluster.message = match (&c.error, &c.flux_version) {
                        (Some(error), _) => error.clone(),
                        (None, Some(flux)) => format!("Flux {flux}"),
                        (None, None) => String::new(),
                    };
                }
                None => {
                    cluster.reachable = None;
                    cluster.message = "the agent does not list this cluster yet (its pods may still run with the previous kubeconfigs)".into();
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use gitops_agent_api::fleet::{ClusterSource, ClusterStatus};

    use super::{NOT_INSTALLED, Problem, Resolution, condition, merge_reachability};
    use crate::verify::ContextReport;

    #[test]
    fn reachability_comes_from_list_contexts_by_name() {
        let mut clusters = vec![remote("a", true), remote("b", true), remote("c", false), remote("d", true)];
        clusters[2].message = "Secret ns/c-kubeconfig not found; not mounted".into();
        let report = |name: &str, reachable: bool, error: Option<&str>| ContextReport {
            name: name.into(),
            server: String::new(),
            reachable: Some(reachable),
            error: error.map(str::to_string),
            flux_version: reachable.then(|| "v2.7.0".to_string()),
        };
        merge_reachability(&mut clusters, &Ok(vec![report("a", true, None), report("b", false, Some("timeout"))]));
        let got: Vec<(Option<bool>, &str)> = clusters.iter().map(|c| (c.reachable, c.message.as_str())).collect();
        assert_eq!(got[0], (Some(true), "Flux v2.7.0"));
        assert_eq!(got[1], (Some(false), "timeout"));
        assert_eq!(got[2], (None, "Secret ns/c-kubeconfig not found; not mounted"), "unmounted: left as is");
        assert_eq!(got[3].0, None, "not listed by the agent: unknown");
        merge_reachability(&mut clusters, &Err("list_contexts failed: boom".into()));
        assert!(clusters.iter().filter(|c| c.mounted).all(|c| c.reachable.is_none() && c.message.contains("boom")));
    }

    fn remote(name: &str, mounted: bool) -> ClusterStatus {
        ClusterStatus {
            name: name.into(),
            source: ClusterSource::Selector,
            secret: format!("{name}-kubeconfig"),
            mounted,
            reachable: None,
            message: String::new(),
        }
    }

    #[test]
    fn the_condition_names_what_is_missing() {
        let mut r = Resolution { clusters: vec![remote("a", true), remote("b", true)], ..Default::default() };
        let c = condition(&r, &[]);
        assert_eq!(
            (c.status, c.reason.as_str(), c.message.as_str()),
            (true, "Resolved", "2 of 2 remote cluster(s) mounted")
        );
        r.clusters.push(remote("c", false));
        let c = condition(&r, &[]);
        assert_eq!((c.status, c.reason.as_str()), (false, "KubeconfigMissing"));
        assert!(c.message.contains("not mounted: c"), "{}", c.message);
        let c = condition(&r, &[Problem::new(NOT_INSTALLED, "Cluster API is not served")]);
        assert_eq!(
            (c.reason.as_str(), c.message.as_str()),
            ("ClusterAPINotInstalled", "2 of 3 remote cluster(s) mounted; Cluster API is not served")
        );
    }
}
