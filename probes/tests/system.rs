//! Tests of the system and disk probes: the parsers on text copied from real
//! kernels, the readers on this machine, and the disk probe on a small tmpfs
//! the test mounts and fills.

use std::path::{Path, PathBuf};
use std::process::Command;

use why5xx_probes::system::{
    self, DiskSpec, MountEntry, SystemSpec, Usage, mount_containing, parse_cpu_list, parse_file_nr,
    parse_loadavg, parse_meminfo, parse_mountinfo, parse_pressure, watched_mounts,
};
use why5xx_probes::{FailureKind, Phase, ProbeContext};

const LOADAVG: &str = include_str!("fixtures/system/loadavg");
const MEMINFO: &str = include_str!("fixtures/system/meminfo");
const FILE_NR: &str = include_str!("fixtures/system/file-nr");
const CPU_ONLINE: &str = include_str!("fixtures/system/cpu_online");
const PRESSURE_MEMORY: &str = include_str!("fixtures/system/pressure_memory");
const PRESSURE_CPU_OLD: &str = include_str!("fixtures/system/pressure_cpu_4.20");
const PRESSURE_CPU_NEW: &str = include_str!("fixtures/system/pressure_cpu_5.13");
const MOUNTINFO: &str = include_str!("fixtures/system/mountinfo");
const MOUNTINFO_CONTAINER: &str = include_str!("fixtures/system/mountinfo_container");

fn points(mounts: &[system::Mount]) -> Vec<&str> {
    mounts
        .iter()
        .map(|m| m.mount_point.to_str().unwrap())
        .collect()
}

#[test]
fn loadavg_with_running_tasks() {
    let l = parse_loadavg(LOADAVG).unwrap();
    assert_eq!((l.one, l.five, l.fifteen), (3.41, 2.07, 1.15));
    assert_eq!(l.running, 5);
    assert!(parse_loadavg("0.1 0.2\n").is_err());
    assert!(parse_loadavg("a b c 1/2 3").is_err());
}

#[test]
fn meminfo_in_bytes() {
    let m = parse_meminfo(MEMINFO).unwrap();
    assert_eq!(m.total_bytes, 16_303_924 * 1024);
    assert_eq!(m.available_bytes, 903_116 * 1024);
    assert_eq!(m.swap_total_bytes, 2_097_148 * 1024);
    assert_eq!(m.swap_free_bytes, 10_240 * 1024);
    assert!(parse_meminfo("MemFree: 10 kB\n").is_err());
}

#[test]
fn meminfo_before_memavailable_estimates_it() {
    let old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\n";
    assert_eq!(parse_meminfo(old).unwrap().available_bytes, 350 * 1024);
}

#[test]
fn file_nr() {
    let f = parse_file_nr(FILE_NR).unwrap();
    assert_eq!(f.allocated, 10_624);
    assert_eq!(f.max, 9_223_372_036_854_775_807);
    assert_eq!(parse_file_nr("3391 969 52427\n").unwrap().allocated, 2422);
    assert!(parse_file_nr("12 0\n").is_err());
}

#[test]
fn cpu_list() {
    assert_eq!(parse_cpu_list(CPU_ONLINE).unwrap(), 9);
    assert_eq!(parse_cpu_list("0\n").unwrap(), 1);
    assert_eq!(parse_cpu_list("0-1\n").unwrap(), 2);
    assert!(parse_cpu_list("").is_err());
    assert!(parse_cpu_list("3-1").is_err());
}

#[test]
fn pressure_some_and_full() {
    let p = parse_pressure(PRESSURE_MEMORY).unwrap();
    assert_eq!((p.some, p.full), (Some(12.5), Some(8.21)));
    // The cpu file has a `full` line only since Linux 5.13.
    let p = parse_pressure(PRESSURE_CPU_OLD).unwrap();
    assert_eq!((p.some, p.full), (Some(0.87), None));
    let p = parse_pressure(PRESSURE_CPU_NEW).unwrap();
    assert_eq!((p.some, p.full), (Some(0.31), Some(0.0)));
    assert!(parse_pressure("").is_err());
    assert!(parse_pressure("some avg60=1.0\n").is_err());
}

