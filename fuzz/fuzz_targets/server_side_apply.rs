//! The embedded API server's server-side apply on any live object and configuration: an apply
//! never panics, and re-applying the same configuration by the same manager is accepted and
//! changes nothing (the field set and the time it was set stay as they were).
#![no_main]

use fake_apiserver::fields::{self, ApplyRequest, Schema, Section};
use gitops_agent_fuzz::{json, parts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let [live, config] = parts(rest, 2)[..] else { return };
    let (Some(live), Some(config)) = (json(live), json(config)) else { return };
    if !live.is_object() || !config.is_object() {
        return;
    }
    let section = [Section::Main, Section::Status, Section::All][mode as usize % 3];
    let request = |manager, force, now| ApplyRequest {
        manager,
        api_version: "apps/v1",
        subresource: (section == Section::Status).then_some("status"),
        section,
        force,
        now,
    };
    let Ok(once) = fields::apply(&live, &config, Schema::Builtin, &request("fuzz", mode & 4 != 0, "2026-12-03T00:00:00Z"))
    else {
        return;
    };
    let twice = fields::apply(&once, &config, Schema::Builtin, &request("fuzz", false, "2026-12-03T00:00:01Z"))
        .unwrap_or_else(|c| panic!("re-applying conflicts with {c:?}: {live} + {config}"));
    assert_eq!(once, twice, "re-applying changed the object: {live} + {config}");
});
