//! The nginx configuration: a tokenizer that follows nginx's own
//! (`ngx_conf_read_token`), a directive tree with file and line for every
//! directive, `include` expansion with globs, and a model of what matters
//! when nginx answers 5xx — servers, locations and where they forward, the
//! effective proxy timeouts with their origin, upstreams, resolvers, rate
//! and connection limits, `return`s and maintenance switches, logs and
//! worker limits.
//!
//! [`tokenize`], [`parse`] and [`NginxModel::from_directives`] are pure;
//! [`load`] reads the files, bounded by [`MAX_INCLUDE_DEPTH`],
//! [`MAX_FILES`] and [`MAX_FILE_BYTES`]. A configuration that cannot be
//! fully parsed gives a partial model and warnings naming `file:line`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files;
use super::{
    Address, ConfigFile, EffectiveTimeout, ForwardTarget, Host, Loaded, Origin, Protocol, Setting,
    Timeouts,
};
use crate::{Failure, Millis, Phase};

/// nginx's default for `proxy_connect_timeout`, `proxy_read_timeout` and
/// `proxy_send_timeout` (and their fastcgi, uwsgi and grpc twins).
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;

/// The stream module's default `proxy_timeout`: 10 minutes without data
/// either way closes the connection. Its `proxy_connect_timeout` defaults
/// to [`DEFAULT_TIMEOUT_MS`].
pub const STREAM_PROXY_TIMEOUT_MS: u64 = 600_000;

/// Includes nest at most this deep; deeper ones are skipped with a warning.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// At most this many files are read for one configuration.
pub const MAX_FILES: usize = 1_000;

/// A configuration file larger than this is skipped with a warning.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Blocks nest at most this deep (a file's own blocks, and blocks of
/// included files counted from the including block); a deeper block is
/// skipped with a warning `file:line: nesting deeper than N`. Real
/// configurations nest a handful of levels; this bounds every recursion
/// over the tree (includes, locations, drop) whatever the input.
pub const MAX_NESTING: usize = 64;

// ------------------------------------------------------------ tokenizer

/// One token of nginx configuration syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A word or a quoted string, unescaped as nginx does.
    Word {
        text: String,
        line: u32,
        quoted: bool,
    },
    /// `;` ending a simple directive.
    Semicolon { line: u32 },
    /// `{` opening a block.
    Open { line: u32 },
    /// `}` closing a block.
    Close { line: u32 },
}

/// Split nginx configuration text into tokens. `#` starts a comment only
/// at the start of a word; single and double quotes group a word with
/// `\"`, `\'`, `\\`, `\t`, `\r`, `\n` unescaped (any other `\x` is kept as
/// written, as nginx keeps it); a backslash outside quotes makes the next
/// character part of the word (so `\;` does not end a directive); `${name}`
/// braces do not open a block. The body of a `*_by_lua_block { ... }`
/// (`OpenResty`) is Lua, not nginx syntax: it becomes one quoted word, the
/// directive's last argument, followed by a `;` (as crossplane gives it).
/// Problems are `(line, message)` warnings.
pub fn tokenize(src: &str) -> (Vec<Token>, Vec<(u32, String)>) {
    let b = src.as_bytes();
    let mut tokens = Vec::new();
    let mut warnings = Vec::new();
    let mut i = 0;
    let mut line: u32 = 1;
    // The directive being read is a `*_by_lua_block`: its `{` opens Lua.
    let mut lua = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b';' => {
                tokens.push(Token::Semicolon { line });
                lua = false;
                i += 1;
            }
            b'{' if lua => {
                lua = false;
                let start = line;
                let (body, end, closed) = lua_block(b, i + 1, &mut line);
                if !closed {
                    warnings.push((start, "unterminated Lua block".to_string()));
                }
                tokens.push(Token::Word {
                    text: String::from_utf8_lossy(body).into_owned(),
                    line: start,
                    quoted: true,
                });
                tokens.push(Token::Semicolon { line });
                i = end;
            }
            b'{' => {
                tokens.push(Token::Open { line });
                i += 1;
            }
            b'}' => {
                tokens.push(Token::Close { line });
                lua = false;
                i += 1;
            }
            b'"' | b'\'' => {
                let start = line;
                let quote = c;
                let mut buf = Vec::new();
                i += 1;
                let mut closed = false;
                while i < b.len() {
                    let ch = b[i];
                    if ch == b'\\' && i + 1 < b.len() {
                        unescape(b[i + 1], &mut buf);
                        if b[i + 1] == b'\n' {
                            line += 1;
                        }
                        i += 2;
                        continue;
                    }
                    i += 1;
                    if ch == quote {
                        closed = true;
                        break;
                    }
                    if ch == b'\n' {
                        line += 1;
                    }
                    buf.push(ch);
                }
                if !closed {
                    warnings.push((start, "unterminated quoted string".to_string()));
                }
                lua |= opens_lua(&tokens, &buf);
                tokens.push(Token::Word {
                    text: String::from_utf8_lossy(&buf).into_owned(),
                    line: start,
                    quoted: true,
                });
            }
            _ => {
                let start = line;
                let mut buf = Vec::new();
                let mut variable = false;
                while i < b.len() {
                    let ch = b[i];
                    if ch == b'{' && variable {
                        buf.push(ch);
                        i += 1;
                        continue;
                    }
                    variable = false;
                    if ch == b'\\' && i + 1 < b.len() {
                        unescape(b[i + 1], &mut buf);
                        if b[i + 1] == b'\n' {
                            line += 1;
                        }
                        i += 2;
                        continue;
                    }
                    if ch == b'$' {
                        variable = true;
                    } else if ch.is_ascii_whitespace() || ch == b';' || ch == b'{' {
                        break;
                    }
                    buf.push(ch);
                    i += 1;
                }
                lua |= opens_lua(&tokens, &buf);
                tokens.push(Token::Word {
                    text: String::from_utf8_lossy(&buf).into_owned(),
                    line: start,
                    quoted: false,
                });
            }
        }
    }
    (tokens, warnings)
}

/// Whether `word`, read after `tokens`, names a `*_by_lua_block` directive
/// (quoted or not): the first word of a directive.
fn opens_lua(tokens: &[Token], word: &[u8]) -> bool {
    let starts_directive = matches!(
        tokens.last(),
        None | Some(Token::Semicolon { .. } | Token::Open { .. } | Token::Close { .. })
    );
    starts_directive && word.ends_with(b"_by_lua_block")
}

/// The Lua body starting at `start` (just after its `{`): the bytes up to
/// the matching `}`, the index after it, and whether it was found. Braces in
/// Lua strings (`'...'`, `"..."`, `[[...]]`, `[==[...]==]`) and comments
/// (`-- ...`, `--[[ ... ]]`) do not count. `line` advances over the body.
fn lua_block<'a>(b: &'a [u8], start: usize, line: &mut u32) -> (&'a [u8], usize, bool) {
    let mut depth = 1usize;
    let mut i = start;
    let count = |from: usize, to: usize, line: &mut u32| {
        for c in &b[from..to] {
            if *c == b'\n' {
                *line = line.saturating_add(1);
            }
        }
    };
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                i += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return (&b[start..i], i + 1, true);
                }
                i += 1;
            }
            b'\n' => {
                *line = line.saturating_add(1);
                i += 1;
            }
            q @ (b'"' | b'\'') => {
                let mut j = i + 1;
                while j < b.len() && b[j] != q && b[j] != b'\n' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let end = (j + 1).min(b.len());
                count(i, end, line);
                i = end;
            }
            b'[' => match long_bracket(b, i) {
                Some(level) => {
                    let end = long_bracket_end(b, i + level + 2, level);
                    count(i, end, line);
                    i = end;
                }
                None => i += 1,
            },
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = match long_bracket(b, i + 2) {
                    Some(level) => long_bracket_end(b, i + 2 + level + 2, level),
                    None => b[i..]
                        .iter()
                        .position(|c| *c == b'\n')
                        .map_or(b.len(), |p| i + p),
                };
                count(i, end, line);
                i = end;
            }
            _ => i += 1,
        }
    }
    (&b[start..], b.len(), false)
}

/// The level (number of `=`) of a Lua long bracket `[==[` opening at `i`.
fn long_bracket(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let level = b[i + 1..].iter().take_while(|c| **c == b'=').count();
    (b.get(i + 1 + level) == Some(&b'[')).then_some(level)
}

