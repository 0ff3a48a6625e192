//! The access-log probe: what users got in the window — requests and status
//! counts, 5xx per minute, the first and last 5xx, the failing paths (query
//! strings dropped, ids normalised), requests as slow as the proxy's read
//! timeout, errors per upstream address.
//!
//! The line parser is compiled from the log's own format string — nginx's
//! `log_format` (`$remote_addr … "$request" $status …`, `combined` when none
//! is named) or Apache's `LogFormat` (`%h %l %u %t \"%r\" %>s %b`) — rather
//! than one regular expression per known format: every variable it knows
//! becomes a typed field, any other is skipped as a field. Only the window is
//! read: a binary search on the timestamps finds where it starts in a large
//! file, then the rest is streamed with bounded memory; when the window
//! reaches back past the file's first line, the rotated file (`.1`, then
//! `.1.gz`/`.2.gz`) is read too. Lines that do not parse are counted and
//! skipped. Nothing here says what a status means for a cause.
#![expect(
    clippy::many_single_char_names,
    reason = "parsers of fixed-width fields read best with short names (t, h, m, s, p)"
)]

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::time::days_from_civil;
use crate::units::UnixTime;
use crate::{Failure, FailureKind, Phase, ProbeContext};

/// nginx's predefined `combined` format.
pub const NGINX_COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;
/// Apache's `combined` format (Debian writes `%O` for `%b`).
pub const APACHE_COMBINED: &str = r#"%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#;

/// Most paths kept per run (the rest are counted under `…other`).
const MAX_PATHS: usize = 2_000;
/// Most upstream addresses kept.
const MAX_UPSTREAMS: usize = 256;
/// Most minutes in `per_minute` (a day).
const MAX_MINUTES: usize = 1_440;
/// A line longer than this is skipped as unparsed (memory bound).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// How many failing paths the observation lists.
const TOP_PATHS: usize = 10;

/// Which server's format syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatDialect {
    /// `$variable`, `${variable}`.
    #[default]
    Nginx,
    /// `%h`, `%>s`, `%{Referer}i`.
    Apache,
}

/// What to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogSpec {
    pub path: PathBuf,
    /// The format string, in `dialect`'s syntax.
    pub format: String,
    pub dialect: FormatDialect,
    /// Only requests this recent count (serialized as `window_secs`).
    #[serde(rename = "window_secs", with = "super::secs")]
    pub window: Duration,
    /// Requests that took at least this long are counted as slow (the
    /// proxy's read timeout, in milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_ms: Option<u64>,
    /// Read at most this many bytes in all (time and memory bound).
    pub max_bytes: u64,
    /// Stop reading after this long; what was read counts.
    #[serde(with = "super::secs")]
    pub budget: Duration,
}

impl AccessLogSpec {
    /// The nginx `combined` log at `path`, last 15 minutes.
    pub fn combined(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            format: NGINX_COMBINED.to_string(),
            dialect: FormatDialect::Nginx,
            window: Duration::from_secs(15 * 60),
            slow_ms: None,
            max_bytes: 4 * 1024 * 1024 * 1024,
            budget: Duration::from_secs(4),
        }
    }
}

/// Requests and 5xx in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minute {
    /// The minute's start.
    pub at: UnixTime,
    pub requests: u64,
    pub errors_5xx: u64,
}

/// One normalised path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStats {
    pub path: String,
    pub requests: u64,
    pub errors_5xx: u64,
}

/// One upstream address (the last server that handled the request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamStats {
    pub address: String,
    pub requests: u64,
    pub errors_5xx: u64,
}

/// The first 5xx request of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstError {
    pub at: UnixTime,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Requests at least as slow as the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slow {
    pub over_ms: u64,
    pub requests: u64,
}

