//! `--baseline FILE`: what changed since a previous JSON report — findings
//! new, gone or of another severity, probes whose status changed (or that
//! appeared or went), time to first byte far from the baseline's, disks
//! filling up. Reads the baseline file and compares two reports; it never
//! probes anything and never changes the verdict or the exit code.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::findings::{Severity, Status};
use crate::report::{Report, SCHEMA_VERSION};

/// Largest baseline read; a report is far smaller.
pub const MAX_BASELINE_BYTES: u64 = 64 * 1024 * 1024;
/// Time to first byte is "far" from the baseline's when it is this many
/// times larger (or smaller) ...
pub const FIRST_BYTE_FACTOR: f64 = 2.0;
/// ... and differs by at least this many milliseconds.
pub const FIRST_BYTE_MIN_DELTA_MS: f64 = 100.0;
/// A disk's used share must grow by at least this much (5 points).
pub const DISK_POINTS: f64 = 0.05;

/// What changed since the baseline: the report's optional `changes` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// The baseline's `started_at`.
    pub baseline_started_at: String,
    /// The baseline's `host` (a baseline from another host compares poorly).
    pub baseline_host: String,
    /// The baseline's overall status.
    pub baseline_status: Status,
    /// Causes found now and not in the baseline.
    pub new_findings: Vec<FindingChange>,
    /// Causes in the baseline and not found now.
    pub gone_findings: Vec<FindingChange>,
    /// Causes found in both, at another severity.
    pub changed_findings: Vec<SeverityChange>,
    /// Probes whose status changed; `before` (`after`) is null for a probe
    /// that did not run in the baseline (does not run now).
    pub probes: Vec<ProbeChange>,
    /// HTTP probes whose time to first byte is far from the baseline's.
    pub first_byte: Vec<LatencyChange>,
    /// Filesystems whose used share of space or inodes grew by 5 points or more.
    pub disks: Vec<DiskChange>,
}

impl Changes {
    /// Whether nothing worth reporting changed.
    pub fn is_empty(&self) -> bool {
        self.new_findings.is_empty()
            && self.gone_findings.is_empty()
            && self.changed_findings.is_empty()
            && self.probes.is_empty()
            && self.first_byte.is_empty()
            && self.disks.is_empty()
    }
}

/// A finding that appeared or went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingChange {
    pub cause: String,
    pub severity: Severity,
    pub title: String,
}

/// A cause found in both runs at another severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityChange {
    pub cause: String,
    pub before: Severity,
    pub after: Severity,
    pub title: String,
}

/// A probe whose status changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeChange {
    pub probe: String,
    pub before: Option<Status>,
    pub after: Option<Status>,
}

/// Time to first byte, then and now, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyChange {
    pub probe: String,
    pub before_ms: f64,
    pub after_ms: f64,
}

/// What share of a filesystem is used, then and now, in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskChange {
    pub probe: String,
    /// `space` or `inodes`.
    pub measure: String,
    pub before: f64,
    pub after: f64,
}

/// The parts of a report the comparison reads. Lenient on purpose: unknown
/// fields and unknown cause ids (a newer or older why5xx) are fine.
#[derive(Debug, Clone, Deserialize)]
pub struct Baseline {
    schema_version: u32,
    tool: BaselineTool,
    host: String,
    started_at: String,
    status: Status,
    probes: Vec<BaselineProbe>,
    findings: Vec<BaselineFinding>,
}

