//! Malformed and hostile configs and command lines: every one ends with exit
//! 3 and exactly one line on stderr naming `file:line:col` (and the key where
//! there is one), from `check-config` and from a diagnosis alike. Nothing
//! panics. The corpus is `tests/fixtures/bad-configs/` with its expected
//! locations in `EXPECT.tsv`; the configs too big to commit are generated.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bad-configs");

fn why5xx(args: &[&std::ffi::OsStr]) -> Output {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("why5xx"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("TOKEN")
        .env_remove("WHY5XX_LOG")
        .output()
        .unwrap()
}

/// Exit 3, one stderr line, no panic, nothing on stdout; returns the line.
fn assert_unknown_one_line(what: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_eq!(out.status.code(), Some(3), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr:?}");
    assert!(out.stdout.is_empty(), "{what}: stdout {:?}", out.stdout);
    stderr.trim_end().to_string()
}

/// `check-config FILE` and `--config FILE` (a real diagnosis, no discovery).
fn both_ways(path: &Path) -> [String; 2] {
    let check = why5xx(&["check-config".as_ref(), path.as_os_str()]);
    let run = why5xx(&[
        "--config".as_ref(),
        path.as_os_str(),
        "--no-discover".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    let shown = path.display().to_string();
    [
        assert_unknown_one_line(&format!("check-config {shown}"), &check),
        assert_unknown_one_line(&format!("--config {shown}"), &run),
    ]
}

struct Expected {
    file: String,
    location: String,
    key: Option<String>,
}

fn expectations() -> Vec<Expected> {
    let text = std::fs::read_to_string(Path::new(CORPUS).join("EXPECT.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let (file, location, key) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            Expected {
                file: file.to_string(),
                location: location.to_string(),
                key: (key != "-").then(|| key.to_string()),
            }
        })
        .collect()
}

#[test]
fn badconfig_corpus_each_fails_with_one_located_line() {
    let expected = expectations();
    // Every file of the corpus is listed, and there are enough of them.
    let mut files: Vec<String> = std::fs::read_dir(CORPUS)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "EXPECT.tsv")
        .collect();
    files.sort();
    let mut listed: Vec<String> = expected.iter().map(|e| e.file.clone()).collect();
    listed.sort();
    assert_eq!(files, listed, "EXPECT.tsv must list exactly the corpus");
    assert!(files.len() >= 25);

    for e in &expected {
        let path = Path::new(CORPUS).join(&e.file);
        for line in both_ways(&path) {
            let prefix = format!("why5xx: {}:{}: ", path.display(), e.location);
            assert!(line.starts_with(&prefix), "{}: {line}", e.file);
            if let Some(key) = &e.key {
                assert!(
                    line[prefix.len()..].starts_with(key.as_str()),
                    "{}: key {key} expected: {line}",
                    e.file
                );
            }
            // An error never echoes a secret nor a huge value.
            assert!(!line.contains("hunter2"), "{line}");
            assert!(line.len() < 1024, "{}: {} bytes", e.file, line.len());
        }
    }
}

fn generated(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn badconfig_generated_monsters_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();

    // Ten megabytes: refused by size before it is read.
    let mut big = b"[agent]\n".to_vec();
    big.resize(10 * 1024 * 1024, b'#');
    let path = generated(&dir, "ten-megabytes.toml", &big);
    for line in both_ways(&path) {
        assert!(line.contains("ten-megabytes.toml:1:1: "), "{line}");
        assert!(line.contains("limit"), "{line}");
    }

    // A huge array, under the size limit.
    let codes = vec!["200"; 150_000].join(", ");
    let text = format!("[[endpoint]]\nurl = \"http://127.0.0.1/\"\nexpect_status = [{codes}]\n");
    let path = generated(&dir, "huge-array.toml", text.as_bytes());
    for line in both_ways(&path) {
        assert!(
            line.contains("huge-array.toml:3:17: endpoint.expect_status: "),
            "{line}"
        );
    }

    // More entries than a run on a sick machine should carry.
    let mut text = String::new();
    for i in 0..1500 {
        let _ = write!(text, "[[dns]]\nname = \"n{i}.example\"\n");
    }
    let path = generated(&dir, "many-entries.toml", text.as_bytes());
    for line in both_ways(&path) {
        assert!(line.contains("more than 1000 entries"), "{line}");
    }

    // A directory where the file should be.
    let sub = dir.path().join("a-directory.toml");
    std::fs::create_dir(&sub).unwrap();
    for line in both_ways(&sub) {
        assert!(line.contains("a-directory.toml:1:1: "), "{line}");
        assert!(line.contains("directory"), "{line}");
    }

    // Missing, and a FIFO nobody writes to (must not block).
    let missing = dir.path().join("missing.toml");
    for line in both_ways(&missing) {
        assert!(line.contains("missing.toml:1:1: "), "{line}");
    }
    let fifo = dir.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        for line in both_ways(&fifo) {
            assert!(line.contains("fifo.toml:1:1: "), "{line}");
        }
    }
}

#[test]
fn badconfig_quirks_that_are_fine_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("bom.toml", &b"\xef\xbb\xbf[agent]\ntimeout = \"5s\"\n"[..]),
        (
            "crlf.toml",
            &b"[agent]\r\ntimeout = \"5s\"\r\n[host]\r\ndisks = [\"/\"]\r\n"[..],
        ),
        ("empty.toml", &b""[..]),
        ("comments-only.toml", &b"# nothing here\n\n"[..]),
    ] {
        let path = generated(&dir, name, bytes);
        let out = why5xx(&["check-config".as_ref(), path.as_os_str()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn badconfig_bad_arguments_exit_three_with_one_line() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let not_utf8 = std::ffi::OsStr::from_bytes(b"--config=\xff\xfe.toml");
    let table: &[(&[&str], &str)] = &[
        (&["--no-such-flag"], "--no-such-flag"),
        (&["--deadline", "soon"], "soon"),
        (&["--deadline", "0s"], "0s"),
        (&["--deadline", "-5s"], "-5"),
        (&["--deadline", "99999999999999999999d"], "deadline"),
        (&["--timeout", ""], "timeout"),
        (&["--format", "yaml"], "yaml"),
        (&["--fail-on", "sometimes"], "sometimes"),
        (&["--format", "json", "--format", "text"], "format"),
        (&["--config"], "config"),
        (&["-v", "-q"], "quiet"),
        (&["ftp://example.com/"], "URL argument"),
        (&["http://"], "URL argument"),
        (&["not a url"], "URL argument"),
        (&["check-config"], "<FILE>"),
        (&["check-config", "a.toml", "b.toml"], "b.toml"),
        (&["rules", "--extra"], "--extra"),
    ];
    for (argv, mention) in table {
        let args: Vec<&std::ffi::OsStr> = argv.iter().map(AsRef::as_ref).collect();
        let out = why5xx(&args);
        let line = assert_unknown_one_line(&format!("{argv:?}"), &out);
        assert!(line.contains(mention), "{argv:?}: {line}");
    }
    let out = why5xx(&[not_utf8]);
    assert_unknown_one_line("non-UTF-8 argument", &out);
    // An --output that cannot be written is exit 3 too, after the run.
    let out = why5xx(&[
        "--no-discover".as_ref(),
        "--deadline".as_ref(),
        "2s".as_ref(),
        "--output".as_ref(),
        dir.path().join("no/such/dir/report.json").as_os_str(),
    ]);
    let line = assert_unknown_one_line("unwritable --output", &out);
    assert!(line.contains("writing the report"), "{line}");
}
