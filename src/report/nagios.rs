//! `--format nagios`: output of the Nagios plugin convention, for Nagios and
//! Icinga. The first line is the state and the diagnosis with performance
//! data after `|`; further lines name the other findings. The exit code
//! (set by the caller from the findings, docs/contract.md) is what the monitoring
//! system acts on; the state word here agrees with it. `docs/nagios.md`
//! shows the command definitions.

use std::io::Write;

use super::{Report, measures};
use crate::model::findings::{Finding, Severity, Status};

/// Nagios reads at most 4 KiB of the first line; stay under it.
const MAX_FIRST_LINE: usize = 4095;
/// The human part of the first line, before the perfdata.
const MAX_TEXT: usize = 1024;

/// `s` on one line, safe before the `|`: control characters become
/// spaces, `|` (the perfdata separator) becomes `/`, runs of blanks one.
pub fn one_line(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` bytes of `s`, cut at a character boundary, with `...` when cut.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// A perfdata label: single-quoted, `'` doubled; `=` (never allowed) and
/// characters that would end the line become `_`.
pub fn label(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| match c {
            '\'' => "''".to_string(),
            '=' | '|' => "_".to_string(),
            c if c.is_control() => "_".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("'{cleaned}'")
}

/// A perfdata value: plain decimal, at most six places, no exponent.
fn value(v: f64, places: usize) -> String {
    let s = format!("{v:.places$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `'label'=value[UOM];warn;crit;min;max` for every number worth graphing:
/// the run's duration, phase times of HTTP probes (s), disk use (%), days
/// left on certificates (d). Thresholds are left empty: they live in the
/// why5xx config and the state comes from the findings.
fn perfdata(r: &Report) -> Vec<String> {
    let mut items = vec![format!(
        "{}={}s;;;0",
        label("run_duration"),
        value(r.duration_ms as f64 / 1000.0, 3)
    )];
    for p in &r.probes {
        if p.kind == "http" {
            for t in measures::phases(p) {
                items.push(format!(
                    "{}={}s;;;0",
                    label(&format!("{} {}", p.id, t.phase)),
                    value(t.seconds, 6)
                ));
            }
        }
        if let Some(used) = measures::disk_used(p) {
            items.push(format!(
                "{}={}%;;;0;100",
                label(&format!("{} used", p.id)),
                value(used * 100.0, 2)
            ));
        }
        if let Some(leaf) = measures::leaf_expiry(p) {
            items.push(format!(
                "{}={}d",
                label(&format!("{} cert_days", p.id)),
                leaf.days_left
            ));
        }
    }
    items
}

fn state(r: &Report) -> &'static str {
    match r.worst() {
        Some(Severity::Critical) => "CRITICAL",
        Some(Severity::Warning) => "WARNING",
        _ => "OK",
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "INFO",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

/// A finding in a line: `cause: detail (probe)`, or its title without evidence.
fn finding_line(f: &Finding) -> String {
    let said = f.evidence.first().map_or_else(
        || f.title.clone(),
        |e| format!("{} ({})", e.detail, e.probe),
    );
    one_line(&format!("{}: {said}", f.cause.id()))
}

pub fn write(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let state = state(r);
    let alarming: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    let unfinished: Vec<_> = r
        .probes
        .iter()
        .filter(|p| p.status == Status::Unknown)
        .collect();

    let text = if let Some(top) = alarming.first() {
        let more = if alarming.len() > 1 {
            format!(" (+{} more)", alarming.len() - 1)
        } else {
            String::new()
        };
        format!("{}{more}", clip(&finding_line(top), MAX_TEXT - more.len()))
    } else {
        let healthy = r.probes.iter().filter(|p| p.status == Status::Ok).count();
        let mut t = if healthy == r.probes.len() {
            format!("{healthy} probes healthy")
        } else {
            format!("{healthy} of {} probes healthy", r.probes.len())
        };
        if !unfinished.is_empty() {
            t = format!("{t}, {} could not finish", unfinished.len());
        }
        t
    };

    // First line: as much perfdata as fits; the rest follows the long text.
    let mut first = format!("WHY5XX {state} - {text}");
    let mut rest = Vec::new();
    let mut sep = " | ";
    for item in perfdata(r) {
        if rest.is_empty() && first.len() + sep.len() + item.len() <= MAX_FIRST_LINE {
            first.push_str(sep);
            first.push_str(&item);
            sep = " ";
        } else {
            rest.push(item);
        }
    }
    writeln!(out, "{first}")?;

    let mut long = Vec::new();
    if let Some(step) = alarming.first().and_then(|f| f.remediation.first()) {
        long.push(one_line(&format!("next: {step}")));
    }
    for f in r.findings.iter().skip(usize::from(!alarming.is_empty())) {
        long.push(format!("{} {}", severity(f.severity), finding_line(f)));
    }
    for p in &unfinished {
        let why = p.error.as_deref().unwrap_or(p.summary.as_str());
        long.push(one_line(&format!(
            "UNKNOWN {} could not finish: {why}",
            p.id
        )));
    }
    if !rest.is_empty() && long.is_empty() {
        long.push("more performance data".to_string());
    }
    let last = long.len().saturating_sub(1);
    for (i, line) in long.iter().enumerate() {
        if i == last && !rest.is_empty() {
            writeln!(out, "{line} | {}", rest.join("\n"))?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_quoted_with_quotes_doubled() {
        assert_eq!(label("host:disk:/ used"), "'host:disk:/ used'");
        assert_eq!(label("it's=x|y"), "'it''s_x_y'");
    }

    #[test]
    fn text_stays_on_one_line_before_the_pipe() {
        assert_eq!(one_line("a|b\nc\t\td"), "a/b c d");
    }

    #[test]
    fn values_are_plain_decimals() {
        assert_eq!(value(0.016_123, 6), "0.016123");
        assert_eq!(value(28.0, 2), "28");
        assert_eq!(value(0.000_000_1, 6), "0");
    }

    #[test]
    fn clipping_respects_characters() {
        let s = "é".repeat(100);
        let c = clip(&s, 11);
        assert!(c.len() <= 11 && c.ends_with("..."), "{c}");
    }
}
