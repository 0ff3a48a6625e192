//! The machine formats as their readers see them: the real binary run on
//! real servers (a healthy HTTP server, an HTTPS endpoint, a refused
//! upstream, a server that never answers) and on this host with no config,
//! its output checked by the programs that consume it — `promtool check
//! metrics`, `xmllint` with the committed `JUnit` XSD and Python's
//! `xml.etree` (what CI servers read), the plugin-output grammar, and the
//! committed JSON Schema (Python `jsonschema`), which also checks every
//! report the failure lab kept. A missing tool fails the test:
//! `scripts/test` installs them.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run why5xx with `args`: exit code and stdout.
async fn run(args: Vec<String>) -> (i32, String) {
    let (code, out, _) = crate::diagnose::run(args).await;
    (code, out)
}

use crate::tools::tool;

fn python(script: &str, args: &[&str], input: &str) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    let (ok, said) = tool("python3", &all, input);
    assert!(ok, "python3 said:\n{said}");
    said
}

/// The servers of one broken setup and its config.
struct Setup {
    dir: tempfile::TempDir,
    config: String,
    refused: SocketAddr,
}

/// A healthy HTTP endpoint (with a secret in its query), an HTTPS endpoint
/// whose certificate expires in 40 days, and an upstream nobody listens on;
/// with `hanging`, also an endpoint that never answers, cut by the deadline.
async fn setup(hanging: bool) -> Setup {
    support::init();
    let ok = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let ca = support::TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = ca.write_pem(dir.path());
    let shop = support::tls_server(
        ca.leaf(&["shop.test"], 40),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let refused = support::refused_addr();
    let mut config = format!(
        "[agent]\ndiscover = false\n{}[host]\ndisks = [\"/\"]\nload_warn = 1000.0\n\
         [[endpoint]]\nname = \"ok\"\nurl = \"http://{ok}/health?token=sekrit\"\n\
         [[endpoint]]\nname = \"shop\"\nurl = \"https://shop.test:{}/\"\nresolve = \"127.0.0.1\"\nca_file = \"{}\"\n\
         [[upstream]]\nname = \"app\"\nurl = \"http://{refused}/health\"\nprocess = \"why5xx-test-no-such-process\"\n",
        if hanging {
            "deadline = \"2s\"\ntimeout = \"30s\"\n"
        } else {
            ""
        },
        shop.port(),
        ca_path.display()
    );
    if hanging {
        let silent = support::silent_server().await;
        let _ = write!(
            config,
            "[[endpoint]]\nname = \"hang\"\nurl = \"http://{silent}/\"\n"
        );
    }
    let path = dir.path().join("why5xx.toml");
    std::fs::write(&path, &config).unwrap();
    Setup {
        config: path.display().to_string(),
        dir,
        refused,
    }
}

pub(crate) fn promtool_accepts(text: &str) {
    let (ok, said) = tool("promtool", &["check", "metrics"], text);
    assert!(
        ok && said.trim().is_empty(),
        "promtool said:\n{said}\n{text}"
    );
}

/// The value of the sample `series` (name and labels exactly as written).
fn sample<'a>(text: &'a str, series: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series}:\n{text}"))
}

