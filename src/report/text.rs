//! `--format text`: for a person under stress. The answer first — the top
//! findings with their evidence and next steps — then a compact table of
//! every probe. Colour only when asked (a terminal, `NO_COLOR` unset).

use std::io::Write;

use super::Report;
use crate::model::findings::{Severity, Status};

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn status(&self, s: Status) -> String {
        let text = s.as_str();
        match s {
            Status::Ok => self.wrap("32", text),
            Status::Warning => self.wrap("33", text),
            Status::Critical => self.wrap("1;31", text),
            Status::Unknown => self.wrap("35", text),
        }
    }
    fn severity(&self, s: Severity) -> String {
        match s {
            Severity::Critical => self.wrap("1;31", "CRITICAL"),
            Severity::Warning => self.wrap("33", "WARNING"),
            Severity::Info => self.wrap("36", "info"),
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

pub fn write(r: &Report, color: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let p = Paint { on: color };
    let verdict = match r.status {
        Status::Ok => p.wrap("1;32", "OK"),
        Status::Warning => p.wrap("1;33", "WARNING"),
        Status::Critical => p.wrap("1;31", "CRITICAL"),
        Status::Unknown => p.wrap("1;35", "UNKNOWN"),
    };
    writeln!(
        out,
        "why5xx {} on {} — {verdict} — {} probes in {:.2} s",
        r.tool.version,
        r.host,
        r.probes.len(),
        r.duration_ms as f64 / 1000.0
    )?;
    writeln!(out)?;

    if r.findings.is_empty() {
        let unknown: Vec<&str> = r
            .probes
            .iter()
            .filter(|x| x.status == Status::Unknown)
            .map(|x| x.id.as_str())
            .collect();
        if unknown.is_empty() {
            writeln!(
                out,
                "No cause of 5xx errors found: every probe looks healthy."
            )?;
        } else {
            writeln!(
                out,
                "No cause of 5xx errors found, but the verdict is incomplete: {} probe(s) could not finish ({}).",
                unknown.len(),
                unknown.join(", ")
            )?;
        }
        writeln!(out)?;
    }
    for (i, f) in r.findings.iter().enumerate() {
        let codes = if f.status_codes.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                f.status_codes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        writeln!(
            out,
            "{}. {}{codes}  {}  confidence {:.2}",
            i + 1,
            p.bold(f.cause.id()),
            p.severity(f.severity),
            f.confidence
        )?;
        writeln!(out, "   {}", f.title)?;
        let width = f.evidence.iter().map(|e| e.probe.len()).max().unwrap_or(0);
        for e in &f.evidence {
            writeln!(out, "   · {:width$}  {}", e.probe, e.detail)?;
        }
        for step in &f.remediation {
            writeln!(out, "   → {step}")?;
        }
        if !f.related.is_empty() {
            let rel: Vec<&str> = f.related.iter().map(|c| c.id()).collect();
            writeln!(out, "   {}", p.dim(&format!("related: {}", rel.join(", "))))?;
        }
        writeln!(out, "   {}", p.dim(&format!("guide: {}", f.guide_section)))?;
        writeln!(out)?;
    }

    if let Some(c) = &r.changes {
        write_changes(c, &r.host, &p, out)?;
    }
    if let Some((id, a)) = super::traffic::access_log(&r.probes) {
        write_traffic(id, a, &p, out)?;
    }

    let idw = r
        .probes
        .iter()
        .map(|x| x.id.len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "{}",
        p.bold(&format!(
            "{:idw$}  {:8}  {:>8}  detail",
            "probe", "status", "time"
        ))
    )?;
    for x in &r.probes {
        let status = p.status(x.status);
        // Pad by the visible width, not the escape codes.
        let pad = " ".repeat(8usize.saturating_sub(x.status.as_str().len()));
        let detail = match &x.error {
            Some(e) if x.summary.is_empty() => e.clone(),
            _ => x.summary.clone(),
        };
        writeln!(
            out,
            "{:idw$}  {status}{pad}  {:>8}  {detail}",
            x.id,
            format!("{} ms", x.duration_ms)
        )?;
    }
    Ok(())
}

/// The access log's window: how many requests failed, since when, where,
/// and 5xx per minute as a sparkline.
fn write_traffic(
    id: &str,
    a: &why5xx_probes::logs::AccessLogObservation,
    p: &Paint,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let minutes = (a.until.0 - a.since.0).max(0) / 60;
    writeln!(
        out,
        "{}",
        p.bold(&format!("Traffic ({id}, last {minutes} min)"))
    )?;
    writeln!(
        out,
        "   {} request(s), {} 5xx ({:.1}%)",
        a.requests,
        a.errors_5xx,
        a.error_ratio * 100.0
    )?;
    if let Some(f) = &a.first_5xx {
        let last = a
            .last_5xx_at
            .map(|t| super::traffic::rfc3339(t.0))
            .unwrap_or_default();
        writeln!(
            out,
            "   first 5xx {} ({} {} {}), last {last}",
            super::traffic::rfc3339(f.at.0),
            f.status,
            f.method.as_deref().unwrap_or(""),
            f.path.as_deref().unwrap_or("")
        )?;
        writeln!(out, "   5xx/min |{}|", super::traffic::sparkline(a))?;
    }
    for t in a.top_paths.iter().take(3) {
        writeln!(
            out,
            "   {:>6} of {:>6}  {}",
            t.errors_5xx, t.requests, t.path
        )?;
    }
    for u in a.by_upstream.iter().filter(|u| u.errors_5xx > 0).take(3) {
        writeln!(
            out,
            "   {:>6} of {:>6}  via {}",
            u.errors_5xx, u.requests, u.address
        )?;
    }
    writeln!(out)
}

/// The "Since the baseline" section of `--baseline`.
fn write_changes(
    c: &crate::report::baseline::Changes,
    host: &str,
    p: &Paint,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let other_host = if c.baseline_host == host {
        String::new()
    } else {
        format!(", from host {}", c.baseline_host)
    };
    let head = format!(
        "Since the baseline ({}, {}{other_host})",
        c.baseline_started_at,
        c.baseline_status.as_str()
    );
    if c.is_empty() {
        writeln!(out, "{}: nothing changed.", p.bold(&head))?;
        return writeln!(out);
    }
    writeln!(out, "{}", p.bold(&head))?;
    for f in &c.new_findings {
        writeln!(
            out,
            "   + new      {}  {}  {}",
            f.cause,
            p.severity(f.severity),
            f.title
        )?;
    }
    for f in &c.gone_findings {
        writeln!(
            out,
            "   - gone     {}  was {}  {}",
            f.cause,
            p.severity(f.severity),
            f.title
        )?;
    }
    for f in &c.changed_findings {
        writeln!(
            out,
            "   ~ finding  {}  {} → {}",
            f.cause,
            p.severity(f.before),
            p.severity(f.after)
        )?;
    }
    let status = |s: Option<Status>| s.map_or_else(|| "absent".to_string(), |s| p.status(s));
    for x in &c.probes {
        writeln!(
            out,
            "   ~ probe    {}  {} → {}",
            x.probe,
            status(x.before),
            status(x.after)
        )?;
    }
    for x in &c.first_byte {
        writeln!(
            out,
            "   ~ latency  {}  first byte {:.0} ms → {:.0} ms",
            x.probe, x.before_ms, x.after_ms
        )?;
    }
    for d in &c.disks {
        writeln!(
            out,
            "   ~ disk     {}  {} used {:.0}% → {:.0}%",
            d.probe,
            d.measure,
            d.before * 100.0,
            d.after * 100.0
        )?;
    }
    writeln!(out)
}
