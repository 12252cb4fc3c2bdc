//! Log redaction: any text comes through without a panic, and a secret written in any of the
//! shapes the redaction promises to catch, between any text, does not survive.
#![no_main]

use gitops_agent_fuzz::parts;
use gitops_agent_server::redact::redact;
use libfuzzer_sys::fuzz_target;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fuzz_target!(|data: &[u8]| {
    let [prefix, secret, suffix] = parts(data, 3)[..] else { return };
    let (prefix, suffix) = (String::from_utf8_lossy(prefix), String::from_utf8_lossy(suffix));
    let _ = redact(&format!("{prefix}{suffix}"));
    // A token-like secret: 24 to 64 letters and digits.
    let secret: String = secret.iter().take(64).map(|b| ALNUM[*b as usize % ALNUM.len()] as char).collect();
    if secret.len() < 24 || prefix.contains(&secret) || suffix.contains(&secret) {
        return;
    }
    for line in [
        format!("{prefix} password={secret} {suffix}"),
        format!("{prefix} Authorization: Bearer {secret} {suffix}"),
        format!("{prefix} token: {secret}{suffix}"),
        format!("{prefix} {{\"client_secret\": \"{secret}\"}} {suffix}"),
        format!("{prefix} https://user:{secret}@git.example.com/repo {suffix}"),
        format!("{prefix} ghp_{secret} {suffix}"),
    ] {
        let out = redact(&line);
        assert!(!out.contains(&secret), "{line:?} -> {out:?}");
    }
});
