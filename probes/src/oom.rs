//! The OOM probe: which processes the kernel's out-of-memory killer killed
//! recently, read from the kernel log (`/dev/kmsg`, else `dmesg -r`).
//!
//! One kill leaves up to three lines, merged here into one [`OomEvent`] by
//! pid: the summary (`oom-kill:constraint=...,task=NAME,pid=N,uid=N`), the
//! kill (`Out of memory: Killed process N (NAME) total-vm:..kB,
//! anon-rss:..kB, ...` or `Memory cgroup out of memory: Killed process ...`)
//! and, later, `oom_reaper: reaped process N (NAME)`. The parsers are pure
//! and tested on kernel text; the readers are bounded in records, bytes and
//! time. In a container the kernel log is the host's: pids are the host's.

use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::units::UnixTime;
use crate::{Failure, FailureKind, Phase, ProbeContext, context, procfs};

/// At most this many kernel log records are read in one scan.
pub const MAX_RECORDS: usize = 100_000;

/// At most this many bytes of kernel log are read in one scan. The kernel
/// keeps 128 KiB to a few MiB (`CONFIG_LOG_BUF_SHIFT`, `log_buf_len=`).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// At most this many OOM lines are kept while scanning (the newest).
const MAX_OOM_LINES: usize = 4096;

/// Lines of one kill are merged when they are at most this far apart.
const MERGE_WINDOW_USEC: u64 = 60_000_000;

/// The kernel log device: one record per `read`.
const KMSG: &str = "/dev/kmsg";

/// What grants access to the kernel log.
const ACCESS_HINT: &str =
    "reading the kernel log needs root or CAP_SYSLOG (see sysctl kernel.dmesg_restrict)";

/// Which OOM kills to report.
#[derive(Debug, Clone, Default)]
pub struct OomSpec {
    /// Only kills at most this long ago.
    pub window: Duration,
    /// Process names (or paths, or patterns) the agent cares about; each
    /// event records which of them its victim matches ([`name_matches`]).
    pub names: Vec<String>,
}

/// The kernel's `oom_constraint`: why the OOM killer ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OomConstraint {
    /// `CONSTRAINT_NONE`: the whole machine ran out of memory.
    None,
    /// `CONSTRAINT_CPUSET`: the memory nodes of a cpuset ran out.
    Cpuset,
    /// `CONSTRAINT_MEMORY_POLICY`: the nodes of a memory policy ran out.
    MemoryPolicy,
    /// `CONSTRAINT_MEMCG`: a memory cgroup hit its limit.
    Memcg,
    /// A name this parser does not know.
    #[serde(other)]
    Other,
}

impl OomConstraint {
    /// The constraint of a kernel `CONSTRAINT_*` name.
    pub fn from_kernel(s: &str) -> Self {
        match s {
            "CONSTRAINT_NONE" => Self::None,
            "CONSTRAINT_CPUSET" => Self::Cpuset,
            "CONSTRAINT_MEMORY_POLICY" => Self::MemoryPolicy,
            "CONSTRAINT_MEMCG" => Self::Memcg,
            _ => Self::Other,
        }
    }
}

/// Where the kernel log was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelLogSource {
    /// `/dev/kmsg`.
    Kmsg,
    /// The output of `dmesg -r`.
    Dmesg,
}

/// One process killed by the OOM killer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomEvent {
    /// When, converted from the kernel's boot-relative timestamp (now −
    /// uptime + timestamp; off by the time the machine spent suspended).
    pub at: UnixTime,
    /// The kernel's timestamp, microseconds since boot.
    pub boot_usec: u64,
    /// The victim's pid (the host's, seen from a container).
    pub pid: u32,
    /// The victim's `comm` (at most 15 bytes).
    pub process: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uid: Option<u32>,
    /// Anonymous memory the victim held when killed, in KiB.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub anon_rss_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub total_vm_kb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file_rss_kb: Option<u64>,
    /// The victim's memory cgroup (`task_memcg`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cgroup: Option<String>,
    /// The memory cgroup whose limit was hit (`oom_memcg`); only for a
    /// cgroup OOM.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub oom_cgroup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub constraint: Option<OomConstraint>,
    /// The OOM reaper freed its memory.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub reaped: bool,
    /// The names of the spec this victim matches.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub matches: Vec<String>,
}

