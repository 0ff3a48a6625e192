//! The Apache httpd configuration as a reverse proxy: read the way httpd
//! reads it — line by line, `\` continuations, `Include`/`IncludeOptional`
//! with globs, `Define` and `${VAR}` (with Debian's `envvars` and the
//! master's `-D`), `<IfModule>`/`<IfDefine>` evaluated against the
//! `LoadModule`d modules and the defines — into a model of what matters when
//! Apache answers 5xx: `Listen`, `<VirtualHost>`s and their names,
//! `ProxyPass`/`ProxyPassMatch` (inside `<Location>` too), `<Proxy
//! "balancer://…">` members, `FastCGI` `SetHandler "proxy:…"`, `Timeout` and
//! `ProxyTimeout` with their origin, `ErrorLog`, `CustomLog`/`LogFormat`.
//!
//! [`parse_envvars`] and [`model_from_str`] are pure; [`load`] reads the
//! files, bounded like nginx's reader (files, include depth, cycles) and by
//! [`MAX_NESTING`] for sections. Nothing here judges what a setting means;
//! what cannot be understood is a warning naming `file:line`, never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::nginx::{MAX_FILE_BYTES, MAX_FILES, MAX_INCLUDE_DEPTH};
use super::{
    Address, ConfigFile, EffectiveTimeout, ForwardTarget, Host, Loaded, Origin, Protocol, Setting,
    Timeouts, files,
};
use crate::{Failure, Phase};

/// httpd's compiled-in `Timeout` when the configuration sets none (Debian's
/// `apache2.conf` sets 300).
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// Sections nest at most this deep; deeper ones are skipped with a warning.
pub const MAX_NESTING: usize = 32;

/// Modules compiled into Debian's `apache2` (`apache2 -l`): always loaded.
pub const BUILTIN_MODULES: &[&str] = &[
    "core",
    "mod_so",
    "mod_watchdog",
    "http_core",
    "mod_log_config",
    "mod_logio",
    "mod_version",
    "mod_unixd",
];

/// httpd's Common Log Format, used by `TransferLog` and a `CustomLog`
/// without a known format.
pub const COMMON_LOG_FORMAT: &str = r#"%h %l %u %t "%r" %>s %b"#;

/// One `ProxyPass` or `ProxyPassMatch` (or a `FastCGI` `SetHandler`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyPass {
    /// The local path (or regex for `ProxyPassMatch`); inside a
    /// `<Location>` the location's.
    pub path: String,
    /// `ProxyPassMatch` or inside `<LocationMatch>`.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub regex: bool,
    /// The backend URL as written; absent for a `!` exclusion.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
    /// Worker keys (`timeout=5`, `retry=0`), lower-cased keys.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub keys: BTreeMap<String, String>,
    /// From `SetHandler "proxy:…"`.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub handler: bool,
    pub origin: Origin,
}

/// A `BalancerMember`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancerMember {
    pub url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub keys: BTreeMap<String, String>,
    pub origin: Origin,
}

/// A `<Proxy "balancer://name">` and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balancer {
    /// `balancer://name`, lower-cased, without a trailing `/`.
    pub name: String,
    pub members: Vec<BalancerMember>,
    /// `ProxySet` keys.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub keys: BTreeMap<String, String>,
    pub origin: Origin,
}

/// One `CustomLog` (or `TransferLog`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomLog {
    pub path: PathBuf,
    /// The nickname or inline format as written.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub format: Option<String>,
    pub origin: Origin,
}

/// The main server or one `<VirtualHost>`: what it serves and forwards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// The `<VirtualHost>` addresses; empty for the main server.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub addresses: Vec<Address>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub aliases: Vec<String>,
    /// `SSLEngine on`.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub ssl: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timeout: Option<Setting<u64>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub proxy_timeout: Option<Setting<u64>>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub proxy_passes: Vec<ProxyPass>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_log: Option<Setting<PathBuf>>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub custom_logs: Vec<CustomLog>,
    /// The `<VirtualHost>` line; absent for the main server.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<Origin>,
}

impl Server {
    /// `VirtualHost *:80 (shop.example.com)` or `main server`.
    pub fn label(&self) -> String {
        if self.origin.is_none() {
            return "main server".to_string();
        }
        let addrs: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        match &self.server_name {
            Some(n) => format!("VirtualHost {} ({n})", addrs.join(" ")),
            None => format!("VirtualHost {}", addrs.join(" ")),
        }
    }
}

/// One `Listen`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listen {
    /// The host is `*` for every address.
    pub address: Address,
    /// `Listen 443 https`, or port 443 without a protocol.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub tls: bool,
    pub origin: Origin,
}

/// What an Apache configuration says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApacheModel {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_root: Option<PathBuf>,
    /// Loaded module ids (`proxy_module`) and source names (`mod_proxy.c`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty", default)]
    pub modules: BTreeSet<String>,
    /// The defines in effect at the end (`-D`, `Define`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub defines: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub listens: Vec<Listen>,
    /// The main server (directives outside any `<VirtualHost>`).
    pub main: Server,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub vhosts: Vec<Server>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub balancers: Vec<Balancer>,
    /// `LogFormat` nicknames and their format.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub log_formats: BTreeMap<String, Setting<String>>,
}

