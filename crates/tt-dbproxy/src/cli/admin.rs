//! `tt-dbproxy admin`: operator tasks on the configured store. Writes go
//! through the same storage interface as the server, so they work while
//! it runs and the server sees them on the next request.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{ConfigArgs, load_config, open_store};
use crate::auth::password;
use crate::clock::Clock;
use crate::store::NewUser;

/// `admin` arguments.
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    what: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Users (IMUser).
    User {
        #[command(subcommand)]
        cmd: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user who can log in with PLAIN (stored as md5(md5(plain)+salt)).
    Add {
        /// Login name.
        name: String,
        /// Plain-text password.
        #[arg(long)]
        password: String,
        /// Nickname (default: the name).
        #[arg(long)]
        nick: Option<String>,
        /// Department id.
        #[arg(long, default_value_t = 0)]
        depart: u32,
    },
    /// List users.
    List,
}

pub(super) async fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.config)?;
    let store = open_store(&config).await?;
    match args.what {
        AdminCommand::User {
            cmd:
                UserCommand::Add {
                    name,
                    password: plain,
                    nick,
                    depart,
                },
        } => {
            anyhow::ensure!(!name.is_empty(), "the user name must not be empty");
            let now = Clock::system().now_secs();
            let salt = password::random_salt();
            let user = NewUser {
                nick: nick.unwrap_or_else(|| name.clone()),
                password: password::stored_hash(&plain, &salt),
                salt,
                name: name.clone(),
                depart_id: depart,
                created: now,
                updated: now,
                ..Default::default()
            };
            let id = store.add_user(user).await?;
            println!("added user {name} with id {id}");
        }
        AdminCommand::User {
            cmd: UserCommand::List,
        } => {
            println!(
                "{:>8}  {:<20}  {:<20}  {:>7}  {:>6}",
                "id", "name", "nick", "depart", "status"
            );
            for u in store.list_users().await? {
                println!(
                    "{:>8}  {:<20}  {:<20}  {:>7}  {:>6}",
                    u.id, u.name, u.nick, u.depart_id, u.status
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
