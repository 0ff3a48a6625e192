//! Every threshold that both assessment (a status per probe) and the rules
//! (named causes) judge a measurement by, in one place, so the two cannot
//! disagree about the same signal. The `[host]` keys set some; the rest are
//! the named defaults below. Get it from the config with
//! [`Config::thresholds`](super::Config::thresholds).
//!
//! Ask the question rather than compare the number: `t.memory_low(used,
//! psi)`, `t.disk_level(ratio)`, `t.near_conn_limit(c, max)`. Nothing here
//! reads `/proc` or knows a cause or an output format.

use super::Host;
use crate::model::findings::{Severity, Status};

/// Share of a filesystem's space or inodes used from which it is nearly
/// full (`[host] disk_warn`).
pub const DISK_WARN: f64 = 0.90;
/// Share of a filesystem's space or inodes used from which it is full for
/// practical purposes (`[host] disk_critical`).
pub const DISK_CRITICAL: f64 = 0.97;
/// Share of memory in use, `1 - MemAvailable / MemTotal`, above which the
/// host is low on memory (`[host] memory_warn`).
pub const MEMORY_WARN: f64 = 0.90;
/// 1-minute load average per core above which the CPUs are saturated
/// (`[host] load_warn`).
pub const LOAD_WARN: f64 = 2.0;
/// Share of a file-descriptor limit in use above which a process (or the
/// host's `file-max`) is about to run out (`[host] fd_warn`).
pub const FD_WARN: f64 = 0.90;
/// Memory pressure, PSI `full` avg10 in percent, above which the host is
/// short of memory whatever `MemAvailable` says. `full` is the share of
/// time in which every non-idle task was stalled on memory at once: at
/// 10 % each second loses about 100 ms to reclaim or swap-in, which users
/// already see as latency, while it stays well below the 60 % at which
/// systemd-oomd starts killing by default — a warning, early enough to act.
pub const MEMORY_PRESSURE_WARN: f64 = 10.0;
/// CPU pressure, PSI `some` avg10 in percent, above which runnable tasks
/// wait for a CPU for a large part of the time. `some` is noisy on a busy
/// but healthy host (a build, a backup), so only half the time waiting
/// counts: it confirms a high load rather than standing alone.
pub const CPU_PRESSURE_WARN: f64 = 50.0;
/// Share of a dependency's connection limit in use (Redis clients of
/// `maxclients`, `PostgreSQL` connections of `max_connections`) above which
/// new connections will soon be refused.
pub const CONN_LIMIT_WARN: f64 = 0.90;
/// Share of a cache's memory limit in use (Redis `used_memory` of
/// `maxmemory`) above which it evicts keys or, without an eviction policy,
/// refuses writes.
pub const CACHE_MEMORY_WARN: f64 = 0.95;

/// How bad a measurement past a threshold is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Past the warning threshold: trouble soon.
    Warning,
    /// Past the critical threshold: trouble now.
    Critical,
}

impl From<Level> for Status {
    fn from(level: Level) -> Self {
        match level {
            Level::Warning => Status::Warning,
            Level::Critical => Status::Critical,
        }
    }
}

impl From<Level> for Severity {
    fn from(level: Level) -> Self {
        match level {
            Level::Warning => Severity::Warning,
            Level::Critical => Severity::Critical,
        }
    }
}

/// The thresholds of one run: the `[host]` values of the config, the named
/// defaults for the rest. Ratios are shares in `(0, 1]`, pressures percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// See [`DISK_WARN`].
    pub disk_warn: f64,
    /// See [`DISK_CRITICAL`]; never below `disk_warn` (the config checks).
    pub disk_critical: f64,
    /// See [`MEMORY_WARN`].
    pub memory_warn: f64,
    /// See [`LOAD_WARN`].
    pub load_warn: f64,
    /// See [`FD_WARN`].
    pub fd_warn: f64,
    /// See [`MEMORY_PRESSURE_WARN`].
    pub memory_pressure_warn: f64,
    /// See [`CPU_PRESSURE_WARN`].
    pub cpu_pressure_warn: f64,
    /// See [`CONN_LIMIT_WARN`].
    pub conn_limit_warn: f64,
    /// See [`CACHE_MEMORY_WARN`].
    pub cache_memory_warn: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            disk_warn: DISK_WARN,
            disk_critical: DISK_CRITICAL,
            memory_warn: MEMORY_WARN,
            load_warn: LOAD_WARN,
            fd_warn: FD_WARN,
            memory_pressure_warn: MEMORY_PRESSURE_WARN,
            cpu_pressure_warn: CPU_PRESSURE_WARN,
            conn_limit_warn: CONN_LIMIT_WARN,
            cache_memory_warn: CACHE_MEMORY_WARN,
        }
    }
}

