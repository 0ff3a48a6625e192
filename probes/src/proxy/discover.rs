//! Finding the running proxies in `/proc`: nginx masters by the title nginx
//! gives them (`nginx: master process /usr/sbin/nginx -c ... -p ...`), and
//! haproxy masters (a `haproxy` process whose parent is not one) by their
//! `-f` arguments, and Apache httpd masters (an `apache2` or `httpd`
//! process whose parent is not one) by their `-f`, `-d` and `-D`. The
//! command-line parsers are pure; [`discover_masters`] does the I/O.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::ProxyKind;
use crate::units::UnixTime;
use crate::{procfs, redact};

/// nginx configuration paths tried, in order, when no master runs: Debian
/// and most distributions, the source install, FreeBSD and Homebrew.
pub const NGINX_STANDARD_CONFIGS: &[&str] = &[
    "/etc/nginx/nginx.conf",
    "/usr/local/nginx/conf/nginx.conf",
    "/usr/local/etc/nginx/nginx.conf",
];

/// haproxy configuration paths tried when no haproxy runs.
pub const HAPROXY_STANDARD_CONFIGS: &[&str] = &[
    "/etc/haproxy/haproxy.cfg",
    "/usr/local/etc/haproxy/haproxy.cfg",
];

/// Apache configuration paths tried when no Apache runs: Debian's, then
/// Red Hat's.
pub const APACHE_STANDARD_CONFIGS: &[&str] =
    &["/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"];

/// The prefix of Debian's (and most distributions') nginx build, used when
/// the master has no `-p` and `nginx -V` cannot be asked.
pub const DEBIAN_NGINX_PREFIX: &str = "/usr/share/nginx";

/// The main configuration of Debian's nginx build.
pub const DEBIAN_NGINX_CONF: &str = "/etc/nginx/nginx.conf";

/// How long `nginx -V` may take before it is killed.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(1);

/// At most this many characters of a master's command line are kept.
pub const CMDLINE_MAX_CHARS: usize = 256;

/// A running proxy master process and the configuration it was started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Master {
    pub kind: ProxyKind,
    pub pid: u32,
    /// When it started, seconds since the epoch.
    pub started_at: UnixTime,
    /// When it started, milliseconds since the epoch (to about 10 ms).
    pub started_at_ms: i64,
    /// The command line, at most 256 characters, secrets redacted.
    pub cmdline: String,
    /// The executable (`/proc/PID/exe`), when readable.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub binary: Option<PathBuf>,
    /// nginx: the prefix (`-p`, else the compiled one). haproxy: the
    /// directory given with `-C`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prefix: Option<PathBuf>,
    /// The configuration file(s), absolute: nginx's `-c` (or the compiled
    /// default), haproxy's `-f` files and directories in order.
    pub configs: Vec<PathBuf>,
    /// nginx's `-e` error log (or the compiled default), unless `stderr`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_log: Option<PathBuf>,
    /// Apache's `-D NAME` defines.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub defines: Vec<String>,
}

/// What an nginx master's command line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NginxArgs {
    /// The executable as invoked.
    pub binary: Option<String>,
    pub conf: Option<String>,
    pub prefix: Option<String>,
    pub error_log: Option<String>,
}

