//! The failure lab: a real nginx in front of a real application
//! (`tests/lab/app.py`), one real failure injected per scenario, the real
//! `why5xx` binary run on it, and the first finding's cause asserted.
//!
//! Every scenario first checks its failure independently of why5xx (nginx
//! really answers 502, the traceback really is in the log, the tmpfs really
//! is full), so a failing scenario means a rule problem, not a lab problem.
//! Each scenario owns everything it starts and tears it down on drop:
//! processes by pid, tmpfs mounts, memory cgroups. One line per run goes to
//! `target/lab-results.tsv`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

/// The application every scenario runs behind nginx.
const APP_PY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/app.py");

/// How long a started process gets to listen.
const READY: Duration = Duration::from_secs(5);

/// A process the lab started, in a process group of its own.
pub(crate) struct Proc {
    child: Child,
    /// The port it listens on.
    pub(crate) port: u16,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Kill a whole process group, then reap its leader.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}

/// One scenario: a temporary directory, the processes, mounts and cgroups it
/// made, and the why5xx configuration being built.
pub(crate) struct Lab {
    name: &'static str,
    dir: tempfile::TempDir,
    nginx: Option<support::Nginx>,
    pub(crate) procs: Vec<Proc>,
    other_children: Vec<Child>,
    mounts: Vec<PathBuf>,
    cgroups: Vec<PathBuf>,
    dns: Option<NxDomainServer>,
    /// The unique command-line marker of the application.
    marker: String,
    /// Which of `procs` is the application, once started.
    app: Option<usize>,
    /// Where nginx and why5xx expect the application (`{app}` in nginx bodies).
    pub(crate) app_port: u16,
    /// `[[endpoint]]`, `[[upstream]]`, ... sections, in order.
    sections: String,
    /// `[host] disks`: the lab's directory and its mounts, never the box's.
    disks: Vec<PathBuf>,
    /// `[agent] discover`: off unless a scenario runs with the proxy
    /// discovered rather than configured.
    pub(crate) discover: bool,
}