/// What the reader starts from: the master's `-d` and `-D`, and the
/// environment (`envvars`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartWith {
    /// `-d`, else the compiled `HTTPD_ROOT` (the config's directory is used
    /// when neither is known).
    pub server_root: Option<PathBuf>,
    /// `-D NAME` of the running master.
    pub defines: Vec<String>,
    /// Variables `${VAR}` may name besides `Define`s (Debian's `envvars`).
    pub env: BTreeMap<String, String>,
}

/// The `export NAME=value` (and `NAME=value`) lines of Debian's
/// `/etc/apache2/envvars`, `$X`/`${X}` expanded from earlier lines; shell
/// logic is ignored (an unset variable is empty).
pub fn parse_envvars(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line).trim();
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        let expanded = shell_expand(value, &vars);
        vars.insert(name.to_string(), expanded);
    }
    vars
}

/// `$X` and `${X}` from `vars`; anything else as is.
fn shell_expand(value: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, next) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(e) => (&b[..e], &b[e + 1..]),
                None => ("", after),
            }
        } else {
            let e = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..e], &after[e..])
        };
        if name.is_empty() {
            out.push('$');
        } else if let Some(v) = vars.get(name) {
            out.push_str(v);
        }
        rest = next;
    }
    out.push_str(rest);
    out
}

/// Read `main` and everything it includes, and build the model. Relative
/// paths resolve against `ServerRoot` (the start's, else the directory of
/// `main`).
pub fn load(main: &Path, start: &StartWith) -> Loaded<ApacheModel> {
    let mut r = Reader::new(main, start);
    let text = match files::read_bounded(main, MAX_FILE_BYTES) {
        Ok(t) => t,
        Err(e) => {
            return Loaded {
                failure: Some(Failure::from_io(
                    &e,
                    Phase::Local,
                    &format!("read {}", main.display()),
                )),
                ..Loaded::default()
            };
        }
    };
    r.reads = 1;
    r.files.push(ConfigFile::stat(main));
    r.stack.push(files::canonical(main));
    r.file(&text, main, 0);
    let (model, files, warnings) = r.finish();
    Loaded {
        model: Some(model),
        files,
        warnings,
        failure: None,
    }
}

/// Parse `text` as the whole configuration of `main`; `Include`s are read
/// from disk when they exist. For tests and fixtures.
pub fn model_from_str(text: &str, main: &Path, start: &StartWith) -> (ApacheModel, Vec<String>) {
    let mut r = Reader::new(main, start);
    r.stack.push(files::canonical(main));
    r.file(text, main, 0);
    let (model, _, warnings) = r.finish();
    (model, warnings)
}

/// One open section.
#[derive(Debug)]
struct Frame {
    /// Lower-cased section name.
    name: String,
    active: bool,
    kind: FrameKind,
}

#[derive(Debug, Clone)]
enum FrameKind {
    Other,
    VirtualHost(usize),
    Location { path: String, regex: bool },
    Balancer(usize),
}

struct Reader {
    model: ApacheModel,
    env: BTreeMap<String, String>,
    root: PathBuf,
    files: Vec<ConfigFile>,
    warnings: Vec<String>,
    /// Canonical paths of the files being included, outermost first.
    stack: Vec<PathBuf>,
    reads: usize,
    frames: Vec<Frame>,
}

