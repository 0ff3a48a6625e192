//! Rule tests on observation fixtures: a config and the observations of each
//! probe go in, the ranked causes come out — no network, no processes.
//!
//! Two forms, both in `tests/fixtures/rules/`:
//!
//! - hand-written TOML, for cases one machine cannot reproduce and for the
//!   ambiguous pairs:
//!
//!   ```toml
//!   expect = ["upstream-not-running"]       # causes at warning or above, ranked
//!   config = """ ...a why5xx config... """
//!   [[probe]]
//!   id = "upstream:app"
//!   kind = "http"
//!   observations = { failure = { kind = "refused", phase = "connect", detail = "..." } }
//!   ```
//!
//! - JSON kept from a failure-lab run (`WHY5XX_LAB_FIXTURES=DIR`): the
//!   scenario's config and the real report its run produced, so the rules
//!   are tested on what real probes observed.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use why5xx_probes::Observation;

use crate::engine::runner::{Outcome, ProbeRun};
use crate::model::findings::{Finding, Severity};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    expect: Vec<String>,
    config: String,
    #[serde(default)]
    probe: Vec<FixtureProbe>,
    /// Lab fixtures: the scenario's name.
    #[serde(default)]
    scenario: Option<String>,
    /// Lab fixtures: the whole report; its `probes` are the observations.
    #[serde(default)]
    report: Option<LabReport>,
}

#[derive(Deserialize)]
struct LabReport {
    probes: Vec<FixtureProbe>,
}

#[derive(Deserialize)]
struct FixtureProbe {
    id: String,
    kind: String,
    #[serde(default)]
    observations: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    duration_ms: u64,
}

/// The runs a fixture describes, with the config they were planned from
/// and the causes it expects.
pub fn runs_from_fixture(
    text: &str,
    json: bool,
) -> (crate::config::Config, Vec<ProbeRun>, Vec<String>) {
    let fx: Fixture = if json {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture: {e}"))
    } else {
        toml::from_str(text).unwrap_or_else(|e| panic!("fixture: {e}"))
    };
    let cfg = crate::config::parse(&fx.config, Path::new("fixture.toml"))
        .unwrap_or_else(|e| panic!("fixture config: {e}"));
    let mut probes = fx.probe;
    if let Some(r) = fx.report {
        probes.extend(r.probes);
    }
    let observation = |p: &FixtureProbe| -> Option<Observation> {
        let o = p.observations.clone()?;
        let tagged = serde_json::json!({ "kind": p.kind, "observations": o });
        Some(
            serde_json::from_value(tagged)
                .unwrap_or_else(|e| panic!("fixture probe {} observations: {e}", p.id)),
        )
    };
    let proxy = probes
        .iter()
        .find(|p| p.kind == "proxy")
        .and_then(|p| match observation(p) {
            Some(Observation::Proxy(o)) => Some(o),
            _ => None,
        });
    let mut planned = crate::engine::plan::plan_discovery(&cfg);
    planned.extend(crate::engine::plan::plan(&cfg, proxy.as_ref()));
    let runs = probes
        .iter()
        .map(|p| {
            let planned = planned
                .iter()
                .find(|x| x.id.as_str() == p.id)
                .unwrap_or_else(|| {
                    panic!(
                        "fixture probe {} is not planned by its config ({:?})",
                        p.id, fx.scenario
                    )
                })
                .clone();
            assert_eq!(planned.spec.kind(), p.kind, "fixture probe {} kind", p.id);
            let outcome = match (&p.error, observation(p)) {
                (Some(e), _) => Outcome::Unfinished(e.clone()),
                (None, Some(o)) => Outcome::Observed(o),
                (None, None) => panic!("fixture probe {} needs observations or error", p.id),
            };
            ProbeRun {
                planned,
                outcome,
                duration: Duration::from_millis(p.duration_ms),
            }
        })
        .collect();
    (cfg, runs, fx.expect)
}

/// Run the rules on a TOML fixture and return the findings, ranked.
pub fn facts_from_toml(text: &str) -> Vec<Finding> {
    findings_of(text, false)
}

fn findings_of(text: &str, json: bool) -> Vec<Finding> {
    let (cfg, runs, _) = runs_from_fixture(text, json);
    let assessed: Vec<_> = runs
        .iter()
        .map(|r| crate::assess::assess(r, &cfg.host))
        .collect();
    crate::rules::diagnose(&crate::rules::Facts::new(&runs, &assessed, &cfg))
}

#[test]
fn every_fixture_gives_its_expected_causes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let json = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => false,
            Some("json") => true,
            _ => continue,
        };
        let text = std::fs::read_to_string(&path).unwrap();
        let (_, _, expect) = runs_from_fixture(&text, json);
        let found: Vec<String> = findings_of(&text, json)
            .into_iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.cause.id().to_string())
            .collect();
        if found != expect {
            failures.push(format!(
                "{}: expected {expect:?}, got {found:?}",
                path.display()
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked >= 5,
        "only {checked} fixtures found in {}",
        dir.display()
    );
}