/// The index after the `]==]` of `level` closing a long bracket whose
/// content starts at `from`; the end of the input when it never closes.
fn long_bracket_end(b: &[u8], from: usize, level: usize) -> usize {
    let mut i = from;
    while i < b.len() {
        if b[i] == b']'
            && b[i + 1..].iter().take(level).all(|c| *c == b'=')
            && b.get(i + 1 + level) == Some(&b']')
        {
            return i + level + 2;
        }
        i += 1;
    }
    b.len()
}

/// nginx's unescaping of `\x` in an argument.
fn unescape(next: u8, buf: &mut Vec<u8>) {
    match next {
        b'"' | b'\'' | b'\\' => buf.push(next),
        b't' => buf.push(b'\t'),
        b'r' => buf.push(b'\r'),
        b'n' => buf.push(b'\n'),
        _ => {
            buf.push(b'\\');
            buf.push(next);
        }
    }
}

// ------------------------------------------------------------ directives

/// One directive with its arguments and, for a block, its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub origin: Origin,
    /// The directives inside `{ }`; `None` for a simple directive.
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }

    /// The directives of its block; none for a simple directive.
    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// Parse one file's text into directives (includes are not expanded).
/// Unbalanced braces and unterminated directives become warnings
/// (`file:line: ...`) and the directives parsed so far are kept: open
/// blocks are closed at the end of the file, a stray `}` is ignored, a
/// block nested deeper than [`MAX_NESTING`] is skipped.
pub fn parse(src: &str, file: &Path) -> (Vec<Directive>, Vec<String>) {
    let (tokens, token_warnings) = tokenize(src);
    let at = |line: u32| Origin::new(file, line);
    let mut warnings: Vec<String> = token_warnings
        .into_iter()
        .map(|(l, m)| format!("{}: {m}", at(l)))
        .collect();
    // Open blocks: the block's directive (without children yet) and its children.
    let mut stack: Vec<(Directive, Vec<Directive>)> = Vec::new();
    let mut top: Vec<Directive> = Vec::new();
    let mut words: Vec<(String, u32)> = Vec::new();
    let mut last_line = 1;
    // Inside a block too deep to keep: how many of its braces are open.
    let mut skipping = 0usize;

    let take = |words: &mut Vec<(String, u32)>, line: u32| -> Directive {
        let first_line = words.first().map_or(line, |w| w.1);
        let mut it = std::mem::take(words).into_iter().map(|w| w.0);
        Directive {
            name: it.next().unwrap_or_default(),
            args: it.collect(),
            origin: Origin::new(file, first_line),
            block: None,
        }
    };

    for tok in tokens {
        if skipping > 0 {
            match tok {
                Token::Open { .. } => skipping += 1,
                Token::Close { .. } => skipping -= 1,
                Token::Word { .. } | Token::Semicolon { .. } => {}
            }
            continue;
        }
        match tok {
            Token::Word { text, line, .. } => {
                last_line = line;
                words.push((text, line));
            }
            Token::Semicolon { line } => {
                last_line = line;
                if words.is_empty() {
                    warnings.push(format!("{}: unexpected \";\"", at(line)));
                    continue;
                }
                let d = take(&mut words, line);
                stack.last_mut().map_or(&mut top, |s| &mut s.1).push(d);
            }
            Token::Open { line } => {
                last_line = line;
                if words.is_empty() {
                    warnings.push(format!("{}: unexpected \"{{\"", at(line)));
                }
                let d = take(&mut words, line);
                if stack.len() >= MAX_NESTING {
                    warnings.push(format!(
                        "{}: nesting deeper than {MAX_NESTING}: the \"{}\" block is skipped",
                        d.origin, d.name
                    ));
                    skipping = 1;
                    continue;
                }
                stack.push((d, Vec::new()));
            }
            Token::Close { line } => {
                last_line = line;
                if !words.is_empty() {
                    let d = take(&mut words, line);
                    warnings.push(format!(
                        "{}: directive \"{}\" is not terminated by \";\"",
                        d.origin, d.name
                    ));
                }
                match stack.pop() {
                    Some((mut d, children)) => {
                        d.block = Some(children);
                        stack.last_mut().map_or(&mut top, |s| &mut s.1).push(d);
                    }
                    None => warnings.push(format!("{}: unexpected \"}}\"", at(line))),
                }
            }
        }
    }
    if !words.is_empty() {
        let d = take(&mut words, last_line);
        warnings.push(format!(
            "{}: unexpected end of file, expecting \";\" or \"}}\" after \"{}\"",
            d.origin, d.name
        ));
    }
    while let Some((mut d, children)) = stack.pop() {
        warnings.push(format!(
            "{}: unexpected end of file, expecting \"}}\" to close \"{}\"",
            d.origin, d.name
        ));
        d.block = Some(children);
        stack.last_mut().map_or(&mut top, |s| &mut s.1).push(d);
    }
    (top, warnings)
}

// ------------------------------------------------------------ loading

/// Read `main` and everything it includes, and build the model. Relative
/// `include` paths resolve against the directory of `main` (nginx's conf
/// prefix); relative log paths against `prefix`. `default_error_log` is the
/// master's `-e` (or compiled) log, used when the main context sets none.
pub fn load(main: &Path, prefix: &Path, default_error_log: Option<PathBuf>) -> Loaded<NginxModel> {
    let mut loader = Loader {
        conf_dir: main.parent().map(Path::to_path_buf).unwrap_or_default(),
        ..Loader::default()
    };
    let directives = match loader.read(main) {
        Ok(d) => d,
        Err(e) => {
            return Loaded {
                failure: Some(Failure::from_io(
                    &e,
                    Phase::Local,
                    &format!("read {}", main.display()),
                )),
                files: loader.files,
                warnings: loader.warnings,
                model: None,
            };
        }
    };
    loader.stack.push(files::canonical(main));
    let directives = loader.expand(directives, 0, 0);
    let (mut model, warnings) = NginxModel::build(&directives, main, prefix);
    model.default_error_log = default_error_log;
    loader.warnings.extend(warnings);
    Loaded {
        model: Some(model),
        files: loader.files,
        warnings: loader.warnings,
        failure: None,
    }
}

/// Parse `text` as the whole configuration of `main` (no includes are
/// read) and build the model: for tests and fixtures.
pub fn model_from_str(text: &str, main: &Path, prefix: &Path) -> (NginxModel, Vec<String>) {
    let (directives, mut warnings) = parse(text, main);
    let (model, more) = NginxModel::build(&directives, main, prefix);
    warnings.extend(more);
    (model, warnings)
}

#[derive(Debug, Default)]
struct Loader {
    conf_dir: PathBuf,
    files: Vec<ConfigFile>,
    warnings: Vec<String>,
    /// Canonical paths of the files being included, outermost first.
    stack: Vec<PathBuf>,
    /// Files read so far (each read counts, also repeated includes).
    reads: usize,
}

impl Loader {
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<Directive>> {
        self.reads += 1;
        let text = files::read_bounded(path, MAX_FILE_BYTES)?;
        if !self.files.iter().any(|f| f.path == path) {
            self.files.push(ConfigFile::stat(path));
        }
        let (directives, warnings) = parse(&text, path);
        self.warnings.extend(warnings);
        Ok(directives)
    }

    /// Replace every `include` in `directives` (at any block depth) by the
    /// directives of the files it names. `depth` is the include depth of
    /// the file these directives come from, `nesting` the number of blocks
    /// around them (a block deeper than [`MAX_NESTING`] is emptied).
    fn expand(
        &mut self,
        directives: Vec<Directive>,
        depth: usize,
        nesting: usize,
    ) -> Vec<Directive> {
        let mut out = Vec::with_capacity(directives.len());
        for mut d in directives {
            if d.name == "include" && d.block.is_none() {
                self.include(&d, depth, nesting, &mut out);
                continue;
            }
            if let Some(children) = d.block.take() {
                if nesting >= MAX_NESTING {
                    self.warnings.push(format!(
                        "{}: nesting deeper than {MAX_NESTING}: the \"{}\" block is skipped",
                        d.origin, d.name
                    ));
                    continue;
                }
                d.block = Some(self.expand(children, depth, nesting + 1));
            }
            out.push(d);
        }
        out
    }

