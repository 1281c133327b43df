//! `tt-dbproxy console add-admin NAME`: creates a console account (the
//! first one of a fresh install). The password is read from a prompt (not
//! echoed) or from the first line of standard input, never from the
//! command line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::output::outln;
use super::setup::{ConfigArgs, load_config, open_store};
use crate::clock::Clock;
use crate::console::auth;
use crate::store::AuditEntry;

/// `console` arguments.
#[derive(Debug, Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    what: ConsoleCommand,
}

#[derive(Debug, Subcommand)]
enum ConsoleCommand {
    /// Add a console account (IMAdmin, Argon2id); the password is read
    /// from a prompt or from standard input.
    AddAdmin {
        /// Account name (letters, digits, _ . - @; at most 40).
        name: String,
    },
}

/// Turns terminal echo on or off (best effort: `stty`).
fn echo(on: bool) {
    let _ = Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(Stdio::inherit())
        .status();
}

/// One line of standard input, without its line end.
fn read_line(prompt: Option<&str>) -> anyhow::Result<String> {
    if let Some(p) = prompt {
        eprint!("{p}");
        let _ = std::io::stderr().flush();
        echo(false);
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if prompt.is_some() {
        echo(true);
        eprintln!();
    }
    read.context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The new account's password: asked twice on a terminal, else the first
/// line of standard input.
fn password(name: &str) -> anyhow::Result<String> {
    let plain = if std::io::stdin().is_terminal() {
        let a = read_line(Some(&format!("Password for {name}: ")))?;
        let b = read_line(Some("Again: "))?;
        if a != b {
            bail!("the two passwords differ");
        }
        a
    } else {
        read_line(None)?
    };
    auth::check_new_password(name, &plain, &plain).map_err(anyhow::Error::msg)?;
    Ok(plain)
}

pub(super) async fn run(args: ConsoleArgs) -> anyhow::Result<ExitCode> {
    let ConsoleCommand::AddAdmin { name } = args.what;
    auth::check_account_name(&name).map_err(anyhow::Error::msg)?;
    let (config, _) = load_config(&args.config)?;
    let store = open_store(&config).await?;
    store
        .prepare_console()
        .await
        .context("creating the console's tables")?;
    if store.console_account_by_name(&name).await?.is_some() {
        bail!("a console account named {name} exists");
    }
    let plain = password(&name)?;
    let hash = auth::hash(&plain)?;
    let now = Clock::system().now_secs();
    let id = store.add_console_account(&name, &hash, now).await?;
    store
        .add_audit(AuditEntry {
            at: now,
            who: "tt-dbproxy console".into(),
            what: format!("account.add id={id} name={name}"),
            from: "command line".into(),
            ..Default::default()
        })
        .await?;
    outln!("added console account {name} with id {id}")?;
    Ok(ExitCode::SUCCESS)
}
