//! What a call may tell, or ask, the MCP client that made it while the call runs:
//! - log messages (`notifications/message`) at or above the level the client asked for, with
//!   `logging/setLevel` on a 2025 session or `io.modelcontextprotocol/logLevel` in a 2026-07-28
//!   request's `_meta`; never without that request (the 2026-07-28 rule, kept for both eras);
//! - progress (`notifications/progress`), when the request carried a progress token;
//! - before a change to the cluster, a confirmation through elicitation, when the client declared
//!   it can be asked: over the session (2025), or by answering the call with an
//!   `InputRequiredResult` that the client retries with the answer (2026-07-28).
//!
//! The MCP transport runs each call inside an [`Interaction`] (a task-local, like the caller in
//! [`crate::auth`]); A2A calls run without one, so there the functions below do nothing and a
//! change goes ahead as it did before elicitation existed.

// The logging feature is deprecated by the 2026-07-28 revision (SEP-2577), which still defines it;
// clients of both eras use it, so the agent serves it.
#![allow(deprecated)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    ElicitRequestParams, ElicitationAction, ElicitationSchema, LoggingLevel, LoggingMessageNotificationParam,
    ProgressNotificationParam, ProgressToken,
};
use rmcp::{Peer, RoleServer};
use serde_json::Value;

use crate::registry::ToolError;

tokio::task_local! {
    static CURRENT: Arc<Interaction>;
}

/// The client of one call, and what it accepts to hear and be asked.
pub struct Interaction {
    peer: Peer<RoleServer>,
    log_level: Option<LoggingLevel>,
    progress: Option<Progress>,
    confirm: Confirm,
}

struct Progress {
    token: ProgressToken,
    /// The last value sent (progress must increase with every notification) and the steps
    /// [`advance`] counted; held while one is sent, so concurrent steps go out in order.
    sent: tokio::sync::Mutex<(f64, u64)>,
}

/// How a change is confirmed with the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    /// The client cannot be asked (it declared no elicitation): the change goes ahead.
    Skip,
    /// Ask now over the session (2025 protocol) and wait at most this long for the answer.
    Ask(Duration),
    /// 2026-07-28: `None` asks by answering the call with an `InputRequiredResult`; `Some` is
    /// the answer the client's retry carries.
    Answered(Option<Answer>),
}

/// What the user answered a confirmation with.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub action: ElicitationAction,
    pub content: Option<Value>,
}

impl Answer {
    /// Whether it lets the change go ahead; if not, why not, in words for the caller.
    fn verdict(&self) -> Result<(), &'static str> {
        if accepted(&self.action, self.content.as_ref()) {
            return Ok(());
        }
        Err(match self.action {
            ElicitationAction::Decline => "the user declined it",
            ElicitationAction::Cancel => "the user dismissed the question",
            _ => "the user did not confirm it",
        })
    }
}

impl Interaction {
    pub fn new(
        peer: Peer<RoleServer>,
        log_level: Option<LoggingLevel>,
        progress: Option<ProgressToken>,
        confirm: Confirm,
    ) -> Self {
        let progress = progress.map(|token| Progress { token, sent: tokio::sync::Mutex::new((f64::MIN, 0)) });
        Self { peer, log_level, progress, confirm }
    }

    /// Runs `fut` with this interaction in scope.
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        CURRENT.scope(Arc::new(self), fut).await
    }
}

fn current() -> Option<Arc<Interaction>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Severity order of RFC 5424, lowest first (the order `logging/setLevel` filters by).
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// How much a message matters, for [`log`] (the RFC 5424 levels the agent uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
}

impl From<Level> for LoggingLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Debug => LoggingLevel::Debug,
            Level::Info => LoggingLevel::Info,
            Level::Notice => LoggingLevel::Notice,
            Level::Warning => LoggingLevel::Warning,
            Level::Error => LoggingLevel::Error,
        }
    }
}

/// Tells the client `message` (redacted as the agent's own logs are), if it asked for messages
/// of this level. `logger` names what speaks (a tool, `resources`).
pub async fn log(level: Level, logger: &str, message: &str) {
    let level = LoggingLevel::from(level);
    let Some(i) = current() else { return };
    let Some(threshold) = i.log_level else { return };
    if severity(level) < severity(threshold) {
        return;
    }
    let data = Value::String(crate::redact::redact(message));
    let param = LoggingMessageNotificationParam::new(level, data).with_logger(logger);
    if let Err(e) = i.peer.notify_logging_message(param).await {
        tracing::debug!(error = %e, "could not send a log message to the client");
    }
}

/// Tells the client how far the call is (`done` of `total`, when known), if it sent a progress
/// token. Values that do not exceed the last one sent are dropped: progress only increases. It
/// also yields, so a call the client cancelled stops here rather than at its end.
pub async fn progress(done: f64, total: Option<f64>, message: &str) {
    send_progress(|_| done, total, message).await;
}

