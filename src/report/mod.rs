//! The report: what every format is rendered from, shaped exactly like the
//! JSON of docs/contract.md, and the atomic writer behind `--output`. Only
//! reporters print.

pub mod baseline;
#[cfg(test)]
mod formats;
mod json;
mod junit;
mod measures;
mod nagios;
mod prometheus;
mod text;
pub mod traffic;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use why5xx_probes::Observation;

use crate::assess::Assessment;
use crate::engine::runner::{Outcome, ProbeRun};
use crate::model::findings::{Finding, Severity, Status};

/// Report formats, one reporter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a person: the diagnosis first, then the probes.
    Text,
    /// The report of docs/contract.md, for cron and CI.
    Json,
    /// Prometheus text exposition, for `node_exporter`'s textfile collector.
    Prometheus,
    /// `JUnit` XML, for CI servers: a test case per probe and per finding.
    Junit,
    /// Nagios/Icinga plugin output: status line, perfdata, exit code.
    Nagios,
}

/// The report's schema version; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// One probe in the report. Its observation stays the probes crate's typed
/// value until a reporter serialises it (as the contract's `observations`
/// object, `{}` when the probe did not finish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireProbe", try_from = "WireProbe")]
pub struct ProbeReport {
    pub id: String,
    pub kind: String,
    pub target: String,
    pub status: Status,
    pub duration_ms: u64,
    pub summary: String,
    /// What the probe observed; absent when it did not finish.
    pub observation: Option<Observation>,
    pub error: Option<String>,
}

/// [`ProbeReport`] as the JSON of the contract has it: the observation's
/// fields under `observations`, its kind beside them.
#[derive(Serialize, Deserialize)]
struct WireProbe {
    id: String,
    kind: String,
    target: String,
    status: Status,
    duration_ms: u64,
    summary: String,
    observations: serde_json::Value,
    error: Option<String>,
}

impl From<ProbeReport> for WireProbe {
    fn from(p: ProbeReport) -> Self {
        let observations = p
            .observation
            .and_then(|o| serde_json::to_value(o).ok())
            .and_then(|mut v| v.get_mut("observations").map(serde_json::Value::take))
            .unwrap_or_else(empty);
        Self {
            id: p.id,
            kind: p.kind,
            target: p.target,
            status: p.status,
            duration_ms: p.duration_ms,
            summary: p.summary,
            observations,
            error: p.error,
        }
    }
}

impl TryFrom<WireProbe> for ProbeReport {
    type Error = String;

    /// A report read back (tests, the exporter's cache): an `{}` or absent
    /// observation is none; one that is not of its kind's shape is an error.
    fn try_from(w: WireProbe) -> Result<Self, String> {
        let empty = w
            .observations
            .as_object()
            .is_some_and(serde_json::Map::is_empty)
            || w.observations.is_null();
        let observation = if empty && w.error.is_some() {
            None
        } else {
            let tagged = serde_json::json!({ "kind": w.kind, "observations": w.observations });
            Some(
                serde_json::from_value(tagged)
                    .map_err(|e| format!("probe {}: observations: {e}", w.id))?,
            )
        };
        Ok(Self {
            id: w.id,
            kind: w.kind,
            target: w.target,
            status: w.status,
            duration_ms: w.duration_ms,
            summary: w.summary,
            observation,
            error: w.error,
        })
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub host: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub status: Status,
    pub probes: Vec<ProbeReport>,
    pub findings: Vec<Finding>,
    /// What changed since `--baseline` (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<crate::report::baseline::Changes>,
    /// What the access log says of the window (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<traffic::Traffic>,
}

impl Report {
    /// Assemble the report of a run.
    pub fn new(
        started: SystemTime,
        took: Duration,
        runs: &[ProbeRun],
        assessed: &[Assessment],
        findings: Vec<Finding>,
    ) -> Self {
        let probes: Vec<ProbeReport> = runs
            .iter()
            .zip(assessed)
            .map(|(r, a)| {
                let (observation, error) = match &r.outcome {
                    Outcome::Observed(o) => (Some(o.clone()), None),
                    Outcome::Unfinished(why) => (None, Some(why.clone())),
                };
                ProbeReport {
                    id: r.planned.id.to_string(),
                    kind: r.planned.spec.kind().to_string(),
                    target: r.planned.target.clone(),
                    status: a.status,
                    duration_ms: millis(r.duration),
                    summary: a.summary.clone(),
                    observation,
                    error,
                }
            })
            .collect();
        let status = run_status(&findings, &probes);
        let traffic = traffic::of(&probes);
        Self {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "why5xx".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            host: hostname(),
            started_at: humantime::format_rfc3339_seconds(started).to_string(),
            duration_ms: millis(took),
            status,
            probes,
            findings,
            changes: None,
            traffic,
        }
    }

    /// The worst finding's severity.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

fn empty() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The run's status: the worst finding; with no finding, `unknown` when some
/// probe could not finish (the verdict is incomplete), else `ok`.
fn run_status(findings: &[Finding], probes: &[ProbeReport]) -> Status {
    match findings.iter().map(|f| f.severity).max() {
        Some(Severity::Critical) => Status::Critical,
        Some(Severity::Warning) => Status::Warning,
        _ if probes.iter().any(|p| p.status == Status::Unknown) => Status::Unknown,
        _ => Status::Ok,
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Render `report` in `format` to `out`.
pub fn render(
    report: &Report,
    format: Format,
    color: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Text => text::write(report, color, out),
        Format::Json => json::write(report, out),
        Format::Prometheus => prometheus::write(report, out),
        Format::Junit => junit::write(report, out),
        Format::Nagios => nagios::write(report, out),
    }
}

/// Write `bytes` to `path` atomically: a temporary file in the same
/// directory, synced, then renamed over `path`. On failure the previous file
/// is untouched and the temporary file is removed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_atomic_write_keeps_the_old_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("report.json");
        assert!(write_atomically(&path, b"x").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
