//! What users get now, computed once per run before any rule looks: the
//! status codes the public endpoints and the upstreams (answering directly)
//! give, whether anything times out, whether anything user-facing fails.
//! Every rule asks these questions here — "is it failing now?" has one
//! answer per run. It names no cause.

use std::collections::BTreeSet;

use why5xx_probes::http::HttpObservation;
use why5xx_probes::logs::proxy_error::ProxyErrorKind;
use why5xx_probes::{FailureKind, Observation, Phase};

use crate::engine::plan::Role;
use crate::engine::runner::ProbeRun;
use crate::model::findings::Severity;

/// A first byte later than this is slow for the 504 rules when nothing
/// configured says otherwise.
pub const SLOW_FIRST_BYTE_MS: f64 = 1_000.0;

/// What users get now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Symptoms {
    /// Status codes answered now, by the public endpoints and by the
    /// upstreams probed directly.
    pub codes: BTreeSet<u16>,
    /// Status codes of the public endpoints only.
    pub public_codes: BTreeSet<u16>,
    /// A public endpoint or an upstream timed out waiting for its answer.
    pub timeouts: bool,
    /// Something user-facing fails now: an endpoint answers 5xx or fails,
    /// or an upstream's direct probe fails or answers 5xx.
    pub failing: bool,
    /// Requests are slow or cut off now: a timeout, a first byte later than
    /// [`SLOW_FIRST_BYTE_MS`] or the upstream's own `slow`, or the proxy's
    /// log showing upstream time-outs in the window.
    pub slow: bool,
}

impl Symptoms {
    /// Read the symptoms from one run's results.
    pub fn of(runs: &[ProbeRun]) -> Self {
        let mut s = Self::default();
        for r in runs {
            let Some(o) = r.observation() else { continue };
            match (o, &r.planned.role) {
                (Observation::Http(h), Role::Endpoint { slow, .. }) => {
                    if let Some(code) = h.status {
                        s.public_codes.insert(code);
                    }
                    s.answer(h, *slow);
                }
                (Observation::Http(h), Role::Upstream { slow, .. }) => s.answer(h, *slow),
                (Observation::ProxyErrorLog(l), _)
                    if l.count(ProxyErrorKind::UpstreamTimedOut) > 0 =>
                {
                    s.slow = true;
                }
                _ => {}
            }
        }
        s
    }

    fn answer(&mut self, h: &HttpObservation, slow: Option<std::time::Duration>) {
        if let Some(code) = h.status {
            self.codes.insert(code);
            if code >= 500 {
                self.failing = true;
            }
        }
        if let Some(x) = &h.failure {
            self.failing = true;
            if x.kind == FailureKind::Timeout && x.phase != Phase::Connect {
                self.timeouts = true;
                self.slow = true;
            }
        }
        let limit = slow.map_or(SLOW_FIRST_BYTE_MS, |d| d.as_secs_f64() * 1000.0);
        if h.phases.first_byte.is_some_and(|t| t.0 > limit) {
            self.slow = true;
        }
    }

    /// Whether users get `code` now, through the proxy or directly.
    pub fn saw(&self, code: u16) -> bool {
        self.codes.contains(&code)
    }
}

/// The one severity policy (docs/contract.md): critical when requests fail
/// now, warning when they will soon or capacity is lost while requests still
/// succeed, info for a failure that has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impact {
    /// Requests fail now because of it.
    FailingNow,
    /// Requests still succeed, but will fail soon or capacity is lost.
    AtRisk,
    /// It explains a failure that has stopped.
    Past,
}

impl Impact {
    /// `FailingNow` when `now`, else `Past`: for causes that only matter
    /// while they break requests.
    pub fn now_or_past(now: bool) -> Self {
        if now { Self::FailingNow } else { Self::Past }
    }

    /// `FailingNow` when `now`, else `AtRisk`: for conditions that are
    /// harmful even before they break a request (a full disk, a dead
    /// dependency, a limit being hit).
    pub fn now_or_at_risk(now: bool) -> Self {
        if now { Self::FailingNow } else { Self::AtRisk }
    }

    pub fn severity(self) -> Severity {
        match self {
            Self::FailingNow => Severity::Critical,
            Self::AtRisk => Severity::Warning,
            Self::Past => Severity::Info,
        }
    }
}