    fn include(&mut self, d: &Directive, depth: usize, nesting: usize, out: &mut Vec<Directive>) {
        let Some(pattern) = d.arg(0) else {
            self.warnings
                .push(format!("{}: include without a file", d.origin));
            return;
        };
        let path = self.conf_dir.join(pattern);
        let targets = if files::has_glob(pattern) {
            files::glob(&path)
        } else {
            vec![path]
        };
        for target in targets {
            if depth + 1 > MAX_INCLUDE_DEPTH {
                self.warnings.push(format!(
                    "{}: include {} skipped: includes nest deeper than {MAX_INCLUDE_DEPTH}",
                    d.origin,
                    target.display()
                ));
                continue;
            }
            let canonical = files::canonical(&target);
            if self.stack.contains(&canonical) {
                self.warnings.push(format!(
                    "{}: include {} skipped: it includes itself (an include cycle)",
                    d.origin,
                    target.display()
                ));
                continue;
            }
            if self.reads >= MAX_FILES {
                self.warnings.push(format!(
                    "{}: include {} skipped: more than {MAX_FILES} files",
                    d.origin,
                    target.display()
                ));
                continue;
            }
            match self.read(&target) {
                Ok(children) => {
                    self.stack.push(canonical);
                    let expanded = self.expand(children, depth + 1, nesting);
                    self.stack.pop();
                    out.extend(expanded);
                }
                Err(e) => {
                    self.warnings
                        .push(format!("{}: include {}: {e}", d.origin, target.display()));
                }
            }
        }
    }
}

// ------------------------------------------------------------ model

/// A log file named in the configuration.
pub type LogPath = Setting<PathBuf>;

/// One `access_log PATH [FORMAT] [buffer=...] [if=...]` writing to a file.
/// Serialized like a [`LogPath`], with the format when one is named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogPath {
    /// The file, relative paths resolved against the prefix.
    pub value: PathBuf,
    /// The `log_format` named; absent: nginx's predefined `combined`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub format: Option<String>,
    pub origin: Origin,
}

/// The `access_log` directives set at one level: the files written, and
/// `access_log off` (which also drops the inherited ones). Logs to syslog,
/// `memory:` or `stderr` are not files and are left out, but still replace
/// the inherited ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AccessLogs {
    files: Vec<AccessLogPath>,
    off: Option<Origin>,
}

/// One `listen`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listen {
    /// As written: `443`, `127.0.0.1:8080`, `[::]:443`, `unix:/run/x.sock`.
    pub raw: String,
    /// The host is `*` for all addresses.
    pub address: Address,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub ssl: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub default_server: bool,
    /// `listen ... udp` of a stream server.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub udp: bool,
    pub origin: Origin,
}

impl Listen {
    /// As written with its flags that matter: `443 ssl`, `53 udp`.
    fn label(&self) -> String {
        let mut out = self.raw.clone();
        if self.ssl {
            out.push_str(" ssl");
        }
        if self.udp {
            out.push_str(" udp");
        }
        out
    }
}

/// Where a location forwards: `proxy_pass`, `fastcgi_pass`, `uwsgi_pass`,
/// `grpc_pass`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pass {
    /// The directive: `proxy_pass`, `fastcgi_pass`, ...
    pub directive: String,
    pub protocol: Protocol,
    /// The argument as written.
    pub raw: String,
    pub target: PassTarget,
    /// The URI part after the address (`/api/` in `http://app/api/`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uri: Option<String>,
    pub origin: Origin,
}

/// What a pass directive names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PassTarget {
    /// A host (name or IP) and port (80/443 by default for http/https).
    Tcp { host: Host, port: u16 },
    /// A unix socket: `http://unix:/run/app.sock:/uri`, `unix:/run/php.sock`.
    Unix { path: PathBuf },
    /// An `upstream` block of this name.
    Upstream { name: String },
    /// The address holds variables, resolved per request (by the
    /// `resolver` when it is a name).
    Variables { raw: String },
}

/// A `return` (also inside `if`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub status: u16,
    /// The text or URL after the status.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    /// The `if` condition guarding it, without parentheses.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub condition: Option<String>,
    pub origin: Origin,
}

/// The maintenance switch pattern: `if (-f /path/maintenance.on) { return 503; }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceFlag {
    /// The file tested (may hold variables such as `$document_root`).
    pub flag: String,
    /// The status returned.
    pub status: u16,
    /// True for `!-f`: the status is returned when the file is absent.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub when_absent: bool,
    /// The `if`.
    pub origin: Origin,
}

/// `limit_req zone=NAME [burst=N] [nodelay | delay=N]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitReq {
    pub zone: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub burst: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub nodelay: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delay: Option<u32>,
    pub origin: Origin,
}

/// `limit_conn ZONE N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitConn {
    pub zone: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit: Option<u32>,
    pub origin: Origin,
}

/// `limit_req_zone KEY zone=NAME:SIZE rate=R` or `limit_conn_zone KEY zone=NAME:SIZE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitZone {
    pub name: String,
    pub key: String,
    /// The shared memory size as written (`10m`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<String>,
    /// The rate as written (`10r/s`), for `limit_req_zone`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rate: Option<String>,
    /// The rate in requests per second.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rate_per_sec: Option<f64>,
    pub origin: Origin,
}

/// A `resolver`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolver {
    pub addresses: Vec<String>,
    /// `valid=`: how long answers are cached instead of their TTL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid: Option<Millis>,
    /// `http`, `server NAME` or `location M`.
    pub scope: String,
    pub origin: Origin,
}

/// One `location`, nested ones flattened after their parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// The match as written: `/api/`, `= /health`, `~* \.php$`, `@fallback`.
    pub matcher: String,
    /// The enclosing locations' matchers, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub parents: Vec<String>,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pass: Option<Pass>,
    /// Forwarding directives inside the location's `if` and
    /// `limit_except` blocks: used only when their condition holds.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub conditional_passes: Vec<ConditionalPass>,
    /// Effective timeouts of the forwarding module (`proxy_*` when the
    /// location does not forward), inherited http → server → location.
    pub timeouts: Timeouts,
    /// The `resolver` in effect.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resolver: Option<Origin>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub returns: Vec<Return>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub maintenance: Vec<MaintenanceFlag>,
    /// Effective `limit_req`s (a level that sets any replaces the inherited ones).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub limit_req: Vec<LimitReq>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub limit_conn: Vec<LimitConn>,
    /// Effective `limit_req_status`; absent: nginx's default 503.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit_req_status: Option<Setting<u16>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit_conn_status: Option<Setting<u16>>,
    /// `error_log` set in this location itself.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub error_logs: Vec<LogPath>,
    /// `access_log` files set in this location itself.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub access_logs: Vec<AccessLogPath>,
    /// `access_log off` in this location itself.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_log_off: Option<Origin>,
}

impl Location {
    /// The full path: enclosing matchers and this one joined by ` > `.
    pub fn path(&self) -> String {
        let mut parts = self.parents.clone();
        parts.push(self.matcher.clone());
        parts.join(" > ")
    }
}

/// A forwarding directive inside an `if` or `limit_except` of a location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionalPass {
    /// The block as written: `if ($request_method = POST)`, `limit_except GET`.
    pub condition: String,
    pub pass: Pass,
    /// Effective timeouts of its module inside that block.
    pub timeouts: Timeouts,
}

/// One `server` of the `stream` block: TCP or UDP forwarding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamServer {
    pub origin: Origin,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub listen: Vec<Listen>,
    /// The stream `proxy_pass`: an address, an upstream of the stream
    /// block, or variables.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pass: Option<Pass>,
    /// connect: `proxy_connect_timeout` (60 s by default); read and send:
    /// `proxy_timeout` (10 min by default), inherited stream → server.
    pub timeouts: Timeouts,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resolver: Option<Origin>,
}

impl StreamServer {
    /// `stream server (listen 5432)`, `stream server (listen 53 udp)`.
    pub fn label(&self) -> String {
        let listen: Vec<String> = self.listen.iter().map(Listen::label).collect();
        if listen.is_empty() {
            "stream server".to_string()
        } else {
            format!("stream server (listen {})", listen.join(", "))
        }
    }

    /// The protocols it forwards: UDP for its `udp` listens, TCP for the others.
    pub fn protocols(&self) -> Vec<Protocol> {
        let mut out = Vec::new();
        if self.listen.iter().any(|l| !l.udp) || self.listen.is_empty() {
            out.push(Protocol::Tcp);
        }
        if self.listen.iter().any(|l| l.udp) {
            out.push(Protocol::Udp);
        }
        out
    }
}

