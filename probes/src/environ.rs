//! The environment probe: are the variables an application needs set in
//! the environment of the running process? It reads `/proc/PID/environ`
//! and keeps NAMES ONLY: a value is never stored, logged, printed or put in
//! an error — each entry is cut to its name the moment it is parsed.
//!
//! `/proc/PID/environ` is the environment the process was *exec'd* with. A
//! variable the process set or removed itself later (`setenv`, `os.environ`)
//! does not show; one that was missing at start is what a deploy gets wrong.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::process::{self, PidfileState};
use crate::{Failure, FailureKind, Phase, ProbeContext, procfs};

/// At most this many bytes of one process's environment are read.
pub const MAX_ENVIRON_BYTES: u64 = 1024 * 1024;

/// At most this many matching processes are looked at (a pre-fork server
/// with hundreds of identical workers needs only a few).
pub const MAX_PROCESSES: usize = 64;

/// What grants access to another user's `/proc/PID/environ`.
const ACCESS_HINT: &str = "reading another user's process environment needs root or \
                           CAP_SYS_PTRACE (ptrace read access to the process)";

/// Which processes to look at and which names they need.
#[derive(Debug, Clone, Default)]
pub struct EnvironSpec {
    /// Matches the process name or a command-line substring, as
    /// [`process::matches`] does.
    pub pattern: Option<String>,
    /// A pidfile naming the process.
    pub pidfile: Option<PathBuf>,
    /// Explicit pids (from another probe's observation).
    pub pids: Vec<u32>,
    /// Variable names that must be set and non-empty.
    pub required: Vec<String>,
}

/// The required names as one process sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEnv {
    pub pid: u32,
    /// `comm`.
    pub name: String,
    /// Required names not in the environment.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub missing: Vec<String>,
    /// Required names set to the empty string.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub empty: Vec<String>,
    /// Required names set to a non-empty value (the value is not kept).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub present: Vec<String>,
    /// How many variables the environment holds.
    pub variables: usize,
    /// True when the environment was larger than [`MAX_ENVIRON_BYTES`]: a
    /// name reported missing may lie beyond what was read.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub truncated: bool,
    /// Why this process's environment could not be read; `missing`,
    /// `empty` and `present` are then empty.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// What the environment probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironObservation {
    /// The required names, as asked.
    pub required: Vec<String>,
    /// Matching processes, by pid.
    pub processes: Vec<ProcessEnv>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pidfile: Option<PidfileState>,
    /// Processes looked at while matching.
    pub scanned: usize,
    /// True when more than [`MAX_PROCESSES`] matched; the rest were not read.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub truncated: bool,
    /// `NotFound` when no process matched; `PermissionDenied` when none of
    /// the matching processes' environments could be read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

/// The names in a NUL-separated `NAME=value` block, in order, each once,
/// with whether its value is empty. Values are looked at only for
/// emptiness and never copied. Entries without `=` are skipped.
pub fn parse_environ_names(bytes: &[u8]) -> Vec<(String, bool)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for entry in bytes.split(|b| *b == 0) {
        let Some(eq) = entry.iter().position(|b| *b == b'=') else {
            continue;
        };
        let name = String::from_utf8_lossy(&entry[..eq]).into_owned();
        if name.is_empty() || !seen.insert(name.clone()) {
            continue;
        }
        out.push((name, eq + 1 == entry.len()));
    }
    out
}

/// Sort `required` into missing, empty and present against `names`.
pub fn classify(required: &[String], names: &[(String, bool)], env: &mut ProcessEnv) {
    for want in required {
        match names.iter().find(|(n, _)| n == want) {
            None => env.missing.push(want.clone()),
            Some((_, true)) => env.empty.push(want.clone()),
            Some((_, false)) => env.present.push(want.clone()),
        }
    }
}

