//! `--format prometheus`: the run as gauges in the Prometheus text
//! exposition format (0.0.4), shaped like `blackbox_exporter`'s so dashboards
//! translate; written with `--output` for `node_exporter`'s textfile collector.
//! Labels stay bounded: probe ids, kinds, phases, cause ids, severities —
//! never a URL, a summary or an evidence line. `docs/prometheus.md` is the
//! reference.

use std::collections::BTreeSet;
use std::io::Write;

use super::{Report, measures};
use crate::model::findings::{Severity, Status};

/// One metric family: its samples, each a label set and a value.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn push(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push((labels, value));
    }

    fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "# HELP {} {}", self.name, self.help)?;
        writeln!(out, "# TYPE {} gauge", self.name)?;
        // The same label set twice is an invalid exposition: keep the first.
        let mut seen = BTreeSet::new();
        for (labels, value) in &self.samples {
            let rendered: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label_value(v)))
                .collect();
            let rendered = rendered.join(",");
            if !seen.insert(rendered.clone()) {
                continue;
            }
            if rendered.is_empty() {
                writeln!(out, "{} {}", self.name, number(*value))?;
            } else {
                writeln!(out, "{}{{{rendered}}} {}", self.name, number(*value))?;
            }
        }
        Ok(())
    }
}

/// A label value escaped as the exposition format requires: `\` → `\\`,
/// `"` → `\"`, line feed → `\n`.
pub fn escape_label_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A probe id as a label value. Ids are `<section>:<name>` and bounded by
/// the config; should a name carry a query string or fragment, it is cut so
/// no URL parameter reaches a label.
pub fn probe_label(id: &str) -> String {
    id.split(['?', '#']).next().unwrap_or_default().to_string()
}

/// A sample value: Go's `ParseFloat` forms, so `+Inf`/`-Inf`/`NaN` spelled
/// the way Prometheus spells them.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// When the run ended, seconds since the epoch (start + duration).
fn run_end(r: &Report) -> Option<f64> {
    let started = humantime::parse_rfc3339(&r.started_at).ok()?;
    let secs = started.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(secs.as_secs_f64() + r.duration_ms as f64 / 1000.0)
}

pub fn write(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let mut up = Family::new(
        "why5xx_up",
        "1 when why5xx completed a run and wrote this report.",
    );
    up.push(vec![], 1.0);

    let mut run = Family::new(
        "why5xx_run_duration_seconds",
        "How long the whole diagnosis took.",
    );
    run.push(vec![], r.duration_ms as f64 / 1000.0);

    let mut last = Family::new(
        "why5xx_last_run_timestamp_seconds",
        "When the run ended, in seconds since the Unix epoch.",
    );
    if let Some(t) = run_end(r) {
        last.push(vec![], t.floor());
    }

    let mut success = Family::new(
        "why5xx_probe_success",
        "1 when the probe finished and its status is ok or warning; 0 when critical or unknown (could not finish).",
    );
    let mut duration = Family::new(
        "why5xx_probe_duration_seconds",
        "Probe duration by phase: dns, connect, tls, first_byte and total for http probes; total for the others.",
    );
    let mut expiry = Family::new(
        "why5xx_tls_cert_expiry_timestamp_seconds",
        "Not-after of the leaf certificate an http or tls probe was served, in seconds since the Unix epoch.",
    );
    for p in &r.probes {
        let probe = probe_label(&p.id);
        let ok = matches!(p.status, Status::Ok | Status::Warning);
        success.push(
            vec![("probe", probe.clone()), ("kind", p.kind.clone())],
            if ok { 1.0 } else { 0.0 },
        );
        for t in measures::phases(p) {
            duration.push(
                vec![("probe", probe.clone()), ("phase", t.phase.to_string())],
                t.seconds,
            );
        }
        if let Some(leaf) = measures::leaf_expiry(p) {
            expiry.push(vec![("probe", probe.clone())], leaf.not_after as f64);
        }
    }

    let mut finding = Family::new(
        "why5xx_finding",
        "1 for each likely cause of 5xx errors found by this run, by cause id and severity.",
    );
    for f in &r.findings {
        finding.push(
            vec![
                ("cause", f.cause.id().to_string()),
                ("severity", severity(f.severity).to_string()),
            ],
            1.0,
        );
    }

    let mut access = Family::new(
        "why5xx_access_requests",
        "Requests in the access log's window, by status class (1xx..5xx).",
    );
    let mut first_5xx = Family::new(
        "why5xx_access_first_5xx_timestamp_seconds",
        "The first 5xx of the access log's window, in seconds since the Unix epoch.",
    );
    if let Some((id, a)) = super::traffic::access_log(&r.probes) {
        let mut classes: std::collections::BTreeMap<u16, u64> = std::collections::BTreeMap::new();
        for (code, n) in &a.by_status {
            *classes.entry(code / 100).or_default() += n;
        }
        for (class, n) in classes {
            access.push(
                vec![
                    ("probe", probe_label(id)),
                    ("status_class", format!("{class}xx")),
                ],
                n as f64,
            );
        }
        if let Some(f) = &a.first_5xx {
            first_5xx.push(vec![("probe", probe_label(id))], f.at.0 as f64);
        }
    }

    for family in [
        &up, &run, &last, &success, &duration, &expiry, &finding, &access, &first_5xx,
    ] {
        family.write(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("one\ntwo"), "one\\ntwo");
        assert_eq!(
            escape_label_value("host:disk:/var/log"),
            "host:disk:/var/log"
        );
    }

    #[test]
    fn probe_labels_carry_no_query_string() {
        assert_eq!(probe_label("endpoint:api?token=x"), "endpoint:api");
        assert_eq!(
            probe_label("tls:shop.example.com:443"),
            "tls:shop.example.com:443"
        );
    }

    #[test]
    fn numbers_use_prometheus_spellings() {
        assert_eq!(number(0.016_123), "0.016123");
        assert_eq!(number(1_795_693_010.0), "1795693010");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
