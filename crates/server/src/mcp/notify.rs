//! Resource notifications on their way to one MCP subscriber: a 2025 session (`resources/
//! subscribe`, sent on the session) or a 2026-07-28 `subscriptions/listen` stream (tagged with
//! its subscription id). Each update is checked against the caller's access when it is sent, so
//! someone whose RBAC changed stops hearing about what they may no longer read.

use std::sync::Arc;

use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::SubscriptionSink;
use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::auth::Caller;
use crate::metrics::Metrics;
use crate::resources::Resources;
use crate::resources::subscriptions::Notice;
use crate::resources::uri::ResourceUri;

/// Where a subscriber's notifications go.
pub enum Outlet {
    Session(Peer<RoleServer>),
    Stream(SubscriptionSink),
}

impl Outlet {
    async fn send(&self, notice: &Notice) -> Result<(), String> {
        match (self, notice) {
            (Outlet::Session(peer), Notice::Updated(uri)) => peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri.clone()))
                .await
                .map_err(|e| e.to_string()),
            (Outlet::Session(peer), Notice::ListChanged) => {
                peer.notify_resource_list_changed().await.map_err(|e| e.to_string())
            }
            (Outlet::Stream(sink), Notice::Updated(uri)) => {
                sink.notify_resource_updated(uri.clone()).await.map_err(|e| e.to_string())
            }
            (Outlet::Stream(sink), Notice::ListChanged) => {
                sink.notify_resource_list_changed().await.map_err(|e| e.to_string())
            }
        }
    }
}

/// Sends a subscriber's notices until its queue closes or its client goes away.
pub fn spawn(
    outlet: Outlet,
    mut notices: mpsc::Receiver<Notice>,
    resources: Arc<Resources>,
    caller: Option<Caller>,
    metrics: Arc<Metrics>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(notice) = notices.recv().await {
            let outcome = match &notice {
                Notice::Updated(uri) => {
                    let allowed = match (&caller, ResourceUri::parse(uri)) {
                        (None, _) => true,
                        (Some(caller), Ok(parsed)) => resources.check_access(&parsed, Some(caller)).await.is_ok(),
                        (Some(_), Err(_)) => false,
                    };
                    if !allowed {
                        metrics.resource_notification("refused");
                        continue;
                    }
                    "updated"
                }
                Notice::ListChanged => "list_changed",
            };
            if let Err(e) = outlet.send(&notice).await {
                tracing::debug!(error = %e, "the subscriber is gone: no more notifications");
                metrics.resource_notification("dropped");
                return;
            }
            metrics.resource_notification(outcome);
        }
    })
}
