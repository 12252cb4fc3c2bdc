//! The embedded API server's JSON merge patch (RFC 7386) on any JSON: applying a patch twice
//! gives what applying it once gave, and no `null` of the patch is left in the result.
#![no_main]

use fake_apiserver::patch::merge_patch;
use gitops_agent_fuzz::{json, parts};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let [target, patch] = parts(data, 2)[..] else { return };
    let (Some(target), Some(patch)) = (json(target), json(patch)) else { return };
    let once = merge_patch(&target, &patch);
    let twice = merge_patch(&once, &patch);
    assert_eq!(once, twice, "not idempotent: {target} + {patch}");
    if let Value::Object(p) = &patch {
        for (k, v) in p {
            if v.is_null() {
                assert!(once.get(k).is_none(), "{k} deleted by {patch} is still in {once}");
            }
        }
    }
});
