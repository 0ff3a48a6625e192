//! The haproxy configuration, the basics: `global`, `defaults`, `frontend`,
//! `backend` and `listen` sections; binds, `default_backend`/`use_backend`,
//! backend `server` lines, `mode`, `maxconn`, `log` targets and the
//! connect/server/client timeouts with `defaults` inheritance (the last
//! `defaults` section before a proxy, or the one named with `from`).
//!
//! [`split_line`], [`parse_time`] and [`parse`] are pure; [`load`] reads the
//! files (`-f` files and directories of `*.cfg`), bounded like nginx's.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Loaded;
use super::nginx::{MAX_FILE_BYTES, MAX_FILES};
use super::{
    Address, ConfigFile, EffectiveTimeout, ForwardTarget, Host, Origin, Protocol, Setting,
    Timeouts, files,
};
use crate::{Failure, Millis, Phase};

/// The connect, server and client timeouts of a section: set there or
/// inherited from its `defaults`. Absent: no timeout at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HaproxyTimeouts {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connect: Option<Setting<Millis>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<Setting<Millis>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client: Option<Setting<Millis>>,
}

/// One `bind` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// The address list as written (`*:443`, `:80,:::80`, `/run/h.sock`).
    pub raw: String,
    /// Each address; the host is `*` for all addresses.
    pub addresses: Vec<Address>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub ssl: bool,
    pub origin: Origin,
}

/// `use_backend NAME [if|unless CONDITION]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseBackend {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub condition: Option<String>,
    pub origin: Origin,
}

/// A `frontend` (or the frontend half of a `listen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frontend {
    pub name: String,
    pub origin: Origin,
    /// Declared as `listen` (then a backend of the same name exists too).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub listen: bool,
    /// `http` or `tcp`, set or inherited; absent: haproxy's default, tcp.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub binds: Vec<Bind>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default_backend: Option<Setting<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub use_backends: Vec<UseBackend>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub maxconn: Option<Setting<u64>>,
    /// Effective timeouts.
    pub timeouts: HaproxyTimeouts,
}

/// One `server` line of a backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaproxyServer {
    pub name: String,
    /// The address as written.
    pub raw: String,
    pub address: Address,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub check: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub ssl: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub backup: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub disabled: bool,
    /// The other parameters as written.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub params: Vec<String>,
    pub origin: Origin,
}

impl HaproxyServer {
    /// The value of a `NAME VALUE` parameter (`maxconn 100`).
    pub fn param(&self, name: &str) -> Option<&str> {
        let at = self.params.iter().position(|p| p == name)?;
        self.params.get(at + 1).map(String::as_str)
    }
}

/// A `backend` (or the backend half of a `listen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    pub name: String,
    pub origin: Origin,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub listen: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub servers: Vec<HaproxyServer>,
    /// Effective timeouts.
    pub timeouts: HaproxyTimeouts,
}

/// A `defaults` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Defaults {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub maxconn: Option<Setting<u64>>,
    /// Effective timeouts (with those of the defaults it names with `from`).
    pub timeouts: HaproxyTimeouts,
}

/// What a haproxy configuration says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HaproxyModel {
    /// `maxconn` of `global`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub maxconn: Option<Setting<u64>>,
    /// `log` targets of `global` as written (`/dev/log local0`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub logs: Vec<Setting<String>>,
    /// The first `stats socket` of `global` on a unix socket (`unix@` dropped);
    /// sockets on TCP addresses are not kept.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stats_socket: Option<Setting<PathBuf>>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub defaults: Vec<Defaults>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub frontends: Vec<Frontend>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub backends: Vec<Backend>,
    /// Log files its `log` targets end in (see [`Self::error_logs`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub log_files: Vec<PathBuf>,
}

