//! HAProxy's runtime API: `show stat` over its `stats socket` (a unix
//! socket), the CSV read by its header's column names, one row per server
//! and per backend — state (UP, DOWN, MAINT, DRAIN, NOLB and the `UP 1/3`
//! transitions), the last health check's result, seconds since the last
//! change, 5xx answered, queue and sessions against their limits.
//!
//! It reads at most `max_bytes` within `timeout`; a socket that accepts and
//! never answers is a classified timeout, a socket it may not open a
//! permission failure. It only ever sends `show stat`: never a command that
//! changes HAProxy's state. It does not judge what a state means.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Failure, FailureKind, Phase, ProbeContext};

/// Default byte budget for the CSV: 4 MiB (about 5,000 servers).
pub const DEFAULT_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// Most server and backend rows kept.
pub const MAX_ROWS: usize = 10_000;

/// Ask one HAProxy for its stats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaproxyStatsSpec {
    /// The `stats socket` path.
    pub socket: PathBuf,
    pub timeout: Duration,
    pub max_bytes: u64,
}

impl HaproxyStatsSpec {
    pub fn new(socket: PathBuf, timeout: Duration) -> Self {
        Self {
            socket,
            timeout,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// A server's state as `show stat` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerState {
    Up,
    /// `UP 1/3`: up, and failing checks on the way down.
    GoingDown,
    Down,
    /// `DOWN 1/2`: down, and passing checks on the way up.
    GoingUp,
    /// `NOLB`: up, taking no new load-balanced traffic.
    NoLb,
    /// `MAINT` (also `MAINT (via …)`, `MAINT (resolution)`): taken out by an
    /// operator or a DNS failure.
    Maint,
    /// `DRAIN`: finishing its sessions, taking no new ones.
    Drain,
    /// `no check`: no health check, assumed up.
    NoCheck,
    Other,
}

impl ServerState {
    /// Parse the `status` column.
    pub fn parse(s: &str) -> Self {
        let s = s.trim();
        if s.starts_with("MAINT") {
            return Self::Maint;
        }
        match s {
            "UP" => Self::Up,
            "DOWN" => Self::Down,
            "NOLB" => Self::NoLb,
            "DRAIN" => Self::Drain,
            "no check" => Self::NoCheck,
            _ if s.starts_with("UP ") => Self::GoingDown,
            _ if s.starts_with("DOWN ") => Self::GoingUp,
            _ if s.starts_with("NOLB ") => Self::NoLb,
            _ => Self::Other,
        }
    }

    /// Taking requests: up (possibly failing checks), or unchecked.
    pub fn serves(self) -> bool {
        matches!(self, Self::Up | Self::GoingDown | Self::NoCheck)
    }
}

/// One server's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStat {
    pub backend: String,
    pub server: String,
    /// The `addr` column (`127.0.0.1:3000`), when HAProxy gives it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub addr: Option<String>,
    /// The `status` column as written.
    pub status: String,
    pub state: ServerState,
    /// The last check: `L4CON`, `L7STS`… (a leading `* ` — a check running
    /// now — removed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub check_status: Option<String>,
    /// The HTTP status of the last layer-7 check.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub check_code: Option<u16>,
    /// `check_desc`: `Layer4 connection problem`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub check_desc: Option<String>,
    /// `last_chk`: what the last check saw (`Connection refused`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_chk: Option<String>,
    /// Seconds since the last UP/DOWN change.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lastchg_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hrsp_5xx: Option<u64>,
    /// Requests queued for this server now, and its queue limit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub qcur: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub qlimit: Option<u64>,
    /// Sessions now, and the limit (the server's `maxconn`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scur: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slim: Option<u64>,
}

impl ServerStat {
    /// `L4CON Connection refused`, or what of it is known.
    pub fn check_words(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.check_status.clone());
        if let Some(c) = self.check_code {
            parts.push(c.to_string());
        }
        if let Some(d) = self.last_chk.clone().or_else(|| self.check_desc.clone()) {
            parts.push(d);
        }
        parts.join(" ")
    }

    /// Requests wait in its queue while it is at a limit: the queue at its
    /// `maxqueue` (`qlimit`), or its sessions at `maxconn` (`slim`).
    pub fn queue_at_limit(&self) -> bool {
        let q = self.qcur.unwrap_or(0);
        q > 0
            && (self.qlimit.is_some_and(|l| q >= l)
                || self.slim.is_some_and(|l| self.scur.unwrap_or(0) >= l))
    }

