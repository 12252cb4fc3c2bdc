//! Logging and tracing: JSON logs in clusters, human-readable locally, always on stderr (in stdio
//! mode stdout is the MCP channel); spans exported over OTLP/gRPC when an endpoint is configured.

use clap::ValueEnum;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot set up OTLP trace export to {endpoint}: {source}")]
    Otlp { endpoint: String, source: opentelemetry_otlp::ExporterBuildError },
}

/// Keeps the span exporter alive; `shutdown` flushes what is still buffered.
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends buffered spans now (tests, and before exit).
    pub fn flush(&self) {
        if let Some(p) = &self.provider {
            let _ = p.force_flush();
        }
    }

    pub fn shutdown(self) {
        if let Some(p) = self.provider {
            let _ = p.shutdown();
        }
    }
}

/// Logs only (tests, tools that do not serve).
pub fn init(format: LogFormat, level: &str) {
    let _ = init_with(format, level, None);
}

/// Logs, plus OTLP span export to `otlp_endpoint` (e.g. `http://otel-collector:4317`). The
/// sampler and service name follow the standard `OTEL_TRACES_SAMPLER(_ARG)` and
/// `OTEL_SERVICE_NAME` variables (the operator sets them from `spec.tracing`). Must run inside a
/// Tokio runtime when an endpoint is given (the gRPC client needs one).
pub fn init_with(format: LogFormat, level: &str, otlp_endpoint: Option<&str>) -> Result<Telemetry, TelemetryError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},kube=warn,hyper=warn,tower=warn,rmcp=warn,h2=warn,tonic=warn"
        ))
    });
    let provider = match otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(|source| TelemetryError::Otlp { endpoint: endpoint.to_string(), source })?;
            let mut resource = Resource::builder();
            if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
                resource = resource.with_service_name("gitops-agent");
            }
            Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
        }
        None => None,
    };
    let otel = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("gitops-agent")));
    let fmt = tracing_subscriber::fmt::layer().with_target(false).with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => registry.with(fmt.json().flatten_event(true).with_current_span(true)).try_init(),
        LogFormat::Text => registry.with(fmt).try_init(),
    };
    Ok(Telemetry { provider })
}