/// The kills that matched one name of the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameMatch {
    pub name: String,
    /// How many events in the window matched it.
    pub events: usize,
    /// The newest of them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_at: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_pid: Option<u32>,
}

/// What the OOM probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OomObservation {
    /// The window looked at, in seconds.
    pub window_secs: u64,
    /// Kills within the window, oldest first.
    pub events: Vec<OomEvent>,
    /// One entry per name of the spec, in order, also when nothing matched.
    pub matched: Vec<NameMatch>,
    /// Kernel log records read.
    pub records_scanned: usize,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<KernelLogSource>,
    /// True when the scan stopped at a bound ([`MAX_RECORDS`],
    /// [`MAX_BYTES`] or the time budget) before the end of the log.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub truncated: bool,
    /// Why the kernel log could not be read (`PermissionDenied` without
    /// root or `CAP_SYSLOG`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

// ---------------------------------------------------------------- parsers

/// One kernel log record: its boot-relative timestamp and its message
/// (the first line; `/dev/kmsg` continuation lines are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelRecord<'a> {
    /// Microseconds since boot.
    pub usec: u64,
    pub message: &'a str,
}

/// Parse one `/dev/kmsg` record: `prio,seq,usec,flags[,...];message`,
/// optionally followed by ` KEY=value` continuation lines.
pub fn parse_kmsg_record(s: &str) -> Option<KernelRecord<'_>> {
    let (header, rest) = s.split_once(';')?;
    let mut fields = header.split(',');
    fields.next()?.parse::<u32>().ok()?;
    fields.next()?.parse::<u64>().ok()?;
    let usec = fields.next()?.parse().ok()?;
    let message = rest.split('\n').next().unwrap_or("");
    Some(KernelRecord { usec, message })
}

/// Parse one line of `dmesg -r` (or plain `dmesg`) output:
/// `<prio>[ seconds.micros] message`. Lines without a timestamp (printk
/// time off) give `None`: they cannot be placed in time.
pub fn parse_dmesg_line(s: &str) -> Option<KernelRecord<'_>> {
    let mut s = s.trim_end_matches(['\n', '\r']);
    if let Some(rest) = s.strip_prefix('<') {
        let (prio, rest) = rest.split_once('>')?;
        prio.parse::<u32>().ok()?;
        s = rest;
    }
    let (stamp, message) = s.strip_prefix('[')?.split_once(']')?;
    let (secs, frac) = stamp.trim().split_once('.')?;
    let secs: u64 = secs.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Scale the fraction to microseconds whatever its width.
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    let micros: u64 = digits.parse().ok()?;
    Some(KernelRecord {
        usec: secs.saturating_mul(1_000_000).saturating_add(micros),
        message: message.strip_prefix(' ').unwrap_or(message),
    })
}

/// An OOM-killer line of the kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OomLine {
    /// `oom-kill:constraint=...,oom_memcg=...,task_memcg=...,task=NAME,pid=N,uid=N`
    Summary {
        constraint: Option<OomConstraint>,
        oom_memcg: Option<String>,
        task_memcg: Option<String>,
        task: String,
        pid: u32,
        uid: Option<u32>,
    },
    /// `[Memory cgroup ]Out of memory: Killed process N (NAME) total-vm:..kB, ...`
    /// (kernels before 4.19 print only `Killed process N (NAME) ...`).
    Killed {
        memcg: bool,
        pid: u32,
        name: String,
        total_vm_kb: Option<u64>,
        anon_rss_kb: Option<u64>,
        file_rss_kb: Option<u64>,
        uid: Option<u32>,
    },
    /// `oom_reaper: reaped process N (NAME), now anon-rss:0kB, ...`
    Reaped { pid: u32, name: String },
}