impl HaproxyModel {
    /// Every backend server with the frontends that route to it and the
    /// backend's effective connect and server timeouts.
    pub fn forward_targets(&self) -> Vec<ForwardTarget> {
        let mut out = Vec::new();
        for b in &self.backends {
            let users: Vec<String> = self
                .frontends
                .iter()
                .filter(|f| {
                    (f.listen && b.listen && f.name == b.name)
                        || f.default_backend
                            .as_ref()
                            .is_some_and(|d| d.value == b.name)
                        || f.use_backends.iter().any(|u| u.name == b.name)
                })
                .map(|f| {
                    let kind = if f.listen { "listen" } else { "frontend" };
                    format!("{kind} {}", f.name)
                })
                .collect();
            let frontend = if users.is_empty() {
                format!("backend {} (no frontend uses it)", b.name)
            } else {
                users.join(", ")
            };
            let timeout = |s: Option<&Setting<Millis>>| EffectiveTimeout {
                value: s.map(|s| s.value),
                origin: s.map(|s| s.origin.clone()),
            };
            let timeouts = Timeouts {
                connect: timeout(b.timeouts.connect.as_ref()),
                read: timeout(b.timeouts.server.as_ref()),
                send: timeout(b.timeouts.server.as_ref()),
            };
            for s in &b.servers {
                let protocol = if b.mode.as_deref() != Some("http") {
                    Protocol::Tcp
                } else if s.ssl {
                    Protocol::Https
                } else {
                    Protocol::Http
                };
                out.push(ForwardTarget {
                    protocol,
                    address: s.address.clone(),
                    raw: s.raw.clone(),
                    upstream: Some(b.name.clone()),
                    frontend: frontend.clone(),
                    location: None,
                    origin: s.origin.clone(),
                    server_origin: Some(s.origin.clone()),
                    backup: s.backup,
                    down: s.disabled,
                    conditional: false,
                    timeouts: timeouts.clone(),
                    resolver: None,
                });
            }
        }
        out
    }

    /// Its log files: a `log` target that is a regular file, else the file
    /// rsyslog writes for it (`/var/log/haproxy.log`) when it exists; found
    /// by [`load`] ([`Self::log_files`]).
    pub fn error_logs(&self) -> Vec<PathBuf> {
        self.log_files.clone()
    }

    /// Every server as `backend/server` with the address it forwards to, as
    /// the log names them.
    pub fn server_addresses(&self) -> std::collections::BTreeMap<String, String> {
        self.backends
            .iter()
            .flat_map(|b| {
                b.servers
                    .iter()
                    .filter(|s| !matches!(s.address, Address::Unresolved { .. }))
                    .map(|s| (format!("{}/{}", b.name, s.name), s.address.to_string()))
            })
            .collect()
    }

    /// The backend named `name`.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name == name)
    }
}

/// Split one configuration line into words: blanks separate words, `#`
/// starts a comment, `\` escapes the next character, `"..."` and `'...'`
/// group (environment variables are kept as written).
pub fn split_line(line: &str) -> Vec<String> {
    split_line_with(line, &|_| None, false)
}