/// Parse an nginx master's command line. nginx rewrites its arguments into
/// one title, `nginx: master process <argv joined by spaces>`, so paths
/// holding spaces cannot be told apart; an unrewritten command line (a
/// single-process nginx) is also accepted. Workers and cache processes are
/// not masters: `None`.
pub fn parse_nginx_cmdline(args: &[String]) -> Option<NginxArgs> {
    let first = args.first()?;
    let words: Vec<String> = if let Some(rest) = first.strip_prefix("nginx: master process ") {
        let joined = std::iter::once(rest)
            .chain(args[1..].iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        joined.split_whitespace().map(str::to_string).collect()
    } else if !first.starts_with("nginx:") && base_name(first) == "nginx" {
        args.to_vec()
    } else {
        return None;
    };
    let mut out = NginxArgs {
        binary: words.first().cloned(),
        ..NginxArgs::default()
    };
    let mut it = words.iter().skip(1);
    while let Some(w) = it.next() {
        let slot = match w.get(..2) {
            Some("-c") => &mut out.conf,
            Some("-p") => &mut out.prefix,
            Some("-e") => &mut out.error_log,
            Some("-g") => {
                if w.len() == 2 {
                    it.next();
                }
                continue;
            }
            _ => continue,
        };
        let value = if w.len() > 2 {
            Some(w[2..].to_string())
        } else {
            it.next().cloned()
        };
        *slot = value;
    }
    Some(out)
}

/// What a haproxy command line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HaproxyArgs {
    /// `-f` files or directories, in order (and files after `--`).
    pub configs: Vec<String>,
    /// `-C`: the directory haproxy changes to before loading files.
    pub chdir: Option<String>,
}

/// Parse a haproxy command line; `None` when it is not haproxy's.
pub fn parse_haproxy_cmdline(args: &[String]) -> Option<HaproxyArgs> {
    if base_name(args.first()?) != "haproxy" {
        return None;
    }
    let mut out = HaproxyArgs::default();
    let mut it = args.iter().skip(1);
    let mut files_only = false;
    while let Some(w) = it.next() {
        if files_only {
            out.configs.push(w.clone());
            continue;
        }
        match w.as_str() {
            "--" => files_only = true,
            "-f" => out.configs.extend(it.next().cloned()),
            "-C" => out.chdir = it.next().cloned(),
            // Options taking a value that could look like a file.
            "-p" | "-L" | "-S" | "-sf" | "-st" | "-x" | "-m" | "-n" | "-N" => {
                it.next();
            }
            _ => {}
        }
    }
    Some(out)
}

/// The settings `nginx -V` prints (`configure arguments: --prefix=...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NginxCompiled {
    pub prefix: Option<PathBuf>,
    pub conf_path: Option<PathBuf>,
    pub error_log_path: Option<String>,
}

/// Parse the output of `nginx -V`.
pub fn parse_nginx_v(text: &str) -> NginxCompiled {
    let mut out = NginxCompiled::default();
    for word in text.split_whitespace() {
        if let Some(v) = word.strip_prefix("--prefix=") {
            out.prefix = Some(PathBuf::from(v));
        } else if let Some(v) = word.strip_prefix("--conf-path=") {
            out.conf_path = Some(PathBuf::from(v));
        } else if let Some(v) = word.strip_prefix("--error-log-path=") {
            out.error_log_path = Some(v.to_string());
        }
    }
    out
}

/// The prefix nginx uses with configuration `conf` when no `-p` is known:
/// the source-install layout (`PREFIX/conf/nginx.conf`) gives `PREFIX`,
/// anything else the distribution default.
pub fn default_nginx_prefix(conf: &Path) -> PathBuf {
    let dir = conf.parent();
    if let Some(dir) = dir.filter(|d| d.file_name().is_some_and(|n| n == "conf"))
        && let Some(prefix) = dir.parent()
    {
        return prefix.to_path_buf();
    }
    if conf.starts_with("/usr/local/etc/nginx") {
        return PathBuf::from("/usr/local/etc/nginx");
    }
    PathBuf::from(DEBIAN_NGINX_PREFIX)
}

