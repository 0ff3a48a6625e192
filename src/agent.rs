//! One whole diagnosis: discovery, then every probe under the deadline,
//! assessment, rules, and the report. The command line, the exporter and
//! tests all run it the same way.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::config::Config;
use crate::report::Report;
use crate::{assess, plan, rules, runner};

/// Run the diagnosis `cfg` describes and return its report. Never fails:
/// whatever the probes meet becomes observations in the report.
pub async fn diagnose(cfg: &Config) -> Report {
    let started = SystemTime::now();
    let clock = Instant::now();
    let ctx = Arc::new(why5xx_probes::ProbeContext::new(cfg.ca_files.clone()));
    let deadline = cfg.agent.deadline;
    // A low `ulimit -n` on a sick box means fewer probes at once, not
    // "too many open files" failures mistaken for the outage's cause.
    let concurrency =
        runner::fd_capped_concurrency(cfg.agent.concurrency, runner::open_files_soft_limit());
    if concurrency < cfg.agent.concurrency {
        tracing::info!(
            "concurrency reduced from {} to {concurrency} by the open files limit (ulimit -n)",
            cfg.agent.concurrency
        );
    }

    // Discovery first: what the proxy forwards to decides what else runs.
    let mut runs = runner::run(
        plan::plan_discovery(cfg),
        Arc::clone(&ctx),
        concurrency,
        deadline,
    )
    .await;
    let proxy = runs.iter().find_map(|r| match r.observation() {
        Some(why5xx_probes::Observation::Proxy(p)) => Some(p.clone()),
        _ => None,
    });
    // The id names the proxy found (`proxy:nginx`), not the search.
    if let Some(kind) = proxy.as_ref().and_then(|p| p.kind) {
        for r in &mut runs {
            if matches!(r.planned.role, plan::Role::Proxy) {
                r.planned.id = format!("proxy:{}", kind.name());
            }
        }
    }
    let planned = plan::plan(cfg, proxy.as_ref());
    tracing::info!("{} probes planned", planned.len() + runs.len());
    let left = deadline.saturating_sub(clock.elapsed());
    runs.extend(runner::run(planned, ctx, concurrency, left).await);

    let assessed: Vec<_> = runs.iter().map(|r| assess::assess(r, &cfg.host)).collect();
    let findings = rules::diagnose(&rules::Facts {
        runs: &runs,
        assessed: &assessed,
        cfg,
    });
    Report::new(started, clock.elapsed(), &runs, &assessed, findings)
}
