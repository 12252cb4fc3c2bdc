//! What a 2025 MCP session remembers between its requests: the log level it set with
//! `logging/setLevel`, and its resource subscriptions. rmcp gives each session (and each stateless
//! 2026-07-28 request, which remembers nothing) a handler of its own; the session's state lives
//! in it and goes with it.

// logging/setLevel is deprecated by 2026-07-28 (SEP-2577); 2025 sessions still use it.
#![allow(deprecated)]

use std::sync::Mutex;

use rmcp::model::LoggingLevel;
use tokio::task::JoinHandle;

use crate::auth::Caller;
use crate::resources::subscriptions::Subscriber;

#[derive(Default)]
pub struct Session {
    log_level: Mutex<Option<LoggingLevel>>,
    subscription: Mutex<Option<Subscription>>,
}

/// The session's subscriber, the task that sends its notifications, and the caller they are
/// checked for.
pub struct Subscription {
    pub subscriber: Subscriber,
    pub delivery: JoinHandle<()>,
    pub caller: Option<Caller>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.delivery.abort();
    }
}

impl Session {
    pub fn log_level(&self) -> Option<LoggingLevel> {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_log_level(&self, level: LoggingLevel) {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) = Some(level);
    }

    /// The session's subscription, made by `start` unless it has one.
    pub fn subscribe_with(&self, start: impl FnOnce() -> Subscription) {
        let mut held = self.subscription.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_none() {
            *held = Some(start());
        }
    }

    /// Runs `f` on the session's subscription, if it has one.
    pub fn subscription<T>(&self, f: impl FnOnce(&Subscription) -> T) -> Option<T> {
        self.subscription.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(f)
    }
}
