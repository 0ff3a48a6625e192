//! Log probes: the reverse proxy's error log and an application's log, read
//! from the end of the file within a byte budget, their lines classified into
//! typed kinds (an nginx upstream error, a stack trace, a database error
//! signature).
//!
//! Nothing here says what a kind means for a 5xx: that is the agent's rules.
//! Every line a probe keeps is passed through [`crate::redact::text`] and
//! truncated; a variable named in a "missing environment variable" error is
//! kept by name only.
//!
//! Times: nginx and most application loggers write local time without a zone.
//! The probes find the UTC offset the writer used by comparing the newest
//! zone-less timestamp read with the file's modification time (the moment of
//! the last write), rounded to 15 minutes ([`time::LogClock`]); where that
//! does not fit, they assume UTC and say so. Timestamps that carry a zone
//! (`Z`, `+01:00`) are used as written.

pub mod access;
pub mod app;
pub mod haproxy_log;
pub mod proxy_error;
pub mod tail;
pub mod time;

pub use access::{AccessLogObservation, AccessLogSpec, run_access_log};
pub use app::{AppLogObservation, AppLogSpec, run_app_log};
pub use proxy_error::{ProxyErrorLogObservation, ProxyErrorLogSpec, run_proxy_error_log};
pub use tail::{DEFAULT_MAX_BYTES, MAX_LINE_BYTES, TailSummary};
pub use time::{LogClock, OffsetSource};

/// Run a log scan on the blocking pool at `now`; when the task itself
/// fails (a panic in the scan), the observation `failed` builds from the
/// error says so. Every log probe reads its file this way.
pub(crate) async fn scan_blocking<S, O>(
    spec: &S,
    scan: fn(&S, crate::units::UnixTime) -> O,
    failed: impl FnOnce(crate::Failure) -> O,
    path: &std::path::Path,
) -> O
where
    S: Clone + Send + 'static,
    O: Send + 'static,
{
    let owned = spec.clone();
    let now = crate::units::UnixTime::now();
    match tokio::task::spawn_blocking(move || scan(&owned, now)).await {
        Ok(obs) => obs,
        Err(e) => failed(crate::Failure::new(
            crate::FailureKind::Other,
            crate::Phase::Local,
            format!("reading {}: {e}", path.display()),
        )),
    }
}

/// Longest kept excerpt of a log line or message, in characters.
pub const MAX_EXCERPT_CHARS: usize = 512;

/// `s` cut to at most `max` characters, with `…` where it was cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => {
            let mut out = s[..i].to_string();
            out.push('…');
            out
        }
    }
}

/// A log line fit to keep: secrets redacted, then cut to
/// [`MAX_EXCERPT_CHARS`].
pub(crate) fn excerpt(line: &str) -> String {
    truncate_chars(&crate::redact::text(line), MAX_EXCERPT_CHARS)
}

/// Serde for a [`std::time::Duration`] as whole seconds.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// Serde for an optional [`std::time::Duration`] as whole seconds.
pub(crate) mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[expect(
        clippy::ref_option,
        reason = "serde's `with` passes the field by reference"
    )]
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|o| o.map(Duration::from_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 2), "hé…");
    }
}
