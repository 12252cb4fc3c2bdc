//! Any manifest text through `gitops-agent-operator render`'s path (YAML or JSON documents,
//! admitted as the API server would): refused with an error, or rendered into children the API
//! server would take, which serialize as YAML and JSON.
#![no_main]

use gitops_agent_controller::render::{self, OperatorDefaults};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(children) = render::render_manifests(text, "default", &OperatorDefaults::default()) else { return };
    for child in &children {
        assert!(child.naming_problem().is_none(), "{text:?}: {:?}", child.naming_problem());
    }
    render::to_yaml(&children).expect("rendered children serialize as YAML");
    render::to_json(&children).expect("rendered children serialize as JSON");
});
