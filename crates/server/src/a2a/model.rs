//! The A2A data model as this server keeps it (tasks, messages, parts, artifacts). Its own serde
//! form is the task store's format; what clients see is rendered per dialect by `wire`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    Submitted,
    Working,
    InputRequired,
    AuthRequired,
    Completed,
    Failed,
    Canceled,
    Rejected,
}

impl TaskState {
    pub const ALL: [TaskState; 8] = [
        TaskState::Submitted,
        TaskState::Working,
        TaskState::InputRequired,
        TaskState::AuthRequired,
        TaskState::Completed,
        TaskState::Failed,
        TaskState::Canceled,
        TaskState::Rejected,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Canceled | Self::Rejected)
    }

    /// Waiting on the client: blocking sends and message streams return here.
    pub fn is_interrupted(self) -> bool {
        matches!(self, Self::InputRequired | Self::AuthRequired)
    }

    /// A2A 1.0 (ProtoJSON enum name).
    pub fn v1_name(self) -> &'static str {
        match self {
            Self::Submitted => "TASK_STATE_SUBMITTED",
            Self::Working => "TASK_STATE_WORKING",
            Self::InputRequired => "TASK_STATE_INPUT_REQUIRED",
            Self::AuthRequired => "TASK_STATE_AUTH_REQUIRED",
            Self::Completed => "TASK_STATE_COMPLETED",
            Self::Failed => "TASK_STATE_FAILED",
            Self::Canceled => "TASK_STATE_CANCELED",
            Self::Rejected => "TASK_STATE_REJECTED",
        }
    }

    /// A2A 0.3 and the predecessor.
    pub fn v03_name(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Working => "working",
            Self::InputRequired => "input-required",
            Self::AuthRequired => "auth-required",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Rejected => "rejected",
        }
    }

    /// Either spelling (`TASK_STATE_WORKING`, `working`; `cancelled` too).
    pub fn parse(s: &str) -> Option<TaskState> {
        let s = s.trim();
        if s == "cancelled" {
            return Some(Self::Canceled);
        }
        Self::ALL.into_iter().find(|t| t.v1_name() == s || t.v03_name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Content {
    Text(String),
    Data(Value),
    /// A file by URL or inline base64; accepted in messages but no skill reads files.
    File {
        url: Option<String>,
        raw: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl Part {
    pub fn text(text: impl Into<String>) -> Part {
        Part { content: Content::Text(text.into()), media_type: None, filename: None, metadata: None }
    }

    pub fn data(data: Value) -> Part {
        Part { content: Content::Data(data), media_type: None, filename: None, metadata: None }
    }

    pub fn with_media_type(mut self, media_type: &str) -> Part {
        self.media_type = Some(media_type.to_string());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub message_id: String,
    pub role: Role,
    pub parts: Vec<Part>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_task_ids: Vec<String>,
}

impl Message {
    /// A new message from the client (the predecessor's `tasks/create` input, tests).
    pub fn user(parts: Vec<Part>) -> Message {
        Message {
            message_id: new_id(),
            role: Role::User,
            parts,
            context_id: None,
            task_id: None,
            metadata: None,
            reference_task_ids: vec![],
        }
    }

    pub fn agent(text: impl Into<String>, task: &Task) -> Message {
        Message {
            message_id: new_id(),
            role: Role::Agent,
            parts: vec![Part::text(text)],
            context_id: Some(task.context_id.clone()),
            task_id: Some(task.id.clone()),
            metadata: None,
            reference_task_ids: vec![],
        }
    }

    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match &p.content {
            Content::Text(t) => Some(t.as_str()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub artifact_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    pub timestamp: jiff::Timestamp,
}

/// Which protocol created a task: its answers to `tasks/get` keep that shape unless the caller
/// names a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// A2A 1.0 (ProtoJSON: `TASK_STATE_*`, `ROLE_*`, parts without `kind`).
    V1,
    /// A2A 0.3 (`kind` discriminators, lower-case states).
    V03,
    /// The Go predecessor (`tasks/create`, `sessionId`, parts with `type`).
    Legacy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub context_id: String,
    pub status: TaskStatus,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default)]
    pub history: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// The skill the task ran (for listings and the predecessor's shapes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    /// While `input-required`: the arguments the skill already has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Map<String, Value>>,
    pub dialect: Dialect,
    /// The authenticated user who started the task: only they can read, follow or cancel it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl Task {
    pub fn new(context_id: String, first: Message, dialect: Dialect) -> Task {
        let id = new_id();
        let mut first = first;
        first.task_id = Some(id.clone());
        first.context_id = Some(context_id.clone());
        Task {
            id,
            context_id,
            status: TaskStatus { state: TaskState::Submitted, message: None, timestamp: jiff::Timestamp::now() },
            artifacts: vec![],
            history: vec![first],
            metadata: None,
            skill: None,
            pending: None,
            dialect,
            owner: None,
        }
    }

    pub fn set_state(&mut self, state: TaskState, message: Option<Message>) {
        self.status = TaskStatus { state, message, timestamp: jiff::Timestamp::now() };
    }
}

/// Something that happened to a task, in order: what streams carry.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Status(TaskStatus),
    Artifact(Artifact),
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_in_every_spelling() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.v1_name()), Some(s));
            assert_eq!(TaskState::parse(s.v03_name()), Some(s));
        }
        assert_eq!(TaskState::parse("cancelled"), Some(TaskState::Canceled));
        assert_eq!(TaskState::parse("done"), None);
        assert!(TaskState::Rejected.is_terminal() && !TaskState::Working.is_terminal());
    }
}