impl Lab {
    pub(crate) fn new(name: &'static str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("why5xx-lab-{name}-"))
            .tempdir()
            .unwrap();
        let disks = vec![dir.path().to_path_buf()];
        Self {
            name,
            dir,
            nginx: None,
            procs: Vec::new(),
            other_children: Vec::new(),
            mounts: Vec::new(),
            cgroups: Vec::new(),
            dns: None,
            marker: format!("lab-app-{name}-{}", std::process::id()),
            app: None,
            app_port: 0,
            sections: String::new(),
            disks,
            discover: false,
        }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    // --- processes ---

    /// Start `app.py` as the application: marker, listen address and log
    /// are filled in; `args` chooses the mode. Waits until it listens.
    pub(crate) fn app(&mut self, args: &[&str]) -> usize {
        let port = support::free_port();
        self.app_on(port, args)
    }

    /// [`Lab::app`] on a given port.
    fn app_on(&mut self, port: u16, args: &[&str]) -> usize {
        let marker = self.marker.clone();
        let cmd = self.app_command(APP_PY.as_ref(), &marker, port, "app.log", args);
        self.spawn_app(cmd, port, true)
    }

    /// Spawn `cmd` as the application, expected on `port`.
    fn spawn_app(&mut self, cmd: Command, port: u16, wait: bool) -> usize {
        self.app_port = port;
        let i = self.spawn(cmd, port, "app.log", wait);
        self.app = Some(i);
        i
    }

    fn app_proc(&self) -> &Proc {
        &self.procs[self.app.expect("the application was started")]
    }

    /// Start another `app.py` (an external API, a slow dependency) with a
    /// marker of its own and its own log.
    fn extra(&mut self, role: &str, args: &[&str]) -> usize {
        let port = support::free_port();
        let marker = format!("lab-{role}-{}-{}", self.name, std::process::id());
        let log = format!("{role}.log");
        let cmd = self.app_command(APP_PY.as_ref(), &marker, port, &log, args);
        self.spawn(cmd, port, &log, true)
    }

    fn app_command(
        &self,
        script: &Path,
        marker: &str,
        port: u16,
        log: &str,
        args: &[&str],
    ) -> Command {
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--name", marker])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--log")
            .arg(self.path(log))
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(self.path(&format!("{log}.stderr")))
                    .unwrap(),
            ));
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }

    /// Spawn `cmd` in its own process group; when `wait` is set, poll until
    /// `port` accepts connections (panicking with its log if it exits).
    fn spawn(&mut self, mut cmd: Command, port: u16, log: &str, wait: bool) -> usize {
        let child = cmd.spawn().expect("python3 must be installed");
        self.procs.push(Proc {
            child,
            port,
            log: self.path(log),
        });
        let i = self.procs.len() - 1;
        if wait {
            self.wait_listening(i, port);
        }
        i
    }

    fn wait_listening(&mut self, i: usize, port: u16) {
        let until = Instant::now() + READY;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            let p = &mut self.procs[i];
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!(
                    "{} exited ({status}) at start:\n{}\n{}",
                    p.log.display(),
                    p.log_text(),
                    std::fs::read_to_string(p.log.with_extension("log.stderr")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < until,
                "nothing listens on {port} after {READY:?}:\n{}",
                p.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kill process `i` (its group) and reap it.
    pub(crate) fn kill(&mut self, i: usize) {
        kill_group(&mut self.procs[i].child);
    }

    /// Start nginx with `body` in its `http {}` block; `{app}` becomes
    /// `127.0.0.1:` and the application's expected port.
    fn nginx(&mut self, body: &str, files: &[(&str, &str)]) -> &support::Nginx {
        let body = body.replace("{app}", &format!("127.0.0.1:{}", self.app_port));
        self.nginx = Some(support::Nginx::start_with(&body, files));
        self.nginx.as_ref().unwrap()
    }

    fn ngx(&self) -> &support::Nginx {
        self.nginx.as_ref().expect("nginx started")
    }

    /// A plain reverse proxy for the application at `location /`, with
    /// `extra` directives in that location.
    fn proxy_to_app(&mut self, extra: &str) -> &support::Nginx {
        self.nginx(
            &format!(
                "  server {{\n    listen 127.0.0.1:{{port}};\n    location / {{\n      proxy_pass http://{{app}};\n{extra}\n    }}\n  }}\n"
            ),
            &[],
        )
    }

    /// `n` concurrent GETs of `path` through nginx; their statuses, sorted.
    fn drive(&self, path: &str, n: usize) -> Vec<u16> {
        let url = self.ngx().url(path);
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || support::get_status(&url))
            })
            .collect();
        let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        statuses.sort_unstable();
        statuses
    }

    /// Drive `n` requests and assert every one got `status` from nginx.
    fn drive_expect(&self, path: &str, n: usize, status: u16) {
        let got = self.drive(path, n);
        assert!(
            got.iter().all(|s| *s == status),
            "the lab failed to inject its failure: expected {n} x {status} from nginx, got {got:?}\n\
             nginx error.log:\n{}",
            self.ngx().error_log_text()
        );
    }

    /// Assert that the nginx error log contains `needle` (the failure is
    /// visible where an operator would look).
    fn expect_nginx_log(&self, needle: &str) {
        let text = self.ngx().error_log_text();
        assert!(
            text.contains(needle),
            "nginx error.log lacks {needle:?}:\n{text}"
        );
    }

    /// Assert that the application's log contains `needle`.
    fn expect_log(&self, needle: &str) {
        let text = self.app_proc().log_text();
        assert!(text.contains(needle), "app log lacks {needle:?}:\n{text}");
    }

    // --- mounts, cgroups ---

    /// Mount a tmpfs of `size` (`"1m"`) at `dir/rel`, unmounted on drop.
    fn tmpfs(&mut self, rel: &str, size: &str) -> PathBuf {
        let at = self.path(rel);
        std::fs::create_dir_all(&at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "why5xx-lab"])
            .arg(&at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount tmpfs (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.mounts.push(at.clone());
        at
    }

    /// A v1 memory cgroup limited to `bytes`, removed on drop.
    fn memory_cgroup(&mut self, bytes: u64) -> PathBuf {
        let root = Path::new("/sys/fs/cgroup/memory");
        assert!(
            root.join("cgroup.procs").exists(),
            "no cgroup v1 memory controller at {}",
            root.display()
        );
        let cg = root.join(format!("why5xx-lab-{}-{}", self.name, std::process::id()));
        std::fs::create_dir_all(&cg).unwrap();
        self.cgroups.push(cg.clone());
        std::fs::write(cg.join("memory.limit_in_bytes"), bytes.to_string()).unwrap();
        cg
    }

    // --- the why5xx configuration ---

    pub(crate) fn section(&mut self, text: &str) {
        self.sections.push_str(text.trim_end());
        self.sections.push_str("\n\n");
    }

    /// `[[endpoint]] name = "public"` at nginx's `path`.
    fn endpoint(&mut self, path: &str) {
        let url = self.ngx().url(path);
        self.section(&format!(
            "[[endpoint]]\nname = \"public\"\nurl = \"{url}\"\n"
        ));
    }

    /// `[proxy]` naming nginx's config and error log.
    fn proxy_section(&mut self) {
        let (conf, log) = (self.ngx().conf(), self.ngx().error_log());
        self.section(&format!(
            "[proxy]\nkind = \"nginx\"\nconfig = \"{}\"\nerror_log = \"{}\"\n",
            conf.display(),
            log.display()
        ));
    }

    /// `[[upstream]] name = "app"` at `url`, with the marker and log, plus
    /// `extra` lines.
    pub(crate) fn upstream(&mut self, url: &str, extra: &str) {
        let (marker, log) = (self.marker.clone(), self.path("app.log"));
        self.section(&format!(
            "[[upstream]]\nname = \"app\"\nurl = \"{url}\"\nprocess = \"{marker}\"\nlog = \"{}\"\n{extra}\n",
            log.display()
        ));
    }

    /// The usual trio: the public endpoint through nginx, the proxy, and the
    /// application at its own port.
    fn standard(&mut self, upstream_extra: &str) {
        self.endpoint("/health");
        self.proxy_section();
        let port = self.app_port;
        self.upstream(&format!("http://127.0.0.1:{port}/health"), upstream_extra);
    }

    fn config_text(&self) -> String {
        let disks: Vec<String> = self
            .disks
            .iter()
            .map(|d| format!("\"{}\"", d.display()))
            .collect();
        format!(
            "# why5xx failure lab: {}\n[agent]\ndiscover = {}\ndeadline = \"10s\"\n\n\
             [host]\ndisks = [{}]\nload_warn = 1000.0\n\n{}",
            self.name,
            self.discover,
            disks.join(", "),
            self.sections
        )
    }

    // --- the run ---

    /// Run the real binary on this scenario and assert its first finding is
    /// `expected` (`None`: healthy, no finding at warning or above).
    pub(crate) fn diagnose(&self, expected: Option<&str>) -> Value {
        let config = self.path("why5xx.toml");
        std::fs::write(&config, self.config_text()).unwrap();
        let started = Instant::now();
        let out = Command::new(assert_cmd::cargo::cargo_bin("why5xx"))
            .arg("--config")
            .arg(&config)
            .args(["--format", "json"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "why5xx printed no JSON ({e}), exit {:?}:\n{stdout}\nstderr:\n{}\nconfig:\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr),
                self.config_text()
            )
        });
        let findings = report["findings"].as_array().cloned().unwrap_or_default();
        let first = findings.first();
        let first_cause = first.and_then(|f| f["cause"].as_str()).unwrap_or("-");
        let confidence = first
            .and_then(|f| f["confidence"].as_f64())
            .map_or_else(|| "-".to_string(), |c| format!("{c:.2}"));
        record(&format!(
            "{}\t{}\t{first_cause}\t{confidence}\t{}\n",
            self.name,
            expected.unwrap_or("(healthy)"),
            took.as_millis()
        ));
        let ok = match expected {
            Some(cause) => first_cause == cause,
            None => findings
                .iter()
                .all(|f| !matches!(f["severity"].as_str(), Some("warning" | "critical"))),
        };
        assert!(
            ok,
            "scenario {}: expected first finding {}, got {first_cause} (exit {:?}, {} ms)\n{}\nconfig:\n{}\nstderr:\n{}",
            self.name,
            expected.unwrap_or("none at warning or above"),
            out.status.code(),
            took.as_millis(),
            describe(&report),
            self.config_text(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_one_finding_per_cause_and_subject(self.name, &findings);
        // With WHY5XX_LAB_FIXTURES=DIR, keep the run as a rule fixture: the
        // config, the real observations and the causes they gave.
        if let Some(dir) = std::env::var_os("WHY5XX_LAB_FIXTURES") {
            let causes: Vec<&str> = findings
                .iter()
                .filter(|f| matches!(f["severity"].as_str(), Some("warning" | "critical")))
                .filter_map(|f| f["cause"].as_str())
                .collect();
            let fixture = serde_json::json!({
                "scenario": self.name,
                "expect": causes,
                "config": self.config_text(),
                "report": report,
            });
            let path = std::path::Path::new(&dir).join(format!("lab-{}.json", self.name));
            std::fs::write(path, serde_json::to_string_pretty(&fixture).unwrap()).unwrap();
        }
        report
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in &mut self.procs {
            kill_group(&mut p.child);
        }
        for c in &mut self.other_children {
            kill_group(c);
        }
        self.nginx = None;
        self.dns = None;
        for m in self.mounts.iter().rev() {
            let ok = Command::new("umount")
                .arg(m)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(m).status();
            }
        }
        for cg in &self.cgroups {
            // Emptied by the kills above; the kernel may need a moment.
            for _ in 0..50 {
                if std::fs::remove_dir(cg).is_ok() || !cg.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// No report holds the same cause twice for one subject, nor an
/// `unclassified` whose probe a named finding cites.
fn assert_one_finding_per_cause_and_subject(scenario: &str, findings: &[Value]) {
    let mut seen = std::collections::BTreeSet::new();
    for f in findings {
        let key = (f["cause"].to_string(), f["subject"].to_string());
        assert!(
            seen.insert(key.clone()),
            "scenario {scenario}: {key:?} twice"
        );
    }
    for u in findings.iter().filter(|f| f["cause"] == "unclassified") {
        let probe = &u["evidence"][0]["probe"];
        let explained = findings.iter().any(|f| {
            f["cause"] != "unclassified"
                && f["evidence"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| &x["probe"] == probe))
        });
        assert!(
            !explained,
            "scenario {scenario}: unclassified {probe} beside a finding that cites it"
        );
    }
}

/// The findings (cause, severity, confidence, title, evidence) and every
/// probe's status and summary, for a failure message.
fn describe(report: &Value) -> String {
    let mut s = String::from("findings:\n");
    for f in report["findings"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "  {} {} {} — {}",
            f["cause"].as_str().unwrap_or("?"),
            f["severity"].as_str().unwrap_or("?"),
            f["confidence"],
            f["title"].as_str().unwrap_or("")
        );
        for e in f["evidence"].as_array().into_iter().flatten() {
            let _ = writeln!(
                s,
                "      · {}: {}",
                e["probe"].as_str().unwrap_or("?"),
                e["detail"].as_str().unwrap_or("")
            );
        }
    }
    s.push_str("probes:\n");
    for p in report["probes"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "  {:<34} {:<8} {:>5} ms  {}{}",
            p["id"].as_str().unwrap_or("?"),
            p["status"].as_str().unwrap_or("?"),
            p["duration_ms"],
            p["summary"].as_str().unwrap_or(""),
            p["error"]
                .as_str()
                .map(|e| format!(" (error: {e})"))
                .unwrap_or_default()
        );
    }
    s
}

/// Append one line to `target/lab-results.tsv` — scenario, expected cause,
/// first cause, its confidence, wall milliseconds of the why5xx run — with
/// one `write` on a file opened for appending, so concurrent scenarios do
/// not interleave.
fn record(line: &str) {
    let bin = assert_cmd::cargo::cargo_bin("why5xx");
    let target = bin
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf);
    let path = target.join("lab-results.tsv");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Fill the filesystem holding `dir` until it has no byte left, and check
/// that a write now fails with ENOSPC.
fn fill(dir: &Path) {
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    let err = std::fs::write(dir.join("probe-byte"), b"x")
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .append(true)
                .open(dir.join("filler"))?
                .write_all(&chunk)
        })
        .expect_err("the filesystem should be full");
    assert_eq!(err.raw_os_error(), Some(28), "{err}");
}

