//! No secret reaches any output: secrets are planted in every input —
//! header values, cookies, URL passwords, `token=` query values, database
//! and cache URLs, a process's environment and command line, quoted
//! secrets in the application's log — and every format's output (and the
//! diagnostics on stderr) is searched for them.

use std::process::{Command, Stdio};

use crate::support;

/// Kills the child on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_format_prints_a_planted_secret() {
    let pid = std::process::id();
    let secrets: Vec<String> = (1..=11).map(|i| format!("S3cr3t{i}x{pid}")).collect();
    let s = |i: usize| secrets[i - 1].clone();

    let web = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let dead = support::refused_addr();
    let dir = tempfile::tempdir().unwrap();

    // The upstream's process: a secret in its command line and environment.
    let marker = format!("why5xx-secrets-{pid}");
    let child = Child(
        Command::new("python3")
            .args([
                "-c",
                "import time; time.sleep(120)",
                &marker,
                &format!("--password={}", s(5)),
            ])
            .env("API_TOKEN", s(6))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Its log: secrets inside a DSN and a quoted assignment, in a trace.
    let log = dir.path().join("app.log");
    std::fs::write(
        &log,
        format!(
            "2026-11-26 09:00:00,000 ERROR request failed\n\
             Traceback (most recent call last):\n  File \"/app/db.py\", line 3, in connect\n\
             psycopg2.OperationalError: connection to postgres://app:{}@127.0.0.1:5432/x failed: Connection refused\n\
             2026-11-26 09:00:01,000 ERROR login with password=\"{}\" api_key: {} rejected\n",
            s(7),
            s(8),
            s(11)
        ),
    )
    .unwrap();

    let config = format!(
        "[agent]\ndiscover = false\ndeadline = \"8s\"\n[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n\
         [[endpoint]]\nname = \"public\"\nurl = \"http://user:{p1}@{web}/x?token={p2}&page=1\"\n\
         headers = {{ Authorization = \"Bearer {p3}\", Cookie = \"session={p4}\" }}\n\
         [[upstream]]\nname = \"app\"\nurl = \"http://{dead}/health\"\nprocess = \"{marker}\"\n\
         env_required = [\"API_TOKEN\", \"MISSING_VAR\"]\nlog = \"{log}\"\n\
         [[dependency]]\nname = \"db\"\nurl = \"postgres://why5xx:{p9}@{dead}/app\"\n\
         [[dependency]]\nname = \"cache\"\nurl = \"redis://:{p10}@{dead}/0\"\n",
        p1 = s(1),
        p2 = s(2),
        p3 = s(3),
        p4 = s(4),
        p9 = s(9),
        p10 = s(10),
        log = log.display(),
    );
    let path = dir.path().join("why5xx.toml");
    std::fs::write(&path, config).unwrap();

    for format in ["text", "json", "prometheus", "junit", "nagios"] {
        let path = path.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(assert_cmd::cargo::cargo_bin("why5xx"))
                .args(["-vv", "--config"])
                .arg(&path)
                .args(["--format", format])
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stdout.is_empty(), "{format}: no output; stderr:\n{stderr}");
        for secret in &secrets {
            assert!(
                !stdout.contains(secret.as_str()),
                "{format} output leaks {secret}:\n{stdout}"
            );
            assert!(
                !stderr.contains(secret.as_str()),
                "{format} diagnostics leak {secret}:\n{stderr}"
            );
        }
        if format == "json" {
            // The probes really looked at the planted inputs.
            for id in [
                "endpoint:public",
                "process:app",
                "env:app",
                "log:app",
                "dependency:db",
                "dependency:cache",
            ] {
                assert!(
                    stdout.contains(&format!("\"id\": \"{id}\"")),
                    "{id} missing:\n{stdout}"
                );
            }
            assert!(
                stdout.contains("MISSING_VAR"),
                "the missing name is reported:\n{stdout}"
            );
            assert!(stdout.contains(&marker), "the process was found:\n{stdout}");
        }
    }
    drop(child);
}