    /// Whether it is down because a health check failed (rather than an
    /// operator's MAINT).
    pub fn down_by_check(&self) -> bool {
        matches!(self.state, ServerState::Down | ServerState::GoingUp)
            && self.check_status.is_some()
    }
}

/// One backend's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendStat {
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub qcur: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scur: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slim: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hrsp_5xx: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lastchg_secs: Option<u64>,
}

/// What `show stat` said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaproxyStatsObservation {
    pub socket: PathBuf,
    /// Bytes of CSV read.
    pub bytes_read: u64,
    /// The answer was longer than the byte budget: later rows are missing.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub truncated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub servers: Vec<ServerStat>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub backends: Vec<BackendStat>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub failure: Option<Failure>,
}

impl HaproxyStatsObservation {
    /// The servers of `backend`.
    pub fn servers_of<'a>(&'a self, backend: &'a str) -> impl Iterator<Item = &'a ServerStat> {
        self.servers.iter().filter(move |s| s.backend == backend)
    }
}

/// Parse `show stat` CSV: the first line `# pxname,svname,…` names the
/// columns; `FRONTEND` rows are skipped, `BACKEND` rows are backends, the
/// rest servers. Rows with fewer fields than named are read as far as they
/// go. Missing columns are `None`; a missing header is a warning.
pub fn parse_show_stat(text: &str) -> (Vec<ServerStat>, Vec<BackendStat>, Vec<String>) {
    let mut lines = text.lines();
    let Some(header) = lines.next().and_then(|h| h.strip_prefix("# ")) else {
        let first = text.lines().next().unwrap_or("");
        return (
            Vec::new(),
            Vec::new(),
            vec![format!(
                "not a show stat answer: {:?}",
                crate::logs::truncate_chars(first, 80)
            )],
        );
    };
    let cols: HashMap<&str, usize> = header
        .split(',')
        .enumerate()
        .map(|(i, n)| (n.trim(), i))
        .collect();
    let (mut servers, mut backends) = (Vec::new(), Vec::new());
    for line in lines.filter(|l| !l.trim().is_empty()) {
        if servers.len() + backends.len() >= MAX_ROWS {
            break;
        }
        let fields: Vec<&str> = line.split(',').collect();
        let get = |name: &str| {
            cols.get(name)
                .and_then(|i| fields.get(*i))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let num = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok());
        let text = |name: &str| get(name).map(crate::logs::excerpt);
        let (Some(px), Some(sv)) = (get("pxname"), get("svname")) else {
            continue;
        };
        match sv {
            "FRONTEND" => {}
            "BACKEND" => backends.push(BackendStat {
                name: px.to_string(),
                status: get("status").unwrap_or_default().to_string(),
                qcur: num("qcur"),
                scur: num("scur"),
                slim: num("slim"),
                hrsp_5xx: num("hrsp_5xx"),
                lastchg_secs: num("lastchg"),
            }),
            _ => {
                let status = get("status").unwrap_or_default().to_string();
                servers.push(ServerStat {
                    backend: px.to_string(),
                    server: sv.to_string(),
                    addr: text("addr"),
                    state: ServerState::parse(&status),
                    status,
                    check_status: get("check_status")
                        .map(|c| c.trim_start_matches("* ").to_string()),
                    check_code: get("check_code").and_then(|c| c.parse().ok()),
                    check_desc: text("check_desc"),
                    last_chk: text("last_chk"),
                    lastchg_secs: num("lastchg"),
                    hrsp_5xx: num("hrsp_5xx"),
                    qcur: num("qcur"),
                    qlimit: num("qlimit"),
                    scur: num("scur"),
                    slim: num("slim"),
                });
            }
        }
    }
    (servers, backends, Vec::new())
}