/// A DNS server on 127.0.0.1 answering every query NXDOMAIN, stopped on drop.
struct NxDomainServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl NxDomainServer {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = nxdomain_reply(&buf[..n]) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Self { port, stop }
    }
}

impl Drop for NxDomainServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The NXDOMAIN answer to `query`: its id and question, no records.
fn nxdomain_reply(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let mut end = 12;
    while *query.get(end)? != 0 {
        end += 1 + usize::from(query[end]);
    }
    end += 5; // the root label, QTYPE, QCLASS
    let mut reply = query.get(..end)?.to_vec();
    reply[2] = 0x80 | (query[2] & 0x01); // QR, RD copied
    reply[3] = 0x80 | 3; // RA, NXDOMAIN
    reply[4..6].copy_from_slice(&[0, 1]);
    reply[6..12].fill(0);
    Some(reply)
}

/// PEM text of DER blocks.
fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

/// The leaf's chain and key as PEM: (certificates, key).
fn leaf_pem(leaf: &support::Leaf) -> (String, String) {
    let chain: String = leaf
        .chain
        .iter()
        .map(|c| pem("CERTIFICATE", c.as_ref()))
        .collect();
    (chain, pem("PRIVATE KEY", leaf.key.secret_der()))
}

/// What `openssl s_client` says about the server at `port` for `name`,
/// verified against `ca` — an opinion on the certificate independent of why5xx.
fn openssl_verify(port: u16, name: &str, ca: &Path) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")]);
    if name.parse::<std::net::IpAddr>().is_ok() {
        cmd.args(["-verify_ip", name]);
    } else {
        cmd.args(["-servername", name, "-verify_hostname", name]);
    }
    let out = cmd
        .arg("-CAfile")
        .arg(ca)
        .stdin(Stdio::null())
        .output()
        .expect("openssl must be installed");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Wait until `cond` holds, polling, for at most `limit`.
