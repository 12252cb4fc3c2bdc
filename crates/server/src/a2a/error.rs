//! A2A errors with the specification's codes, and how each binding reports them.

use axum::http::StatusCode;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum A2aError {
    #[error("invalid JSON payload: {0}")]
    Parse(String),
    #[error("invalid JSON-RPC request: {0}")]
    InvalidRequest(String),
    #[error("method `{0}` not found")]
    MethodNotFound(String),
    #[error("invalid parameters: `{field}`: {reason}")]
    InvalidParams { field: String, reason: String },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("task `{0}` not found")]
    TaskNotFound(String),
    /// The specification answers a missing push config with TaskNotFoundError.
    #[error("task `{task}` has no push notification config `{id}`")]
    PushConfigNotFound { task: String, id: String },
    #[error("task `{id}` cannot be canceled: it is already {state}")]
    TaskNotCancelable { id: String, state: &'static str },
    #[error("Push notifications are not supported by this agent")]
    PushNotificationNotSupported,
    #[error("This operation is not supported: {0}")]
    UnsupportedOperation(String),
    #[error("Incompatible content type, not supported: {0}")]
    ContentTypeNotSupported(String),
    #[error(
        "Incompatible content type, not supported: request body is {0}; send application/json or application/a2a+json"
    )]
    RequestContentType(String),
    #[error("the extended agent card is not configured")]
    ExtendedCardNotConfigured,
    #[error("A2A version `{0}` is not supported; this agent speaks 1.0 and 0.3")]
    VersionNotSupported(String),
    #[error("the task store is unavailable: {0}")]
    Store(String),
}

impl A2aError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> A2aError {
        A2aError::InvalidParams { field: field.into(), reason: reason.into() }
    }

    pub fn code(&self) -> i64 {
        match self {
            Self::Parse(_) => -32700,
            Self::InvalidRequest(_) => -32600,
            Self::MethodNotFound(_) => -32601,
            Self::InvalidParams { .. } => -32602,
            Self::Internal(_) | Self::Store(_) => -32603,
            Self::TaskNotFound(_) | Self::PushConfigNotFound { .. } => -32001,
            Self::TaskNotCancelable { .. } => -32002,
            Self::PushNotificationNotSupported => -32003,
            Self::UnsupportedOperation(_) => -32004,
            Self::ContentTypeNotSupported(_) | Self::RequestContentType(_) => -32005,
            Self::ExtendedCardNotConfigured => -32007,
            Self::VersionNotSupported(_) => -32009,
        }
    }

    /// `google.rpc.ErrorInfo` reason: the error's name in upper snake case without "Error".
    fn reason(&self) -> &'static str {
        match self {
            Self::Parse(_) => "JSON_PARSE",
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::MethodNotFound(_) => "METHOD_NOT_FOUND",
            Self::InvalidParams { .. } => "INVALID_PARAMS",
            Self::Internal(_) | Self::Store(_) => "INTERNAL",
            Self::TaskNotFound(_) | Self::PushConfigNotFound { .. } => "TASK_NOT_FOUND",
            Self::TaskNotCancelable { .. } => "TASK_NOT_CANCELABLE",
            Self::PushNotificationNotSupported => "PUSH_NOTIFICATION_NOT_SUPPORTED",
            Self::UnsupportedOperation(_) => "UNSUPPORTED_OPERATION",
            Self::ContentTypeNotSupported(_) | Self::RequestContentType(_) => "CONTENT_TYPE_NOT_SUPPORTED",
            Self::ExtendedCardNotConfigured => "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
            Self::VersionNotSupported(_) => "VERSION_NOT_SUPPORTED",
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::TaskNotFound(_) | Self::PushConfigNotFound { .. } | Self::MethodNotFound(_) => StatusCode::NOT_FOUND,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RequestContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn details(&self) -> Value {
        let mut details = vec![json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": self.reason(),
            "domain": "a2a-protocol.org",
        })];
        if let Self::InvalidParams { field, reason } = self {
            details.push(json!({
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": reason}],
            }));
        }
        if let Self::TaskNotFound(id) | Self::TaskNotCancelable { id, .. } | Self::PushConfigNotFound { task: id, .. } =
            self
        {
            details[0]["metadata"] = json!({"taskId": id});
        }
        Value::Array(details)
    }

    /// The JSON-RPC `error` member (A2A 1.0 puts the details array in `data`).
    pub fn rpc_error(&self) -> Value {
        json!({"code": self.code(), "message": self.to_string(), "data": self.details()})
    }

    /// The HTTP+JSON binding's body (`google.rpc.Status`).
    pub fn rest_body(&self) -> Value {
        let status = self.http_status();
        let grpc = match status {
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::INTERNAL_SERVER_ERROR => "INTERNAL",
            StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
            _ if matches!(
                self,
                Self::InvalidParams { .. }
                    | Self::Parse(_)
                    | Self::ContentTypeNotSupported(_)
                    | Self::RequestContentType(_)
            ) =>
            {
                "INVALID_ARGUMENT"
            }
            _ => "FAILED_PRECONDITION",
        };
        json!({"error": {"code": status.as_u16(), "status": grpc, "message": self.to_string(), "details": self.details()}})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_specifications() {
        assert_eq!(A2aError::TaskNotFound("x".into()).code(), -32001);
        assert_eq!(A2aError::TaskNotCancelable { id: "x".into(), state: "completed" }.code(), -32002);
        assert_eq!(A2aError::PushNotificationNotSupported.code(), -32003);
        assert_eq!(A2aError::UnsupportedOperation("x".into()).code(), -32004);
        assert_eq!(A2aError::ContentTypeNotSupported("x".into()).code(), -32005);
        assert_eq!(A2aError::VersionNotSupported("9.9".into()).code(), -32009);
        let body = A2aError::TaskNotFound("t-1".into()).rest_body();
        assert_eq!(body["error"]["code"], 404);
        assert_eq!(body["error"]["details"][0]["reason"], "TASK_NOT_FOUND");
        assert_eq!(body["error"]["details"][0]["metadata"]["taskId"], "t-1");
        let rpc = A2aError::invalid("message.parts", "at least one part is required").rpc_error();
        assert_eq!(rpc["data"][1]["fieldViolations"][0]["field"], "message.parts");
    }
}
