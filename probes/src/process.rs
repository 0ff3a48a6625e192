//! The process probe: find processes by name, command-line substring or
//! pidfile and report whether they are alive, since when, how big, in which
//! state (zombie), and how close they are to their open-file limit.
//! Optionally it looks twice, a moment apart, to catch a crash loop: a
//! process that keeps coming back with a new pid ([`run_watched`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::{Millis, UnixTime};
use crate::{Failure, FailureKind, Phase, ProbeContext, context, procfs, redact};

/// Which processes to look at.
#[derive(Debug, Clone, Default)]
pub struct ProcessSpec {
    /// Matches the process name (`comm`, or the executable's base name)
    /// exactly, or any substring of its command line.
    pub pattern: Option<String>,
    /// A pidfile naming the process.
    pub pidfile: Option<PathBuf>,
    /// Scan again after this long and report restarts in between (the
    /// crash-loop evidence); `None` scans once.
    pub watch: Option<std::time::Duration>,
}

/// With a watch asked for, processes older than this are not watched: a
/// crash loop shows as a process younger than this.
pub const WATCH_IF_YOUNGER_THAN_SECS: u64 = 60;

/// A process's scheduler state, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcState {
    Running,
    Sleeping,
    DiskSleep,
    Stopped,
    Zombie,
    Dead,
    Idle,
    Other,
}

/// One matching process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    /// `comm`.
    pub name: String,
    /// The command line, at most 256 characters, secret-looking values redacted.
    pub cmdline: String,
    pub state: ProcState,
    pub started_at: UnixTime,
    pub uptime_secs: u64,
    pub rss_bytes: u64,
    pub threads: u64,
    /// Open descriptors; absent when `/proc/PID/fd` is unreadable.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub open_fds: Option<u64>,
    /// The soft `RLIMIT_NOFILE`, from `/proc/PID/limits`; absent when unlimited.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fd_soft_limit: Option<u64>,
}

/// What the pidfile said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidfileState {
    pub path: PathBuf,
    /// The pid written in it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    /// Whether that pid is a live process.
    pub alive: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// What the process probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessObservation {
    /// Matching processes, oldest first.
    pub processes: Vec<ProcessInfo>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pidfile: Option<PidfileState>,
    /// Processes looked at.
    pub scanned: usize,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
    /// What changed between two scans a moment apart; present only when the
    /// probe was asked to watch ([`run_watched`]). `processes` is then the
    /// second scan.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub watch: Option<RestartWatch>,
}

/// A matching process seen in the first scan that was gone in the second,
/// with the process that took its place, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restart {
    pub old_pid: u32,
    /// The new process of the same name (and, preferably, the same parent)
    /// that appeared meanwhile; absent when it died and nothing replaced it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new_pid: Option<u32>,
    /// `comm` of the old process.
    pub name: String,
    /// How long the new process had been running at the second scan.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub new_uptime_secs: Option<u64>,
}

/// Two scans a moment apart: the guide's crash-loop evidence is a process
/// that keeps getting a new pid and a tiny uptime.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestartWatch {
    /// How long the probe waited between the two scans.
    pub watched: Millis,
    /// Matching pids at the first scan, ascending.
    pub pids_before: Vec<u32>,
    /// Matching pids at the second scan, ascending.
    pub pids_after: Vec<u32>,
    /// Processes of the first scan that were gone at the second (a pid
    /// reused by a new process counts as gone).
    pub restarts: Vec<Restart>,
    /// Whether at least one gone process was replaced by a new one.
    pub restarted_during_run: bool,
}

/// The longest wait between the two scans of [`run_watched`]: half the
/// local probe budget, so that both scans fit in it.
pub const MAX_WATCH: Duration =
    Duration::from_nanos(context::LOCAL_PROBE_TIMEOUT.as_nanos() as u64 / 2);

/// At most this many characters of a command line are kept in a report.
pub const CMDLINE_MAX_CHARS: usize = 256;

/// At most this many bytes of a pidfile are read.
const PIDFILE_MAX_BYTES: u64 = 4096;

