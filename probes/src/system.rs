//! The system and disk probes: load per core, memory and swap, system-wide
//! file handles and pressure stall information from `/proc`, and each local
//! filesystem's space and inodes from `statvfs`. Instant kernel figures only:
//! nothing here samples and waits.
//!
//! Parsers (`parse_*`) are pure and take the file's text; readers do the I/O
//! and turn what they could not read into [`Failure`]s. Nothing here judges
//! whether a figure is too high.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Failure, FailureKind, Phase, ProbeContext};

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
    /// Handles in use: allocated minus allocated-but-free (the second field
    /// has been 0 since Linux 2.6).
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

/// A kernel file's text was not in the format expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected format: {0}")]
pub struct ParseError(String);

impl ParseError {
    fn new(what: impl Into<String>) -> Self {
        Self(what.into())
    }
}

/// The `avg10` figures of one `/proc/pressure/*` file.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stall {
    /// Share of time at least one task stalled (`some` line).
    pub some: Option<f64>,
    /// Share of time all non-idle tasks stalled (`full` line; the cpu file
    /// has it only since Linux 5.13).
    pub full: Option<f64>,
}

/// One line of `/proc/self/mountinfo`, escapes undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// `major:minor` of the filesystem's device (`st_dev`).
    pub dev: String,
    /// The directory of the filesystem mounted here (not `/` for a bind
    /// mount of a subdirectory).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Per-mount options (`rw`/`ro`, `nosuid`, ...).
    pub mount_options: String,
    pub fs_type: String,
    /// The mount source: a device path, `tmpfs`, `server:/export`.
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

impl MountEntry {
    /// Mounted read-only, per mount or for the whole filesystem.
    pub fn read_only(&self) -> bool {
        let ro = |opts: &str| opts.split(',').any(|o| o == "ro");
        ro(&self.mount_options) || ro(&self.super_options)
    }
}

// ---------------------------------------------------------------------------
// Pure parsers
// ---------------------------------------------------------------------------

/// Count the CPUs in a kernel CPU list such as `/sys/devices/system/cpu/online`
/// (`0-3,6,8-11`).
pub fn parse_cpu_list(text: &str) -> Result<u32, ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ParseError::new("empty CPU list"));
    }
    let mut count = 0u32;
    for part in text.split(',') {
        let bad = || ParseError::new(format!("CPU list item {part:?}"));
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>(), b.parse::<u32>()),
            None => (part.parse::<u32>(), part.parse::<u32>()),
        };
        let (first, last) = (first.map_err(|_| bad())?, last.map_err(|_| bad())?);
        if last < first {
            return Err(bad());
        }
        count = count.saturating_add(last - first + 1);
    }
    Ok(count)
}

/// Parse `/proc/loadavg`: `3.41 2.07 1.15 5/1342 2201567`.
pub fn parse_loadavg(text: &str) -> Result<LoadAvg, ParseError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let bad = || ParseError::new(format!("loadavg {:?}", text.trim()));
    let [one, five, fifteen, tasks, ..] = fields.as_slice() else {
        return Err(bad());
    };
    let load = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
    let running = tasks
        .split_once('/')
        .and_then(|(r, _)| r.parse::<u64>().ok())
        .ok_or_else(bad)?;
    Ok(LoadAvg {
        one: load(one).ok_or_else(bad)?,
        five: load(five).ok_or_else(bad)?,
        fifteen: load(fifteen).ok_or_else(bad)?,
        running,
    })
}

/// Parse `/proc/meminfo` into bytes. `MemTotal` is required; without
/// `MemAvailable` (kernels before 3.14) available is estimated as
/// free + buffers + page cache.
pub fn parse_meminfo(text: &str) -> Result<Memory, ParseError> {
    let mut fields: HashMap<&str, u64> = HashMap::new();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let Some(Ok(value)) = parts.next().map(str::parse::<u64>) else {
            continue;
        };
        let bytes = match parts.next() {
            Some("kB") => value.saturating_mul(1024),
            _ => value,
        };
        fields.insert(key.trim(), bytes);
    }
    let total = *fields
        .get("MemTotal")
        .ok_or_else(|| ParseError::new("meminfo without MemTotal"))?;
    let field = |k: &str| fields.get(k).copied().unwrap_or(0);
    let available = fields.get("MemAvailable").copied().unwrap_or_else(|| {
        field("MemFree")
            .saturating_add(field("Buffers"))
            .saturating_add(field("Cached"))
            .min(total)
    });
    Ok(Memory {
        total_bytes: total,
        available_bytes: available,
        swap_total_bytes: field("SwapTotal"),
        swap_free_bytes: field("SwapFree"),
    })
}