/// [`split_line`] with HAProxy's environment variables expanded outside
/// single quotes: `${VAR}`, `${VAR-default}` (`env` answers a name;
/// unset is empty, as HAProxy does). With `expand` off they stay as
/// written.
pub fn split_line_with(
    line: &str,
    env: &dyn Fn(&str) -> Option<String>,
    expand: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
                in_word = true;
            }
            (Some('"') | None, '$') if expand && chars.clone().next() == Some('{') => {
                let rest: String = chars.clone().skip(1).collect();
                if let Some(end) = rest.find('}') {
                    let inner = &rest[..end];
                    let (name, default) = match inner.split_once('-') {
                        Some((n, d)) => (n, Some(d)),
                        None => (inner, None),
                    };
                    let value = env(name)
                        .filter(|v| !v.is_empty() || default.is_none())
                        .or_else(|| default.map(str::to_string))
                        .unwrap_or_default();
                    word.push_str(&value);
                    in_word = true;
                    for _ in 0..end + 2 {
                        chars.next();
                    }
                } else {
                    word.push('$');
                    in_word = true;
                }
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// haproxy time syntax in milliseconds: a number with an optional unit,
/// `us`, `ms` (the default), `s`, `m`, `h`, `d`.
pub fn parse_time(s: &str) -> Option<Millis> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: f64 = s[..digits].parse::<u64>().ok()? as f64;
    let factor = match &s[digits..] {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some(Millis(n * factor))
}

/// The section a line belongs to while parsing.
#[derive(Debug, Clone, Copy)]
enum Section {
    None,
    Global,
    Defaults(usize),
    Frontend(usize),
    Backend(usize),
    Listen(usize, usize),
    Other,
}

/// A section's own settings, before inheritance.
#[derive(Debug, Clone, Default)]
struct Own {
    timeouts: HaproxyTimeouts,
    mode: Option<String>,
    maxconn: Option<Setting<u64>>,
    /// The defaults section it inherits from.
    parent: Option<usize>,
    /// The last `default-server` line's parameters: they apply to the
    /// servers after it in this section.
    default_server: Vec<String>,
}

/// Parse configuration files given as `(path, text)` in load order. Each
/// file starts outside any section. Problems become warnings naming
/// `file:line`.
pub fn parse(sources: &[(PathBuf, String)]) -> (HaproxyModel, Vec<String>) {
    parse_with(sources, &|k| std::env::var(k).ok())
}

/// Whether a `.if`/`.elif` condition holds: `defined(VAR)`, `streq(a,b)`,
/// `strneq(a,b)`, a number (non-zero is true), `!` before a term, terms
/// joined by `&&` and `||` (left to right, as HAProxy evaluates them).
/// `None` for a condition this reader cannot decide (`feature(...)`,
/// `version_atleast(...)`: the running binary's build decides those).
fn condition(words: &[String], env: &dyn Fn(&str) -> Option<String>) -> Option<bool> {
    let text = words.join(" ");
    // Terms and the operators between them, left to right.
    let mut terms: Vec<(&str, &str)> = Vec::new();
    let mut rest = text.as_str();
    let mut op = "";
    loop {
        let next = [rest.find("&&"), rest.find("||")]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = next else {
            terms.push((op, rest.trim()));
            break;
        };
        terms.push((op, rest[..at].trim()));
        op = &rest[at..at + 2];
        rest = &rest[at + 2..];
    }
    let args = |t: &str, f: &str| {
        t.strip_prefix(f)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
            .map(|a| {
                a.split(',')
                    .map(|x| x.trim().trim_matches('"').to_string())
                    .collect::<Vec<_>>()
            })
    };
    let mut result: Option<bool> = None;
    for (op, term) in terms {
        let (neg, term) = match term.strip_prefix('!') {
            Some(t) => (true, t.trim()),
            None => (false, term),
        };
        let v = if let Some(a) = args(term, "defined") {
            a.first().is_some_and(|n| env(n).is_some())
        } else if let Some(a) = args(term, "streq") {
            a.len() == 2 && a[0] == a[1]
        } else if let Some(a) = args(term, "strneq") {
            a.len() == 2 && a[0] != a[1]
        } else if let Ok(n) = term.parse::<i64>() {
            n != 0
        } else {
            return None;
        };
        let v = v != neg;
        result = Some(match (result, op) {
            (None, _) => v,
            (Some(r), "&&") => r && v,
            (Some(r), _) => r || v,
        });
    }
    result
}

/// One `.if` level: whether its current branch is read, and whether a
/// branch of it was taken already.
struct Cond {
    active: bool,
    taken: bool,
}

/// [`parse`] with `env` answering environment variables (`${VAR}` in the
/// configuration and `defined(VAR)` in `.if`), and the conditional blocks
/// `.if/.elif/.else/.endif` evaluated: lines of a branch not taken are not
/// read; a condition this reader cannot decide is taken as false, with a
/// located warning.
pub fn parse_with(
    sources: &[(PathBuf, String)],
    env: &dyn Fn(&str) -> Option<String>,
) -> (HaproxyModel, Vec<String>) {
    let mut m = HaproxyModel::default();
    let mut warnings = Vec::new();
    let mut defaults_own: Vec<Own> = Vec::new();
    let mut frontend_own: Vec<Own> = Vec::new();
    let mut backend_own: Vec<Own> = Vec::new();
    let mut last_defaults: Option<usize> = None;
    for (path, text) in sources {
        let mut section = Section::None;
        let mut conds: Vec<Cond> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let origin = Origin::new(path, u32::try_from(i + 1).unwrap_or(u32::MAX));
            let words = split_line_with(line, env, true);
            let Some(kw) = words.first().map(String::as_str) else {
                continue;
            };
            let outer = conds.iter().all(|c| c.active);
            match kw {
                ".if" | ".elif" => {
                    let decided = condition(&words[1..], env);
                    if decided.is_none() && outer {
                        warnings.push(format!(
                            "{origin}: cannot evaluate {:?}; its block is not read",
                            words[1..].join(" ")
                        ));
                    }
                    let holds = decided.unwrap_or(false);
                    if kw == ".if" {
                        conds.push(Cond {
                            active: outer && holds,
                            taken: holds,
                        });
                    } else if let Some(c) = conds.last_mut() {
                        c.active = !c.taken && holds;
                        c.taken |= holds;
                        let parents = conds.len() - 1;
                        if !conds[..parents].iter().all(|c| c.active)
                            && let Some(c) = conds.last_mut()
                        {
                            c.active = false;
                        }
                    }
                    continue;
                }
                ".else" => {
                    let parents = conds.len().saturating_sub(1);
                    let outer = conds[..parents].iter().all(|c| c.active);
                    if let Some(c) = conds.last_mut() {
                        c.active = outer && !c.taken;
                        c.taken = true;
                    }
                    continue;
                }
                ".endif" => {
                    if conds.pop().is_none() {
                        warnings.push(format!("{origin}: .endif without .if"));
                    }
                    continue;
                }
                ".diag" | ".notice" | ".warning" | ".alert" => continue,
                _ if !outer => continue,
                _ => {}
            }
            // A section header.
            let name = words.get(1).filter(|n| *n != "from").cloned();
            let from = words
                .iter()
                .position(|w| w == "from")
                .and_then(|p| words.get(p + 1))
                .and_then(|f| {
                    let found = m
                        .defaults
                        .iter()
                        .rposition(|d| d.name.as_deref() == Some(f));
                    if found.is_none() {
                        warnings.push(format!("{origin}: no defaults section named {f:?}"));
                    }
                    found
                });
            let parent = from.or(last_defaults);
            match kw {
                "global" => {
                    section = Section::Global;
                    continue;
                }
                "defaults" => {
                    m.defaults.push(Defaults {
                        name,
                        origin,
                        mode: None,
                        maxconn: None,
                        timeouts: HaproxyTimeouts::default(),
                    });
                    defaults_own.push(Own {
                        parent: from,
                        ..Own::default()
                    });
                    last_defaults = Some(m.defaults.len() - 1);
                    section = Section::Defaults(m.defaults.len() - 1);
                    continue;
                }
                "frontend" | "backend" | "listen" => {
                    let Some(name) = name else {
                        warnings.push(format!("{origin}: {kw} without a name"));
                        section = Section::Other;
                        continue;
                    };
                    // A `default-server` of the defaults section applies
                    // to its servers until the section writes its own.
                    let own = Own {
                        parent,
                        default_server: parent
                            .and_then(|p| defaults_own.get(p))
                            .map(|d| d.default_server.clone())
                            .unwrap_or_default(),
                        ..Own::default()
                    };
                    let listen = kw == "listen";
                    let mut fi = None;
                    let mut bi = None;
                    if kw != "backend" {
                        m.frontends.push(Frontend {
                            name: name.clone(),
                            origin: origin.clone(),
                            listen,
                            mode: None,
                            binds: Vec::new(),
                            default_backend: None,
                            use_backends: Vec::new(),
                            maxconn: None,
                            timeouts: HaproxyTimeouts::default(),
                        });
                        frontend_own.push(own.clone());
                        fi = Some(m.frontends.len() - 1);
                    }
                    if kw != "frontend" {
                        m.backends.push(Backend {
                            name,
                            origin,
                            listen,
                            mode: None,
                            servers: Vec::new(),
                            timeouts: HaproxyTimeouts::default(),
                        });
                        backend_own.push(own);
                        bi = Some(m.backends.len() - 1);
                    }
                    section = match (fi, bi) {
                        (Some(f), Some(b)) => Section::Listen(f, b),
                        (Some(f), None) => Section::Frontend(f),
                        (None, Some(b)) => Section::Backend(b),
                        (None, None) => Section::Other,
                    };
                    continue;
                }
                "resolvers" | "peers" | "userlist" | "mailers" | "program" | "http-errors"
                | "ring" | "cache" | "crt-store" | "log-forward" | "traces" => {
                    section = Section::Other;
                    continue;
                }
                _ => {}
            }
            let args = &words[1..];
            match section {
                Section::None => {
                    warnings.push(format!("{origin}: {kw:?} outside any section"));
                }
                Section::Other => {}
                Section::Global => match kw {
                    "maxconn" => m.maxconn = number(args, &origin),
                    "log" if !args.is_empty() => {
                        m.logs.push(Setting::new(args.join(" "), origin));
                    }
                    "stats" if args.first().is_some_and(|a| a == "socket") => {
                        let path = args.get(1).map(|a| a.strip_prefix("unix@").unwrap_or(a));
                        if m.stats_socket.is_none()
                            && let Some(path) =
                                path.filter(|p| !p.contains('@') && !p.contains(':'))
                        {
                            m.stats_socket = Some(Setting::new(PathBuf::from(path), origin));
                        }
                    }
                    _ => {}
                },
                Section::Defaults(d) => {
                    if kw == "default-server" {
                        defaults_own[d].default_server = args.to_vec();
                    }
                    own_setting(&mut defaults_own[d], kw, args, &origin, &mut warnings);
                }
                Section::Frontend(f) => {
                    own_setting(&mut frontend_own[f], kw, args, &origin, &mut warnings);
                    frontend_line(&mut m.frontends[f], kw, args, &origin);
                }
                Section::Backend(b) => {
                    let (backend, own) = (&mut m.backends[b], &mut backend_own[b]);
                    backend_line(backend, own, kw, args, &origin, &mut warnings);
                }
                Section::Listen(f, b) => {
                    own_setting(&mut frontend_own[f], kw, args, &origin, &mut warnings);
                    frontend_line(&mut m.frontends[f], kw, args, &origin);
                    let (backend, own) = (&mut m.backends[b], &mut backend_own[b]);
                    backend_line(backend, own, kw, args, &origin, &mut warnings);
                }
            }
        }
    }
    // Inheritance: own values, else the defaults chain's.
    for (i, d) in m.defaults.iter_mut().enumerate() {
        let e = effective(&defaults_own[i], &defaults_own);
        d.timeouts = e.timeouts;
        d.mode = e.mode;
        d.maxconn = e.maxconn;
    }
    for (f, own) in m.frontends.iter_mut().zip(&frontend_own) {
        let e = effective(own, &defaults_own);
        f.timeouts = e.timeouts;
        f.mode = e.mode;
        f.maxconn = e.maxconn;
    }
    for (b, own) in m.backends.iter_mut().zip(&backend_own) {
        let e = effective(own, &defaults_own);
        b.timeouts = e.timeouts;
        b.mode = e.mode;
    }
    for f in &m.frontends {
        let names = f
            .default_backend
            .iter()
            .map(|d| (&d.value, &d.origin))
            .chain(f.use_backends.iter().map(|u| (&u.name, &u.origin)));
        for (name, origin) in names {
            if !name.contains('%') && m.backend(name).is_none() {
                warnings.push(format!("{origin}: no backend named {name:?}"));
            }
        }
    }
    (m, warnings)
}

