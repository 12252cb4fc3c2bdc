//! The Prometheus Operator ServiceMonitor scraping the agent.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::meta::Context;
use super::workload::METRICS_PORT_NAME;
use crate::external::{MonitorEndpoint, NamespaceSelector, ServiceMonitor, ServiceMonitorSpec};

pub fn service_monitor(ctx: &Context) -> Option<ServiceMonitor> {
    let metrics = &ctx.spec.metrics;
    if !(metrics.enabled && metrics.service_monitor.enabled) {
        return None;
    }
    let mut metadata = ctx.meta(ctx.name.clone());
    if let Some(labels) = metadata.labels.as_mut() {
        labels.extend(metrics.service_monitor.labels.clone());
    }
    Some(ServiceMonitor {
        metadata,
        spec: ServiceMonitorSpec {
            selector: LabelSelector { match_labels: Some(ctx.selector()), ..Default::default() },
            namespace_selector: NamespaceSelector { match_names: vec![ctx.namespace.clone()] },
            endpoints: vec![MonitorEndpoint {
                port: METRICS_PORT_NAME.into(),
                path: metrics.path.clone(),
                interval: metrics.service_monitor.interval.clone(),
            }],
        },
    })
}
