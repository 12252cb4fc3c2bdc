//! Markdown building blocks shared by the tools: tables, ages, shortened revisions.

use jiff::Timestamp;

/// A markdown table. Cells are escaped so a message with `|` or a newline cannot break a row.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self { header: header.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("| {} |\n", self.header.join(" | ")));
        out.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }
}

fn cell(s: &str) -> String {
    if s.is_empty() {
        return "—".into();
    }
    s.replace('\\', "\\\\").replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// Shortens text for a table cell; the structured content keeps the whole.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// `main@sha1:b24aa26af79…` → `main@sha1:b24aa26a`: enough to recognise a commit.
pub fn short_revision(rev: &str) -> String {
    match rev.rsplit_once(':') {
        Some((head, digest)) if digest.len() > 12 && digest.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("{head}:{}", &digest[..8])
        }
        _ => rev.to_string(),
    }
}

/// The age of a timestamp as `kubectl` prints it: `45s`, `12m`, `3h12m`, `5d3h`.
pub fn age(now: Timestamp, then: Option<&str>) -> String {
    let Some(then) = then.and_then(|t| t.parse::<Timestamp>().ok()) else {
        return String::new();
    };
    let secs = now.as_second().saturating_sub(then.as_second()).max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => match (s / 3600, (s % 3600) / 60) {
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m}m"),
        },
        s => match (s / 86_400, (s % 86_400) / 3600) {
            (d, 0) => format!("{d}d"),
            (d, h) => format!("{d}d{h}h"),
        },
    }
}

/// "3 ready, 1 failed" from (label, count) pairs, skipping zeros.
pub fn counts(parts: &[(&str, usize)]) -> String {
    let shown: Vec<String> = parts.iter().filter(|(_, n)| *n > 0).map(|(l, n)| format!("{n} {l}")).collect();
    if shown.is_empty() { "none".into() } else { shown.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_rows() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["x|y".into(), "line\nbreak".into()]);
        t.row(vec![String::new(), "z".into()]);
        assert_eq!(t.render(), "| a | b |\n|---|---|\n| x\\|y | line break |\n| — | z |\n");
    }

    #[test]
    fn ages_read_like_kubectl() {
        let now: Timestamp = "2026-11-24T10:30:00Z".parse().unwrap();
        assert_eq!(age(now, Some("2026-11-24T10:29:15Z")), "45s");
        assert_eq!(age(now, Some("2026-11-24T07:18:00Z")), "3h12m");
        assert_eq!(age(now, Some("2026-11-19T07:30:00Z")), "5d3h");
        assert_eq!(age(now, Some("not a time")), "");
        assert_eq!(age(now, None), "");
    }

    #[test]
    fn revisions_are_shortened_only_when_they_are_digests() {
        assert_eq!(short_revision("main@sha1:b24aa26af7908ad636a258384ce078a4b0e267f3"), "main@sha1:b24aa26a");
        assert_eq!(short_revision("18.19.4"), "18.19.4");
        assert_eq!(short_revision("sha256:abc"), "sha256:abc");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
