//! Any arguments to any tool (the mutating ones included: the agent runs read-write), through the
//! registry's validation, over MCP (2026-07-28, the `cluster` argument mirrored in its header as
//! a client sends it) and as an A2A data part: an answer (a bad argument is a tool result with
//! `isError`), or an invalid-params error (-32602) naming the parameter.
#![no_main]

use gitops_agent_api::tools::ToolName;
use gitops_agent_fuzz::{agent, json, stateless_meta};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Some(arguments) = json(rest) else { return };
    let tool = ToolName::ALL[pick as usize % ToolName::ALL.len()].as_str();
    let agent = agent();
    let what = format!("{tool} {arguments}");
    let answer = if pick & 0x80 == 0 {
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments, "_meta": stateless_meta()}});
        agent.mcp_tool_call(tool, &arguments, call.to_string().into_bytes())
    } else {
        let send = json!({"jsonrpc": "2.0", "id": 2, "method": "SendMessage", "params": {"message": {"role": "ROLE_USER",
            "messageId": "fuzz", "parts": [{"data": {"skill": tool.replace('_', "-"), "arguments": arguments}}]}}});
        agent.post("/", &[("a2a-version", "1.0")], send.to_string().into_bytes())
    };
    answer.check(&what);
    assert_eq!(answer.status, 200, "{what}: {}", answer.body);
    let message = answer.message().unwrap_or_else(|| panic!("{what}: not JSON-RPC: {}", answer.body));
    assert!(message.get("result").is_some() || message["error"]["code"] == -32602, "{what}: {message}");
});