/// What the access log says of the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessLogObservation {
    pub path: PathBuf,
    /// The window: from `since` to the time of the read.
    pub since: UnixTime,
    pub until: UnixTime,
    pub requests: u64,
    /// Requests by status code.
    pub by_status: BTreeMap<u16, u64>,
    pub errors_5xx: u64,
    /// 5xx over requests, 0 without requests.
    pub error_ratio: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_5xx: Option<FirstError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_5xx_at: Option<UnixTime>,
    /// Minutes with at least one request, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_minute: Vec<Minute>,
    /// The paths with most 5xx (query strings dropped, ids as `:id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_paths: Vec<PathStats>,
    /// By upstream address, when the format has `$upstream_addr`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_upstream: Vec<UpstreamStats>,
    /// When the format has a request time and a threshold was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<Slow>,
    /// Lines read that did not fit the format (skipped).
    pub unparsed_lines: u64,
    /// Lines read in all (in and before the window).
    pub lines_read: u64,
    pub bytes_read: u64,
    /// Every file read, newest first (the log, then rotated ones).
    pub files: Vec<PathBuf>,
    /// The reading stopped at `max_bytes` or the time budget.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Fields of the format this parser does not know (skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

// ------------------------------------------------------------- the format

/// A field of a compiled format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `[$time_local]`-style `01/Dec/2026:14:02:11 +0000` (Apache `%t`
    /// includes the brackets).
    TimeLocal,
    /// `2026-12-01T14:02:11+00:00`.
    TimeIso8601,
    /// Seconds since the epoch with milliseconds (`$msec`).
    Msec,
    /// `GET /path?q HTTP/1.1`.
    Request,
    Method,
    /// The path with its query (`$request_uri`, `%U%q`).
    Uri,
    Status,
    /// Seconds with millisecond resolution (`$request_time`).
    RequestSeconds,
    /// Microseconds (`%D`).
    RequestMicros,
    /// Whole seconds (`%T`).
    RequestWholeSeconds,
    /// Milliseconds (`%{ms}T`).
    RequestMillis,
    /// `$upstream_response_time`: seconds, `, ` and ` : ` separated.
    UpstreamSeconds,
    /// `$upstream_status`, multi-valued like the time.
    UpstreamStatus,
    /// `$upstream_addr`, multi-valued.
    UpstreamAddr,
    /// Anything else: skipped.
    Skip,
}

/// One piece of a compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Field(Field),
}

/// A format string compiled into a parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFormat {
    pieces: Vec<Piece>,
    /// Variables the parser does not know (parsed as skipped fields).
    pub unknown: Vec<String>,
}

impl AccessFormat {
    /// Compile `format` written in `dialect`'s syntax.
    pub fn compile(format: &str, dialect: FormatDialect) -> Self {
        let mut out = Self {
            pieces: Vec::new(),
            unknown: Vec::new(),
        };
        let mut literal = String::new();
        let bytes = format.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let (field, next) = match dialect {
                FormatDialect::Nginx => nginx_field(format, i),
                FormatDialect::Apache => apache_field(format, i),
            };
            if let Some((name, f)) = field {
                if !literal.is_empty() {
                    out.pieces
                        .push(Piece::Literal(std::mem::take(&mut literal)));
                }
                if f == Field::Skip && !out.unknown.contains(&name) {
                    out.unknown.push(name);
                }
                out.pieces.push(Piece::Field(f));
                i = next;
            } else {
                let ch = format[i..].chars().next().unwrap_or(' ');
                literal.push(ch);
                i += ch.len_utf8();
            }
        }
        if !literal.is_empty() {
            out.pieces.push(Piece::Literal(literal));
        }
        out
    }

    /// Whether the format has `field`.
    pub fn has(&self, field: Field) -> bool {
        self.pieces.contains(&Piece::Field(field))
    }

    /// Parse one line; `None` when it does not fit the format.
    pub fn parse<'a>(&self, line: &'a str) -> Option<Parsed<'a>> {
        let mut p = Parsed::default();
        let mut rest = line;
        let mut k = 0;
        while k < self.pieces.len() {
            match &self.pieces[k] {
                Piece::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Piece::Field(f) => {
                    // A field runs to where the next literal starts (or the
                    // end of the line).
                    let value = match self.pieces.get(k + 1) {
                        Some(Piece::Literal(l)) => {
                            let at = if *f == Field::TimeLocal && rest.starts_with('[') {
                                rest.find(']')
                                    .map(|x| x + 1)
                                    .and_then(|x| rest[x..].starts_with(l.as_str()).then_some(x))?
                            } else if f.multi_valued() {
                                multi_value_end(rest, l)?
                            } else {
                                rest.find(l.as_str())?
                            };
                            let (v, r) = rest.split_at(at);
                            rest = r;
                            v
                        }
                        Some(Piece::Field(_)) => {
                            // Two fields with nothing between: split on space.
                            let at = rest.find(' ').unwrap_or(rest.len());
                            let (v, r) = rest.split_at(at);
                            rest = r;
                            v
                        }
                        None => std::mem::take(&mut rest),
                    };
                    p.set(*f, value);
                }
            }
            k += 1;
        }
        Some(p)
    }
}

