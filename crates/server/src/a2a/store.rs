//! Where tasks live: in this process (bounded by count and age, oldest evicted first), or in
//! Redis so that every replica behind a Service answers `GetTask` for tasks any replica ran.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;

use super::error::A2aError;
use super::model::{Task, TaskState};
use super::push::config::{MAX_PER_TASK, PushConfig};

#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    pub max_tasks: usize,
    pub ttl: Duration,
    /// How long a running task stays claimed by its replica without a heartbeat (shared store):
    /// past that, the replica is taken for gone and the task for abandoned.
    pub runner_lease: Duration,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self { max_tasks: 1000, ttl: Duration::from_secs(3600), runner_lease: Duration::from_secs(15) }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub context_id: Option<String>,
    pub state: Option<TaskState>,
    pub page_size: usize,
    pub page_token: Option<String>,
    pub updated_after: Option<Timestamp>,
    /// Only tasks this user started (set from the authenticated caller, never by the client).
    pub owner: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub tasks: Vec<Task>,
    /// Empty on the last page.
    pub next_page_token: String,
    pub total_size: usize,
}

pub enum TaskStore {
    Memory {
        tasks: Mutex<HashMap<String, Task>>,
        /// Push notification configs by task id.
        push: Mutex<HashMap<String, Vec<PushConfig>>>,
        limits: StoreLimits,
    },
    Redis {
        conn: redis::aio::ConnectionManager,
        prefix: String,
        limits: StoreLimits,
    },
}

fn store_error(e: impl std::fmt::Display) -> A2aError {
    A2aError::Store(e.to_string())
}

fn expired(t: &Task, limits: &StoreLimits, now: Timestamp) -> bool {
    now.duration_since(t.status.timestamp).as_secs_f64() > limits.ttl.as_secs_f64()
}

impl TaskStore {
    pub fn memory(limits: StoreLimits) -> TaskStore {
        TaskStore::Memory { tasks: Mutex::new(HashMap::new()), push: Mutex::new(HashMap::new()), limits }
    }

    /// `redis://[user:password@]host:port[/db]`; connects (and reconnects) in the background.
    pub async fn redis(url: &str, limits: StoreLimits) -> Result<TaskStore, A2aError> {
        let client = redis::Client::open(url).map_err(|e| store_error(format!("invalid --task-store URL: {e}")))?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(|e| store_error(format!("cannot connect to the Redis task store: {e}")))?;
        Ok(TaskStore::Redis { conn, prefix: "gitops-agent:a2a:".into(), limits })
    }

    pub fn ttl(&self) -> Duration {
        match self {
            Self::Memory { limits, .. } | Self::Redis { limits, .. } => limits.ttl,
        }
    }

    pub fn runner_lease(&self) -> Duration {
        match self {
            Self::Memory { limits, .. } | Self::Redis { limits, .. } => limits.runner_lease,
        }
    }

    /// Claims (or keeps claiming) a running task for `replica` for one lease. In memory a task
    /// lives and dies with the process that runs it, so there is nothing to claim.
    pub async fn claim(&self, id: &str, replica: &str) -> Result<(), A2aError> {
        match self {
            Self::Memory { .. } => Ok(()),
            Self::Redis { conn, prefix, limits } => {
                let mut conn = conn.clone();
                redis::cmd("SET")
                    .arg(format!("{prefix}runner:{id}"))
                    .arg(replica)
                    .arg("PX")
                    .arg(limits.runner_lease.as_millis() as u64)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(store_error)
            }
        }
    }

