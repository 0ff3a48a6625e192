//! The system and disk probes: load per core, memory and swap, system-wide
//! file handles and pressure stall information from `/proc`, and each local
//! filesystem's space and inodes from `statvfs`. Instant kernel figures only:
//! nothing here samples and waits.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Failure, ProbeContext};

/// Read the host's resources.
#[derive(Debug, Clone, Default)]
pub struct SystemSpec {}

/// Load averages from `/proc/loadavg`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadAvg {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
    /// Runnable tasks right now.
    pub running: u64,
}

/// Memory and swap from `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_free_bytes: u64,
}

/// System-wide file handles from `/proc/sys/fs/file-nr`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHandles {
    pub allocated: u64,
    pub max: u64,
}

/// Pressure stall information, `avg10` percentages, where the kernel has it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Pressure {
    pub cpu_some: Option<f64>,
    pub memory_some: Option<f64>,
    pub memory_full: Option<f64>,
    pub io_some: Option<f64>,
    pub io_full: Option<f64>,
}

/// What the system probe saw. Parts that could not be read are absent and
/// say why in `errors`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemObservation {
    /// Online CPUs.
    pub cpus: u32,
    pub load: Option<LoadAvg>,
    pub memory: Option<Memory>,
    pub file_handles: Option<FileHandles>,
    pub pressure: Option<Pressure>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<Failure>,
}

/// Read one filesystem: the one holding `path`.
#[derive(Debug, Clone)]
pub struct DiskSpec {
    pub path: PathBuf,
}

/// Space and inodes of one filesystem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskObservation {
    /// The path asked about.
    pub path: PathBuf,
    /// The mount point holding it, from `/proc/self/mountinfo`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mount_point: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fs_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub device: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    pub total_bytes: u64,
    /// Bytes an unprivileged writer may still use (`f_bavail`).
    pub available_bytes: u64,
    /// Used share as `df` computes it: used / (used + available).
    pub used_ratio: f64,
    pub inodes_total: u64,
    pub inodes_free: u64,
    /// Used inode share; 0 where the filesystem has no inode limit.
    pub inodes_used_ratio: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// A mounted filesystem worth watching, from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    pub fs_type: String,
    pub device: String,
    pub read_only: bool,
}

/// The local filesystems worth watching: pseudo filesystems, read-only
/// images and duplicate bind mounts left out.
pub fn local_filesystems() -> Vec<Mount> {
    Vec::new()
}

/// Read the host's resources.
pub async fn run(spec: &SystemSpec, ctx: &ProbeContext) -> SystemObservation {
    let _ = (spec, ctx);
    SystemObservation::default()
}

/// Read the filesystem holding `spec.path`.
pub async fn run_disk(spec: &DiskSpec, ctx: &ProbeContext) -> DiskObservation {
    let _ = ctx;
    DiskObservation {
        path: spec.path.clone(),
        ..DiskObservation::default()
    }
}
