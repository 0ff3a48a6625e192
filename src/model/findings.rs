//! What the rules produce and the reporters print: probe statuses, finding
//! severities, findings with their evidence and remediation.

use serde::{Deserialize, Serialize};

use crate::model::causes::Cause;

/// A probe's or the run's status, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Unknown,
    Warning,
    Critical,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Unknown => "unknown",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One line of evidence: which probe saw what, with concrete values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub probe: String,
    pub detail: String,
}

impl Evidence {
    pub fn new(probe: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            probe: probe.into(),
            detail: detail.into(),
        }
    }
}

/// A likely root cause, with what proves it and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub cause: Cause,
    pub title: String,
    pub status_codes: Vec<u16>,
    pub severity: Severity,
    /// How much of the evidence agrees, in [0, 1].
    pub confidence: f64,
    pub evidence: Vec<Evidence>,
    pub remediation: Vec<String>,
    pub guide_section: String,
    /// Other findings' causes this one is linked to (a deploy next to a crash).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Cause>,
}

impl Finding {
    /// A finding of `cause` with the catalogue's section and status codes.
    pub fn new(
        cause: Cause,
        severity: Severity,
        confidence: f64,
        title: impl Into<String>,
    ) -> Self {
        let info = cause.info();
        Self {
            cause,
            title: title.into(),
            status_codes: info.status_codes.to_vec(),
            severity,
            confidence: confidence.clamp(0.0, 1.0),
            evidence: Vec::new(),
            remediation: Vec::new(),
            guide_section: info.guide_section.to_string(),
            related: Vec::new(),
        }
    }

    #[must_use]
    pub fn evidence(mut self, probe: impl Into<String>, detail: impl Into<String>) -> Self {
        self.evidence.push(Evidence::new(probe, detail));
        self
    }

    #[must_use]
    pub fn remedy(mut self, step: impl Into<String>) -> Self {
        self.remediation.push(step.into());
        self
    }
}

/// Sort most likely first: severity, then confidence, then cause id for a
/// stable order.
pub fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.cause.cmp(&b.cause))
    });
}
