//! The Service in front of the agent pods: the MCP/A2A port and the metrics port.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::Context;
use super::workload::{HTTP_PORT_NAME, METRICS_PORT_NAME};

pub fn service(ctx: &Context) -> Service {
    let spec = ctx.spec;
    let port = |name: &str, number: i32| ServicePort {
        name: Some(name.into()),
        port: number,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        app_protocol: Some("http".into()),
        ..Default::default()
    };
    let mut ports = vec![port(HTTP_PORT_NAME, spec.service.port)];
    if spec.metrics.enabled {
        ports.push(port(METRICS_PORT_NAME, spec.metrics.port));
    }
    let mut metadata = ctx.meta(ctx.name.clone());
    if !spec.service.annotations.is_empty() {
        metadata.annotations = Some(spec.service.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(spec.service.type_.as_str().into()),
            selector: Some(ctx.selector()),
            ports: Some(ports),
            // Tasks kept in one pod's memory are only found by the pod that ran them.
            session_affinity: ctx.spec.a2a_needs_session_affinity().then(|| "ClientIP".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}
