//! The Kubernetes kinds the tools read, by group and kind (the served version is discovered).

/// A kind some tool reads. The version is not fixed: the cache uses whichever version the API
/// server prefers, so `OCIRepository` works as `v1beta2` (Flux ≤ 2.5) and `v1` (Flux ≥ 2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Kind {
    pub group: &'static str,
    pub kind: &'static str,
    /// The version named in "not installed" errors (the one current Flux/CAPI releases serve).
    pub version: &'static str,
}

const fn kind(group: &'static str, kind: &'static str, version: &'static str) -> Kind {
    Kind { group, kind, version }
}

pub const KUSTOMIZATION: Kind = kind("kustomize.toolkit.fluxcd.io", "Kustomization", "v1");
pub const HELMRELEASE: Kind = kind("helm.toolkit.fluxcd.io", "HelmRelease", "v2");
pub const GITREPOSITORY: Kind = kind("source.toolkit.fluxcd.io", "GitRepository", "v1");
pub const OCIREPOSITORY: Kind = kind("source.toolkit.fluxcd.io", "OCIRepository", "v1");
pub const HELMREPOSITORY: Kind = kind("source.toolkit.fluxcd.io", "HelmRepository", "v1");
pub const HELMCHART: Kind = kind("source.toolkit.fluxcd.io", "HelmChart", "v1");
pub const BUCKET: Kind = kind("source.toolkit.fluxcd.io", "Bucket", "v1");
pub const CAPI_CLUSTER: Kind = kind("cluster.x-k8s.io", "Cluster", "v1beta1");
pub const MACHINE: Kind = kind("cluster.x-k8s.io", "Machine", "v1beta1");
pub const APP: Kind = kind("apps.kommander.d2iq.io", "App", "v1alpha2");
pub const CLUSTER_APP: Kind = kind("apps.kommander.d2iq.io", "ClusterApp", "v1alpha2");
pub const CONSTRAINT_TEMPLATE: Kind = kind("templates.gatekeeper.sh", "ConstraintTemplate", "v1");
pub const KYVERNO_CLUSTER_POLICY: Kind = kind("kyverno.io", "ClusterPolicy", "v1");
pub const KYVERNO_POLICY: Kind = kind("kyverno.io", "Policy", "v1");
pub const POLICY_REPORT: Kind = kind("wgpolicyk8s.io", "PolicyReport", "v1alpha2");
pub const CLUSTER_POLICY_REPORT: Kind = kind("wgpolicyk8s.io", "ClusterPolicyReport", "v1alpha2");

/// Gatekeeper creates one constraint kind per ConstraintTemplate in this group: the cache watches
/// every kind the group serves.
pub const CONSTRAINTS_GROUP: &str = "constraints.gatekeeper.sh";

/// Flux's source kinds, in the order `list_sources` shows them.
pub const SOURCES: [Kind; 5] = [GITREPOSITORY, OCIREPOSITORY, HELMREPOSITORY, HELMCHART, BUCKET];

/// The kinds Flux reconciles (what `reconcile`, `suspend`, `resume` and `debug_reconciliation` accept).
pub const FLUX: [Kind; 7] =
    [KUSTOMIZATION, HELMRELEASE, GITREPOSITORY, OCIREPOSITORY, HELMREPOSITORY, HELMCHART, BUCKET];

/// Every fixed kind the cache watches when its CRD is served.
pub const CACHED: [Kind; 16] = [
    KUSTOMIZATION,
    HELMRELEASE,
    GITREPOSITORY,
    OCIREPOSITORY,
    HELMREPOSITORY,
    HELMCHART,
    BUCKET,
    CAPI_CLUSTER,
    MACHINE,
    APP,
    CLUSTER_APP,
    CONSTRAINT_TEMPLATE,
    KYVERNO_CLUSTER_POLICY,
    KYVERNO_POLICY,
    POLICY_REPORT,
    CLUSTER_POLICY_REPORT,
];

impl Kind {
    /// The Flux kind a user names in a tool argument (`kustomization`, `GitRepository`, …).
    pub fn flux_by_name(name: &str) -> Option<Kind> {
        FLUX.into_iter().find(|k| k.kind.eq_ignore_ascii_case(name))
    }

    /// The Flux kind served as `group` and `kind`, if it is one (those are resources).
    pub fn flux(group: &str, kind: &str) -> Option<Kind> {
        FLUX.into_iter().find(|k| k.group == group && k.kind == kind)
    }

    pub fn is_source(self) -> bool {
        SOURCES.contains(&self)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)
    }
}