pub(crate) fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ============================================================ scenarios ===

#[test]
fn lab_healthy_baseline() {
    let mut lab = Lab::new("healthy_baseline");
    lab.app(&["--mode", "ok"]);
    lab.proxy_to_app("");
    lab.drive_expect("/health", 3, 200);
    lab.standard("");
    lab.diagnose(None);
}

#[test]
fn lab_stopped_upstream() {
    let mut lab = Lab::new("stopped_upstream");
    let app = lab.app(&["--mode", "ok"]);
    lab.proxy_to_app("");
    lab.drive_expect("/health", 1, 200);
    lab.kill(app);
    lab.drive_expect("/health", 3, 502);
    lab.expect_nginx_log("connect() failed (111: Connection refused) while connecting to upstream");
    lab.standard("");
    lab.diagnose(Some("upstream-not-running"));
}

#[test]
fn lab_upstream_bound_to_another_port() {
    let mut lab = Lab::new("upstream_bound_to_another_port");
    let expected = support::free_port();
    // The application came up on the wrong port (a changed PORT setting).
    let app = lab.app(&["--mode", "ok"]);
    let actual = lab.procs[app].port;
    lab.app_port = expected;
    lab.proxy_to_app("");
    lab.drive_expect("/health", 3, 502);
    assert_eq!(
        support::get_status(&format!("http://127.0.0.1:{actual}/health")),
        200,
        "the app is alive on its other port"
    );
    lab.expect_nginx_log("Connection refused");
    lab.standard("");
    lab.diagnose(Some("upstream-not-running"));
}

#[test]
fn lab_proxy_pass_to_wrong_port() {
    let mut lab = Lab::new("proxy_pass_to_wrong_port");
    let app = lab.app(&["--mode", "ok"]);
    let right = lab.procs[app].port;
    lab.proxy_to_app("");
    lab.drive_expect("/health", 1, 200);
    // Someone edits proxy_pass to a wrong port and reloads. The file must be
    // visibly newer than the master's start (why5xx allows 500 ms of slack).
    std::thread::sleep(Duration::from_millis(700));
    let wrong = support::refused_addr().port();
    let conf = lab.ngx().conf();
    let text = std::fs::read_to_string(&conf).unwrap();
    let edited = text.replace(
        &format!("127.0.0.1:{right};"),
        &format!("127.0.0.1:{wrong};"),
    );
    assert_ne!(text, edited);
    std::fs::write(&conf, edited).unwrap();
    let master = lab.ngx().pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &master])
            .status()
            .unwrap()
            .success()
    );
    // Reloaded once the old worker, which still serves the old config, is gone.
    let ngx = lab.ngx();
    wait_until(Duration::from_secs(5), "nginx to reload", || {
        ngx.error_log_text().contains("exited with code")
    });
    lab.drive_expect("/health", 3, 502);
    lab.expect_nginx_log(&format!("upstream: \"http://127.0.0.1:{wrong}/health\""));
    assert_eq!(support::get_status(&lab.procs[app].url("/health")), 200);
    lab.standard("");
    lab.diagnose(Some("proxy-misconfiguration"));
}