/// A section's settings merged with its defaults chain (bounded, so a
/// malformed chain cannot loop).
fn effective(own: &Own, defaults: &[Own]) -> Own {
    let mut e = own.clone();
    let mut next = own.parent;
    let mut steps = 0;
    while let Some(p) = next {
        let Some(d) = defaults.get(p) else { break };
        e.timeouts.connect = e.timeouts.connect.or_else(|| d.timeouts.connect.clone());
        e.timeouts.server = e.timeouts.server.or_else(|| d.timeouts.server.clone());
        e.timeouts.client = e.timeouts.client.or_else(|| d.timeouts.client.clone());
        e.mode = e.mode.or_else(|| d.mode.clone());
        e.maxconn = e.maxconn.or_else(|| d.maxconn.clone());
        steps += 1;
        next = d.parent.filter(|_| steps < 16);
    }
    e
}

fn number(args: &[String], origin: &Origin) -> Option<Setting<u64>> {
    args.first()
        .and_then(|v| v.parse().ok())
        .map(|v| Setting::new(v, origin.clone()))
}

/// Settings that `defaults` pass on: timeouts, `mode`, `maxconn`.
fn own_setting(
    own: &mut Own,
    kw: &str,
    args: &[String],
    origin: &Origin,
    warnings: &mut Vec<String>,
) {
    let (which, value) = match kw {
        "timeout" => (args.first().map(String::as_str), args.get(1)),
        "contimeout" => (Some("connect"), args.first()),
        "srvtimeout" => (Some("server"), args.first()),
        "clitimeout" => (Some("client"), args.first()),
        "mode" => {
            own.mode = args.first().cloned();
            return;
        }
        "maxconn" => {
            own.maxconn = number(args, origin);
            return;
        }
        _ => return,
    };
    let slot = match which {
        Some("connect") => &mut own.timeouts.connect,
        Some("server") => &mut own.timeouts.server,
        Some("client") => &mut own.timeouts.client,
        _ => return,
    };
    match value.and_then(|v| parse_time(v)) {
        Some(ms) => *slot = Some(Setting::new(ms, origin.clone())),
        None => warnings.push(format!(
            "{origin}: invalid time {:?}",
            value.map_or("", |v| v.as_str())
        )),
    }
}