/// Parse `/proc/sys/fs/file-nr`: allocated, allocated but unused, maximum.
pub fn parse_file_nr(text: &str) -> Result<FileHandles, ParseError> {
    let nums: Vec<u64> = text
        .split_whitespace()
        .map(str::parse::<u64>)
        .collect::<Result<_, _>>()
        .map_err(|_| ParseError::new(format!("file-nr {:?}", text.trim())))?;
    let [allocated, unused, max] = nums.as_slice() else {
        return Err(ParseError::new(format!("file-nr {:?}", text.trim())));
    };
    Ok(FileHandles {
        allocated: allocated.saturating_sub(*unused),
        max: *max,
    })
}

/// Parse one `/proc/pressure/{cpu,memory,io}` file: the `avg10` of its
/// `some` and `full` lines.
pub fn parse_pressure(text: &str) -> Result<Stall, ParseError> {
    let mut stall = Stall::default();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let slot = match parts.next() {
            Some("some") => &mut stall.some,
            Some("full") => &mut stall.full,
            _ => continue,
        };
        let avg10 = parts
            .find_map(|p| p.strip_prefix("avg10="))
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or_else(|| ParseError::new(format!("pressure line {line:?}")))?;
        *slot = Some(avg10);
    }
    if stall.some.is_none() {
        return Err(ParseError::new("pressure file without a `some` line"));
    }
    Ok(stall)
}

/// Parse `/proc/self/mountinfo`. Lines that do not have the documented
/// shape are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let (before, after) = line.split_once(" - ")?;
    let mut left = before.split(' ');
    let _mount_id = left.next()?;
    let _parent_id = left.next()?;
    let dev = left.next()?;
    let root = left.next()?;
    let mount_point = left.next()?;
    let mount_options = left.next()?;
    let mut right = after.split(' ');
    let fs_type = right.next()?;
    let source = right.next()?;
    let super_options = right.next().unwrap_or("");
    if !dev.contains(':') || !mount_point.starts_with('/') {
        return None;
    }
    Some(MountEntry {
        dev: dev.to_owned(),
        root: PathBuf::from(unescape_octal(root)),
        mount_point: PathBuf::from(unescape_octal(mount_point)),
        mount_options: mount_options.to_owned(),
        fs_type: fs_type.to_owned(),
        source: unescape_octal(source),
        super_options: super_options.to_owned(),
    })
}

/// Undo the kernel's `\ooo` escapes (space, tab, newline, backslash).
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            d.iter()
                .all(|b| (b'0'..=b'7').contains(b))
                .then(|| d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0')))
        });
        match (bytes[i], octal) {
            (b'\\', Some(v)) if v <= 0xff => {
                out.push(v as u8);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Filesystems that hold no user data, or whose fullness means nothing
/// (read-only images are always 100% full).
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "selinuxfs",
    "debugfs",
    "tracefs",
    "pstore",
    "bpf",
    "mqueue",
    "hugetlbfs",
    "configfs",
    "fusectl",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nfsd",
    "nsfs",
    "efivarfs",
    "ramfs",
    "squashfs",
    "erofs",
    "cramfs",
    "iso9660",
    "udf",
    "fuse.portal",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
];

/// Network filesystems: not local, and `statvfs` on a hung server blocks.
const NETWORK_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "fuse.glusterfs",
    "fuse.sshfs",
    "fuse.s3fs",
    "afs",
    "lustre",
];

/// Whether a mount is a local filesystem worth watching.
fn worth_watching(m: &MountEntry) -> bool {
    let under = |p: &str| m.mount_point.starts_with(p);
    if PSEUDO_FS.contains(&m.fs_type.as_str()) || NETWORK_FS.contains(&m.fs_type.as_str()) {
        return false;
    }
    if under("/proc") || under("/sys") {
        return false;
    }
    match m.fs_type.as_str() {
        // Per-user and per-service runtime directories, and /dev/shm: small
        // by design and not where a server's data lives.
        "tmpfs" => !(under("/dev") || under("/run/user") || under("/run/credentials")),
        // A container's root; overlays elsewhere are other containers'
        // roots, seen from the host, and report the host's disk again.
        "overlay" => m.mount_point == Path::new("/"),
        _ => true,
    }
}