/// The running nginx, haproxy and Apache masters, oldest first. Processes that
/// vanish or cannot be read are skipped; this process is never one.
pub fn discover_masters() -> Vec<Master> {
    let Ok((pids, _)) = procfs::list_pids() else {
        return Vec::new();
    };
    let clock = StartClock::read();
    let me = std::process::id();
    let mut masters = Vec::new();
    let mut haproxies: Vec<(procfs::Stat, Vec<String>, HaproxyArgs)> = Vec::new();
    let mut apaches: Vec<(procfs::Stat, Vec<String>, ApacheArgs)> = Vec::new();
    for pid in pids {
        if pid == me {
            continue;
        }
        let Ok(args) = procfs::read_cmdline(pid) else {
            continue;
        };
        if let Some(nginx) = parse_nginx_cmdline(&args) {
            let Ok(stat) = procfs::read_stat(pid) else {
                continue;
            };
            masters.push(nginx_master(&stat, &args, &nginx, &clock));
        } else if let Some(h) = parse_haproxy_cmdline(&args) {
            let Ok(stat) = procfs::read_stat(pid) else {
                continue;
            };
            haproxies.push((stat, args, h));
        } else if let Some(a) = parse_apache_cmdline(&args) {
            let Ok(stat) = procfs::read_stat(pid) else {
                continue;
            };
            apaches.push((stat, args, a));
        }
    }
    // Apache's children (prefork or event workers) share the master's
    // command line; the master is the one whose parent is not an Apache.
    let apache_pids: Vec<u32> = apaches.iter().map(|(s, _, _)| s.pid).collect();
    for (stat, args, a) in &apaches {
        if !apache_pids.contains(&stat.ppid) {
            masters.push(apache_master(stat, args, a, &clock));
        }
    }
    // HAProxy's master-worker mode: workers share the master's command line.
    let haproxy_pids: Vec<u32> = haproxies.iter().map(|(s, _, _)| s.pid).collect();
    for (stat, args, h) in &haproxies {
        if haproxy_pids.contains(&stat.ppid) {
            continue;
        }
        masters.push(haproxy_master(stat, args, h, &clock));
    }
    masters.sort_by_key(|m| (m.started_at_ms, m.pid));
    masters
}

fn nginx_master(stat: &procfs::Stat, args: &[String], a: &NginxArgs, clock: &StartClock) -> Master {
    let binary = std::fs::read_link(format!("/proc/{}/exe", stat.pid))
        .ok()
        .or_else(|| {
            a.binary
                .as_ref()
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        });
    // Ask the binary only when the command line leaves something to its defaults.
    let compiled = if a.prefix.is_none() || a.conf.is_none() || a.error_log.is_none() {
        binary
            .as_deref()
            .and_then(nginx_compiled)
            .unwrap_or_default()
    } else {
        NginxCompiled::default()
    };
    let prefix = a
        .prefix
        .as_ref()
        .map(PathBuf::from)
        .or(compiled.prefix)
        .unwrap_or_else(|| PathBuf::from(DEBIAN_NGINX_PREFIX));
    let conf = a
        .conf
        .as_ref()
        .map(PathBuf::from)
        .or(compiled.conf_path)
        .unwrap_or_else(|| PathBuf::from(DEBIAN_NGINX_CONF));
    let error_log = a
        .error_log
        .clone()
        .or(compiled.error_log_path)
        .filter(|e| e != "stderr")
        .map(|e| prefix.join(e));
    let (started_at, started_at_ms) = clock.start(stat.starttime_ticks);
    Master {
        kind: ProxyKind::Nginx,
        pid: stat.pid,
        started_at,
        started_at_ms,
        cmdline: display_cmdline(args),
        binary,
        configs: vec![prefix.join(conf)],
        prefix: Some(prefix),
        error_log,
        defines: Vec::new(),
    }
}

fn haproxy_master(
    stat: &procfs::Stat,
    args: &[String],
    h: &HaproxyArgs,
    clock: &StartClock,
) -> Master {
    let base = h
        .chdir
        .as_ref()
        .map(PathBuf::from)
        .or_else(|| std::fs::read_link(format!("/proc/{}/cwd", stat.pid)).ok())
        .unwrap_or_else(|| PathBuf::from("/"));
    let (started_at, started_at_ms) = clock.start(stat.starttime_ticks);
    Master {
        kind: ProxyKind::Haproxy,
        pid: stat.pid,
        started_at,
        started_at_ms,
        cmdline: display_cmdline(args),
        binary: std::fs::read_link(format!("/proc/{}/exe", stat.pid)).ok(),
        prefix: h.chdir.as_ref().map(PathBuf::from),
        configs: h.configs.iter().map(|c| base.join(c)).collect(),
        error_log: None,
        defines: Vec::new(),
    }
}

