//! PodDisruptionBudget and HorizontalPodAutoscaler: keeping enough agents up.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::meta::Context;

pub fn pod_disruption_budget(ctx: &Context) -> Option<PodDisruptionBudget> {
    let pdb = &ctx.spec.pdb;
    pdb.enabled.then(|| PodDisruptionBudget {
        metadata: ctx.meta(ctx.name.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(LabelSelector { match_labels: Some(ctx.selector()), ..Default::default() }),
            min_available: pdb.min_available.clone(),
            max_unavailable: pdb.max_unavailable.clone(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

pub fn autoscaler(ctx: &Context) -> Option<HorizontalPodAutoscaler> {
    let a = &ctx.spec.autoscaling;
    if !a.enabled {
        return None;
    }
    let utilization = |resource: &str, percent: Option<i32>| {
        percent.map(|p| MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: resource.into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: Some(p),
                    ..Default::default()
                },
            }),
            ..Default::default()
        })
    };
    let metrics: Vec<MetricSpec> = [
        utilization("cpu", a.target_cpu_utilization_percentage),
        utilization("memory", a.target_memory_utilization_percentage),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(HorizontalPodAutoscaler {
        metadata: ctx.meta(ctx.name.clone()),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: ctx.name.clone(),
            },
            min_replicas: Some(a.min_replicas),
            max_replicas: a.max_replicas,
            metrics: Some(metrics),
            ..Default::default()
        }),
        ..Default::default()
    })
}
