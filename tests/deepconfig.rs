//! The binary on an nginx configuration nested 5,000 deep (what pointing
//! `[proxy] config` at the wrong file gives): a report with a located
//! warning, within the memory bound — never a stack overflow.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[path = "../probes/tests/deep_configs.rs"]
mod deep;

/// Peak RSS the run may reach (issue 14: under 50 MB).
const MAX_RSS_KB: u64 = 50 * 1024;

#[test]
fn five_thousand_deep_nginx_configs_give_a_report_under_50_mb() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in deep::deep_configs(5_000) {
        let conf = dir.path().join(format!("{name}.conf"));
        std::fs::write(&conf, text).unwrap();
        let toml = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &toml,
            format!(
                "[agent]\ndiscover = false\ndeadline = \"10s\"\n[proxy]\nkind = \"nginx\"\nconfig = \"{}\"\n",
                conf.display()
            ),
        )
        .unwrap();
        let rss = dir.path().join(format!("{name}.rss"));
        let out = Command::new("/usr/bin/time")
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss)
            .arg(assert_cmd::cargo::cargo_bin("why5xx"))
            .arg("--config")
            .arg(&toml)
            .args(["--format", "json"])
            .env("NO_COLOR", "1")
            .output()
            .expect("/usr/bin/time must be installed (scripts/test installs it)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("overflow"), "{name}: {stderr}");
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{name}: {:?} {stderr}",
            out.status
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let warnings = proxy_warnings(&report);
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&conf.display().to_string())
                    && w.contains("nesting deeper than")),
            "{name}: {warnings:?}"
        );
        let kb: u64 = read_last_line(&rss).parse().unwrap();
        eprintln!("{name}: peak RSS {kb} kB");
        assert!(kb < MAX_RSS_KB, "{name}: peak RSS {kb} kB");
    }
}

fn proxy_warnings(report: &Value) -> Vec<String> {
    report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| id.starts_with("proxy")))
        .flat_map(|p| {
            p["observations"]["warnings"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|w| w.as_str().map(str::to_string))
        .collect()
}

fn read_last_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().last().unwrap_or_default().trim().to_string()
}
