//! An application's log: the last stack trace or uncaught exception
//! (Python, Node.js, Java, Go, Ruby, Rust) and typed error signatures —
//! database connection refused, pool exhausted, query timeout, deadlock,
//! schema mismatch, missing environment variable, permission denied, full
//! disk, descriptor and memory exhaustion, external call timeout, missing
//! template — each counted with its last line. It does not judge what they
//! mean for the 5xx.
//!
//! Everything kept is redacted with [`crate::redact::text`]; a missing
//! environment variable is recorded by name only. The exception type of a
//! kept line is kept as written even when it contains a secret-looking word
//! (`KeyError`, `TokenError`): only the text around it is redacted.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::tail::{self, Tail, TailSummary};
use super::time::{self, LogClock};
use super::{MAX_EXCERPT_CHARS, truncate_chars};
use crate::units::UnixTime;
use crate::{Failure, ProbeContext};

/// Lines of a trace kept whole; a longer trace keeps its first 8 lines, a
/// `… N lines …` marker and its last 3.
pub const MAX_TRACE_LINES: usize = 12;
const TRACE_HEAD_LINES: usize = 8;
const TRACE_TAIL_LINES: usize = 3;
/// A trace is followed at most this many lines.
const MAX_TRACE_SCAN: usize = 400;
/// Most distinct targets (hosts, variables, paths) counted per signature,
/// and most distinct exception types counted.
pub const MAX_DISTINCT: usize = 16;

/// Scan the end of an application log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppLogSpec {
    pub path: PathBuf,
    /// Only lines this recent count; `None`: every line read (serialized as
    /// `window_secs`).
    #[serde(
        rename = "window_secs",
        with = "super::opt_secs",
        skip_serializing_if = "Option::is_none"
    )]
    pub window: Option<Duration>,
    /// Read at most this many bytes from the end of the file.
    pub max_bytes: u64,
}

impl Default for AppLogSpec {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            window: None,
            max_bytes: tail::DEFAULT_MAX_BYTES,
        }
    }
}

/// The language whose trace format was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Python,
    Node,
    /// The JVM: Java, Kotlin, Scala.
    Java,
    Go,
    Ruby,
    Rust,
}

/// An exception's type and message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionHead {
    /// As written: `KeyError`, `java.lang.NullPointerException`, `runtime
    /// error` (Go), `panic` (Go, Rust), `NoMethodError`.
    pub exception_type: String,
    /// Redacted and cut to 512 characters; may be empty.
    pub message: String,
}

/// The last stack trace or uncaught exception in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppException {
    pub language: Language,
    #[serde(flatten)]
    pub head: ExceptionHead,
    /// The innermost frame of the application, as written (`/app/app.py:5
    /// in <module>`, `com.x.Y.z(Y.java:42)`, `/app/main.go:10`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// The root cause: Java's last `Caused by:`, or the first exception of a
    /// Python chain (`During handling of the above exception ...`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub root_cause: Option<ExceptionHead>,
    /// The trace, redacted: at most 12 lines (its head, `…`, its end).
    pub trace: Vec<String>,
    /// Lines the whole trace spans.
    pub trace_lines: u64,
    /// 1-based line number in the tail read where the trace starts.
    pub line: u64,
    /// Its timestamp: the trace's own, else that of the nearest line above.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time: Option<UnixTime>,
    /// The trace ended the process ([`ends_process`]), as opposed to an
    /// error the application caught and logged.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub fatal: bool,
}

/// A typed error signature of an application log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    /// The database (or cache) refused the connection; `dependency` says
    /// which kind, the target its `host:port` when the line has one.
    DatabaseConnectionRefused,
    /// The connection pool had no free connection (`QueuePool limit`,
    /// `HikariCP`: `Connection is not available`, `too many clients already`).
    PoolExhausted,
    /// A statement was cancelled by a timeout or waited too long for a lock.
    QueryTimeout,
    /// The database reported a deadlock.
    Deadlock,
    /// A table or column does not exist.
    SchemaMismatch,
    /// An environment variable is missing; the target is its name.
    MissingEnv,
    /// `Permission denied` / `EACCES`; the target is the path when given.
    PermissionDenied,
    /// `No space left on device` / `ENOSPC`.
    NoSpace,
    /// `Too many open files` / `EMFILE`.
    TooManyOpenFiles,
    /// Out of memory (`MemoryError`, `OutOfMemoryError`, `JavaScript heap
    /// out of memory`, `Cannot allocate memory`).
    OutOfMemory,
    /// A call to another service timed out (`ReadTimeout`, `ETIMEDOUT`,
    /// `context deadline exceeded`); the target is its host when given.
    ExternalCallTimeout,
    /// A template file was not found.
    TemplateNotFound,
    /// A connection was refused by something not recognised as a database.
    ConnectionRefusedOther,
}

/// Which kind of dependency a database signature names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    Postgres,
    Mysql,
    Redis,
    Mongo,
    Unknown,
}

/// One signature's lines within the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureStats {
    pub kind: SignatureKind,
    pub count: u64,
    /// Lines per target: `host:port`, host, variable name, path or table.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub targets: BTreeMap<String, u64>,
    /// Lines per dependency kind (database signatures).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub dependencies: BTreeMap<DependencyKind, u64>,
    /// The newest line's target and dependency kind.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dependency: Option<DependencyKind>,
    /// The newest line, redacted and cut to 512 characters.
    pub last_line: String,
    /// Its 1-based line number in the tail read.
    pub last_line_number: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_time: Option<UnixTime>,
}

/// What the application log probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppLogObservation {
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub window_secs: Option<u64>,
    pub read: TailSummary,
    /// The offset applied to zone-less timestamps.
    pub clock: LogClock,
    pub lines_scanned: u64,
    /// Lines in the window. A line without a timestamp takes the time of
    /// the nearest timestamped line above it (the first one's, above that);
    /// in a log without timestamps every line is in the window.
    pub lines_in_window: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_time: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_time: Option<UnixTime>,
    /// The window (or, without one, the log) reaches back past the oldest
    /// line read.
    pub truncated: bool,
    /// Traces that started in the window.
    pub exception_count: u64,
    /// Those traces per exception type (at most 16 types).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub exception_types: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_exception: Option<AppException>,
    /// Signatures found in the window, most frequent first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub signatures: Vec<SignatureStats>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

