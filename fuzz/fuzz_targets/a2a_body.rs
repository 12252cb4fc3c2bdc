//! Any A2A request body: JSON-RPC at `/` (A2A 1.0 with `A2A-Version`, or 0.3 and the
//! predecessor's dialect without it) and the HTTP+JSON endpoints. Every answer is below 500, and
//! a JSON-RPC answer carries exactly one of `result` and `error`.
#![no_main]

use gitops_agent_fuzz::{agent, parts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let [id, body] = parts(rest, 2)[..] else { return };
    // A task id as a client would put it in a path: URL-safe characters only.
    let id: String = id.iter().filter(|b| b.is_ascii_alphanumeric() || **b == b'-').map(|b| *b as char).take(64).collect();
    let id = if id.is_empty() { "t".to_string() } else { id };
    let agent = agent();
    let v1 = [("a2a-version", "1.0")];
    let answer = match mode % 8 {
        0 => agent.post("/", &v1, body.to_vec()),
        1 => agent.post("/", &[], body.to_vec()),
        2 => agent.post("/message:send", &v1, body.to_vec()),
        3 => agent.post("/message:stream", &v1, body.to_vec()),
        4 => agent.post(&format!("/tasks/{id}:cancel"), &v1, body.to_vec()),
        5 => agent.post(&format!("/tasks/{id}:subscribe"), &v1, body.to_vec()),
        6 => agent.get(&format!("/tasks/{id}"), &v1),
        _ => agent.post(&format!("/tasks/{id}/pushNotificationConfigs"), &v1, body.to_vec()),
    };
    answer.check(&format!("A2A mode {mode} {}", String::from_utf8_lossy(body)));
});
