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
use crate::model::causes::Cause;
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

/// The codes a CDN in front of the origin (Cloudflare's 52x) answers when
/// the origin has `cause`, and the rarer 5xx codes that name it
/// (REFERENCE.md, "Behind a CDN" and "The rest of the 5xx range"): 520 an
/// empty or broken answer, 521 refused, 522 no TCP handshake, 523
/// unreachable, 524 no answer in time, 525 the origin's TLS handshake, 526
/// its certificate, 530 its name; 507 a full disk under `WebDAV`, 508 a loop.
pub fn edge_codes(cause: Cause) -> &'static [u16] {
    match cause {
        Cause::UpstreamCrashed => &[520],
        Cause::UpstreamNotRunning => &[521, 523],
        Cause::ProxyMisconfiguration => &[521, 523, 508],
        Cause::NetworkLatency => &[522, 524],
        Cause::SlowBackend
        | Cause::ProxyTimeoutTooShort
        | Cause::DatabaseQueryTimeout
        | Cause::ExternalApiLatency => &[524],
        Cause::TlsProtocolMismatch => &[525],
        Cause::TlsCertificateExpired | Cause::TlsCertificateInvalid => &[525, 526],
        Cause::DnsResolutionFailure => &[530],
        Cause::DiskFull | Cause::FilesystemError => &[507],
        _ => &[],
    }
}

/// What an edge code says of the origin, when nothing on this host names a
/// cause for it: the cause it points to and the words for the evidence.
pub fn edge_meaning(code: u16) -> Option<(Cause, &'static str)> {
    Some(match code {
        520 => (
            Cause::UpstreamCrashed,
            "the CDN got an empty or invalid answer from the origin (520): it crashed or reset the connection",
        ),
        521 => (
            Cause::UpstreamNotRunning,
            "the origin refused the CDN's connection (521): nothing listens, or a firewall rejects the CDN's addresses",
        ),
        522 => (
            Cause::NetworkLatency,
            "the CDN's TCP connection to the origin timed out (522): the origin is overloaded, down, or drops the CDN's packets",
        ),
        523 => (
            Cause::ProxyMisconfiguration,
            "the CDN cannot reach the origin (523): a wrong DNS record or routing to the origin",
        ),
        524 => (
            Cause::SlowBackend,
            "the origin accepted the connection but did not answer within the CDN's timeout (524, 100-120 s)",
        ),
        525 => (
            Cause::TlsProtocolMismatch,
            "the TLS handshake between the CDN and the origin failed (525): the origin does not speak TLS on that port, or no shared cipher",
        ),
        526 => (
            Cause::TlsCertificateInvalid,
            "the origin's certificate is invalid for the CDN (526): expired, self-signed or the wrong name under Full (strict)",
        ),
        530 => (
            Cause::DnsResolutionFailure,
            "the CDN could not resolve the origin's name (530)",
        ),
        507 => (
            Cause::FilesystemError,
            "the server cannot store the representation (507): a full disk under WebDAV",
        ),
        508 => (
            Cause::ProxyMisconfiguration,
            "the server detected a loop (508): a proxy forwarding to itself, or WebDAV bindings",
        ),
        _ => return None,
    })
}
