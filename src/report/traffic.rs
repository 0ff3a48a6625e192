//! The report's `traffic` section (docs/contract.md): what the access log
//! says users got in the window, in the contract's shape (times as RFC 3339,
//! status codes as keys). Built from the `log:access` probe's typed
//! observation; it computes nothing the probe did not count, and prints
//! nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use why5xx_probes::Observation;
use why5xx_probes::logs::AccessLogObservation;
use why5xx_probes::logs::access::{PathStats, Slow, UpstreamStats};

use super::ProbeReport;

/// One minute of traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minute {
    pub at: String,
    pub requests: u64,
    pub errors_5xx: u64,
}

/// The `traffic` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    pub probe: String,
    pub since: String,
    pub until: String,
    pub requests: u64,
    pub by_status: BTreeMap<String, u64>,
    pub errors_5xx: u64,
    pub error_ratio: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_5xx_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_5xx_at: Option<String>,
    pub per_minute: Vec<Minute>,
    pub top_paths: Vec<PathStats>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_upstream: Vec<UpstreamStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<Slow>,
}

/// RFC 3339 of a Unix time.
pub fn rfc3339(t: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t).unwrap_or(0)),
    )
    .to_string()
}

/// The access log's observation among the probes, if one was read.
pub fn access_log(probes: &[ProbeReport]) -> Option<(&str, &AccessLogObservation)> {
    probes.iter().find_map(|p| match &p.observation {
        Some(Observation::AccessLog(a)) if a.failure.is_none() => Some((p.id.as_str(), a)),
        _ => None,
    })
}

/// The section, when an access log was read.
pub fn of(probes: &[ProbeReport]) -> Option<Traffic> {
    let (id, a) = access_log(probes)?;
    Some(Traffic {
        probe: id.to_string(),
        since: rfc3339(a.since.0),
        until: rfc3339(a.until.0),
        requests: a.requests,
        by_status: a
            .by_status
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        errors_5xx: a.errors_5xx,
        error_ratio: (a.error_ratio * 10_000.0).round() / 10_000.0,
        first_5xx_at: a.first_5xx.as_ref().map(|f| rfc3339(f.at.0)),
        last_5xx_at: a.last_5xx_at.map(|t| rfc3339(t.0)),
        per_minute: a
            .per_minute
            .iter()
            .map(|m| Minute {
                at: rfc3339(m.at.0),
                requests: m.requests,
                errors_5xx: m.errors_5xx,
            })
            .collect(),
        top_paths: a.top_paths.clone(),
        by_upstream: a.by_upstream.clone(),
        slow: a.slow,
    })
}

/// 5xx per minute as a one-line sparkline (`▁▂▃▅▇`), one character a minute
/// from the window's start; a space for a minute with no request.
pub fn sparkline(a: &AccessLogObservation) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let start = a.since.0 - a.since.0.rem_euclid(60);
    let minutes = usize::try_from((a.until.0 - start) / 60 + 1)
        .unwrap_or(0)
        .min(24 * 60);
    let mut counts: Vec<Option<u64>> = vec![None; minutes];
    for m in &a.per_minute {
        if let Ok(i) = usize::try_from((m.at.0 - start) / 60)
            && i < minutes
        {
            counts[i] = Some(m.errors_5xx);
        }
    }
    let max = counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    counts
        .iter()
        .map(|c| match c {
            None => ' ',
            Some(0) => '·',
            Some(n) => BARS[((n * 7) / max) as usize],
        })
        .collect()
}