#[test]
fn mountinfo_fields_and_escapes() {
    let entries = parse_mountinfo(MOUNTINFO);
    assert_eq!(entries.len(), MOUNTINFO.lines().count());
    let shared = entries
        .iter()
        .find(|e| e.mount_point == Path::new("/srv/shared files"))
        .expect("\\040 unescaped");
    assert_eq!(shared.dev, "259:2");
    assert_eq!(shared.fs_type, "xfs");
    assert_eq!(shared.source, "/dev/nvme0n1p2");
    assert!(!shared.read_only());
    let bind = entries
        .iter()
        .find(|e| e.mount_point == Path::new("/home/deploy/uploads"))
        .unwrap();
    assert_eq!(bind.root, Path::new("/var/www/uploads"));
    // Read-only per mount although the superblock is rw.
    let pg = entries
        .iter()
        .find(|e| e.mount_point == Path::new("/var/lib/postgresql"))
        .unwrap();
    assert!(pg.read_only());
    assert!(parse_mountinfo("garbage line\n\n").is_empty());
}

#[test]
fn watched_mounts_of_a_host() {
    let mounts = watched_mounts(&parse_mountinfo(MOUNTINFO));
    assert_eq!(
        points(&mounts),
        vec![
            "/",
            "/boot/efi",
            "/run",
            "/run/lock",
            "/srv/shared files",
            "/tmp",
            "/var/lib/postgresql",
            "/var/log",
        ]
    );
    let root = &mounts[0];
    assert_eq!(
        (root.fs_type.as_str(), root.device.as_str(), root.read_only),
        ("ext4", "/dev/mapper/vg0-root", false)
    );
    assert!(mounts[6].read_only, "{:?}", mounts[6]);
    // Left out: /dev/shm, /run/user/1000, /run/credentials/..., squashfs
    // snaps, the CD, NFS, other containers' overlays, the bind mounts.
}

#[test]
fn watched_mounts_of_a_container() {
    let mounts = watched_mounts(&parse_mountinfo(MOUNTINFO_CONTAINER));
    // The overlay root, and the host disk once, under the volume's mount
    // point rather than /etc/hosts; /dev (tmpfs), /dev/shm and /proc/* out.
    assert_eq!(points(&mounts), vec!["/", "/data"]);
    assert_eq!(mounts[0].fs_type, "overlay");
}

#[test]
fn mount_containing_takes_the_longest_prefix() {
    let entries = parse_mountinfo(MOUNTINFO);
    let at = |p: &str| -> &MountEntry { mount_containing(&entries, Path::new(p)).unwrap() };
    assert_eq!(
        at("/var/log/nginx/error.log").mount_point,
        Path::new("/var/log")
    );
    assert_eq!(at("/var/lib/docker").mount_point, Path::new("/"));
    // Component-wise: /var/logs is not under /var/log.
    assert_eq!(at("/var/logs").mount_point, Path::new("/"));
    assert_eq!(
        at("/srv/shared files/x").mount_point,
        Path::new("/srv/shared files")
    );
    assert_eq!(at("/").mount_point, Path::new("/"));
}

#[test]
fn usage_is_computed_like_df() {
    // df: 40 GB, 30 GB used, 8 GB available to users (2 GB reserved).
    let u = Usage::from_statvfs(4096, 10_000_000, 2_500_000, 2_000_000, 1000, 400);
    assert!((u.used_ratio - 7.5 / 9.5).abs() < 1e-9);
    assert!((u.inodes_used_ratio - 0.6).abs() < 1e-9);
}