/// The stream module's timeouts before any directive sets them.
fn stream_default_timeouts() -> Timeouts {
    Timeouts {
        connect: EffectiveTimeout::default_ms(DEFAULT_TIMEOUT_MS),
        read: EffectiveTimeout::default_ms(STREAM_PROXY_TIMEOUT_MS),
        send: EffectiveTimeout::default_ms(STREAM_PROXY_TIMEOUT_MS),
    }
}

/// One `server` block of `http`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub origin: Origin,
    /// Empty means nginx's default, `*:80`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub listen: Vec<Listen>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub server_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ssl_certificates: Vec<Setting<PathBuf>>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ssl_certificate_keys: Vec<Setting<PathBuf>>,
    /// Effective error logs (the server's own, else http's).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub error_logs: Vec<LogPath>,
    /// Effective access log files (the server's own, else http's).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub access_logs: Vec<AccessLogPath>,
    /// The `access_log off` in effect (the server's, else http's).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_log_off: Option<Origin>,
    /// `return`s at server level (outside locations).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub returns: Vec<Return>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub maintenance: Vec<MaintenanceFlag>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub limit_req: Vec<LimitReq>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub limit_conn: Vec<LimitConn>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub locations: Vec<Location>,
}

impl Server {
    /// `server shop.example.com (listen 443 ssl)`, for reports.
    pub fn label(&self) -> String {
        let name = self.server_names.first().map_or("_", String::as_str);
        let listen: Vec<String> = self.listen.iter().map(Listen::label).collect();
        if listen.is_empty() {
            format!("server {name}")
        } else {
            format!("server {name} (listen {})", listen.join(", "))
        }
    }
}

/// One `server` of an `upstream`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamServer {
    pub raw: String,
    pub address: Address,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub weight: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_fails: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fail_timeout: Option<Millis>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub backup: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub down: bool,
    pub origin: Origin,
}

/// An `upstream` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upstream {
    pub name: String,
    pub origin: Origin,
    pub servers: Vec<UpstreamServer>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub keepalive: Option<Setting<u32>>,
}

/// What an nginx configuration says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NginxModel {
    /// The main configuration file.
    pub main: PathBuf,
    /// The prefix relative log paths were resolved against.
    pub prefix: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub worker_processes: Option<Setting<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub worker_connections: Option<Setting<u64>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub worker_rlimit_nofile: Option<Setting<u64>>,
    /// `error_log` of the main context.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub error_logs: Vec<LogPath>,
    /// The log nginx uses when the main context sets none (`-e`, compiled).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub default_error_log: Option<PathBuf>,
    /// `error_log` of the `http` block.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub http_error_logs: Vec<LogPath>,
    /// `access_log` of the `http` block.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub access_logs: Vec<AccessLogPath>,
    /// `access_log off` of the `http` block.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_log_off: Option<Origin>,
    /// `log_format NAME [escape=...] STRING...` of the `http` block: the
    /// strings joined, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub log_formats: BTreeMap<String, Setting<String>>,
    /// `limit_req` of the `http` block (servers inherit them).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub http_limit_req: Vec<LimitReq>,
    /// `limit_conn` of the `http` block.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub http_limit_conn: Vec<LimitConn>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub servers: Vec<Server>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub upstreams: Vec<Upstream>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub resolvers: Vec<Resolver>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub limit_req_zones: Vec<LimitZone>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub limit_conn_zones: Vec<LimitZone>,
    /// The `server`s of the `stream` block.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub stream_servers: Vec<StreamServer>,
    /// The `upstream`s of the `stream` block (a name space of their own).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub stream_upstreams: Vec<Upstream>,
}

/// The forwarding modules, each with its own timeout directives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Module {
    Proxy,
    Fastcgi,
    Uwsgi,
    Grpc,
}

impl Module {
    const ALL: [Self; 4] = [Self::Proxy, Self::Fastcgi, Self::Uwsgi, Self::Grpc];

    fn prefix(self) -> &'static str {
        match self {
            Self::Proxy => "proxy",
            Self::Fastcgi => "fastcgi",
            Self::Uwsgi => "uwsgi",
            Self::Grpc => "grpc",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|m| *m == self).unwrap_or(0)
    }

    fn of_pass(directive: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| directive.strip_suffix("_pass") == Some(m.prefix()))
    }
}

/// What nested blocks inherit, nginx's merge semantics: a value set at a
/// level wins over the enclosing one; array directives (`limit_req`,
/// `error_log`) set at a level replace the enclosing ones as a whole.
#[derive(Debug, Clone, Default)]
struct Scope {
    /// Per module: connect, read, send.
    timeouts: [Timeouts; 4],
    resolver: Option<Origin>,
    limit_req: Vec<LimitReq>,
    limit_conn: Vec<LimitConn>,
    limit_req_status: Option<Setting<u16>>,
    limit_conn_status: Option<Setting<u16>>,
    error_logs: Vec<LogPath>,
    access_logs: AccessLogs,
}

/// Facts gathered while walking.
struct Builder<'a> {
    prefix: &'a Path,
    model: NginxModel,
    /// What could not be modelled, each naming `file:line`.
    warnings: Vec<String>,
}

/// What the stream block's levels inherit.
#[derive(Debug, Clone)]
struct StreamScope {
    timeouts: Timeouts,
    resolver: Option<Origin>,
}

impl NginxModel {
    /// Build the model from an expanded directive tree. `main` is the main
    /// file; relative log paths resolve against `prefix`.
    pub fn from_directives(directives: &[Directive], main: &Path, prefix: &Path) -> Self {
        Self::build(directives, main, prefix).0
    }

    /// [`Self::from_directives`] with the warnings of what could not be
    /// modelled (a forwarding directive where nginx does not allow it, a
    /// nesting too deep).
    pub fn build(directives: &[Directive], main: &Path, prefix: &Path) -> (Self, Vec<String>) {
        let mut b = Builder {
            prefix,
            model: Self {
                main: main.to_path_buf(),
                prefix: prefix.to_path_buf(),
                ..Self::default()
            },
            warnings: Vec::new(),
        };
        for d in directives {
            match d.name.as_str() {
                "worker_processes" => {
                    b.model.worker_processes = d
                        .arg(0)
                        .map(|v| Setting::new(v.to_string(), d.origin.clone()));
                }
                "worker_rlimit_nofile" => {
                    b.model.worker_rlimit_nofile = number(d);
                }
                "error_log" => b.model.error_logs.extend(b.log_path(d)),
                "events" => {
                    for e in d.children() {
                        if e.name == "worker_connections" {
                            b.model.worker_connections = number(e);
                        }
                    }
                }
                "http" => b.http(d),
                "stream" => b.stream(d),
                _ => {}
            }
        }
        (b.model, b.warnings)
    }

    /// Every concrete place a location or a stream server forwards to:
    /// `upstream` names expanded into their servers, unix sockets as such,
    /// addresses with variables unresolved. A pass inside `if` or
    /// `limit_except` gives targets marked conditional.
    pub fn forward_targets(&self) -> Vec<ForwardTarget> {
        let mut out = Vec::new();
        for server in &self.servers {
            for loc in &server.locations {
                let base = |pass: &Pass, timeouts: &Timeouts| ForwardTarget {
                    protocol: pass.protocol,
                    address: Address::Unresolved {
                        raw: pass.raw.clone(),
                    },
                    raw: pass.raw.clone(),
                    upstream: None,
                    frontend: server.label(),
                    location: Some(loc.path()),
                    origin: pass.origin.clone(),
                    server_origin: None,
                    backup: false,
                    down: false,
                    conditional: false,
                    timeouts: timeouts.clone(),
                    resolver: loc.resolver.clone(),
                };
                if let Some(pass) = &loc.pass {
                    expand_pass(&mut out, &pass.target, base(pass, &loc.timeouts), |n| {
                        self.upstream(n)
                    });
                }
                for c in &loc.conditional_passes {
                    let target = ForwardTarget {
                        conditional: true,
                        ..base(&c.pass, &c.timeouts)
                    };
                    expand_pass(&mut out, &c.pass.target, target, |n| self.upstream(n));
                }
            }
        }
        for server in &self.stream_servers {
            let Some(pass) = &server.pass else { continue };
            for protocol in server.protocols() {
                let base = ForwardTarget {
                    protocol,
                    address: Address::Unresolved {
                        raw: pass.raw.clone(),
                    },
                    raw: pass.raw.clone(),
                    upstream: None,
                    frontend: server.label(),
                    location: None,
                    origin: pass.origin.clone(),
                    server_origin: None,
                    backup: false,
                    down: false,
                    conditional: false,
                    timeouts: server.timeouts.clone(),
                    resolver: server.resolver.clone(),
                };
                expand_pass(&mut out, &pass.target, base, |n| self.stream_upstream(n));
            }
        }
        out
    }