impl OomLine {
    fn pid(&self) -> u32 {
        match self {
            Self::Summary { pid, .. } | Self::Killed { pid, .. } | Self::Reaped { pid, .. } => *pid,
        }
    }
}

/// Parse a kernel log message into an OOM line; `None` for anything else.
pub fn parse_oom_line(msg: &str) -> Option<OomLine> {
    if let Some(rest) = msg.strip_prefix("oom-kill:") {
        return parse_summary(rest);
    }
    if let Some(rest) = msg.strip_prefix("oom_reaper: reaped process ") {
        let (pid, name) = pid_and_name(rest, "), now")?;
        return Some(OomLine::Reaped { pid, name });
    }
    let at = msg.find("Killed process ")?;
    let (pid, name) = pid_and_name(&msg[at + "Killed process ".len()..], ") total-vm:")?;
    Some(OomLine::Killed {
        memcg: msg[..at].contains("Memory cgroup out of memory"),
        pid,
        name,
        total_vm_kb: number_after(msg, "total-vm:"),
        anon_rss_kb: number_after(msg, "anon-rss:"),
        file_rss_kb: number_after(msg, "file-rss:"),
        uid: number_after(msg, "UID:").and_then(|u| u32::try_from(u).ok()),
    })
}

/// `1234 (my name) rest` → (1234, "my name"), the name ending at `end`
/// (a name may hold `)` and spaces), else at the last `)`.
fn pid_and_name(s: &str, end: &str) -> Option<(u32, String)> {
    let (pid, rest) = s.split_once(' ')?;
    let pid = pid.parse().ok()?;
    let rest = rest.strip_prefix('(')?;
    let close = rest.find(end).or_else(|| rest.rfind(')'))?;
    Some((pid, rest[..close].to_string()))
}

