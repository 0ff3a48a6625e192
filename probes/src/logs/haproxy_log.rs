//! HAProxy's own log lines, as rsyslog writes them to a file (or as `log
//! stdout format raw` prints them): `httplog` request lines whose
//! termination state says why a request failed, and the events `Server
//! app/app1 is DOWN, reason: …, info: "…"` and `backend app has no server
//! available!`. Pure: it takes a line apart and maps it onto the proxy
//! error kinds where the meaning is nginx's too; it never decides a cause.
//!
//! A request line (`%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC
//! %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq {%hr} {%hs} %{+Q}r`), optionally after
//! a syslog prefix (`Nov 26 09:30:12 host haproxy[123]: ` or an RFC 3339
//! stamp):
//! `127.0.0.1:40906 [26/Nov/2026:09:30:12.123] fe app/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`.

use super::proxy_error::{ProxyErrorKind, RequestLine, UpstreamPhase, request_line};
use super::time::{self, Stamp};
use crate::units::UnixTime;

/// The server name HAProxy logs when a request reached no server.
pub const NOSRV: &str = "<NOSRV>";

/// What one HAProxy log line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HaproxyEvent {
    /// An `httplog` request line.
    Request {
        frontend: String,
        backend: String,
        /// The server, or [`NOSRV`].
        server: String,
        status: Option<u16>,
        /// The termination state's two first characters (`SC`, `sH`, `--`).
        termination: String,
        request: Option<RequestLine>,
    },
    /// `Server BACKEND/SERVER is DOWN, reason: REASON[, code: N], info: "INFO"`.
    ServerDown {
        backend: String,
        server: String,
        /// `Layer4 connection problem: Connection refused`.
        reason: String,
    },
    /// `backend NAME has no server available!`.
    NoServerAvailable { backend: String },
}

/// One HAProxy log line taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaproxyLine {
    pub stamp: Stamp,
    pub event: HaproxyEvent,
}

/// A classified HAProxy line: the proxy error kind it means and the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaproxyKind {
    pub kind: ProxyErrorKind,
    pub phase: Option<UpstreamPhase>,
}

/// The text after a syslog tag (`haproxy[123]: `), or the line itself.
fn message(line: &str) -> &str {
    if let Some(i) = line.find("]: ") {
        let tag = &line[..i];
        if tag.rsplit(' ').next().is_some_and(|t| t.contains('[')) {
            return &line[i + 3..];
        }
    }
    line
}

/// The line's time: the syslog or RFC 3339 prefix rsyslog wrote, else
/// HAProxy's own accept date.
fn stamp(line: &str, msg: &str, now: UnixTime) -> Option<Stamp> {
    let prefix = &line[..line.len() - msg.len()];
    (!prefix.is_empty())
        .then(|| time::find_in_line(prefix, now))
        .flatten()
        .or_else(|| time::parse_haproxy_date(msg))
}

/// Take a HAProxy log line apart; `None` for anything else (nginx lines,
/// start-up notices, garbage).
pub fn parse_line(line: &str, now: UnixTime) -> Option<HaproxyLine> {
    let msg = message(line);
    let event = parse_event(msg)?;
    Some(HaproxyLine {
        stamp: stamp(line, msg, now)?,
        event,
    })
}