#[derive(Debug, Clone, Deserialize)]
struct BaselineTool {
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
struct BaselineProbe {
    id: String,
    kind: String,
    status: Status,
    #[serde(default)]
    observations: Value,
}

#[derive(Debug, Clone, Deserialize)]
struct BaselineFinding {
    cause: String,
    severity: Severity,
    title: String,
}

/// Read the JSON report at `path`. Every error is one line naming the file.
pub fn load(path: &Path) -> anyhow::Result<Baseline> {
    let what = || format!("baseline {}", path.display());
    let meta = std::fs::metadata(path).with_context(what)?;
    anyhow::ensure!(
        meta.len() <= MAX_BASELINE_BYTES,
        "{}: {} bytes is too large for a report (limit {MAX_BASELINE_BYTES})",
        what(),
        meta.len()
    );
    let text = std::fs::read(path).with_context(what)?;
    let baseline: Baseline = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a why5xx JSON report: {e}", what()))?;
    anyhow::ensure!(
        baseline.tool.name == "why5xx",
        "{}: not a why5xx report (tool {:?})",
        what(),
        baseline.tool.name
    );
    anyhow::ensure!(
        baseline.schema_version == SCHEMA_VERSION,
        "{}: schema_version {} is not supported (this why5xx writes {SCHEMA_VERSION})",
        what(),
        baseline.schema_version
    );
    Ok(baseline)
}

/// What changed from `before` to `now`.
pub fn compare(before: &Baseline, now: &Report) -> Changes {
    // The current report seen through the same lenient lens.
    let now = match serde_json::to_value(now).and_then(serde_json::from_value::<Baseline>) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("comparing with the baseline: {e}");
            return empty(before);
        }
    };
    let mut changes = empty(before);

    let worst = |b: &Baseline, cause: &str| {
        b.findings
            .iter()
            .filter(|f| f.cause == cause)
            .max_by_key(|f| f.severity)
            .cloned()
    };
    let mut seen = Vec::new();
    for f in &now.findings {
        if seen.contains(&f.cause) {
            continue;
        }
        seen.push(f.cause.clone());
        let Some(then) = worst(before, &f.cause) else {
            changes.new_findings.push(finding(f));
            continue;
        };
        let now_worst = worst(&now, &f.cause).unwrap_or_else(|| f.clone());
        if now_worst.severity != then.severity {
            changes.changed_findings.push(SeverityChange {
                cause: f.cause.clone(),
                before: then.severity,
                after: now_worst.severity,
                title: now_worst.title,
            });
        }
    }
    let mut gone = Vec::new();
    for f in &before.findings {
        if !gone.contains(&f.cause) && worst(&now, &f.cause).is_none() {
            gone.push(f.cause.clone());
            changes.gone_findings.push(finding(f));
        }
    }

    for p in &now.probes {
        let then = before.probes.iter().find(|b| b.id == p.id);
        if then.map(|b| b.status) != Some(p.status) {
            changes.probes.push(ProbeChange {
                probe: p.id.clone(),
                before: then.map(|b| b.status),
                after: Some(p.status),
            });
        }
        let Some(then) = then.filter(|b| b.kind == p.kind) else {
            continue;
        };
        match p.kind.as_str() {
            "http" => {
                if let (Some(b), Some(a)) = (first_byte_ms(then), first_byte_ms(p))
                    && far_apart(b, a)
                {
                    changes.first_byte.push(LatencyChange {
                        probe: p.id.clone(),
                        before_ms: b,
                        after_ms: a,
                    });
                }
            }
            "disk" => {
                for (measure, key) in [("space", "used_ratio"), ("inodes", "inodes_used_ratio")] {
                    if let (Some(b), Some(a)) = (ratio(then, key), ratio(p, key))
                        && a - b >= DISK_POINTS - 1e-9
                    {
                        changes.disks.push(DiskChange {
                            probe: p.id.clone(),
                            measure: measure.to_string(),
                            before: b,
                            after: a,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    for b in &before.probes {
        if !now.probes.iter().any(|p| p.id == b.id) {
            changes.probes.push(ProbeChange {
                probe: b.id.clone(),
                before: Some(b.status),
                after: None,
            });
        }
    }
    changes
}

fn empty(before: &Baseline) -> Changes {
    Changes {
        baseline_started_at: before.started_at.clone(),
        baseline_host: before.host.clone(),
        baseline_status: before.status,
        new_findings: Vec::new(),
        gone_findings: Vec::new(),
        changed_findings: Vec::new(),
        probes: Vec::new(),
        first_byte: Vec::new(),
        disks: Vec::new(),
    }
}

fn finding(f: &BaselineFinding) -> FindingChange {
    FindingChange {
        cause: f.cause.clone(),
        severity: f.severity,
        title: f.title.clone(),
    }
}

fn first_byte_ms(p: &BaselineProbe) -> Option<f64> {
    p.observations
        .get("phases")?
        .get("first_byte")?
        .as_f64()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// A used share from a disk probe that measured something.
fn ratio(p: &BaselineProbe, key: &str) -> Option<f64> {
    let o = &p.observations;
    if o.get("failure").is_some_and(|f| !f.is_null()) {
        return None;
    }
    o.get(key)?
        .as_f64()
        .filter(|v| v.is_finite() && (0.0..=1.0).contains(v))
}

/// More than twice as slow (or fast) and at least 100 ms apart.
fn far_apart(before: f64, after: f64) -> bool {
    let (lo, hi) = if after >= before {
        (before, after)
    } else {
        (after, before)
    };
    hi - lo >= FIRST_BYTE_MIN_DELTA_MS && hi > lo * FIRST_BYTE_FACTOR
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(status: &str, probes: &Value, findings: &Value) -> Baseline {
        serde_json::from_value(json!({
            "schema_version": 1,
            "tool": {"name": "why5xx", "version": "0.1.0"},
            "host": "web-1",
            "started_at": "2026-11-26T09:30:00Z",
            "duration_ms": 5,
            "status": status,
            "probes": probes,
            "findings": findings,
        }))
        .unwrap()
    }

    fn http(id: &str, status: &str, first_byte: f64) -> Value {
        json!({"id": id, "kind": "http", "target": "", "status": status, "duration_ms": 1,
               "summary": "", "observations": {"phases": {"first_byte": first_byte, "total": first_byte}},
               "error": null})
    }

    fn disk(id: &str, used: f64) -> Value {
        json!({"id": id, "kind": "disk", "target": "", "status": "ok", "duration_ms": 1,
               "summary": "", "observations": {"path": "/", "mount_point": "/", "total_bytes": 100, "available_bytes": 50,
                                "used_ratio": used, "inodes_total": 10, "inodes_free": 9, "inodes_used_ratio": 0.1},
               "error": null})
    }

    fn finding(cause: &str, severity: &str) -> Value {
        json!({"cause": cause, "title": format!("{cause} title"), "severity": severity,
               "status_codes": [], "confidence": 0.9, "evidence": [], "remediation": [],
               "guide_section": "x"})
    }

    /// Compare via the real `compare`, which takes a `Report`: build one
    /// from JSON the way a baseline is read.
    fn changes(before: &Baseline, after: &Value) -> Changes {
        let now: Report = serde_json::from_value(after.clone()).unwrap();
        compare(before, &now)
    }

    fn full(status: &str, probes: &Value, findings: &Value) -> Value {
        json!({
            "schema_version": 1,
            "tool": {"name": "why5xx", "version": "0.1.0"},
            "host": "web-1",
            "started_at": "2026-11-26T09:35:00Z",
            "duration_ms": 5,
            "status": status,
            "probes": probes,
            "findings": findings,
        })
    }

    #[test]
    fn findings_new_gone_and_changed() {
        let before = report(
            "warning",
            &json!([]),
            &json!([
                finding("disk-full", "warning"),
                finding("slow-backend", "warning")
            ]),
        );
        let c = changes(
            &before,
            &full(
                "critical",
                &json!([]),
                &json!([
                    finding("upstream-not-running", "critical"),
                    finding("disk-full", "critical")
                ]),
            ),
        );
        assert_eq!(c.new_findings.len(), 1);
        assert_eq!(c.new_findings[0].cause, "upstream-not-running");
        assert_eq!(c.gone_findings[0].cause, "slow-backend");
        assert_eq!(c.changed_findings[0].cause, "disk-full");
        assert_eq!(c.changed_findings[0].before, Severity::Warning);
        assert_eq!(c.changed_findings[0].after, Severity::Critical);
        assert_eq!(c.baseline_status, Status::Warning);
    }

    #[test]
    fn probe_status_latency_and_disk_changes() {
        let before = report(
            "ok",
            &json!([
                http("upstream:app", "ok", 20.0),
                http("endpoint:a", "ok", 300.0),
                http("endpoint:gone", "ok", 1.0),
                disk("host:disk:/", 0.50),
                disk("host:disk:/var", 0.50)
            ]),
            &json!([]),
        );
        let c = changes(
            &before,
            &full(
                "ok",
                &json!([
                    http("upstream:app", "critical", 400.0),
                    // 2.3x but only +390 ms: far; 450 vs 300 is not.
                    http("endpoint:a", "ok", 450.0),
                    http("endpoint:new", "ok", 1.0),
                    disk("host:disk:/", 0.55),
                    disk("host:disk:/var", 0.54)
                ]),
                &json!([]),
            ),
        );
        let probes: Vec<(&str, Option<Status>, Option<Status>)> = c
            .probes
            .iter()
            .map(|p| (p.probe.as_str(), p.before, p.after))
            .collect();
        assert_eq!(
            probes,
            [
                ("upstream:app", Some(Status::Ok), Some(Status::Critical)),
                ("endpoint:new", None, Some(Status::Ok)),
                ("endpoint:gone", Some(Status::Ok), None),
            ]
        );
        assert_eq!(c.first_byte.len(), 1);
        assert_eq!(c.first_byte[0].probe, "upstream:app");
        assert_eq!(c.disks.len(), 1);
        assert_eq!(c.disks[0].probe, "host:disk:/");
        assert_eq!(c.disks[0].measure, "space");
    }

    #[test]
    fn far_apart_needs_both_factor_and_delta() {
        assert!(far_apart(10.0, 150.0));
        assert!(!far_apart(10.0, 90.0), "10x but only 80 ms");
        assert!(!far_apart(1000.0, 1500.0), "500 ms but 1.5x");
        assert!(far_apart(1000.0, 300.0), "much faster is far too");
    }

    #[test]
    fn identical_runs_change_nothing() {
        let probes = json!([http("upstream:app", "ok", 20.0), disk("host:disk:/", 0.5)]);
        let findings = json!([finding("disk-full", "warning")]);
        let before = report("warning", &probes, &findings);
        let c = changes(&before, &full("warning", &probes, &findings));
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn bad_baselines_are_one_line_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.json");
        for text in ["{", "[]", "{\"schema_version\": 1}", ""] {
            std::fs::write(&path, text).unwrap();
            let e = format!("{:#}", load(&path).unwrap_err());
            assert!(e.contains("base.json"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = format!("{:#}", load(&dir.path().join("missing.json")).unwrap_err());
        assert!(e.contains("missing.json"), "{e}");
    }
}
