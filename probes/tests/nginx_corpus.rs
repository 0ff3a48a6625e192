//! The nginx reader against crossplane (nginx Inc.'s parser) on real
//! configurations from public repositories (`fixtures/nginx-corpus/`,
//! sources and licenses in its `SOURCES.md`): for every file, the set of
//! forward targets — every `proxy_pass`, `fastcgi_pass`, `uwsgi_pass`,
//! `grpc_pass` and stream `proxy_pass` argument, an `upstream` expanded
//! into its servers — must be the same from both. The number of files that
//! agree is a ratchet: it may rise, never fall.
//!
//! A file is parsed in the context it is included into: `main/` as a whole
//! configuration, `http/` inside `http { }` (a `conf.d` file), `server/`
//! inside `http { server { } }` (a snippet of locations). Set
//! `WHY5XX_NGINX_CORPUS` to a directory of the same layout to measure
//! another corpus too (it is not part of the ratchet): files taken from
//! fetched repository snapshots may be measured that way but are not
//! checked in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use why5xx_probes::proxy::nginx;

/// Files of the checked-in corpus on which crossplane and the model agree.
const AGREEING: usize = 7;

/// Files in the checked-in corpus.
const CORPUS_FILES: usize = 7;

const PASSES: [&str; 4] = ["proxy_pass", "fastcgi_pass", "uwsgi_pass", "grpc_pass"];

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nginx-corpus")
}

/// Every `(context, file)` under `dir`, sorted.
fn files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for context in ["main", "http", "server"] {
        let Ok(entries) = std::fs::read_dir(dir.join(context)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        out.extend(paths.into_iter().map(|p| (context.to_string(), p)));
    }
    out
}

/// The text as nginx would read it in `context`.
fn wrapped(context: &str, text: &str) -> String {
    match context {
        "http" => format!("http {{\n{text}\n}}\n"),
        "server" => format!("http {{ server {{\n{text}\n}} }}\n"),
        _ => text.to_string(),
    }
}

/// One target as both sides name it: the argument as written, or for an
/// upstream `NAME ADDRESS` per server.
fn upstream_element(name: &str, address: &impl std::fmt::Display) -> String {
    format!("upstream {name} {address}")
}

/// The targets crossplane's tree gives.
fn oracle(parsed: &[Value]) -> BTreeSet<String> {
    fn walk<'a>(block: &'a [Value], out: &mut Vec<(&'a str, &'a Value)>, ctx: &'a str) {
        for d in block {
            let name = d["directive"].as_str().unwrap_or_default();
            let ctx = match name {
                "http" => "http",
                "stream" => "stream",
                _ => ctx,
            };
            out.push((ctx, d));
            if let Some(b) = d["block"].as_array() {
                walk(b, out, ctx);
            }
        }
    }
    let mut all = Vec::new();
    walk(parsed, &mut all, "main");
    let arg0 = |d: &Value| d["args"][0].as_str().map(str::to_string);
    let mut upstreams: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (ctx, d) in &all {
        if d["directive"] == "upstream"
            && let Some(name) = arg0(d)
        {
            let servers = d["block"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .filter(|c| c["directive"] == "server")
                        .filter_map(arg0)
                        .collect()
                })
                .unwrap_or_default();
            upstreams.insert(((*ctx).to_string(), name.to_ascii_lowercase()), servers);
        }
    }
    let mut out = BTreeSet::new();
    for (ctx, d) in &all {
        let name = d["directive"].as_str().unwrap_or_default();
        let is_pass = match *ctx {
            "http" => PASSES.contains(&name),
            "stream" => name == "proxy_pass",
            _ => false,
        };
        let Some(raw) = arg0(d).filter(|_| is_pass) else {
            continue;
        };
        let rest = raw.split_once("://").map_or(raw.as_str(), |(_, r)| r);
        let authority = if *ctx == "stream" {
            rest
        } else {
            rest.split('/').next().unwrap_or(rest)
        };
        let key = ((*ctx).to_string(), authority.to_ascii_lowercase());
        match upstreams.get(&key) {
            Some(servers) if !authority.contains([':', '$']) => {
                for s in servers {
                    let default_port = 80;
                    let address = nginx::parse_address(s, default_port);
                    out.insert(upstream_element(&key.1, &address));
                }
            }
            _ => {
                out.insert(raw);
            }
        }
    }
    out
}

/// The targets the model gives.
fn model(text: &str, file: &Path) -> BTreeSet<String> {
    let (m, _) = nginx::model_from_str(text, file, Path::new("/prefix"));
    m.forward_targets()
        .into_iter()
        .map(|t| match &t.upstream {
            Some(up) => upstream_element(&up.to_ascii_lowercase(), &t.address),
            None => t.raw,
        })
        .collect()
}

fn crossplane(file: &Path) -> Vec<Value> {
    let out = std::process::Command::new("crossplane")
        .args(["parse", "--single-file"])
        .arg(file)
        .output()
        .expect("crossplane must be installed (scripts/test installs it)");
    assert!(out.status.success(), "crossplane on {}", file.display());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["config"][0]["parsed"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// One file's comparison: `None` when both agree, else what differs.
fn compare(context: &str, path: &Path, scratch: &Path) -> Option<String> {
    let bytes = std::fs::read(path).unwrap();
    let text = wrapped(context, &String::from_utf8_lossy(&bytes));
    let name = path.file_name().unwrap();
    let tmp = scratch.join(format!("{context}-{}", name.to_string_lossy()));
    std::fs::write(&tmp, &text).unwrap();
    let want = oracle(&crossplane(&tmp));
    let got = model(&text, &tmp);
    (want != got).then(|| {
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        format!(
            "{}: missing {missing:?}, extra {extra:?}",
            path.strip_prefix(corpus()).unwrap_or(path).display()
        )
    })
}

/// `(agreeing, total, disagreements)` over a corpus directory.
fn measure(dir: &Path) -> (usize, usize, Vec<String>) {
    let files = files(dir);
    let scratch = tempfile::tempdir().unwrap();
    let chunks: Vec<&[(String, PathBuf)]> = files.chunks(files.len().div_ceil(4).max(1)).collect();
    let disagreements: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let scratch = scratch.path();
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(c, p)| compare(c, p, scratch))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    (
        files.len() - disagreements.len(),
        files.len(),
        disagreements,
    )
}

#[test]
fn nginx_forward_targets_agree_with_crossplane_on_real_configs() {
    if let Some(extra) = std::env::var_os("WHY5XX_NGINX_CORPUS") {
        let (agree, total, disagreements) = measure(Path::new(&extra));
        for d in &disagreements {
            eprintln!("disagree (extra corpus): {d}");
        }
        eprintln!("crossplane agreement (extra corpus): {agree}/{total}");
    }
    let (agree, total, disagreements) = measure(&corpus());
    for d in &disagreements {
        eprintln!("disagree: {d}");
    }
    eprintln!("crossplane agreement: {agree}/{total}");
    assert!(total >= CORPUS_FILES, "the corpus holds {total} files");
    assert!(
        agree >= AGREEING,
        "agreement fell to {agree}/{total} (was {AGREEING})"
    );
}
