//! A2A (Agent-to-Agent) over the same tool registry as MCP: the agent card, task lifecycle and
//! store, deterministic skill routing, and three dialects on one port — A2A 1.0 (JSON-RPC and
//! HTTP+JSON), A2A 0.3 method names, and the Go predecessor's `tasks/create` family.

pub mod card;
pub mod error;
pub mod extended;
mod http;
pub mod model;
pub mod push;
pub mod routing;
pub mod store;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gitops_agent_api::tools::ToolName;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::error::A2aError;
pub use self::http::router;
use self::model::{Artifact, Dialect, Event, Message, Part, Task, TaskState, new_id};
use self::push::Pusher;
use self::push::config::PushConfig;
use self::routing::{Offered, Route};
use self::store::{ListQuery, Page, TaskStore};
use crate::auth::{self, Caller};
use crate::registry::Registry;
use crate::tools::ToolContext;

/// What the card says about this deployment.
#[derive(Debug, Clone)]
pub struct CardSettings {
    /// Public URL (from `--base-url`); otherwise the URL the request came in on.
    pub base_url: Option<String>,
    /// Callers must send a bearer token (`--auth=kubernetes`): the cards declare the scheme.
    pub bearer: bool,
}

/// A task this process runs or holds open (`input-required`): its event feed, which outlives
/// each run so subscribers see follow-ups, and the cancel switch of the run in progress.
struct Live {
    events: broadcast::Sender<Event>,
    run: Option<CancellationToken>,
    since: std::time::Instant,
}

pub struct A2a {
    registry: Arc<Registry>,
    ctx: Arc<ToolContext>,
    store: Arc<TaskStore>,
    /// Push notifications (`--a2a-push`); None: the agent does not offer them.
    push: Option<Arc<Pusher>>,
    live: Mutex<HashMap<String, Live>>,
    pub card: CardSettings,
    /// How often a subscriber polls the store for a task another replica runs.
    poll: Duration,
    /// Tasks left waiting for input longer than this are no longer held open here.
    hold: Duration,
    /// A stream that carried nothing for this long is closed.
    pub stream_idle: Duration,
    /// Who claims the tasks this process runs, in a shared store (the pod's name).
    replica: String,
}

/// A new message to act on.
pub struct Send {
    pub message: Message,
    pub dialect: Dialect,
    /// The predecessor's `tasks/create` names the skill and its input outside the message.
    pub route: Option<Route>,
    /// The predecessor let clients choose a new task's id.
    pub task_id: Option<String>,
    /// A push notification config sent with the message (its task id is set here).
    pub push: Option<PushConfig>,
}

/// A task that was accepted, with a feed of what happens to it next.
pub struct Started {
    pub task: Task,
    pub events: Option<broadcast::Receiver<Event>>,
}

impl A2a {
    pub fn new(
        registry: Arc<Registry>,
        ctx: Arc<ToolContext>,
        store: Arc<TaskStore>,
        push: Option<Arc<Pusher>>,
        card: CardSettings,
        stream_idle: Duration,
    ) -> A2a {
        let hold = store.ttl();
        let live = Mutex::new(HashMap::new());
        let replica = std::env::var("POD_NAME").unwrap_or_else(|_| format!("pid-{}", std::process::id()));
        A2a { registry, ctx, store, push, live, card, poll: Duration::from_millis(100), hold, stream_idle, replica }
    }

    pub fn pusher(&self) -> Option<&Pusher> {
        self.push.as_deref()
    }

    /// Tells the task's webhooks about `event`, which `task` already reflects.
    fn notify(&self, task: &Task, event: Event) {
        if let Some(p) = &self.push {
            p.notify(task, event);
        }
    }

    /// What the cards declare this deployment offers.
    pub fn features(&self) -> card::Features {
        card::Features { bearer: self.card.bearer, push: self.push.is_some() }
    }

    pub fn pusher_or_refuse(&self) -> Result<&Pusher, A2aError> {
        self.push.as_deref().ok_or(A2aError::PushNotificationNotSupported)
    }

