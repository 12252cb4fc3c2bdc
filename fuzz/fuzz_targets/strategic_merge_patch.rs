//! The embedded API server's strategic merge patch on any JSON: it never panics, and a patch with
//! no list and no `$` directive merges exactly as a JSON merge patch does (lists and directives
//! are where the two formats differ).
#![no_main]

use fake_apiserver::patch::{merge_patch, strategic_merge_patch};
use gitops_agent_fuzz::{json, parts};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let [target, patch] = parts(data, 2)[..] else { return };
    let (Some(target), Some(patch)) = (json(target), json(patch)) else { return };
    let merged = strategic_merge_patch(&target, &patch);
    if plain(&patch) && plain(&target) {
        assert_eq!(merged, merge_patch(&target, &patch), "{target} + {patch}");
    }
});

/// No list and no key starting with `$`, at any depth.
fn plain(v: &Value) -> bool {
    match v {
        Value::Array(_) => false,
        Value::Object(m) => m.iter().all(|(k, v)| !k.starts_with('$') && plain(v)),
        _ => true,
    }
}
