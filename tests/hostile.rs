//! "Never make an outage worse", for the whole binary: hostile servers end
//! by the deadline with a report that classifies each; a `kill -9` or a
//! failed write never leaves a partial report or a temporary file; an
//! unprivileged run says what it could not read and why; a full disk and a
//! low `ulimit -n` slow it down, never break it.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

#[path = "../probes/tests/hostile_servers.rs"]
mod servers;

/// Generous slack past a deadline for a loaded 2-core machine.
const SLACK: Duration = Duration::from_secs(10);

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("why5xx")
}

fn run_blocking(mut cmd: Command) -> (Output, Duration) {
    let started = Instant::now();
    let out = cmd.env("NO_COLOR", "1").output().unwrap();
    (out, started.elapsed())
}

async fn run(cmd: Command) -> (Output, Duration) {
    tokio::task::spawn_blocking(move || run_blocking(cmd))
        .await
        .unwrap()
}

fn json(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn probe<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no probe {id} in {report:#}"))
}

fn failure_kind(report: &Value, id: &str) -> String {
    let p = probe(report, id);
    p["observations"]["failure"]["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("{id} has no failure: {p:#}"))
        .to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_servers_each_classified_within_the_deadline() {
    support::init();
    let endless = servers::endless_body().await;
    let dribble = servers::dribbled_headers().await;
    let random = servers::random_bytes().await;
    let big = servers::megabyte_of_headers().await;
    let redirect = servers::redirect_loop().await;
    let tls_garbage = servers::tls_garbage().await;
    let tls_reset = servers::tls_reset().await;
    let dns_garbage = servers::dns_garbage().await;
    let dns_truncated = servers::dns_truncated().await;
    let redis = servers::redis_endless_reply().await;
    let postgres = servers::postgres_endless_message().await;

    let deadline = Duration::from_secs(8);
    let mut cfg = String::from(
        "[agent]\ndeadline = \"8s\"\ntimeout = \"2s\"\ndiscover = false\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n",
    );
    for (name, url) in [
        ("endless", format!("http://{endless}/")),
        ("dribble", format!("http://{dribble}/")),
        ("random", format!("http://{random}/")),
        ("big", format!("http://{big}/")),
        ("tlsgarbage", format!("https://{tls_garbage}/")),
        ("tlsreset", format!("https://{tls_reset}/")),
    ] {
        let _ = write!(cfg, "[[endpoint]]\nname = \"{name}\"\nurl = \"{url}\"\n");
    }
    let _ = write!(
        cfg,
        "[[endpoint]]\nname = \"redirect\"\nurl = \"http://{redirect}/\"\nfollow_redirects = 5\n\
         [[tls]]\naddress = \"{tls_garbage}\"\nserver_name = \"localhost\"\n\
         [[tls]]\naddress = \"{tls_reset}\"\nserver_name = \"localhost\"\n\
         [[dns]]\nname = \"garbage.example\"\nserver = \"{dns_garbage}\"\n\
         [[dns]]\nname = \"truncated.example\"\nserver = \"{dns_truncated}\"\n\
         [[dependency]]\nname = \"redis\"\nurl = \"redis://{redis}\"\n\
         [[dependency]]\nname = \"postgres\"\nurl = \"postgres://{postgres}/db\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "hostile.toml", &cfg);
    let mut cmd = Command::new(bin());
    cmd.arg("--config").arg(&config).args(["--format", "json"]);
    let (out, took) = run(cmd).await;
    assert!(took < deadline + SLACK, "took {took:?}");
    assert_ne!(out.status.code(), Some(3));
    let r = json(&out);

    let endless = probe(&r, "endpoint:endless");
    assert!(endless["observations"]["failure"].is_null(), "{endless:#}");
    assert_eq!(endless["observations"]["body_truncated"], true);
    assert_eq!(endless["observations"]["body_bytes"], 64 * 1024);
    for (id, kind) in [
        ("endpoint:dribble", "timeout"),
        ("endpoint:random", "invalid_response"),
        ("endpoint:big", "limit_exceeded"),
        ("endpoint:redirect", "limit_exceeded"),
        ("endpoint:tlsgarbage", "tls_handshake"),
        ("endpoint:tlsreset", "reset"),
        (&format!("tls:{tls_garbage}"), "tls_handshake"),
        (&format!("tls:{tls_reset}"), "reset"),
        ("dns:garbage.example", "dns_error"),
        ("dns:truncated.example", "timeout"),
        ("dependency:redis", "limit_exceeded"),
        ("dependency:postgres", "limit_exceeded"),
    ] {
        assert_eq!(failure_kind(&r, id), kind, "{id}: {:#}", probe(&r, id));
    }
    // None of them is left unfinished: each ended by its own budget.
    for p in r["probes"].as_array().unwrap() {
        assert!(p["error"].is_null(), "{p:#}");
    }
}

/// A config of `n` servers that accept and never answer, and a long deadline.
async fn hanging_config(dir: &Path, n: usize) -> PathBuf {
    let mut cfg = String::from(
        "[agent]\ndeadline = \"60s\"\ntimeout = \"60s\"\ndiscover = false\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n",
    );
    for i in 0..n {
        let addr = support::silent_server().await;
        let _ = write!(
            cfg,
            "[[endpoint]]\nname = \"hang{i}\"\nurl = \"http://{addr}/\"\n"
        );
    }
    write(dir, "hang.toml", &cfg)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_kill_9_mid_run_leaves_the_previous_report_and_no_temp_file() {
    let cfg_dir = tempfile::tempdir().unwrap();
    let config = hanging_config(cfg_dir.path(), 3).await;
    let out_dir = tempfile::tempdir().unwrap();
    let report = write(out_dir.path(), "report.json", "{\"previous\": true}\n");

    let mut child = Command::new(bin())
        .arg("--config")
        .arg(&config)
        .args(["--format", "json", "--output"])
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // While it probes, nothing but the previous report is in the directory:
    // the temporary file is only created once the report is rendered.
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(entries(out_dir.path()), ["report.json"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(child.try_wait().unwrap().is_none(), "it should still run");
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert_eq!(entries(out_dir.path()), ["report.json"]);
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        "{\"previous\": true}\n"
    );
}

/// A test that needs what this machine does not give fails with the
/// reason, unless `WHY5XX_ALLOW_SKIP=1` says skipping is acceptable here:
/// tests never pass silently for want of privileges.
fn cannot_run_here(why: &str) {
    assert!(
        std::env::var_os("WHY5XX_ALLOW_SKIP").is_some(),
        "{why} (run as root, or set WHY5XX_ALLOW_SKIP=1 to skip)"
    );
    eprintln!("SKIPPED: {why}");
}

/// Whether this test runs as root (and so can switch to `nobody`).
fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The binary copied into a 0755 directory that `nobody` can execute from.
fn binary_for_nobody() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("why5xx");
    std::fs::copy(bin(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, copy)
}

fn as_nobody(binary: &Path) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", "nobody", "--"]).arg(binary);
    cmd
}

fn can_run_as_nobody() -> bool {
    is_root()
        && Command::new("runuser")
            .args(["-u", "nobody", "--", "true"])
            .status()
            .is_ok_and(|s| s.success())
}

fn world_readable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_failed_write_keeps_the_old_report_and_no_temp_file() {
    let cfg_dir = world_readable_tempdir();
    let config = write(
        cfg_dir.path(),
        "quick.toml",
        "[agent]\ndeadline = \"3s\"\ndiscover = false\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n",
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();

    // 1. A directory the run may not write to.
    let out_dir = world_readable_tempdir();
    let report = write(out_dir.path(), "report.json", "previous\n");
    let (_bin_dir, copy) = binary_for_nobody();
    let cmd = if is_root() {
        if !can_run_as_nobody() {
            cannot_run_here("cannot run as nobody here");
            return;
        }
        as_nobody(&copy)
    } else {
        std::fs::set_permissions(out_dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
        Command::new(&copy)
    };
    let mut cmd = cmd;
    cmd.arg("--config")
        .arg(&config)
        .args(["--format", "json", "--output"])
        .arg(&report);
    let (out, _) = run(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("writing the report"), "{stderr}");
    std::fs::set_permissions(out_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(entries(out_dir.path()), ["report.json"]);
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "previous\n");

    // 2. The rename fails (the target is a non-empty directory): the
    // temporary file written before it is removed.
    let out_dir = tempfile::tempdir().unwrap();
    let target = out_dir.path().join("report.json");
    std::fs::create_dir(&target).unwrap();
    write(&target, "keep", "x");
    let mut cmd = Command::new(bin());
    cmd.arg("--config")
        .arg(&config)
        .args(["--format", "json", "--output"])
        .arg(&target);
    let (out, _) = run(cmd).await;
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(entries(out_dir.path()), ["report.json"]);
    assert_eq!(entries(&target), ["keep"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_unprivileged_run_says_what_needs_root_and_still_probes() {
    if !can_run_as_nobody() {
        cannot_run_here("needs root and runuser to switch to nobody");
        return;
    }
    let app_addr = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let work = world_readable_tempdir();
    // A root-owned application process with the variable set.
    let app = work.path().join("why5xx-unpriv-app");
    std::fs::copy("/bin/sleep", &app).unwrap();
    let mut child = Command::new(&app)
        .arg("120")
        .env("DATABASE_URL", "postgres://secret@db/app")
        .spawn()
        .unwrap();
    // A root-owned log only root (and adm) may read.
    let log = write(work.path(), "app.log", "ERROR boom\n");
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o640)).unwrap();
    let config = write(
        work.path(),
        "unpriv.toml",
        &format!(
            "[agent]\ndeadline = \"8s\"\ntimeout = \"3s\"\ndiscover = false\n\
             [host]\ndisks = [\"/\"]\nload_warn = 1000.0\n\
             [[upstream]]\nname = \"app\"\nurl = \"http://{app_addr}/\"\n\
             process = \"why5xx-unpriv-app\"\nenv_required = [\"DATABASE_URL\"]\nlog = \"{}\"\n",
            log.display()
        ),
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_bin_dir, copy) = binary_for_nobody();
    let mut cmd = as_nobody(&copy);
    cmd.arg("--config").arg(&config).args(["--format", "json"]);
    let (out, _) = run(cmd).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_ne!(out.status.code(), Some(3));
    let r = json(&out);

    let detail = |id: &str| -> String {
        probe(&r, id)["observations"]["failure"]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // The environment of a root process: unknown, and what grants access.
    let env = probe(&r, "env:app");
    assert_eq!(env["status"], "unknown", "{env:#}");
    assert_eq!(failure_kind(&r, "env:app"), "permission_denied");
    assert!(detail("env:app").contains("CAP_SYS_PTRACE"), "{env:#}");
    assert!(detail("env:app").contains("root"), "{env:#}");
    // The log: unknown, root or group adm.
    let log = probe(&r, "log:app");
    assert_eq!(log["status"], "unknown", "{log:#}");
    assert_eq!(failure_kind(&r, "log:app"), "permission_denied");
    assert!(detail("log:app").contains("adm"), "{log:#}");
    // The kernel log, when dmesg_restrict keeps it from unprivileged users.
    let restricted =
        std::fs::read_to_string("/proc/sys/kernel/dmesg_restrict").is_ok_and(|v| v.trim() == "1");
    if restricted {
        let oom = probe(&r, "host:oom");
        assert_eq!(oom["status"], "unknown", "{oom:#}");
        assert_eq!(failure_kind(&r, "host:oom"), "permission_denied");
        assert!(detail("host:oom").contains("CAP_SYSLOG"), "{oom:#}");
        assert!(detail("host:oom").contains("dmesg_restrict"), "{oom:#}");
    }
    // Everything else still works.
    assert_eq!(probe(&r, "upstream:app")["status"], "ok");
    assert_eq!(probe(&r, "host:disk:/")["status"], "ok");
    assert_ne!(probe(&r, "host:system")["status"], "unknown");
    // And the secret never shows.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("secret@db"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_full_disk_still_reports_to_stdout() {
    if !is_root() {
        cannot_run_here("needs root to mount a tmpfs");
        return;
    }
    let mnt = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mnt.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        cannot_run_here("cannot mount a tmpfs here");
        return;
    }
    // Fill it to the last byte.
    let mut filler = std::fs::File::create(mnt.path().join("filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    drop(filler);
    let mut cmd = Command::new(bin());
    cmd.current_dir(mnt.path()).env("TMPDIR", mnt.path()).args([
        "--no-discover",
        "--deadline",
        "5s",
        "--format",
        "json",
    ]);
    let (out, _) = run(cmd).await;
    let _ = Command::new("umount").arg(mnt.path()).status();
    assert_ne!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    assert!(!r["probes"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_low_open_files_limit_reduces_concurrency_instead_of_failing() {
    let addr = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let mut cfg = String::from(
        "[agent]\ndeadline = \"20s\"\ntimeout = \"10s\"\nconcurrency = 64\ndiscover = false\n\
         [host]\ndisks = [\"/\"]\nload_warn = 1000.0\n",
    );
    for i in 0..100 {
        let _ = write!(
            cfg,
            "[[endpoint]]\nname = \"e{i}\"\nurl = \"http://{addr}/{i}\"\n"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "hundred.toml", &cfg);
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=64")
        .arg("--")
        .arg(bin())
        .arg("--config")
        .arg(&config)
        .args(["--format", "json", "-v"]);
    let (out, _) = run(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("concurrency reduced"), "{stderr}");
    let r = json(&out);
    for i in 0..100 {
        let p = probe(&r, &format!("endpoint:e{i}"));
        assert_eq!(p["status"], "ok", "{p:#}");
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Too many open files"));
}