#[test]
fn lab_https_upstream_behind_http_proxy_pass() {
    support::init();
    let mut lab = Lab::new("https_upstream_behind_http_proxy_pass");
    let ca = support::TestCa::new();
    let ca_path = ca.write_pem(lab.dir.path());
    let (cert, key) = leaf_pem(&ca.leaf(&["127.0.0.1", "localhost"], 90));
    std::fs::write(lab.path("app-cert.pem"), cert).unwrap();
    std::fs::write(lab.path("app-key.pem"), key).unwrap();
    let (c, k) = (lab.path("app-cert.pem"), lab.path("app-key.pem"));
    lab.app(&[
        "--mode",
        "ok",
        "--tls-cert",
        c.to_str().unwrap(),
        "--tls-key",
        k.to_str().unwrap(),
    ]);
    lab.proxy_to_app("");
    lab.drive_expect("/health", 3, 502);
    let verdict = openssl_verify(lab.app_port, "127.0.0.1", &ca_path);
    assert!(
        verdict.contains("Verify return code: 0 (ok)"),
        "the app speaks TLS:\n{verdict}"
    );
    lab.endpoint("/health");
    lab.proxy_section();
    let port = lab.app_port;
    lab.upstream(
        &format!("https://127.0.0.1:{port}/health"),
        &format!("ca_file = \"{}\"", ca_path.display()),
    );
    lab.diagnose(Some("tls-protocol-mismatch"));
}

#[test]
fn lab_unresolvable_upstream_name() {
    let mut lab = Lab::new("unresolvable_upstream_name");
    let app = lab.app(&["--mode", "ok"]);
    let port = lab.procs[app].port;
    let dns = NxDomainServer::start();
    lab.nginx(
        &format!(
            "  resolver 127.0.0.1:{} ipv6=off valid=1s;\n  resolver_timeout 1s;\n  server {{\n    listen 127.0.0.1:{{port}};\n    location / {{\n      set $backend no-such-host.invalid;\n      proxy_pass http://$backend:{port};\n    }}\n  }}\n",
            dns.port
        ),
        &[],
    );
    lab.dns = Some(dns);
    lab.drive_expect("/health", 3, 502);
    lab.expect_nginx_log("no-such-host.invalid could not be resolved (3: Host not found)");
    lab.standard("");
    lab.diagnose(Some("dns-resolution-failure"));
}

#[test]
fn lab_proxy_timeout_shorter_than_needed() {
    let mut lab = Lab::new("proxy_timeout_shorter_than_needed");
    lab.app(&["--mode", "slow", "--delay", "2.5"]);
    lab.proxy_to_app("      proxy_read_timeout 1s;");
    lab.drive_expect("/report", 3, 504);
    lab.expect_nginx_log(
        "upstream timed out (110: Connection timed out) while reading response header",
    );
    // It legitimately needs 2.5 s: the operator allows 5 s.
    lab.standard("slow = \"5s\"");
    lab.diagnose(Some("proxy-timeout-too-short"));
}

#[test]
fn lab_slow_backend() {
    let mut lab = Lab::new("slow_backend");
    lab.app(&["--mode", "slow", "--delay", "3"]);
    lab.proxy_to_app("      proxy_read_timeout 1s;");
    lab.drive_expect("/health", 3, 504);
    lab.expect_nginx_log("upstream timed out");
    lab.standard("slow = \"500ms\"");
    lab.diagnose(Some("slow-backend"));
}

#[test]
fn lab_slow_external_api() {
    let mut lab = Lab::new("slow_external_api");
    let api = lab.extra("payments", &["--mode", "slow", "--delay", "3"]);
    let api_url = lab.procs[api].url("/charge");
    lab.app(&["--mode", "external", "--api", &api_url, "--timeout", "10"]);
    lab.proxy_to_app("      proxy_read_timeout 1s;");
    lab.drive_expect("/checkout", 3, 504);
    lab.expect_nginx_log("upstream timed out");
    lab.standard("");
    lab.section(&format!(
        "[[dependency]]\nname = \"payments\"\nurl = \"{api_url}\"\nslow = \"500ms\"\n"
    ));
    lab.diagnose(Some("external-api-latency"));
}

fn dead_database(name: &'static str, status: &str, expected: &str) {
    let mut lab = Lab::new(name);
    let db = support::refused_addr();
    lab.app(&[
        "--mode",
        "db",
        "--db",
        &db.to_string(),
        "--db-status",
        status,
    ]);
    lab.proxy_to_app("");
    lab.drive_expect("/orders", 3, status.parse().unwrap());
    lab.expect_log(&format!(
        "psycopg2.OperationalError: connection to server at \"127.0.0.1\", port {} failed: Connection refused",
        db.port()
    ));
    lab.standard("");
    lab.section(&format!(
        "[[dependency]]\nname = \"postgres\"\nurl = \"tcp://{db}\"\nkind = \"database\"\n"
    ));
    lab.diagnose(Some(expected));
}

#[test]
fn lab_dead_database_500() {
    dead_database("dead_database_500", "500", "database-error");
}