impl Field {
    /// nginx writes several values (`, ` between servers, ` : ` between
    /// internal redirects) into one field.
    fn multi_valued(self) -> bool {
        matches!(
            self,
            Self::UpstreamAddr | Self::UpstreamStatus | Self::UpstreamSeconds
        )
    }
}

/// Where a multi-valued field ends: the first `delimiter` that is not part
/// of a `, ` or ` : ` separator.
fn multi_value_end(rest: &str, delimiter: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + rest[from..].find(delimiter)?;
        let before = &rest[..at];
        let after = &rest[at + delimiter.len()..];
        let separator = delimiter.starts_with(' ')
            && (before.ends_with(',') || before.ends_with(" :") || after.starts_with(": "));
        if !separator {
            return Some(at);
        }
        from = at + delimiter.len();
    }
}

/// nginx `$name` or `${name}` at `i`.
fn nginx_field(format: &str, i: usize) -> (Option<(String, Field)>, usize) {
    let b = format.as_bytes();
    if b[i] != b'$' {
        return (None, i);
    }
    let (name, next) = if b.get(i + 1) == Some(&b'{') {
        match format[i + 2..].find('}') {
            Some(end) => (&format[i + 2..i + 2 + end], i + 3 + end),
            None => return (None, i),
        }
    } else {
        let len = format[i + 1..]
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        if len == 0 {
            return (None, i);
        }
        (&format[i + 1..=i + len], i + 1 + len)
    };
    let f = match name {
        "time_local" => Field::TimeLocal,
        "time_iso8601" => Field::TimeIso8601,
        "msec" => Field::Msec,
        "request" => Field::Request,
        "request_method" => Field::Method,
        "request_uri" | "uri" => Field::Uri,
        "status" => Field::Status,
        "request_time" => Field::RequestSeconds,
        "upstream_response_time" => Field::UpstreamSeconds,
        "upstream_status" => Field::UpstreamStatus,
        "upstream_addr" => Field::UpstreamAddr,
        _ => Field::Skip,
    };
    (Some((format!("${name}"), f)), next)
}