impl Reader {
    fn new(main: &Path, start: &StartWith) -> Self {
        let mut model = ApacheModel {
            modules: BUILTIN_MODULES
                .iter()
                .flat_map(|m| [format!("{m}.c"), module_id(m)])
                .collect(),
            ..ApacheModel::default()
        };
        for d in &start.defines {
            model.defines.insert(d.clone(), String::new());
        }
        let root = start
            .server_root
            .clone()
            .or_else(|| main.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        Self {
            model,
            env: start.env.clone(),
            root,
            files: Vec::new(),
            warnings: Vec::new(),
            stack: Vec::new(),
            reads: 0,
            frames: Vec::new(),
        }
    }

    fn finish(mut self) -> (ApacheModel, Vec<ConfigFile>, Vec<String>) {
        if self.model.server_root.is_none() {
            self.model.server_root = Some(self.root.clone());
        }
        (self.model, self.files, self.warnings)
    }

    fn active(&self) -> bool {
        self.frames.last().is_none_or(|f| f.active)
    }

    fn vhost(&self) -> Option<usize> {
        self.frames.iter().rev().find_map(|f| match f.kind {
            FrameKind::VirtualHost(i) => Some(i),
            _ => None,
        })
    }

    fn location(&self) -> Option<(String, bool)> {
        self.frames.iter().rev().find_map(|f| match &f.kind {
            FrameKind::Location { path, regex } => Some((path.clone(), *regex)),
            _ => None,
        })
    }

    fn balancer(&self) -> Option<usize> {
        self.frames.iter().rev().find_map(|f| match f.kind {
            FrameKind::Balancer(i) => Some(i),
            _ => None,
        })
    }

    fn server(&mut self) -> &mut Server {
        match self.vhost() {
            Some(i) => &mut self.model.vhosts[i],
            None => &mut self.model.main,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }

    /// Process one file's lines; sections it leaves open are closed with a
    /// warning (httpd requires a section to end in its own file).
    fn file(&mut self, text: &str, file: &Path, depth: usize) {
        let base = self.frames.len();
        for (line_no, line) in logical_lines(text) {
            let origin = Origin::new(file, line_no);
            let line = self.expand(&line, &origin);
            self.line(&line, &origin, depth, base);
        }
        if self.frames.len() > base {
            let open: Vec<String> = self.frames[base..]
                .iter()
                .map(|f| format!("<{}>", f.name))
                .collect();
            self.warnings.push(format!(
                "{}: {} not closed at the end of the file",
                file.display(),
                open.join(", ")
            ));
            self.frames.truncate(base);
        }
    }

    /// `${NAME}` from the defines, then the environment; an unknown one is
    /// left as written, with a warning (httpd does the same).
    fn expand(&mut self, line: &str, origin: &Origin) -> String {
        if !line.contains("${") {
            return line.to_string();
        }
        let mut out = String::new();
        let mut rest = line;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            if let Some(v) = self.model.defines.get(name).or_else(|| self.env.get(name)) {
                out.push_str(v);
            } else {
                self.warnings
                    .push(format!("{origin}: ${{{name}}} is not defined"));
                out.push_str(&rest[i..i + 3 + end]);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn line(&mut self, line: &str, origin: &Origin, depth: usize, base: usize) {
        let t = line.trim();
        if let Some(close) = t.strip_prefix("</") {
            let name = close.trim_end_matches('>').trim().to_ascii_lowercase();
            if self.frames.len() > base && self.frames.last().is_some_and(|f| f.name == name) {
                self.frames.pop();
            } else {
                self.warnings
                    .push(format!("{origin}: </{name}> without its opening section"));
            }
            return;
        }
        if let Some(open) = t.strip_prefix('<') {
            let Some(inner) = open.strip_suffix('>') else {
                self.warnings
                    .push(format!("{origin}: a section line without its closing `>`"));
                return;
            };
            let words = split_words(inner);
            self.open(&words, origin);
            return;
        }
        if !self.active() {
            return;
        }
        let words = split_words(t);
        let Some(name) = words.first() else { return };
        self.directive(&name.to_ascii_lowercase(), &words[1..], origin, depth);
    }

    fn open(&mut self, words: &[String], origin: &Origin) {
        let Some(name) = words.first().map(|n| n.to_ascii_lowercase()) else {
            self.warnings
                .push(format!("{origin}: an empty section `<>`"));
            return;
        };
        if self.frames.len() >= MAX_NESTING {
            self.warnings.push(format!(
                "{origin}: <{name}> skipped: sections nest deeper than {MAX_NESTING}"
            ));
            // Still tracked so its end matches, but nothing in it counts.
            self.frames.push(Frame {
                name,
                active: false,
                kind: FrameKind::Other,
            });
            return;
        }
        let args = &words[1..];
        let parent = self.active();
        let arg = args.first().map(String::as_str).unwrap_or_default();
        let (active, kind) = match name.as_str() {
            "ifmodule" => (
                parent && self.test(arg, |m, a| m.modules.contains(a)),
                FrameKind::Other,
            ),
            "ifdefine" => (
                parent && self.test(arg, |m, a| m.defines.contains_key(a)),
                FrameKind::Other,
            ),
            "virtualhost" if parent => {
                let addresses = args.iter().map(|a| vhost_address(a)).collect();
                self.model.vhosts.push(Server {
                    addresses,
                    origin: Some(origin.clone()),
                    ..Server::default()
                });
                (true, FrameKind::VirtualHost(self.model.vhosts.len() - 1))
            }
            "location" | "locationmatch" if parent => {
                let regex = name == "locationmatch" || arg == "~";
                let path = if arg == "~" {
                    args.get(1).cloned().unwrap_or_default()
                } else {
                    arg.to_string()
                };
                (true, FrameKind::Location { path, regex })
            }
            "proxy" | "proxymatch"
                if parent && arg.to_ascii_lowercase().starts_with("balancer://") =>
            {
                let name = balancer_name(arg);
                let i = self.balancer_index(&name, origin);
                (true, FrameKind::Balancer(i))
            }
            _ => (parent, FrameKind::Other),
        };
        self.frames.push(Frame { name, active, kind });
    }

    /// `NAME` or `!NAME` against the model.
    fn test(&self, arg: &str, has: impl Fn(&ApacheModel, &str) -> bool) -> bool {
        match arg.strip_prefix('!') {
            Some(a) => !has(&self.model, a),
            None => has(&self.model, arg),
        }
    }

    fn balancer_index(&mut self, name: &str, origin: &Origin) -> usize {
        if let Some(i) = self.model.balancers.iter().position(|b| b.name == name) {
            return i;
        }
        self.model.balancers.push(Balancer {
            name: name.to_string(),
            members: Vec::new(),
            keys: BTreeMap::new(),
            origin: origin.clone(),
        });
        self.model.balancers.len() - 1
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one match arm per directive, in one place"
    )]
    fn directive(&mut self, name: &str, args: &[String], origin: &Origin, depth: usize) {
        let first = args.first().map(String::as_str);
        match name {
            "serverroot" => {
                if let Some(r) = first {
                    self.root = PathBuf::from(r);
                    self.model.server_root = Some(self.root.clone());
                }
            }
            "define" => match args {
                [n] => {
                    self.model.defines.insert(n.clone(), String::new());
                }
                [n, v, ..] => {
                    self.model.defines.insert(n.clone(), v.clone());
                }
                [] => self
                    .warnings
                    .push(format!("{origin}: Define without a name")),
            },
            "undefine" => {
                if let Some(n) = first {
                    self.model.defines.remove(n);
                }
            }
            "loadmodule" => match args {
                [id, file, ..] => {
                    self.model.modules.insert(id.clone());
                    if let Some(stem) = Path::new(file).file_stem() {
                        self.model
                            .modules
                            .insert(format!("{}.c", stem.to_string_lossy()));
                    }
                }
                _ => self
                    .warnings
                    .push(format!("{origin}: LoadModule needs a name and a file")),
            },
            "include" | "includeoptional" => {
                let Some(pattern) = first else {
                    self.warnings
                        .push(format!("{origin}: {name} without a file"));
                    return;
                };
                self.include(pattern, name == "includeoptional", origin, depth);
            }
            "listen" => match first.and_then(listen_address) {
                Some(address) => {
                    let tls = match args.get(1) {
                        Some(p) => p.eq_ignore_ascii_case("https"),
                        None => matches!(address, Address::Tcp { port: 443, .. }),
                    };
                    self.model.listens.push(Listen {
                        address,
                        tls,
                        origin: origin.clone(),
                    });
                }
                None => self.warnings.push(format!(
                    "{origin}: Listen {} not understood",
                    args.join(" ")
                )),
            },
            "servername" => {
                if let Some(n) = first {
                    // `ServerName https://www.example.com:443`: the host.
                    let n = n.split_once("://").map_or(n, |(_, h)| h);
                    let host = n.rsplit_once(':').map_or(n, |(h, p)| {
                        if p.bytes().all(|b| b.is_ascii_digit()) {
                            h
                        } else {
                            n
                        }
                    });
                    self.server().server_name = Some(host.to_ascii_lowercase());
                }
            }
            "serveralias" => {
                let aliases: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
                self.server().aliases.extend(aliases);
            }
            "sslengine" => {
                let on = first.is_some_and(|v| v.eq_ignore_ascii_case("on"));
                self.server().ssl = on;
            }
            "timeout" | "proxytimeout" => match first.and_then(|v| v.parse::<u64>().ok()) {
                Some(secs) => {
                    let s = Some(Setting::new(secs, origin.clone()));
                    if name == "timeout" {
                        self.server().timeout = s;
                    } else {
                        self.server().proxy_timeout = s;
                    }
                }
                None => self.warnings.push(format!(
                    "{origin}: {name} {} is not a number of seconds",
                    args.join(" ")
                )),
            },
            "errorlog" => {
                if let Some(p) = first.filter(|p| is_file_log(p)) {
                    let p = self.path(p);
                    self.server().error_log = Some(Setting::new(p, origin.clone()));
                }
            }
            "customlog" | "transferlog" => {
                if let Some(p) = first.filter(|p| is_file_log(p)) {
                    let log = CustomLog {
                        path: self.path(p),
                        format: args.get(1).cloned(),
                        origin: origin.clone(),
                    };
                    self.server().custom_logs.push(log);
                }
            }
            "logformat" => match args {
                [format, nick, ..] => {
                    self.model
                        .log_formats
                        .insert(nick.clone(), Setting::new(format.clone(), origin.clone()));
                }
                [format] => {
                    self.model
                        .log_formats
                        .insert(String::new(), Setting::new(format.clone(), origin.clone()));
                }
                [] => {}
            },
            "proxypass" | "proxypassmatch" => self.proxy_pass(name, args, origin),
            "sethandler" => {
                if let Some(h) = first
                    && let Some(url) = h.strip_prefix("proxy:")
                {
                    let (path, regex) = self.location().unwrap_or_else(|| ("/".to_string(), false));
                    let pass = ProxyPass {
                        path,
                        regex,
                        url: Some(url.to_string()),
                        keys: BTreeMap::new(),
                        handler: true,
                        origin: origin.clone(),
                    };
                    self.server().proxy_passes.push(pass);
                }
            }
            "balancermember" => {
                // Inside <Proxy balancer://x>, or `BalancerMember balancer://x URL`.
                let (balancer, rest) = match self.balancer() {
                    Some(i) => (Some(i), args),
                    None => match args.split_first() {
                        Some((b, rest)) if b.to_ascii_lowercase().starts_with("balancer://") => {
                            (Some(self.balancer_index(&balancer_name(b), origin)), rest)
                        }
                        _ => (None, args),
                    },
                };
                match (balancer, rest.split_first()) {
                    (Some(i), Some((url, keys))) => {
                        let member = BalancerMember {
                            url: url.clone(),
                            keys: worker_keys(keys),
                            origin: origin.clone(),
                        };
                        self.model.balancers[i].members.push(member);
                    }
                    _ => self.warnings.push(format!(
                        "{origin}: BalancerMember outside a <Proxy balancer://…> or without a URL"
                    )),
                }
            }
            "proxyset" => {
                let (balancer, keys) = match self.balancer() {
                    Some(i) => (Some(i), args),
                    None => match args.split_first() {
                        Some((b, rest)) if b.to_ascii_lowercase().starts_with("balancer://") => {
                            (Some(self.balancer_index(&balancer_name(b), origin)), rest)
                        }
                        _ => (None, args),
                    },
                };
                if let Some(i) = balancer {
                    self.model.balancers[i].keys.extend(worker_keys(keys));
                }
            }
            _ => {}
        }
    }

    fn proxy_pass(&mut self, name: &str, args: &[String], origin: &Origin) {
        let location = self.location();
        // Inside a <Location>, the path is the location's and is not written.
        let (path, regex, rest) = if let Some((path, regex)) = &location {
            (path.clone(), *regex || name == "proxypassmatch", args)
        } else {
            let Some((p, rest)) = args.split_first() else {
                self.warnings
                    .push(format!("{origin}: {name} without a path and a URL"));
                return;
            };
            (p.clone(), name == "proxypassmatch", rest)
        };
        let Some((url, keys)) = rest.split_first() else {
            self.warnings
                .push(format!("{origin}: {name} {path} without a URL"));
            return;
        };
        let pass = ProxyPass {
            path,
            regex,
            url: (url != "!").then(|| url.clone()),
            keys: worker_keys(keys),
            handler: false,
            origin: origin.clone(),
        };
        self.server().proxy_passes.push(pass);
    }

    fn include(&mut self, pattern: &str, optional: bool, origin: &Origin, depth: usize) {
        let path = self.path(pattern);
        let targets = if files::has_glob(pattern) {
            files::glob(&path)
        } else if path.is_dir() {
            files::glob(&path.join("*"))
        } else {
            vec![path.clone()]
        };
        if targets.is_empty() && !optional && files::has_glob(pattern) {
            self.warnings.push(format!(
                "{origin}: Include {pattern} matches no file (httpd refuses to start; IncludeOptional would not)"
            ));
        }
        for target in targets {
            if depth + 1 > MAX_INCLUDE_DEPTH {
                self.warnings.push(format!(
                    "{origin}: Include {} skipped: includes nest deeper than {MAX_INCLUDE_DEPTH}",
                    target.display()
                ));
                continue;
            }
            let canonical = files::canonical(&target);
            if self.stack.contains(&canonical) {
                self.warnings.push(format!(
                    "{origin}: Include {} skipped: it includes itself (an include cycle)",
                    target.display()
                ));
                continue;
            }
            if self.reads >= MAX_FILES {
                self.warnings.push(format!(
                    "{origin}: Include {} skipped: more than {MAX_FILES} files",
                    target.display()
                ));
                continue;
            }
            self.reads += 1;
            match files::read_bounded(&target, MAX_FILE_BYTES) {
                Ok(text) => {
                    if !self.files.iter().any(|f| f.path == target) {
                        self.files.push(ConfigFile::stat(&target));
                    }
                    self.stack.push(canonical);
                    self.file(&text, &target, depth + 1);
                    self.stack.pop();
                }
                Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => self
                    .warnings
                    .push(format!("{origin}: Include {}: {e}", target.display())),
            }
        }
    }
}

/// `proxy_module` for `mod_proxy`, `core_module` for `core`.
fn module_id(source: &str) -> String {
    format!("{}_module", source.strip_prefix("mod_").unwrap_or(source))
}

/// A log destination that is a file: not `syslog[:…]` nor a `|pipe`.
fn is_file_log(p: &str) -> bool {
    !(p.starts_with('|') || p.starts_with("syslog") || p.starts_with("\"|"))
}

/// `balancer://Pool/` → `balancer://pool`.
fn balancer_name(text: &str) -> String {
    text.trim_end_matches('/').to_ascii_lowercase()
}

/// The balancer a `balancer://name/path` URL names: `balancer://name`.
fn balancer_of(url: &str) -> String {
    let rest = url.get("balancer://".len()..).unwrap_or_default();
    balancer_name(&format!(
        "balancer://{}",
        rest.split('/').next().unwrap_or(rest)
    ))
}

/// `key=value` words; a word without `=` is kept with an empty value.
fn worker_keys(words: &[String]) -> BTreeMap<String, String> {
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), v.to_string()),
            None => (w.to_ascii_lowercase(), String::new()),
        })
        .collect()
}