#[test]
fn lab_dead_database_503() {
    dead_database("dead_database_503", "503", "dependency-unavailable");
}

#[test]
fn lab_application_exception() {
    let mut lab = Lab::new("application_exception");
    lab.app(&["--mode", "exception"]);
    lab.proxy_to_app("");
    lab.drive_expect("/cart", 3, 500);
    lab.expect_log("Traceback (most recent call last):");
    lab.expect_log("ZeroDivisionError: division by zero");
    lab.standard("");
    lab.diagnose(Some("unhandled-exception"));
}

#[test]
fn lab_missing_environment_variable() {
    let mut lab = Lab::new("missing_environment_variable");
    let port = support::free_port();
    let marker = lab.marker.clone();
    let mut cmd = lab.app_command(
        APP_PY.as_ref(),
        &marker,
        port,
        "app.log",
        &["--mode", "need-env", "--need-env", "API_KEY"],
    );
    cmd.env_remove("API_KEY");
    lab.spawn_app(cmd, port, true);
    lab.proxy_to_app("");
    lab.drive_expect("/charge", 3, 500);
    lab.expect_log("KeyError: 'API_KEY'");
    let environ = std::fs::read(format!("/proc/{}/environ", lab.app_proc().pid())).unwrap();
    assert!(
        !environ
            .split(|b| *b == 0)
            .any(|v| v.starts_with(b"API_KEY=")),
        "API_KEY really is missing from the process environment"
    );
    lab.standard("env_required = [\"API_KEY\"]");
    lab.diagnose(Some("configuration-error"));
}

#[test]
fn lab_write_into_full_filesystem() {
    let mut lab = Lab::new("write_into_full_filesystem");
    let uploads = lab.tmpfs("uploads", "1m");
    fill(&uploads);
    lab.disks.push(uploads.clone());
    lab.app(&["--mode", "write", "--dir", uploads.to_str().unwrap()]);
    lab.proxy_to_app("");
    lab.drive_expect("/upload", 3, 500);
    lab.expect_log("OSError: [Errno 28] No space left on device");
    lab.standard("");
    lab.diagnose(Some("filesystem-error"));
}

#[test]
fn lab_full_disk_alone() {
    let mut lab = Lab::new("full_disk_alone");
    let data = lab.tmpfs("data", "1m");
    fill(&data);
    lab.disks.push(data);
    lab.app(&["--mode", "ok"]);
    lab.proxy_to_app("");
    lab.drive_expect("/health", 3, 200);
    lab.standard("");
    lab.diagnose(Some("disk-full"));
}

#[test]
fn lab_file_descriptors_exhausted() {
    let mut lab = Lab::new("file_descriptors_exhausted");
    lab.app(&["--mode", "fds", "--nofile", "64"]);
    lab.proxy_to_app("");
    lab.drive_expect("/health", 3, 503);
    lab.expect_log("OSError: [Errno 24] Too many open files");
    let pid = lab.app_proc().pid();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    assert!(open >= 62, "the app holds {open} of its 64 descriptors");
    lab.standard("");
    lab.diagnose(Some("resource-exhaustion"));
}

#[test]
fn lab_oom_killed_upstream() {
    let mut lab = Lab::new("oom_killed_upstream");
    let cg = lab.memory_cgroup(64 << 20);
    let app = lab.app(&["--mode", "memory", "--mb", "128"]);
    let pid = lab.procs[app].pid();
    std::fs::write(cg.join("cgroup.procs"), pid.to_string()).unwrap();
    lab.proxy_to_app("");
    // The first request makes the kernel kill it mid-request.
    let first = lab.drive("/import", 1);
    assert_eq!(first, [502], "{}", lab.ngx().error_log_text());
    let status = lab.procs[app].child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "killed by SIGKILL: {status}"
    );
    let oom = std::fs::read_to_string(cg.join("memory.oom_control")).unwrap();
    assert!(
        oom.lines()
            .any(|l| l.strip_prefix("oom_kill ").is_some_and(|n| n.trim() != "0")),
        "the cgroup's OOM killer fired:\n{oom}"
    );
    lab.drive_expect("/import", 3, 502);
    lab.expect_nginx_log("Connection refused");
    lab.standard("");
    let report = lab.diagnose(Some("upstream-not-running"));
    let evidence = report["findings"][0]["evidence"].to_string();
    assert!(
        evidence.to_lowercase().contains("oom") || evidence.contains("memory"),
        "the OOM kill is part of the evidence: {evidence}"
    );
}

#[test]
fn lab_memory_error_caught() {
    let mut lab = Lab::new("memory_error_caught");
    lab.app(&[
        "--mode",
        "memory",
        "--mb",
        "512",
        "--catch-memory",
        "--rlimit-as",
        "256",
    ]);
    lab.proxy_to_app("");
    lab.drive_expect("/export", 3, 500);
    lab.expect_log("\nMemoryError");
    lab.standard("");
    lab.diagnose(Some("memory-exhaustion"));
}

#[test]
fn lab_rate_limited() {
    let mut lab = Lab::new("rate_limited");
    lab.app(&["--mode", "ok"]);
    lab.nginx(
        "  limit_req_zone $binary_remote_addr zone=lab:1m rate=1r/m;\n  server {\n    listen 127.0.0.1:{port};\n    location / {\n      limit_req zone=lab;\n      proxy_pass http://{app};\n    }\n  }\n",
        &[],
    );
    assert_eq!(lab.drive("/health", 1), [200]);
    lab.drive_expect("/health", 3, 503);
    lab.expect_nginx_log("limiting requests, excess:");
    lab.standard("");
    lab.diagnose(Some("server-overload"));
}