    /// The `upstream` block of the `stream` block named `name`.
    pub fn stream_upstream(&self, name: &str) -> Option<&Upstream> {
        self.stream_upstreams
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The `upstream` block named `name` (case-insensitive, as nginx matches).
    pub fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.upstreams
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// Every error log file, deduplicated: the main context's (or the
    /// default), then http's, servers' and locations'.
    pub fn error_logs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        let mut add = |p: &PathBuf| {
            if !out.contains(p) {
                out.push(p.clone());
            }
        };
        if self.error_logs.is_empty()
            && let Some(p) = &self.default_error_log
        {
            add(p);
        }
        for l in self.error_logs.iter().chain(&self.http_error_logs) {
            add(&l.value);
        }
        for s in &self.servers {
            for l in &s.error_logs {
                add(&l.value);
            }
            for loc in &s.locations {
                for l in &loc.error_logs {
                    add(&l.value);
                }
            }
        }
        out
    }
}

/// Push the targets `target` names onto `out`, `base` filled in with
/// each address; an upstream `find` does not know stays unresolved.
fn expand_pass<'a>(
    out: &mut Vec<ForwardTarget>,
    target: &PassTarget,
    base: ForwardTarget,
    find: impl Fn(&str) -> Option<&'a Upstream>,
) {
    match target {
        PassTarget::Tcp { host, port } => out.push(ForwardTarget {
            address: Address::Tcp {
                host: host.clone(),
                port: *port,
            },
            ..base
        }),
        PassTarget::Unix { path } => out.push(ForwardTarget {
            address: Address::Unix { path: path.clone() },
            ..base
        }),
        PassTarget::Variables { .. } => out.push(base),
        PassTarget::Upstream { name } => {
            let Some(up) = find(name) else {
                out.push(base);
                return;
            };
            for s in &up.servers {
                out.push(ForwardTarget {
                    address: s.address.clone(),
                    upstream: Some(up.name.clone()),
                    server_origin: Some(s.origin.clone()),
                    backup: s.backup,
                    down: s.down,
                    ..base.clone()
                });
            }
        }
    }
}

