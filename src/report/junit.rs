//! `--format junit`: the run as `JUnit` XML for CI servers (Jenkins, GitLab,
//! GitHub annotations): one `<testsuite>` per run, a `<testcase>` per probe
//! (an `<error>` when it could not finish) and per finding (a `<failure>`
//! at warning or above). Only XML is written; every value is escaped and
//! stripped of characters XML 1.0 forbids.

use std::fmt::Write as _;
use std::io::Write;

use super::{ProbeReport, Report};
use crate::model::findings::{Finding, Severity, Status};

/// `s` without the characters XML 1.0 does not allow (C0 controls other
/// than tab, line feed and carriage return; U+FFFE, U+FFFF).
fn legal(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escape text content.
pub fn text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars().filter(|c| legal(*c)) {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\r' => o.push_str("&#13;"),
            c => o.push(c),
        }
    }
    o
}

/// Escape an attribute value (double-quoted). Line breaks and tabs become
/// character references so attribute normalisation keeps them.
pub fn attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars().filter(|c| legal(*c)) {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            '\t' => o.push_str("&#9;"),
            c => o.push(c),
        }
    }
    o
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// The section of a probe id (`endpoint` of `endpoint:public`).
fn section(id: &str) -> &str {
    id.split(':').next().unwrap_or(id)
}

fn failing(f: &Finding) -> bool {
    f.severity >= Severity::Warning
}

fn could_not_run(p: &ProbeReport) -> bool {
    p.status == Status::Unknown && p.error.is_some()
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// A finding as plain text: what the failure body carries.
fn finding_body(f: &Finding) -> String {
    let mut b = String::new();
    let codes: Vec<String> = f.status_codes.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        b,
        "{} ({}), confidence {:.2}{}",
        f.title,
        severity(f.severity),
        f.confidence,
        if codes.is_empty() {
            String::new()
        } else {
            format!(", explains HTTP {}", codes.join(", "))
        }
    );
    if !f.evidence.is_empty() {
        let _ = writeln!(b, "\nEvidence:");
        for e in &f.evidence {
            let _ = writeln!(b, "  - {}: {}", e.probe, e.detail);
        }
    }
    if !f.remediation.is_empty() {
        let _ = writeln!(b, "\nRemediation:");
        for step in &f.remediation {
            let _ = writeln!(b, "  - {step}");
        }
    }
    if !f.related.is_empty() {
        let rel: Vec<&str> = f.related.iter().map(|c| c.id()).collect();
        let _ = writeln!(b, "\nRelated: {}", rel.join(", "));
    }
    let _ = write!(b, "\nGuide: {}", f.guide_section);
    b
}

fn probe_body(p: &ProbeReport) -> String {
    let mut b = format!("status: {}\ntarget: {}\n", p.status.as_str(), p.target);
    if !p.summary.is_empty() {
        let _ = writeln!(b, "summary: {}", p.summary);
    }
    if let Some(e) = &p.error {
        let _ = writeln!(b, "error: {e}");
    }
    b
}

pub fn write(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let tests = r.probes.len() + r.findings.len();
    let failures = r.findings.iter().filter(|f| failing(f)).count();
    let errors = r.probes.iter().filter(|p| could_not_run(p)).count();
    let time = seconds(r.duration_ms);
    // Ant's form: local date-time without a zone. `started_at` is UTC.
    let timestamp = r.started_at.trim_end_matches('Z');

    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"why5xx\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time}\">"
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"why5xx\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{time}\" timestamp=\"{}\" hostname=\"{}\">",
        attr(timestamp),
        attr(&r.host)
    );
    x.push_str("    <properties>\n");
    for (name, value) in [
        ("why5xx.version", r.tool.version.as_str()),
        ("why5xx.started_at", r.started_at.as_str()),
        ("why5xx.status", r.status.as_str()),
    ] {
        let _ = writeln!(
            x,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(value)
        );
    }
    x.push_str("    </properties>\n");

    for p in &r.probes {
        let _ = writeln!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\">",
            attr(section(&p.id)),
            attr(&p.id),
            seconds(p.duration_ms)
        );
        if could_not_run(p) {
            let err = p.error.as_deref().unwrap_or_default();
            let _ = writeln!(
                x,
                "      <error type=\"{}\" message=\"{}\">{}</error>",
                attr(err),
                attr(&format!("{} could not finish: {err}", p.id)),
                text(&probe_body(p))
            );
        } else {
            let _ = writeln!(x, "      <system-out>{}</system-out>", text(&probe_body(p)));
        }
        x.push_str("    </testcase>\n");
    }

    for f in &r.findings {
        let _ = writeln!(
            x,
            "    <testcase classname=\"finding\" name=\"{}\" time=\"0.000\">",
            attr(f.cause.id())
        );
        let body = finding_body(f);
        if failing(f) {
            let first = f.evidence.first().map_or_else(
                || f.title.clone(),
                |e| format!("{}: {} ({})", f.title, e.detail, e.probe),
            );
            let _ = writeln!(
                x,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                attr(f.cause.id()),
                attr(&first),
                text(&body)
            );
        } else {
            let _ = writeln!(x, "      <system-out>{}</system-out>", text(&body));
        }
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    out.write_all(x.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(text("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(
            attr("say \"hi\" & 'bye'\nnext"),
            "say &quot;hi&quot; &amp; &apos;bye&apos;&#10;next"
        );
    }

    #[test]
    fn characters_illegal_in_xml_are_stripped() {
        assert_eq!(text("a\u{0}b\u{1b}[31mc\u{FFFF}d\te"), "ab[31mcd\te");
        assert_eq!(attr("x\u{7}y"), "xy");
        assert_eq!(text("ünïcødé 🚀"), "ünïcødé 🚀");
    }
}
