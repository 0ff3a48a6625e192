//! Tests of the process probe, against real child processes.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use why5xx_probes::process::{self, ProcState, ProcessObservation, ProcessSpec};
use why5xx_probes::{FailureKind, ProbeContext};

/// A child that is killed and reaped when the test ends, however it ends.
struct Kid(Child);

impl Kid {
    fn sleep(arg: &str) -> Self {
        Self(Command::new("sleep").arg(arg).spawn().unwrap())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Kill it and reap it: afterwards its pid is gone from /proc.
    fn kill_and_wait(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        self.kill_and_wait();
    }
}

/// An argument for `sleep` no other process has: about 31 s, unique to
/// this test process and `n`.
fn unique_secs(n: u32) -> String {
    format!("31.{n}{}", std::process::id())
}

async fn by_pattern(pattern: &str) -> ProcessObservation {
    let spec = ProcessSpec {
        pattern: Some(pattern.to_string()),
        pidfile: None,
        watch: None,
    };
    process::run(&spec, &ProbeContext::default()).await
}

async fn by_pidfile(path: PathBuf) -> ProcessObservation {
    let spec = ProcessSpec {
        pattern: None,
        pidfile: Some(path),
        watch: None,
    };
    process::run(&spec, &ProbeContext::default()).await
}

/// Run the probe until `done` holds for the process `pid` (a fresh child
/// may still be running before it sleeps, a killed one takes a moment to
/// become a zombie), at most 5 s.
async fn wait_for_state(pattern: &str, pid: u32, state: ProcState) -> ProcessObservation {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let obs = by_pattern(pattern).await;
        let ok = obs
            .processes
            .iter()
            .any(|p| p.pid == pid && p.state == state);
        if ok || Instant::now() > deadline {
            return obs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn finds_a_child_by_command_line_substring() {
    let arg = unique_secs(1);
    let kid = Kid::sleep(&arg);
    let obs = wait_for_state(&arg, kid.pid(), ProcState::Sleeping).await;
    assert!(obs.failure.is_none(), "{obs:?}");
    assert!(obs.scanned > 1, "{obs:?}");
    assert_eq!(obs.processes.len(), 1, "{obs:?}");
    let p = &obs.processes[0];
    assert_eq!(p.pid, kid.pid());
    assert_eq!(p.ppid, std::process::id());
    assert_eq!(p.name, "sleep");
    assert_eq!(p.cmdline, format!("sleep {arg}"));
    assert_eq!(p.state, ProcState::Sleeping);
    assert!(p.uptime_secs < 60, "{p:?}");
    let now = why5xx_probes::units::UnixTime::now().0;
    assert!((now - p.started_at.0).abs() < 60, "{p:?} now {now}");
    assert!(p.rss_bytes > 0, "{p:?}");
    assert!(p.threads >= 1, "{p:?}");
    assert!(p.open_fds.is_some(), "{p:?}");
    assert!(p.fd_soft_limit.is_some(), "{p:?}");
}

#[tokio::test]
async fn finds_a_child_by_name_among_others() {
    let arg = unique_secs(2);
    let kid = Kid::sleep(&arg);
    let obs = wait_for_state("sleep", kid.pid(), ProcState::Sleeping).await;
    let p = obs.processes.iter().find(|p| p.pid == kid.pid());
    assert!(p.is_some(), "{obs:?}");
    // Oldest first.
    let starts: Vec<i64> = obs.processes.iter().map(|p| p.started_at.0).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
}

#[tokio::test]
async fn a_killed_and_reaped_child_is_gone() {
    let arg = unique_secs(3);
    let mut kid = Kid::sleep(&arg);
    let pid = kid.pid();
    let before = wait_for_state(&arg, pid, ProcState::Sleeping).await;
    assert_eq!(before.processes.len(), 1, "{before:?}");
    kid.kill_and_wait();
    let after = by_pattern(&arg).await;
    assert!(after.processes.is_empty(), "{after:?}");
}

#[tokio::test]
async fn an_unreaped_child_is_a_zombie() {
    let arg = unique_secs(4);
    let mut kid = Kid::sleep(&arg);
    let pid = kid.pid();
    // Kill, but do not wait: the child stays a zombie until reaped. Its
    // command line is gone, its name is not.
    kid.0.kill().unwrap();
    let obs = wait_for_state("sleep", pid, ProcState::Zombie).await;
    let p = obs.processes.iter().find(|p| p.pid == pid);
    assert_eq!(p.map(|p| p.state), Some(ProcState::Zombie), "{obs:?}");

    // A pidfile naming a zombie: the process is there, but not alive.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zombie.pid");
    std::fs::write(&path, format!("{pid}\n")).unwrap();
    let obs = by_pidfile(path).await;
    let pf = obs.pidfile.unwrap();
    assert_eq!((pf.pid, pf.alive), (Some(pid), false));
    assert_eq!(obs.processes.len(), 1);
    assert_eq!(obs.processes[0].state, ProcState::Zombie);
}

#[tokio::test]
async fn a_pidfile_naming_a_live_child() {
    let kid = Kid::sleep(&unique_secs(5));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pid");
    std::fs::write(&path, format!("{}\n", kid.pid())).unwrap();
    let obs = by_pidfile(path.clone()).await;
    let pf = obs.pidfile.as_ref().unwrap();
    assert_eq!(pf.path, path);
    assert_eq!(pf.pid, Some(kid.pid()));
    assert!(pf.alive, "{obs:?}");
    assert!(pf.failure.is_none(), "{obs:?}");
    assert_eq!(obs.processes.len(), 1, "{obs:?}");
    assert_eq!(obs.processes[0].pid, kid.pid());
}

#[tokio::test]
async fn a_pidfile_naming_a_dead_pid_is_stale() {
    let mut kid = Kid::sleep(&unique_secs(6));
    let pid = kid.pid();
    kid.kill_and_wait();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pid");
    std::fs::write(&path, format!("{pid}\n")).unwrap();
    let obs = by_pidfile(path).await;
    let pf = obs.pidfile.clone().unwrap();
    assert_eq!(pf.pid, Some(pid));
    assert!(!pf.alive);
    assert!(pf.failure.is_none());
    assert!(obs.processes.is_empty(), "{obs:?}");
}

#[tokio::test]
async fn a_missing_pidfile_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let obs = by_pidfile(dir.path().join("nope.pid")).await;
    let pf = obs.pidfile.unwrap();
    assert_eq!(pf.pid, None);
    assert!(!pf.alive);
    assert_eq!(pf.failure.map(|f| f.kind), Some(FailureKind::NotFound));
}

#[tokio::test]
async fn a_pidfile_without_a_pid_is_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.pid");
    std::fs::write(&path, "not a pid\n").unwrap();
    let obs = by_pidfile(path).await;
    let pf = obs.pidfile.unwrap();
    assert_eq!((pf.pid, pf.alive), (None, false));
    assert_eq!(pf.failure.map(|f| f.kind), Some(FailureKind::Other));
}

#[tokio::test]
async fn never_matches_itself() {
    let me = std::process::id();
    let own: Vec<String> = std::env::args().collect();
    let obs = by_pattern(&own.join(" ")).await;
    assert!(obs.processes.iter().all(|p| p.pid != me), "{obs:?}");
    // Nor by its name.
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    let obs = by_pattern(comm.trim_end()).await;
    assert!(obs.processes.iter().all(|p| p.pid != me), "{obs:?}");
}

#[tokio::test]
async fn never_matches_kernel_threads() {
    // kthreadd is pid 2 and the parent of every other kernel thread.
    let obs = by_pattern("kthreadd").await;
    assert!(obs.scanned > 0);
    assert!(
        obs.processes.iter().all(|p| p.pid != 2 && p.ppid != 2),
        "{obs:?}"
    );
}

#[tokio::test]
async fn secrets_in_a_command_line_are_redacted() {
    let marker = format!("hunter2x{}", std::process::id());
    // The shell waits for sleep (it has more to do after it), keeping the
    // secret-bearing command line alive.
    let child = Command::new("sh")
        .args(["-c", "sleep 30; true", &format!("password={marker}")])
        // The orphaned sleep must not hold the test's output pipes open.
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut kid = Kid(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    let obs = loop {
        let obs = by_pattern(&marker).await;
        if !obs.processes.is_empty() || Instant::now() > deadline {
            break obs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    kid.kill_and_wait();
    let p = obs.processes.iter().find(|p| p.pid == kid.pid());
    let p = p.unwrap_or_else(|| panic!("shell not found: {obs:?}"));
    assert!(!p.cmdline.contains(&marker), "{}", p.cmdline);
    assert!(p.cmdline.contains("password=REDACTED"), "{}", p.cmdline);
}

#[tokio::test]
async fn no_pattern_and_no_pidfile_looks_at_nothing() {
    let obs = process::run(&ProcessSpec::default(), &ProbeContext::default()).await;
    assert!(obs.processes.is_empty());
    assert_eq!(obs.scanned, 0);
    assert!(obs.pidfile.is_none() && obs.failure.is_none());
}
