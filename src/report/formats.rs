//! Tests of the machine formats on fixed reports, no network: a snapshot of
//! each format on one report (a real lab run with an HTTPS endpoint, a TLS
//! probe and an unfinished probe added: `snapshots/report.json`), and every
//! report the failure lab kept (`tests/fixtures/rules/lab-*.json`) rendered
//! in every format and checked by the programs that will read it: promtool,
//! xmllint with the committed `JUnit` XSD, the plugin-output grammar.
//!
//! After a deliberate change: `WHY5XX_UPDATE_SNAPSHOTS=1 cargo nextest run
//! -p why5xx formats`, then review the diff of `src/report/snapshots/`.

use std::path::{Path, PathBuf};

use super::{Report, render};
use crate::model::causes::CATALOGUE;
use crate::model::findings::Severity;
use crate::report::Format;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixed() -> Report {
    serde_json::from_str(include_str!("snapshots/report.json")).unwrap()
}

fn lab_reports() -> Vec<(String, Report)> {
    let dir = root().join("tests/fixtures/rules");
    let mut out: Vec<(String, Report)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("lab-") && p.extension().is_some_and(|e| e == "json")
        })
        .map(|p| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let r: Report = serde_json::from_value(v["report"].clone())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_stem().unwrap().to_string_lossy().into_owned(), r)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 29,
        "the lab keeps 29 reports, found {}",
        out.len()
    );
    out
}

