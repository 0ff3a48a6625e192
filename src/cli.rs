//! The command line, per docs/contract.md. `diagnose` is the default subcommand, so
//! `why5xx`, `why5xx https://site/` and `why5xx diagnose ...` are the same.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Format;

/// Names the likely cause of HTTP 5xx errors on this server, with the
/// evidence and what to do next.
#[derive(Debug, Parser)]
#[command(name = "why5xx", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub diagnose: DiagnoseArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe this host and the given URLs and name the likely causes (the default).
    Diagnose(DiagnoseArgs),
    /// Validate a config file: exit 0, or 3 with `file:line:col` and the key.
    CheckConfig {
        /// The config file.
        file: PathBuf,
    },
    /// List every cause id with its guide section and status codes.
    Rules,
    /// Prometheus exporter: run the configured diagnosis on each scrape of /metrics.
    Serve(crate::commands::serve::ServeArgs),
    /// Print a starter config built from what discovery finds on this host.
    Init(crate::commands::init::InitArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output.
    Man,
}

#[derive(Debug, Clone, Args)]
pub struct DiagnoseArgs {
    /// Public endpoints to probe (http:// or https://), added to the config's.
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
    /// Config file (TOML).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report here (atomically) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Hard cap on the whole run, like "10s".
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub deadline: Option<Duration>,
    /// How far back logs are read, like "15m" or "24h"; overrides `[agent] since`.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub since: Option<Duration>,
    /// Per-probe timeout, like "5s"; overrides the config's.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<Duration>,
    /// Lowest finding severity that makes the exit code non-zero.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
    /// Do not discover the reverse proxy, its upstreams and listeners.
    #[arg(long)]
    pub no_discover: bool,
    /// More detail on stderr (-v info, -vv debug, -vvv trace).
    #[arg(long, short = 'v', action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// A previous JSON report: also report what changed since.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

/// Exit-code threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Warning,
    Critical,
}

fn duration(s: &str) -> Result<Duration, String> {
    crate::config::parse_duration(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn diagnose_is_the_default() {
        let cli =
            Cli::try_parse_from(["why5xx", "https://a.example/", "--format", "json"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.diagnose.urls, ["https://a.example/"]);
        assert_eq!(cli.diagnose.format, Format::Json);
        let cli = Cli::try_parse_from(["why5xx", "rules"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Rules)));
    }
}