fn frontend_line(f: &mut Frontend, kw: &str, args: &[String], origin: &Origin) {
    match kw {
        "bind" => {
            let Some(raw) = args.first() else { return };
            f.binds.push(Bind {
                raw: raw.clone(),
                addresses: raw.split(',').map(bind_address).collect(),
                ssl: args.iter().any(|a| a == "ssl"),
                origin: origin.clone(),
            });
        }
        "default_backend" => {
            f.default_backend = args
                .first()
                .map(|b| Setting::new(b.clone(), origin.clone()));
        }
        "use_backend" => {
            let Some(name) = args.first() else { return };
            f.use_backends.push(UseBackend {
                name: name.clone(),
                condition: (args.len() > 1).then(|| args[1..].join(" ")),
                origin: origin.clone(),
            });
        }
        _ => {}
    }
}

/// One directive of a backend (or a `listen`'s backend half): the settings
/// it inherits and passes on ([`own_setting`]), then its servers: `server`,
/// `server-template` (expanded to `NAME1`..`NAMEn`, each a target at the
/// same address) and `default-server` (its parameters go before those of
/// every later server line of the section).
fn backend_line(
    b: &mut Backend,
    own: &mut Own,
    kw: &str,
    args: &[String],
    origin: &Origin,
    warnings: &mut Vec<String>,
) {
    own_setting(own, kw, args, origin, warnings);
    let (names, raw, rest): (Vec<String>, &String, &[String]) = match kw {
        "default-server" => {
            own.default_server = args.to_vec();
            return;
        }
        "server" => {
            let (Some(name), Some(raw)) = (args.first(), args.get(1)) else {
                return;
            };
            (vec![name.clone()], raw, &args[2..])
        }
        "server-template" => {
            let (Some(prefix), Some(num), Some(raw)) = (args.first(), args.get(1), args.get(2))
            else {
                return;
            };
            let Some(range) = template_range(num) else {
                warnings.push(format!("{origin}: server-template: bad number {num:?}"));
                return;
            };
            (
                range.map(|i| format!("{prefix}{i}")).collect(),
                raw,
                &args[3..],
            )
        }
        _ => return,
    };
    let params: Vec<String> = own.default_server.iter().chain(rest).cloned().collect();
    let has = |p: &str| {
        let last_on = params.iter().rposition(|x| x == p);
        let last_off = params.iter().rposition(|x| *x == format!("no-{p}"));
        last_on.is_some() && last_on > last_off
    };
    for name in names {
        b.servers.push(HaproxyServer {
            name,
            raw: raw.clone(),
            address: server_address(raw),
            check: has("check"),
            ssl: has("ssl"),
            backup: has("backup"),
            disabled: has("disabled"),
            params: params
                .iter()
                .filter(|p| {
                    let p = p.strip_prefix("no-").unwrap_or(p);
                    !["check", "ssl", "backup", "disabled"].contains(&p)
                })
                .cloned()
                .collect(),
            origin: origin.clone(),
        });
    }
}