/// Run the probe: connect, send `show stat`, read the answer within the
/// budget. Never fails.
pub async fn run(spec: &HaproxyStatsSpec, _ctx: &ProbeContext) -> HaproxyStatsObservation {
    let mut obs = HaproxyStatsObservation {
        socket: spec.socket.clone(),
        ..HaproxyStatsObservation::default()
    };
    let what = format!("show stat on {}", spec.socket.display());
    match tokio::time::timeout(spec.timeout, fetch(spec)).await {
        Err(_) => {
            obs.failure = Some(Failure::new(
                FailureKind::Timeout,
                Phase::FirstByte,
                format!(
                    "{what}: no complete answer within {} ms",
                    spec.timeout.as_millis()
                ),
            ));
        }
        Ok(Err((e, phase))) => {
            let mut f = Failure::from_io(&e, phase, &what);
            if f.kind == FailureKind::PermissionDenied {
                f.detail = format!(
                    "{what}: permission denied (the socket's mode or owner keeps this user out; run as its owner or root)"
                );
            }
            obs.failure = Some(f);
        }
        Ok(Ok((bytes, truncated))) => {
            obs.bytes_read = bytes.len() as u64;
            obs.truncated = truncated;
            let text = String::from_utf8_lossy(&bytes);
            let (servers, backends, warnings) = parse_show_stat(&text);
            if servers.is_empty() && backends.is_empty() && !warnings.is_empty() {
                obs.failure = Some(Failure::new(
                    FailureKind::InvalidResponse,
                    Phase::FirstByte,
                    format!("{what}: {}", warnings.join("; ")),
                ));
            }
            obs.servers = servers;
            obs.backends = backends;
            obs.warnings = warnings;
        }
    }
    obs
}

async fn fetch(spec: &HaproxyStatsSpec) -> Result<(Vec<u8>, bool), (std::io::Error, Phase)> {
    let mut s = tokio::net::UnixStream::connect(&spec.socket)
        .await
        .map_err(|e| (e, Phase::Connect))?;
    s.write_all(b"show stat\n")
        .await
        .map_err(|e| (e, Phase::Request))?;
    let mut out = Vec::new();
    let mut limited = (&mut s).take(spec.max_bytes + 1);
    limited
        .read_to_end(&mut out)
        .await
        .map_err(|e| (e, Phase::FirstByte))?;
    let truncated = out.len() as u64 > spec.max_bytes;
    if truncated {
        // Keep whole lines only.
        out.truncate(usize::try_from(spec.max_bytes).unwrap_or(usize::MAX));
        let end = out.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        out.truncate(end);
    }
    Ok((out, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = include_str!("../tests/fixtures/haproxy/show-stat-2.6.csv");

    #[test]
    fn real_show_stat_by_column_name() {
        let (servers, backends, warnings) = parse_show_stat(CSV);
        assert!(warnings.is_empty());
        assert_eq!(backends.len(), 1);
        assert_eq!(backends[0].name, "app");
        let app1 = &servers[0];
        assert_eq!(
            (app1.backend.as_str(), app1.server.as_str()),
            ("app", "app1")
        );
        assert_eq!(app1.state, ServerState::Down);
        assert_eq!(app1.check_status.as_deref(), Some("L4CON"));
        assert_eq!(app1.last_chk.as_deref(), Some("Connection refused"));
        assert_eq!(app1.addr.as_deref(), Some("127.0.0.1:41891"));
        assert_eq!(app1.lastchg_secs, Some(267));
        assert_eq!(app1.check_words(), "L4CON Connection refused");
        assert!(app1.down_by_check());
        assert_eq!(servers[1].state, ServerState::Up);
        assert_eq!(servers.len(), 4, "FRONTEND rows are not servers");
    }

    #[test]
    fn states() {
        assert_eq!(ServerState::parse("UP 1/3"), ServerState::GoingDown);
        assert_eq!(ServerState::parse("DOWN 1/2"), ServerState::GoingUp);
        assert_eq!(ServerState::parse("MAINT (via app/a)"), ServerState::Maint);
        assert_eq!(ServerState::parse("DRAIN"), ServerState::Drain);
        assert_eq!(ServerState::parse("no check"), ServerState::NoCheck);
        assert!(ServerState::NoCheck.serves());
        assert!(!ServerState::Maint.serves());
    }

    #[test]
    fn columns_in_another_order_and_short_rows() {
        let csv = "# svname,pxname,status,qcur,qlimit\nweb,app,UP,5,5\nweb2,app\n";
        let (s, _, _) = parse_show_stat(csv);
        assert_eq!(s[0].qcur, Some(5));
        assert_eq!(s[0].qlimit, Some(5));
        assert_eq!(s[1].state, ServerState::Other);
        let (s, b, w) = parse_show_stat("Unknown command\n");
        assert!(s.is_empty() && b.is_empty());
        assert_eq!(w.len(), 1, "{w:?}");
    }
}
