//! OTLP trace export: a collector (the OTLP gRPC trace service, in-process) receives a span per
//! tool call, named after the tool, when the agent is started with an OTLP endpoint.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use serde_json::json;

/// A received span: its name and its string-rendered attributes.
type Span = (String, Vec<(String, String)>);

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().expect("lock");
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                for span in ss.spans {
                    let attrs = span
                        .attributes
                        .iter()
                        .map(|kv| {
                            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                Some(AnyValue::StringValue(s)) => s.clone(),
                                Some(other) => format!("{other:?}"),
                                None => String::new(),
                            };
                            (kv.key.clone(), v)
                        })
                        .collect();
                    spans.push((span.name, attrs));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_are_exported_as_spans_over_otlp() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = collector.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(server))
            .serve_with_incoming(tokio_stream_from(listener))
            .await
            .expect("collector");
    });
    let telemetry = gitops_agent_server::telemetry::init_with(
        gitops_agent_server::telemetry::LogFormat::Text,
        "info",
        Some(&format!("http://{addr}")),
    )
    .expect("OTLP exporter");
    let env = common::start(common::Options { fixtures: true, ..Default::default() }).await;
    env.mcp.ok("list_kustomizations", json!({"status_filter": "failed"})).await;

    let mut found = Vec::new();
    for _ in 0..50 {
        telemetry.flush();
        found = collector.spans.lock().expect("lock").clone();
        // The request span ends after the tool span (when the response is written): wait for both.
        let tool = found.iter().any(|(name, attrs)| {
            name == "tool" && attrs.iter().any(|(k, v)| k == "tool" && v == "list_kustomizations")
        });
        if tool && found.iter().any(|(name, _)| name == "request") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tool =
        found.iter().find(|(name, _)| name == "tool").unwrap_or_else(|| panic!("no tool span exported: {found:?}"));
    assert!(tool.1.iter().any(|(k, v)| k == "tool" && v == "list_kustomizations"), "{tool:?}");
    assert!(tool.1.iter().any(|(k, v)| k == "outcome" && v == "success"), "{tool:?}");
    assert!(
        found.iter().any(|(name, attrs)| name == "request" && attrs.iter().any(|(k, v)| k == "path" && v == "/mcp")),
        "{found:?}"
    );
}

/// The listener as the incoming-connection stream tonic's server takes.
fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = Result<tokio::net::TcpStream, std::io::Error>> {
    futures::stream::unfold(listener, |l| async move {
        let conn = l.accept().await.map(|(s, _)| s);
        Some((conn, l))
    })
}