    /// The run is over (finished, or waiting for input): nobody runs the task now.
    pub async fn release(&self, id: &str) -> Result<(), A2aError> {
        match self {
            Self::Memory { .. } => Ok(()),
            Self::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                redis::cmd("DEL")
                    .arg(format!("{prefix}runner:{id}"))
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(store_error)
            }
        }
    }

    /// Whether no replica has claimed this task within the lease.
    pub async fn abandoned(&self, id: &str) -> Result<bool, A2aError> {
        match self {
            Self::Memory { .. } => Ok(false),
            Self::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                let claimed: bool = redis::cmd("EXISTS")
                    .arg(format!("{prefix}runner:{id}"))
                    .query_async(&mut conn)
                    .await
                    .map_err(store_error)?;
                Ok(!claimed)
            }
        }
    }

    /// Adds a push config to its task, or replaces the one with its id.
    pub async fn put_push(&self, config: &PushConfig) -> Result<(), A2aError> {
        let too_many = || {
            A2aError::invalid(
                "id",
                format!(
                    "task `{}` has {MAX_PER_TASK} push notification configs already; delete one first",
                    config.task_id
                ),
            )
        };
        match self {
            Self::Memory { push, .. } => {
                let mut push = push.lock().map_err(store_error)?;
                let configs = push.entry(config.task_id.clone()).or_default();
                match configs.iter().position(|c| c.id == config.id) {
                    Some(i) => configs[i] = config.clone(),
                    None if configs.len() >= MAX_PER_TASK => return Err(too_many()),
                    None => configs.push(config.clone()),
                }
                Ok(())
            }
            Self::Redis { conn, prefix, limits } => {
                let key = format!("{prefix}push:{}", config.task_id);
                let json = serde_json::to_string(config).map_err(store_error)?;
                let mut conn = conn.clone();
                let (exists, count): (bool, usize) = redis::pipe()
                    .cmd("HEXISTS")
                    .arg(&key)
                    .arg(&config.id)
                    .cmd("HLEN")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .map_err(store_error)?;
                if !exists && count >= MAX_PER_TASK {
                    return Err(too_many());
                }
                redis::pipe()
                    .atomic()
                    .cmd("HSET")
                    .arg(&key)
                    .arg(&config.id)
                    .arg(json)
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(&key)
                    .arg(limits.ttl.as_millis() as u64)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(store_error)
            }
        }
    }

    /// A task's push configs, by id.
    pub async fn push_configs(&self, task_id: &str) -> Result<Vec<PushConfig>, A2aError> {
        let mut configs = match self {
            Self::Memory { push, .. } => push.lock().map_err(store_error)?.get(task_id).cloned().unwrap_or_default(),
            Self::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                let values: Vec<String> = redis::cmd("HVALS")
                    .arg(format!("{prefix}push:{task_id}"))
                    .query_async(&mut conn)
                    .await
                    .map_err(store_error)?;
                values.iter().map(|v| serde_json::from_str(v).map_err(store_error)).collect::<Result<_, _>>()?
            }
        };
        configs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(configs)
    }

    /// Removes a push config; removing one that is not there is not an error.
    pub async fn delete_push(&self, task_id: &str, id: &str) -> Result<(), A2aError> {
        match self {
            Self::Memory { push, .. } => {
                if let Some(configs) = push.lock().map_err(store_error)?.get_mut(task_id) {
                    configs.retain(|c| c.id != id);
                }
                Ok(())
            }
            Self::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                redis::cmd("HDEL")
                    .arg(format!("{prefix}push:{task_id}"))
                    .arg(id)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(store_error)
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory { .. } => "memory",
            Self::Redis { .. } => "redis",
        }
    }

    pub async fn put(&self, task: &Task) -> Result<(), A2aError> {
        match self {
            Self::Memory { tasks, push, limits } => {
                let mut tasks = tasks.lock().map_err(store_error)?;
                tasks.insert(task.id.clone(), task.clone());
                let now = Timestamp::now();
                tasks.retain(|_, t| !expired(t, limits, now));
                while tasks.len() > limits.max_tasks {
                    let oldest =
                        tasks.values().min_by_key(|t| (t.status.timestamp, t.id.clone())).map(|t| t.id.clone());
                    match oldest {
                        Some(id) => tasks.remove(&id),
                        None => break,
                    };
                }
                // A task's push configs go with it.
                push.lock().map_err(store_error)?.retain(|id, _| tasks.contains_key(id));
                Ok(())
            }
            Self::Redis { conn, prefix, limits } => {
                let json = serde_json::to_string(task).map_err(store_error)?;
                let score = task.status.timestamp.as_millisecond();
                let cutoff = Timestamp::now().as_millisecond() - limits.ttl.as_millis() as i64;
                let ttl_ms = limits.ttl.as_millis() as u64;
                let index = format!("{prefix}index");
                let mut conn = conn.clone();
                redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(format!("{prefix}task:{}", task.id))
                    .arg(json)
                    .arg("PX")
                    .arg(ttl_ms)
                    .ignore()
                    .cmd("ZADD")
                    .arg(&index)
                    .arg(score)
                    .arg(&task.id)
                    .ignore()
                    .cmd("ZREMRANGEBYSCORE")
                    .arg(&index)
                    .arg("-inf")
                    .arg(cutoff)
                    .ignore()
                    .cmd("ZREMRANGEBYRANK")
                    .arg(&index)
                    .arg(0)
                    .arg(-(limits.max_tasks as i64) - 1)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(store_error)
            }
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Task>, A2aError> {
        match self {
            Self::Memory { tasks, limits, .. } => {
                let tasks = tasks.lock().map_err(store_error)?;
                Ok(tasks.get(id).filter(|t| !expired(t, limits, Timestamp::now())).cloned())
            }
            Self::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                let json: Option<String> = redis::cmd("GET")
                    .arg(format!("{prefix}task:{id}"))
                    .query_async(&mut conn)
                    .await
                    .map_err(store_error)?;
                json.map(|j| serde_json::from_str(&j).map_err(store_error)).transpose()
            }
        }
    }

    async fn all(&self) -> Result<Vec<Task>, A2aError> {
        match self {
            Self::Memory { tasks, limits, .. } => {
                let now = Timestamp::now();
                Ok(tasks.lock().map_err(store_error)?.values().filter(|t| !expired(t, limits, now)).cloned().collect())
            }
            Self::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                let ids: Vec<String> = redis::cmd("ZRANGE")
                    .arg(format!("{prefix}index"))
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .map_err(store_error)?;
                if ids.is_empty() {
                    return Ok(vec![]);
                }
                let keys: Vec<String> = ids.iter().map(|id| format!("{prefix}task:{id}")).collect();
                let found: Vec<Option<String>> =
                    redis::cmd("MGET").arg(keys).query_async(&mut conn).await.map_err(store_error)?;
                // Tasks that expired leave their index entry until the next write trims it.
                Ok(found.into_iter().flatten().filter_map(|j| serde_json::from_str(&j).ok()).collect())
            }
        }
    }

    /// Most recently updated first; the page token is the position after the last task shown.
    pub async fn list(&self, q: &ListQuery) -> Result<Page, A2aError> {
        let mut tasks: Vec<Task> = self
            .all()
            .await?
            .into_iter()
            .filter(|t| q.owner.is_none() || t.owner == q.owner)
            .filter(|t| q.context_id.as_ref().is_none_or(|c| &t.context_id == c))
            .filter(|t| q.state.is_none_or(|s| t.status.state == s))
            .filter(|t| q.updated_after.is_none_or(|after| t.status.timestamp > after))
            .collect();
        tasks.sort_by(|a, b| b.status.timestamp.cmp(&a.status.timestamp).then_with(|| a.id.cmp(&b.id)));
        let total_size = tasks.len();
        let start = match &q.page_token {
            None => 0,
            Some(token) => {
                let cursor = Cursor::parse(token)
                    .ok_or_else(|| A2aError::invalid("pageToken", "not a page token this agent issued"))?;
                tasks.iter().position(|t| cursor.is_before(t)).unwrap_or(tasks.len())
            }
        };
        let page: Vec<Task> = tasks.iter().skip(start).take(q.page_size).cloned().collect();
        let next_page_token = match page.last() {
            Some(last) if start + page.len() < tasks.len() => Cursor::of(last).to_string(),
            _ => String::new(),
        };
        Ok(Page { tasks: page, next_page_token, total_size })
    }
}