/// The decimal number right after `key` in `s`.
fn number_after(s: &str, key: &str) -> Option<u64> {
    let at = s.find(key)? + key.len();
    let digits: &str = &s[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The part after `oom-kill:`. The task name is the last variable field
/// and may hold commas, so it is cut from the right at `,pid=`.
fn parse_summary(s: &str) -> Option<OomLine> {
    let pid_at = s.rfind(",pid=")?;
    let tail = &s[pid_at + ",pid=".len()..];
    let (pid, uid) = match tail.split_once(",uid=") {
        Some((pid, uid)) => (pid, uid.trim().parse().ok()),
        None => (tail.trim(), None),
    };
    let pid = pid.parse().ok()?;
    let head = &s[..pid_at];
    let task_at = head.find(",task=").map(|i| i + 1).or_else(|| {
        // `task=` first: nothing before it.
        head.starts_with("task=").then_some(0)
    })?;
    let task = head[task_at + "task=".len()..].to_string();
    let fields = &head[..task_at.saturating_sub(1)];
    let value = |key: &str, until: Option<&str>| -> Option<String> {
        let at = fields.find(key)? + key.len();
        let rest = &fields[at..];
        let end = until.and_then(|u| rest.find(u)).unwrap_or(rest.len());
        Some(rest[..end].to_string())
    };
    let constraint = value("constraint=", Some(",")).map(|c| OomConstraint::from_kernel(&c));
    let oom_memcg = value("oom_memcg=", Some(",task_memcg="));
    let task_memcg = value("task_memcg=", None);
    Some(OomLine::Summary {
        constraint,
        oom_memcg,
        task_memcg,
        task,
        pid,
        uid,
    })
}

/// Whether a spec name matches an OOM victim's `comm`: equal to the name
/// or its base name (`/usr/bin/python3` → `python3`); a prefix of it when
/// the kernel cut `comm` to 15 bytes; or `comm` is the name followed by `:`
/// or a space (a retitled worker such as `gunicorn: worke`).
pub fn name_matches(name: &str, process: &str) -> bool {
    if name.is_empty() || process.is_empty() {
        return false;
    }
    let base = name.rsplit('/').next().unwrap_or(name);
    if process == name || process == base {
        return true;
    }
    if process.len() >= 15 && base.starts_with(process) {
        return true;
    }
    process
        .strip_prefix(base)
        .is_some_and(|rest| rest.starts_with(':') || rest.starts_with(' '))
}

/// Merges OOM lines, in log order, into events.
#[derive(Debug, Default)]
struct Collector {
    /// (usec, line), the newest [`MAX_OOM_LINES`].
    lines: std::collections::VecDeque<(u64, OomLine)>,
    records: usize,
    bytes: usize,
}

impl Collector {
    fn push(&mut self, record: KernelRecord<'_>) {
        self.records += 1;
        let m = record.message;
        // Cheap filter first: most records are not about OOM.
        if !(m.starts_with("oom") || m.contains("Killed process ")) {
            return;
        }
        if let Some(line) = parse_oom_line(m) {
            if self.lines.len() >= MAX_OOM_LINES {
                self.lines.pop_front();
            }
            self.lines.push_back((record.usec, line));
        }
    }
}

/// Merge OOM lines (in log order) into one event per kill: lines of the same
/// pid within a minute of each other are the same kill. `at` is left 0.
pub fn merge_events(lines: impl IntoIterator<Item = (u64, OomLine)>) -> Vec<OomEvent> {
    let mut events: Vec<OomEvent> = Vec::new();
    for (usec, line) in lines {
        let pid = line.pid();
        let same = events.iter().rposition(|e| {
            e.pid == pid && usec.abs_diff(e.boot_usec) <= MERGE_WINDOW_USEC && !e.reaped
        });
        let event = if let Some(i) = same {
            &mut events[i]
        } else {
            events.push(OomEvent {
                at: UnixTime(0),
                boot_usec: usec,
                pid,
                process: String::new(),
                uid: None,
                anon_rss_kb: None,
                total_vm_kb: None,
                file_rss_kb: None,
                cgroup: None,
                oom_cgroup: None,
                constraint: None,
                reaped: false,
                matches: Vec::new(),
            });
            let last = events.len() - 1;
            &mut events[last]
        };
        match line {
            OomLine::Summary {
                constraint,
                oom_memcg,
                task_memcg,
                task,
                uid,
                ..
            } => {
                event.constraint = constraint.or(event.constraint);
                event.oom_cgroup = oom_memcg.or(event.oom_cgroup.take());
                event.cgroup = task_memcg.or(event.cgroup.take());
                event.uid = uid.or(event.uid);
                if event.process.is_empty() {
                    event.process = task;
                }
            }
            OomLine::Killed {
                memcg,
                name,
                total_vm_kb,
                anon_rss_kb,
                file_rss_kb,
                uid,
                ..
            } => {
                event.process = name;
                event.total_vm_kb = total_vm_kb;
                event.anon_rss_kb = anon_rss_kb;
                event.file_rss_kb = file_rss_kb;
                event.uid = event.uid.or(uid);
                if memcg && event.constraint.is_none() {
                    event.constraint = Some(OomConstraint::Memcg);
                }
            }
            OomLine::Reaped { name, .. } => {
                event.reaped = true;
                if event.process.is_empty() {
                    event.process = name;
                }
            }
        }
    }
    events
}

/// Place events in wall time (`boot` = the boot time in seconds since the
/// epoch), keep those at or after `since`, and record which names match.
pub fn finish(
    events: Vec<OomEvent>,
    boot: f64,
    since: i64,
    names: &[String],
) -> (Vec<OomEvent>, Vec<NameMatch>) {
    let mut kept = Vec::new();
    for mut e in events {
        e.at = UnixTime((boot + e.boot_usec as f64 / 1e6).floor() as i64);
        if e.at.0 < since {
            continue;
        }
        e.matches = names
            .iter()
            .filter(|n| name_matches(n, &e.process))
            .cloned()
            .collect();
        kept.push(e);
    }
    kept.sort_by_key(|e| e.boot_usec);
    let matched = names
        .iter()
        .map(|n| {
            let hits: Vec<&OomEvent> = kept.iter().filter(|e| e.matches.contains(n)).collect();
            NameMatch {
                name: n.clone(),
                events: hits.len(),
                last_at: hits.last().map(|e| e.at),
                last_pid: hits.last().map(|e| e.pid),
            }
        })
        .collect();
    (kept, matched)
}

// ---------------------------------------------------------------- readers

/// How the scan ended.
#[derive(Debug, Default)]
struct Scan {
    collector: Collector,
    truncated: bool,
}

/// Read `/dev/kmsg` from its oldest record until `EAGAIN`, bounded by
/// [`MAX_RECORDS`], [`MAX_BYTES`] and `deadline`.
fn read_kmsg(deadline: Instant) -> io::Result<Scan> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(KMSG)?;
    let mut scan = Scan::default();
    // A record is at most 8 KiB (`CONSOLE_EXT_LOG_MAX`); a shorter buffer
    // makes the read fail with EINVAL.
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if scan.collector.records >= MAX_RECORDS
            || scan.collector.bytes >= MAX_BYTES
            || Instant::now() >= deadline
        {
            scan.truncated = true;
            break;
        }
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                scan.collector.bytes += n;
                let text = String::from_utf8_lossy(&buf[..n]);
                if let Some(record) = parse_kmsg_record(&text) {
                    scan.collector.push(record);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // EPIPE: the record we were at was overwritten; go on with the next.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if scan.collector.records == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(scan)
}

/// Parse `dmesg -r` output.
fn scan_dmesg_text(text: &str, truncated: bool) -> Scan {
    let mut scan = Scan {
        truncated,
        ..Scan::default()
    };
    for line in text.lines() {
        scan.collector.bytes += line.len() + 1;
        if let Some(record) = parse_dmesg_line(line) {
            scan.collector.push(record);
        }
    }
    scan
}

/// Run `dmesg -r` within `budget`, reading at most [`MAX_BYTES`].
async fn read_dmesg(budget: Duration) -> Result<Scan, Failure> {
    let mut child = tokio::process::Command::new("dmesg")
        .arg("-r")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::from_io(&e, Phase::Local, "run dmesg -r"))?;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        if let Some(s) = stdout {
            s.take(MAX_BYTES as u64 + 1).read_to_end(&mut out).await?;
        }
        if let Some(s) = stderr {
            s.take(4096).read_to_end(&mut err).await?;
        }
        child.wait().await
    };
    let status = match tokio::time::timeout(budget, work).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(Failure::from_io(&e, Phase::Local, "read dmesg -r")),
        Err(_) => {
            return Err(Failure::timeout(
                Phase::Local,
                format!("dmesg -r took longer than {} ms", budget.as_millis()),
            ));
        }
    };
    let truncated = out.len() > MAX_BYTES;
    if !status.success() && out.is_empty() {
        let why = String::from_utf8_lossy(&err).trim().to_string();
        let kind = if why.contains("not permitted") || why.contains("denied") {
            FailureKind::PermissionDenied
        } else {
            FailureKind::Other
        };
        return Err(Failure::new(
            kind,
            Phase::Local,
            format!("dmesg -r: {status}: {why}"),
        ));
    }
    out.truncate(MAX_BYTES);
    let text = String::from_utf8_lossy(&out).into_owned();
    Ok(
        tokio::task::spawn_blocking(move || scan_dmesg_text(&text, truncated))
            .await
            .unwrap_or_default(),
    )
}