#[test]
fn lab_maintenance_flag() {
    let mut lab = Lab::new("maintenance_flag");
    lab.app(&["--mode", "ok"]);
    lab.nginx(
        "  server {\n    listen 127.0.0.1:{port};\n    location / {\n      if (-f {prefix}/maintenance.on) { return 503; }\n      proxy_pass http://{app};\n    }\n  }\n",
        &[],
    );
    lab.drive_expect("/health", 1, 200);
    let flag = lab.ngx().prefix.path().join("maintenance.on");
    std::fs::write(&flag, "planned: database migration\n").unwrap();
    lab.drive_expect("/health", 3, 503);
    lab.standard("");
    lab.section(&format!(
        "[maintenance]\nflag_files = [\"{}\"]\n",
        flag.display()
    ));
    lab.diagnose(Some("maintenance"));
}

/// Two releases under `dir/releases`, each with a copy of app.py, and
/// `dir/current` pointing at v1; returns v2's app.py.
fn releases(lab: &Lab) -> PathBuf {
    for v in ["v1", "v2"] {
        let d = lab.path(&format!("releases/{v}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(APP_PY, d.join("app.py")).unwrap();
    }
    std::os::unix::fs::symlink(lab.path("releases/v1"), lab.path("current")).unwrap();
    lab.path("releases/v2/app.py")
}

/// Switch `dir/current` to v2 atomically, the way deploy tools do.
fn switch_to_v2(lab: &Lab) {
    let tmp = lab.path("current.new");
    std::os::unix::fs::symlink(lab.path("releases/v2"), &tmp).unwrap();
    std::fs::rename(&tmp, lab.path("current")).unwrap();
}

#[test]
fn lab_deploy_in_progress() {
    let mut lab = Lab::new("deploy_in_progress");
    let v2 = releases(&lab);
    lab.app_port = support::free_port();
    lab.proxy_to_app("");
    // The new release is booting: alive, not yet listening.
    switch_to_v2(&lab);
    let marker = lab.marker.clone();
    let cmd = lab.app_command(
        &v2,
        &marker,
        lab.app_port,
        "app.log",
        &["--mode", "ok", "--startup-delay", "60"],
    );
    lab.spawn_app(cmd, lab.app_port, false);
    let log = lab.app_proc().log.clone();
    wait_until(READY, "the new release to start booting", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("starting"))
    });
    lab.drive_expect("/health", 3, 502);
    lab.standard("");
    lab.section(&format!(
        "[[deploy]]\npath = \"{}\"\nrecent = \"30m\"\n",
        lab.path("current").display()
    ));
    lab.diagnose(Some("deployment-in-progress"));
}

#[test]
fn lab_worker_crashes_mid_request() {
    let mut lab = Lab::new("worker_crashes_mid_request");
    lab.app(&["--mode", "crash"]);
    lab.proxy_to_app("");
    lab.drive_expect("/pdf", 3, 502);
    lab.expect_nginx_log(
        "upstream prematurely closed connection while reading response header from upstream",
    );
    lab.expect_log("was sent SIGSEGV!");
    lab.standard("");
    lab.diagnose(Some("upstream-crashed"));
}

#[test]
fn lab_external_api_failing() {
    let mut lab = Lab::new("external_api_failing");
    let api = lab.extra("payments", &["--mode", "exception"]);
    let api_url = lab.procs[api].url("/charge");
    lab.app(&["--mode", "external", "--api", &api_url, "--timeout", "5"]);
    lab.proxy_to_app("");
    lab.drive_expect("/checkout", 3, 500);
    lab.expect_log("urllib.error.HTTPError: HTTP Error 500: Internal Server Error");
    lab.standard("");
    lab.section(&format!(
        "[[dependency]]\nname = \"payments\"\nurl = \"{api_url}\"\n"
    ));
    lab.diagnose(Some("dependency-failure"));
}

/// nginx serving `shop.test` over TLS with `leaf`, in front of a healthy
/// application; `check` is what `openssl s_client` must say about it.
fn certificate_scenario(
    name: &'static str,
    names: &[&str],
    days: i64,
    check: &str,
    expected: &str,
) {
    support::init();
    let mut lab = Lab::new(name);
    let ca = support::TestCa::new();
    let ca_path = ca.write_pem(lab.dir.path());
    let (cert, key) = leaf_pem(&ca.leaf(names, days));
    lab.app(&["--mode", "ok"]);
    lab.nginx(
        "  server {\n    listen 127.0.0.1:{port} ssl;\n    server_name shop.test;\n    ssl_certificate {prefix}/conf/shop.pem;\n    ssl_certificate_key {prefix}/conf/shop.key;\n    location / {\n      proxy_pass http://{app};\n    }\n  }\n",
        &[("conf/shop.pem", &cert), ("conf/shop.key", &key)],
    );
    let port = lab.ngx().port;
    let verdict = openssl_verify(port, "shop.test", &ca_path);
    assert!(
        verdict.contains(check),
        "openssl should say {check:?}:\n{verdict}"
    );
    lab.section(&format!(
        "[[endpoint]]\nname = \"public\"\nurl = \"https://shop.test:{port}/health\"\nresolve = \"127.0.0.1\"\nca_file = \"{}\"\n",
        ca_path.display()
    ));
    lab.proxy_section();
    let app = lab.app_proc().url("/health");
    lab.upstream(&app, "");
    lab.diagnose(Some(expected));
}

