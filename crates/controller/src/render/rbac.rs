//! ServiceAccount and the least-privilege RBAC of an agent: get/list/watch on exactly what its
//! enabled tools read (never Secrets), `patch` on Flux objects only when it is not read-only.

use std::collections::{BTreeMap, BTreeSet};

use gitops_agent_api::spec::AuthMode;
use gitops_agent_api::tools::Reads;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject};

use super::Child;
use super::meta::Context;

pub fn service_account(ctx: &Context) -> Option<ServiceAccount> {
    let sa = &ctx.spec.service_account;
    if !sa.create {
        return None;
    }
    let mut metadata = ctx.meta(ctx.service_account_name());
    if !sa.annotations.is_empty() {
        metadata.annotations = Some(sa.annotations.clone());
    }
    Some(ServiceAccount { metadata, automount_service_account_token: Some(true), ..Default::default() })
}

/// The ClusterRole(s) and bindings. Whole-cluster agents get one ClusterRoleBinding; agents
/// limited to `watchNamespaces` get a RoleBinding per namespace, plus a ClusterRoleBinding only
/// for the cluster-scoped kinds their tools read.
pub fn roles(ctx: &Context) -> Vec<Child> {
    if !ctx.spec.rbac.create {
        return Vec::new();
    }
    let tools = ctx.spec.effective_tools();
    let reads: Vec<Reads> = tools.iter().flat_map(|t| t.reads()).collect();
    let patches: Vec<Reads> = tools.iter().flat_map(|t| t.patches()).collect();
    let name = ctx.cluster_name();
    let mut out = Vec::new();
    if ctx.spec.auth.mode == AuthMode::Kubernetes {
        // Checking callers: who holds a token (TokenReview), and may they read this
        // (SubjectAccessReview). Both are cluster-scoped creates that store nothing.
        let auth_name = format!("{name}-auth");
        let review = |group: &str, resource: &str| PolicyRule {
            api_groups: Some(vec![group.to_string()]),
            resources: Some(vec![resource.to_string()]),
            verbs: vec!["create".to_string()],
            ..Default::default()
        };
        let rules = vec![
            review("authentication.k8s.io", "tokenreviews"),
            review("authorization.k8s.io", "subjectaccessreviews"),
        ];
        out.push(Child::ClusterRole(cluster_role(ctx, &auth_name, rules)));
        out.push(Child::ClusterRoleBinding(cluster_role_binding(ctx, &auth_name)));
    }

    if ctx.spec.watch_namespaces.is_empty() {
        let rules = rules(&reads, &patches);
        if !rules.is_empty() {
            out.push(Child::ClusterRole(cluster_role(ctx, &name, rules)));
            out.push(Child::ClusterRoleBinding(cluster_role_binding(ctx, &name)));
        }
        return out;
    }

    let (cluster_reads, namespaced_reads): (Vec<Reads>, Vec<Reads>) = reads.into_iter().partition(|r| r.cluster_scoped);
    let namespaced_rules = rules(&namespaced_reads, &patches);
    if !namespaced_rules.is_empty() {
        out.push(Child::ClusterRole(cluster_role(ctx, &name, namespaced_rules)));
        for ns in &ctx.spec.watch_namespaces {
            out.push(Child::RoleBinding(role_binding(ctx, &name, ns)));
        }
    }
    let cluster_rules = rules(&cluster_reads, &[]);
    if !cluster_rules.is_empty() {
        let cluster_name = format!("{name}-cluster");
        out.push(Child::ClusterRole(cluster_role(ctx, &cluster_name, cluster_rules)));
        out.push(Child::ClusterRoleBinding(cluster_role_binding(ctx, &cluster_name)));
    }
    out
}

/// Merges reads into one rule per API group (and one for subresources, which get `get` only).
fn rules(reads: &[Reads], patches: &[Reads]) -> Vec<PolicyRule> {
    let mut by_group: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut subresources: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in reads {
        for res in r.resources {
            let target = if res.contains('/') { &mut subresources } else { &mut by_group };
            target.entry(r.group).or_default().insert(res);
        }
    }
    let mut patch_by_group: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in patches {
        patch_by_group.entry(r.group).or_default().extend(r.resources.iter().copied());
    }
    let rule = |group: &str, resources: &BTreeSet<&str>, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|s| s.to_string()).collect()),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let mut out: Vec<PolicyRule> = by_group.iter().map(|(g, res)| rule(g, res, &["get", "list", "watch"])).collect();
    out.extend(subresources.iter().map(|(g, res)| rule(g, res, &["get"])));
    out.extend(patch_by_group.iter().map(|(g, res)| rule(g, res, &["patch"])));
    out
}

fn cluster_role(ctx: &Context, name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole { metadata: ctx.unowned_meta(name, None), rules: Some(rules), ..Default::default() }
}

fn subjects(ctx: &Context) -> Vec<Subject> {
    vec![Subject {
        kind: "ServiceAccount".into(),
        name: ctx.service_account_name(),
        namespace: Some(ctx.namespace.clone()),
        ..Default::default()
    }]
}

fn role_ref(name: &str) -> RoleRef {
    RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "ClusterRole".into(), name: name.into() }
}

fn cluster_role_binding(ctx: &Context, name: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ctx.unowned_meta(name, None),
        role_ref: role_ref(name),
        subjects: Some(subjects(ctx)),
    }
}

fn role_binding(ctx: &Context, name: &str, namespace: &str) -> RoleBinding {
    // In the agent's own namespace the binding can be owned (and garbage-collected) like any
    // child; elsewhere the finalizer removes it.
    let metadata = if namespace == ctx.namespace { ctx.meta(name) } else { ctx.unowned_meta(name, Some(namespace)) };
    RoleBinding { metadata, role_ref: role_ref(name), subjects: Some(subjects(ctx)) }
}