impl Builder<'_> {
    /// The file of a log directive, unless it is `stderr`, `syslog:`,
    /// `memory:` or `off`; relative paths against the prefix.
    fn log_path(&self, d: &Directive) -> Option<LogPath> {
        let first = d.arg(0)?;
        if first == "stderr"
            || first == "off"
            || first.starts_with("syslog:")
            || first.starts_with("memory:")
        {
            return None;
        }
        Some(Setting::new(self.prefix.join(first), d.origin.clone()))
    }

    /// Record one `access_log` in `own`: `off`, or the file and format (a
    /// destination that is not a file records nothing).
    fn access_log(&self, d: &Directive, own: &mut AccessLogs) {
        if d.arg(0) == Some("off") {
            own.off = Some(d.origin.clone());
            return;
        }
        if let Some(path) = self.log_path(d) {
            own.files.push(AccessLogPath {
                value: path.value,
                format: d.arg(1).filter(|f| !f.contains('=')).map(str::to_string),
                origin: path.origin,
            });
        }
    }

    /// Apply the inheritable directives set directly in `block` to `scope`,
    /// and record zones and resolvers seen there.
    fn scope(&mut self, parent: &Scope, block: &[Directive], label: &str) -> Scope {
        let mut s = parent.clone();
        let mut limit_req = Vec::new();
        let mut limit_conn = Vec::new();
        let mut error_logs = Vec::new();
        let mut access_logs = AccessLogs::default();
        let mut access_set = false;
        for d in block {
            let name = d.name.as_str();
            for (m, module) in Module::ALL.into_iter().enumerate() {
                let Some(kind) = name
                    .strip_prefix(module.prefix())
                    .and_then(|r| r.strip_prefix('_'))
                else {
                    continue;
                };
                let slot = match kind {
                    "connect_timeout" => &mut s.timeouts[m].connect,
                    "read_timeout" => &mut s.timeouts[m].read,
                    "send_timeout" => &mut s.timeouts[m].send,
                    _ => continue,
                };
                if let Some(ms) = d.arg(0).and_then(parse_time) {
                    *slot = EffectiveTimeout::set(ms, d.origin.clone());
                }
            }
            match name {
                "resolver" => {
                    s.resolver = Some(d.origin.clone());
                    self.model.resolvers.push(resolver(d, label));
                }
                "limit_req" => limit_req.extend(parse_limit_req(d)),
                "limit_conn" => limit_conn.push(LimitConn {
                    zone: d.arg(0).unwrap_or_default().to_string(),
                    limit: d.arg(1).and_then(|v| v.parse().ok()),
                    origin: d.origin.clone(),
                }),
                "limit_req_status" => s.limit_req_status = status(d),
                "limit_conn_status" => s.limit_conn_status = status(d),
                "limit_req_zone" => self.model.limit_req_zones.push(limit_zone(d)),
                "limit_conn_zone" => self.model.limit_conn_zones.push(limit_zone(d)),
                "error_log" => error_logs.extend(self.log_path(d)),
                "access_log" => {
                    access_set = true;
                    self.access_log(d, &mut access_logs);
                }
                "log_format" => {
                    if let Some(name) = d.arg(0) {
                        let text = d
                            .args
                            .iter()
                            .skip(1)
                            .filter(|a| !a.starts_with("escape="))
                            .map(String::as_str)
                            .collect::<String>();
                        self.model
                            .log_formats
                            .insert(name.to_string(), Setting::new(text, d.origin.clone()));
                    }
                }
                _ => {}
            }
        }
        if !limit_req.is_empty() {
            s.limit_req = limit_req;
        }
        if !limit_conn.is_empty() {
            s.limit_conn = limit_conn;
        }
        if !error_logs.is_empty() {
            s.error_logs = error_logs;
        }
        if access_set {
            // Any access_log at a level replaces the inherited ones; `off`
            // with files beside it is nginx's error, files win here.
            if !access_logs.files.is_empty() {
                access_logs.off = None;
            }
            s.access_logs = access_logs;
        }
        s
    }

    fn http(&mut self, http: &Directive) {
        let block = http.children();
        let scope = self.scope(&Scope::default(), block, "http");
        self.model.http_error_logs.clone_from(&scope.error_logs);
        self.model.access_logs.clone_from(&scope.access_logs.files);
        self.model.access_log_off.clone_from(&scope.access_logs.off);
        self.model.http_limit_req.clone_from(&scope.limit_req);
        self.model.http_limit_conn.clone_from(&scope.limit_conn);
        for d in block {
            if d.name == "upstream" {
                let up = upstream(d);
                self.model.upstreams.push(up);
            }
        }
        for d in block {
            if d.name == "server" {
                let server = self.server(d, &scope);
                self.model.servers.push(server);
            }
        }
        // Passes naming an upstream declared after them are resolved now
        // that every upstream is known.
        let names: Vec<String> = self
            .model
            .upstreams
            .iter()
            .map(|u| u.name.clone())
            .collect();
        for server in &mut self.model.servers {
            for loc in &mut server.locations {
                if let Some(pass) = &mut loc.pass {
                    promote_upstream(pass, &names);
                }
                for c in &mut loc.conditional_passes {
                    promote_upstream(&mut c.pass, &names);
                }
            }
        }
    }

    /// The `stream` block: its upstreams, then its servers.
    fn stream(&mut self, stream: &Directive) {
        let block = stream.children();
        let top = StreamScope {
            timeouts: stream_default_timeouts(),
            resolver: None,
        };
        let scope = self.stream_scope(&top, block, "stream");
        for d in block {
            if d.name == "upstream" {
                let up = upstream(d);
                self.model.stream_upstreams.push(up);
            }
        }
        for d in block {
            if d.name != "server" {
                continue;
            }
            let children = d.children();
            let mut server = StreamServer {
                origin: d.origin.clone(),
                listen: children
                    .iter()
                    .filter(|c| c.name == "listen")
                    .filter_map(listen)
                    .collect(),
                pass: None,
                timeouts: scope.timeouts.clone(),
                resolver: None,
            };
            let inner = self.stream_scope(&scope, children, &server.label());
            server.timeouts = inner.timeouts;
            server.resolver = inner.resolver;
            let names: Vec<String> = self
                .model
                .stream_upstreams
                .iter()
                .map(|u| u.name.clone())
                .collect();
            server.pass = children
                .iter()
                .filter(|c| c.name == "proxy_pass")
                .filter_map(|c| stream_pass(c, &names))
                .next_back();
            self.model.stream_servers.push(server);
        }
    }

    /// The stream directives set directly in `block` over `parent`.
    fn stream_scope(
        &mut self,
        parent: &StreamScope,
        block: &[Directive],
        label: &str,
    ) -> StreamScope {
        let mut s = parent.clone();
        for d in block {
            let ms = || d.arg(0).and_then(parse_time);
            match d.name.as_str() {
                "proxy_connect_timeout" => {
                    if let Some(ms) = ms() {
                        s.timeouts.connect = EffectiveTimeout::set(ms, d.origin.clone());
                    }
                }
                "proxy_timeout" => {
                    if let Some(ms) = ms() {
                        s.timeouts.read = EffectiveTimeout::set(ms, d.origin.clone());
                        s.timeouts.send = EffectiveTimeout::set(ms, d.origin.clone());
                    }
                }
                "resolver" => {
                    s.resolver = Some(d.origin.clone());
                    self.model.resolvers.push(resolver(d, label));
                }
                _ => {}
            }
        }
        s
    }

    fn server(&mut self, d: &Directive, http: &Scope) -> Server {
        let block = d.children();
        let names: Vec<String> = block
            .iter()
            .filter(|c| c.name == "server_name")
            .flat_map(|c| c.args.iter().cloned())
            .collect();
        let label = format!("server {}", names.first().map_or("_", String::as_str));
        let scope = self.scope(http, block, &label);
        let mut server = Server {
            origin: d.origin.clone(),
            listen: Vec::new(),
            server_names: names,
            ssl_certificates: Vec::new(),
            ssl_certificate_keys: Vec::new(),
            error_logs: scope.error_logs.clone(),
            access_logs: scope.access_logs.files.clone(),
            access_log_off: scope.access_logs.off.clone(),
            returns: Vec::new(),
            maintenance: Vec::new(),
            limit_req: scope.limit_req.clone(),
            limit_conn: scope.limit_conn.clone(),
            locations: Vec::new(),
        };
        for c in block {
            match c.name.as_str() {
                "listen" => server.listen.extend(listen(c)),
                "ssl_certificate" => server.ssl_certificates.extend(
                    c.arg(0)
                        .map(|p| Setting::new(self.conf_path(p), c.origin.clone())),
                ),
                "ssl_certificate_key" => server.ssl_certificate_keys.extend(
                    c.arg(0)
                        .map(|p| Setting::new(self.conf_path(p), c.origin.clone())),
                ),
                "return" => server.returns.extend(parse_return(c, None)),
                "if" => {
                    let (returns, flags) = if_block(c);
                    server.returns.extend(returns);
                    server.maintenance.extend(flags);
                }
                "location" => self.location(c, &scope, &[], &mut server.locations, 0),
                _ => {}
            }
        }
        server
    }

    /// A file path that nginx resolves against the conf prefix
    /// (certificates): the directory of the main file.
    fn conf_path(&self, p: &str) -> PathBuf {
        self.model
            .main
            .parent()
            .map_or_else(|| PathBuf::from(p), |dir| dir.join(p))
    }

    fn location(
        &mut self,
        d: &Directive,
        parent: &Scope,
        parents: &[String],
        out: &mut Vec<Location>,
        depth: usize,
    ) {
        if depth >= MAX_NESTING {
            self.warnings.push(format!(
                "{}: nesting deeper than {MAX_NESTING}: location {} is skipped",
                d.origin,
                d.args.join(" ")
            ));
            return;
        }
        let block = d.children();
        let matcher = d.args.join(" ");
        let scope = self.scope(parent, block, &format!("location {matcher}"));
        let mut pass: Option<Pass> = None;
        let mut conditional_passes = Vec::new();
        let mut returns = Vec::new();
        let mut maintenance = Vec::new();
        let mut error_logs = Vec::new();
        let mut access_logs = AccessLogs::default();
        for c in block {
            match c.name.as_str() {
                "access_log" => self.access_log(c, &mut access_logs),
                "proxy_pass" | "fastcgi_pass" | "uwsgi_pass" | "grpc_pass" => {
                    pass = parse_pass(c, &self.upstream_names());
                }
                "return" => returns.extend(parse_return(c, None)),
                "if" => {
                    let (r, f) = if_block(c);
                    returns.extend(r);
                    maintenance.extend(f);
                    self.conditional(c, &scope, &mut conditional_passes);
                }
                "limit_except" => self.conditional(c, &scope, &mut conditional_passes),
                "error_log" => error_logs.extend(self.log_path(c)),
                _ => {}
            }
        }
        let module = pass
            .as_ref()
            .and_then(|p| Module::of_pass(&p.directive))
            .unwrap_or(Module::Proxy);
        out.push(Location {
            matcher: matcher.clone(),
            parents: parents.to_vec(),
            origin: d.origin.clone(),
            pass,
            conditional_passes,
            timeouts: scope.timeouts[module.index()].clone(),
            resolver: scope.resolver.clone(),
            returns,
            maintenance,
            limit_req: scope.limit_req.clone(),
            limit_conn: scope.limit_conn.clone(),
            limit_req_status: scope.limit_req_status.clone(),
            limit_conn_status: scope.limit_conn_status.clone(),
            error_logs,
            access_log_off: access_logs.off.filter(|_| access_logs.files.is_empty()),
            access_logs: access_logs.files,
        });
        let mut nested_parents = parents.to_vec();
        nested_parents.push(matcher);
        for c in block {
            if c.name == "location" {
                self.location(c, &scope, &nested_parents, out, depth + 1);
            }
        }
    }

    /// The forwarding directives of an `if` or `limit_except` block `d` of
    /// a location whose scope is `parent`. nginx allows only `proxy_pass`
    /// in `limit_except`; another one is a warning.
    fn conditional(&mut self, d: &Directive, parent: &Scope, out: &mut Vec<ConditionalPass>) {
        let condition = format!("{} {}", d.name, d.args.join(" "));
        let scope = self.scope(parent, d.children(), &condition);
        for c in d.children() {
            let Some(module) = Module::of_pass(&c.name) else {
                continue;
            };
            if d.name == "limit_except" && module != Module::Proxy {
                self.warnings.push(format!(
                    "{}: \"{}\" is not allowed in limit_except (nginx refuses it)",
                    c.origin, c.name
                ));
                continue;
            }
            if let Some(pass) = parse_pass(c, &self.upstream_names()) {
                out.push(ConditionalPass {
                    condition: condition.clone(),
                    pass,
                    timeouts: scope.timeouts[module.index()].clone(),
                });
            }
        }
    }

    fn upstream_names(&self) -> Vec<String> {
        self.model
            .upstreams
            .iter()
            .map(|u| u.name.clone())
            .collect()
    }
}

fn number(d: &Directive) -> Option<Setting<u64>> {
    d.arg(0)
        .and_then(|v| v.parse().ok())
        .map(|v| Setting::new(v, d.origin.clone()))
}

fn status(d: &Directive) -> Option<Setting<u16>> {
    d.arg(0)
        .and_then(|v| v.parse().ok())
        .map(|v| Setting::new(v, d.origin.clone()))
}

fn resolver(d: &Directive, scope: &str) -> Resolver {
    let mut r = Resolver {
        addresses: Vec::new(),
        valid: None,
        scope: scope.to_string(),
        origin: d.origin.clone(),
    };
    for a in &d.args {
        if let Some(v) = a.strip_prefix("valid=") {
            r.valid = parse_time(v).map(|ms| Millis(ms as f64));
        } else if !a.contains('=') {
            r.addresses.push(a.clone());
        }
    }
    r
}

