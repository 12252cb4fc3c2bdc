//! Confirmation of changes over MCP: how a `tools/call` is asked to confirm (see
//! [`crate::interact::confirm`]), and, for 2026-07-28 clients, the `InputRequiredResult` that asks
//! and the `requestState` its retry must carry back.
//!
//! The state is sealed (HMAC-SHA256) and bound to the caller, the tool and its arguments, and
//! expires after ten minutes: a retry by someone else, of another call, or much later is refused.
//! The answer itself comes from the client, as every elicitation answer does; the seal only ties
//! it to the question. Replicas verify each other's states when they share `--request-state-key`.

use std::time::Duration;

use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, ElicitRequest, ElicitRequestParams, ElicitResult, InputRequest, InputRequiredResult,
    ProtocolVersion, RequestStateCodec, SealOptions,
};
use rmcp::service::{ElicitationMode, RequestContext};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::interact::{Answer, Confirm};

/// The key of the confirmation among a call's input requests and responses.
pub const INPUT_KEY: &str = "confirm";

/// How long a confirmation question can be answered.
const STATE_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error(
        "--request-state-key (GITOPS_AGENT_REQUEST_STATE_KEY; in a cluster, the Secret key the GitOpsAgent's \
         confirmationKeySecretRef names) must hold at least {min} bytes (it has {len})",
        min = RequestStateCodec::MIN_KEY_LENGTH
    )]
    ShortKey { len: usize },
    #[error("no randomness for a request-state key")]
    Random,
}

pub struct Confirmer {
    codec: RequestStateCodec,
    /// How long a 2025 session waits for the user's answer.
    ask_timeout: Duration,
}

impl Confirmer {
    /// `key`: the shared secret that seals request states (a random one when `None`).
    pub fn new(key: Option<&[u8]>, ask_timeout: Duration) -> Result<Confirmer, ConfirmError> {
        let key = match key {
            Some(k) => k.to_vec(),
            None => {
                let mut k = vec![0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k)
                    .map_err(|_| ConfirmError::Random)?;
                k
            }
        };
        let len = key.len();
        let codec = RequestStateCodec::try_new(key).map_err(|_| ConfirmError::ShortKey { len })?;
        Ok(Confirmer { codec, ask_timeout })
    }

    /// How this call confirms a change: by asking over the session (2025), by an
    /// `InputRequiredResult` and the answer its retry carries (2026-07-28), or not at all (the
    /// client cannot be asked). A retry whose state does not verify is refused.
    pub fn mode(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
        caller: Option<&Caller>,
    ) -> Result<Confirm, ErrorData> {
        if !is_modern(context) {
            let asks = context.peer.supported_elicitation_modes().contains(&ElicitationMode::Form);
            return Ok(if asks { Confirm::Ask(self.ask_timeout) } else { Confirm::Skip });
        }
        let can_ask = context
            .meta
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        if !can_ask {
            return Ok(Confirm::Skip);
        }
        let Some(state) = &request.request_state else { return Ok(Confirm::Answered(None)) };
        self.codec.open_with(state, &binding(request, caller)).map_err(|e| {
            ErrorData::invalid_params(
                format!("invalid requestState ({e}): it must be the one this agent returned for this same call, by the same caller, within {} minutes; call the tool again without it", STATE_TTL.as_secs() / 60),
                Some(json!({"field": "requestState"})),
            )
        })?;
        let Some(answer) = request.input_responses.as_ref().and_then(|r| r.get(INPUT_KEY)) else {
            // The answer is missing: ask again.
            return Ok(Confirm::Answered(None));
        };
        let answer: ElicitResult = serde_json::from_value(answer.clone()).map_err(|e| {
            ErrorData::invalid_params(
                format!("invalid inputResponses.{INPUT_KEY}: expected an elicitation result ({e})"),
                Some(json!({"field": format!("inputResponses.{INPUT_KEY}")})),
            )
        })?;
        Ok(Confirm::Answered(Some(Answer { action: answer.action, content: answer.content })))
    }

    /// The answer that asks the client to confirm: the question, and the state to send back.
    pub fn input_required(
        &self,
        question: ElicitRequestParams,
        request: &CallToolRequestParams,
        caller: Option<&Caller>,
    ) -> InputRequiredResult {
        let binding = binding(request, caller);
        let state =
            self.codec.seal_with(INPUT_KEY.as_bytes(), &SealOptions::new().associated_data(&binding).ttl(STATE_TTL));
        let requests = [(INPUT_KEY.to_string(), InputRequest::Elicitation(ElicitRequest::new(question)))].into();
        InputRequiredResult::new(Some(requests), Some(state))
    }
}