/// Apache `%x`, `%>s`, `%{…}x` at `i`.
fn apache_field(format: &str, i: usize) -> (Option<(String, Field)>, usize) {
    let b = format.as_bytes();
    if b[i] != b'%' {
        return (None, i);
    }
    let mut j = i + 1;
    // `%%` is a literal percent.
    if b.get(j) == Some(&b'%') {
        return (None, i);
    }
    // Modifiers: `<` `>` and status lists like `!200,304`.
    while j < b.len() && matches!(b[j], b'<' | b'>' | b'!' | b',' | b'0'..=b'9') {
        j += 1;
    }
    let mut arg = "";
    if b.get(j) == Some(&b'{') {
        match format[j + 1..].find('}') {
            Some(end) => {
                arg = &format[j + 1..j + 1 + end];
                j += end + 2;
            }
            None => return (None, i),
        }
    }
    let Some(&code) = b.get(j) else {
        return (None, i);
    };
    let f = match (code, arg) {
        (b't', "") => Field::TimeLocal,
        (b'r', _) => Field::Request,
        (b'm', _) => Field::Method,
        (b's', _) => Field::Status,
        (b'D', _) | (b'T', "us") => Field::RequestMicros,
        (b'T', "ms") => Field::RequestMillis,
        (b'T', _) => Field::RequestWholeSeconds,
        _ => Field::Skip,
    };
    (Some((format[i..=j].to_string(), f)), j + 1)
}

/// What one line says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed<'a> {
    pub time: Option<&'a str>,
    time_field: Option<Field>,
    pub method: Option<&'a str>,
    pub uri: Option<&'a str>,
    pub status: Option<u16>,
    /// Milliseconds.
    pub request_ms: Option<f64>,
    /// The last upstream's address, time (ms) and status.
    pub upstream_addr: Option<&'a str>,
    pub upstream_ms: Option<f64>,
    pub upstream_status: Option<u16>,
}

/// The last of nginx's `, ` / ` : ` separated values.
fn last_value(v: &str) -> &str {
    v.rsplit([',', ':'])
        .next()
        .map_or(v, str::trim)
        .trim_matches('"')
}

impl<'a> Parsed<'a> {
    fn set(&mut self, f: Field, v: &'a str) {
        let dash = v == "-" || v.is_empty();
        match f {
            Field::TimeLocal | Field::TimeIso8601 | Field::Msec => {
                self.time = Some(v);
                self.time_field = Some(f);
            }
            Field::Request => {
                let mut words = v.split(' ');
                self.method = words.next().filter(|m| !m.is_empty());
                self.uri = words.next();
            }
            Field::Method if !dash => self.method = Some(v),
            Field::Uri if !dash => self.uri = Some(v),
            Field::Status => self.status = v.parse().ok(),
            Field::RequestSeconds => self.request_ms = v.parse::<f64>().ok().map(|s| s * 1000.0),
            Field::RequestMicros => self.request_ms = v.parse::<f64>().ok().map(|u| u / 1000.0),
            Field::RequestWholeSeconds => {
                self.request_ms = v.parse::<f64>().ok().map(|s| s * 1000.0);
            }
            Field::RequestMillis => self.request_ms = v.parse().ok(),
            Field::UpstreamSeconds if !dash => {
                self.upstream_ms = last_value(v).parse::<f64>().ok().map(|s| s * 1000.0);
            }
            Field::UpstreamStatus if !dash => self.upstream_status = last_value(v).parse().ok(),
            Field::UpstreamAddr if !dash => {
                // An address has its own colon: split on ", " and " : ".
                let last = v.rsplit(", ").next().unwrap_or(v);
                let last = last.rsplit(" : ").next().unwrap_or(last);
                self.upstream_addr = Some(last.trim());
            }
            _ => {}
        }
    }

    /// The request's time as a Unix time.
    pub fn unix_time(&self) -> Option<i64> {
        let t = self.time?;
        match self.time_field? {
            Field::TimeLocal => parse_time_local(t.trim_start_matches('[').trim_end_matches(']')),
            Field::TimeIso8601 => parse_iso8601(t),
            Field::Msec => t.parse::<f64>().ok().map(|s| s.floor() as i64),
            _ => None,
        }
    }
}

/// `01/Dec/2026:14:02:11 +0000`.
pub fn parse_time_local(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let day = num(&t[0..2])?;
    let month = month_number(&t[3..6])?;
    let year = num(&t[7..11])?;
    let h = num(&t[12..14])?;
    let m = num(&t[15..17])?;
    let s = num(&t[18..20])?;
    let offset = zone_secs(t.get(21..).unwrap_or("+0000"))?;
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s - offset)
}