/// The mounts worth watching among `entries`: pseudo, network and read-only
/// image filesystems left out, and each filesystem once — by device, under
/// its shortest mount point (bind mounts, subvolumes and a container's
/// `/etc/hosts` report the same space). Sorted by mount point.
pub fn watched_mounts(entries: &[MountEntry]) -> Vec<Mount> {
    let mut by_dev: HashMap<&str, &MountEntry> = HashMap::new();
    for m in entries.iter().filter(|m| worth_watching(m)) {
        let keep = by_dev.get(m.dev.as_str()).is_none_or(|kept| {
            m.mount_point.as_os_str().len() < kept.mount_point.as_os_str().len()
        });
        if keep {
            by_dev.insert(&m.dev, m);
        }
    }
    let mut mounts: Vec<Mount> = by_dev
        .into_values()
        .map(|m| Mount {
            mount_point: m.mount_point.clone(),
            fs_type: m.fs_type.clone(),
            device: m.source.clone(),
            read_only: m.read_only(),
        })
        .collect();
    mounts.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    mounts
}

/// The mount holding `path` (absolute, symlinks resolved): the longest
/// mount point that is a prefix of it; of several mounts on the same point
/// the last one, which hides the others.
pub fn mount_containing<'a>(entries: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    entries
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .fold(None, |best: Option<&MountEntry>, m| match best {
            Some(b) if b.mount_point.as_os_str().len() > m.mount_point.as_os_str().len() => Some(b),
            _ => Some(m),
        })
}

/// Space and inode figures from raw `statvfs` numbers, as `df` computes them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub used_ratio: f64,
    pub inodes_total: u64,
    pub inodes_free: u64,
    pub inodes_used_ratio: f64,
}

impl Usage {
    /// From `f_frsize`, `f_blocks`, `f_bfree`, `f_bavail`, `f_files`, `f_ffree`.
    pub fn from_statvfs(
        frsize: u64,
        blocks: u64,
        bfree: u64,
        bavail: u64,
        files: u64,
        ffree: u64,
    ) -> Self {
        let used = blocks.saturating_sub(bfree).saturating_mul(frsize);
        let available = bavail.saturating_mul(frsize);
        let ratio = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        Self {
            total_bytes: blocks.saturating_mul(frsize),
            available_bytes: available,
            used_ratio: ratio(used, used.saturating_add(available)),
            inodes_total: files,
            inodes_free: ffree,
            inodes_used_ratio: ratio(files.saturating_sub(ffree), files),
        }
    }
}

// ---------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// Read a kernel file under `root`, the failure naming the real path.
fn read_text(root: &Path, rel: &str) -> Result<String, (io::Error, Failure)> {
    let path = root.join(rel);
    std::fs::read_to_string(&path).map_err(|e| {
        let failure = Failure::from_io(&e, Phase::Local, &format!("read {}", path.display()));
        (e, failure)
    })
}

/// Read and parse one file; on failure record why and give `None`.
fn read_parsed<T>(
    root: &Path,
    rel: &str,
    parse: fn(&str) -> Result<T, ParseError>,
    errors: &mut Vec<Failure>,
) -> Option<T> {
    let text = read_text(root, rel).map_err(|(_, f)| errors.push(f)).ok()?;
    parse(&text)
        .map_err(|e| {
            errors.push(Failure::new(
                FailureKind::Other,
                Phase::Local,
                format!("{}: {e}", root.join(rel).display()),
            ));
        })
        .ok()
}