impl AppLogObservation {
    /// The stats of `kind`, if any line of it was in the window.
    pub fn signature(&self, kind: SignatureKind) -> Option<&SignatureStats> {
        self.signatures.iter().find(|s| s.kind == kind)
    }
}

// ---------------------------------------------------------------- traces --

/// A trace found in the lines: where, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub language: Language,
    pub exception_type: String,
    /// Raw (not yet redacted).
    pub message: String,
    pub location: Option<String>,
    pub root_cause: Option<(String, String)>,
    /// First line index.
    pub start: usize,
    /// One past the last line index.
    pub end: usize,
}

fn is_type_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.'
}

/// An exception head in a line: an identifier (dotted allowed) whose last
/// part starts upper-case and ends in `Error` or `Exception`, optionally
/// ` [CODE]`, then `: message` or the end of the line. Returns the byte
/// offset of the type, the type, and the offset where the message starts.
pub fn error_head(line: &str) -> Option<(usize, &str, usize)> {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphabetic() && (i == 0 || !is_type_char(b[i - 1]))) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && is_type_char(b[j]) {
            j += 1;
        }
        let ty = line[i..j].trim_end_matches('.');
        let last = ty.rsplit('.').next().unwrap_or(ty);
        let shaped = last.starts_with(|c: char| c.is_ascii_uppercase())
            && (last.ends_with("Error") || last.ends_with("Exception"));
        if shaped {
            let mut k = i + ty.len();
            let mut after = &line[k..];
            if let Some(code) = after.strip_prefix(" [")
                && let Some(close) = code.find(']')
                && code[..close]
                    .bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
            {
                k += close + 3;
                after = &line[k..];
            }
            if after.trim_end().is_empty() || after.trim_end() == ":" {
                return Some((i, ty, line.len()));
            }
            if after.starts_with(": ") {
                return Some((i, ty, k + 2));
            }
        }
        i = j.max(i + 1);
    }
    None
}

/// A Python exception line: `Type: message` or `Type`, the type a dotted
/// identifier.
fn python_head(line: &str) -> Option<(String, String)> {
    let line = line.trim_end();
    let (ty, msg) = line
        .split_once(": ")
        .unwrap_or((line.strip_suffix(':').unwrap_or(line), ""));
    let ok = ty.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    ok.then(|| (ty.to_string(), msg.to_string()))
}

fn indented(l: &str) -> bool {
    l.starts_with(' ') || l.starts_with('\t')
}

/// A Python frame's file that is not the application's own code.
fn python_library(file: &str) -> bool {
    [
        "site-packages/",
        "dist-packages/",
        "<frozen ",
        "/lib/python",
    ]
    .iter()
    .any(|m| file.contains(m))
}

/// The exception type given to the interpreter's own fatal errors.
pub const FATAL_PYTHON_ERROR: &str = "Fatal Python error";

/// The interpreter's fatal error (`Fatal Python error: Segmentation fault`)
/// with the stacks `faulthandler` prints after it, innermost frame first
/// (`  File "/app/x.py", line 4 in f`).
fn python_fatal(lines: &[String], start: usize) -> Option<Trace> {
    let head = &lines[start];
    let at = head.find("Fatal Python error: ")?;
    let message = head[at + 20..].trim().to_string();
    let limit = lines.len().min(start + MAX_TRACE_SCAN);
    let mut end = start + 1;
    let mut location = None;
    while end < limit {
        let line = &lines[end];
        let body = line.trim_start();
        let frame = indented(line)
            .then(|| body.strip_prefix("File \""))
            .flatten();
        let part = frame.is_some()
            || body.is_empty()
            || [
                "Current thread ",
                "Thread 0x",
                "Stack (most recent",
                "Extension modules:",
            ]
            .iter()
            .any(|p| body.starts_with(p));
        if !part {
            break;
        }
        if let Some(rest) = frame
            && location.is_none()
            && let Some((file, rest)) = rest.split_once("\", line ")
            && !python_library(file)
        {
            let (num, func) = rest.split_once(" in ").unwrap_or((rest, ""));
            location = Some(format!("{file}:{num} in {func}"));
        }
        end += 1;
    }
    while end > start + 1 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    Some(Trace {
        language: Language::Python,
        exception_type: FATAL_PYTHON_ERROR.to_string(),
        message,
        location,
        root_cause: None,
        start,
        end,
    })
}

fn python(lines: &[String], i: usize) -> Option<Trace> {
    if !lines[i].contains("Traceback (most recent call last):") {
        return None;
    }
    let n = lines.len().min(i + MAX_TRACE_SCAN);
    let mut j = i + 1;
    let mut location = None;
    let mut app_frame = false;
    while j < n && indented(&lines[j]) {
        if let Some(rest) = lines[j].trim_start().strip_prefix("File \"")
            && let Some((file, rest)) = rest.split_once("\", line ")
        {
            let (num, func) = rest.split_once(", in ").unwrap_or((rest, ""));
            let here = if func.is_empty() {
                format!("{file}:{num}")
            } else {
                format!("{file}:{num} in {func}")
            };
            // The innermost frame of the application's own code, else the
            // innermost frame.
            let library = python_library(file);
            if !library || !app_frame {
                app_frame |= !library;
                location = Some(here);
            }
        }
        j += 1;
    }
    let (ty, msg, end) = match lines.get(j).filter(|_| j < n).and_then(|l| python_head(l)) {
        Some((ty, msg)) => {
            let mut end = j + 1;
            while end < n && end - j <= 10 && lines[end].starts_with('\t') {
                end += 1;
            }
            (ty, msg, end)
        }
        None => ("Traceback".to_string(), String::new(), j),
    };
    Some(Trace {
        language: Language::Python,
        exception_type: ty,
        message: msg,
        location,
        root_cause: None,
        start: i,
        end,
    })
}

