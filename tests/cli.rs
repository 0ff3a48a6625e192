//! The command line's contract: exit codes, one-line errors, subcommands.

use assert_cmd::Command;
use predicates::prelude::*;

fn why5xx() -> Command {
    Command::cargo_bin("why5xx").unwrap()
}

#[test]
fn version_and_help_exit_zero() {
    why5xx()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains("why5xx 0.1.0"));
    why5xx()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("check-config"));
}

#[test]
fn bad_arguments_exit_three_with_one_line() {
    let out = why5xx()
        .arg("--no-such-flag")
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");
    why5xx().args(["--deadline", "soon"]).assert().code(3);
    why5xx().args(["--format", "yaml"]).assert().code(3);
    why5xx()
        .arg("ftp://example.com/")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("URL argument"));
}

#[test]
fn rules_lists_every_cause() {
    let out = why5xx()
        .arg("rules")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for id in [
        "unhandled-exception",
        "upstream-not-running",
        "proxy-timeout-too-short",
        "disk-full",
        "tls-certificate-expired",
    ] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    // The catalogue (a header and 27 causes), then the precedence table.
    let (catalogue, precedence) = text.split_once("\nprecedence").unwrap();
    assert_eq!(catalogue.lines().count(), 1 + 27);
    assert!(
        precedence.contains("upstream-crashed demotes upstream-not-running"),
        "{precedence}"
    );
}

#[test]
fn the_example_config_passes_as_shipped_in_a_clean_environment() {
    // A fresh machine: no TOKEN, no HOME, nothing but PATH.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let out = why5xx()
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(["check-config", example])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_takes_every_dependency_kind_and_locates_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deps.toml");
    let config = |kind: &str| {
        format!(
            "[[dependency]]\nname = \"jobs\"\nurl = \"tcp://127.0.0.1:5672\"\nkind = \"{kind}\"\n"
        )
    };
    for kind in ["database", "cache", "api", "queue"] {
        std::fs::write(&path, config(kind)).unwrap();
        why5xx().arg("check-config").arg(&path).assert().success();
    }
    std::fs::write(&path, config("broker")).unwrap();
    let out = why5xx()
        .arg("check-config")
        .arg(&path)
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("deps.toml:4:8: dependency.kind: unknown dependency kind \"broker\""),
        "{err}"
    );
}

#[test]
fn check_config_locates_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[agent]\ntimeout = \"5s\"\nconcurency = 4\n").unwrap();
    let out = why5xx()
        .args(["check-config"])
        .arg(&bad)
        .assert()
        .code(3)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.toml:3:1: agent.concurency: unknown field"),
        "{err}"
    );
    // A directory, a missing file and binary garbage: exit 3, never a panic.
    why5xx()
        .args(["check-config"])
        .arg(dir.path())
        .assert()
        .code(3)
        .stderr(predicate::str::contains("directory"));
    why5xx()
        .args(["check-config", "/nonexistent/why5xx.toml"])
        .assert()
        .code(3);
    let garbage = dir.path().join("garbage.toml");
    std::fs::write(&garbage, [0xff, 0xfe, 0x00, 0x9c, 0x01]).unwrap();
    why5xx()
        .args(["check-config"])
        .arg(&garbage)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not UTF-8"));
    // The same errors stop a diagnosis with exit 3.
    why5xx().args(["--config"]).arg(&bad).assert().code(3);
}

#[test]
fn nagios_format_says_unknown_on_stdout_when_the_agent_cannot_run() {
    let out = why5xx()
        .args(["--format", "nagios", "--config", "/nonexistent/why5xx.toml"])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("WHY5XX UNKNOWN - "), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}