/// Read every part of the system observation from the tree under `root`
/// (`/` on a real host).
fn read_system(root: &Path) -> SystemObservation {
    let mut errors = Vec::new();
    let cpus = read_text(root, "sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| parse_cpu_list(&t).ok())
        .or_else(|| {
            std::thread::available_parallelism()
                .ok()
                .and_then(|n| u32::try_from(n.get()).ok())
        })
        .unwrap_or_else(|| {
            errors.push(Failure::new(
                FailureKind::Other,
                Phase::Local,
                "could not count the online CPUs",
            ));
            0
        });
    let load = read_parsed(root, "proc/loadavg", parse_loadavg, &mut errors);
    let memory = read_parsed(root, "proc/meminfo", parse_meminfo, &mut errors);
    let file_handles = read_parsed(root, "proc/sys/fs/file-nr", parse_file_nr, &mut errors);
    let pressure = read_pressure(root, &mut errors);
    SystemObservation {
        cpus,
        load,
        memory,
        file_handles,
        pressure,
        errors,
    }
}

/// Read the three pressure files. A kernel without PSI (no file, or
/// `EOPNOTSUPP` when booted with `psi=0`) gives `None`, not an error.
fn read_pressure(root: &Path, errors: &mut Vec<Failure>) -> Option<Pressure> {
    let mut one = |resource: &str| -> Option<Stall> {
        let rel = format!("proc/pressure/{resource}");
        match read_text(root, &rel) {
            Ok(text) => match parse_pressure(&text) {
                Ok(stall) => Some(stall),
                Err(e) => {
                    errors.push(Failure::new(
                        FailureKind::Other,
                        Phase::Local,
                        format!("{}: {e}", root.join(&rel).display()),
                    ));
                    None
                }
            },
            Err((e, _))
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::Unsupported
                ) =>
            {
                None
            }
            Err((_, failure)) => {
                errors.push(failure);
                None
            }
        }
    };
    let (cpu, memory, io) = (one("cpu"), one("memory"), one("io"));
    if cpu.is_none() && memory.is_none() && io.is_none() {
        return None;
    }
    Some(Pressure {
        cpu_some: cpu.and_then(|s| s.some),
        memory_some: memory.and_then(|s| s.some),
        memory_full: memory.and_then(|s| s.full),
        io_some: io.and_then(|s| s.some),
        io_full: io.and_then(|s| s.full),
    })
}

/// The local filesystems worth watching: pseudo filesystems, read-only
/// images and duplicate bind mounts left out. Empty when
/// `/proc/self/mountinfo` cannot be read.
pub fn local_filesystems() -> Vec<Mount> {
    let Ok(text) = std::fs::read_to_string(MOUNTINFO) else {
        return Vec::new();
    };
    let entries = parse_mountinfo(&text);
    watched_mounts(&entries)
        .into_iter()
        // A file bind-mounted over a file (a container's /etc/hosts) is not
        // a filesystem anyone would name.
        .filter(|m| std::fs::metadata(&m.mount_point).map_or(true, |md| md.is_dir()))
        .collect()
}

/// Read the host's resources.
pub async fn run(spec: &SystemSpec, ctx: &ProbeContext) -> SystemObservation {
    let _ = (spec, ctx);
    match tokio::task::spawn_blocking(|| read_system(Path::new("/"))).await {
        Ok(obs) => obs,
        Err(e) => SystemObservation {
            errors: vec![Failure::new(
                FailureKind::Other,
                Phase::Local,
                format!("system probe task: {e}"),
            )],
            ..SystemObservation::default()
        },
    }
}

/// Read the filesystem holding `spec.path`.
pub async fn run_disk(spec: &DiskSpec, ctx: &ProbeContext) -> DiskObservation {
    let _ = ctx;
    let path = spec.path.clone();
    match tokio::task::spawn_blocking(move || read_disk(&path)).await {
        Ok(obs) => obs,
        Err(e) => DiskObservation {
            path: spec.path.clone(),
            failure: Some(Failure::new(
                FailureKind::Other,
                Phase::Local,
                format!("disk probe task: {e}"),
            )),
            ..DiskObservation::default()
        },
    }
}