/// `server-template`'s number: `3` (1 to 3) or `2-4`; at most 1024 servers.
fn template_range(num: &str) -> Option<std::ops::RangeInclusive<u32>> {
    let (lo, hi) = match num.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => (1, num.parse().ok()?),
    };
    (lo >= 1 && lo <= hi && hi - lo < 1024).then_some(lo..=hi)
}

/// A server address: `host:port`, `[v6]:port`, `ipv4@...`, `ipv6@...`,
/// `unix@/path`, `/path`. Without a port (the client's port is reused) or
/// with variables it is unresolved.
pub fn server_address(raw: &str) -> Address {
    address(raw, false)
}

/// A bind address; an empty host or `*` means every address.
fn bind_address(raw: &str) -> Address {
    address(raw, true)
}

fn address(raw: &str, bind: bool) -> Address {
    let unresolved = || Address::Unresolved {
        raw: raw.to_string(),
    };
    if let Some(p) = raw.strip_prefix("unix@") {
        return Address::Unix { path: p.into() };
    }
    if raw.starts_with('/') {
        return Address::Unix { path: raw.into() };
    }
    if raw.contains('$') {
        return unresolved();
    }
    let a = raw
        .strip_prefix("ipv4@")
        .or_else(|| raw.strip_prefix("ipv6@"))
        .unwrap_or(raw);
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, after)) => (h, after.strip_prefix(':')),
            None => return unresolved(),
        }
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    let Some(port) = port.and_then(|p| p.parse::<u16>().ok()) else {
        return unresolved();
    };
    let host = if host.is_empty() || host == "*" {
        if !bind {
            return unresolved();
        }
        "*"
    } else {
        host
    };
    Address::Tcp {
        host: Host::parse(host),
        port,
    }
}