/// Look for the processes `spec` describes: those whose name or command
/// line matches `pattern`, and the one the pidfile names. Never this
/// process itself, never kernel threads. The `/proc` reads run on the
/// blocking pool.
pub async fn run(spec: &ProcessSpec, _ctx: &ProbeContext) -> ProcessObservation {
    if let Some(watch) = spec.watch {
        // Watch only when a restart is plausible: nothing alive, or a
        // process that started moments ago. A steady process is not held.
        let first = match first_scan(spec).await {
            Ok(first) => first,
            Err(obs) => return obs,
        };
        let live: Vec<&ProcessInfo> = first
            .0
            .processes
            .iter()
            .filter(|p| p.state != ProcState::Zombie)
            .collect();
        if !live.is_empty()
            && live
                .iter()
                .all(|p| p.uptime_secs >= WATCH_IF_YOUNGER_THAN_SECS)
        {
            return first.0;
        }
        return finish_watch(spec, watch, first).await;
    }
    let spec = spec.clone();
    match tokio::task::spawn_blocking(move || observe(&spec)).await {
        Ok(obs) => obs,
        Err(e) => ProcessObservation {
            failure: Some(Failure::new(
                FailureKind::Other,
                Phase::Local,
                format!("process scan did not finish: {e}"),
            )),
            ..ProcessObservation::default()
        },
    }
}

/// Like [`run`], then wait `watch` (at most [`MAX_WATCH`]) and scan again,
/// reporting which processes went away and which new ones took their place
/// in [`ProcessObservation::watch`]. `processes` is the second scan.
///
/// This is the restart watch the agent asks for with a short `watch` (about
/// `min(1 s, a fraction of the deadline)`). It is a separate function rather
/// than a `ProcessSpec` field so that every existing `ProcessSpec { .. }`
/// literal keeps compiling; a `watch: Option<Duration>` field can dispatch
/// here.
pub async fn run_watched(
    spec: &ProcessSpec,
    watch: Duration,
    ctx: &ProbeContext,
) -> ProcessObservation {
    let _ = ctx;
    match first_scan(spec).await {
        Ok(first) => finish_watch(spec, watch, first).await,
        Err(obs) => obs,
    }
}

/// The first scan of a watch; `Err` is the observation to return as is.
async fn first_scan(
    spec: &ProcessSpec,
) -> Result<(ProcessObservation, Vec<Seen>), ProcessObservation> {
    let first_spec = spec.clone();
    match local_blocking("process scan", move || observe_keyed(&first_spec)).await {
        Ok(first) if first.0.failure.is_some() => Err(first.0),
        Ok(first) => Ok(first),
        Err(failure) => Err(ProcessObservation {
            failure: Some(failure),
            ..ProcessObservation::default()
        }),
    }
}

/// Wait `watch`, scan again and pair what went with what came.
async fn finish_watch(
    spec: &ProcessSpec,
    watch: Duration,
    first: (ProcessObservation, Vec<Seen>),
) -> ProcessObservation {
    let watch = watch.min(MAX_WATCH);
    let started = std::time::Instant::now();
    tokio::time::sleep(watch).await;
    let watched = Millis::from_duration(started.elapsed());
    let second_spec = spec.clone();
    let second = match local_blocking("process scan", move || observe_keyed(&second_spec)).await {
        Ok(second) => second,
        Err(failure) => {
            let mut obs = first.0;
            obs.failure = Some(failure);
            return obs;
        }
    };
    let (mut obs, after) = second;
    let restarts = pair_restarts(&first.1, &after);
    let mut pids_before: Vec<u32> = first.1.iter().map(|s| s.pid).collect();
    let mut pids_after: Vec<u32> = after.iter().map(|s| s.pid).collect();
    pids_before.sort_unstable();
    pids_after.sort_unstable();
    obs.watch = Some(RestartWatch {
        watched,
        pids_before,
        pids_after,
        restarted_during_run: restarts.iter().any(|r| r.new_pid.is_some()),
        restarts,
    });
    obs
}

/// Run `f` on the blocking pool within the local probe budget
/// ([`context::LOCAL_PROBE_TIMEOUT`]). A read that hangs (a dead NFS mount)
/// becomes a timeout failure; the thread is left to finish on its own.
pub(crate) async fn local_blocking<T, F>(what: &str, f: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let budget = context::LOCAL_PROBE_TIMEOUT;
    match tokio::time::timeout(budget, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::new(
            FailureKind::Other,
            Phase::Local,
            format!("{what} did not finish: {e}"),
        )),
        Err(_) => Err(Failure::timeout(
            Phase::Local,
            format!("{what} took longer than {} ms", budget.as_millis()),
        )),
    }
}

