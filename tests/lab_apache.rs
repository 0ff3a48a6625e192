//! The failure lab behind Apache httpd: the lab's application
//! (`tests/lab/app.py`) behind a real Apache (`support::Apache`), one failure
//! per scenario, the real `why5xx` run on it and its first finding asserted.
//! Each scenario runs twice: with `[proxy] kind = "apache"` configured, and
//! with no `[proxy]` and discovery on (the lab's Apache is then the one
//! discovery must find: these tests run in the nextest `nginx` group).
//!
//! As in `lab.rs`, every scenario first checks its failure without why5xx
//! (Apache really answers 503, its log really says AH01114), so a failing
//! scenario is a rule or model problem, not a lab problem. It only uses the
//! lab's processes and loopback; Apache is killed on drop.

use std::time::Duration;

use crate::lab::{Lab, wait_until};
use crate::support;

/// A lab scenario with Apache in front.
struct ApacheLab {
    lab: Lab,
    apache: Option<support::Apache>,
    discovered: bool,
}

impl ApacheLab {
    fn new(name: &'static str, discovered: bool) -> Self {
        let mut lab = Lab::new(name);
        lab.discover = discovered;
        Self {
            lab,
            apache: None,
            discovered,
        }
    }

    /// Start Apache with `body` after the base configuration; `{app}` is
    /// `127.0.0.1:` and the application's expected port.
    fn apache(&mut self, body: &str) {
        let body = body.replace("{app}", &format!("127.0.0.1:{}", self.lab.app_port));
        self.apache = Some(support::Apache::start(&body));
    }

    fn httpd(&self) -> &support::Apache {
        self.apache.as_ref().expect("Apache started")
    }

    /// `n` GETs of `path` through Apache, each answered `status`.
    fn drive_expect(&self, path: &str, n: usize, status: u16) {
        let got: Vec<u16> = (0..n)
            .map(|_| support::get_status(&self.httpd().url(path)))
            .collect();
        assert!(
            got.iter().all(|s| *s == status),
            "the lab failed to inject its failure: expected {n} x {status} from Apache, got {got:?}\n\
             Apache error log:\n{}",
            self.httpd().error_log_text()
        );
    }

    fn expect_apache_log(&self, needle: &str) {
        let text = self.httpd().error_log_text();
        assert!(
            text.contains(needle),
            "Apache's error log lacks {needle:?}:\n{text}"
        );
    }

    /// The public endpoint through Apache, the proxy (unless discovered)
    /// and the application at its own port.
    fn standard(&mut self, upstream_extra: &str) {
        let url = self.httpd().url("/health");
        self.lab.section(&format!(
            "[[endpoint]]\nname = \"public\"\nurl = \"{url}\"\n"
        ));
        if !self.discovered {
            let (conf, log) = (self.httpd().conf(), self.httpd().error_log());
            self.lab.section(&format!(
                "[proxy]\nkind = \"apache\"\nconfig = \"{}\"\nerror_log = \"{}\"\n",
                conf.display(),
                log.display()
            ));
        }
        let port = self.lab.app_port;
        self.lab
            .upstream(&format!("http://127.0.0.1:{port}/health"), upstream_extra);
    }

    /// Run why5xx; the first finding must also cite the public endpoint
    /// (Apache's own status for the cause: 503 for a refused backend, 502
    /// for a read timeout) and nothing may be left unclassified. With
    /// discovery, it must have found this Apache.
    fn diagnose(&self, expected: Option<&str>) {
        let report = self.lab.diagnose(expected);
        let findings = report["findings"].as_array().cloned().unwrap_or_default();
        if expected.is_some() {
            let cites = findings[0]["evidence"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["probe"] == "endpoint:public"));
            assert!(
                cites,
                "the first finding does not cite the endpoint: {report}"
            );
            assert!(
                !findings.iter().any(|f| f["cause"] == "unclassified"),
                "left unclassified: {report}"
            );
        }
        let probes = report["probes"].as_array().cloned().unwrap_or_default();
        let proxy = probes
            .iter()
            .find(|p| p["observations"]["kind"] == "apache")
            .unwrap_or_else(|| panic!("no Apache proxy probe: {report}"));
        let obs = &proxy["observations"];
        assert_eq!(
            obs["config"],
            self.httpd().conf().display().to_string(),
            "{proxy}"
        );
        if self.discovered {
            assert_eq!(obs["master"]["pid"], self.httpd().pid(), "{proxy}");
            assert_eq!(obs["config_source"], "master", "{proxy}");
        }
    }
}

