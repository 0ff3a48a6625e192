//! The process probe: find processes by name, command-line substring or
//! pidfile and report whether they are alive, since when, how big, in which
//! state (zombie), and how close they are to their open-file limit.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::units::UnixTime;
use crate::{Failure, FailureKind, Phase, ProbeContext, procfs, redact};

/// Which processes to look at.
#[derive(Debug, Clone, Default)]
pub struct ProcessSpec {
    /// Matches the process name (`comm`, or the executable's base name)
    /// exactly, or any substring of its command line.
    pub pattern: Option<String>,
    /// A pidfile naming the process.
    pub pidfile: Option<PathBuf>,
}

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
}

/// At most this many characters of a command line are kept in a report.
pub const CMDLINE_MAX_CHARS: usize = 256;

/// At most this many bytes of a pidfile are read.
const PIDFILE_MAX_BYTES: u64 = 4096;

/// Look for the processes `spec` describes: those whose name or command
/// line matches `pattern`, and the one the pidfile names. Never this
/// process itself, never kernel threads. The `/proc` reads run on the
/// blocking pool.
pub async fn run(spec: &ProcessSpec, ctx: &ProbeContext) -> ProcessObservation {
    let _ = ctx;
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
    obs.processes = found.into_iter().map(|(_, p)| p).collect();
    obs
}

/// Read a pidfile and look at the process it names.
fn read_pidfile(path: &Path) -> (PidfileState, Option<procfs::Stat>) {
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
