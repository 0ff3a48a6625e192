//! The numbers the metric-style reporters (Prometheus, Nagios perfdata) read
//! from a probe's observations: phase times, the leaf certificate's expiry,
//! disk use. Read from the probes crate's typed observations, so a renamed
//! field breaks the build rather than a dashboard, silently. Nothing here
//! prints.

use why5xx_probes::Observation;

use super::ProbeReport;

/// One timed phase of a probe, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseTime {
    /// `dns`, `connect`, `tls`, `first_byte` or `total`.
    pub phase: &'static str,
    pub seconds: f64,
}

/// The leaf certificate a probe saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafExpiry {
    /// The leaf's not-after, seconds since the epoch.
    pub not_after: i64,
    /// Whole days left when the probe ran; negative once expired.
    pub days_left: i64,
}

/// The phases of an HTTP probe from `observations.phases` (those that
/// happened, in the order of the exchange); for any other probe, or an HTTP
/// probe that did not finish, only `total` from the probe's duration.
pub fn phases(p: &ProbeReport) -> Vec<PhaseTime> {
    if let Some(Observation::Http(h)) = &p.observation {
        let ph = &h.phases;
        let named = [
            ("dns", ph.dns),
            ("connect", ph.connect),
            ("tls", ph.tls),
            ("first_byte", ph.first_byte),
            ("total", Some(ph.total)),
        ];
        return named
            .into_iter()
            .filter_map(|(phase, m)| {
                // Millis carry microseconds: round there, so 13.666 ms is
                // 0.013666 s and not 0.013666000000000001.
                let seconds = (m?.0 * 1000.0).round() / 1_000_000.0;
                seconds.is_finite().then_some(PhaseTime { phase, seconds })
            })
            .collect();
    }
    vec![PhaseTime {
        phase: "total",
        seconds: p.duration_ms as f64 / 1000.0,
    }]
}

/// The leaf certificate of an HTTP probe's `tls` or a TLS probe's `session`.
pub fn leaf_expiry(p: &ProbeReport) -> Option<LeafExpiry> {
    let session = match &p.observation {
        Some(Observation::Http(h)) => h.tls.as_ref()?,
        Some(Observation::Tls(t)) => t.session.as_ref()?,
        _ => return None,
    };
    let leaf = session.leaf()?;
    Some(LeafExpiry {
        not_after: leaf.not_after.0,
        days_left: leaf.days_left.0,
    })
}

/// The used share of space (0..=1) of a disk probe that could read its
/// filesystem.
pub fn disk_used(p: &ProbeReport) -> Option<f64> {
    let Some(Observation::Disk(obs)) = &p.observation else {
        return None;
    };
    (obs.failure.is_none() && obs.total_bytes > 0 && obs.used_ratio.is_finite())
        .then_some(obs.used_ratio)
}
