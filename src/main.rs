//! why5xx: names the likely cause of HTTP 5xx errors on this server, with
//! the evidence and what to do next. The pipeline, one stage a module, each
//! knowing only the ones before it:
//!
//! `model` (leaf types) → `config` → `engine` (plan, runner) → `assess`
//! (a status per probe) → `rules` (named causes) → `report` (formats) →
//! `commands` (diagnose, check-config, rules, serve, init). This file parses
//! the command line and dispatches.

mod assess;
mod cli;
mod commands;
mod config;
mod engine;
mod model;
mod report;
mod rules;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit codes of the Nagios plugin convention (docs/contract.md).
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
        None | Some(Command::Diagnose(_)) => commands::diagnose::command(&args),
        Some(Command::CheckConfig { file }) => commands::check_config(&file),
        Some(Command::Rules) => Ok(commands::list_rules()),
        Some(Command::Serve(s)) => commands::serve::command(&s),
        Some(Command::Init(a)) => Ok(commands::init::run(&a)),
        Some(Command::Completions { shell }) => Ok(commands::completions(shell)),
        Some(Command::Man) => commands::man_page(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("why5xx: {e:#}");
            // A Nagios plugin says UNKNOWN on stdout: that is what the
            // monitoring system shows.
            if diagnosing && args.format == report::Format::Nagios {
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