/// `2026-12-01T14:02:11+00:00` (or `Z`).
pub fn parse_iso8601(t: &str) -> Option<i64> {
    if t.len() < 19 {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let year = num(t.get(0..4)?)?;
    let month = num(t.get(5..7)?)?;
    let day = num(t.get(8..10)?)?;
    let h = num(t.get(11..13)?)?;
    let m = num(t.get(14..16)?)?;
    let s = num(t.get(17..19)?)?;
    let zone = t.get(19..).unwrap_or("");
    let zone = zone.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = if zone.is_empty() || zone == "Z" {
        0
    } else {
        zone_secs(&zone.replace(':', ""))?
    };
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s - offset)
}

fn zone_secs(z: &str) -> Option<i64> {
    let b = z.as_bytes();
    if b.len() < 5 {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h: i64 = z.get(1..3)?.parse().ok()?;
    let m: i64 = z.get(3..5)?.parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

fn month_number(m: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS.iter().position(|x| *x == m).map(|i| i as i64 + 1)
}

/// A path as a pattern: the query dropped, numeric, hex and uuid segments
/// as `:id` (`/orders/123?x=1` → `/orders/:id`).
pub fn normalise_path(uri: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let id = !seg.is_empty()
            && (seg.bytes().all(|c| c.is_ascii_digit())
                || (seg.len() >= 8 && seg.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'))
                    && seg.bytes().any(|c| c.is_ascii_digit()));
        if id {
            out.push_str(":id");
        } else {
            out.push_str(seg);
        }
    }
    out
}

// ---------------------------------------------------------------- reading

/// Adds one line at a time to the observation.
struct Tally {
    since: i64,
    slow_ms: Option<u64>,
    obs: AccessLogObservation,
    minutes: BTreeMap<i64, (u64, u64)>,
    paths: HashMap<String, (u64, u64)>,
    upstreams: HashMap<String, (u64, u64)>,
    slow: u64,
    /// The last time text and its value (lines of one second share it).
    last_time: (String, Option<i64>),
}

impl Tally {
    fn add(&mut self, format: &AccessFormat, line: &str) {
        self.obs.lines_read += 1;
        let Some(p) = format.parse(line) else {
            self.obs.unparsed_lines += 1;
            return;
        };
        let t = match p.time {
            Some(text) if text == self.last_time.0 => self.last_time.1,
            Some(text) => {
                let v = p.unix_time();
                self.last_time = (text.to_string(), v);
                v
            }
            None => None,
        };
        let (Some(t), Some(status)) = (t, p.status) else {
            self.obs.unparsed_lines += 1;
            return;
        };
        if t < self.since {
            return;
        }
        let error = status >= 500;
        self.obs.requests += 1;
        *self.obs.by_status.entry(status).or_default() += 1;
        let minute = t - t.rem_euclid(60);
        if self.minutes.len() < MAX_MINUTES || self.minutes.contains_key(&minute) {
            let m = self.minutes.entry(minute).or_default();
            m.0 += 1;
            m.1 += u64::from(error);
        }
        if error {
            self.obs.errors_5xx += 1;
            if self.obs.first_5xx.as_ref().is_none_or(|f| t < f.at.0) {
                self.obs.first_5xx = Some(FirstError {
                    at: UnixTime(t),
                    status,
                    method: p.method.map(str::to_string),
                    path: p.uri.map(normalise_path),
                });
            }
            if self.obs.last_5xx_at.is_none_or(|l| t > l.0) {
                self.obs.last_5xx_at = Some(UnixTime(t));
            }
        }
        if let Some(uri) = p.uri {
            let key = normalise_path(uri);
            let key = if self.paths.len() >= MAX_PATHS && !self.paths.contains_key(&key) {
                "…other".to_string()
            } else {
                key
            };
            let e = self.paths.entry(key).or_default();
            e.0 += 1;
            e.1 += u64::from(error);
        }
        if let Some(addr) = p.upstream_addr
            && (self.upstreams.len() < MAX_UPSTREAMS || self.upstreams.contains_key(addr))
        {
            let e = self.upstreams.entry(addr.to_string()).or_default();
            e.0 += 1;
            e.1 += u64::from(error);
        }
        if let (Some(limit), Some(ms)) = (self.slow_ms, p.request_ms)
            && ms >= limit as f64
        {
            self.slow += 1;
        }
    }

    fn finish(mut self, format: &AccessFormat) -> AccessLogObservation {
        let obs = &mut self.obs;
        obs.error_ratio = if obs.requests == 0 {
            0.0
        } else {
            obs.errors_5xx as f64 / obs.requests as f64
        };
        obs.per_minute = self
            .minutes
            .into_iter()
            .map(|(at, (requests, errors_5xx))| Minute {
                at: UnixTime(at),
                requests,
                errors_5xx,
            })
            .collect();
        let mut paths: Vec<PathStats> = self
            .paths
            .into_iter()
            .filter(|(_, (_, e))| *e > 0)
            .map(|(path, (requests, errors_5xx))| PathStats {
                path,
                requests,
                errors_5xx,
            })
            .collect();
        paths.sort_by(|a, b| b.errors_5xx.cmp(&a.errors_5xx).then(a.path.cmp(&b.path)));
        paths.truncate(TOP_PATHS);
        obs.top_paths = paths;
        let mut ups: Vec<UpstreamStats> = self
            .upstreams
            .into_iter()
            .map(|(address, (requests, errors_5xx))| UpstreamStats {
                address,
                requests,
                errors_5xx,
            })
            .collect();
        ups.sort_by(|a, b| {
            b.errors_5xx
                .cmp(&a.errors_5xx)
                .then(a.address.cmp(&b.address))
        });
        obs.by_upstream = ups;
        if let Some(over_ms) = self.slow_ms.filter(|_| {
            format.has(Field::RequestSeconds)
                || format.has(Field::RequestMicros)
                || format.has(Field::RequestMillis)
                || format.has(Field::RequestWholeSeconds)
        }) {
            obs.slow = Some(Slow {
                over_ms,
                requests: self.slow,
            });
        }
        obs.unknown_fields.clone_from(&format.unknown);
        self.obs
    }
}

/// The time of the first complete line at or after `offset` that parses.
fn time_at(file: &mut File, offset: u64, format: &AccessFormat) -> Option<i64> {
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    let n = file.read(&mut buf).ok()?;
    let chunk = &buf[..n];
    let start = if offset == 0 {
        0
    } else {
        memchr::memchr(b'\n', chunk)? + 1
    };
    chunk[start..]
        .split(|c| *c == b'\n')
        .take(8)
        .filter_map(|l| std::str::from_utf8(l).ok())
        .find_map(|l| format.parse(l).and_then(|p| p.unix_time()))
}

/// Where the window starts in a file sorted (roughly) by time: the offset
/// of a line at or before the first line of time `since` or later, within
/// 64 KiB.
fn window_start(file: &mut File, size: u64, since: i64, format: &AccessFormat) -> u64 {
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 64 * 1024 {
        let mid = lo + (hi - lo) / 2;
        match time_at(file, mid, format) {
            // Lines are written as requests end: allow a minute of disorder.
            Some(t) if t < since - 60 => lo = mid,
            Some(_) => hi = mid,
            None => return lo,
        }
    }
    lo
}

/// Stream `reader`'s lines into `tally`; false when a bound stopped it.
fn stream(
    reader: &mut dyn BufRead,
    format: &AccessFormat,
    tally: &mut Tally,
    bytes_left: &mut u64,
    deadline: Instant,
) -> bool {
    let mut line = Vec::with_capacity(512);
    loop {
        line.clear();
        let n = match (&mut *reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return true,
            Ok(n) => n as u64,
        };
        tally.obs.bytes_read += n;
        if line.len() > MAX_LINE_BYTES && line.last() != Some(&b'\n') {
            // Skip the rest of an over-long line.
            tally.obs.lines_read += 1;
            tally.obs.unparsed_lines += 1;
            let mut sink = Vec::new();
            let _ = reader.read_until(b'\n', &mut sink);
            continue;
        }
        if let Ok(text) = std::str::from_utf8(line.strip_suffix(b"\n").unwrap_or(&line)) {
            tally.add(format, text.strip_suffix('\r').unwrap_or(text));
        } else {
            let text = String::from_utf8_lossy(&line);
            tally.add(format, text.trim_end_matches(['\n', '\r']));
        }
        *bytes_left = bytes_left.saturating_sub(n);
        if *bytes_left == 0
            || (tally.obs.lines_read.is_multiple_of(4096) && Instant::now() > deadline)
        {
            return false;
        }
    }
}

/// Read one plain file's window into `tally`; returns whether the window
/// reaches back past its first line (so the rotated file matters).
fn read_plain(
    path: &Path,
    format: &AccessFormat,
    tally: &mut Tally,
    bytes_left: &mut u64,
    deadline: Instant,
) -> Result<bool, std::io::Error> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let start = window_start(&mut file, size, tally.since, format);
    let first = time_at(&mut file, 0, format);
    file.seek(SeekFrom::Start(start))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    if start > 0 {
        let mut partial = Vec::new();
        let n = reader.read_until(b'\n', &mut partial)?;
        tally.obs.bytes_read += n as u64;
    }
    tally.obs.files.push(path.to_path_buf());
    if !stream(&mut reader, format, tally, bytes_left, deadline) {
        tally.obs.truncated = true;
        return Ok(false);
    }
    Ok(start == 0 && first.is_some_and(|t| t > tally.since))
}

/// The rotated files of `path`, newest first: `.1`, then `.1.gz`, `.2.gz`.
fn rotated(path: &Path) -> Vec<PathBuf> {
    let name = path.as_os_str().to_string_lossy().into_owned();
    [".1", ".1.gz", ".2.gz"]
        .iter()
        .map(|s| PathBuf::from(format!("{name}{s}")))
        .filter(|p| p.exists())
        .collect()
}

/// Read the log `spec` describes, at `now`.
pub fn scan(spec: &AccessLogSpec, now: UnixTime) -> AccessLogObservation {
    let format = AccessFormat::compile(&spec.format, spec.dialect);
    let since = now.0 - i64::try_from(spec.window.as_secs()).unwrap_or(i64::MAX / 2);
    let mut tally = Tally {
        since,
        slow_ms: spec.slow_ms,
        obs: AccessLogObservation {
            path: spec.path.clone(),
            since: UnixTime(since),
            until: now,
            ..AccessLogObservation::default()
        },
        minutes: BTreeMap::new(),
        paths: HashMap::new(),
        upstreams: HashMap::new(),
        slow: 0,
        last_time: (String::new(), None),
    };
    let deadline = Instant::now() + spec.budget;
    let mut bytes_left = spec.max_bytes;
    let read = read_plain(&spec.path, &format, &mut tally, &mut bytes_left, deadline);
    let older = match read {
        Ok(older) => older,
        Err(e) => {
            let kind = match e.kind() {
                std::io::ErrorKind::NotFound => FailureKind::NotFound,
                std::io::ErrorKind::PermissionDenied => FailureKind::PermissionDenied,
                _ => FailureKind::Other,
            };
            tally.obs.failure = Some(Failure::new(
                kind,
                Phase::Local,
                format!("reading {}: {e}", spec.path.display()),
            ));
            return tally.finish(&format);
        }
    };
    if older {
        for r in rotated(&spec.path) {
            let reaches_back = if r.extension().is_some_and(|e| e == "gz") {
                File::open(&r).is_ok_and(|f| {
                    let mut reader =
                        BufReader::with_capacity(1 << 20, flate2::read::GzDecoder::new(f));
                    tally.obs.files.push(r.clone());
                    let before = tally.obs.lines_read;
                    let whole = stream(&mut reader, &format, &mut tally, &mut bytes_left, deadline);
                    if !whole {
                        tally.obs.truncated = true;
                    }
                    whole && tally.obs.lines_read > before
                })
            } else {
                read_plain(&r, &format, &mut tally, &mut bytes_left, deadline).unwrap_or(false)
            };
            if !reaches_back || tally.obs.truncated {
                break;
            }
        }
    }
    tally.finish(&format)
}

/// Run the probe: the reading happens on the blocking pool.
pub async fn run_access_log(spec: &AccessLogSpec, _ctx: &ProbeContext) -> AccessLogObservation {
    super::scan_blocking(
        spec,
        scan,
        |failure| AccessLogObservation {
            path: spec.path.clone(),
            failure: Some(failure),
            ..AccessLogObservation::default()
        },
        &spec.path,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_line_parses() {
        let f = AccessFormat::compile(NGINX_COMBINED, FormatDialect::Nginx);
        let p = f
            .parse(r#"127.0.0.1 - - [01/Dec/2026:14:02:11 +0000] "GET /orders/123?x=1 HTTP/1.1" 502 157 "-" "curl/7.88.1""#)
            .unwrap();
        assert_eq!(p.status, Some(502));
        assert_eq!(p.method, Some("GET"));
        assert_eq!(p.uri, Some("/orders/123?x=1"));
        assert_eq!(p.unix_time(), Some(1_796_133_731));
        assert!(f.unknown.contains(&"$remote_addr".to_string()));
    }

    #[test]
    fn upstream_fields_take_the_last_server() {
        let f = AccessFormat::compile(
            r#"$time_iso8601 "$request" $status $request_time $upstream_addr $upstream_status $upstream_response_time"#,
            FormatDialect::Nginx,
        );
        let p = f
            .parse(r#"2026-12-01T14:02:11+01:00 "POST /pay HTTP/1.1" 504 60.002 127.0.0.1:3001, 127.0.0.1:3002 502, 504 0.001, 60.000"#)
            .unwrap();
        assert_eq!(p.status, Some(504));
        assert_eq!(p.request_ms, Some(60_002.0));
        assert_eq!(p.upstream_addr, Some("127.0.0.1:3002"));
        assert_eq!(p.upstream_status, Some(504));
        assert_eq!(p.upstream_ms, Some(60_000.0));
        assert_eq!(p.unix_time(), Some(1_796_133_731 - 3600));
    }

    #[test]
    fn apache_combined_and_durations() {
        let f = AccessFormat::compile(&format!("{APACHE_COMBINED} %D"), FormatDialect::Apache);
        let p = f
            .parse(r#"::1 - - [01/Dec/2026:14:02:11 +0000] "GET /x HTTP/1.1" 503 299 "-" "curl/7.88.1" 1500"#)
            .unwrap();
        assert_eq!(p.status, Some(503));
        assert_eq!(p.request_ms, Some(1.5));
        assert_eq!(p.unix_time(), Some(1_796_133_731));
    }

    #[test]
    fn garbage_does_not_parse() {
        let f = AccessFormat::compile(NGINX_COMBINED, FormatDialect::Nginx);
        assert!(f.parse("\u{0}\u{1}binary").is_none());
        assert!(f.parse("").is_none());
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalise_path("/orders/123?x=1"), "/orders/:id");
        assert_eq!(
            normalise_path("/u/3f2504e0-4f89-11d3-9a0c-0305e82c3301/cart"),
            "/u/:id/cart"
        );
        assert_eq!(normalise_path("/static/app.css"), "/static/app.css");
        assert_eq!(normalise_path("/"), "/");
    }
}
