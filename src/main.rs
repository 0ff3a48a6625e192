//! why5xx: names the likely cause of HTTP 5xx errors on this server, with
//! the evidence and what to do next. This file wires the stages together:
//! CLI → config → plan → runner → assessment → rules → report.

mod agent;
mod assess;
mod baseline;
mod causes;
mod cli;
mod config;
mod facts;
mod findings;
#[cfg(test)]
mod fixtures;
mod init;
mod plan;
mod report;
mod rules;
mod runner;
mod serve;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::cli::{Cli, Command, DiagnoseArgs, FailOn};
use crate::config::Config;
use crate::findings::Severity;

/// Exit codes of the Nagios plugin convention (SPEC.md).
const EXIT_OK: u8 = 0;
const EXIT_WARNING: u8 = 1;
const EXIT_CRITICAL: u8 = 2;
const EXIT_UNKNOWN: u8 = 3;

fn main() -> ExitCode {
    // One crypto provider, installed before anything builds a TLS config.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let msg = e.render().to_string();
            // The first paragraph, on one line: clap puts what is missing
            // (`<FILE>`) on the lines after "not provided:".
            let first = msg
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let first = first.trim_start_matches("error: ");
            let first = if first.is_empty() {
                "invalid arguments"
            } else {
                first
            };
            eprintln!("why5xx: {first} (see why5xx --help)");
            return ExitCode::from(EXIT_UNKNOWN);
        }
    };

    let args = match &cli.command {
        Some(Command::Diagnose(a)) => a.clone(),
        _ => cli.diagnose.clone(),
    };
    match &cli.command {
        Some(Command::Serve(s)) => init_tracing(s.verbose, s.quiet),
        _ => init_tracing(args.verbose, args.quiet),
    }

    let diagnosing = matches!(cli.command, None | Some(Command::Diagnose(_)));
    let result = match cli.command {
        None | Some(Command::Diagnose(_)) => diagnose(&args),
        Some(Command::CheckConfig { file }) => check_config(&file),
        Some(Command::Rules) => Ok(list_rules()),
        Some(Command::Serve(s)) => serve_metrics(&s),
        Some(Command::Init(a)) => Ok(init::run(&a)),
        Some(Command::Completions { shell }) => Ok(completions(shell)),
        Some(Command::Man) => man_page(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("why5xx: {e:#}");
            // A Nagios plugin says UNKNOWN on stdout: that is what the
            // monitoring system shows.
            if diagnosing && args.format == cli::Format::Nagios {
                println!("WHY5XX UNKNOWN - {e:#}");
            }
            ExitCode::from(EXIT_UNKNOWN)
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = std::env::var("WHY5XX_LOG")
        .unwrap_or_else(|_| format!("{level},rustls_platform_verifier=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
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

fn diagnose(args: &DiagnoseArgs) -> anyhow::Result<u8> {
    let cfg = effective_config(args)?;
    // A bad baseline is exit 3 before anything is probed.
    let baseline = args.baseline.as_deref().map(baseline::load).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut report = runtime.block_on(agent::diagnose(&cfg));
    // Blocking reads stuck on a sick filesystem must not hold the exit.
    runtime.shutdown_background();
    if let Some(b) = &baseline {
        report.changes = Some(baseline::compare(b, &report));
    }

    let color = args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let mut buf = Vec::new();
    report::render(&report, args.format, color, &mut buf).context("rendering the report")?;
    if let Some(path) = &args.output {
        report::write_atomically(path, &buf)
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

fn check_config(path: &std::path::Path) -> anyhow::Result<u8> {
    let cfg = config::load(path)?;
    let probes = plan::plan(&cfg, None);
    println!("{}: OK ({} probes)", path.display(), probes.len());
    Ok(EXIT_OK)
}

fn serve_metrics(args: &serve::ServeArgs) -> anyhow::Result<u8> {
    let cfg = match &args.config {
        Some(path) => config::load(path)?,
        None => Config::default(),
    };
    serve::run(args, cfg)
}

fn completions(shell: clap_complete::Shell) -> u8 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "why5xx", &mut out);
    let _ = out.flush();
    EXIT_OK
}

fn man_page() -> anyhow::Result<u8> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .context("rendering the man page")?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&buf).and_then(|()| out.flush());
    Ok(EXIT_OK)
}

fn list_rules() -> u8 {
    let mut out = std::io::stdout().lock();
    let w = causes::CATALOGUE
        .iter()
        .map(|c| c.id.len())
        .max()
        .unwrap_or(10);
    let _ = writeln!(
        out,
        "{:w$}  {:6}  {:34}  {:11}  the guide's words",
        "cause", "status", "guide section", "rules"
    );
    for c in causes::CATALOGUE {
        let codes = if c.status_codes.is_empty() {
            "any".to_string()
        } else {
            c.status_codes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let state = if rules::has_rules(c.cause) {
            "implemented"
        } else {
            "planned"
        };
        let _ = writeln!(
            out,
            "{:w$}  {codes:6}  {:34}  {state:11}  {}",
            c.id, c.guide_section, c.words
        );
    }
    EXIT_OK
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
