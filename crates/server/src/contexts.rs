//! What `list_contexts` and `get_current_context` may tell: context names, cluster server URLs
//! and user names. Never a token, certificate, key, password or exec/auth-provider setting: those
//! are not even kept here.

use kube::config::Kubeconfig;
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContextInfo {
    pub name: String,
    pub cluster: String,
    /// The cluster's API server URL (any user:password part removed).
    pub server: String,
    /// The kubeconfig user's name (never its credentials).
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl ContextInfo {
    /// A context known only by name (its kubeconfig could not be read).
    pub fn named(name: &str) -> ContextInfo {
        ContextInfo {
            name: name.into(),
            cluster: name.into(),
            server: String::new(),
            user: String::new(),
            namespace: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contexts {
    /// Where the answer comes from: `in-cluster` or the kubeconfig's path.
    pub source: String,
    pub current: Option<String>,
    pub contexts: Vec<ContextInfo>,
}

impl Contexts {
    /// From a kubeconfig; `current` is the context chosen with `--context`, if any.
    pub fn from_kubeconfig(kc: &Kubeconfig, source: &str, current: Option<&str>) -> Self {
        let server_of = |cluster: &str| {
            kc.clusters
                .iter()
                .find(|c| c.name == cluster)
                .and_then(|c| c.cluster.as_ref())
                .and_then(|c| c.server.clone())
                .map(|s| without_userinfo(&s))
                .unwrap_or_default()
        };
        let contexts = kc
            .contexts
            .iter()
            .map(|c| {
                let ctx = c.context.as_ref();
                let cluster = ctx.map(|x| x.cluster.clone()).unwrap_or_default();
                ContextInfo {
                    name: c.name.clone(),
                    server: server_of(&cluster),
                    cluster,
                    user: ctx.and_then(|x| x.user.clone()).unwrap_or_default(),
                    namespace: ctx.and_then(|x| x.namespace.clone()),
                }
            })
            .collect();
        Self {
            source: source.to_string(),
            current: current.map(str::to_string).or_else(|| kc.current_context.clone()),
            contexts,
        }
    }

    /// Running in a pod with its ServiceAccount.
    pub fn in_cluster(server: &str, namespace: &str) -> Self {
        Self {
            source: "in-cluster".into(),
            current: Some("in-cluster".into()),
            contexts: vec![ContextInfo {
                name: "in-cluster".into(),
                cluster: "in-cluster".into(),
                server: without_userinfo(server),
                user: "serviceaccount".into(),
                namespace: Some(namespace.to_string()),
            }],
        }
    }

    pub fn current_info(&self) -> Option<&ContextInfo> {
        let current = self.current.as_deref()?;
        self.contexts.iter().find(|c| c.name == current)
    }
}

fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://admin:hunter2@prod.example.com:6443
    certificate-authority-data: Q0VSVElGSUNBVEUtQVVUSE9SSVRZ
- name: dev-cluster
  cluster:
    server: https://dev.example.com
contexts:
- name: prod
  context: {cluster: prod-cluster, user: prod-admin, namespace: flux-system}
- name: dev
  context: {cluster: dev-cluster, user: dev-user}
users:
- name: prod-admin
  user:
    token: super-secret-token
    client-key-data: UFJJVkFURS1LRVk=
- name: dev-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: get-token
      args: ["--password", "exec-secret"]
"#;

    #[test]
    fn contexts_carry_names_and_servers_but_no_credentials() {
        let kc = Kubeconfig::from_yaml(KUBECONFIG).expect("parses");
        let c = Contexts::from_kubeconfig(&kc, "/tmp/kubeconfig", None);
        assert_eq!(c.current.as_deref(), Some("prod"));
        assert_eq!(c.contexts[0].server, "https://prod.example.com:6443");
        assert_eq!(c.contexts[0].user, "prod-admin");
        assert_eq!(c.contexts[1].server, "https://dev.example.com");
        let dump = format!("{c:?}");
        for secret in
            ["hunter2", "super-secret-token", "UFJJVkFURS1LRVk", "Q0VSVElGSUNBVEUt", "exec-secret", "get-token"]
        {
            assert!(!dump.contains(secret), "{secret} leaked");
        }
        let chosen = Contexts::from_kubeconfig(&kc, "/tmp/kubeconfig", Some("dev"));
        assert_eq!(chosen.current_info().map(|c| c.cluster.as_str()), Some("dev-cluster"));
    }
}