/// What an Apache httpd command line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApacheArgs {
    /// `apache2` or `httpd` (the executable's base name).
    pub binary: String,
    /// `-f`: the main configuration, relative to the server root.
    pub config: Option<String>,
    /// `-d`: the server root.
    pub server_root: Option<String>,
    /// `-D NAME`, in order.
    pub defines: Vec<String>,
}

/// Parse an Apache httpd command line (`/usr/sbin/apache2 -k start -D
/// FOREGROUND`, `httpd -f conf/x.conf -d /srv/www`); `None` when it is not
/// `apache2` or `httpd`.
pub fn parse_apache_cmdline(args: &[String]) -> Option<ApacheArgs> {
    let binary = base_name(args.first()?);
    if binary != "apache2" && binary != "httpd" {
        return None;
    }
    let mut out = ApacheArgs {
        binary: binary.to_string(),
        ..ApacheArgs::default()
    };
    let mut it = args.iter().skip(1);
    while let Some(w) = it.next() {
        let (flag, attached) = match w.get(..2) {
            Some(f @ ("-f" | "-d" | "-D" | "-C" | "-c" | "-k" | "-e" | "-E")) => {
                (f, (w.len() > 2).then(|| w[2..].to_string()))
            }
            _ => continue,
        };
        let value = attached.or_else(|| it.next().cloned());
        match flag {
            "-f" => out.config = value,
            "-d" => out.server_root = value,
            "-D" => out.defines.extend(value),
            _ => {}
        }
    }
    Some(out)
}

/// Debian's build: `HTTPD_ROOT` `/etc/apache2`, `SERVER_CONFIG_FILE`
/// `apache2.conf` (`apache2 -V`).
pub const DEBIAN_APACHE_ROOT: &str = "/etc/apache2";

/// Red Hat's `httpd`: `HTTPD_ROOT` `/etc/httpd`, `conf/httpd.conf`.
pub const REDHAT_HTTPD_ROOT: &str = "/etc/httpd";

fn apache_master(
    stat: &procfs::Stat,
    args: &[String],
    a: &ApacheArgs,
    clock: &StartClock,
) -> Master {
    let (root, default_conf) = if a.binary == "apache2" {
        (DEBIAN_APACHE_ROOT, "apache2.conf")
    } else {
        (REDHAT_HTTPD_ROOT, "conf/httpd.conf")
    };
    let root = a
        .server_root
        .as_ref()
        .map_or_else(|| PathBuf::from(root), PathBuf::from);
    // A relative -f is relative to the server root; so is a relative -d to
    // the master's working directory.
    let root = if root.is_absolute() {
        root
    } else {
        std::fs::read_link(format!("/proc/{}/cwd", stat.pid))
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(root)
    };
    let config = root.join(a.config.as_deref().unwrap_or(default_conf));
    let (started_at, started_at_ms) = clock.start(stat.starttime_ticks);
    Master {
        kind: ProxyKind::Apache,
        pid: stat.pid,
        started_at,
        started_at_ms,
        cmdline: display_cmdline(args),
        binary: std::fs::read_link(format!("/proc/{}/exe", stat.pid)).ok(),
        prefix: a.server_root.as_ref().map(|_| root.clone()),
        configs: vec![config],
        error_log: None,
        defines: a.defines.clone(),
    }
}