/// Boot time in seconds since the epoch: now − uptime, else `btime`.
fn boot_time() -> Option<f64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    match procfs::read_uptime() {
        Ok(up) => Some(now - up),
        Err(_) => procfs::read_btime().ok().map(|b| b as f64),
    }
}

/// The value of `kernel.dmesg_restrict`, for a permission failure's detail.
fn dmesg_restrict() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/dmesg_restrict")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Scan the kernel log for OOM kills within `spec.window`. Reads
/// `/dev/kmsg` on the blocking pool; when it cannot be opened, runs
/// `dmesg -r`. Never fails: an unreadable log is a failure inside.
pub async fn run(spec: &OomSpec, ctx: &ProbeContext) -> OomObservation {
    let _ = ctx;
    let mut obs = OomObservation {
        window_secs: spec.window.as_secs(),
        matched: spec
            .names
            .iter()
            .map(|n| NameMatch {
                name: n.clone(),
                ..NameMatch::default()
            })
            .collect(),
        ..OomObservation::default()
    };
    let budget = context::LOCAL_PROBE_TIMEOUT;
    // Stop reading a little before the budget, to still report what was read.
    let deadline = Instant::now() + budget.mul_f32(0.75);
    let kmsg = tokio::time::timeout(
        budget,
        tokio::task::spawn_blocking(move || read_kmsg(deadline)),
    )
    .await;
    let scan = match kmsg {
        Ok(Ok(Ok(scan))) => {
            obs.source = Some(KernelLogSource::Kmsg);
            scan
        }
        Ok(Ok(Err(kmsg_err))) => match read_dmesg(budget.mul_f32(0.75)).await {
            Ok(scan) => {
                obs.source = Some(KernelLogSource::Dmesg);
                scan
            }
            Err(dmesg_failure) => {
                obs.failure = Some(unreadable(&kmsg_err, &dmesg_failure));
                return obs;
            }
        },
        Ok(Err(e)) => {
            obs.failure = Some(Failure::new(
                FailureKind::Other,
                Phase::Local,
                format!("kernel log scan did not finish: {e}"),
            ));
            return obs;
        }
        Err(_) => {
            obs.failure = Some(Failure::timeout(
                Phase::Local,
                format!("reading {KMSG} took longer than {} ms", budget.as_millis()),
            ));
            return obs;
        }
    };
    obs.records_scanned = scan.collector.records;
    obs.truncated = scan.truncated;
    let Some(boot) = boot_time() else {
        obs.failure = Some(Failure::new(
            FailureKind::Other,
            Phase::Local,
            "neither /proc/uptime nor /proc/stat btime is readable: cannot place kernel times",
        ));
        return obs;
    };
    let window = i64::try_from(spec.window.as_secs()).unwrap_or(i64::MAX);
    let since = UnixTime::now().0.saturating_sub(window);
    let events = merge_events(scan.collector.lines);
    (obs.events, obs.matched) = finish(events, boot, since, &spec.names);
    obs
}

