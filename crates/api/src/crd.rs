//! The GitOpsAgent CustomResourceDefinition, as it is installed.
//!
//! The derived CRD embeds the full schemas of the Kubernetes types the spec reuses (Volume,
//! Affinity, SecurityContext, ...) with their upstream descriptions: about 290 KB, over the 256 KiB
//! that client-side `kubectl apply` can store in its last-applied annotation. Like controller-gen's
//! `maxDescLen=0`, we drop the descriptions inside those embedded types (the structure and
//! validation stay complete) and keep every description of our own fields.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{CustomResourceDefinition, JSONSchemaProps};
use kube::CustomResourceExt;

use crate::spec::GitOpsAgent;

/// Spec fields whose schema is an embedded Kubernetes type.
const EMBEDDED_KUBERNETES_TYPES: &[&str] = &[
    "affinity",
    "extraEnv",
    "extraVolumeMounts",
    "extraVolumes",
    "imagePullSecrets",
    "podSecurityContext",
    "resources",
    "securityContext",
    "tolerations",
    "topologySpreadConstraints",
];

/// The CRD to install (what `crds/` holds and `gitops-agent-operator crd` prints).
pub fn crd() -> CustomResourceDefinition {
    let mut crd = GitOpsAgent::crd();
    for version in &mut crd.spec.versions {
        let Some(root) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) else { continue };
        // Every spec field has a default, so `spec` itself may be left out: it defaults to {}.
        if let Some(required) = root.required.as_mut() {
            required.retain(|r| r != "spec");
        }
        if root.required.as_ref().is_some_and(Vec::is_empty) {
            root.required = None;
        }
        let Some(props) = root.properties.as_mut() else { continue };
        if let Some(spec) = props.get_mut("spec") {
            spec.default =
                Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSON(serde_json::json!({})));
        }
        if let Some(spec) = props.get_mut("spec").and_then(|s| s.properties.as_mut()) {
            for field in EMBEDDED_KUBERNETES_TYPES {
                if let Some(schema) = spec.get_mut(*field) {
                    strip_nested_descriptions(schema);
                }
            }
            if let Some(selector) =
                spec.get_mut("clusters").and_then(|c| c.properties.as_mut()).and_then(|c| c.get_mut("selector"))
            {
                strip_nested_descriptions(selector);
            }
            if let Some(np) = spec.get_mut("networkPolicy").and_then(|n| n.properties.as_mut()) {
                for field in ["ingressFrom", "metricsFrom", "egressTo"] {
                    if let Some(schema) = np.get_mut(field) {
                        strip_nested_descriptions(schema);
                    }
                }
            }
        }
        if let Some(conditions) =
            props.get_mut("status").and_then(|s| s.properties.as_mut()).and_then(|s| s.get_mut("conditions"))
        {
            strip_nested_descriptions(conditions);
        }
    }
    crd
}

/// Removes descriptions below `schema`, keeping its own.
fn strip_nested_descriptions(schema: &mut JSONSchemaProps) {
    fn strip(schema: &mut JSONSchemaProps) {
        schema.description = None;
        strip_children(schema);
    }
    fn strip_children(schema: &mut JSONSchemaProps) {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
            JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
        };
        for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
            strip(child);
        }
        match schema.items.as_mut() {
            Some(JSONSchemaPropsOrArray::Schema(s)) => strip(s),
            Some(JSONSchemaPropsOrArray::Schemas(list)) => list.iter_mut().for_each(strip),
            None => {}
        }
        if let Some(JSONSchemaPropsOrBool::Schema(s)) = schema.additional_properties.as_mut() {
            strip(s);
        }
        for list in [&mut schema.all_of, &mut schema.any_of, &mut schema.one_of].into_iter().flatten() {
            list.iter_mut().for_each(strip);
        }
    }
    strip_children(schema);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_crd_fits_client_side_apply() {
        let crd = super::crd();
        let json = serde_json::to_string(&crd).expect("serializes");
        // kubectl's last-applied-configuration annotation holds at most 256 KiB.
        assert!(json.len() < 200 * 1024, "CRD is {} bytes", json.len());
        let spec = &crd.spec.versions[0].schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()).expect("schema");
        let affinity =
            &spec.properties.as_ref().expect("props")["spec"].properties.as_ref().expect("spec props")["affinity"];
        assert!(affinity.description.is_some(), "our own field descriptions stay");
    }
}