/// What the Apache reader starts from for `main`: the master's `-d` (else
/// the directory holding `conf/`, else the file's own directory) and `-D`,
/// and the variables of Debian's `envvars` beside `main`.
pub fn apache_start(main: &Path, master: Option<&Master>) -> super::apache::StartWith {
    let dir = main.parent().unwrap_or(Path::new("/"));
    let server_root =
        master
            .and_then(|m| m.prefix.clone())
            .unwrap_or_else(|| match dir.file_name() {
                Some(n) if n == "conf" => dir.parent().unwrap_or(dir).to_path_buf(),
                _ => dir.to_path_buf(),
            });
    let env = super::files::read_bounded(&dir.join("envvars"), 64 * 1024)
        .map(|t| super::apache::parse_envvars(&t))
        .unwrap_or_default();
    super::apache::StartWith {
        server_root: Some(server_root),
        defines: master.map(|m| m.defines.clone()).unwrap_or_default(),
        env,
    }
}

/// Run `nginx -V` (bounded by [`VERSION_TIMEOUT`]) and parse its output.
fn nginx_compiled(binary: &Path) -> Option<NginxCompiled> {
    let mut child = Command::new(binary)
        .arg("-V")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let until = Instant::now() + VERSION_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let out = child.wait_with_output().ok()?;
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Some(parse_nginx_v(&text))
}

fn base_name(argv0: &str) -> &str {
    argv0.rsplit('/').next().unwrap_or(argv0)
}

fn display_cmdline(args: &[String]) -> String {
    let redacted = redact::text(&args.join(" "));
    match redacted.char_indices().nth(CMDLINE_MAX_CHARS) {
        Some((cut, _)) => redacted[..cut].to_string(),
        None => redacted,
    }
}

/// Turns a process's start time in clock ticks since boot into wall time.
struct StartClock {
    now_ms: i64,
    /// Seconds since boot, when `/proc/uptime` could be read.
    uptime: Option<f64>,
    btime: i64,
    ticks: u64,
}