/// `80`, `127.0.0.1:8080`, `[::1]:80`, `*:80`.
fn listen_address(text: &str) -> Option<Address> {
    if let Ok(port) = text.parse::<u16>() {
        return Some(Address::Tcp {
            host: Host::Name("*".into()),
            port,
        });
    }
    let (host, port) = text.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "*" } else { host };
    Some(Address::Tcp {
        host: Host::parse(host),
        port,
    })
}

/// A `<VirtualHost>` address: `*:80`, `_default_:443`, `10.0.0.1`, a name.
fn vhost_address(text: &str) -> Address {
    let text = text.replace("_default_", "*");
    listen_address(&text).unwrap_or_else(|| {
        if text == "*" || !text.contains(':') {
            Address::Tcp {
                host: Host::parse(&text),
                port: 0,
            }
        } else {
            Address::Unresolved { raw: text }
        }
    })
}

/// The lines of a file as httpd reads them: a `\` at the end continues the
/// line; blank lines and lines whose first non-blank is `#` are skipped.
/// Each with the number of its first physical line.
fn logical_lines(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(u32, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let (continues, body) = match raw.trim_end().strip_suffix('\\') {
            Some(b) => (true, b),
            None => (false, raw.trim_end()),
        };
        let (start, mut acc) = pending.take().unwrap_or((no, String::new()));
        if !acc.is_empty() {
            acc.push(' ');
        }
        acc.push_str(body.trim());
        if continues {
            pending = Some((start, acc));
            continue;
        }
        let t = acc.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push((start, t.to_string()));
    }
    if let Some((start, acc)) = pending {
        let t = acc.trim();
        if !t.is_empty() && !t.starts_with('#') {
            out.push((start, t.to_string()));
        }
    }
    out
}