fn rust(lines: &[String], i: usize) -> Option<Trace> {
    let l = &lines[i];
    let at = l.find("thread '")?;
    let rest = &l[at..];
    let p = rest.find("' panicked at ")?;
    let after = &rest[p + 14..];
    let mut end = i + 1;
    let (message, location) = if let Some(old) = after.strip_prefix('\'') {
        // Before Rust 1.73: panicked at 'message', src/main.rs:10:5
        match old.rsplit_once("', ") {
            Some((m, loc)) => (m.to_string(), Some(loc.to_string())),
            None => (old.to_string(), None),
        }
    } else {
        let loc = after.trim_end().trim_end_matches(':').to_string();
        let msg = lines
            .get(i + 1)
            .filter(|m| !m.starts_with("note: ") && !m.starts_with("stack backtrace:"))
            .cloned()
            .unwrap_or_default();
        if !msg.is_empty() {
            end += 1;
        }
        (msg, Some(loc))
    };
    let n = lines.len().min(i + MAX_TRACE_SCAN);
    while end < n
        && (lines[end].starts_with("note: ")
            || lines[end].starts_with("stack backtrace:")
            || indented(&lines[end]))
    {
        end += 1;
    }
    Some(Trace {
        language: Language::Rust,
        exception_type: "panic".to_string(),
        message,
        location,
        root_cause: None,
        start: i,
        end,
    })
}

fn go_type(msg: &str) -> (String, String) {
    let msg = msg.trim_end().trim_end_matches(" [recovered]");
    match msg.strip_prefix("runtime error: ") {
        Some(m) => ("runtime error".to_string(), m.to_string()),
        None => ("panic".to_string(), msg.to_string()),
    }
}

