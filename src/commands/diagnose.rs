//! `why5xx [diagnose]`: one whole diagnosis — discovery, then every probe
//! under the deadline, assessment, rules, and the report — and the command
//! that renders it and sets the exit code. The command line, the exporter
//! and tests all run [`diagnose`] the same way. It prints only through the
//! reporters.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::Context;

use crate::cli::{DiagnoseArgs, FailOn};
use crate::config::{self, Config};
use crate::engine::{plan, runner};
use crate::model::findings::Severity;
use crate::model::probe_id::ProbeId;
use crate::report::Report;
use crate::report::baseline;
use crate::{EXIT_CRITICAL, EXIT_OK, EXIT_WARNING};
use crate::{assess, rules};

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
                r.planned.id = ProbeId::proxy(kind.name());
            }
        }
    }
    let planned = plan::plan(cfg, proxy.as_ref());
    tracing::info!("{} probes planned", planned.len() + runs.len());
    let left = deadline.saturating_sub(clock.elapsed());
    runs.extend(runner::run(planned, ctx, concurrency, left).await);

    let thresholds = cfg.thresholds();
    let assessed: Vec<_> = runs.iter().map(|r| assess::assess(r, thresholds)).collect();
    let findings = rules::diagnose(&rules::Facts::new(&runs, &assessed, cfg));
    Report::new(started, clock.elapsed(), &runs, &assessed, findings)
}

/// Load the config (or the zero-config default) and apply the command line.
fn effective_config(args: &DiagnoseArgs) -> anyhow::Result<Config> {
    let mut cfg = match &args.config {
        Some(path) => config::load(path)?,
        None => Config::default(),
    };
    if let Some(d) = args.deadline {
        cfg.agent.deadline = d;
    }
    if let Some(s) = args.since {
        cfg.agent.since = s;
    }
    if args.no_discover {
        cfg.agent.discover = false;
    }
    for raw in &args.urls {
        let url = config::parse_url(raw, &["http", "https"])
            .map_err(|e| anyhow::anyhow!("URL argument: {e}"))?;
        let mut name = config::default_name(&url, 0);
        let mut n = 1;
        while cfg.endpoints.iter().any(|e| e.name == name) {
            n += 1;
            name = format!("{}-{n}", config::default_name(&url, 0));
        }
        cfg.endpoints.push(config::Endpoint {
            name,
            url,
            expect_status: None,
            headers: Vec::new(),
            resolve: None,
            timeout: cfg.agent.timeout,
            tls_warn: config::DEFAULT_TLS_WARN,
            slow: None,
            follow_redirects: 0,
        });
    }
    if let Some(t) = args.timeout {
        cfg.agent.timeout = t;
        for e in &mut cfg.endpoints {
            e.timeout = t;
        }
        for u in &mut cfg.upstreams {
            u.timeout = t;
        }
        for d in &mut cfg.dependencies {
            d.timeout = t;
        }
        for d in &mut cfg.dns {
            d.timeout = t;
        }
        for x in &mut cfg.tls {
            x.timeout = t;
        }
    }
    Ok(cfg)
}

/// Run the diagnosis the command line asks for, write the report, and
/// return the exit code.
pub fn command(args: &DiagnoseArgs) -> anyhow::Result<u8> {
    let cfg = effective_config(args)?;
    // A bad baseline is exit 3 before anything is probed.
    let baseline = args.baseline.as_deref().map(baseline::load).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut report = runtime.block_on(diagnose(&cfg));
    // Blocking reads stuck on a sick filesystem must not hold the exit.
    runtime.shutdown_background();
    if let Some(b) = &baseline {
        report.changes = Some(baseline::compare(b, &report));
    }

    let color = args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let mut buf = Vec::new();
    crate::report::render(&report, args.format, color, &mut buf).context("rendering the report")?;
    if let Some(path) = &args.output {
        crate::report::write_atomically(path, &buf)
            .with_context(|| format!("writing the report to {}", path.display()))?;
    } else {
        let mut out = std::io::stdout().lock();
        // A closed pipe (| head) is not an error worth exit 3.
        let _ = out.write_all(&buf).and_then(|()| out.flush());
    }
    Ok(exit_code(report.worst(), args.fail_on))
}

fn exit_code(worst: Option<Severity>, fail_on: FailOn) -> u8 {
    match (worst, fail_on) {
        (Some(Severity::Critical), _) => EXIT_CRITICAL,
        (Some(Severity::Warning), FailOn::Warning) => EXIT_WARNING,
        _ => EXIT_OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_plugin_convention() {
        assert_eq!(exit_code(None, FailOn::Warning), 0);
        assert_eq!(exit_code(Some(Severity::Info), FailOn::Warning), 0);
        assert_eq!(exit_code(Some(Severity::Warning), FailOn::Warning), 1);
        assert_eq!(exit_code(Some(Severity::Warning), FailOn::Critical), 0);
        assert_eq!(exit_code(Some(Severity::Critical), FailOn::Critical), 2);
    }
}