    /// Push configs are offered, and `task_id` is a task of the caller's: another caller's task
    /// is not found, and neither are its configs.
    async fn push_task(&self, task_id: &str) -> Result<(), A2aError> {
        self.pusher_or_refuse()?;
        self.get(task_id).await.map(|_| ())
    }

    /// Registers (or replaces) a push config on a task of the caller's.
    pub async fn set_push(&self, config: PushConfig) -> Result<PushConfig, A2aError> {
        self.push_task(&config.task_id).await?;
        self.store.put_push(&config).await?;
        Ok(config)
    }

    /// The push configs of a task of the caller's.
    pub async fn push_configs(&self, task_id: &str) -> Result<Vec<PushConfig>, A2aError> {
        self.push_task(task_id).await?;
        self.store.push_configs(task_id).await
    }

    /// One push config; `None` asks for the task's only (or first) one, as 0.3 allowed.
    pub async fn push_config(&self, task_id: &str, id: Option<&str>) -> Result<PushConfig, A2aError> {
        let configs = self.push_configs(task_id).await?;
        let found = match id {
            Some(id) => configs.into_iter().find(|c| c.id == id),
            None => configs.into_iter().next(),
        };
        found
            .ok_or_else(|| A2aError::PushConfigNotFound { task: task_id.to_string(), id: id.unwrap_or("").to_string() })
    }

    pub async fn delete_push(&self, task_id: &str, id: &str) -> Result<(), A2aError> {
        self.push_task(task_id).await?;
        self.store.delete_push(task_id, id).await
    }