/// One matching process as the restart watch compares them: a pid and its
/// start time identify a process even when the pid is reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub pid: u32,
    pub start_ticks: u64,
    pub ppid: u32,
    pub name: String,
    pub uptime_secs: u64,
}

/// Pair the processes of the first scan that are gone from the second with
/// the new processes of the second, the oldest new process first: same
/// name and parent, else same name, else same parent.
pub(crate) fn pair_restarts(before: &[Seen], after: &[Seen]) -> Vec<Restart> {
    let same = |a: &Seen, b: &Seen| a.pid == b.pid && a.start_ticks == b.start_ticks;
    let mut fresh: Vec<&Seen> = after
        .iter()
        .filter(|a| !before.iter().any(|b| same(a, b)))
        .collect();
    fresh.sort_by_key(|s| (s.start_ticks, s.pid));
    let mut out = Vec::new();
    for gone in before.iter().filter(|b| !after.iter().any(|a| same(a, b))) {
        // Same name and parent; same name; same parent (a supervisor's new
        // child caught before it exec'd under its final name).
        let pick = fresh
            .iter()
            .position(|n| n.name == gone.name && n.ppid == gone.ppid)
            .or_else(|| fresh.iter().position(|n| n.name == gone.name))
            .or_else(|| fresh.iter().position(|n| n.ppid == gone.ppid));
        let new = pick.map(|i| fresh.remove(i));
        out.push(Restart {
            old_pid: gone.pid,
            new_pid: new.map(|n| n.pid),
            name: gone.name.clone(),
            new_uptime_secs: new.map(|n| n.uptime_secs),
        });
    }
    out
}

impl ProcState {
    /// The state of a `/proc/PID/stat` state letter.
    pub fn from_letter(c: char) -> Self {
        match c {
            'R' => Self::Running,
            'S' => Self::Sleeping,
            'D' => Self::DiskSleep,
            'T' | 't' => Self::Stopped,
            'Z' => Self::Zombie,
            'X' | 'x' => Self::Dead,
            'I' => Self::Idle,
            _ => Self::Other,
        }
    }
}

/// Whether a process named `comm` with arguments `args` matches `pattern`:
/// the name (`comm`, or the base name of `argv[0]`) equals it, or the
/// command line (arguments joined by spaces) contains it.
pub fn matches(pattern: &str, comm: &str, args: &[String]) -> bool {
    if pattern.is_empty() {
        return false;
    }
    if comm == pattern {
        return true;
    }
    if let Some(argv0) = args.first() {
        let base = argv0.rsplit('/').next().unwrap_or(argv0);
        if base == pattern {
            return true;
        }
    }
    !args.is_empty() && args.join(" ").contains(pattern)
}

/// Boot time and units, read once per scan.
struct Clock {
    /// Boot time, seconds since the epoch.
    btime: i64,
    /// Seconds since boot now, when `/proc/uptime` could be read.
    uptime: Option<f64>,
    now: i64,
    ticks: u64,
    page_size: u64,
}

impl Clock {
    fn read() -> Self {
        let now = UnixTime::now().0;
        let uptime = procfs::read_uptime().ok();
        let btime = procfs::read_btime()
            .ok()
            .and_then(|b| i64::try_from(b).ok())
            .or_else(|| uptime.map(|u| now - u as i64))
            .unwrap_or(0);
        Self {
            btime,
            uptime,
            now,
            ticks: procfs::clock_ticks_per_second(),
            page_size: procfs::page_size(),
        }
    }

    /// Start time (epoch seconds) and age (seconds) of a process.
    fn start_and_age(&self, starttime_ticks: u64) -> (UnixTime, u64) {
        let since_boot = starttime_ticks / self.ticks;
        let started = self.btime + i64::try_from(since_boot).unwrap_or(i64::MAX / 2);
        let age = match self.uptime {
            Some(up) => (up - starttime_ticks as f64 / self.ticks as f64).max(0.0) as u64,
            None => u64::try_from(self.now - started).unwrap_or(0),
        };
        (UnixTime(started), age)
    }
}

