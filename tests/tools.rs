//! Running external validators (promtool, xmllint, python) from tests.
//! Shared by the report unit tests and the integration tests.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Run `program args` with `input` on stdin: success and everything it said.
pub fn tool(program: &str, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} is needed by this test ({e}); scripts/test installs it")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
