//! Any body POSTed to `/mcp`, in both eras' shapes: stateless 2026-07-28 (protocol version and
//! method in the headers, as a client sends them for the body's own `method`) or inside a 2025
//! session opened with `initialize`. Every answer is below 500, and a JSON answer is well formed.
#![no_main]

use gitops_agent_fuzz::{agent, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let agent = agent();
    let answer = if mode & 1 == 0 {
        let parsed = json(body);
        let method = parsed.as_ref().and_then(|v| v.get("method")).and_then(|m| m.as_str()).unwrap_or("tools/call");
        let name = parsed.as_ref().and_then(|v| v.pointer("/params/name")).and_then(|m| m.as_str());
        // Header values must be visible ASCII; a client could not send anything else.
        let method = if method.bytes().all(|b| (0x20..0x7f).contains(&b)) { method } else { "tools/call" };
        let name = name.filter(|n| n.bytes().all(|b| (0x20..0x7f).contains(&b)));
        agent.mcp_stateless(method, name, body.to_vec())
    } else {
        agent.mcp_in_session(body.to_vec())
    };
    answer.check(&format!("/mcp {}", String::from_utf8_lossy(body)));
});