fn parse_event(msg: &str) -> Option<HaproxyEvent> {
    if let Some(rest) = msg.strip_prefix("Server ")
        && let Some((who, after)) = rest.split_once(" is DOWN")
        && let Some((backend, server)) = who.split_once('/')
    {
        let field = |key: &str| {
            let at = after.find(key)? + key.len();
            let v = &after[at..];
            Some(match v.strip_prefix('"') {
                Some(q) => q.split('"').next().unwrap_or(q),
                None => v.split(',').next().unwrap_or(v),
            })
        };
        let mut reason = field("reason: ").unwrap_or("").to_string();
        if let Some(code) = field(", code: ") {
            reason.push(' ');
            reason.push_str(code);
        }
        if let Some(info) = field("info: ").filter(|i| !i.is_empty()) {
            reason.push_str(": ");
            reason.push_str(info);
        }
        return Some(HaproxyEvent::ServerDown {
            backend: backend.to_string(),
            server: server.to_string(),
            reason: super::truncate_chars(&crate::redact::text(&reason), 256),
        });
    }
    if let Some(rest) = msg.strip_prefix("backend ")
        && let Some(name) = rest.strip_suffix(" has no server available!")
    {
        return Some(HaproxyEvent::NoServerAvailable {
            backend: name.to_string(),
        });
    }
    request(msg)
}

/// An `httplog` request line.
fn request(msg: &str) -> Option<HaproxyEvent> {
    let words: Vec<&str> = msg.split_ascii_whitespace().take(12).collect();
    let [
        client,
        date,
        frontend,
        be_srv,
        timers,
        status,
        _bytes,
        _cc,
        _cs,
        tsc,
        ..,
    ] = words.as_slice()
    else {
        return None;
    };
    let looks_right = client.contains(':')
        && date.starts_with('[')
        && date.ends_with(']')
        && timers.contains('/')
        && tsc.len() >= 2
        && tsc.is_ascii();
    if !looks_right {
        return None;
    }
    let (backend, server) = be_srv.split_once('/')?;
    let request = msg
        .find('"')
        .map(|i| msg[i + 1..].trim_end().trim_end_matches('"'))
        .and_then(request_line);
    Some(HaproxyEvent::Request {
        frontend: frontend.trim_end_matches('~').to_string(),
        backend: backend.to_string(),
        server: server.to_string(),
        status: status.parse().ok(),
        termination: tsc[..2].to_string(),
        request,
    })
}