fn go_trace_line(l: &str) -> bool {
    if l.is_empty()
        || l.starts_with('\t')
        || [
            "goroutine ",
            "[signal ",
            "created by ",
            "runtime stack:",
            "exit status ",
            "...",
            "panic(",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    {
        return true;
    }
    // A function line: `main.handler({0x1, 0x2}, 0xc000)`.
    l.find('(')
        .is_some_and(|p| p > 0 && !l[..p].contains(' ') && l.trim_end().ends_with(')'))
}

fn go(lines: &[String], i: usize) -> Option<Trace> {
    let l = &lines[i];
    let n = lines.len().min(i + MAX_TRACE_SCAN);
    let has_goroutine = || {
        lines[i + 1..n.min(i + 10)]
            .iter()
            .any(|x| x.starts_with("goroutine ") || x.starts_with("runtime stack:"))
    };
    let (ty, msg) = if let Some(r) = l.strip_prefix("panic: ") {
        go_type(r)
    } else if let Some(at) = l.find("http: panic serving ") {
        let r = &l[at + 20..];
        go_type(r.split_once(": ").map_or(r, |(_, m)| m))
    } else if let Some(r) = l.strip_prefix("fatal error: ") {
        if !has_goroutine() {
            return None;
        }
        ("fatal error".to_string(), r.to_string())
    } else {
        return None;
    };
    let mut end = i + 1;
    let mut location = None;
    let mut in_goroutine = false;
    while end < n && go_trace_line(&lines[end]) {
        let x = &lines[end];
        in_goroutine |= x.starts_with("goroutine ");
        if in_goroutine && location.is_none() && x.starts_with('\t') {
            let path = x.trim().split(" +0x").next().unwrap_or("");
            let runtime = [
                "/src/runtime/",
                "/src/net/http/",
                "/usr/local/go/",
                "/usr/lib/go",
            ]
            .iter()
            .any(|r| path.contains(r));
            if !runtime {
                location = Some(path.to_string());
            }
        }
        end += 1;
    }
    // Blank lines at the end belong to what follows.
    while end > i + 1 && lines[end - 1].is_empty() {
        end -= 1;
    }
    Some(Trace {
        language: Language::Go,
        exception_type: ty,
        message: msg,
        location,
        root_cause: None,
        start: i,
        end,
    })
}

fn ruby(lines: &[String], i: usize) -> Option<Trace> {
    let l = lines[i].trim_end();
    let at = l.find(":in ")?;
    let (file, num) = l[..at].rsplit_once(':')?;
    if file.is_empty() || num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = &l[at + 4..];
    let rest = rest.strip_prefix('`').or_else(|| rest.strip_prefix('\''))?;
    let (method, body) = rest.split_once("': ")?;
    let body = body.strip_suffix(')')?;
    let open = body.rfind(" (")?;
    let class = &body[open + 2..];
    let ok = class.starts_with(|c: char| c.is_ascii_uppercase())
        && class
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
    if !ok {
        return None;
    }
    let n = lines.len().min(i + MAX_TRACE_SCAN);
    let mut end = i + 1;
    loop {
        if end < n && lines[end].starts_with("\tfrom ") {
            end += 1;
            continue;
        }
        // error_highlight's snippet between the head and the `from` lines.
        let next_from = (end..n.min(end + 5)).find(|&k| lines[k].starts_with("\tfrom "));
        match next_from {
            Some(k) if end == i + 1 => end = k,
            _ => break,
        }
    }
    Some(Trace {
        language: Language::Ruby,
        exception_type: class.to_string(),
        message: body[..open].to_string(),
        location: Some(format!("{file}:{num} in {method}")),
        root_cause: None,
        start: i,
        end,
    })
}

fn is_java_frame(l: &str) -> bool {
    let t = l.trim_start();
    indented(l)
        && t.starts_with("at ")
        && [
            ".java:",
            "(Native Method)",
            "(Unknown Source)",
            ".kt:",
            ".scala:",
            ".groovy:",
        ]
        .iter()
        .any(|m| t.contains(m))
}

fn is_node_frame(l: &str) -> bool {
    indented(l) && l.trim_start().starts_with("at ") && !is_java_frame(l)
}

/// `Type: message` after `Caused by: ` or a thread name: the type is
/// everything up to the first `: `.
fn lax_head(s: &str) -> (String, String) {
    let s = s.trim();
    match s.split_once(": ") {
        Some((t, m)) if !t.contains(' ') => (t.to_string(), m.to_string()),
        _ => (s.trim_end_matches(':').to_string(), String::new()),
    }
}

fn java(lines: &[String], i: usize) -> Option<Trace> {
    let head = &lines[i];
    let next_is_frame = lines.get(i + 1).is_some_and(|x| is_java_frame(x));
    let (ty, msg) = if let Some(at) = head.find("Exception in thread \"") {
        let rest = &head[at + 21..];
        let (_, after) = rest.split_once("\" ")?;
        lax_head(after)
    } else if next_is_frame {
        let (_, ty, m) = error_head(head)?;
        (ty.to_string(), head[m..].to_string())
    } else {
        return None;
    };
    let limit = lines.len().min(i + MAX_TRACE_SCAN);
    let mut end = i + 1;
    let mut location = None;
    let mut root = None;
    while end < limit {
        let line = &lines[end];
        let body = line.trim_start();
        if is_java_frame(line) {
            if location.is_none() {
                location = Some(body[3..].trim().to_string());
            }
        } else if let Some(cause) = body.strip_prefix("Caused by: ") {
            root = Some(lax_head(cause));
        } else if !(body.starts_with("Suppressed: ")
            || (indented(line)
                && body.starts_with("... ")
                && (body.ends_with(" more") || body.contains("omitted"))))
        {
            break;
        }
        end += 1;
    }
    Some(Trace {
        language: Language::Java,
        exception_type: ty,
        message: msg,
        location,
        root_cause: root,
        start: i,
        end,
    })
}

fn node(lines: &[String], i: usize) -> Option<Trace> {
    let l = &lines[i];
    let next_is_frame = lines.get(i + 1).is_some_and(|x| is_node_frame(x));
    let (ty, msg) = if let Some(at) = l.find("UnhandledPromiseRejection") {
        let rest = &l[at..];
        let msg = if let Some(r) = rest.split_once("the reason \"").map(|(_, r)| r) {
            r.split('"').next().unwrap_or(r).to_string()
        } else if let Some((_, ty, m)) = error_head(rest.get(25..).unwrap_or("")) {
            format!("{ty}: {}", &rest[25..][m..])
        } else {
            rest.split_once(": ")
                .map_or("", |(_, m)| m)
                .trim_end_matches(']')
                .to_string()
        };
        ("UnhandledPromiseRejection".to_string(), msg)
    } else if next_is_frame {
        let (_, ty, m) = error_head(l)?;
        (ty.to_string(), l[m..].to_string())
    } else {
        return None;
    };
    let n = lines.len().min(i + MAX_TRACE_SCAN);
    let mut end = i + 1;
    let mut location = None;
    let mut first = None;
    while end < n && is_node_frame(&lines[end]) {
        let t = lines[end].trim_start()[3..].trim();
        let place = t
            .rsplit_once(" (")
            .map_or(t, |(_, p)| p.trim_end_matches(')'))
            .to_string();
        if first.is_none() {
            first = Some(place.clone());
        }
        if location.is_none() && !place.contains("node_modules") && !place.starts_with("node:") {
            location = Some(place);
        }
        end += 1;
    }
    // Node's `{ code: 'ERR_UNHANDLED_REJECTION' }` block after the head.
    if end == i + 1 && l.trim_end().ends_with('{') {
        while end < n.min(i + 8) {
            end += 1;
            if lines[end - 1].trim() == "}" {
                break;
            }
        }
    }
    Some(Trace {
        language: Language::Node,
        exception_type: ty,
        message: msg,
        location: location.or(first),
        root_cause: None,
        start: i,
        end,
    })
}

/// The trace starting at line `i`, if one does.
pub fn trace_at(lines: &[String], i: usize) -> Option<Trace> {
    python(lines, i)
        .or_else(|| python_fatal(lines, i))
        .or_else(|| rust(lines, i))
        .or_else(|| go(lines, i))
        .or_else(|| ruby(lines, i))
        .or_else(|| java(lines, i))
        .or_else(|| node(lines, i))
}

/// Words of a process killed by a signal, as runtimes, shells and process
/// managers print them.
pub const CRASH_MARKERS: [&str; 4] = ["Segmentation fault", "SIGSEGV", "SIGABRT", "core dumped"];

/// Whether trace `t` of `lines` ended the process rather than being caught
/// and logged: a Go `panic:` or `fatal error:` at the start of a line (not
/// `http: panic serving`, which net/http recovers), any Rust panic (a
/// panicking thread usually takes the process down), `Fatal Python error`,
/// Node's uncaught exception (the throwing line and a `^` caret printed
/// above it, or the `Node.js vX` line below), Ruby's report of an exception
/// that left `<main>`, and any trace with a crash signal
/// ([`CRASH_MARKERS`]) in it or on the first line after it. A Java trace
/// is never fatal by itself (a dying thread need not end the JVM).
pub fn ends_process(lines: &[String], t: &Trace) -> bool {
    let trace = &lines[t.start..t.end.min(lines.len())];
    let after = lines
        .get(t.end..)
        .unwrap_or_default()
        .iter()
        .find(|l| !l.trim().is_empty());
    let by_language = match t.language {
        Language::Go => ["panic: ", "fatal error: "]
            .iter()
            .any(|p| lines[t.start].starts_with(p)),
        Language::Rust => true,
        Language::Python => t.exception_type == FATAL_PYTHON_ERROR,
        Language::Node => {
            let caret = lines[t.start.saturating_sub(4)..t.start].iter().any(|l| {
                let l = l.trim();
                !l.is_empty() && l.bytes().all(|b| b == b'^')
            });
            caret || after.is_some_and(|l| l.starts_with("Node.js v"))
        }
        Language::Ruby => trace
            .iter()
            .any(|l| l.contains(":in '<main>'") || l.contains(":in `<main>'")),
        Language::Java => false,
    };
    by_language
        || trace
            .iter()
            .chain(after)
            .any(|l| CRASH_MARKERS.iter().any(|m| l.contains(m)))
}

/// Every trace in `lines`, in order. A Python exception raised while
/// handling another gets the first one as its root cause.
pub fn find_traces(lines: &[String]) -> Vec<Trace> {
    const CHAINS: [&str; 2] = [
        "During handling of the above exception, another exception occurred:",
        "The above exception was the direct cause of the following exception:",
    ];
    let mut out: Vec<Trace> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(mut t) = trace_at(lines, i) else {
            i += 1;
            continue;
        };
        if t.language == Language::Python
            && let Some(prev) = out.last()
            && prev.language == Language::Python
        {
            let between: Vec<&String> = lines[prev.end..t.start]
                .iter()
                .filter(|l| !l.trim().is_empty())
                .collect();
            if between.len() == 1 && CHAINS.contains(&between[0].trim()) {
                t.root_cause = prev
                    .root_cause
                    .clone()
                    .or_else(|| Some((prev.exception_type.clone(), prev.message.clone())));
            }
        }
        i = t.end.max(i + 1);
        out.push(t);
    }
    out
}