const PROXY_TO_APP: &str = "ProxyPass / http://{app}/\n";

fn healthy(discovered: bool) {
    let mut s = ApacheLab::new(
        if discovered {
            "apache_healthy_discovered"
        } else {
            "apache_healthy"
        },
        discovered,
    );
    s.lab.app(&["--mode", "ok"]);
    s.apache(PROXY_TO_APP);
    s.drive_expect("/health", 3, 200);
    s.standard("");
    s.diagnose(None);
}

fn stopped_upstream(discovered: bool) {
    let mut s = ApacheLab::new(
        if discovered {
            "apache_stopped_upstream_discovered"
        } else {
            "apache_stopped_upstream"
        },
        discovered,
    );
    let app = s.lab.app(&["--mode", "ok"]);
    s.apache(PROXY_TO_APP);
    s.drive_expect("/health", 1, 200);
    s.lab.kill(app);
    // Apache's own answer to a refused backend: 503, not nginx's 502.
    s.drive_expect("/health", 3, 503);
    s.expect_apache_log("(111)Connection refused: AH00957");
    s.expect_apache_log("AH01114: HTTP: failed to make connection to backend: 127.0.0.1");
    s.standard("");
    s.diagnose(Some("upstream-not-running"));
}

fn timeout_shorter_than_needed(discovered: bool) {
    let mut s = ApacheLab::new(
        if discovered {
            "apache_proxy_timeout_shorter_than_needed_discovered"
        } else {
            "apache_proxy_timeout_shorter_than_needed"
        },
        discovered,
    );
    s.lab.app(&["--mode", "slow", "--delay", "2.5"]);
    s.apache(&format!("ProxyTimeout 1\n{PROXY_TO_APP}"));
    // Apache answers a read timeout with 502 (measured), not 504.
    s.drive_expect("/report", 2, 502);
    s.expect_apache_log("(70007)The timeout specified has expired");
    s.expect_apache_log("AH01102: error reading status line from remote server");
    // It legitimately needs 2.5 s: the operator allows 5 s.
    s.standard("slow = \"5s\"");
    s.diagnose(Some("proxy-timeout-too-short"));
}

fn proxy_pass_to_wrong_port(discovered: bool) {
    let mut s = ApacheLab::new(
        if discovered {
            "apache_proxy_pass_to_wrong_port_discovered"
        } else {
            "apache_proxy_pass_to_wrong_port"
        },
        discovered,
    );
    let app = s.lab.app(&["--mode", "ok"]);
    let wrong = support::refused_addr().port();
    s.apache(&format!("ProxyPass / http://127.0.0.1:{wrong}/\n"));
    s.drive_expect("/health", 3, 503);
    s.expect_apache_log(&format!("attempt to connect to 127.0.0.1:{wrong}"));
    // The application answers where the operator configured it.
    let url = s.lab.procs[app].url("/health");
    wait_until(Duration::from_secs(2), "the app to answer", || {
        support::get_status(&url) == 200
    });
    s.standard("");
    s.diagnose(Some("proxy-misconfiguration"));
}

#[test]
fn apache_healthy_configured() {
    healthy(false);
}

#[test]
fn apache_healthy_discovered() {
    healthy(true);
}

#[test]
fn apache_stopped_upstream_configured() {
    stopped_upstream(false);
}

#[test]
fn apache_stopped_upstream_discovered() {
    stopped_upstream(true);
}

#[test]
fn apache_timeout_shorter_than_needed_configured() {
    timeout_shorter_than_needed(false);
}

#[test]
fn apache_timeout_shorter_than_needed_discovered() {
    timeout_shorter_than_needed(true);
}

#[test]
fn apache_proxy_pass_to_wrong_port_configured() {
    proxy_pass_to_wrong_port(false);
}

#[test]
fn apache_proxy_pass_to_wrong_port_discovered() {
    proxy_pass_to_wrong_port(true);
}