/// httpd's `ap_getword_conf`: words split on blanks; `"…"` and `'…'`
/// group, `\"` inside quotes is a quote.
pub fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let mut word = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            while let Some(x) = chars.next() {
                if x == '\\' && chars.peek() == Some(&c) {
                    word.push(c);
                    chars.next();
                } else if x == c {
                    break;
                } else {
                    word.push(x);
                }
            }
        } else {
            while let Some(&x) = chars.peek() {
                if x.is_whitespace() {
                    break;
                }
                word.push(x);
                chars.next();
            }
        }
        out.push(word);
    }
    out
}

/// What a backend URL says: the address, the protocol, and the default port.
/// `unix:/run/app.sock|http://localhost/` is the socket with the protocol
/// after `|`; `fcgi://127.0.0.1:9000/`, `http://`, `https://`, `ws://`,
/// `wss://`, `h2c://`, `h2://`, `ajp://` (as plain TCP).
pub fn backend(url: &str) -> (Protocol, Address) {
    let (socket, url_part) = match url.split_once('|') {
        Some((s, u)) if s.to_ascii_lowercase().starts_with("unix:") => (Some(&s[5..]), u),
        _ => (None, url),
    };
    let (scheme, rest) = url_part.split_once("://").unwrap_or(("", url_part));
    let scheme = scheme.to_ascii_lowercase();
    let (protocol, port) = match scheme.as_str() {
        "https" | "wss" | "h2" => (Protocol::Https, 443),
        "fcgi" => (Protocol::Fastcgi, 8000),
        "ajp" => (Protocol::Tcp, 8009),
        _ => (Protocol::Http, 80),
    };
    if let Some(path) = socket {
        let path = path.trim_start_matches("//");
        return if path.starts_with('/') {
            (protocol, Address::Unix { path: path.into() })
        } else {
            (
                protocol,
                Address::Unresolved {
                    raw: url.to_string(),
                },
            )
        };
    }
    // Only the authority: the path may hold `$1` of a ProxyPassMatch.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let address = match Address::parse(&format!("http://{authority}")) {
        // `http://host/` parsed with port 80: the scheme's default instead.
        Some(Address::Tcp { host, .. }) if !has_port(rest) => Address::Tcp { host, port },
        Some(a) => a,
        None => Address::Unresolved {
            raw: url.to_string(),
        },
    };
    (protocol, address)
}