fn rendered(r: &Report, format: Format) -> String {
    let mut buf = Vec::new();
    render(r, format, false, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

/// Compare with `snapshots/<name>`, or write it when asked to.
fn snapshot(name: &str, actual: &str) {
    let path = root().join("src/report/snapshots").join(name);
    if std::env::var_os("WHY5XX_UPDATE_SNAPSHOTS").is_some() || !path.exists() {
        std::fs::write(&path, actual).unwrap();
        assert!(
            std::env::var_os("WHY5XX_UPDATE_SNAPSHOTS").is_some(),
            "new snapshot {} written: review it and run again",
            path.display()
        );
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    if expected != actual {
        let new = path.with_extension(format!(
            "{}.new",
            path.extension().unwrap_or_default().to_string_lossy()
        ));
        std::fs::write(&new, actual).unwrap();
        panic!(
            "{name} differs from its snapshot; the new output is in {} (WHY5XX_UPDATE_SNAPSHOTS=1 to accept)",
            new.display()
        );
    }
}

#[path = "../../tests/tools.rs"]
mod tools;
use tools::tool;

fn promtool_accepts(name: &str, text: &str) {
    let (ok, said) = tool("promtool", &["check", "metrics"], text);
    assert!(
        ok && said.trim().is_empty(),
        "{name}: promtool said:\n{said}\n{text}"
    );
}

fn xsd_accepts(name: &str, xml: &str) {
    let xsd = root().join("tests/fixtures/junit/junit.xsd");
    let (ok, said) = tool(
        "xmllint",
        &["--noout", "--schema", &xsd.display().to_string(), "-"],
        xml,
    );
    assert!(ok, "{name}: xmllint said:\n{said}\n{xml}");
}

/// The first line of plugin output: `WHY5XX STATE - text | 'label'=value...`.
fn check_plugin_output(name: &str, r: &Report, out: &str) {
    let first = out.lines().next().unwrap();
    assert!(
        first.len() < 4096,
        "{name}: first line of {} bytes",
        first.len()
    );
    let state = match r.worst() {
        Some(Severity::Critical) => "CRITICAL",
        Some(Severity::Warning) => "WARNING",
        _ => "OK",
    };
    assert!(
        first.starts_with(&format!("WHY5XX {state} - ")),
        "{name}: {first}"
    );
    let (_, perf) = first
        .split_once(" | ")
        .unwrap_or_else(|| panic!("{name}: no perfdata: {first}"));
    for item in split_perfdata(perf) {
        let (label, rest) = item.rsplit_once('=').unwrap();
        assert!(
            label.starts_with('\'') && label.ends_with('\'') && label.len() > 2,
            "{name}: {item}"
        );
        let inner = &label[1..label.len() - 1];
        assert!(!inner.replace("''", "").contains('\''), "{name}: {item}");
        let fields: Vec<&str> = rest.split(';').collect();
        assert!(fields.len() <= 5, "{name}: {item}");
        let v = fields[0].trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
        assert!(
            !v.is_empty() && v.parse::<f64>().is_ok() && !v.contains('e'),
            "{name}: value of {item}"
        );
        let uom = &fields[0][v.len()..];
        assert!(["s", "%", "d"].contains(&uom), "{name}: unit of {item}");
    }
}

/// Perfdata items, split on blanks outside quoted labels.
fn split_perfdata(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            ' ' if !quoted => {
                if !cur.is_empty() {
                    items.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        items.push(cur);
    }
    items
}

#[test]
fn formats_prometheus_snapshot() {
    let out = rendered(&fixed(), Format::Prometheus);
    promtool_accepts("snapshot", &out);
    snapshot("report.prom", &out);
}

#[test]
fn formats_junit_snapshot() {
    let out = rendered(&fixed(), Format::Junit);
    xsd_accepts("snapshot", &out);
    snapshot("report.junit.xml", &out);
}

#[test]
fn formats_nagios_snapshot() {
    let r = fixed();
    let out = rendered(&r, Format::Nagios);
    check_plugin_output("snapshot", &r, &out);
    snapshot("report.nagios.txt", &out);
}

#[test]
fn formats_text_snapshot_leads_with_the_diagnosis() {
    let r = fixed();
    let out = rendered(&r, Format::Text);
    assert!(out.starts_with("why5xx "), "{out}");
    assert!(!out.contains('\x1b'), "no colour unless asked");
    if let Some(first) = r.findings.first() {
        let at = out.find(first.cause.id()).unwrap();
        let table = out.find("probe ").unwrap();
        assert!(at < table, "the diagnosis comes before the probe table");
    }
    snapshot("report.txt", &out);
    let mut coloured = Vec::new();
    render(&r, Format::Text, true, &mut coloured).unwrap();
    assert!(
        String::from_utf8(coloured).unwrap().contains("\x1b["),
        "colour when asked"
    );
}

#[test]
fn formats_json_round_trips() {
    let r = fixed();
    let back: Report = serde_json::from_str(&rendered(&r, Format::Json)).unwrap();
    assert_eq!(back, r);
}

#[test]
fn formats_every_lab_report_passes_promtool() {
    for (name, r) in lab_reports() {
        let out = rendered(&r, Format::Prometheus);
        promtool_accepts(&name, &out);
        let findings = out
            .lines()
            .filter(|l| l.starts_with("why5xx_finding{"))
            .count();
        assert_eq!(findings, r.findings.len(), "{name}:\n{out}");
        let success = out
            .lines()
            .filter(|l| l.starts_with("why5xx_probe_success{"))
            .count();
        assert_eq!(success, r.probes.len(), "{name}");
    }
}

#[test]
fn formats_every_lab_report_passes_the_junit_xsd() {
    for (name, r) in lab_reports() {
        let out = rendered(&r, Format::Junit);
        xsd_accepts(&name, &out);
        let failures = r
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .count();
        assert_eq!(out.matches("<failure ").count(), failures, "{name}");
    }
}

#[test]
fn formats_every_lab_report_is_plugin_output() {
    for (name, r) in lab_reports() {
        let out = rendered(&r, Format::Nagios);
        check_plugin_output(&name, &r, &out);
        if r.findings.is_empty() {
            assert_eq!(out.lines().count(), 1, "{name}: {out}");
        }
    }
}

#[test]
fn formats_nagios_first_line_stays_under_4_kib() {
    let mut r = fixed();
    let template = r.probes[1].clone();
    for i in 0..200 {
        let mut p = template.clone();
        p.id = format!("endpoint:very-long-endpoint-name-number-{i}");
        r.probes.push(p);
    }
    r.findings[0].evidence[0].detail = "x".repeat(10_000);
    let out = rendered(&r, Format::Nagios);
    check_plugin_output("many probes", &r, &out);
    // Nothing is lost: what did not fit follows the long text.
    let perf_items = |out: &str| -> usize {
        out.split(" | ")
            .skip(1)
            .map(|s| split_perfdata(&s.replace('\n', " ")).len())
            .sum()
    };
    let base = perf_items(&rendered(&fixed(), Format::Nagios));
    let phases = super::measures::phases(&template).len();
    assert_eq!(perf_items(&out), base + 200 * phases);
    assert!(
        out.lines().next().unwrap().len() > 3000,
        "the first line is used"
    );
}

#[test]
fn formats_schema_names_every_cause_and_status() {
    let path: &Path = &root().join("schema/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let causes = strings(&schema["$defs"]["cause"]["enum"]);
    let catalogue: Vec<String> = CATALOGUE.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(causes, catalogue);
    let sections = strings(&schema["$defs"]["guide_section"]["enum"]);
    for c in CATALOGUE {
        assert!(
            sections.iter().any(|s| s == c.guide_section),
            "{}",
            c.guide_section
        );
    }
    let statuses = strings(&schema["$defs"]["status"]["enum"]);
    assert_eq!(statuses, ["ok", "warning", "critical", "unknown"]);
}