#[tokio::test]
async fn system_probe_on_this_machine() {
    let obs = system::run(&SystemSpec::default(), &ProbeContext::default()).await;
    assert!(obs.errors.is_empty(), "{:?}", obs.errors);
    assert!(obs.cpus >= 1);
    let memory = obs.memory.expect("memory");
    assert!(memory.total_bytes > 0);
    assert!(memory.available_bytes <= memory.total_bytes);
    let load = obs.load.expect("load");
    assert!(load.one >= 0.0);
    let fh = obs.file_handles.expect("file handles");
    assert!(fh.allocated > 0 && fh.max >= fh.allocated);
    if Path::new("/proc/pressure/memory").exists() {
        assert!(obs.pressure.is_some());
    }
}

#[test]
fn local_filesystems_on_this_machine() {
    let mounts = system::local_filesystems();
    assert!(
        mounts.iter().any(|m| m.mount_point == Path::new("/")),
        "{mounts:?}"
    );
    assert!(
        mounts
            .iter()
            .all(|m| !m.mount_point.starts_with("/proc") && !m.mount_point.starts_with("/sys")),
        "{mounts:?}"
    );
    assert!(mounts.iter().all(|m| m.fs_type != "proc"));
}

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct TmpfsMount {
    path: PathBuf,
}

impl TmpfsMount {
    fn new(dir: &Path, size: &str) -> Self {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount(8)");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root (CAP_SYS_ADMIN): mount failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self {
            path: dir.to_path_buf(),
        }
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

#[tokio::test]
async fn disk_probe_on_a_full_tmpfs() {
    let dir = tempfile::tempdir().unwrap();
    let mount_point = dir.path().canonicalize().unwrap();
    let guard = TmpfsMount::new(&mount_point, "1m");

    // Fill it until the kernel says no space.
    let file = mount_point.join("fill");
    let mut f = std::fs::File::create(&file).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    let err = loop {
        if let Err(e) = std::io::Write::write_all(&mut f, &chunk) {
            break e;
        }
    };
    assert_eq!(err.raw_os_error(), Some(28), "expected ENOSPC, got {err}");
    drop(f);

    let obs = system::run_disk(&DiskSpec { path: file.clone() }, &ProbeContext::default()).await;
    assert!(obs.failure.is_none(), "{obs:?}");
    assert_eq!(obs.path, file);
    assert_eq!(obs.mount_point.as_deref(), Some(mount_point.as_path()));
    assert_eq!(obs.fs_type.as_deref(), Some("tmpfs"));
    assert_eq!(obs.device.as_deref(), Some("tmpfs"));
    assert!(!obs.read_only);
    assert_eq!(obs.total_bytes, 1024 * 1024);
    assert!(obs.used_ratio >= 0.99, "used_ratio {}", obs.used_ratio);
    assert!(obs.available_bytes < 16 * 1024, "{}", obs.available_bytes);
    assert!(obs.inodes_total > 0 && obs.inodes_free < obs.inodes_total);
    drop(guard);
}

#[tokio::test]
async fn disk_probe_on_an_empty_tmpfs() {
    let dir = tempfile::tempdir().unwrap();
    let mount_point = dir.path().canonicalize().unwrap();
    let _guard = TmpfsMount::new(&mount_point, "1m");
    let obs = system::run_disk(
        &DiskSpec {
            path: mount_point.clone(),
        },
        &ProbeContext::default(),
    )
    .await;
    assert!(obs.failure.is_none(), "{obs:?}");
    assert_eq!(obs.mount_point.as_deref(), Some(mount_point.as_path()));
    assert!(obs.used_ratio < 0.01, "used_ratio {}", obs.used_ratio);
}

#[tokio::test]
async fn disk_probe_on_a_missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("does/not/exist");
    let obs = system::run_disk(
        &DiskSpec {
            path: missing.clone(),
        },
        &ProbeContext::default(),
    )
    .await;
    let failure = obs.failure.expect("a failure");
    assert_eq!(
        (failure.kind, failure.phase),
        (FailureKind::NotFound, Phase::Local)
    );
    assert!(failure.detail.contains("does/not/exist"), "{failure}");
    assert_eq!(obs.path, missing);
}
