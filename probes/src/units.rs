//! Small quantity newtypes shared by observations, serialized in base units
//! a person can read (milliseconds for latencies, whole days for expiry).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A latency in milliseconds, with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub f64);

impl Millis {
    /// The duration as milliseconds, rounded to the microsecond.
    pub fn from_duration(d: Duration) -> Self {
        Self((d.as_micros() as f64) / 1000.0)
    }

    /// The same latency as a [`Duration`].
    pub fn as_duration(self) -> Duration {
        Duration::from_secs_f64((self.0 / 1000.0).max(0.0))
    }

    /// The latency in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 / 1000.0
    }
}

impl From<Duration> for Millis {
    fn from(d: Duration) -> Self {
        Self::from_duration(d)
    }
}

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 >= 1000.0 {
            write!(f, "{:.2} s", self.0 / 1000.0)
        } else if self.0 >= 10.0 {
            write!(f, "{:.0} ms", self.0)
        } else {
            write!(f, "{:.1} ms", self.0)
        }
    }
}

/// Whole days until a certificate expires; negative once it has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DaysLeft(pub i64);

/// Seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}
