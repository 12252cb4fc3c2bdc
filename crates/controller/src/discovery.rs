//! Which optional APIs the cluster serves (Gateway API, cert-manager, Prometheus Operator), so
//! their children are rendered only where they can exist; and Cluster API, whose Clusters a
//! `spec.clusters.selector` picks.

use std::sync::RwLock;

use kube::Client;

/// An optional API a child depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptionalApi {
    GatewayApi,
    CertManager,
    PrometheusOperator,
    /// Read, never rendered: the Clusters `spec.clusters.selector` picks.
    ClusterApi,
}

impl OptionalApi {
    pub const ALL: [OptionalApi; 4] = [Self::GatewayApi, Self::CertManager, Self::PrometheusOperator, Self::ClusterApi];

    /// The group/version and the resources that must be served.
    pub fn requires(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Self::GatewayApi => ("gateway.networking.k8s.io/v1", &["httproutes"]),
            Self::CertManager => ("cert-manager.io/v1", &["certificates", "clusterissuers"]),
            Self::PrometheusOperator => ("monitoring.coreos.com/v1", &["servicemonitors"]),
            Self::ClusterApi => ("cluster.x-k8s.io/v1beta1", &["clusters"]),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::GatewayApi => "Gateway API (gateway.networking.k8s.io/v1)",
            Self::CertManager => "cert-manager (cert-manager.io/v1)",
            Self::PrometheusOperator => "Prometheus Operator (monitoring.coreos.com/v1)",
            Self::ClusterApi => "Cluster API (cluster.x-k8s.io/v1beta1)",
        }
    }

    /// The optional API a child kind needs, if any.
    pub fn for_kind(kind: &str) -> Option<Self> {
        match kind {
            "HTTPRoute" => Some(Self::GatewayApi),
            "Certificate" | "ClusterIssuer" => Some(Self::CertManager),
            "ServiceMonitor" => Some(Self::PrometheusOperator),
            _ => None,
        }
    }
}

/// What the last discovery found.
#[derive(Default)]
pub struct OptionalApis {
    served: RwLock<Vec<OptionalApi>>,
}

impl OptionalApis {
    pub fn is_served(&self, api: OptionalApi) -> bool {
        self.served.read().map(|s| s.contains(&api)).unwrap_or(false)
    }

    /// Asks the API server again; keeps the previous answer for a group it could not reach.
    pub async fn refresh(&self, client: &Client) {
        let mut served = Vec::new();
        for api in OptionalApi::ALL {
            let (gv, resources) = api.requires();
            match client.list_api_group_resources(gv).await {
                Ok(list) => {
                    if resources.iter().all(|r| list.resources.iter().any(|x| x.name == *r)) {
                        served.push(api);
                    }
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    tracing::warn!(api = api.name(), error = %e, "discovery failed; keeping the previous answer");
                    if self.is_served(api) {
                        served.push(api);
                    }
                }
            }
        }
        if let Ok(mut s) = self.served.write() {
            *s = served;
        }
    }
}