/// A line redacted for keeping. An exception type in it stays as written
/// (`KeyError` is not a secret); the text before and after it is redacted.
pub fn redact_line(line: &str) -> String {
    let out = match error_head(line) {
        Some((start, _, msg)) => format!(
            "{}{}{}",
            crate::redact::text(&line[..start]),
            &line[start..msg],
            crate::redact::text(&line[msg..])
        ),
        None => crate::redact::text(line),
    };
    truncate_chars(&out, MAX_EXCERPT_CHARS)
}

fn kept_trace(lines: &[String]) -> Vec<String> {
    if lines.len() <= MAX_TRACE_LINES {
        return lines.iter().map(|l| redact_line(l)).collect();
    }
    let mut out: Vec<String> = lines[..TRACE_HEAD_LINES]
        .iter()
        .map(|l| redact_line(l))
        .collect();
    out.push(format!(
        "… {} lines …",
        lines.len() - TRACE_HEAD_LINES - TRACE_TAIL_LINES
    ));
    out.extend(
        lines[lines.len() - TRACE_TAIL_LINES..]
            .iter()
            .map(|l| redact_line(l)),
    );
    out
}

// ------------------------------------------------------------ signatures --

/// A signature matched on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub kind: SignatureKind,
    pub dependency: Option<DependencyKind>,
    pub target: Option<String>,
}

fn any(low: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| low.contains(n))
}

fn dependency_by_words(low: &str) -> Option<DependencyKind> {
    use DependencyKind as D;
    if any(
        low,
        &[
            "postgres",
            "psycopg",
            "psql",
            "libpq",
            "asyncpg",
            "pg8000",
            "pg::",
            "could not connect to server",
        ],
    ) {
        Some(D::Postgres)
    } else if any(low, &["mysql", "mariadb"]) {
        Some(D::Mysql)
    } else if low.contains("redis") {
        Some(D::Redis)
    } else if low.contains("mongo") {
        Some(D::Mongo)
    } else {
        None
    }
}

fn dependency_by_port(target: Option<&str>) -> Option<DependencyKind> {
    let port = target?.rsplit_once(':')?.1;
    Some(match port {
        "5432" => DependencyKind::Postgres,
        "3306" => DependencyKind::Mysql,
        "6379" => DependencyKind::Redis,
        "27017" => DependencyKind::Mongo,
        _ => return None,
    })
}

const SOURCE_EXTENSIONS: [&str; 10] = [
    ".py", ".js", ".ts", ".rb", ".go", ".java", ".kt", ".rs", ".mjs", ".cjs",
];

/// The first `host:port` in a line: libpq's `at "host", port N` /
/// `on host "h" ... port N`, `host='h', port=N`, or a `host:port` token.
pub fn host_port(line: &str) -> Option<String> {
    let port_after = |s: &str| -> Option<String> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        (!d.is_empty() && d.len() <= 5).then_some(d)
    };
    for (host_key, port_key) in [
        ("at \"", "port "),
        ("host \"", "port "),
        ("host='", "port="),
    ] {
        if let Some(h) = line.find(host_key) {
            let rest = &line[h + host_key.len()..];
            let host = rest.split(['"', '\'']).next().unwrap_or("");
            if let Some(p) = rest.find(port_key)
                && let Some(port) = port_after(&rest[p + port_key.len()..])
                && !host.is_empty()
            {
                return Some(format!("{host}:{port}"));
            }
        }
    }
    line.split(|c: char| c.is_whitespace() || "()[],'\"<>;=@/".contains(c))
        .map(|t| t.trim_end_matches(['.', ':']))
        .find_map(|t| {
            let (h, p) = t.rsplit_once(':')?;
            let h = h.rsplit_once("://").map_or(h, |(_, h)| h);
            let host_ok = !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
                && h.bytes().any(|b| b.is_ascii_alphabetic() || b == b'.')
                && !SOURCE_EXTENSIONS.iter().any(|e| h.ends_with(e));
            let port_ok = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            (host_ok && port_ok).then(|| format!("{h}:{p}"))
        })
}

/// The host of an outgoing call: `host='h'`, a URL's host, or a
/// `host:port`.
fn call_host(line: &str) -> Option<String> {
    if let Some(h) = line.find("host='") {
        let host = line[h + 6..].split('\'').next().unwrap_or("");
        if !host.is_empty() {
            return Some(host.to_string());
        }
    }
    if let Some(u) = line.find("://") {
        let rest = &line[u + 3..];
        let authority = rest
            .split(['/', '"', '\'', ' ', '?', ')'])
            .next()
            .unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if !host.is_empty() {
            return Some(host.to_string());
        }
    }
    host_port(line)
}

/// The first absolute path in a line: quoted, or a bare token.
fn path_in(line: &str) -> Option<String> {
    for q in ['\'', '"'] {
        let mut parts = line.split(q);
        parts.next();
        if let Some(p) = parts.step_by(2).find(|p| p.starts_with('/')) {
            return Some(p.to_string());
        }
    }
    line.split_whitespace()
        .map(|t| t.trim_end_matches([':', ',', ')', ';', '.']))
        .find(|t| t.starts_with('/') && t.len() > 1)
        .map(str::to_string)
}