impl From<&Host> for Thresholds {
    fn from(host: &Host) -> Self {
        Self {
            disk_warn: host.disk_warn,
            disk_critical: host.disk_critical,
            memory_warn: host.memory_warn,
            load_warn: host.load_warn,
            fd_warn: host.fd_warn,
            ..Self::default()
        }
    }
}

impl Thresholds {
    /// How full a filesystem is whose worst share (space or inodes) used is
    /// `used_ratio`: `None` below `disk_warn`.
    pub fn disk_level(&self, used_ratio: f64) -> Option<Level> {
        if used_ratio >= self.disk_critical {
            Some(Level::Critical)
        } else if used_ratio >= self.disk_warn {
            Some(Level::Warning)
        } else {
            None
        }
    }

    /// Whether the host is low on memory: `used_ratio` (`1 - available /
    /// total`) above `memory_warn`, or the memory pressure `psi_full`
    /// (PSI `full` avg10, percent, when the kernel has PSI) stalled.
    pub fn memory_low(&self, used_ratio: f64, psi_full: Option<f64>) -> bool {
        used_ratio > self.memory_warn || psi_full.is_some_and(|p| self.memory_stalled(p))
    }

    /// Whether memory pressure `psi_full` (PSI `full` avg10, percent) is
    /// above `memory_pressure_warn`.
    pub fn memory_stalled(&self, psi_full: f64) -> bool {
        psi_full > self.memory_pressure_warn
    }

    /// Whether a 1-minute load of `load_per_core` saturates the CPUs.
    pub fn load_high(&self, load_per_core: f64) -> bool {
        load_per_core > self.load_warn
    }

    /// Whether CPU pressure `psi_some` (PSI `some` avg10, percent) is above
    /// `cpu_pressure_warn`.
    pub fn cpu_stalled(&self, psi_some: f64) -> bool {
        psi_some > self.cpu_pressure_warn
    }

    /// Whether `open` of `limit` file descriptors (a process's soft limit,
    /// or the host's allocated handles of `file-max`) is near the limit.
    /// A zero limit (unknown) is never near.
    pub fn near_fd_limit(&self, open: u64, limit: u64) -> bool {
        share(open, limit).is_some_and(|s| s > self.fd_warn)
    }

    /// Whether `used` of a dependency's `max` connections is near the limit.
    /// A zero max (unknown) is never near.
    pub fn near_conn_limit(&self, used: u64, max: u64) -> bool {
        share(used, max).is_some_and(|s| s > self.conn_limit_warn)
    }

    /// Whether a cache using `used` of its `max` bytes is near its memory
    /// limit. A zero max (no limit) is never near.
    pub fn near_cache_memory_limit(&self, used: u64, max: u64) -> bool {
        share(used, max).is_some_and(|s| s > self.cache_memory_warn)
    }
}

/// `used / max`, or `None` when `max` is zero.
fn share(used: u64, max: u64) -> Option<f64> {
    (max > 0).then(|| used as f64 / max as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_section_sets_its_thresholds_and_the_rest_keep_their_defaults() {
        let host = Host {
            disk_warn: 0.8,
            memory_warn: 0.5,
            ..Host::default()
        };
        assert_eq!(
            Thresholds::from(&host),
            Thresholds {
                disk_warn: 0.8,
                memory_warn: 0.5,
                ..Thresholds::default()
            }
        );
        assert_eq!(Thresholds::from(&Host::default()), Thresholds::default());
    }

    #[test]
    fn disk_levels_include_their_bounds() {
        let t = Thresholds::default();
        assert_eq!(t.disk_level(0.5), None);
        assert_eq!(t.disk_level(DISK_WARN), Some(Level::Warning));
        assert_eq!(t.disk_level(DISK_CRITICAL), Some(Level::Critical));
        assert_eq!(Status::from(Level::Critical), Status::Critical);
        assert_eq!(Severity::from(Level::Warning), Severity::Warning);
    }

    #[test]
    fn memory_is_low_by_use_or_by_pressure() {
        let t = Thresholds::default();
        assert!(!t.memory_low(0.5, None));
        assert!(!t.memory_low(0.5, Some(MEMORY_PRESSURE_WARN)));
        assert!(t.memory_low(0.95, None));
        assert!(t.memory_low(0.5, Some(25.0)));
    }

    #[test]
    fn limits_are_near_above_their_share_and_unknown_limits_never_are() {
        let t = Thresholds::default();
        assert!(t.near_conn_limit(95, 100));
        assert!(!t.near_conn_limit(90, 100));
        assert!(!t.near_conn_limit(5, 0));
        assert!(t.near_fd_limit(1000, 1024));
        assert!(!t.near_fd_limit(10, 0));
        assert!(t.near_cache_memory_limit(99, 100));
        assert!(!t.near_cache_memory_limit(99, 0));
        assert!(t.load_high(2.5) && !t.load_high(2.0));
        assert!(t.cpu_stalled(60.0) && !t.cpu_stalled(50.0));
    }
}
