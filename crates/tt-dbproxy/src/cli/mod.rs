//! The `tt-dbproxy` command line. Each subcommand module turns its
//! arguments into library calls; `anyhow` carries context to the exit.

mod admin;
mod backup_cmd;
mod bench;
mod call;
mod console_cmd;
mod copy_cmd;
mod output;
mod serve;
mod setup;
mod shadow_cmd;
mod startup;

use migrate_cmd::migrate;
mod migrate_cmd;

use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

use crate::config::LogFormat;
pub use setup::ConfigArgs;

/// Command line of `tt-dbproxy`. With no subcommand it serves.
#[derive(Debug, Parser)]
#[command(
    name = "tt-dbproxy",
    version,
    about = "Drop-in replacement for TeamTalk's db_proxy_server",
    disable_version_flag = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,
    /// Options of `serve` when no subcommand is given.
    #[command(flatten)]
    serve: ConfigArgs,
    /// What to do (default: serve).
    #[command(subcommand)]
    command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the TeamTalk db_proxy protocol (the default).
    Serve(ConfigArgs),
    /// Manage data in the configured store (works while the server runs).
    Admin(admin::AdminArgs),
    /// Web console accounts (`console add-admin NAME`).
    Console(console_cmd::ConsoleArgs),
    /// Send one request to a server and print the reply as JSON.
    Call(call::CallArgs),
    /// Create the schema in the configured store (MySQL: the database if
    /// it is missing and the account may, then missing tables only;
    /// existing tables are never changed).
    Migrate(ConfigArgs),
    /// Load a server with a closed-loop workload and report throughput
    /// and latency percentiles.
    Bench(bench::BenchArgs),
    /// Write a consistent copy of the embedded store while it serves.
    Backup(backup_cmd::BackupArgs),
    /// Put a backup in place as the database of an empty data directory.
    Restore(backup_cmd::RestoreArgs),
    /// Forward every request to a running original and compare its read
    /// replies with this store's (rehearse the migration).
    Shadow(shadow_cmd::ShadowArgs),
    /// Copy a whole deployment between backends (embedded and MySQL +
    /// Redis, either way), optionally verifying it.
    Copy(copy_cmd::CopyArgs),
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let result = run_command(cli).await;
    match result {
        // `| head` read what it wanted: a success, as for any Unix filter.
        Err(e) if output::is_closed_stdout(&e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

async fn run_command(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => serve::serve(&cli.serve).await,
        Some(Command::Serve(args)) => serve::serve(&args).await,
        Some(Command::Admin(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            admin::run(args).await
        }
        Some(Command::Console(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            console_cmd::run(args).await
        }
        Some(Command::Call(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            call::run(args).await
        }
        Some(Command::Migrate(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            migrate(&args).await
        }
        Some(Command::Bench(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            bench::run_bench(args).await
        }
        Some(Command::Backup(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            backup_cmd::backup(args).await
        }
        Some(Command::Shadow(args)) => shadow_cmd::shadow(args).await,
        Some(Command::Copy(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            copy_cmd::run(args).await
        }
        Some(Command::Restore(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            backup_cmd::restore(args).await
        }
    }
}
