//! Any kubeconfig file, as the fleet reads one from `--clusters-dir`: it becomes a client
//! configuration and the context shown by `list_contexts`, or an error, and the error the agent
//! shows (its first line, redacted) never quotes the file's token.
#![no_main]

use gitops_agent_fuzz::agent;
use gitops_agent_server::cluster::{self, ClusterError};
use kube::config::Kubeconfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Exec plugins and auth providers run commands: not from fuzzed input.
    if text.contains("exec") || text.contains("auth-provider") || text.contains("command") {
        return;
    }
    let agent = agent();
    let read = Kubeconfig::from_yaml(text).map_err(|source| ClusterError::Kubeconfig { path: "fuzz".into(), source });
    let config = read.map(|kc| agent.runtime.block_on(cluster::kubeconfig_config(kc, "fuzz")));
    match config.and_then(|c| c) {
        Ok((_config, info)) => {
            let shown = format!("{info:?}");
            for token in tokens(text) {
                assert!(!shown.contains(token), "the context shown quotes the token {token:?}: {shown}");
            }
        }
        Err(e) => {
            let shown = cluster::shown_error(&e);
            for token in tokens(text) {
                assert!(!shown.contains(token), "the error shown quotes the token {token:?}: {shown}");
            }
        }
    }
});

/// The values of `token:` lines that are long enough to be told apart from the rest of a message.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("token:"))
        .map(|t| t.trim().trim_matches(['"', '\'']))
        .filter(|t| t.len() >= 16 && t.chars().all(|c| c.is_ascii_alphanumeric()))
}