/// The failure when neither `/dev/kmsg` nor `dmesg` could be read.
fn unreadable(kmsg_err: &io::Error, dmesg: &Failure) -> Failure {
    let denied = kmsg_err.kind() == io::ErrorKind::PermissionDenied
        || dmesg.kind == FailureKind::PermissionDenied;
    if denied {
        let restrict = dmesg_restrict()
            .map(|v| format!(" (kernel.dmesg_restrict = {v})"))
            .unwrap_or_default();
        return Failure::new(
            FailureKind::PermissionDenied,
            Phase::Local,
            format!("{KMSG}: {kmsg_err}; {dmesg}; {ACCESS_HINT}{restrict}"),
        );
    }
    let kind = if kmsg_err.kind() == io::ErrorKind::NotFound {
        FailureKind::NotFound
    } else {
        FailureKind::Other
    };
    Failure::new(kind, Phase::Local, format!("{KMSG}: {kmsg_err}; {dmesg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMCG_V1: &str = include_str!("../tests/fixtures/kmsg/memcg_v1.kmsg");
    const GLOBAL_V2: &str = include_str!("../tests/fixtures/kmsg/global_v2.kmsg");
    const LEGACY_4X: &str = include_str!("../tests/fixtures/kmsg/legacy_4x.kmsg");
    const DMESG_RAW: &str = include_str!("../tests/fixtures/kmsg/dmesg_raw.txt");

    /// Split a saved `/dev/kmsg` dump into records the way `read` returns
    /// them: a record starts at a line that does not begin with a space.
    fn kmsg_records(dump: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in dump.lines() {
            match out.last_mut() {
                Some(last) if line.starts_with(' ') => {
                    last.push('\n');
                    last.push_str(line);
                }
                _ => out.push(line.to_string()),
            }
        }
        out
    }

    fn events_of(dump: &str) -> Vec<OomEvent> {
        let records = kmsg_records(dump);
        let mut c = Collector::default();
        for r in &records {
            c.push(parse_kmsg_record(r).unwrap());
        }
        assert_eq!(c.records, records.len());
        merge_events(c.lines)
    }

    #[test]
    fn kmsg_record_header_and_continuation() {
        let r = parse_kmsg_record(
            "5,341,1271371,-;virtio_blk virtio1: [vda] new size\n SUBSYSTEM=virtio\n",
        )
        .unwrap();
        assert_eq!(r.usec, 1_271_371);
        assert_eq!(r.message, "virtio_blk virtio1: [vda] new size");
        // Extra header fields after the flags are allowed.
        let r = parse_kmsg_record("6,1,2,c,caller=T1;x").unwrap();
        assert_eq!((r.usec, r.message), (2, "x"));
        assert_eq!(parse_kmsg_record("no header"), None);
        assert_eq!(parse_kmsg_record("a,b,c,-;x"), None);
    }

    #[test]
    fn dmesg_lines_with_and_without_priority() {
        let r = parse_dmesg_line("<3>[ 3471.720051] Memory cgroup out of memory").unwrap();
        assert_eq!(
            (r.usec, r.message),
            (3_471_720_051, "Memory cgroup out of memory")
        );
        let r = parse_dmesg_line("[   12.5] x").unwrap();
        assert_eq!(r.usec, 12_500_000);
        assert_eq!(parse_dmesg_line("<6>no time"), None);
        assert_eq!(parse_dmesg_line("[Thu Nov 26 09:30:00 2026] x"), None);
    }

    #[test]
    fn memcg_kill_from_this_kernel() {
        let events = events_of(MEMCG_V1);
        assert_eq!(events.len(), 1, "{events:#?}");
        let e = &events[0];
        assert_eq!((e.pid, e.process.as_str()), (2642, "python3"));
        assert_eq!(e.boot_usec, 3_471_720_026);
        assert_eq!(e.anon_rss_kb, Some(32_512));
        assert_eq!(e.total_vm_kb, Some(278_712));
        assert_eq!(e.file_rss_kb, Some(6100));
        assert_eq!(e.uid, Some(0));
        assert_eq!(e.constraint, Some(OomConstraint::Memcg));
        assert_eq!(e.cgroup.as_deref(), Some("/why5xx-probe-try"));
        assert_eq!(e.oom_cgroup.as_deref(), Some("/why5xx-probe-try"));
        assert!(!e.reaped);
    }

    #[test]
    fn global_and_retitled_memcg_kills() {
        let events = events_of(GLOBAL_V2);
        assert_eq!(events.len(), 2, "{events:#?}");
        let g = &events[0];
        assert_eq!((g.pid, g.process.as_str()), (43056, "colmap"));
        assert_eq!(g.constraint, Some(OomConstraint::None));
        assert_eq!(g.oom_cgroup, None);
        assert_eq!(
            g.cgroup.as_deref(),
            Some("/user.slice/user-1000.slice/user@1000.service/app.slice/colmap.scope")
        );
        assert_eq!((g.anon_rss_kb, g.uid), (Some(13_553_456), Some(1000)));
        assert!(g.reaped);
        let w = &events[1];
        assert_eq!((w.pid, w.process.as_str()), (4121, "gunicorn: worke"));
        assert_eq!(w.cgroup.as_deref(), Some("/system.slice/app.service"));
        assert_eq!(w.constraint, Some(OomConstraint::Memcg));
        assert_eq!(w.uid, Some(33));
    }

    #[test]
    fn kernels_before_4_19_print_only_killed_process() {
        let events = events_of(LEGACY_4X);
        let got: Vec<(u32, &str, Option<u64>, bool)> = events
            .iter()
            .map(|e| (e.pid, e.process.as_str(), e.anon_rss_kb, e.reaped))
            .collect();
        assert_eq!(
            got,
            vec![
                (2279, "Web Content", Some(1_694_156), true),
                (7268, "a.out", Some(84), true)
            ]
        );
        // "Kill process ... or sacrifice child" chose a victim; it is not a kill.
        assert_eq!(
            parse_oom_line("Out of memory: Kill process 7268 (a.out) score 999 or sacrifice child"),
            None
        );
    }

    #[test]
    fn dmesg_output_gives_the_same_event() {
        let scan = scan_dmesg_text(DMESG_RAW, false);
        let events = merge_events(scan.collector.lines);
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].pid, events[0].anon_rss_kb), (2642, Some(32_512)));
        assert_eq!(events[0].constraint, Some(OomConstraint::Memcg));
    }

    #[test]
    fn summary_with_commas_in_the_task_name() {
        let line = parse_oom_line(
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=we,ird,pid=7,uid=1",
        );
        assert_eq!(
            line,
            Some(OomLine::Summary {
                constraint: Some(OomConstraint::None),
                oom_memcg: None,
                task_memcg: None,
                task: "we,ird".to_string(),
                pid: 7,
                uid: Some(1),
            })
        );
    }

    #[test]
    fn window_wall_time_and_name_matches() {
        let events = events_of(GLOBAL_V2);
        let names = [
            "gunicorn".to_string(),
            "/usr/bin/colmap".to_string(),
            "x".to_string(),
        ];
        // Booted at 1_000_000: colmap at +133747 s, gunicorn at +140001 s.
        let (kept, matched) = finish(events.clone(), 1_000_000.0, 0, &names);
        assert_eq!(kept[0].at, UnixTime(1_133_747));
        assert_eq!(kept[0].matches, ["/usr/bin/colmap"]);
        assert_eq!(kept[1].matches, ["gunicorn"]);
        assert_eq!((matched[0].events, matched[0].last_pid), (1, Some(4121)));
        assert_eq!(matched[0].last_at, Some(UnixTime(1_140_001)));
        assert_eq!(matched[2].events, 0);
        let (kept, _) = finish(events, 1_000_000.0, 1_140_000, &names);
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn names_match_comm_base_name_cut_comm_and_retitles() {
        assert!(name_matches("python3", "python3"));
        assert!(name_matches("/usr/bin/python3", "python3"));
        assert!(name_matches("my-long-server-name", "my-long-server-"));
        assert!(name_matches("gunicorn", "gunicorn: worke"));
        assert!(!name_matches("python", "python3"));
        assert!(!name_matches("", "python3"));
    }

    #[test]
    fn observation_round_trips_and_skips_empty_fields() {
        let obs = OomObservation {
            events: events_of(MEMCG_V1),
            ..OomObservation::default()
        };
        let json = serde_json::to_string(&obs).unwrap();
        assert!(!json.contains("failure"), "{json}");
        let back: OomObservation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, obs);
    }

    #[tokio::test]
    async fn dmesg_fallback_reads_this_kernel() {
        // Root here; without CAP_SYSLOG and dmesg_restrict=1 this is the
        // permission failure the probe reports.
        match read_dmesg(Duration::from_secs(5)).await {
            Ok(scan) => assert!(scan.collector.records > 0),
            Err(f) => assert_eq!(f.kind, FailureKind::PermissionDenied, "{f:?}"),
        }
    }
}