/// Read the configuration files (directories contribute their `*.cfg`
/// files, sorted) and build the model. The first file unreadable is a
/// failure; later ones are warnings.
pub fn load(configs: &[PathBuf]) -> Loaded<HaproxyModel> {
    let mut out = Loaded::default();
    let mut sources = Vec::new();
    let mut reads = 0usize;
    for (i, c) in configs.iter().enumerate() {
        let paths: Vec<PathBuf> = if c.is_dir() {
            files::glob(&c.join("*.cfg"))
        } else {
            vec![c.clone()]
        };
        for p in paths {
            if reads >= MAX_FILES {
                out.warnings.push(format!(
                    "{}: skipped: more than {MAX_FILES} files",
                    p.display()
                ));
                continue;
            }
            reads += 1;
            match files::read_bounded(&p, MAX_FILE_BYTES) {
                Ok(text) => {
                    out.files.push(ConfigFile::stat(&p));
                    sources.push((p, text));
                }
                Err(e) if i == 0 && sources.is_empty() => {
                    out.failure = Some(Failure::from_io(
                        &e,
                        Phase::Local,
                        &format!("read {}", p.display()),
                    ));
                    return out;
                }
                Err(e) => out.warnings.push(format!("{}: {e}", p.display())),
            }
        }
    }
    if sources.is_empty() {
        out.failure = Some(Failure::new(
            crate::FailureKind::NotFound,
            Phase::Local,
            "no HAProxy configuration file found",
        ));
        return out;
    }
    let (mut model, warnings) = parse(&sources);
    model.log_files = log_files(&model.logs);
    out.model = Some(model);
    out.warnings.extend(warnings);
    out
}

/// Where rsyslog writes HAProxy's log on Debian, Ubuntu and RHEL.
pub const RSYSLOG_HAPROXY_LOG: &str = "/var/log/haproxy.log";

/// The files `log` targets end in: a target that is a regular file (not
/// the syslog socket it usually is), else rsyslog's file when HAProxy
/// logs to syslog and that file exists. `stdout`/`stderr` targets: none.
fn log_files(logs: &[Setting<String>]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut syslog = false;
    for l in logs {
        let Some(target) = l.value.split_whitespace().next() else {
            continue;
        };
        if matches!(target, "stdout" | "stderr" | "global") || target.starts_with("fd@") {
            continue;
        }
        let path = Path::new(target);
        if path.is_absolute() && path.is_file() {
            if !out.iter().any(|p| p == path) {
                out.push(path.to_path_buf());
            }
        } else {
            syslog = true;
        }
    }
    if out.is_empty() && syslog && Path::new(RSYSLOG_HAPROXY_LOG).is_file() {
        out.push(PathBuf::from(RSYSLOG_HAPROXY_LOG));
    }
    out
}

/// Parse one configuration text (for tests and fixtures).
pub fn parse_str(text: &str, path: &Path) -> (HaproxyModel, Vec<String>) {
    parse(&[(path.to_path_buf(), text.to_string())])
}

