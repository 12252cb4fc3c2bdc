//! The fleet part of the agent's pod: one read-only projected volume holding a kubeconfig file
//! per remote cluster (file name = cluster name), and the server flags that point at it.
//!
//! Which kubeconfigs exist is I/O (Secrets and CAPI Clusters are read by the reconciler); render
//! takes the answer as input so it stays pure.

use gitops_agent_api::GitOpsAgent;
use k8s_openapi::api::core::v1::{
    KeyToPath, ProjectedVolumeSource, SecretProjection, Volume, VolumeMount, VolumeProjection,
};

use super::meta::Context;

pub const VOLUME_NAME: &str = "clusters";
/// The server reads every regular file here as the kubeconfig of the cluster it is named after.
pub const CLUSTERS_DIR: &str = "/etc/gitops-agent/clusters";
/// Owner and group may read: the kubelet gives projected files to root and to the pod's fsGroup
/// (the hardened default is the agent's own group), and nobody else needs a kubeconfig.
const KUBECONFIG_MODE: i32 = 0o440;

/// A kubeconfig to mount: the Secret key that holds it and the cluster it is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MountedKubeconfig {
    pub cluster: String,
    pub secret: String,
    pub key: String,
}

/// The kubeconfigs to mount when nothing can be looked up (the `render` subcommand, golden
/// tests, the chart): every explicit target, as if its Secret existed. Clusters picked by a
/// selector are known only to the operator.
pub fn assumed(agent: &GitOpsAgent) -> Vec<MountedKubeconfig> {
    let targets = agent.spec.clusters.iter().flat_map(|c| &c.targets);
    targets
        .map(|t| {
            let secret = t.secret();
            MountedKubeconfig { cluster: t.name.clone(), secret: secret.name, key: secret.key }
        })
        .collect()
}

/// Whether the agent answers for clusters other than its own: then it gets the clusters
/// directory, even while no kubeconfig is mounted yet (a selector that matches nothing today may
/// match tomorrow; the flags stay the same).
fn has_remote(ctx: &Context) -> bool {
    ctx.spec.clusters.as_ref().is_some_and(|c| c.has_remote())
}

/// The server flags for the fleet.
pub fn args(ctx: &Context) -> Vec<String> {
    let mut args = Vec::new();
    if has_remote(ctx) {
        args.push(format!("--clusters-dir={CLUSTERS_DIR}"));
    }
    if ctx.spec.clusters.as_ref().is_some_and(|c| !c.local) {
        args.push("--local-cluster=false".to_string());
    }
    args
}

/// The projected volume of kubeconfigs, sorted by cluster name so a re-ordering of the inputs does
/// not roll the pods.
pub fn volume(ctx: &Context) -> Option<Volume> {
    if !has_remote(ctx) {
        return None;
    }
    let mut kubeconfigs = ctx.kubeconfigs.to_vec();
    kubeconfigs.sort();
    kubeconfigs.dedup_by(|a, b| a.cluster == b.cluster);
    let sources = kubeconfigs
        .into_iter()
        .map(|k| VolumeProjection {
            secret: Some(SecretProjection {
                name: k.secret,
                items: Some(vec![KeyToPath { key: k.key, path: k.cluster, mode: Some(KUBECONFIG_MODE) }]),
                // Only Secrets the operator found are listed; a missing one stays a hard error so a
                // pod never starts silently without a cluster it was given.
                optional: Some(false),
            }),
            ..Default::default()
        })
        .collect();
    Some(Volume {
        name: VOLUME_NAME.into(),
        projected: Some(ProjectedVolumeSource { sources: Some(sources), default_mode: Some(KUBECONFIG_MODE) }),
        ..Default::default()
    })
}

pub fn volume_mount(ctx: &Context) -> Option<VolumeMount> {
    has_remote(ctx).then(|| VolumeMount {
        name: VOLUME_NAME.into(),
        mount_path: CLUSTERS_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    })
}