fn number(text: &str, series: &str) -> f64 {
    sample(text, series).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn formats_prometheus_textfile_from_real_servers_passes_promtool() {
    let s = setup(false).await;
    let prom = s.dir.path().join("why5xx.prom");
    let (code, out) = run(vec![
        "--config".into(),
        s.config.clone(),
        "--format".into(),
        "prometheus".into(),
        "--output".into(),
        prom.display().to_string(),
    ])
    .await;
    assert_eq!(code, 2, "the refused upstream is critical");
    assert!(out.is_empty(), "the metrics go to the file: {out}");
    let text = std::fs::read_to_string(&prom).unwrap();
    promtool_accepts(&text);

    assert_eq!(sample(&text, "why5xx_up"), "1");
    assert!(number(&text, "why5xx_run_duration_seconds") > 0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = number(&text, "why5xx_last_run_timestamp_seconds");
    assert!((now - last).abs() < 120.0, "{last} vs {now}");
    assert_eq!(
        sample(
            &text,
            "why5xx_probe_success{probe=\"endpoint:ok\",kind=\"http\"}"
        ),
        "1"
    );
    assert_eq!(
        sample(
            &text,
            "why5xx_probe_success{probe=\"upstream:app\",kind=\"http\"}"
        ),
        "0"
    );
    for phase in ["connect", "tls", "first_byte", "total"] {
        let t = number(
            &text,
            &format!("why5xx_probe_duration_seconds{{probe=\"endpoint:shop\",phase=\"{phase}\"}}"),
        );
        assert!((0.0..30.0).contains(&t), "{phase}: {t}");
    }
    let disk = number(
        &text,
        "why5xx_probe_duration_seconds{probe=\"host:disk:/\",phase=\"total\"}",
    );
    assert!(disk >= 0.0);
    let expiry = number(
        &text,
        "why5xx_tls_cert_expiry_timestamp_seconds{probe=\"endpoint:shop\"}",
    );
    let days = (expiry - now) / 86_400.0;
    assert!((39.0..41.0).contains(&days), "{days} days");
    assert_eq!(
        sample(
            &text,
            "why5xx_finding{cause=\"upstream-not-running\",severity=\"critical\"}"
        ),
        "1"
    );
    // Bounded labels only: no URL, no query string, no secret, no free text.
    for forbidden in ["sekrit", "http://", "https://", "?", "refused"] {
        assert!(
            !text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .any(|l| l.contains(forbidden)),
            "{forbidden} in a sample:\n{text}"
        );
    }
    assert!(text.contains(&format!("port:{}", s.refused.port())));
}

/// Check `JUnit` XML the way CI servers read it: the XSD, then the elements
/// and attributes Jenkins and GitLab use, with Python's `xml.etree`.
fn junit_is_readable(xml: &str) -> Value {
    let xsd = root().join("tests/fixtures/junit/junit.xsd");
    let (ok, said) = tool(
        "xmllint",
        &["--noout", "--schema", &xsd.display().to_string(), "-"],
        xml,
    );
    assert!(ok, "xmllint said:\n{said}\n{xml}");
    let summary = python(
        r#"
import json, sys
import xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
assert root.tag in ("testsuite", "testsuites"), root.tag
assert len(suites) == 1, len(suites)
s = suites[0]
for a in ("name", "tests", "failures", "errors", "time", "timestamp", "hostname"):
    assert s.get(a) is not None, a
cases = s.findall("testcase")
assert int(s.get("tests")) == len(cases)
assert int(s.get("failures")) == sum(len(c.findall("failure")) for c in cases)
assert int(s.get("errors")) == sum(len(c.findall("error")) for c in cases)
float(s.get("time"))
out = {"suite": s.attrib, "cases": []}
for c in cases:
    assert c.get("name") and c.get("classname"), c.attrib
    float(c.get("time"))
    case = {"name": c.get("name"), "classname": c.get("classname")}
    for kind in ("failure", "error"):
        for f in c.findall(kind):
            assert f.get("type") and f.get("message"), f.attrib
            case[kind] = {"type": f.get("type"), "message": f.get("message"), "body": f.text or ""}
    out["cases"].append(case)
print(json.dumps(out))
"#,
        &[],
        xml,
    );
    serde_json::from_str(&summary).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn formats_junit_from_real_servers_validates_and_parses() {
    let s = setup(true).await;
    let (code, out) = run(vec![
        "--config".into(),
        s.config.clone(),
        "--format".into(),
        "junit".into(),
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("<?xml"), "only XML on stdout: {out}");
    assert!(!out.contains("sekrit"), "{out}");
    let j = junit_is_readable(&out);
    assert_eq!(j["suite"]["name"], "why5xx");
    let cases = j["cases"].as_array().unwrap();
    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no test case {name}: {cases:?}"))
    };
    assert_eq!(case("endpoint:ok")["classname"], "endpoint");
    assert!(case("endpoint:ok").get("failure").is_none());
    let hang = case("endpoint:hang");
    assert_eq!(hang["error"]["type"], "timeout", "{hang}");
    let f = case("upstream-not-running");
    assert_eq!(f["classname"], "finding");
    assert_eq!(f["failure"]["type"], "upstream-not-running");
    let body = f["failure"]["body"].as_str().unwrap();
    assert!(
        body.contains("Evidence:")
            && body.contains("upstream:app")
            && body.contains("Remediation:"),
        "{body}"
    );
}

/// The plugin output's first line: state word, text, perfdata.
fn first_line(out: &str) -> (&str, &str, Vec<&str>) {
    let first = out.lines().next().unwrap();
    assert!(first.len() < 4096);
    let rest = first.strip_prefix("WHY5XX ").unwrap();
    let (state, rest) = rest.split_once(" - ").unwrap();
    let (text, perf) = rest.split_once(" | ").unwrap();
    let mut items = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in perf.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                items.push(&perf[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&perf[start..]);
    (state, text, items)
}

#[tokio::test(flavor = "multi_thread")]
async fn formats_nagios_from_real_servers_names_the_cause_with_perfdata() {
    let s = setup(false).await;
    let (code, out) = run(vec![
        "--config".into(),
        s.config.clone(),
        "--format".into(),
        "nagios".into(),
    ])
    .await;
    assert_eq!(code, 2, "{out}");
    let (state, text, perf) = first_line(&out);
    assert_eq!(state, "CRITICAL", "{out}");
    assert!(text.starts_with("upstream-not-running: "), "{out}");
    for item in &perf {
        let (label, value) = item.rsplit_once('=').unwrap();
        assert!(label.starts_with('\'') && label.ends_with('\''), "{item}");
        let v = value.split(';').next().unwrap();
        let num = v.trim_end_matches(['s', '%', 'd']);
        assert!(num.parse::<f64>().is_ok(), "{item}");
    }
    let has = |prefix: &str| perf.iter().any(|p| p.starts_with(prefix));
    assert!(has("'endpoint:shop tls'="), "{perf:?}");
    assert!(has("'host:disk:/ used'="), "{perf:?}");
    let cert = perf
        .iter()
        .find(|p| p.starts_with("'endpoint:shop cert_days'="))
        .unwrap();
    assert!(cert.ends_with("=39d") || cert.ends_with("=40d"), "{cert}");
    assert!(!out.contains("sekrit"), "{out}");

    // Healthy: OK, exit 0.
    let healthy = s.dir.path().join("healthy.toml");
    let cfg = std::fs::read_to_string(&s.config).unwrap();
    let cut = cfg.find("[[upstream]]").unwrap();
    std::fs::write(&healthy, &cfg[..cut]).unwrap();
    let (code, out) = run(vec![
        "--config".into(),
        healthy.display().to_string(),
        "--format".into(),
        "nagios".into(),
    ])
    .await;
    let (state, text, _) = first_line(&out);
    // A loaded test machine may warn about itself; the state follows the exit code.
    let expected = if code == 0 { "OK" } else { "WARNING" };
    assert_eq!(state, expected, "exit {code}: {out}");
    if code == 0 {
        assert!(text.contains(" probes healthy"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn formats_zero_config_run_in_every_machine_format() {
    let (_, prom) = run(vec!["--format".into(), "prometheus".into()]).await;
    promtool_accepts(&prom);
    assert!(prom.contains("why5xx_probe_success{probe=\"host:system\",kind=\"system\"}"));
    let (_, xml) = run(vec!["--format".into(), "junit".into()]).await;
    junit_is_readable(&xml);
    let (code, nagios) = run(vec!["--format".into(), "nagios".into()]).await;
    let (state, _, _) = first_line(&nagios);
    let expected = match code {
        0 => "OK",
        1 => "WARNING",
        2 => "CRITICAL",
        _ => panic!("exit {code}: {nagios}"),
    };
    assert_eq!(state, expected, "{nagios}");
}

fn schema_path() -> String {
    root()
        .join("schema/report.schema.json")
        .display()
        .to_string()
}

/// Assert the schema accepts a whole report.
pub(crate) fn schema_accepts_report(doc: &Value) {
    assert!(schema_accepts_one(doc), "the schema rejects: {doc}");
}

/// Whether the schema accepts `doc`.
fn schema_accepts_one(doc: &Value) -> bool {
    tool(
        "python3",
        &[
            "-c",
            "import json,sys,jsonschema; jsonschema.validate(json.load(sys.stdin), json.load(open(sys.argv[1])))",
            &schema_path(),
        ],
        &doc.to_string(),
    )
    .0
}

/// Validate every document against `schema/report.schema.json`.
fn schema_accepts(docs: &[(String, Value)]) {
    let input = serde_json::to_string(docs).unwrap();
    let said = python(
        r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("python3 lacks jsonschema: scripts/test installs it (pip install jsonschema)")
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
bad = []
docs = json.load(sys.stdin)
for name, doc in docs:
    for e in v.iter_errors(doc):
        bad.append(f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}")
if bad:
    sys.exit("\n".join(bad))
print(len(docs))
"#,
        &[&schema_path()],
        &input,
    );
    assert_eq!(said.trim(), docs.len().to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn formats_real_json_reports_match_the_schema() {
    let mut docs = Vec::new();
    let s = setup(true).await;
    let (_, out) = run(vec![
        "--config".into(),
        s.config.clone(),
        "--format".into(),
        "json".into(),
    ])
    .await;
    docs.push((
        "refused upstream, https, hanging".to_string(),
        serde_json::from_str(&out).unwrap(),
    ));

    let addr = support::http_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    )
    .await;
    let (code, out) = run(vec![
        format!("http://{addr}/"),
        "--no-discover".into(),
        "--format".into(),
        "json".into(),
    ])
    .await;
    assert!(code == 0 || code == 1, "{out}");
    docs.push((
        "healthy http server".to_string(),
        serde_json::from_str(&out).unwrap(),
    ));

    let (_, out) = run(vec!["--format".into(), "json".into()]).await;
    docs.push((
        "zero config".to_string(),
        serde_json::from_str(&out).unwrap(),
    ));

    // The reports the failure lab kept from its real runs.
    let dir: &Path = &root().join("tests/fixtures/rules");
    let mut lab = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("lab-") && path.extension().is_some_and(|e| e == "json") {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            docs.push((name, v["report"].clone()));
            lab += 1;
        }
    }
    assert!(lab >= 29, "{lab} lab reports");
    schema_accepts(&docs);

    // And the schema is not vacuous: a report with an unknown cause or an
    // extra field is refused.
    let mut bad = docs[0].1.clone();
    assert!(schema_accepts_one(&bad));
    bad["findings"][0]["cause"] = "gremlins".into();
    assert!(
        !schema_accepts_one(&bad),
        "an unknown cause must not validate"
    );
    let mut extra = docs[1].1.clone();
    extra["surprise"] = true.into();
    assert!(
        !schema_accepts_one(&extra),
        "an unknown top-level field must not validate"
    );
    let mut evidence = docs[0].1.clone();
    evidence["findings"][0]["evidence"][0]["note"] = "x".into();
    assert!(
        !schema_accepts_one(&evidence),
        "an unknown evidence field must not validate"
    );
}
