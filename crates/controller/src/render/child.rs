//! `Child`: one rendered object, typed, with what apply and prune need to know about it.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::Resource;
use kube::core::ApiResource;
use serde::Serialize;

use crate::external::{Certificate, ClusterIssuer, HTTPRoute, ServiceMonitor};

macro_rules! children {
    ($($variant:ident($ty:ty)),+ $(,)?) => {
        /// One object rendered for a GitOpsAgent.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Child {
            $($variant($ty),)+
        }

        impl Child {
            /// The group/version/kind/plural of this child.
            pub fn api_resource(&self) -> ApiResource {
                match self {
                    $(Self::$variant(_) => ApiResource::erase::<$ty>(&Default::default()),)+
                }
            }

            fn meta(&self) -> &kube::core::ObjectMeta {
                match self {
                    $(Self::$variant(o) => o.meta(),)+
                }
            }

            /// The object as JSON, ready for server-side apply.
            pub fn to_json(&self) -> serde_json::Value {
                match self {
                    $(Self::$variant(o) => serde_json::to_value(o),)+
                }
                .unwrap_or(serde_json::Value::Null)
            }

            /// The object as a YAML document.
            pub fn to_yaml(&self) -> Result<String, serde_saphyr::SerializeError> {
                match self {
                    $(Self::$variant(o) => serde_saphyr::to_string(o),)+
                }
            }
        }

        impl Serialize for Child {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Self::$variant(o) => o.serialize(s),)+
                }
            }
        }
    };
}

children! {
    ServiceAccount(ServiceAccount),
    ClusterRole(ClusterRole),
    ClusterRoleBinding(ClusterRoleBinding),
    RoleBinding(RoleBinding),
    Service(Service),
    Deployment(Deployment),
    PodDisruptionBudget(PodDisruptionBudget),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    NetworkPolicy(NetworkPolicy),
    ClusterIssuer(ClusterIssuer),
    Certificate(Certificate),
    HttpRoute(HTTPRoute),
    ServiceMonitor(ServiceMonitor),
}

impl Child {
    pub fn kind(&self) -> String {
        self.api_resource().kind
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    /// None for cluster-scoped children.
    pub fn namespace(&self) -> Option<&str> {
        self.meta().namespace.as_deref()
    }

    /// `Kind/name` or `Kind/namespace/name`, for messages.
    pub fn display_name(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{}/{}/{}", self.kind(), ns, self.name()),
            None => format!("{}/{}", self.kind(), self.name()),
        }
    }

    /// What the API server would refuse in this child's name or labels: RBAC objects are named
    /// by path segment (any length up to 253, no '/'), the rest by DNS subdomain; label values
    /// are at most 63 characters. None when it would take them. The property tests and the fuzz
    /// targets hold every rendered child to this.
    pub fn naming_problem(&self) -> Option<String> {
        let kind = self.kind();
        let name = self.name();
        let valid = if kind.contains("Role") {
            !name.is_empty() && name.len() <= 253 && !name.contains('/')
        } else {
            dns_subdomain(name)
        };
        if !valid {
            return Some(format!("{kind} name {name:?}"));
        }
        self.meta()
            .labels
            .iter()
            .flatten()
            .find(|(_, v)| v.len() > 63)
            .map(|(k, v)| format!("{kind} {name}: label {k}={v} is longer than 63 characters"))
    }
}

fn dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}