/// A quoted name after `key` (`relation "users"`, `no such table: users`).
fn name_after(line: &str, key: &str) -> Option<String> {
    let at = line.find(key)? + key.len();
    let rest = line[at..].trim_start_matches([' ', ':']);
    let rest = rest.trim_start_matches(['"', '\'', '`']);
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || "_.-/".contains(*c))
        .collect();
    (!name.is_empty()).then_some(name)
}

fn is_env_name(s: &str) -> bool {
    s.len() >= 2
        && s.len() <= 128
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An all-capitals `NAME_LIKE_THIS` that is not a log level or a keyword.
fn is_upper_env_name(s: &str) -> bool {
    const NOT: [&str; 12] = [
        "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "FATAL", "CRITICAL", "NOTE", "TRACE", "ENV",
        "KEY", "PANIC",
    ];
    is_env_name(s)
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && !NOT.contains(&s)
}

/// A line about a missing environment variable, with the variable's name
/// when the line gives one.
struct MissingEnv(Option<String>);

/// Whether line `i` says an environment variable is missing.
fn missing_env(lines: &[String], i: usize, low: &str) -> Option<MissingEnv> {
    let l = &lines[i];
    if let Some(at) = l.find("KeyError: ") {
        let name = l[at + 10..].trim().trim_matches(['\'', '"']);
        // `os.environ[...]` in a frame above, or the frame of `os`'s own
        // `__getitem__` (only `os.environ` has one).
        let environ = lines[i.saturating_sub(8)..i].iter().any(|p| {
            p.contains("environ")
                || (p.contains("in __getitem__")
                    && (p.contains("<frozen os>") || p.contains("/os.py\"")))
        });
        if environ && is_env_name(name) {
            return Some(MissingEnv(Some(name.to_string())));
        }
    }
    if let Some(at) = l.find("process.env.") {
        let name: String = l[at + 12..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if any(
            low,
            &["undefined", "not set", "missing", "not defined", "required"],
        ) && is_env_name(&name)
        {
            return Some(MissingEnv(Some(name)));
        }
    }
    let about_env = any(
        low,
        &[
            "environment variable",
            "env var",
            "required key ",
            "must be set",
            "notpresent",
        ],
    );
    let missing = any(
        low,
        &[
            "not set",
            "missing",
            "undefined",
            "not defined",
            "required",
            "unset",
            "not found",
            "must be set",
            "notpresent",
            "is empty",
        ],
    );
    if !(about_env && missing) {
        return None;
    }
    // Prefer a name after the words that introduce it.
    let words: Vec<&str> = l
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let after_key = words
        .windows(2)
        .find(|w| {
            ["variable", "var", "key"].contains(&w[0].to_ascii_lowercase().as_str())
                && is_upper_env_name(w[1])
        })
        .map(|w| w[1]);
    let name = after_key.or_else(|| words.iter().copied().find(|w| is_upper_env_name(w)));
    Some(MissingEnv(name.map(str::to_string)))
}

/// The signature of line `i`, if any (one per line, the most specific).
pub fn signature(lines: &[String], i: usize) -> Option<Signature> {
    use SignatureKind as K;
    let raw = &lines[i];
    let low = raw.to_ascii_lowercase();
    let low = low.as_str();
    // Targets are taken from the redacted line (redacted only once a kind
    // matched): a password never becomes a "host:port" or a path.
    let redacted = std::cell::OnceCell::new();
    let l = || redacted.get_or_init(|| crate::redact::text(raw)).as_str();
    let sig = |kind, target: Option<String>| {
        Some(Signature {
            kind,
            dependency: None,
            target,
        })
    };
    let db = |kind, target: Option<String>| {
        let dependency = dependency_by_words(low)
            .or_else(|| dependency_by_port(target.as_deref()))
            .unwrap_or(DependencyKind::Unknown);
        Some(Signature {
            kind,
            dependency: Some(dependency),
            target,
        })
    };
    if any(
        low,
        &[
            "memoryerror",
            "javascript heap out of memory",
            "runtime: out of memory",
            "cannot allocate memory",
            "out of memory",
        ],
    ) || (low.contains("memory allocation of ") && low.contains(" failed"))
    {
        return sig(K::OutOfMemory, None);
    }
    if any(low, &["no space left on device", "enospc"]) {
        return sig(K::NoSpace, path_in(l()));
    }
    if any(low, &["too many open files", "emfile"]) {
        return sig(K::TooManyOpenFiles, None);
    }
    if let Some(MissingEnv(name)) = missing_env(lines, i, low) {
        // The variable's name only, read from the raw line (`KeyError` is
        // a secret-looking word to the redactor).
        return sig(K::MissingEnv, name);
    }
    if any(low, &["deadlock detected", "deadlock found"]) {
        return db(K::Deadlock, None);
    }
    if any(
        low,
        &[
            "canceling statement due to statement timeout",
            "canceling statement due to lock timeout",
            "lock wait timeout exceeded",
            "statement timeout",
            "query timeout",
            "querytimeout",
        ],
    ) {
        return db(K::QueryTimeout, None);
    }
    if any(
        low,
        &[
            "queuepool limit of size",
            "connection pool exhausted",
            "pool exhausted",
            "timeout acquiring a connection",
            "connection is not available, request timed out",
            "too many clients already",
            "remaining connection slots are reserved",
            "too many connections",
            "unable to acquire jdbc connection",
        ],
    ) {
        return db(K::PoolExhausted, None);
    }
    if low.contains("does not exist") && (low.contains("relation \"") || low.contains("column ")) {
        let name = name_after(l(), "relation ").or_else(|| name_after(l(), "column "));
        return db(K::SchemaMismatch, name);
    }
    if any(
        low,
        &[
            "no such table",
            "no such column",
            "unknown column",
            "undefinedtable",
            "undefinedcolumn",
        ],
    ) || (low.contains("table '") && low.contains("doesn't exist"))
    {
        let name = name_after(l(), "no such table")
            .or_else(|| name_after(l(), "no such column"))
            .or_else(|| name_after(l(), "Unknown column"))
            .or_else(|| name_after(l(), "Table "));
        return db(K::SchemaMismatch, name);
    }
    let refused = any(
        low,
        &[
            "connection refused",
            "econnrefused",
            "can't connect to mysql server",
            "could not connect to server",
        ],
    ) || (low.contains("connection to ") && low.contains(" refused"));
    if refused {
        let target = host_port(l());
        let dep = dependency_by_words(low).or_else(|| dependency_by_port(target.as_deref()));
        let dbish = any(
            low,
            &[
                "jdbc",
                "database",
                "sqlalchemy",
                "sequelize",
                "typeorm",
                "prisma",
            ],
        );
        return match dep {
            Some(d) => Some(Signature {
                kind: K::DatabaseConnectionRefused,
                dependency: Some(d),
                target,
            }),
            None if dbish => Some(Signature {
                kind: K::DatabaseConnectionRefused,
                dependency: Some(DependencyKind::Unknown),
                target,
            }),
            None => sig(K::ConnectionRefusedOther, target),
        };
    }
    if any(
        low,
        &[
            "templatenotfound",
            "template not found",
            "templatedoesnotexist",
            "missingtemplate",
            "failed to lookup view",
        ],
    ) {
        let name = name_after(l(), "TemplateNotFound")
            .or_else(|| name_after(l(), "TemplateDoesNotExist"))
            .or_else(|| name_after(l(), "lookup view"));
        return sig(K::TemplateNotFound, name);
    }
    if any(low, &["permission denied", "eacces"]) {
        return sig(K::PermissionDenied, path_in(l()));
    }
    if any(
        low,
        &[
            "readtimeout",
            "read timed out",
            "connecttimeout",
            "connect timeout",
            "etimedout",
            "esockettimedout",
            "context deadline exceeded",
            "sockettimeoutexception",
            "client.timeout exceeded",
        ],
    ) {
        return sig(K::ExternalCallTimeout, call_host(l()));
    }
    None
}

// -------------------------------------------------------------- analysis --

#[derive(Default)]
struct Acc {
    count: u64,
    targets: BTreeMap<String, u64>,
    dependencies: BTreeMap<DependencyKind, u64>,
    last: Option<(Signature, usize)>,
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    if map.len() < MAX_DISTINCT || map.contains_key(key) {
        *map.entry(key.to_string()).or_default() += 1;
    }
}

/// Classify the lines of `tail`, keeping those within `window` before `now`.
pub fn analyze(tail: &Tail, window: Option<Duration>, now: UnixTime) -> AppLogObservation {
    let lines = &tail.lines;
    let stamps: Vec<Option<time::Stamp>> =
        lines.iter().map(|l| time::find_in_line(l, now)).collect();
    let newest_wall = time::anchor_wall(stamps.iter().rev().flatten().next().copied());
    let clock = LogClock::anchor(newest_wall, tail.mtime);
    // Each line's time: its own, else carried down from above, else the
    // first one's.
    let mut times: Vec<Option<UnixTime>> = Vec::with_capacity(lines.len());
    let mut carry = None;
    for s in &stamps {
        if let Some(s) = s {
            carry = Some(s.to_unix(clock));
        }
        times.push(carry);
    }
    let first = stamps.iter().flatten().next().map(|s| s.to_unix(clock));
    for t in &mut times {
        if t.is_some() {
            break;
        }
        *t = first;
    }
    let since = window.map(|w| now.0 - i64::try_from(w.as_secs()).unwrap_or(i64::MAX));
    let in_window = |i: usize| match (since, times[i]) {
        (Some(s), Some(t)) => t.0 >= s,
        _ => true,
    };
    let mut obs = AppLogObservation {
        window_secs: window.map(|w| w.as_secs()),
        read: tail.summary.clone(),
        clock,
        lines_scanned: lines.len() as u64,
        lines_in_window: (0..lines.len()).filter(|&i| in_window(i)).count() as u64,
        ..AppLogObservation::default()
    };
    for t in stamps.iter().flatten().map(|s| s.to_unix(clock)) {
        obs.first_time = Some(obs.first_time.map_or(t, |f| f.min(t)));
        obs.last_time = Some(obs.last_time.map_or(t, |l| l.max(t)));
    }
    obs.truncated = tail.summary.started_mid_file
        && match since {
            Some(s) => obs.first_time.is_none_or(|f| f.0 >= s),
            None => true,
        };

    let traces: Vec<Trace> = find_traces(lines)
        .into_iter()
        .filter(|t| in_window(t.start))
        .collect();
    obs.exception_count = traces.len() as u64;
    for t in &traces {
        bump(&mut obs.exception_types, &t.exception_type);
    }
    obs.last_exception = traces.last().map(|t| AppException {
        language: t.language,
        head: ExceptionHead {
            exception_type: truncate_chars(&t.exception_type, 256),
            message: truncate_chars(&crate::redact::text(&t.message), MAX_EXCERPT_CHARS),
        },
        location: t
            .location
            .as_deref()
            .map(|l| truncate_chars(&crate::redact::text(l), 256)),
        root_cause: t.root_cause.as_ref().map(|(ty, m)| ExceptionHead {
            exception_type: truncate_chars(ty, 256),
            message: truncate_chars(&crate::redact::text(m), MAX_EXCERPT_CHARS),
        }),
        trace: kept_trace(&lines[t.start..t.end]),
        trace_lines: (t.end - t.start) as u64,
        line: t.start as u64 + 1,
        time: times[t.start],
        fatal: ends_process(lines, t),
    });

    let mut acc: HashMap<SignatureKind, Acc> = HashMap::new();
    for i in (0..lines.len()).filter(|&i| in_window(i)) {
        let Some(sig) = signature(lines, i) else {
            continue;
        };
        let a = acc.entry(sig.kind).or_default();
        a.count += 1;
        if let Some(t) = &sig.target {
            bump(&mut a.targets, t);
        }
        if let Some(d) = sig.dependency {
            *a.dependencies.entry(d).or_default() += 1;
        }
        a.last = Some((sig, i));
    }
    let mut sigs: Vec<SignatureStats> = acc
        .into_iter()
        .filter_map(|(kind, a)| {
            let (sig, i) = a.last?;
            Some(SignatureStats {
                kind,
                count: a.count,
                targets: a.targets,
                dependencies: a.dependencies,
                target: sig.target,
                dependency: sig.dependency,
                last_line: redact_line(&lines[i]),
                last_line_number: i as u64 + 1,
                last_time: times[i],
            })
        })
        .collect();
    sigs.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));
    obs.signatures = sigs;
    obs
}