/// Look at the environments of the processes `spec` describes. Never this
/// process itself, never kernel threads. The reads run on the blocking pool.
pub async fn run(spec: &EnvironSpec, ctx: &ProbeContext) -> EnvironObservation {
    let _ = ctx;
    let spec = spec.clone();
    let required = spec.required.clone();
    match process::local_blocking("environment scan", move || observe(&spec)).await {
        Ok(obs) => obs,
        Err(failure) => EnvironObservation {
            required,
            failure: Some(failure),
            ..EnvironObservation::default()
        },
    }
}

fn observe(spec: &EnvironSpec) -> EnvironObservation {
    let me = std::process::id();
    let mut obs = EnvironObservation {
        required: spec.required.clone(),
        ..EnvironObservation::default()
    };
    // pid → comm, ascending.
    let mut found: std::collections::BTreeMap<u32, String> = std::collections::BTreeMap::new();

    if let Some(pattern) = spec.pattern.as_deref().filter(|p| !p.is_empty()) {
        match procfs::list_pids() {
            Ok((pids, _)) => {
                for pid in pids.into_iter().filter(|p| *p != me) {
                    let Ok(stat) = procfs::read_stat(pid) else {
                        continue;
                    };
                    obs.scanned += 1;
                    if stat.is_kernel_thread() {
                        continue;
                    }
                    let args = procfs::read_cmdline(pid).unwrap_or_default();
                    if process::matches(pattern, &stat.comm, &args) {
                        found.insert(pid, stat.comm);
                    }
                }
            }
            Err(e) => {
                obs.failure = Some(Failure::from_io(&e, Phase::Local, "list /proc"));
                return obs;
            }
        }
    }
    if let Some(path) = &spec.pidfile {
        let (state, stat) = process::read_pidfile(path);
        if let Some(stat) = stat.filter(|s| !s.is_kernel_thread()) {
            found.entry(stat.pid).or_insert(stat.comm);
        }
        obs.pidfile = Some(state);
    }
    for &pid in &spec.pids {
        if let Ok(stat) = procfs::read_stat(pid)
            && !stat.is_kernel_thread()
        {
            found.entry(pid).or_insert(stat.comm);
        }
    }

    if found.len() > MAX_PROCESSES {
        obs.truncated = true;
    }
    for (pid, name) in found.into_iter().take(MAX_PROCESSES) {
        if let Some(env) = read_process_env(pid, name, &spec.required) {
            obs.processes.push(env);
        }
    }

    if obs.processes.is_empty() {
        obs.failure = Some(Failure::new(
            FailureKind::NotFound,
            Phase::Local,
            format!("no process matches {}", describe(spec)),
        ));
    } else if obs.processes.iter().all(|p| p.failure.is_some()) {
        let denied = obs.processes.iter().find(|p| {
            p.failure
                .as_ref()
                .is_some_and(|f| f.kind == FailureKind::PermissionDenied)
        });
        obs.failure = Some(match denied {
            Some(p) => Failure::new(
                FailureKind::PermissionDenied,
                Phase::Local,
                format!("/proc/{}/environ: permission denied; {ACCESS_HINT}", p.pid),
            ),
            None => obs
                .processes
                .iter()
                .find_map(|p| p.failure.clone())
                .unwrap_or_else(|| Failure::new(FailureKind::Other, Phase::Local, "unreadable")),
        });
    }
    obs
}

/// What the spec asked for, for a `NotFound` detail.
fn describe(spec: &EnvironSpec) -> String {
    let mut what = Vec::new();
    if let Some(p) = &spec.pattern {
        what.push(format!("{p:?}"));
    }
    if let Some(f) = &spec.pidfile {
        what.push(format!("pidfile {}", f.display()));
    }
    if !spec.pids.is_empty() {
        what.push(format!("pids {:?}", spec.pids));
    }
    if what.is_empty() {
        "nothing (no pattern, pidfile or pid given)".to_string()
    } else {
        what.join(" or ")
    }
}

