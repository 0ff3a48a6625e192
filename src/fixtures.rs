//! Rule tests on observation fixtures: a TOML file holds a config and the
//! observations of each probe; the rules run on them with no network.
//!
//! ```toml
//! expect = ["upstream-not-running"]       # causes at warning or above, ranked
//! config = """ ...a why5xx config... """
//! [[probe]]
//! id = "upstream:app"
//! kind = "http"
//! observations = { failure = { kind = "refused", phase = "connect", detail = "..." } }
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use why5xx_probes::Observation;

use crate::findings::{Finding, Severity};
use crate::runner::{Outcome, ProbeRun};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    #[serde(default)]
    expect: Vec<String>,
    config: String,
    #[serde(default)]
    probe: Vec<FixtureProbe>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureProbe {
    id: String,
    kind: String,
    #[serde(default)]
    observations: Option<toml::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    duration_ms: u64,
}

/// The runs a fixture describes, with the config they were planned from.
pub fn runs_from_toml(text: &str) -> (crate::config::Config, Vec<ProbeRun>, Vec<String>) {
    let fx: Fixture = toml::from_str(text).unwrap_or_else(|e| panic!("fixture: {e}"));
    let cfg = crate::config::parse(&fx.config, Path::new("fixture.toml"))
        .unwrap_or_else(|e| panic!("fixture config: {e}"));
    let proxy = fx.probe.iter().find(|p| p.kind == "proxy").and_then(|p| {
        let tagged =
            serde_json::json!({ "kind": "proxy", "observations": p.observations.clone()? });
        match serde_json::from_value(tagged) {
            Ok(Observation::Proxy(o)) => Some(o),
            _ => None,
        }
    });
    let mut planned = crate::plan::plan_discovery(&cfg);
    planned.extend(crate::plan::plan(&cfg, proxy.as_ref()));
    let runs = fx
        .probe
        .into_iter()
        .map(|p| {
            let planned = planned
                .iter()
                .find(|x| x.id == p.id)
                .unwrap_or_else(|| panic!("fixture probe {} is not planned by its config", p.id))
                .clone();
            assert_eq!(planned.spec.kind(), p.kind, "fixture probe {} kind", p.id);
            let outcome = match (p.observations, p.error) {
                (_, Some(e)) => Outcome::Unfinished(e),
                (Some(o), None) => {
                    let tagged = serde_json::json!({ "kind": p.kind, "observations": o });
                    let obs: Observation = serde_json::from_value(tagged)
                        .unwrap_or_else(|e| panic!("fixture probe {} observations: {e}", p.id));
                    Outcome::Observed(obs)
                }
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

/// Run the rules on a fixture and return the findings, ranked.
pub fn facts_from_toml(text: &str) -> Vec<Finding> {
    let (cfg, runs, _) = runs_from_toml(text);
    let assessed: Vec<_> = runs
        .iter()
        .map(|r| crate::assess::assess(r, &cfg.host))
        .collect();
    crate::rules::diagnose(&crate::rules::Facts {
        runs: &runs,
        assessed: &assessed,
        cfg: &cfg,
    })
}

#[test]
fn every_fixture_gives_its_expected_causes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let (_, _, expect) = runs_from_toml(&text);
        let found: Vec<String> = facts_from_toml(&text)
            .into_iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.cause.id().to_string())
            .collect();
        assert_eq!(found, expect, "{}", path.display());
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} fixtures found in {}",
        dir.display()
    );
}