/// Whether the authority of `rest` (after `scheme://`) writes a port.
fn has_port(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    authority[host_end..].contains(':')
}

impl ApacheModel {
    /// Every server, the main one first.
    pub fn servers(&self) -> impl Iterator<Item = &Server> {
        std::iter::once(&self.main).chain(&self.vhosts)
    }

    /// `Timeout` in effect for `server` (its own, else the main server's):
    /// the value in ms and the directive.
    fn timeout(&self, server: &Server) -> EffectiveTimeout {
        match server.timeout.as_ref().or(self.main.timeout.as_ref()) {
            Some(t) => EffectiveTimeout::set(t.value * 1000, t.origin.clone()),
            None => EffectiveTimeout::default_ms(DEFAULT_TIMEOUT_SECS * 1000),
        }
    }

    /// `ProxyTimeout` in effect for `server`, else its `Timeout`.
    fn proxy_timeout(&self, server: &Server) -> EffectiveTimeout {
        match server
            .proxy_timeout
            .as_ref()
            .or(self.main.proxy_timeout.as_ref())
        {
            Some(t) => EffectiveTimeout::set(t.value * 1000, t.origin.clone()),
            None => self.timeout(server),
        }
    }

    /// Every concrete backend: each `ProxyPass` (or `FastCGI` handler) URL,
    /// and each member of a balancer one names, with the worker's timeouts:
    /// read and send `timeout=` else `ProxyTimeout` else `Timeout`; connect
    /// `connectiontimeout=` else the same. `status=+H` is a backup,
    /// `+D`/`+S` down.
    pub fn forward_targets(&self) -> Vec<ForwardTarget> {
        let mut out = Vec::new();
        for s in self.servers() {
            let read = self.proxy_timeout(s);
            for p in &s.proxy_passes {
                let Some(url) = &p.url else { continue };
                let location = Some(if p.regex {
                    format!("~ {}", p.path)
                } else {
                    p.path.clone()
                });
                if url.to_ascii_lowercase().starts_with("balancer://") {
                    let name = balancer_of(url);
                    let Some(b) = self.balancers.iter().find(|b| b.name == name) else {
                        out.push(target(
                            url,
                            Protocol::Http,
                            Address::Unresolved { raw: url.clone() },
                            s,
                            location.clone(),
                            p,
                            None,
                            &read,
                        ));
                        continue;
                    };
                    for m in &b.members {
                        let (protocol, address) = backend(&m.url);
                        let mut keys = b.keys.clone();
                        keys.extend(m.keys.clone());
                        let mut t = target(
                            &m.url,
                            protocol,
                            address,
                            s,
                            location.clone(),
                            p,
                            Some(&keys),
                            &read,
                        );
                        t.upstream = Some(b.name.clone());
                        t.server_origin = Some(m.origin.clone());
                        let status = keys.get("status").map(|v| v.to_ascii_uppercase());
                        t.backup = status.as_deref().is_some_and(|v| v.contains("+H"));
                        t.down = status
                            .as_deref()
                            .is_some_and(|v| v.contains("+D") || v.contains("+S"));
                        out.push(t);
                    }
                } else {
                    let (protocol, address) = backend(url);
                    out.push(target(
                        url,
                        protocol,
                        address,
                        s,
                        location,
                        p,
                        Some(&p.keys),
                        &read,
                    ));
                }
            }
        }
        out
    }