    fn live(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Live>>, A2aError> {
        self.live.lock().map_err(|e| A2aError::Internal(e.to_string()))
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn store_kind(&self) -> &'static str {
        self.store.kind()
    }

    pub fn offered(&self) -> Vec<Offered> {
        self.registry.offered().map(Offered::from).collect()
    }

    /// The authenticated extended card for the caller of this request (`v03`: in A2A 0.3's
    /// shape): the skills its RBAC lets it use and the clusters it may see. Only with caller
    /// checks on: without them every caller is the agent itself, and the public card says it all.
    pub async fn extended_card(&self, base_url: &str, v03: bool) -> Result<serde_json::Value, A2aError> {
        if !self.card.bearer {
            return Err(A2aError::UnsupportedOperation(
                "this agent has no extended agent card (capabilities.extendedAgentCard is false: callers do not authenticate)".into(),
            ));
        }
        let caller = auth::current().ok_or_else(|| {
            A2aError::Internal("the caller of this request is unknown; refusing to describe it".into())
        })?;
        let offered: Vec<ToolName> = self.registry.offered().map(|t| t.name).collect();
        let (usable, clusters) = extended::caller_view(&self.ctx, &caller, &offered).await;
        Ok(card::extended_card(&self.registry, base_url, v03, self.push.is_some(), &usable, &clusters))
    }

    /// A task, if it exists and the caller started it: other callers' tasks are not found, so
    /// their ids reveal nothing.
    pub async fn get(&self, id: &str) -> Result<Task, A2aError> {
        let caller = auth::current().map(|c| c.username);
        match self.store.get(id).await? {
            Some(task) if caller.is_none() || task.owner == caller => self.settle(task).await,
            _ => Err(A2aError::TaskNotFound(id.to_string())),
        }
    }

    /// The caller's tasks.
    pub async fn list(&self, q: &ListQuery) -> Result<Page, A2aError> {
        let owner = auth::current().map(|c| c.username);
        let mut page = match owner {
            Some(owner) => self.store.list(&ListQuery { owner: Some(owner), ..q.clone() }).await?,
            None => self.store.list(q).await?,
        };
        for task in &mut page.tasks {
            *task = self.settle(task.clone()).await?;
        }
        Ok(page)
    }

    /// A task read from the store, with a run nobody carries on any more ended: in a shared store,
    /// a task still submitted or working whose replica stopped renewing its claim (killed, or cut
    /// off from Redis) would otherwise stay working for ever. It fails with the reason, once.
    async fn settle(&self, mut task: Task) -> Result<Task, A2aError> {
        let running = matches!(task.status.state, TaskState::Submitted | TaskState::Working);
        if !running || self.live()?.get(&task.id).is_some_and(|l| l.run.is_some()) {
            return Ok(task);
        }
        if !self.store.abandoned(&task.id).await? {
            return Ok(task);
        }
        let why = format!(
            "the agent replica running this task stopped before it finished (no claim renewed for {} s); send the message again",
            self.store.runner_lease().as_secs()
        );
        tracing::warn!(task = %task.id, "{why}");
        let message = Message::agent(why, &task);
        task.set_state(TaskState::Failed, Some(message));
        self.store.put(&task).await?;
        self.notify(&task, Event::Status(task.status.clone()));
        Ok(task)
    }

    /// Accepts a message: a new task, or a follow-up on a task that is not finished.
    pub async fn send(self: &Arc<Self>, req: Send) -> Result<Started, A2aError> {
        let offered = self.offered();
        let caller = auth::current();
        // With caller checks on, a task must never run with the agent's own permissions instead.
        if self.ctx.access.is_some() && caller.is_none() {
            return Err(A2aError::Internal("the caller of this request is unknown; refusing to run it".into()));
        }
        let mut task = match &req.message.task_id {
            Some(id) => {
                let mut task = self.get(id).await?;
                if let Some(ctx) = &req.message.context_id
                    && ctx != &task.context_id
                {
                    return Err(A2aError::invalid(
                        "message.contextId",
                        format!("task `{id}` belongs to context `{}`", task.context_id),
                    ));
                }
                if task.status.state.is_terminal() && req.dialect != Dialect::Legacy {
                    return Err(A2aError::UnsupportedOperation(format!(
                        "task `{id}` is {} and takes no more messages; send without taskId to start a new task",
                        task.status.state.v03_name()
                    )));
                }
                if self.live()?.get(id).is_some_and(|l| l.run.is_some()) {
                    return Err(A2aError::UnsupportedOperation(format!("task `{id}` is still working on a message")));
                }
                let mut m = req.message.clone();
                m.context_id = Some(task.context_id.clone());
                // The state moves on to working when the run starts: states never go back.
                task.history.push(m);
                task
            }
            None => {
                let context = req.message.context_id.clone().unwrap_or_else(new_id);
                let mut task = Task::new(context, req.message.clone(), req.dialect);
                if req.dialect == Dialect::Legacy {
                    // The predecessor's `tasks/create` metadata belongs to the task.
                    task.metadata = req.message.metadata.clone();
                }
                task.owner = caller.as_ref().map(|c| c.username.clone());
                if let Some(id) = req.task_id {
                    if self.store.get(&id).await?.is_some() {
                        return Err(A2aError::invalid("params.id", format!("task `{id}` already exists")));
                    }
                    task.history.iter_mut().for_each(|m| m.task_id = Some(id.clone()));
                    task.id = id;
                }
                task
            }
        };
        let waiting = task.pending.take().zip(task.skill.as_deref().and_then(|s| routing::tool_of_skill(s, &offered)));
        let route = match (req.route, waiting) {
            (Some(r), _) => r,
            (None, Some((known, tool))) => routing::follow_up(&req.message, tool, known, &offered)?,
            (None, None) => routing::route(&req.message, &offered)?,
        };
        if let Route::Call { tool, .. } | Route::NeedsInput { tool, .. } = &route {
            task.skill = Some(routing::skill_id(*tool));
        }
        // Claimed before it is saved as running, so no other replica takes it for abandoned.
        self.store.claim(&task.id, &self.replica).await?;
        self.store.put(&task).await?;
        if let Some(mut config) = req.push {
            config.task_id = task.id.clone();
            self.store.put_push(&config).await?;
        }
        let cancel = CancellationToken::new();
        let (events, rx) = {
            let mut live = self.live()?;
            let hold = self.hold;
            live.retain(|_, l| l.run.is_some() || l.since.elapsed() < hold);
            let entry = live.entry(task.id.clone()).or_insert_with(|| Live {
                events: broadcast::channel(64).0,
                run: None,
                since: std::time::Instant::now(),
            });
            entry.run = Some(cancel.clone());
            entry.since = std::time::Instant::now();
            (entry.events.clone(), entry.events.subscribe())
        };
        let span = tracing::info_span!("a2a_task", task = %task.id, skill = task.skill.as_deref().unwrap_or("help"));
        tokio::spawn(self.clone().run(task.clone(), route, events, cancel, caller).instrument(span));
        Ok(Started { task, events: Some(rx) })
    }

    async fn run(
        self: Arc<Self>,
        mut task: Task,
        route: Route,
        events: broadcast::Sender<Event>,
        cancel: CancellationToken,
        caller: Option<Caller>,
    ) {
        // The claim is renewed three times a lease while the run lasts.
        let heartbeat = {
            let (this, id) = (self.clone(), task.id.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(this.store.runner_lease() / 3).await;
                    if let Err(e) = this.store.claim(&id, &this.replica).await {
                        tracing::warn!(error = %e, task = %id, "could not renew the claim on a running task");
                    }
                }
            })
        };
        task.set_state(TaskState::Working, None);
        self.publish(&task, &events).await;
        let (state, message, artifact) = match route {
            Route::Help { reason } => {
                let (markdown, data) = card::help(&reason, &self.offered());
                (TaskState::Completed, None, Some(answer_artifact("help", "Skills this agent offers", markdown, data)))
            }
            Route::NeedsInput { tool, arguments, missing } => {
                let ask = format!(
                    "`{}` needs {}. Reply on this task with them, in words or as a data part of arguments, e.g. {}.",
                    routing::skill_id(tool),
                    missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(" and "),
                    Value::Object(missing.iter().map(|m| (m.clone(), json!("..."))).collect())
                );
                task.pending = Some(arguments);
                (TaskState::InputRequired, Some(ask), None)
            }
            Route::Call { tool, arguments } => {
                let call = self.registry.call(self.ctx.clone(), tool.as_str(), Value::Object(arguments), "a2a", caller);
                tokio::select! {
                    result = call => outcome(tool, result),
                    () = cancel.cancelled() => (TaskState::Canceled, Some("canceled by the client".to_string()), None),
                }
            }
        };
        if let Some(a) = artifact {
            task.artifacts.push(a.clone());
            self.notify(&task, Event::Artifact(a.clone()));
            let _ = events.send(Event::Artifact(a));
        }
        let message = message.map(|m| Message::agent(m, &task));
        task.set_state(state, message);
        // A replica that does not run the task may have canceled it in the shared store, or (had
        // this one stalled past its claim) ended it as abandoned: what a client saw stands.
        if let Ok(Some(stored)) = self.store.get(&task.id).await
            && stored.status.state.is_terminal()
        {
            task.status = stored.status;
        }
        self.publish(&task, &events).await;
        heartbeat.abort();
        if let Err(e) = self.store.release(&task.id).await {
            tracing::warn!(error = %e, task = %task.id, "could not release the claim on a finished run");
        }
        if let Ok(mut live) = self.live.lock() {
            if task.status.state.is_terminal() {
                live.remove(&task.id);
            } else if let Some(l) = live.get_mut(&task.id) {
                l.run = None;
            }
        }
    }

    async fn publish(&self, task: &Task, events: &broadcast::Sender<Event>) {
        if let Err(e) = self.store.put(task).await {
            tracing::warn!(error = %e, task = %task.id, "could not save the task");
        }
        self.notify(task, Event::Status(task.status.clone()));
        // No receivers is fine: nobody is streaming this task.
        let _ = events.send(Event::Status(task.status.clone()));
    }

    /// Waits until the task is finished (or waits for input) and returns it.
    pub async fn wait(&self, started: Started) -> Result<Task, A2aError> {
        let id = started.task.id.clone();
        if let Some(mut rx) = started.events {
            loop {
                match rx.recv().await {
                    Ok(Event::Status(s)) if s.state.is_terminal() || s.state.is_interrupted() => break,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        }
        self.get(&id).await
    }

    pub async fn cancel(&self, id: &str) -> Result<Task, A2aError> {
        let task = self.get(id).await?;
        if task.status.state.is_terminal() {
            return Err(A2aError::TaskNotCancelable { id: id.to_string(), state: task.status.state.v03_name() });
        }
        let local = self.live()?.get(id).map(|l| (l.run.clone(), l.events.clone()));
        match local {
            Some((Some(run), events)) => {
                let rx = events.subscribe();
                run.cancel();
                self.wait(Started { task, events: Some(rx) }).await
            }
            // Waiting for input here, or running on another replica: cancel in the store (the
            // other replica sees it before it saves its result).
            other => {
                let mut task = task;
                task.pending = None;
                task.set_state(TaskState::Canceled, None);
                self.store.put(&task).await?;
                self.notify(&task, Event::Status(task.status.clone()));
                if let Some((_, events)) = other {
                    let _ = events.send(Event::Status(task.status.clone()));
                    self.live()?.remove(id);
                }
                Ok(task)
            }
        }
    }

    /// The task now, then what happens to it until it finishes. Tasks another replica runs are
    /// followed through the shared store.
    pub async fn subscribe(self: &Arc<Self>, id: &str) -> Result<(Task, broadcast::Receiver<Event>), A2aError> {
        let local =
            self.live.lock().map_err(|e| A2aError::Internal(e.to_string()))?.get(id).map(|l| l.events.subscribe());
        let task = self.get(id).await?;
        if task.status.state.is_terminal() {
            return Err(A2aError::UnsupportedOperation(format!(
                "task `{id}` is {}; subscribe only to tasks still running (GetTask reads finished ones)",
                task.status.state.v03_name()
            )));
        }
        if let Some(rx) = local {
            return Ok((task, rx));
        }
        let (tx, rx) = broadcast::channel(16);
        let this = self.clone();
        let mut last = task.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(this.poll).await;
                let Ok(Some(now)) = this.store.get(&last.id).await else { break };
                // The replica running it may be gone: then this ends the task, and the stream.
                let Ok(now) = this.settle(now).await else { break };
                for a in now.artifacts.iter().skip(last.artifacts.len()) {
                    let _ = tx.send(Event::Artifact(a.clone()));
                }
                if now.status != last.status && tx.send(Event::Status(now.status.clone())).is_err() {
                    break;
                }
                if now.status.state.is_terminal() {
                    break;
                }
                last = now;
            }
        });
        Ok((task, rx))
    }
}