fn parse_limit_req(d: &Directive) -> Option<LimitReq> {
    let mut l = LimitReq {
        zone: String::new(),
        burst: None,
        nodelay: false,
        delay: None,
        origin: d.origin.clone(),
    };
    for a in &d.args {
        if let Some(v) = a.strip_prefix("zone=") {
            l.zone = v.to_string();
        } else if let Some(v) = a.strip_prefix("burst=") {
            l.burst = v.parse().ok();
        } else if let Some(v) = a.strip_prefix("delay=") {
            l.delay = v.parse().ok();
        } else if a == "nodelay" {
            l.nodelay = true;
        }
    }
    (!l.zone.is_empty()).then_some(l)
}

fn limit_zone(d: &Directive) -> LimitZone {
    let mut z = LimitZone {
        name: String::new(),
        key: d.arg(0).unwrap_or_default().to_string(),
        size: None,
        rate: None,
        rate_per_sec: None,
        origin: d.origin.clone(),
    };
    for a in d.args.iter().skip(1) {
        if let Some(v) = a.strip_prefix("zone=") {
            let (name, size) = v.split_once(':').unwrap_or((v, ""));
            z.name = name.to_string();
            z.size = (!size.is_empty()).then(|| size.to_string());
        } else if let Some(v) = a.strip_prefix("rate=") {
            z.rate = Some(v.to_string());
            z.rate_per_sec = parse_rate(v);
        }
    }
    z
}

/// `10r/s` → 10, `30r/m` → 0.5.
pub fn parse_rate(s: &str) -> Option<f64> {
    let (n, unit) = s.split_once("r/")?;
    let n: f64 = n.parse().ok()?;
    match unit {
        "s" => Some(n),
        "m" => Some(n / 60.0),
        _ => None,
    }
}

fn upstream(d: &Directive) -> Upstream {
    let mut up = Upstream {
        name: d.arg(0).unwrap_or_default().to_string(),
        origin: d.origin.clone(),
        servers: Vec::new(),
        keepalive: None,
    };
    for c in d.children() {
        match c.name.as_str() {
            "server" => {
                let Some(raw) = c.arg(0) else { continue };
                let mut s = UpstreamServer {
                    raw: raw.to_string(),
                    address: parse_address(raw, 80),
                    weight: None,
                    max_fails: None,
                    fail_timeout: None,
                    backup: false,
                    down: false,
                    origin: c.origin.clone(),
                };
                for p in &c.args[1..] {
                    if let Some(v) = p.strip_prefix("weight=") {
                        s.weight = v.parse().ok();
                    } else if let Some(v) = p.strip_prefix("max_fails=") {
                        s.max_fails = v.parse().ok();
                    } else if let Some(v) = p.strip_prefix("fail_timeout=") {
                        s.fail_timeout = parse_time(v).map(|ms| Millis(ms as f64));
                    } else if p == "backup" {
                        s.backup = true;
                    } else if p == "down" {
                        s.down = true;
                    }
                }
                up.servers.push(s);
            }
            "keepalive" => {
                up.keepalive = c
                    .arg(0)
                    .and_then(|v| v.parse().ok())
                    .map(|v| Setting::new(v, c.origin.clone()));
            }
            _ => {}
        }
    }
    up
}

fn listen(d: &Directive) -> Option<Listen> {
    let raw = d.arg(0)?;
    let address = if raw.bytes().all(|c| c.is_ascii_digit()) {
        raw.parse().map_or_else(
            |_| Address::Unresolved {
                raw: raw.to_string(),
            },
            |port| Address::Tcp {
                host: Host::parse("*"),
                port,
            },
        )
    } else {
        parse_address(raw, 80)
    };
    let flags = &d.args[1..];
    Some(Listen {
        raw: raw.to_string(),
        address,
        ssl: flags.iter().any(|f| f == "ssl"),
        default_server: flags
            .iter()
            .any(|f| f == "default_server" || f == "default"),
        udp: flags.iter().any(|f| f == "udp"),
        origin: d.origin.clone(),
    })
}

/// `host:port`, `host`, `[v6]:port`, `unix:/path`; `default_port` when no port.
pub fn parse_address(raw: &str, default_port: u16) -> Address {
    if let Some(path) = raw.strip_prefix("unix:") {
        return Address::Unix { path: path.into() };
    }
    if raw.contains('$') {
        return Address::Unresolved {
            raw: raw.to_string(),
        };
    }
    let unresolved = || Address::Unresolved {
        raw: raw.to_string(),
    };
    if let Some(rest) = raw.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return unresolved();
        };
        let port = match after.strip_prefix(':') {
            Some(p) => match p.parse() {
                Ok(p) => p,
                Err(_) => return unresolved(),
            },
            None if after.is_empty() => default_port,
            None => return unresolved(),
        };
        return Address::Tcp {
            host: Host::parse(host),
            port,
        };
    }
    match raw.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) if !host.is_empty() => Address::Tcp {
                host: Host::parse(host),
                port,
            },
            _ => unresolved(),
        },
        Some(_) => unresolved(),
        None if raw.is_empty() => unresolved(),
        None => Address::Tcp {
            host: Host::parse(raw),
            port: default_port,
        },
    }
}

/// Parse a pass directive. `upstreams` are the names known so far; names
/// declared later are matched by [`promote_upstream`].
fn parse_pass(d: &Directive, upstreams: &[String]) -> Option<Pass> {
    let raw = d.arg(0)?.to_string();
    let module = Module::of_pass(&d.name)?;
    let lower = raw.to_ascii_lowercase();
    let (protocol, rest) = match module {
        Module::Proxy => {
            if let Some(r) = strip_prefix_ci(&raw, &lower, "https://") {
                (Protocol::Https, r)
            } else if let Some(r) = strip_prefix_ci(&raw, &lower, "http://") {
                (Protocol::Http, r)
            } else {
                (Protocol::Http, raw.as_str())
            }
        }
        Module::Fastcgi => (Protocol::Fastcgi, raw.as_str()),
        Module::Uwsgi => {
            if let Some(r) = strip_prefix_ci(&raw, &lower, "suwsgi://") {
                (Protocol::Uwsgis, r)
            } else {
                (
                    Protocol::Uwsgi,
                    strip_prefix_ci(&raw, &lower, "uwsgi://").unwrap_or(&raw),
                )
            }
        }
        Module::Grpc => {
            if let Some(r) = strip_prefix_ci(&raw, &lower, "grpcs://") {
                (Protocol::Grpcs, r)
            } else {
                (
                    Protocol::Grpc,
                    strip_prefix_ci(&raw, &lower, "grpc://").unwrap_or(&raw),
                )
            }
        }
    };
    let default_port = if protocol.is_tls() { 443 } else { 80 };
    let (target, uri) = if let Some(after) = rest.strip_prefix("unix:") {
        // `unix:/run/app.sock:/uri`: the socket path ends at the first `:`.
        let (path, uri) = match after.split_once(':') {
            Some((p, u)) => (p, (!u.is_empty()).then(|| u.to_string())),
            None => (after, None),
        };
        (PassTarget::Unix { path: path.into() }, uri)
    } else {
        let (authority, uri) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(rest[i..].to_string())),
            None => (rest, None),
        };
        let target = if let Some(dollar) = authority.find('$') {
            // `http://127.0.0.1:3000$request_uri`: the variables start the
            // URI after an explicit port; otherwise the host holds them.
            match authority[..dollar].rsplit_once(':') {
                Some((host, port))
                    if !host.is_empty()
                        && !port.is_empty()
                        && port.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    match parse_address(&authority[..dollar], default_port) {
                        Address::Tcp { host, port } => PassTarget::Tcp { host, port },
                        _ => PassTarget::Variables { raw: raw.clone() },
                    }
                }
                _ => PassTarget::Variables { raw: raw.clone() },
            }
        } else if upstreams.iter().any(|u| u.eq_ignore_ascii_case(authority)) {
            PassTarget::Upstream {
                name: authority.to_string(),
            }
        } else {
            match parse_address(authority, default_port) {
                Address::Tcp { host, port } => PassTarget::Tcp { host, port },
                Address::Unix { path } => PassTarget::Unix { path },
                Address::Unresolved { .. } => PassTarget::Variables { raw: raw.clone() },
            }
        };
        (target, uri)
    };
    Some(Pass {
        directive: d.name.clone(),
        protocol,
        raw,
        target,
        uri,
        origin: d.origin.clone(),
    })
}