/// A command line as a report shows it: arguments joined by spaces, secrets
/// redacted, at most [`CMDLINE_MAX_CHARS`] characters.
fn display_cmdline(args: &[String]) -> String {
    let redacted = redact::text(&args.join(" "));
    match redacted.char_indices().nth(CMDLINE_MAX_CHARS) {
        Some((cut, _)) => redacted[..cut].to_string(),
        None => redacted,
    }
}

fn info(stat: &procfs::Stat, args: &[String], clock: &Clock) -> ProcessInfo {
    let (started_at, uptime_secs) = clock.start_and_age(stat.starttime_ticks);
    ProcessInfo {
        pid: stat.pid,
        ppid: stat.ppid,
        name: stat.comm.clone(),
        cmdline: display_cmdline(args),
        state: ProcState::from_letter(stat.state),
        started_at,
        uptime_secs,
        rss_bytes: stat.rss_pages.saturating_mul(clock.page_size),
        threads: stat.num_threads,
        open_fds: procfs::count_fds(stat.pid).ok(),
        fd_soft_limit: procfs::read_limits_nofile(stat.pid).ok().flatten(),
    }
}

fn observe(spec: &ProcessSpec) -> ProcessObservation {
    observe_keyed(spec).0
}

/// [`observe`], also returning each matching process's identity for the
/// restart watch.
fn observe_keyed(spec: &ProcessSpec) -> (ProcessObservation, Vec<Seen>) {
    let clock = Clock::read();
    let me = std::process::id();
    let mut obs = ProcessObservation::default();
    // (starttime in ticks, info), for sorting oldest first.
    let mut found: Vec<(u64, ProcessInfo)> = Vec::new();

    if let Some(pattern) = spec.pattern.as_deref().filter(|p| !p.is_empty()) {
        match procfs::list_pids() {
            Ok((pids, _)) => {
                for pid in pids {
                    if pid == me {
                        continue;
                    }
                    // Gone, or unreadable: nothing to match on.
                    let Ok(stat) = procfs::read_stat(pid) else {
                        continue;
                    };
                    obs.scanned += 1;
                    if stat.is_kernel_thread() {
                        continue;
                    }
                    let args = procfs::read_cmdline(pid).unwrap_or_default();
                    if matches(pattern, &stat.comm, &args) {
                        found.push((stat.starttime_ticks, info(&stat, &args, &clock)));
                    }
                }
            }
            Err(e) => obs.failure = Some(Failure::from_io(&e, Phase::Local, "list /proc")),
        }
    }

    if let Some(path) = &spec.pidfile {
        let (state, stat) = read_pidfile(path);
        if let Some(stat) = stat {
            if spec.pattern.is_none() {
                obs.scanned += 1;
            }
            if !stat.is_kernel_thread() && !found.iter().any(|(_, p)| p.pid == stat.pid) {
                let args = procfs::read_cmdline(stat.pid).unwrap_or_default();
                found.push((stat.starttime_ticks, info(&stat, &args, &clock)));
            }
        }
        obs.pidfile = Some(state);
    }

    found.sort_by_key(|(start, p)| (*start, p.pid));
    let seen = found
        .iter()
        .map(|(start, p)| Seen {
            pid: p.pid,
            start_ticks: *start,
            ppid: p.ppid,
            name: p.name.clone(),
            uptime_secs: p.uptime_secs,
        })
        .collect();
    obs.processes = found.into_iter().map(|(_, p)| p).collect();
    (obs, seen)
}

