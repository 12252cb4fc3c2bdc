//! Redaction of secrets from pod logs before a model sees them.

use std::sync::LazyLock;

use regex::Regex;

const MASK: &str = "[REDACTED]";

/// How a rule's matches are replaced.
enum Rule {
    /// The replacement keeps what tells a reader which secret was there.
    Replace(Regex, String),
    /// Group 2, the value of the key in group 1, is masked.
    KeyValue(Regex),
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rules: [(&str, Option<String>); 7] = [
        // PEM private keys, whole blocks (a log line may hold one with literal "\n"s).
        (
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
            Some(format!("-----BEGIN PRIVATE KEY-----{MASK}-----END PRIVATE KEY-----")),
        ),
        // JSON Web Tokens.
        (r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*", Some(MASK.to_string())),
        // AWS access key ids.
        (r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", Some(MASK.to_string())),
        // GitHub, GitLab and Slack tokens.
        (
            r"\b(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9\-_]{20,}|xox[abposr]-[A-Za-z0-9-]{10,})",
            Some(MASK.to_string()),
        ),
        // key=value and "key": "value" where the key names a secret, and the credential of an
        // Authorization header (`Bearer X`, `Basic X`). One rule for both, so a credential that
        // looks like a key=value (`Bearer password=X`) is masked through its value.
        (
            r#"(?i)("?[a-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|client[_-]?secret|credentials?)"?\s*[:=]\s*|\b(?:bearer|basic)\s+)("[^"]*"|'[^']*'|[^\s,;}&]+)"#,
            None,
        ),
        // Credentials in URLs: scheme://user:password@host.
        (r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@", Some(format!("$1{MASK}@"))),
        // Long base64 runs (encoded keys, certificates, kubeconfigs).
        (r"[A-Za-z0-9+/]{64,}={0,2}", Some(MASK.to_string())),
    ];
    rules
        .into_iter()
        .map(|(p, r)| {
            let re = Regex::new(p).expect("redaction patterns are valid");
            match r {
                Some(r) => Rule::Replace(re, r),
                None => Rule::KeyValue(re),
            }
        })
        .collect()
});

/// The text with every secret-looking value replaced by `[REDACTED]`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for rule in RULES.iter() {
        match rule {
            Rule::Replace(re, replacement) if re.is_match(&out) => {
                out = re.replace_all(&out, replacement.as_str()).into_owned();
            }
            Rule::KeyValue(re) if re.is_match(&out) => out = mask_values(re, &out),
            _ => {}
        }
    }
    out
}

/// Masks the value of each secret-named key. A "value" that is, or holds, a secret-named key (the
/// three shapes below, found by fuzzing) is masked together with that key's value.
fn mask_values(re: &Regex, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(c) = re.captures_at(text, at) {
        let Some(mut value) = c.get(2) else { break };
        out.push_str(&text[at..value.start()]);
        // A value that holds a secret-named key (`secret: token: X`, `secret": {"client_secret":
        // "X"}`, `token: X_secret=Y`) is masked through that key's own value.
        while let Some(inner) = re
            .captures_at(text, value.start())
            .filter(|n| n.get(0).is_some_and(|k| k.start() < value.end()))
            .and_then(|n| n.get(2))
            .filter(|inner| inner.start() > value.start())
        {
            value = inner;
        }
        out.push_str(MASK);
        at = value.end();
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn each_kind_of_secret_is_masked() {
        let cases = [
            ("password=hunter2 user=bob", "hunter2"),
            (r#"{"client_secret": "s3cr3t-value"}"#, "s3cr3t-value"),
            ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
            ("Authorization: Bearer password=DDuuduuuudUHGDqnjmn01i69ijB3 ", "DDuuduuuudUHGDqnjmn01i69ijB3"),
            ("token: Bearer DDuuduuuudUHGDqnjmn01i69ijB3", "DDuuduuuudUHGDqnjmn01i69ijB3"),
            ("authorization: basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNz"),
            (
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "eyJhbGci",
            ),
            ("aws AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
            ("clone https://git:ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/x", "ghp_abcdef"),
            ("redis://default:pa55word@redis:6379", "pa55word"),
            (r#"secret":  token: DDuuduuuudUHGDqnjmn01i69ijB3"#, "DDuuduuuudUHGDqnjmn01i69ijB3"),
            ("password=hunter2: retrying", "hunter2"),
            (r#"secret":  {"client_secret": "DDuuduuuudUHGDqnjmn01i69ijB3"} "#, "DDuuduuuudUHGDqnjmn01i69ijB3"),
            (r#" token: DDDFFFFFFFFFFFFFFFFFFFFFFDDDDB6nt_secret": "x"} "#, "DDDFFFFFFFFFFFFFFFFFFFFFFDDDDB6"),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
            (&format!("blob {}", "QUJD".repeat(20)), "QUJDQUJD"),
        ];
        for (line, secret) in cases {
            let out = redact(line);
            assert!(!out.contains(secret), "{secret:?} survived in {out:?}");
            assert!(out.contains("[REDACTED]"), "{out:?}");
        }
    }

    #[test]
    fn ordinary_lines_are_untouched() {
        let line = "2026-11-24T10:00:00Z INFO reconciled Deployment apps/podinfo in 1.2s (revision main@sha1:49d636d0)";
        assert_eq!(redact(line), line);
    }
}