#[test]
fn lab_expired_certificate() {
    certificate_scenario(
        "expired_certificate",
        &["shop.test"],
        -3,
        "certificate has expired",
        "tls-certificate-expired",
    );
}

#[test]
fn lab_certificate_expiring_soon() {
    certificate_scenario(
        "certificate_expiring_soon",
        &["shop.test"],
        5,
        "Verify return code: 0 (ok)",
        "tls-certificate-expiring",
    );
}

#[test]
fn lab_wrong_name_certificate() {
    certificate_scenario(
        "wrong_name_certificate",
        &["other.test"],
        90,
        "hostname mismatch",
        "tls-certificate-invalid",
    );
}

/// A release deployed a moment ago answers 500 with nothing in its log but
/// the access lines: no exception, no dependency, no resource to blame —
/// the change itself is the best lead (roll back), so `recent-change` is the
/// right first finding here and only here.
#[test]
fn lab_release_answers_500_after_deploy() {
    let mut lab = Lab::new("release_answers_500_after_deploy");
    let v2 = releases(&lab);
    switch_to_v2(&lab);
    let port = support::free_port();
    let marker = lab.marker.clone();
    let cmd = lab.app_command(
        &v2,
        &marker,
        port,
        "app.log",
        &["--mode", "status", "--status", "500"],
    );
    lab.spawn_app(cmd, port, true);
    lab.proxy_to_app("");
    lab.drive_expect("/health", 3, 500);
    assert!(
        !lab.app_proc().log_text().contains("Traceback"),
        "no traceback to blame"
    );
    lab.standard("");
    lab.section(&format!(
        "[[deploy]]\npath = \"{}\"\nrecent = \"30m\"\n",
        lab.path("current").display()
    ));
    lab.diagnose(Some("recent-change"));
}

/// `psql DSN -c SQL` as the test's own session; its stdout.
fn psql(dsn: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(dsn)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGPASSWORD", support::PG_PASSWORD)
        .stdin(Stdio::null())
        .output()
        .expect("psql must be installed");
    assert!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A real postgres server with a table `t`; the DSN without the password (the
/// application gets it through `PGPASSWORD`, like a real deployment).
fn database_with_table() -> (support::Postgres, String) {
    let pg = support::Postgres::start();
    let dsn = format!(
        "postgresql://{}@127.0.0.1:{}/postgres",
        support::PG_USER,
        pg.port
    );
    psql(&dsn, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
    (pg, dsn)
}

#[test]
fn lab_query_waits_on_a_lock() {
    let mut lab = Lab::new("query_waits_on_a_lock");
    let (pg, dsn) = database_with_table();
    // A migration holds an exclusive lock on t and does not commit.
    let mut holder = Command::new("psql");
    holder
        .arg(&dsn)
        .args([
            "-X",
            "-q",
            "-c",
            "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);",
        ])
        .env("PGPASSWORD", support::PG_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut holder, 0);
    lab.other_children.push(holder.spawn().unwrap());
    wait_until(Duration::from_secs(5), "the lock on t", || {
        psql(
            &dsn,
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
             WHERE c.relname = 't' AND l.mode = 'AccessExclusiveLock' AND l.granted",
        ) == "1"
    });
    let port = support::free_port();
    let marker = lab.marker.clone();
    let mut cmd = lab.app_command(
        APP_PY.as_ref(),
        &marker,
        port,
        "app.log",
        &[
            "--mode",
            "db-query",
            "--dsn",
            &dsn,
            "--query",
            "SELECT * FROM t",
            "--timeout",
            "3",
        ],
    );
    cmd.env("PGPASSWORD", support::PG_PASSWORD);
    lab.spawn_app(cmd, port, true);
    lab.proxy_to_app("      proxy_read_timeout 1s;");
    lab.drive_expect("/orders", 3, 504);
    lab.expect_nginx_log("upstream timed out");
    let waiting = psql(
        &dsn,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT * FROM t%'",
    );
    assert_ne!(waiting, "0", "the application's queries wait on the lock");
    lab.standard("");
    lab.section(&format!(
        "[[dependency]]\nname = \"postgres\"\nurl = \"{}\"\n",
        pg.url()
    ));
    lab.diagnose(Some("database-query-timeout"));
}

#[test]
fn lab_missing_table() {
    let mut lab = Lab::new("missing_table");
    let (pg, dsn) = database_with_table();
    let port = support::free_port();
    let marker = lab.marker.clone();
    let mut cmd = lab.app_command(
        APP_PY.as_ref(),
        &marker,
        port,
        "app.log",
        &["--mode", "schema", "--dsn", &dsn],
    );
    cmd.env("PGPASSWORD", support::PG_PASSWORD);
    lab.spawn_app(cmd, port, true);
    lab.proxy_to_app("");
    lab.drive_expect("/orders", 3, 500);
    lab.expect_log("psycopg2.errors.UndefinedTable: relation \"orders\" does not exist");
    lab.standard("");
    lab.section(&format!(
        "[[dependency]]\nname = \"postgres\"\nurl = \"{}\"\n",
        pg.url()
    ));
    lab.diagnose(Some("database-error"));
}
