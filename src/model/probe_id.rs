//! Probe ids, `<section>:<name>` (docs/contract.md, "Report"): the one place
//! that spells them. Prometheus labels, `JUnit` names and baselines are built
//! from ids, so they must stay the same from run to run; build every id
//! through a constructor here, never with `format!`. Nothing here plans or
//! runs a probe.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A probe's stable id, like `upstream:app` or `host:disk:/var/log`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProbeId(String);

impl ProbeId {
    /// An id read back from a report (rule fixtures, tests): already
    /// spelled by a constructor when it was written.
    #[cfg(test)]
    pub fn recorded(id: &str) -> Self {
        Self(id.to_string())
    }

    fn new(section: &str, name: impl fmt::Display) -> Self {
        Self(format!("{section}:{name}"))
    }

    /// `endpoint:NAME`: an `[[endpoint]]`.
    pub fn endpoint(name: &str) -> Self {
        Self::new("endpoint", name)
    }

    /// `upstream:NAME`: an `[[upstream]]`, or `upstream:HOST:PORT` for one
    /// the proxy forwards to and nobody configured.
    pub fn upstream(name: &str) -> Self {
        Self::new("upstream", name)
    }

    /// `dependency:NAME`: a `[[dependency]]`.
    pub fn dependency(name: &str) -> Self {
        Self::new("dependency", name)
    }

    /// `dns:NAME`: a `[[dns]]` lookup.
    pub fn dns(name: &str) -> Self {
        Self::new("dns", name)
    }

    /// `tls:HOST:PORT`: a `[[tls]]` handshake.
    pub fn tls(address: &str) -> Self {
        Self::new("tls", address)
    }

    /// `process:NAME`: a `[[process]]`, or an upstream's process.
    pub fn process(name: &str) -> Self {
        Self::new("process", name)
    }

    /// `port:PORT`: who listens on a local port an upstream uses.
    pub fn port(port: u16) -> Self {
        Self::new("port", port)
    }

    /// `proxy:KIND` (`proxy:nginx`), or `proxy:proxy` while none is found.
    pub fn proxy(kind_name: &str) -> Self {
        Self::new("proxy", kind_name)
    }

    /// `host:disk:PATH`: one filesystem.
    pub fn disk(path: &Path) -> Self {
        Self::new("host", format_args!("disk:{}", path.display()))
    }

    /// `host:system`: load, memory, file handles, pressure.
    pub fn system() -> Self {
        Self::new("host", "system")
    }

    /// `host:listeners`: every listening TCP socket.
    pub fn listeners() -> Self {
        Self::new("host", "listeners")
    }

    /// `host:oom`: OOM kills in the kernel log.
    pub fn oom() -> Self {
        Self::new("host", "oom")
    }

    /// `log:proxy`: the reverse proxy's error log.
    pub fn proxy_log() -> Self {
        Self::new("log", "proxy")
    }

    /// `log:access`: the reverse proxy's access log.
    pub fn access_log() -> Self {
        Self::new("log", "access")
    }

    /// `log:NAME`: an upstream's application log. An upstream named
    /// `proxy` or `access` would share an id with the proxy's logs.
    pub fn app_log(name: &str) -> Self {
        Self::new("log", name)
    }

    /// `env:NAME`: an upstream process's environment.
    pub fn env(name: &str) -> Self {
        Self::new("env", name)
    }

    /// `deploy:PATH`: a `[[deploy]]` path.
    pub fn deploy(path: &Path) -> Self {
        Self::new("deploy", path.display())
    }

    /// `maintenance:flags`: the maintenance flag files.
    pub fn maintenance_flags() -> Self {
        Self::new("maintenance", "flags")
    }

    /// `appserver:NAME`: an application server's own config and log
    /// (php-fpm pool, gunicorn, uwsgi).
    pub fn appserver(name: &str) -> Self {
        Self::new("appserver", name)
    }

    /// `unit:NAME.service`: a systemd unit, named as systemd names it.
    pub fn unit(name: &str) -> Self {
        Self::new("unit", name)
    }

    /// `container:NAME`: a Docker container.
    pub fn container(name: &str) -> Self {
        Self::new("container", name)
    }

    /// `haproxy:stats`: `HAProxy`'s runtime API.
    pub fn haproxy_stats() -> Self {
        Self::new("haproxy", "stats")
    }

    /// The id as written in reports.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProbeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ProbeId> for String {
    fn from(id: ProbeId) -> Self {
        id.0
    }
}

impl From<&ProbeId> for String {
    fn from(id: &ProbeId) -> Self {
        id.0.clone()
    }
}

impl std::ops::Deref for ProbeId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<ProbeId> for String {
    fn eq(&self, other: &ProbeId) -> bool {
        *self == other.0
    }
}

impl PartialEq<str> for ProbeId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ProbeId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_spelled_as_the_contract_spells_them() {
        let cases: [(ProbeId, &str); 22] = [
            (ProbeId::endpoint("public"), "endpoint:public"),
            (ProbeId::upstream("app"), "upstream:app"),
            (
                ProbeId::upstream("127.0.0.1:3001"),
                "upstream:127.0.0.1:3001",
            ),
            (ProbeId::dependency("postgres"), "dependency:postgres"),
            (
                ProbeId::dns("api.internal.example"),
                "dns:api.internal.example",
            ),
            (
                ProbeId::tls("shop.example.com:443"),
                "tls:shop.example.com:443",
            ),
            (ProbeId::process("worker"), "process:worker"),
            (ProbeId::port(3000), "port:3000"),
            (ProbeId::proxy("nginx"), "proxy:nginx"),
            (ProbeId::disk(Path::new("/var/log")), "host:disk:/var/log"),
            (ProbeId::system(), "host:system"),
            (ProbeId::listeners(), "host:listeners"),
            (ProbeId::oom(), "host:oom"),
            (ProbeId::proxy_log(), "log:proxy"),
            (ProbeId::access_log(), "log:access"),
            (ProbeId::app_log("app"), "log:app"),
            (ProbeId::env("app"), "env:app"),
            (
                ProbeId::deploy(Path::new("/srv/app/current")),
                "deploy:/srv/app/current",
            ),
            (ProbeId::maintenance_flags(), "maintenance:flags"),
            (ProbeId::appserver("php-fpm"), "appserver:php-fpm"),
            (ProbeId::unit("app.service"), "unit:app.service"),
            (ProbeId::container("app"), "container:app"),
        ];
        for (id, want) in cases {
            assert_eq!(id, want);
            assert_eq!(id.as_str(), want);
            assert_eq!(id.to_string(), want);
            assert_eq!(String::from(id), want);
        }
        assert_eq!(ProbeId::haproxy_stats(), "haproxy:stats");
    }

    #[test]
    fn serializes_as_a_plain_string() {
        let id = ProbeId::upstream("app");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"upstream:app\"");
        let back: ProbeId = serde_json::from_str("\"upstream:app\"").unwrap();
        assert_eq!(back, id);
        assert!(ProbeId::port(80) == *"port:80");
    }
}
