//! Real servers and certificates for the probe tests: a test CA issuing
//! leaves with chosen names and validity, a rustls server, plain HTTP
//! servers with fixed answers, a listener that never answers, a refused port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Install the ring provider once; every test calls this first.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A certificate authority for tests.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate chain with its key, ready for a rustls server.
pub struct Leaf {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Leaf {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

fn params(
    names: &[&str],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|s| (*s).to_string()).collect();
    let mut p = CertificateParams::new(names.clone()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    p.distinguished_name = dn;
    p.not_before = not_before;
    p.not_after = not_after;
    p
}

impl TestCa {
    pub fn new() -> Self {
        let mut p = params(
            &[],
            OffsetDateTime::now_utc() - Duration::days(30),
            OffsetDateTime::now_utc() + Duration::days(3650),
        );
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "why5xx test CA");
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// Write the CA certificate to `dir/ca.pem` and return the path.
    pub fn write_pem(&self, dir: &std::path::Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, self.pem()).unwrap();
        path
    }

    /// A leaf for `names`, valid from `not_before` to `not_after`.
    pub fn leaf_between(
        &self,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params(names, not_before, not_after)
            .signed_by(&key, &self.issuer)
            .unwrap();
        Leaf {
            chain: vec![cert.der().clone(), self.issuer.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// A leaf for `names` that expires `days` from now (negative: expired).
    pub fn leaf(&self, names: &[&str], days: i64) -> Leaf {
        let now = OffsetDateTime::now_utc();
        let not_before = if days < 0 {
            now + Duration::days(days - 30)
        } else {
            now - Duration::days(1)
        };
        self.leaf_between(names, not_before, now + Duration::days(days))
    }
}

/// A self-signed leaf for `names` valid for a year.
pub fn self_signed_leaf(names: &[&str]) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let now = OffsetDateTime::now_utc();
    let cert = params(names, now - Duration::days(1), now + Duration::days(365))
        .self_signed(&key)
        .unwrap();
    Leaf {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// Read a request's head (up to the blank line), bounded.
async fn read_head<S: AsyncReadExt + Unpin>(s: &mut S) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf
}

/// A TLS server on 127.0.0.1 presenting `leaf` and answering every request
/// with `response` (a whole HTTP/1.1 response, `Connection: close`).
pub async fn tls_server(leaf: Leaf, response: &'static [u8]) -> SocketAddr {
    let mut cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = read_head(&mut tls).await;
                    let _ = tls.write_all(response).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

/// A plain HTTP server on 127.0.0.1 answering every request with `response`.
pub async fn http_server(response: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let _ = read_head(&mut tcp).await;
                let _ = tcp.write_all(response).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    addr
}

/// A server that accepts connections and then never sends a byte, keeping
/// them open until the test ends.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held: Vec<TcpStream> = Vec::new();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            held.push(tcp);
        }
    });
    addr
}

/// An address on 127.0.0.1 where nothing listens: bound, then closed.
pub fn refused_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A TCP server on 127.0.0.1 that hands every accepted connection to `handle`.
pub async fn tcp_server<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(handle(tcp));
        }
    });
    addr
}

/// Read a request's head (up to the blank line), bounded.
pub async fn read_request_head<S: AsyncReadExt + Unpin>(s: &mut S) -> Vec<u8> {
    read_head(s).await
}

/// A plain HTTP server that answers `response` as soon as any bytes arrive,
/// without waiting for a whole request head — the way nginx answers a TLS
/// `ClientHello` on a plain port with `400 Bad Request`.
pub async fn eager_http_server(response: &'static [u8]) -> SocketAddr {
    tcp_server(move |mut tcp| async move {
        let mut buf = [0u8; 4096];
        if matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {
            let _ = tcp.write_all(response).await;
            let _ = tcp.shutdown().await;
            // Drain what the client still sends so the close is a FIN, not a RST.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
            })
            .await;
        }
    })
    .await
}