#[cfg(test)]
mod fidelity_tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "APP_ADDR" => Some("127.0.0.1".to_string()),
            "EMPTY" => Some(String::new()),
            "PROD" => Some("1".to_string()),
            _ => None,
        }
    }

    fn targets(text: &str) -> (Vec<String>, Vec<String>) {
        let (m, w) = parse_with(
            &[(PathBuf::from("/etc/haproxy/haproxy.cfg"), text.to_string())],
            &env,
        );
        (
            m.forward_targets()
                .iter()
                .map(|t| t.address.to_string())
                .collect(),
            w,
        )
    }

    #[test]
    fn environment_variables_are_expanded_with_defaults() {
        let (t, _) = targets(
            "backend app\n    server a ${APP_ADDR}:3000\n    server b \"${MISSING-10.0.0.2}:80\"\n    server c ${EMPTY-127.0.0.3}:81\n    server d '${APP_ADDR}':82\n",
        );
        assert_eq!(t[..3], ["127.0.0.1:3000", "10.0.0.2:80", "127.0.0.3:81"]);
        // Single quotes keep the text as written: not an address.
        assert_eq!(t.len(), 4);
        assert!(t[3].contains("${APP_ADDR}"), "{t:?}");
    }

    #[test]
    fn conditional_blocks_choose_one_branch() {
        let (t, w) = targets(
            "backend app\n.if defined(PROD)\n    server p 127.0.0.1:1\n.elif streq(a,a)\n    server q 127.0.0.1:2\n.else\n    server r 127.0.0.1:3\n.endif\n\
             .if !defined(PROD) || 0\n    server s 127.0.0.1:4\n.elif strneq(x,y) && 1\n    server t 127.0.0.1:5\n.endif\n\
             .if version_atleast(2.4)\n    server u 127.0.0.1:6\n.endif\n",
        );
        assert_eq!(t, ["127.0.0.1:1", "127.0.0.1:5"], "{w:?}");
        assert!(
            w.iter()
                .any(|x| x.contains("haproxy.cfg:14") && x.contains("version_atleast")),
            "{w:?}"
        );
    }

    #[test]
    fn default_server_of_a_defaults_section_is_inherited() {
        let (m, _) = parse_with(
            &[(
                PathBuf::from("/etc/haproxy/haproxy.cfg"),
                "defaults\n    mode http\n    default-server check inter 2s\nbackend app\n    server a 127.0.0.1:1\n"
                    .to_string(),
            )],
            &env,
        );
        let a = &m.backends[0].servers[0];
        assert_eq!(a.param("inter"), Some("2s"), "{a:?}");
    }

    #[test]
    fn nested_blocks_inside_a_false_branch_stay_closed() {
        let (t, _) = targets(
            "backend app\n.if 0\n.if 1\n    server a 127.0.0.1:1\n.else\n    server b 127.0.0.1:2\n.endif\n.else\n    server c 127.0.0.1:3\n.endif\n",
        );
        assert_eq!(t, ["127.0.0.1:3"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            split_line("  server s1 10.0.0.1:80 check # web"),
            ["server", "s1", "10.0.0.1:80", "check"]
        );
        assert_eq!(
            split_line(
                r#"http-request return status 503 content-type "text/plain" string "down # now""#
            )
            .last()
            .unwrap(),
            "down # now"
        );
        assert_eq!(
            split_line(r"acl a path_beg /a\ b"),
            ["acl", "a", "path_beg", "/a b"]
        );
        assert_eq!(split_line("'x y' z"), ["x y", "z"]);
        assert!(split_line("# only a comment").is_empty());
    }

    #[test]
    fn default_server_and_server_template() {
        let text = "backend app\n    server before 127.0.0.1:1\n    default-server check maxconn 10\n    \
                    server a 127.0.0.1:2\n    server b 127.0.0.1:3 no-check maxconn 20\n    \
                    server-template web 2-3 127.0.0.1:4 backup\n    server-template bad x 127.0.0.1:5\n";
        let (m, w) = parse_str(text, Path::new("/h.cfg"));
        let s = &m.backends[0].servers;
        let names: Vec<&str> = s.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["before", "a", "b", "web2", "web3"]);
        assert!(
            !s[0].check && s[0].param("maxconn").is_none(),
            "before default-server"
        );
        assert!(s[1].check);
        assert_eq!(s[1].param("maxconn"), Some("10"));
        assert!(!s[2].check, "no-check wins");
        assert_eq!(s[2].params, ["maxconn", "10", "maxconn", "20"]);
        assert!(s[3].check && s[3].backup);
        assert_eq!(s[3].origin.line, 6);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("/h.cfg:7"), "{w:?}");
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("5000"), Some(Millis(5000.0)));
        assert_eq!(parse_time("5s"), Some(Millis(5000.0)));
        assert_eq!(parse_time("500ms"), Some(Millis(500.0)));
        assert_eq!(parse_time("1m"), Some(Millis(60_000.0)));
        assert_eq!(parse_time("2h"), Some(Millis(7_200_000.0)));
        assert_eq!(parse_time("1d"), Some(Millis(86_400_000.0)));
        assert_eq!(parse_time("1500us"), Some(Millis(1.5)));
        assert_eq!(parse_time("5x"), None);
        assert_eq!(parse_time("s"), None);
    }

    #[test]
    fn addresses() {
        assert_eq!(
            server_address("10.0.0.1:8080"),
            Address::Tcp {
                host: "10.0.0.1".into(),
                port: 8080
            }
        );
        assert_eq!(
            server_address("ipv6@::1:8080"),
            Address::Tcp {
                host: "::1".into(),
                port: 8080
            }
        );
        assert_eq!(
            server_address("[::1]:8080"),
            Address::Tcp {
                host: "::1".into(),
                port: 8080
            }
        );
        assert_eq!(
            server_address("/run/app.sock"),
            Address::Unix {
                path: "/run/app.sock".into()
            }
        );
        assert_eq!(
            server_address("unix@/run/a"),
            Address::Unix {
                path: "/run/a".into()
            }
        );
        assert!(matches!(
            server_address("10.0.0.1"),
            Address::Unresolved { .. }
        ));
        assert!(matches!(
            server_address("${HOST}:80"),
            Address::Unresolved { .. }
        ));
        assert_eq!(
            bind_address(":80"),
            Address::Tcp {
                host: "*".into(),
                port: 80
            }
        );
        assert_eq!(
            bind_address("*:443"),
            Address::Tcp {
                host: "*".into(),
                port: 443
            }
        );
    }
}
