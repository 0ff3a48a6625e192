//! What the rules produce and the reporters print: probe statuses, finding
//! severities, findings with their subject, evidence and remediation. Plain
//! data: nothing here decides a cause or a severity.

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

/// What a finding is about. There is one finding per cause and subject: what
/// several probes saw of the same thing is evidence of that one finding, and
/// the precedence table compares subjects before one cause yields to another
/// (a dead upstream A says nothing about upstream B).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum Subject {
    /// The machine as a whole: CPU, memory, file handles, the kernel.
    #[default]
    Host,
    /// The reverse proxy itself (its config, its limits, its own files).
    Proxy,
    /// An application server, by the address it is reached at (or its
    /// configured name when it has no address).
    Upstream(String),
    /// A database, cache, API or queue, by its configured name.
    Dependency(String),
    /// A DNS name, lower-cased, without a port.
    Name(String),
    /// A TLS certificate, by the server name it is served for.
    Certificate(String),
    /// A filesystem, by its mount point.
    Disk(String),
    /// A deployment path.
    Deploy(String),
    /// The site as users see it (maintenance).
    Site,
    /// A probe no named cause explains (`unclassified`).
    Probe(String),
}

impl std::fmt::Display for Subject {
    /// `host`, `proxy`, `site`, or `KIND:VALUE` (`upstream:127.0.0.1:3000`,
    /// `dependency:dependency:postgres`, `name:app.internal`, …).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Host => f.write_str("host"),
            Self::Proxy => f.write_str("proxy"),
            Self::Site => f.write_str("site"),
            Self::Upstream(x) => write!(f, "upstream:{x}"),
            Self::Dependency(x) => write!(f, "dependency:{x}"),
            Self::Name(x) => write!(f, "name:{x}"),
            Self::Certificate(x) => write!(f, "certificate:{x}"),
            Self::Disk(x) => write!(f, "disk:{x}"),
            Self::Deploy(x) => write!(f, "deploy:{x}"),
            Self::Probe(x) => write!(f, "probe:{x}"),
        }
    }
}

impl From<Subject> for String {
    fn from(s: Subject) -> Self {
        s.to_string()
    }
}

impl From<String> for Subject {
    /// The inverse of `Display`; an unknown form reads as the host.
    fn from(s: String) -> Self {
        let (kind, value) = s.split_once(':').unwrap_or((s.as_str(), ""));
        let v = value.to_string();
        match kind {
            "proxy" => Self::Proxy,
            "site" => Self::Site,
            "upstream" => Self::Upstream(v),
            "dependency" => Self::Dependency(v),
            "name" => Self::Name(v),
            "certificate" => Self::Certificate(v),
            "disk" => Self::Disk(v),
            "deploy" => Self::Deploy(v),
            "probe" => Self::Probe(v),
            _ => Self::Host,
        }
    }
}

/// A fact a rule knew when it named its cause that the precedence table
/// may ask about (`when` in `rules::precedence`). Never printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mark {
    /// The kernel's OOM killer stopped the subject's process.
    OomKilled,
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
    /// What it is about; see [`Subject`]. One finding per cause and subject.
    #[serde(default)]
    pub subject: Subject,
    /// Facts the precedence table may ask about.
    #[serde(skip)]
    pub marks: Vec<Mark>,
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
            subject: Subject::Host,
            marks: Vec::new(),
        }
    }

    /// Say what the finding is about.
    #[must_use]
    pub fn about(mut self, subject: Subject) -> Self {
        self.subject = subject;
        self
    }

    /// Record a fact for the precedence table.
    #[must_use]
    pub fn mark(mut self, mark: Mark) -> Self {
        if !self.marks.contains(&mark) {
            self.marks.push(mark);
        }
        self
    }

    /// Whether a rule recorded `mark`.
    pub fn has(&self, mark: Mark) -> bool {
        self.marks.contains(&mark)
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