/// A real nginx in a prefix of its own, killed (with its workers) on drop.
pub struct Nginx {
    pub prefix: tempfile::TempDir,
    child: std::process::Child,
    /// The port the template's `{port}` was replaced with.
    pub port: u16,
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    /// Start nginx with `http_body` inside its `http { }` block. In the body,
    /// `{port}` becomes a free port and `{prefix}` the prefix directory.
    /// Extra files (included configs) can be written first with `files`:
    /// paths relative to the prefix, with the same replacements.
    pub fn start_with(http_body: &str, files: &[(&str, &str)]) -> Self {
        let prefix = tempfile::tempdir().unwrap();
        let port = free_port();
        let p = prefix.path().display().to_string();
        let fill = |s: &str| {
            s.replace("{port}", &port.to_string())
                .replace("{prefix}", &p)
        };
        for dir in ["conf", "logs", "tmp"] {
            std::fs::create_dir_all(prefix.path().join(dir)).unwrap();
        }
        for (rel, text) in files {
            let path = prefix.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, fill(text)).unwrap();
        }
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid {p}/logs/nginx.pid;\n\
             error_log {p}/logs/error.log info;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log {p}/logs/access.log;\n  client_body_temp_path {p}/tmp/body;\n  proxy_temp_path {p}/tmp/proxy;\n  \
             fastcgi_temp_path {p}/tmp/fastcgi;\n  uwsgi_temp_path {p}/tmp/uwsgi;\n  scgi_temp_path {p}/tmp/scgi;\n{}\n}}\n",
            fill(http_body)
        );
        let conf_path = prefix.path().join("conf/nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cmd = std::process::Command::new("nginx");
        cmd.arg("-p")
            .arg(prefix.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(prefix.path().join("logs/error.log"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .expect("nginx must be installed (scripts/test installs it)");
        let mut nginx = Self {
            prefix,
            child,
            port,
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!(
                    "nginx exited ({status}) at start:\n{}",
                    nginx.error_log_text()
                );
            }
            assert!(
                std::time::Instant::now() < until,
                "nginx did not listen on {port}:\n{}",
                nginx.error_log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// [`Nginx::start_with`] without extra files.
    pub fn start(http_body: &str) -> Self {
        Self::start_with(http_body, &[])
    }

    /// The master's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn conf(&self) -> PathBuf {
        self.prefix.path().join("conf/nginx.conf")
    }

    pub fn error_log(&self) -> PathBuf {
        self.prefix.path().join("logs/error.log")
    }

    pub fn error_log_text(&self) -> String {
        std::fs::read_to_string(self.error_log()).unwrap_or_default()
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The whole process group: the master and its workers.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// A real HAProxy (`haproxy -f CFG -db`) in a directory of its own, with
/// its stats socket there and its log written to `haproxy.log` the way
/// rsyslog writes it (a syslog receiver on a unix datagram socket, as
/// `log /dev/log` sends to), killed on drop.
pub struct Haproxy {
    pub dir: tempfile::TempDir,
    child: std::process::Child,
    /// The port the template's `{port}` was replaced with.
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    syslog: Option<std::thread::JoinHandle<()>>,
}

impl Haproxy {
    /// Start HAProxy with `body` (its frontends, backends, `listen`s) after
    /// a `global` (stats socket `{dir}/admin.sock`, log to `{dir}/log.sock`)
    /// and a `defaults` (mode http, httplog, 1 s connect, 10 s client and
    /// server). `{port}` becomes a free port, `{dir}` the directory. The
    /// config must pass `haproxy -c -f`.
    pub fn start(body: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display().to_string();
        let fill = |s: &str| s.replace("{port}", &port.to_string()).replace("{dir}", &d);
        let conf = format!(
            "global\n    stats socket {d}/admin.sock mode 600 level admin\n    log {d}/log.sock local0\n\n\
             defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\n{}\n",
            fill(body)
        );
        let conf_path = dir.path().join("haproxy.cfg");
        std::fs::write(&conf_path, conf).unwrap();
        let check = std::process::Command::new("haproxy")
            .arg("-c")
            .arg("-f")
            .arg(&conf_path)
            .output()
            .expect("haproxy must be installed (scripts/test installs it)");
        assert!(
            check.status.success(),
            "haproxy -c -f rejects the config:\n{}",
            String::from_utf8_lossy(&check.stderr)
        );
        // The syslog receiver, writing lines as rsyslog's traditional format.
        let sock = std::os::unix::net::UnixDatagram::bind(dir.path().join("log.sock")).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        let log_path = dir.path().join("haproxy.log");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let syslog = std::thread::spawn(move || {
            use std::io::Write;
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .unwrap();
            let mut buf = vec![0u8; 65536];
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(n) = sock.recv(&mut buf) else { continue };
                let msg = String::from_utf8_lossy(&buf[..n]);
                // `<134>Nov 26 09:30:12 haproxy[123]: …`: drop the priority.
                let line = msg
                    .strip_prefix('<')
                    .and_then(|m| m.split_once('>'))
                    .map_or(&*msg, |(_, rest)| rest);
                let _ = writeln!(out, "{}", line.trim_end());
            }
        });
        let mut cmd = std::process::Command::new("haproxy");
        cmd.arg("-f")
            .arg(&conf_path)
            .arg("-db")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.txt")).unwrap());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().unwrap();
        let mut h = Self {
            dir,
            child,
            port,
            stop,
            syslog: Some(syslog),
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && h.stats_socket().exists()
            {
                return h;
            }
            if let Ok(Some(status)) = h.child.try_wait() {
                panic!("haproxy exited ({status}) at start:\n{}", h.stderr_text());
            }
            assert!(
                std::time::Instant::now() < until,
                "haproxy did not listen on {port}:\n{}",
                h.stderr_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The master's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("haproxy.cfg")
    }

    pub fn stats_socket(&self) -> PathBuf {
        self.dir.path().join("admin.sock")
    }

    /// The log file the syslog receiver writes.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("haproxy.log")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Wait until the log holds `needle` (HAProxy logs a request when it ends).
    pub fn wait_for_log(&self, needle: &str) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.log_text().contains(needle) {
            assert!(
                std::time::Instant::now() < until,
                "no {needle:?} in the HAProxy log:\n{}",
                self.log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.syslog.take() {
            let _ = t.join();
        }
    }
}

/// Where Debian's `apache2` package keeps its modules.
pub const APACHE_MODULES: &str = "/usr/lib/apache2/modules";

/// A real Apache httpd (`apache2 -f CONF -D FOREGROUND`) on a free
/// loopback port, its own `ServerRoot`, `PidFile` and `ErrorLog` in a temporary
/// directory; no system service is touched. Killed (with its children) on
/// drop.
pub struct Apache {
    pub root: tempfile::TempDir,
    child: std::process::Child,
    pub port: u16,
}

impl Apache {
    /// Start Apache with `body` after a minimal reverse-proxy configuration
    /// (`mpm_event`, `mod_proxy`, `mod_proxy_http`, `mod_proxy_fcgi`, the balancer).
    /// In the body `{port}` becomes the port it listens on and `{root}` its
    /// `ServerRoot`.
    pub fn start(body: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        let port = free_port();
        let r = root.path().display().to_string();
        let fill = |s: &str| s.replace("{port}", &port.to_string()).replace("{root}", &r);
        std::fs::create_dir_all(root.path().join("logs")).unwrap();
        let modules = [
            ("mpm_event_module", "mod_mpm_event.so"),
            ("authz_core_module", "mod_authz_core.so"),
            ("proxy_module", "mod_proxy.so"),
            ("proxy_http_module", "mod_proxy_http.so"),
            ("proxy_fcgi_module", "mod_proxy_fcgi.so"),
            ("slotmem_shm_module", "mod_slotmem_shm.so"),
            ("proxy_balancer_module", "mod_proxy_balancer.so"),
            ("lbmethod_byrequests_module", "mod_lbmethod_byrequests.so"),
        ];
        let mut conf = format!(
            "ServerRoot {r}\nDefaultRuntimeDir {r}/logs\nPidFile {r}/logs/httpd.pid\n\
             ErrorLog {r}/logs/error.log\nLogLevel warn\nServerName localhost\n\
             Listen 127.0.0.1:{port}\nUser nobody\nGroup nogroup\n"
        );
        for (id, file) in modules {
            conf += &["LoadModule ", id, " ", APACHE_MODULES, "/", file, "\n"].concat();
        }
        conf += "StartServers 1\nServerLimit 2\nThreadsPerChild 16\nMaxRequestWorkers 32\n\
                 LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b %D\" timed\n";
        conf += &[
            "CustomLog ",
            &r,
            "/logs/access.log timed\n",
            &fill(body),
            "\n",
        ]
        .concat();
        let conf_path = root.path().join("httpd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut cmd = std::process::Command::new("apache2");
        cmd.arg("-f")
            .arg(&conf_path)
            .args(["-D", "FOREGROUND"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(
                std::fs::File::create(root.path().join("logs/stderr.log")).unwrap(),
            ));
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .expect("apache2 must be installed (scripts/test installs it)");
        let mut apache = Self { root, child, port };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return apache;
            }
            if let Ok(Some(status)) = apache.child.try_wait() {
                panic!(
                    "apache2 exited ({status}) at start:\n{}\n{}",
                    apache.error_log_text(),
                    std::fs::read_to_string(apache.root.path().join("logs/stderr.log"))
                        .unwrap_or_default()
                );
            }
            assert!(
                std::time::Instant::now() < until,
                "apache2 did not listen on {port}:\n{}",
                apache.error_log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// The master's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn conf(&self) -> PathBuf {
        self.root.path().join("httpd.conf")
    }

    pub fn error_log(&self) -> PathBuf {
        self.root.path().join("logs/error.log")
    }

    pub fn error_log_text(&self) -> String {
        std::fs::read_to_string(self.error_log()).unwrap_or_default()
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        // The whole process group: the master and its children.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// A blocking HTTP/1.1 GET with a short timeout, returning the status (0 when
/// no response came). For driving traffic through nginx in tests.
pub fn get_status(url: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let Ok(mut s) = std::net::TcpStream::connect(authority) else {
        return 0;
    };
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    );
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The directory holding Postgres's server binaries (`initdb`, `postgres`):
/// the newest `/usr/lib/postgresql/*/bin` (Debian), else the one on `PATH`.
fn postgres_bin_dir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    if let Some((_, bin)) = dirs.pop() {
        return bin;
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.join("initdb").exists() && d.join("postgres").exists())
        .expect("PostgreSQL server binaries (initdb, postgres) must be installed: none in /usr/lib/postgresql/*/bin or on PATH")
}

/// The uid and gid to run Postgres as: `initdb` refuses to run as root, so
/// as root the `postgres` system user (created when missing), else ourselves.
fn postgres_ids() -> Option<(u32, u32)> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = std::process::Command::new("id")
            .args([flag, "postgres"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        let status = std::process::Command::new("useradd")
            .args(["-r", "postgres"])
            .status()
            .expect("running useradd to create the postgres user");
        assert!(status.success(), "useradd -r postgres failed: {status}");
    }
    Some((
        id("-u").expect("uid of postgres"),
        id("-g").expect("gid of postgres"),
    ))
}

/// The superuser of a test Postgres.
pub const PG_USER: &str = "why5xx";
/// Its password: tests assert it never shows in an observation.
pub const PG_PASSWORD: &str = "pg-Hunter2-s3cret";

/// A throwaway Postgres on 127.0.0.1 in a temporary directory, started by
/// the test and stopped (fast shutdown, then SIGKILL) on drop.
pub struct Postgres {
    dir: tempfile::TempDir,
    child: std::process::Child,
    pub port: u16,
}

impl Postgres {
    /// `initdb` (md5 auth, superuser [`PG_USER`] with [`PG_PASSWORD`]) and
    /// start `postgres`; wait until it accepts connections. Panics with the
    /// server's log when it cannot start.
    pub fn start() -> Self {
        let bin = postgres_bin_dir();
        let ids = postgres_ids();
        let dir = tempfile::tempdir().unwrap();
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, format!("{PG_PASSWORD}\n")).unwrap();
        if let Some((uid, gid)) = ids {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("data");
        let command = |program: &str| {
            let mut cmd = std::process::Command::new(bin.join(program));
            cmd.current_dir(dir.path())
                .stdin(std::process::Stdio::null());
            if let Some((uid, gid)) = ids {
                std::os::unix::process::CommandExt::gid(&mut cmd, gid);
                std::os::unix::process::CommandExt::uid(&mut cmd, uid);
            }
            cmd
        };
        let out = command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                PG_USER,
                "--auth=md5",
                "-N",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let log_path = dir.path().join("postgres.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = command("postgres");
        cmd.arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off", "-c", "max_connections=20"])
            .args(["-c", "shared_buffers=16MB"])
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd.spawn().expect("starting postgres");
        let mut pg = Self { dir, child, port };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.contains("ready to accept connections") {
                return pg;
            }
            if let Ok(Some(status)) = pg.child.try_wait() {
                panic!("postgres exited ({status}) at start:\n{text}");
            }
            assert!(
                std::time::Instant::now() < until,
                "postgres not ready after 30 s:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// `postgres://why5xx:<password>@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> url::Url {
        self.url_as(PG_USER, PG_PASSWORD, "postgres")
    }

    /// A URL logging in as `user` with `password` to `db`.
    pub fn url_as(&self, user: &str, password: &str, db: &str) -> url::Url {
        url::Url::parse(&format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{db}",
            self.port
        ))
        .unwrap()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// A superuser session of our own (its connection runs in a task).
    pub async fn client(&self) -> tokio_postgres::Client {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let mut config = tokio_postgres::Config::new();
        config
            .user(PG_USER)
            .password(PG_PASSWORD)
            .dbname("postgres")
            .application_name("why5xx-test");
        let (client, connection) = config
            .connect_raw(tcp, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("test session: {e}\n{}", self.log()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Fast shutdown: SIGTERM ("smart") would wait for the test's own
        // sessions, which may still be open.
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway redis-server on 127.0.0.1 with no persistence, killed on drop.
pub struct Redis {
    _dir: tempfile::TempDir,
    child: std::process::Child,
    pub port: u16,
}

impl Redis {
    /// Start `redis-server` with `extra` arguments (`["--requirepass", "x"]`)
    /// and wait until it answers `PING` (or `NOAUTH`). Panics with its log
    /// when it cannot start.
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log_path = dir.path().join("redis.log");
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log_path)
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let mut redis = Self {
            _dir: dir,
            child,
            port,
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if redis.ping().is_some() {
                return redis;
            }
            if let Ok(Some(status)) = redis.child.try_wait() {
                panic!(
                    "redis-server exited ({status}) at start:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(
                std::time::Instant::now() < until,
                "redis-server did not answer on {port}:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// One blocking `PING` on a new connection: the first reply line, or
    /// `None` when nothing answered.
    fn ping(&self) -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .ok()?;
        s.write_all(b"PING\r\n").ok()?;
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).ok()?;
        (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).trim().to_string())
    }

    /// `redis://127.0.0.1:<port>` with `userinfo` (`":pw@"`, or empty).
    pub fn url(&self, userinfo: &str) -> url::Url {
        url::Url::parse(&format!("redis://{userinfo}127.0.0.1:{}", self.port)).unwrap()
    }

    /// A connection that stays open and has been served (it answered
    /// `PING`): for filling `maxclients`.
    pub fn hold_client(&self) -> std::net::TcpStream {
        use std::io::{Read, Write};
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            s.write_all(b"PING\r\n").unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).unwrap_or(0);
            if buf[..n].starts_with(b"+PONG") {
                return s;
            }
            // An earlier connection (the readiness check) was not freed yet.
            assert!(
                std::time::Instant::now() < until,
                "could not hold a redis client: {:?}",
                String::from_utf8_lossy(&buf[..n])
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server that answers whatever each read brings with `reply` (raw bytes),
/// keeping the connection open: for protocol replies a real server gives
/// only in states hard to reach in a test (starting up, loading).
pub async fn reply_server(reply: &'static [u8]) -> SocketAddr {
    tcp_server(move |mut tcp| async move {
        let mut buf = [0u8; 4096];
        while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {
            if tcp.write_all(reply).await.is_err() {
                return;
            }
        }
    })
    .await
}