impl StartClock {
    fn read() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            now_ms: i64::try_from(now.as_millis()).unwrap_or(i64::MAX),
            uptime: procfs::read_uptime().ok(),
            btime: procfs::read_btime()
                .ok()
                .and_then(|b| i64::try_from(b).ok())
                .unwrap_or(0),
            ticks: procfs::clock_ticks_per_second(),
        }
    }

    /// Seconds and milliseconds since the epoch. `/proc/uptime` and the
    /// clock give it to the hundredth of a second; `btime` only to the second.
    fn start(&self, starttime_ticks: u64) -> (UnixTime, i64) {
        let since_boot = starttime_ticks as f64 / self.ticks as f64;
        let ms = match self.uptime {
            Some(up) => self.now_ms - ((up - since_boot) * 1000.0) as i64,
            None => self.btime * 1000 + (since_boot * 1000.0) as i64,
        };
        (UnixTime(ms.div_euclid(1000)), ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn nginx_master_title() {
        let a = parse_nginx_cmdline(&v(&[
            "nginx: master process /usr/sbin/nginx -c /x/nginx.conf -p /prefix/ -e logs/e.log -g daemon off;",
        ]))
        .unwrap();
        assert_eq!(a.binary.as_deref(), Some("/usr/sbin/nginx"));
        assert_eq!(a.conf.as_deref(), Some("/x/nginx.conf"));
        assert_eq!(a.prefix.as_deref(), Some("/prefix/"));
        assert_eq!(a.error_log.as_deref(), Some("logs/e.log"));
    }

    #[test]
    fn nginx_master_attached_values_and_defaults() {
        let a = parse_nginx_cmdline(&v(&["nginx: master process nginx -cconf/n.conf"])).unwrap();
        assert_eq!(a.conf.as_deref(), Some("conf/n.conf"));
        assert_eq!(a.prefix, None);
        let debian = parse_nginx_cmdline(&v(&[
            "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;",
        ]))
        .unwrap();
        assert_eq!(debian.conf, None);
        assert_eq!(debian.prefix, None);
    }

    #[test]
    fn nginx_workers_are_not_masters() {
        assert_eq!(parse_nginx_cmdline(&v(&["nginx: worker process"])), None);
        assert_eq!(
            parse_nginx_cmdline(&v(&["nginx: cache manager process"])),
            None
        );
        assert_eq!(
            parse_nginx_cmdline(&v(&["/usr/bin/python3", "nginx"])),
            None
        );
        // A single-process nginx keeps its argv.
        let single = parse_nginx_cmdline(&v(&["/usr/sbin/nginx", "-c", "/a b/n.conf"])).unwrap();
        assert_eq!(single.conf.as_deref(), Some("/a b/n.conf"));
    }

    #[test]
    fn haproxy_args() {
        let a = parse_haproxy_cmdline(&v(&[
            "/usr/sbin/haproxy",
            "-Ws",
            "-f",
            "/etc/haproxy/haproxy.cfg",
            "-p",
            "/run/haproxy.pid",
            "-f",
            "conf.d",
            "-C",
            "/etc/haproxy",
        ]))
        .unwrap();
        assert_eq!(a.configs, v(&["/etc/haproxy/haproxy.cfg", "conf.d"]));
        assert_eq!(a.chdir.as_deref(), Some("/etc/haproxy"));
        assert_eq!(parse_haproxy_cmdline(&v(&["haproxy-exporter"])), None);
    }

    #[test]
    fn apache_args() {
        let a = parse_apache_cmdline(&v(&[
            "/usr/sbin/apache2",
            "-f",
            "/tmp/x/httpd.conf",
            "-DFOREGROUND",
            "-D",
            "SSL",
            "-d",
            "/srv/root",
            "-k",
            "start",
        ]))
        .unwrap();
        assert_eq!(a.binary, "apache2");
        assert_eq!(a.config.as_deref(), Some("/tmp/x/httpd.conf"));
        assert_eq!(a.server_root.as_deref(), Some("/srv/root"));
        assert_eq!(a.defines, v(&["FOREGROUND", "SSL"]));
        let rh = parse_apache_cmdline(&v(&["/usr/sbin/httpd", "-DFOREGROUND"])).unwrap();
        assert_eq!((rh.binary.as_str(), rh.config), ("httpd", None));
        assert_eq!(
            parse_apache_cmdline(&v(&["/usr/sbin/apache2ctl", "start"])),
            None
        );
    }

    #[test]
    fn apache_start_reads_envvars_and_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("envvars"),
            "export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n",
        )
        .unwrap();
        let s = apache_start(&dir.path().join("apache2.conf"), None);
        assert_eq!(s.server_root.as_deref(), Some(dir.path()));
        assert_eq!(s.env["APACHE_LOG_DIR"], "/var/log/apache2");
        let rh = apache_start(Path::new("/etc/httpd/conf/httpd.conf"), None);
        assert_eq!(rh.server_root, Some(PathBuf::from("/etc/httpd")));
    }

    #[test]
    fn nginx_v_output() {
        let text = "nginx version: nginx/1.22.1\nbuilt with OpenSSL 3.0.11\nconfigure arguments: --with-cc-opt='-g -O2' --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf --error-log-path=stderr --lock-path=/var/lock/nginx.lock\n";
        let c = parse_nginx_v(text);
        assert_eq!(c.prefix, Some(PathBuf::from("/usr/share/nginx")));
        assert_eq!(c.conf_path, Some(PathBuf::from("/etc/nginx/nginx.conf")));
        assert_eq!(c.error_log_path.as_deref(), Some("stderr"));
    }

    #[test]
    fn default_prefixes() {
        assert_eq!(
            default_nginx_prefix(Path::new("/usr/local/nginx/conf/nginx.conf")),
            PathBuf::from("/usr/local/nginx")
        );
        assert_eq!(
            default_nginx_prefix(Path::new("/etc/nginx/nginx.conf")),
            PathBuf::from(DEBIAN_NGINX_PREFIX)
        );
    }
}