/// A stream `proxy_pass`: `host:port`, `unix:/path`, the name of an
/// upstream (a name without a port is always one: nginx requires the port
/// of an address), or variables. The protocol is set per listen later.
fn stream_pass(d: &Directive, upstreams: &[String]) -> Option<Pass> {
    let raw = d.arg(0)?.to_string();
    let target = if raw.contains('$') {
        PassTarget::Variables { raw: raw.clone() }
    } else if upstreams.iter().any(|u| u.eq_ignore_ascii_case(&raw)) {
        PassTarget::Upstream { name: raw.clone() }
    } else {
        match parse_address(&raw, 0) {
            Address::Tcp { port: 0, .. } => PassTarget::Upstream { name: raw.clone() },
            Address::Tcp { host, port } => PassTarget::Tcp { host, port },
            Address::Unix { path } => PassTarget::Unix { path },
            Address::Unresolved { .. } => PassTarget::Variables { raw: raw.clone() },
        }
    };
    Some(Pass {
        directive: d.name.clone(),
        protocol: Protocol::Tcp,
        raw,
        target,
        uri: None,
        origin: d.origin.clone(),
    })
}

/// A pass written as a host without a port (`http://backend`) names the
/// `upstream` of that name when there is one.
fn promote_upstream(pass: &mut Pass, upstreams: &[String]) {
    if matches!(pass.target, PassTarget::Upstream { .. }) {
        return;
    }
    let explicit_port = {
        let rest = pass
            .raw
            .split_once("://")
            .map_or(pass.raw.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        authority.contains(':')
    };
    if let PassTarget::Tcp { host, .. } = &pass.target
        && !explicit_port
        && let Some(name) = upstreams
            .iter()
            .find(|u| u.eq_ignore_ascii_case(&host.to_string()))
    {
        pass.target = PassTarget::Upstream { name: name.clone() };
    }
}

fn strip_prefix_ci<'a>(raw: &'a str, lower: &str, prefix: &str) -> Option<&'a str> {
    lower.starts_with(prefix).then(|| &raw[prefix.len()..])
}

/// `return CODE [TEXT]`, `return CODE URL`, `return URL` (302).
fn parse_return(d: &Directive, condition: Option<&str>) -> Option<Return> {
    let first = d.arg(0)?;
    let (status, text) = match first.parse::<u16>() {
        Ok(code) => (code, d.arg(1).map(str::to_string)),
        Err(_) => (302, Some(first.to_string())),
    };
    Some(Return {
        status,
        text,
        condition: condition.map(str::to_string),
        origin: d.origin.clone(),
    })
}

/// The `return`s inside an `if` and, when its condition tests a file
/// (`-f`, `-e`, `!-f`, `!-e`), the maintenance switch it forms.
fn if_block(d: &Directive) -> (Vec<Return>, Vec<MaintenanceFlag>) {
    let joined = d.args.join(" ");
    let condition = joined
        .trim()
        .strip_prefix('(')
        .and_then(|c| c.strip_suffix(')'))
        .unwrap_or(&joined)
        .trim()
        .to_string();
    let returns: Vec<Return> = d
        .children()
        .iter()
        .filter(|c| c.name == "return")
        .filter_map(|c| parse_return(c, Some(&condition)))
        .collect();
    let mut flags = Vec::new();
    let mut words = condition.split_whitespace();
    let (op, file) = (words.next(), words.next());
    if let (Some(op), Some(file), None) = (op, file, words.next()) {
        let when_absent = match op {
            "-f" | "-e" => Some(false),
            "!-f" | "!-e" => Some(true),
            _ => None,
        };
        if let Some(when_absent) = when_absent {
            for r in &returns {
                flags.push(MaintenanceFlag {
                    flag: file.to_string(),
                    status: r.status,
                    when_absent,
                    origin: d.origin.clone(),
                });
            }
        }
    }
    (returns, flags)
}

/// nginx time syntax in milliseconds: `90` (seconds), `90s`, `1m30s`,
/// `500ms`, `1h`, `2d`, `1w`, `1M` (30 days), `1y` (365 days); parts in
/// any order, optionally separated by spaces. `None` when invalid.
pub fn parse_time(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut total: u64 = 0;
    let mut any = false;
    while pos < bytes.len() {
        if bytes[pos] == b' ' {
            pos += 1;
            continue;
        }
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if start == pos {
            return None;
        }
        let count: u64 = text[start..pos].parse().ok()?;
        let unit_ms: u64 = if text[pos..].starts_with("ms") {
            pos += 2;
            1
        } else {
            let unit = bytes.get(pos).copied();
            let unit_ms = match unit {
                None | Some(b' ' | b's') => 1000,
                Some(b'm') => 60_000,
                Some(b'h') => 3_600_000,
                Some(b'd') => 86_400_000,
                Some(b'w') => 7 * 86_400_000,
                Some(b'M') => 30 * 86_400_000,
                Some(b'y') => 365 * 86_400_000,
                Some(_) => return None,
            };
            if matches!(unit, Some(c) if c != b' ') {
                pos += 1;
            }
            unit_ms
        };
        total = total.checked_add(count.checked_mul(unit_ms)?)?;
        any = true;
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        tokenize(src)
            .0
            .into_iter()
            .map(|t| match t {
                Token::Word { text, .. } => text,
                Token::Semicolon { .. } => ";".into(),
                Token::Open { .. } => "{".into(),
                Token::Close { .. } => "}".into(),
            })
            .collect()
    }

    #[test]
    fn tokenizer_quotes_comments_escapes() {
        assert_eq!(
            words(r#"a "b c" 'd;e' f#g # comment ; {"#),
            ["a", "b c", "d;e", "f#g"]
        );
        assert_eq!(words(r"return 200 a\;b;"), ["return", "200", r"a\;b", ";"]);
        assert_eq!(words(r#"x "q\"u\\o\te";"#), ["x", "q\"u\\o\te", ";"]);
        assert_eq!(words(r#"x "\d";"#), ["x", r"\d", ";"]);
        assert_eq!(words("set $a ${b}c;"), ["set", "$a", "${b}c", ";"]);
        assert_eq!(words("a}b;"), ["a}b", ";"]);
        assert_eq!(words("if ($x) {}"), ["if", "($x)", "{", "}"]);
    }

    #[test]
    fn tokenizer_lines_and_unterminated_quote() {
        let (toks, warns) = tokenize("a;\n\n  b \"x\ny\n");
        assert_eq!(
            toks[2],
            Token::Word {
                text: "b".into(),
                line: 3,
                quoted: false
            }
        );
        assert_eq!(warns, vec![(3, "unterminated quoted string".to_string())]);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("90"), Some(90_000));
        assert_eq!(parse_time("90s"), Some(90_000));
        assert_eq!(parse_time("1m30s"), Some(90_000));
        assert_eq!(parse_time("500ms"), Some(500));
        assert_eq!(parse_time("1h"), Some(3_600_000));
        assert_eq!(parse_time("1h 30m"), Some(5_400_000));
        assert_eq!(parse_time("1d"), Some(86_400_000));
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("abc"), None);
        assert_eq!(parse_time("5x"), None);
        assert_eq!(parse_time("ms"), None);
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("127.0.0.1:3000", 80),
            Address::Tcp {
                host: "127.0.0.1".into(),
                port: 3000
            }
        );
        assert_eq!(
            parse_address("app", 80),
            Address::Tcp {
                host: "app".into(),
                port: 80
            }
        );
        assert_eq!(
            parse_address("[::1]:8080", 80),
            Address::Tcp {
                host: "::1".into(),
                port: 8080
            }
        );
        assert_eq!(
            parse_address("unix:/run/a.sock", 80),
            Address::Unix {
                path: "/run/a.sock".into()
            }
        );
        assert!(matches!(
            parse_address("host:notaport", 80),
            Address::Unresolved { .. }
        ));
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10r/s"), Some(10.0));
        assert_eq!(parse_rate("30r/m"), Some(0.5));
        assert_eq!(parse_rate("x"), None);
    }

    #[test]
    fn parse_keeps_lines_and_blocks() {
        let (d, w) = parse(
            "http {\n  server {\n    listen 80;\n  }\n}\n",
            Path::new("/n.conf"),
        );
        assert!(w.is_empty(), "{w:?}");
        let server = &d[0].children()[0];
        assert_eq!(server.origin.line, 2);
        assert_eq!(server.children()[0].origin, Origin::new("/n.conf", 3));
    }
}