/// `statvfs` of `path` and the mount it lives on.
fn read_disk(path: &Path) -> DiskObservation {
    let mut obs = DiskObservation {
        path: path.to_path_buf(),
        ..DiskObservation::default()
    };
    let st = match rustix::fs::statvfs(path) {
        Ok(st) => st,
        Err(errno) => {
            let e = io::Error::from(errno);
            obs.failure = Some(Failure::from_io(
                &e,
                Phase::Local,
                &format!("statvfs {}", path.display()),
            ));
            return obs;
        }
    };
    let usage = Usage::from_statvfs(
        st.f_frsize,
        st.f_blocks,
        st.f_bfree,
        st.f_bavail,
        st.f_files,
        st.f_ffree,
    );
    obs.total_bytes = usage.total_bytes;
    obs.available_bytes = usage.available_bytes;
    obs.used_ratio = usage.used_ratio;
    obs.inodes_total = usage.inodes_total;
    obs.inodes_free = usage.inodes_free;
    obs.inodes_used_ratio = usage.inodes_used_ratio;
    obs.read_only = st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY);

    // The mount is context: without mountinfo the figures still stand.
    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Ok(text) = std::fs::read_to_string(MOUNTINFO) {
        let entries = parse_mountinfo(&text);
        if let Some(m) = mount_containing(&entries, &resolved) {
            obs.mount_point = Some(m.mount_point.clone());
            obs.fs_type = Some(m.fs_type.clone());
            obs.device = Some(m.source.clone());
            obs.read_only |= m.read_only();
        }
    }
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_escapes_are_undone() {
        assert_eq!(unescape_octal(r"/srv/a\040b\011c\134d"), "/srv/a b\tc\\d");
        assert_eq!(unescape_octal(r"/odd\04"), r"/odd\04");
        assert_eq!(unescape_octal(r"/x\999"), r"/x\999");
    }

    #[test]
    fn usage_like_df() {
        // 1000 blocks of 4 KiB, 100 free of which 50 usable by non-root.
        let u = Usage::from_statvfs(4096, 1000, 100, 50, 200, 150);
        assert_eq!(u.total_bytes, 4_096_000);
        assert_eq!(u.available_bytes, 50 * 4096);
        assert!((u.used_ratio - 900.0 / 950.0).abs() < 1e-9);
        assert!((u.inodes_used_ratio - 0.25).abs() < 1e-9);
        // No inode limit (btrfs): 0, not NaN.
        let u = Usage::from_statvfs(4096, 1000, 1000, 1000, 0, 0);
        assert!(u.inodes_used_ratio.abs() < f64::EPSILON);
        assert!(u.used_ratio.abs() < f64::EPSILON);
        // An empty filesystem of zero size.
        assert!(Usage::from_statvfs(0, 0, 0, 0, 0, 0).used_ratio.abs() < f64::EPSILON);
    }

    fn fake_root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("sys/devices/system/cpu/online", "0-7\n");
        write("proc/loadavg", "0.50 0.40 0.30 2/300 1234\n");
        write("proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 250 kB\n");
        write("proc/sys/fs/file-nr", "100\t0\t1000\n");
        write(
            "proc/pressure/memory",
            "some avg10=1.50 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.50 avg60=0.00 avg300=0.00 total=1\n",
        );
        dir
    }

    #[test]
    fn reader_reads_every_part_and_missing_pressure_files_are_none() {
        let root = fake_root();
        let obs = read_system(root.path());
        assert!(obs.errors.is_empty(), "{:?}", obs.errors);
        assert_eq!(obs.cpus, 8);
        assert_eq!(obs.load.unwrap().running, 2);
        assert_eq!(obs.memory.unwrap().available_bytes, 250 * 1024);
        assert_eq!(obs.file_handles.unwrap().max, 1000);
        let p = obs.pressure.unwrap();
        assert_eq!((p.memory_some, p.memory_full), (Some(1.5), Some(0.5)));
        assert_eq!((p.cpu_some, p.io_some, p.io_full), (None, None, None));
    }

    #[test]
    fn unreadable_parts_become_failures() {
        let root = fake_root();
        std::fs::remove_file(root.path().join("proc/loadavg")).unwrap();
        std::fs::write(root.path().join("proc/meminfo"), "garbage\n").unwrap();
        std::fs::remove_dir_all(root.path().join("proc/pressure")).unwrap();
        let obs = read_system(root.path());
        assert!(obs.load.is_none() && obs.memory.is_none() && obs.pressure.is_none());
        assert!(obs.file_handles.is_some());
        let kinds: Vec<FailureKind> = obs.errors.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![FailureKind::NotFound, FailureKind::Other]);
        assert!(obs.errors.iter().all(|f| f.phase == Phase::Local));
        assert!(
            obs.errors[0].detail.contains("proc/loadavg"),
            "{}",
            obs.errors[0]
        );
    }
}