/// Read the end of the log (and `<path>.1` when the log is empty or does
/// not cover the window) and classify it. Blocking.
pub fn scan(spec: &AppLogSpec, now: UnixTime) -> AppLogObservation {
    let since = spec
        .window
        .map(|w| now.0 - i64::try_from(w.as_secs()).unwrap_or(i64::MAX));
    let mut obs = match tail::read_tail(&spec.path, spec.max_bytes) {
        Ok(mut t) => {
            tail::extend_with_predecessor(&mut t, &spec.path, spec.max_bytes, |t| {
                if t.lines.iter().all(|l| l.trim().is_empty()) {
                    return true;
                }
                let Some(since) = since else { return false };
                let newest = time::anchor_wall(
                    t.lines
                        .iter()
                        .rev()
                        .find_map(|l| time::find_in_line(l, now)),
                );
                let clock = LogClock::anchor(newest, t.mtime);
                t.lines
                    .iter()
                    .find_map(|l| time::find_in_line(l, now))
                    .is_some_and(|s| s.to_unix(clock).0 >= since)
            });
            analyze(&t, spec.window, now)
        }
        Err(f) => AppLogObservation {
            window_secs: spec.window.map(|w| w.as_secs()),
            failure: Some(f),
            ..AppLogObservation::default()
        },
    };
    obs.path.clone_from(&spec.path);
    obs
}

