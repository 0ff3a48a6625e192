//! The subcommands: each takes its parsed arguments and returns the exit
//! code. They run the pipeline and hand its result to the reporters; they
//! decide no cause themselves.

pub mod diagnose;
pub mod init;
pub mod serve;

use std::io::Write;

use anyhow::Context;

use crate::EXIT_OK;
use crate::cli::Cli;
use crate::config;
use crate::engine::plan;
use crate::model::causes;
use crate::rules;

pub fn check_config(path: &std::path::Path) -> anyhow::Result<u8> {
    let cfg = config::load(path)?;
    let probes = plan::plan(&cfg, None);
    println!("{}: OK ({} probes)", path.display(), probes.len());
    Ok(EXIT_OK)
}

pub fn list_rules() -> u8 {
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
    let _ = writeln!(
        out,
        "\nprecedence (source acts on target; applied top to bottom):"
    );
    for r in rules::precedence::PRECEDENCE {
        let _ = writeln!(
            out,
            "  {} {} {} ({:?}, {:?}): {}",
            r.source,
            match r.effect {
                rules::precedence::Effect::Absorb => "absorbs",
                rules::precedence::Effect::Demote => "demotes",
            },
            r.target,
            r.equal,
            r.when,
            r.why
        );
    }
    EXIT_OK
}

pub fn completions(shell: clap_complete::Shell) -> u8 {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "why5xx", &mut out);
    let _ = out.flush();
    EXIT_OK
}

pub fn man_page() -> anyhow::Result<u8> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .context("rendering the man page")?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&buf).and_then(|()| out.flush());
    Ok(EXIT_OK)
}