/// Whether the request speaks 2026-07-28 or later (stateless: no server-to-client requests).
pub fn is_modern(context: &RequestContext<RoleServer>) -> bool {
    context.protocol_version().is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

/// What a request state is bound to: the caller, the tool, and its arguments (by digest).
fn binding(request: &CallToolRequestParams, caller: Option<&Caller>) -> Vec<u8> {
    let args = canonical(&Value::Object(request.arguments.clone().unwrap_or_default()));
    let digest = Sha256::digest(args.to_string().as_bytes());
    let who = caller.map_or("", |c| c.username.as_str());
    let mut out = format!("{who}\n{}\n", request.name).into_bytes();
    out.extend_from_slice(&digest);
    out
}

/// The same JSON with every object's keys sorted, so one call's arguments digest the same however
/// a client orders them.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), canonical(&map[k]))).collect::<Map<String, Value>>())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interact;

    fn call(args: Value) -> CallToolRequestParams {
        let Value::Object(map) = args else { panic!("an object") };
        CallToolRequestParams::new("suspend").with_arguments(map)
    }

    fn alice() -> Caller {
        Caller { username: "alice".into(), uid: "1".into(), groups: vec![], extra: Default::default() }
    }

    #[test]
    fn a_state_opens_only_for_the_same_call_and_caller() {
        let confirmer = Confirmer::new(None, Duration::from_secs(1)).expect("confirmer");
        let asked = call(json!({"kind": "HelmRelease", "namespace": "team-b", "name": "redis"}));
        let question =
            interact::confirmation_request(&interact::Change { action: "Suspend".into(), effect: "x".into() });
        let result = confirmer.input_required(question, &asked, Some(&alice()));
        let state = result.request_state.expect("state");
        assert!(result.input_requests.is_some_and(|r| r.contains_key(INPUT_KEY)));
        let open = |request: &CallToolRequestParams, caller: Option<&Caller>| {
            confirmer.codec.open_with(&state, &binding(request, caller)).is_ok()
        };
        // The same arguments in another order are the same call.
        assert!(open(&call(json!({"name": "redis", "namespace": "team-b", "kind": "HelmRelease"})), Some(&alice())));
        assert!(!open(&call(json!({"kind": "HelmRelease", "namespace": "team-b", "name": "other"})), Some(&alice())));
        assert!(!open(&asked, None));
        let mut tampered = state.clone();
        tampered.push('x');
        assert!(confirmer.codec.open_with(&tampered, &binding(&asked, Some(&alice()))).is_err());
        // Another replica with its own key cannot open it.
        let other = Confirmer::new(None, Duration::from_secs(1)).expect("confirmer");
        assert!(other.codec.open_with(&state, &binding(&asked, Some(&alice()))).is_err());
    }

    #[test]
    fn replicas_with_one_key_open_each_others_states() {
        let key = [42u8; 32];
        let (a, b) = (Confirmer::new(Some(&key), Duration::ZERO), Confirmer::new(Some(&key), Duration::ZERO));
        let (a, b) = (a.expect("a"), b.expect("b"));
        let asked = call(json!({"kind": "Kustomization", "namespace": "flux-system", "name": "apps"}));
        let question =
            interact::confirmation_request(&interact::Change { action: "Reconcile".into(), effect: "x".into() });
        let state = a.input_required(question, &asked, None).request_state.expect("state");
        assert!(b.codec.open_with(&state, &binding(&asked, None)).is_ok());
    }

    #[test]
    fn a_short_key_is_refused() {
        let err = Confirmer::new(Some(b"short"), Duration::from_secs(1)).err().expect("refused");
        let message = err.to_string();
        assert!(message.contains("at least 32 bytes (it has 5)"), "{message}");
        assert!(
            message.contains("GITOPS_AGENT_REQUEST_STATE_KEY") && message.contains("confirmationKeySecretRef"),
            "{message}"
        );
        assert!(Confirmer::new(Some(&[7u8; 32]), Duration::from_secs(1)).is_ok());
    }
}