/// The proxy error kind a line means, where nginx has one of the same
/// meaning: `SC` refused (`<NOSRV>`: no server was available), `sC` a
/// connect timeout, `SH`/`SD` the server closed before or during the
/// response, `sH` `timeout server` before the headers, `sQ` too long in the
/// queue, `PH` a response HAProxy refused to pass on; a server taken DOWN by
/// its check; a backend without servers.
pub fn classify(event: &HaproxyEvent) -> Option<HaproxyKind> {
    use ProxyErrorKind as K;
    use UpstreamPhase as P;
    let (kind, phase) = match event {
        HaproxyEvent::ServerDown { .. } => (K::ServerDown, None),
        HaproxyEvent::NoServerAvailable { .. } => (K::NoLiveUpstreams, None),
        HaproxyEvent::Request {
            server,
            termination,
            ..
        } => match (termination.as_str(), server.as_str()) {
            ("SC", NOSRV) => (K::NoLiveUpstreams, None),
            ("SC", _) => (K::ConnectRefused, Some(P::Connecting)),
            ("sC", _) => (K::UpstreamTimedOut, Some(P::Connecting)),
            ("SH", _) => (K::PrematurelyClosed, Some(P::ReadingResponseHeader)),
            ("SD", _) => (K::PrematurelyClosed, Some(P::ReadingResponseBody)),
            ("sH", _) => (K::UpstreamTimedOut, Some(P::ReadingResponseHeader)),
            ("sQ", _) => (K::QueueTimeout, None),
            ("PH", _) => (K::InvalidHeader, Some(P::ReadingResponseHeader)),
            _ => return None,
        },
    };
    Some(HaproxyKind { kind, phase })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_795_685_412); // 2026-11-26T09:30:12Z

    #[test]
    fn request_line_with_a_syslog_prefix() {
        let l = r#"Nov 26 09:30:12 web-1 haproxy[2665]: 127.0.0.1:40906 [26/Nov/2026:09:30:11.990] fe app/app1 0/0/-1/-1/0 503 217 - - SC-- 1/1/0/0/3 0/0 "GET /a?b=c HTTP/1.1""#;
        let p = parse_line(l, NOW).unwrap();
        assert_eq!(p.stamp.wall, NOW.0, "the syslog time wins");
        let HaproxyEvent::Request {
            backend,
            server,
            status,
            termination,
            request,
            ..
        } = &p.event
        else {
            panic!("{p:?}")
        };
        assert_eq!((backend.as_str(), server.as_str()), ("app", "app1"));
        assert_eq!(*status, Some(503));
        assert_eq!(termination, "SC");
        assert_eq!(request.as_ref().unwrap().path, "/a");
        assert_eq!(
            classify(&p.event).unwrap().kind,
            ProxyErrorKind::ConnectRefused
        );
    }

    #[test]
    fn raw_line_uses_the_accept_date() {
        let l = r#"127.0.0.1:40906 [26/Nov/2026:09:30:12.123] fe app/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1""#;
        let p = parse_line(l, NOW).unwrap();
        assert_eq!(p.stamp.wall, NOW.0);
        assert_eq!(
            classify(&p.event).unwrap().kind,
            ProxyErrorKind::NoLiveUpstreams
        );
    }

    #[test]
    fn events() {
        let l = r#"2026-11-26T09:30:12.000000+00:00 web-1 haproxy[2665]: Server app/app1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 3 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."#;
        let p = parse_line(l, NOW).unwrap();
        assert_eq!(p.stamp.offset, Some(0));
        assert_eq!(
            p.event,
            HaproxyEvent::ServerDown {
                backend: "app".into(),
                server: "app1".into(),
                reason: "Layer4 connection problem: Connection refused".into()
            }
        );
        let l = r#"Nov 26 09:30:12 haproxy[1]: Server app/a is DOWN, reason: Layer7 wrong status, code: 500, info: "Internal Server Error", check duration: 2ms."#;
        let HaproxyEvent::ServerDown { reason, .. } = parse_line(l, NOW).unwrap().event else {
            panic!()
        };
        assert_eq!(reason, "Layer7 wrong status 500: Internal Server Error");
        let l = "Nov 26 09:30:12 web-1 haproxy[2665]: backend app has no server available!";
        assert_eq!(
            parse_line(l, NOW).unwrap().event,
            HaproxyEvent::NoServerAvailable {
                backend: "app".into()
            }
        );
    }

    #[test]
    fn termination_states() {
        use ProxyErrorKind as K;
        let line = |ts: &str| {
            format!(
                r#"127.0.0.1:1 [26/Nov/2026:09:30:12.123] fe app/app1 0/0/0/-1/1000 504 194 - - {ts} 1/1/0/0/0 0/0 "GET / HTTP/1.1""#
            )
        };
        let kind = |ts: &str| {
            parse_line(&line(ts), NOW)
                .and_then(|p| classify(&p.event))
                .map(|k| k.kind)
        };
        assert_eq!(kind("sC--"), Some(K::UpstreamTimedOut));
        assert_eq!(kind("sH--"), Some(K::UpstreamTimedOut));
        assert_eq!(kind("SH--"), Some(K::PrematurelyClosed));
        assert_eq!(kind("SD--"), Some(K::PrematurelyClosed));
        assert_eq!(kind("sQ--"), Some(K::QueueTimeout));
        assert_eq!(kind("PH--"), Some(K::InvalidHeader));
        assert_eq!(kind("----"), None);
        assert_eq!(kind("CD--"), None, "the client's side");
    }

    #[test]
    fn other_lines_are_not_haproxy_lines() {
        assert!(parse_line("2026/11/26 09:30:12 [error] 1#1: *5 connect() failed", NOW).is_none());
        assert!(parse_line("Nov 26 09:30:12 haproxy[1]: Proxy fe started.", NOW).is_none());
        assert!(parse_line("", NOW).is_none());
        assert!(parse_line("a b c d e f g h i j k", NOW).is_none());
    }
}