/// One more step of `total` done (for steps that finish in any order, such as clusters answering).
pub async fn advance(total: Option<f64>, message: &str) {
    send_progress(|steps| steps as f64, total, message).await;
}

async fn send_progress(value: impl FnOnce(u64) -> f64, total: Option<f64>, message: &str) {
    let Some(i) = current() else { return };
    tokio::task::yield_now().await;
    let Some(p) = &i.progress else { return };
    let mut sent = p.sent.lock().await;
    sent.1 += 1;
    let done = value(sent.1);
    if done <= sent.0 {
        return;
    }
    sent.0 = done;
    let mut param = ProgressNotificationParam::new(p.token.clone(), done);
    param.total = total;
    if !message.is_empty() {
        param.message = Some(message.to_string());
    }
    if let Err(e) = i.peer.notify_progress(param).await {
        tracing::debug!(error = %e, "could not send progress to the client");
    }
}

/// A change to the cluster as the client is asked to confirm it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What is done, as a verb phrase: "Suspend HelmRelease `team-b/redis` on cluster `local`".
    pub action: String,
    /// What it changes and what follows from it.
    pub effect: String,
}

/// The elicitation that asks for a change: the message names the object, the change and the
/// caller; the form has one field, `confirm`, ticked by default, so accepting the form is the
/// confirmation and the user may untick it instead of declining.
pub fn confirmation_request(change: &Change) -> ElicitRequestParams {
    let caller = match crate::auth::current() {
        Some(c) => format!("Requested by {}.", c.username),
        None => "Requested by an unauthenticated caller (the agent runs with --auth=none).".to_string(),
    };
    let action = change.action.clone();
    let requested_schema = ElicitationSchema::builder()
        .bool_property("confirm", |b| b.title("Go ahead").description(action).with_default(true))
        .build_unchecked();
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: format!("{}?\n\n{}\n\n{caller}", change.action, change.effect),
        requested_schema,
    }
}

/// Whether an elicitation answer confirms: accepted, and `confirm` not unticked.
fn accepted(action: &ElicitationAction, content: Option<&Value>) -> bool {
    matches!(action, ElicitationAction::Accept)
        && content.and_then(|c| c.get("confirm")).and_then(Value::as_bool) != Some(false)
}

/// Asks the client to confirm `change` before it is made. `Ok` when it may go ahead (confirmed,
/// or the client cannot be asked); otherwise the error says why not, or (2026-07-28) carries the
/// question for the transport to put to the client.
pub async fn confirm(change: &Change) -> Result<(), ToolError> {
    let Some(i) = current() else { return Ok(()) };
    let refused = |answer: &str| ToolError::NotConfirmed { action: change.action.clone(), answer: answer.to_string() };
    match &i.confirm {
        Confirm::Skip => Ok(()),
        Confirm::Answered(Some(answer)) => answer.verdict().map_err(refused),
        Confirm::Answered(None) => Err(ToolError::InputRequired(Box::new(confirmation_request(change)))),
        Confirm::Ask(timeout) => {
            match i.peer.create_elicitation_with_timeout(confirmation_request(change), Some(*timeout)).await {
                Ok(answer) => Answer { action: answer.action, content: answer.content }.verdict().map_err(refused),
                Err(e) => {
                    tracing::info!(error = %e, "no confirmation from the client");
                    Err(refused(&format!("the client gave no answer ({e})")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_an_accepted_form_left_ticked_confirms() {
        assert!(accepted(&ElicitationAction::Accept, Some(&json!({"confirm": true}))));
        assert!(accepted(&ElicitationAction::Accept, Some(&json!({}))));
        assert!(accepted(&ElicitationAction::Accept, None));
        assert!(!accepted(&ElicitationAction::Accept, Some(&json!({"confirm": false}))));
        assert!(!accepted(&ElicitationAction::Decline, Some(&json!({"confirm": true}))));
        assert!(!accepted(&ElicitationAction::Cancel, None));
    }

    #[test]
    fn the_question_names_the_change_and_the_caller() {
        let change = Change { action: "Suspend HelmRelease `team-b/redis`".into(), effect: "Flux stops.".into() };
        let ElicitRequestParams::FormElicitationParams { message, requested_schema, .. } =
            confirmation_request(&change)
        else {
            panic!("a form elicitation")
        };
        assert!(message.starts_with("Suspend HelmRelease `team-b/redis`?"), "{message}");
        assert!(message.contains("Flux stops."), "{message}");
        assert!(message.contains("--auth=none"), "{message}");
        let schema = serde_json::to_value(requested_schema).expect("schema");
        assert_eq!(schema["properties"]["confirm"]["type"], "boolean");
        assert_eq!(schema["properties"]["confirm"]["default"], true);
    }

    #[test]
    fn levels_order_by_severity() {
        assert!(severity(LoggingLevel::Debug) < severity(LoggingLevel::Info));
        assert!(severity(LoggingLevel::Warning) < severity(LoggingLevel::Error));
        assert!(severity(LoggingLevel::Alert) < severity(LoggingLevel::Emergency));
    }
}
