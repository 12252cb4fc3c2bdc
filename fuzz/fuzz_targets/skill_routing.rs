//! Any text routed to a skill: it never fails to route, and the arguments it extracts are only
//! parameters of the skill it picked.
#![no_main]

use gitops_agent_server::a2a::routing::{self, Offered, Route};
use gitops_agent_server::a2a::wire;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    static OFFERED: std::sync::OnceLock<Vec<Offered>> = std::sync::OnceLock::new();
    let offered = OFFERED.get_or_init(|| gitops_agent_server::tools::all().iter().map(Offered::from).collect());
    let text = String::from_utf8_lossy(data);
    let message = wire::read_message(&json!({"parts": [{"text": text}]}), "message").expect("a text message is a message");
    match routing::route(&message, offered) {
        Ok(Route::Call { tool, arguments }) | Ok(Route::NeedsInput { tool, arguments, .. }) => {
            let o = offered.iter().find(|o| o.tool == tool).expect("routed to an offered skill");
            assert!(arguments.keys().all(|k| o.params.contains(k)), "{text:?} -> {tool:?} {arguments:?}");
        }
        Ok(Route::Help { .. }) => {}
        Err(e) => panic!("{text:?} failed to route: {e}"),
    }
});