/// Read a pidfile and look at the process it names.
pub(crate) fn read_pidfile(path: &Path) -> (PidfileState, Option<procfs::Stat>) {
    let mut state = PidfileState {
        path: path.to_path_buf(),
        pid: None,
        alive: false,
        failure: None,
    };
    let mut text = String::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(PIDFILE_MAX_BYTES).read_to_string(&mut text));
    if let Err(e) = read {
        let what = format!("read pidfile {}", path.display());
        state.failure = Some(Failure::from_io(&e, Phase::Local, &what));
        return (state, None);
    }
    let pid = text
        .split_ascii_whitespace()
        .next()
        .and_then(|w| w.parse::<u32>().ok())
        .filter(|p| *p > 0);
    let Some(pid) = pid else {
        let shown: String = text.trim().chars().take(40).collect();
        state.failure = Some(Failure::new(
            FailureKind::Other,
            Phase::Local,
            format!("pidfile {} holds no pid: {shown:?}", path.display()),
        ));
        return (state, None);
    };
    state.pid = Some(pid);
    match procfs::read_stat(pid) {
        Ok(stat) => {
            state.alive = !stat.is_zombie();
            (state, Some(stat))
        }
        Err(e) if procfs::is_vanished(&e) => (state, None),
        Err(_) => {
            state.alive = procfs::pid_exists(pid);
            (state, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn matches_name_argv0_base_name_or_command_line_substring() {
        let gunicorn = args(&["/usr/bin/python3", "/srv/venv/bin/gunicorn", "app:wsgi"]);
        assert!(matches("python3", "python3", &gunicorn));
        assert!(matches("gunicorn", "python3", &gunicorn));
        assert!(matches("app:wsgi", "python3", &gunicorn));
        assert!(!matches("unicorn-x", "python3", &gunicorn));
        assert!(!matches("", "python3", &gunicorn));
        // A zombie has no command line, only its name.
        assert!(matches("sleep", "sleep", &[]));
        assert!(!matches("slee", "sleep", &[]));
        // argv[0]'s base name, e.g. a comm cut at 15 characters.
        let long = args(&["/opt/bin/my-long-server-name", "--port=1"]);
        assert!(matches("my-long-server-name", "my-long-server-", &long));
    }

    #[test]
    fn command_lines_are_redacted_and_cut() {
        let shown = display_cmdline(&args(&["app", "--db-password=hunter2"]));
        assert_eq!(shown, "app --db-password=REDACTED");
        let long = display_cmdline(&args(&["x", &"é".repeat(400)]));
        assert_eq!(long.chars().count(), CMDLINE_MAX_CHARS);
    }

    #[test]
    fn state_letters() {
        assert_eq!(ProcState::from_letter('S'), ProcState::Sleeping);
        assert_eq!(ProcState::from_letter('Z'), ProcState::Zombie);
        assert_eq!(ProcState::from_letter('D'), ProcState::DiskSleep);
        assert_eq!(ProcState::from_letter('t'), ProcState::Stopped);
        assert_eq!(ProcState::from_letter('I'), ProcState::Idle);
        assert_eq!(ProcState::from_letter('W'), ProcState::Other);
    }

    fn seen(pid: u32, start_ticks: u64, ppid: u32, name: &str) -> Seen {
        Seen {
            pid,
            start_ticks,
            ppid,
            name: name.to_string(),
            uptime_secs: 0,
        }
    }

    #[test]
    fn restarts_pair_gone_with_new_of_the_same_name_and_parent() {
        let before = [
            seen(10, 100, 1, "app"),
            seen(11, 100, 5, "app"),
            seen(12, 100, 1, "worker"),
        ];
        let after = [
            seen(11, 100, 5, "app"),
            seen(20, 300, 9, "app"),
            seen(21, 310, 1, "app"),
            seen(12, 100, 1, "worker"),
        ];
        let r = pair_restarts(&before, &after);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].old_pid, r[0].new_pid), (10, Some(21)));
    }

    #[test]
    fn a_reused_pid_is_a_restart_and_a_death_has_no_new_pid() {
        let r = pair_restarts(&[seen(10, 100, 1, "app")], &[seen(10, 900, 1, "app")]);
        assert_eq!((r[0].old_pid, r[0].new_pid), (10, Some(10)));
        let r = pair_restarts(&[seen(10, 100, 1, "app")], &[]);
        assert_eq!((r[0].old_pid, r[0].new_pid), (10, None));
        assert!(pair_restarts(&[], &[seen(10, 100, 1, "app")]).is_empty());
    }

    #[test]
    fn start_time_and_age_from_ticks() {
        let clock = Clock {
            btime: 1_000_000,
            uptime: Some(500.0),
            now: 1_000_500,
            ticks: 100,
            page_size: 4096,
        };
        assert_eq!(clock.start_and_age(20_000), (UnixTime(1_000_200), 300));
        let no_uptime = Clock {
            uptime: None,
            ..clock
        };
        assert_eq!(no_uptime.start_and_age(20_000), (UnixTime(1_000_200), 300));
    }
}