fn answer_artifact(name: &str, description: &str, markdown: String, data: Value) -> Artifact {
    Artifact {
        artifact_id: new_id(),
        name: Some(name.to_string()),
        description: Some(description.to_string()),
        parts: vec![
            Part::text(markdown).with_media_type("text/markdown"),
            Part::data(data).with_media_type("application/json"),
        ],
    }
}

type Outcome = (TaskState, Option<String>, Option<Artifact>);

fn outcome(tool: ToolName, result: Result<crate::registry::Answer, crate::registry::ToolError>) -> Outcome {
    match result {
        Ok(answer) => {
            let a = answer_artifact(
                tool.as_str(),
                "The tool's answer: markdown for reading, JSON for programs",
                answer.markdown,
                answer.data,
            );
            (TaskState::Completed, None, Some(a))
        }
        // The request was wrong (arguments, a skill this agent does not offer): refused, not failed.
        Err(e) if e.is_protocol_error() => (TaskState::Rejected, Some(e.to_string()), None),
        Err(e) => (TaskState::Failed, Some(e.to_string()), None),
    }
}

/// The JSON-RPC error a rejected task stands for (blocking sends answer with it).
pub fn rejection(task: &Task) -> Option<A2aError> {
    if task.status.state != TaskState::Rejected {
        return None;
    }
    let text = task.status.message.as_ref().and_then(|m| m.texts().next()).unwrap_or("rejected").to_string();
    let field = text
        .strip_prefix("invalid argument `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(param, _)| format!("arguments.{param}"))
        .unwrap_or_else(|| "message".to_string());
    Some(A2aError::invalid(field, text))
}