    /// Error logs: the main server's (else httpd's default
    /// `ServerRoot/logs/error_log`), then each virtual host's.
    pub fn error_logs(&self) -> Vec<PathBuf> {
        let mut out = vec![match &self.main.error_log {
            Some(l) => l.value.clone(),
            None => self
                .server_root
                .clone()
                .unwrap_or_default()
                .join("logs/error_log"),
        }];
        for v in &self.vhosts {
            if let Some(l) = &v.error_log
                && !out.contains(&l.value)
            {
                out.push(l.value.clone());
            }
        }
        out
    }
}

/// One target of a `ProxyPass` with the worker keys that apply.
#[expect(clippy::too_many_arguments, reason = "a private constructor")]
fn target(
    raw: &str,
    protocol: Protocol,
    address: Address,
    server: &Server,
    location: Option<String>,
    pass: &ProxyPass,
    keys: Option<&BTreeMap<String, String>>,
    read: &EffectiveTimeout,
) -> ForwardTarget {
    let key = |k: &str| {
        keys.and_then(|m| m.get(k))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|secs| EffectiveTimeout::set(secs * 1000, pass.origin.clone()))
    };
    let read = key("timeout").unwrap_or_else(|| read.clone());
    let connect = key("connectiontimeout").unwrap_or_else(|| read.clone());
    ForwardTarget {
        protocol,
        address,
        raw: raw.to_string(),
        upstream: None,
        frontend: server.label(),
        location,
        origin: pass.origin.clone(),
        server_origin: None,
        backup: false,
        down: false,
        conditional: false,
        timeouts: Timeouts {
            connect,
            read: read.clone(),
            send: read,
        },
        resolver: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> (ApacheModel, Vec<String>) {
        model_from_str(
            text,
            Path::new("/etc/apache2/apache2.conf"),
            &StartWith {
                server_root: Some("/etc/apache2".into()),
                ..StartWith::default()
            },
        )
    }

    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "test values"
    )]
    fn ms(t: &EffectiveTimeout) -> u64 {
        t.value.map_or(0, |m| m.0 as u64)
    }

    #[test]
    fn words_and_lines() {
        assert_eq!(
            split_words(r#"SetHandler "proxy:unix:/run/php.sock|fcgi://localhost/" x"#),
            [
                "SetHandler",
                "proxy:unix:/run/php.sock|fcgi://localhost/",
                "x"
            ]
        );
        assert_eq!(
            split_words(r#"LogFormat "a \"b\" c" n"#),
            ["LogFormat", r#"a "b" c"#, "n"]
        );
        let lines = logical_lines("# c\n  ProxyPass /a \\\n   http://x/\n\nTimeout 5\n");
        assert_eq!(
            lines,
            [
                (2, "ProxyPass /a http://x/".to_string()),
                (5, "Timeout 5".to_string())
            ]
        );
    }

    #[test]
    fn backends() {
        let unix = |p: &str| Address::Unix { path: p.into() };
        let tcp = |h: &str, port| Address::Tcp {
            host: h.into(),
            port,
        };
        assert_eq!(
            backend("unix:/run/php/php8.2-fpm.sock|fcgi://localhost/"),
            (Protocol::Fastcgi, unix("/run/php/php8.2-fpm.sock"))
        );
        assert_eq!(
            backend("unix:/run/app.sock|http://localhost/"),
            (Protocol::Http, unix("/run/app.sock"))
        );
        assert_eq!(
            backend("fcgi://127.0.0.1:9000/"),
            (Protocol::Fastcgi, tcp("127.0.0.1", 9000))
        );
        assert_eq!(
            backend("http://127.0.0.1:3000/"),
            (Protocol::Http, tcp("127.0.0.1", 3000))
        );
        assert_eq!(
            backend("https://app.internal/"),
            (Protocol::Https, tcp("app.internal", 443))
        );
        assert_eq!(
            backend("http://[::1]:8080"),
            (Protocol::Http, tcp("::1", 8080))
        );
        assert_eq!(
            backend("ajp://127.0.0.1/"),
            (Protocol::Tcp, tcp("127.0.0.1", 8009))
        );
        assert!(matches!(
            backend("http://$x/").1,
            Address::Unresolved { .. }
        ));
    }

    #[test]
    fn envvars_of_debian() {
        let text = "unset HOME\nif [ x ] ; then\n\tSUFFIX=\"-${APACHE_CONFDIR##/etc/apache2-}\"\nelse\n\tSUFFIX=\nfi\nexport APACHE_RUN_DIR=/var/run/apache2$SUFFIX\nexport APACHE_LOG_DIR=/var/log/apache2$SUFFIX\nexport LANG=C\n";
        let v = parse_envvars(text);
        assert_eq!(v["APACHE_LOG_DIR"], "/var/log/apache2");
        assert_eq!(v["APACHE_RUN_DIR"], "/var/run/apache2");
    }

    #[test]
    fn conditions_defines_and_timeouts() {
        let (m, w) = model(
            r"
Timeout 300
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
Define BACKEND 127.0.0.1:3000
<IfModule mod_proxy.c>
  ProxyTimeout 30
</IfModule>
<IfModule !proxy_module>
  ProxyTimeout 1
</IfModule>
<IfModule ssl_module>
  Listen 443
</IfModule>
<IfDefine !NOPE>
  Listen 8080
</IfDefine>
<VirtualHost *:8080>
  ServerName shop.example.com:8080
  ProxyPass /static !
  ProxyPass / http://${BACKEND}/ timeout=5 connectiontimeout=2
  ProxyPass /other http://${UNDEFINED}/
</VirtualHost>
",
        );
        assert_eq!(m.listens.len(), 1, "{m:?}");
        assert_eq!(m.main.proxy_timeout.as_ref().unwrap().value, 30);
        assert!(
            w.iter().any(|w| w.contains("${UNDEFINED} is not defined")),
            "{w:?}"
        );
        let t = m.forward_targets();
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(
            t[0].address,
            Address::Tcp {
                host: "127.0.0.1".into(),
                port: 3000
            }
        );
        assert_eq!(t[0].frontend, "VirtualHost *:8080 (shop.example.com)");
        assert_eq!(t[0].location.as_deref(), Some("/"));
        assert_eq!(ms(&t[0].timeouts.read), 5000);
        assert_eq!(ms(&t[0].timeouts.connect), 2000);
        assert_eq!(t[0].origin.line, 20);
        // The other falls back to ProxyTimeout (main server).
        assert_eq!(ms(&t[1].timeouts.read), 30_000);
        assert_eq!(t[1].timeouts.read.origin.as_ref().unwrap().line, 6);
    }

    #[test]
    fn timeout_without_proxy_timeout_and_the_default() {
        let (m, _) = model("Timeout 300\nProxyPass / http://127.0.0.1:3000/\n");
        let t = &m.forward_targets()[0];
        assert_eq!(ms(&t.timeouts.read), 300_000);
        assert_eq!(t.timeouts.read.origin.as_ref().unwrap().line, 1);
        let (m, _) = model("ProxyPass / http://127.0.0.1:3000/\n");
        let t = &m.forward_targets()[0];
        assert_eq!(t.timeouts.read, EffectiveTimeout::default_ms(60_000));
    }

    #[test]
    fn balancers_locations_and_handlers() {
        let (m, w) = model(
            r#"
<Proxy "balancer://Pool">
  BalancerMember http://127.0.0.1:3001 retry=10
  BalancerMember http://127.0.0.1:3002 status=+H
  ProxySet timeout=7
</Proxy>
BalancerMember balancer://pool http://127.0.0.1:3003 status=+D
<Location "/app">
  ProxyPass balancer://pool/
</Location>
<LocationMatch "\.php$">
  SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost/"
</LocationMatch>
ProxyPassMatch "^/api/(.*)$" "http://127.0.0.1:4000/$1"
"#,
        );
        assert!(w.is_empty(), "{w:?}");
        let t = m.forward_targets();
        assert_eq!(t.len(), 5, "{t:?}");
        assert_eq!(t[0].upstream.as_deref(), Some("balancer://pool"));
        assert_eq!(t[0].location.as_deref(), Some("/app"));
        assert_eq!(ms(&t[0].timeouts.read), 7000);
        assert!(!t[0].backup && t[1].backup && t[2].down);
        assert_eq!(t[3].protocol, Protocol::Fastcgi);
        assert_eq!(
            t[3].address,
            Address::Unix {
                path: "/run/php/php8.2-fpm.sock".into()
            }
        );
        assert_eq!(t[3].location.as_deref(), Some(r"~ \.php$"));
        assert_eq!(t[4].raw, "http://127.0.0.1:4000/$1");
        assert_eq!(
            t[4].address,
            Address::Tcp {
                host: "127.0.0.1".into(),
                port: 4000
            }
        );
    }

    #[test]
    fn bad_input_is_located_warnings() {
        let (m, w) =
            model("<VirtualHost *:80\nTimeout soon\n</Location>\n<Directory />\nListen nowhere\n");
        assert!(m.vhosts.is_empty());
        let all = w.join("\n");
        for want in [
            "apache2.conf:1: a section line without its closing `>`",
            "apache2.conf:2: timeout soon is not a number of seconds",
            "apache2.conf:3: </location> without its opening section",
            "apache2.conf:5: Listen nowhere not understood",
            "<directory> not closed",
        ] {
            assert!(all.contains(want), "{want}: {all}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut text = String::new();
        for _ in 0..(MAX_NESTING + 5) {
            text.push_str("<IfDefine !X>\n");
        }
        text.push_str("Listen 80\n");
        for _ in 0..(MAX_NESTING + 5) {
            text.push_str("</IfDefine>\n");
        }
        let (m, w) = model(&text);
        assert!(m.listens.is_empty());
        assert!(w.iter().any(|w| w.contains("nest deeper")), "{w:?}");
        assert!(
            !w.iter().any(|w| w.contains("without its opening")),
            "{w:?}"
        );
    }

    #[test]
    fn logs_resolve_against_server_root() {
        let (m, _) = model(
            "ErrorLog logs/err.log\nLogFormat \"%h %>s %D\" timed\nCustomLog /var/log/a.log timed\nCustomLog \"|/usr/bin/rotatelogs x\" common\n<VirtualHost *:80>\nErrorLog /var/log/v.log\n</VirtualHost>\n",
        );
        assert_eq!(
            m.error_logs(),
            [
                PathBuf::from("/etc/apache2/logs/err.log"),
                PathBuf::from("/var/log/v.log")
            ]
        );
        assert_eq!(m.main.custom_logs.len(), 1);
        assert_eq!(m.log_formats["timed"].value, "%h %>s %D");
    }
}