/// Position in the listing order (newest first, then id).
struct Cursor {
    millis: i64,
    id: String,
}

impl Cursor {
    fn of(t: &Task) -> Cursor {
        Cursor { millis: t.status.timestamp.as_millisecond(), id: t.id.clone() }
    }

    fn parse(token: &str) -> Option<Cursor> {
        let (millis, id) = token.split_once('.')?;
        Some(Cursor { millis: millis.parse().ok()?, id: id.to_string() })
    }

    /// Does `t` come after this cursor in the listing order?
    fn is_before(&self, t: &Task) -> bool {
        let m = t.status.timestamp.as_millisecond();
        m < self.millis || (m == self.millis && t.id > self.id)
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.millis, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::a2a::model::{Dialect, Message, Part};

    fn task(ctx: &str, state: TaskState, age_ms: i64) -> Task {
        let mut t = Task::new(ctx.into(), Message::user(vec![Part::text("x")]), Dialect::V1);
        t.set_state(state, None);
        t.status.timestamp = Timestamp::now() - jiff::SignedDuration::from_millis(age_ms);
        t
    }

    #[tokio::test]
    async fn memory_store_is_bounded_by_count_and_age() {
        let store =
            TaskStore::memory(StoreLimits { max_tasks: 3, ttl: Duration::from_secs(60), ..StoreLimits::default() });
        let old = task("c", TaskState::Completed, 120_000);
        store.put(&old).await.expect("put");
        assert!(store.get(&old.id).await.expect("get").is_none(), "older than the TTL");
        let tasks: Vec<Task> = (0..5).map(|i| task("c", TaskState::Completed, 1000 - i * 100)).collect();
        for t in &tasks {
            store.put(t).await.expect("put");
        }
        assert!(store.get(&tasks[0].id).await.expect("get").is_none(), "oldest evicted");
        assert!(store.get(&tasks[4].id).await.expect("get").is_some());
        assert_eq!(store.list(&ListQuery { page_size: 10, ..Default::default() }).await.expect("list").total_size, 3);
    }

    #[tokio::test]
    async fn listing_pages_newest_first_with_filters() {
        let store = TaskStore::memory(StoreLimits::default());
        for i in 0..7 {
            store
                .put(&task(if i % 2 == 0 { "even" } else { "odd" }, TaskState::Completed, 10_000 - i * 10))
                .await
                .expect("put");
        }
        store.put(&task("odd", TaskState::Working, 0)).await.expect("put");
        let mut seen = vec![];
        let mut q = ListQuery { page_size: 3, ..Default::default() };
        loop {
            let page = store.list(&q).await.expect("list");
            assert_eq!(page.total_size, 8);
            seen.extend(page.tasks.iter().map(|t| t.status.timestamp));
            if page.next_page_token.is_empty() {
                break;
            }
            q.page_token = Some(page.next_page_token);
        }
        assert_eq!(seen.len(), 8);
        assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest first");
        let odd = store
            .list(&ListQuery { page_size: 10, context_id: Some("odd".into()), ..Default::default() })
            .await
            .expect("list");
        assert_eq!(odd.total_size, 4);
        let working = store
            .list(&ListQuery { page_size: 10, state: Some(TaskState::Working), ..Default::default() })
            .await
            .expect("list");
        assert_eq!(working.tasks.len(), 1);
        let bad =
            store.list(&ListQuery { page_size: 10, page_token: Some("garbage".into()), ..Default::default() }).await;
        assert!(matches!(bad, Err(A2aError::InvalidParams { .. })));
    }
}