/// One process's environment checked against `required`; `None` when the
/// process vanished meanwhile.
fn read_process_env(pid: u32, name: String, required: &[String]) -> Option<ProcessEnv> {
    let mut env = ProcessEnv {
        pid,
        name,
        ..ProcessEnv::default()
    };
    // A zombie has no memory left to read its environment from.
    match procfs::read_stat(pid) {
        Ok(stat) if stat.is_zombie() => {
            env.failure = Some(Failure::new(
                FailureKind::Other,
                Phase::Local,
                format!("process {pid} is a zombie: its environment is gone"),
            ));
            return Some(env);
        }
        Err(e) if procfs::is_vanished(&e) => return None,
        _ => {}
    }
    match read_environ(&Path::new("/proc").join(pid.to_string()).join("environ")) {
        Ok((names, truncated)) => {
            env.variables = names.len();
            env.truncated = truncated;
            classify(required, &names, &mut env);
            Some(env)
        }
        Err(e) if procfs::is_vanished(&e) => None,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            env.failure = Some(Failure::new(
                FailureKind::PermissionDenied,
                Phase::Local,
                format!("/proc/{pid}/environ: permission denied; {ACCESS_HINT}"),
            ));
            Some(env)
        }
        Err(e) => {
            // The OS error only: never any of the bytes read.
            env.failure = Some(Failure::from_io(
                &e,
                Phase::Local,
                &format!("read /proc/{pid}/environ"),
            ));
            Some(env)
        }
    }
}

/// Read an environ file, at most [`MAX_ENVIRON_BYTES`], straight into names.
fn read_environ(path: &Path) -> std::io::Result<(Vec<(String, bool)>, bool)> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_ENVIRON_BYTES + 1).read_to_end(&mut bytes)?;
    let truncated = bytes.len() as u64 > MAX_ENVIRON_BYTES;
    if truncated {
        // Drop the partial last entry, then the extra byte.
        bytes.truncate(MAX_ENVIRON_BYTES as usize);
        let end = bytes.iter().rposition(|b| *b == 0).map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    let names = parse_environ_names(&bytes);
    // Overwrite the values before the buffer is freed.
    bytes.fill(0);
    Ok((names, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_only_with_emptiness() {
        let block = b"PATH=/usr/bin\0DATABASE_URL=postgres://u:hunter2@db/x\0EMPTY=\0NOEQ\0=weird\0PATH=again\0A=b=c\0";
        let names = parse_environ_names(block);
        assert_eq!(
            names,
            vec![
                ("PATH".to_string(), false),
                ("DATABASE_URL".to_string(), false),
                ("EMPTY".to_string(), true),
                ("A".to_string(), false),
            ]
        );
        assert!(!format!("{names:?}").contains("hunter2"));
        assert!(parse_environ_names(b"").is_empty());
    }

    #[test]
    fn classify_sorts_required_names() {
        let names = parse_environ_names(b"SET=1\0EMPTY=\0");
        let mut env = ProcessEnv::default();
        let required = ["SET", "EMPTY", "GONE"].map(String::from);
        classify(&required, &names, &mut env);
        assert_eq!(env.present, ["SET"]);
        assert_eq!(env.empty, ["EMPTY"]);
        assert_eq!(env.missing, ["GONE"]);
    }

    #[test]
    fn an_environ_over_the_limit_is_cut_at_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("environ");
        let mut block = b"FIRST=1\0".to_vec();
        let filler = format!("BIG={}\0", "x".repeat(MAX_ENVIRON_BYTES as usize));
        block.extend_from_slice(filler.as_bytes());
        block.extend_from_slice(b"LAST=1\0");
        std::fs::write(&path, &block).unwrap();
        let (names, truncated) = read_environ(&path).unwrap();
        assert!(truncated);
        assert_eq!(names, vec![("FIRST".to_string(), false)]);
    }
}