/// Run the probe: scan the log on a blocking thread. Never fails.
pub async fn run_app_log(spec: &AppLogSpec, _ctx: &ProbeContext) -> AppLogObservation {
    super::scan_blocking(
        spec,
        scan,
        |failure| AppLogObservation {
            path: spec.path.clone(),
            window_secs: spec.window.map(|w| w.as_secs()),
            failure: Some(failure),
            ..AppLogObservation::default()
        },
        &spec.path,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn error_heads() {
        let l = "Error: connect ECONNREFUSED 127.0.0.1:5432";
        let (s, ty, m) = error_head(l).unwrap();
        assert_eq!(
            (s, ty, &l[m..]),
            (0, "Error", "connect ECONNREFUSED 127.0.0.1:5432")
        );
        let l = "Unhandled Rejection: TypeError [ERR_INVALID_ARG_TYPE]: The \"path\" argument";
        let (_, ty, m) = error_head(l).unwrap();
        assert_eq!((ty, &l[m..]), ("TypeError", "The \"path\" argument"));
        let (_, ty, _) = error_head("java.lang.NullPointerException").unwrap();
        assert_eq!(ty, "java.lang.NullPointerException");
        assert!(error_head("ERROR: nothing here").is_none());
        assert!(error_head("an Error occurred").is_none());
    }

    #[test]
    fn redact_keeps_exception_type_with_secret_word() {
        assert_eq!(
            redact_line("KeyError: 'DATABASE_URL'"),
            "KeyError: 'DATABASE_URL'"
        );
        let r = redact_line("x password=hunter2 OperationalError: postgres://app:s3cret@db/x");
        assert!(!r.contains("hunter2") && !r.contains("s3cret"), "{r}");
        assert!(r.contains("OperationalError: "), "{r}");
    }

    #[test]
    fn host_ports() {
        assert_eq!(
            host_port("connect ECONNREFUSED 127.0.0.1:5432").as_deref(),
            Some("127.0.0.1:5432")
        );
        assert_eq!(
            host_port(
                r#"connection to server at "127.0.0.1", port 5432 failed: Connection refused"#
            )
            .as_deref(),
            Some("127.0.0.1:5432")
        );
        assert_eq!(
            host_port("Error 111 connecting to localhost:6379. Connection refused.").as_deref(),
            Some("localhost:6379")
        );
        assert_eq!(host_port("  File \"/app/x.py\", line 3 at 09:30:12"), None);
        assert_eq!(host_port("at Object.<anonymous> (/app/x.js:10:5)"), None);
    }

    #[test]
    fn chained_python_root_cause() {
        let l = lines(
            "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\nConnectionRefusedError: [Errno 111] Connection refused\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File \"b.py\", line 2, in g\nsqlalchemy.exc.OperationalError: boom",
        );
        let t = find_traces(&l);
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].exception_type, "sqlalchemy.exc.OperationalError");
        assert_eq!(
            t[1].root_cause,
            Some((
                "ConnectionRefusedError".into(),
                "[Errno 111] Connection refused".into()
            ))
        );
    }

    #[test]
    fn missing_env_names() {
        let check = |s: &str, want: Option<&str>| {
            let l = lines(s);
            let sig = signature(&l, l.len() - 1).unwrap_or_else(|| panic!("no signature: {s}"));
            assert_eq!(sig.kind, SignatureKind::MissingEnv, "{s}");
            assert_eq!(sig.target.as_deref(), want, "{s}");
        };
        check(
            "ERROR: environment variable SECRET_KEY is not set",
            Some("SECRET_KEY"),
        );
        check(
            "Error: Missing required environment variable \"STRIPE_API_KEY\"",
            Some("STRIPE_API_KEY"),
        );
        check(
            "panic: required key DATABASE_URL missing value",
            Some("DATABASE_URL"),
        );
        check(
            "TypeError: process.env.REDIS_URL is undefined",
            Some("REDIS_URL"),
        );
        check(
            "  File \"/usr/lib/python3.12/os.py\", line 714, in __getitem__\n    raise KeyError(key) from None\nKeyError: 'DATABASE_URL'",
            Some("DATABASE_URL"),
        );
    }

    #[test]
    fn key_error_outside_environ_is_not_missing_env() {
        let l = lines("  File \"/app/x.py\", line 3, in f\n    d['user']\nKeyError: 'user'");
        assert_eq!(signature(&l, 2), None);
    }
}
