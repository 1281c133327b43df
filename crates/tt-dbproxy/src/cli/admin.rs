//! `tt-dbproxy admin`: operator tasks on the configured store. Writes go
//! through the same storage interface as the server, so they work while
//! it runs and the server sees them on the next request. Changes to users
//! move the user-list change gate so clients' incremental syncs see them.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, ensure};
use clap::{Args, Subcommand};

use super::output::outln;
use super::setup::{ConfigArgs, load_config, open_store};
use crate::auth::password;
use crate::clock::Clock;
use crate::handler::group::{GROUP_NORMAL, GROUP_TEMPORARY};
use crate::handler::user::MAX_SIGN_INFO_BYTES;
use crate::store::{DepartRecord, NewGroup, NewUser, Store, UserUpdate};

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
    /// Departments (IMDepart).
    Depart {
        #[command(subcommand)]
        cmd: DepartCommand,
    },
    /// Groups (IMGroup, IMGroupMember and the membership cache).
    Group {
        #[command(subcommand)]
        cmd: GroupCommand,
    },
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Create a group with its members.
    Add {
        /// Group name.
        name: String,
        /// Creator's user id (may change a fixed group's members).
        #[arg(long)]
        creator: u32,
        /// Member ids, comma-separated (include the creator).
        #[arg(long, value_delimiter = ',', required = true)]
        members: Vec<u32>,
        /// A temporary group instead of a fixed one.
        #[arg(long)]
        temporary: bool,
        /// Avatar URL.
        #[arg(long, default_value = "")]
        avatar: String,
    },
    /// List groups.
    List,
    /// Show a group's members.
    Members {
        /// Group id.
        id: u32,
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
    /// Change a user; only the given fields change.
    Set {
        /// User id.
        id: u32,
        /// New nickname.
        #[arg(long)]
        nick: Option<String>,
        /// New department id.
        #[arg(long)]
        depart: Option<u32>,
        /// New status: 0 active, 1 probation, 2 regular, 3 departed, 4 intern
        /// (only status 0 can log in).
        #[arg(long)]
        status: Option<u32>,
        /// New sign-info (at most 128 bytes).
        #[arg(long)]
        sign_info: Option<String>,
        /// New plain-text password.
        #[arg(long)]
        password: Option<String>,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
enum DepartCommand {
    /// Add a department.
    Add {
        /// Department name.
        name: String,
        /// Parent department id (0 for a top-level one).
        #[arg(long, default_value_t = 0)]
        parent: u32,
        /// Display priority.
        #[arg(long, default_value_t = 0)]
        priority: u32,
    },
    /// List departments.
    List,
}

pub(super) async fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.config)?;
    let store = open_store(&config).await?;
    let now = Clock::system().now_secs();
    match args.what {
        AdminCommand::User { cmd } => user(store, cmd, now).await?,
        AdminCommand::Depart { cmd } => depart(store, cmd, now).await?,
        AdminCommand::Group { cmd } => group(store, cmd, now).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn user(store: Arc<dyn Store>, cmd: UserCommand, now: u32) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            name,
            password: plain,
            nick,
            depart,
        } => {
            ensure!(!name.is_empty(), "the user name must not be empty");
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
            store.set_user_list_gate(now).await?;
            outln!("added user {name} with id {id}")?;
        }
        UserCommand::Set {
            id,
            nick,
            depart,
            status,
            sign_info,
            password: plain,
        } => {
            if let Some(s) = &sign_info {
                ensure!(
                    s.len() <= MAX_SIGN_INFO_BYTES,
                    "--sign-info is longer than {MAX_SIGN_INFO_BYTES} bytes"
                );
            }
            let password_and_salt = plain.map(|p| {
                let salt = password::random_salt();
                (password::stored_hash(&p, &salt), salt)
            });
            let update = UserUpdate {
                nick,
                depart_id: depart,
                status,
                sign_info,
                password_and_salt,
            };
            ensure!(
                update != UserUpdate::default(),
                "nothing to change: give at least one option"
            );
            if !store.update_user(id, update, now).await? {
                bail!("user {id} does not exist or already has these values");
            }
            store.set_user_list_gate(now).await?;
            outln!("updated user {id}")?;
        }
        UserCommand::List => {
            outln!(
                "{:>8}  {:<20}  {:<20}  {:>7}  {:>6}",
                "id",
                "name",
                "nick",
                "depart",
                "status"
            )?;
            for u in store.list_users().await? {
                outln!(
                    "{:>8}  {:<20}  {:<20}  {:>7}  {:>6}",
                    u.id,
                    u.name,
                    u.nick,
                    u.depart_id,
                    u.status
                )?;
            }
        }
    }
    Ok(())
}

async fn depart(store: Arc<dyn Store>, cmd: DepartCommand, now: u32) -> anyhow::Result<()> {
    match cmd {
        DepartCommand::Add {
            name,
            parent,
            priority,
        } => {
            ensure!(!name.is_empty(), "the department name must not be empty");
            let d = DepartRecord {
                name: name.clone(),
                priority,
                parent_id: parent,
                created: now,
                updated: now,
                ..Default::default()
            };
            let id = store.add_department(d).await?;
            outln!("added department {name} with id {id}")?;
        }
        DepartCommand::List => {
            outln!(
                "{:>8}  {:<24}  {:>8}  {:>8}  {:>6}",
                "id",
                "name",
                "parent",
                "priority",
                "status"
            )?;
            for d in store.list_departments().await? {
                outln!(
                    "{:>8}  {:<24}  {:>8}  {:>8}  {:>6}",
                    d.id,
                    d.name,
                    d.parent_id,
                    d.priority,
                    d.status
                )?;
            }
        }
    }
    Ok(())
}

async fn group(store: Arc<dyn Store>, cmd: GroupCommand, now: u32) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::Add {
            name,
            creator,
            mut members,
            temporary,
            avatar,
        } => {
            ensure!(!name.is_empty(), "the group name must not be empty");
            members.sort_unstable();
            members.dedup();
            let group_type = if temporary {
                GROUP_TEMPORARY
            } else {
                GROUP_NORMAL
            };
            let id = store
                .create_group(
                    NewGroup {
                        name: name.clone(),
                        avatar,
                        creator,
                        group_type,
                        members,
                    },
                    now,
                )
                .await?;
            outln!("added group {name} with id {id}")?;
        }
        GroupCommand::List => {
            outln!(
                "{:>8}  {:<24}  {:>8}  {:>9}  {:>7}  {:>7}",
                "id",
                "name",
                "creator",
                "type",
                "members",
                "version"
            )?;
            for g in store.list_groups().await? {
                let kind = if g.group_type == GROUP_TEMPORARY {
                    "temporary"
                } else {
                    "fixed"
                };
                outln!(
                    "{:>8}  {:<24}  {:>8}  {:>9}  {:>7}  {:>7}",
                    g.id,
                    g.name,
                    g.creator,
                    kind,
                    g.user_count,
                    g.version
                )?;
            }
        }
        GroupCommand::Members { id } => {
            let mut members = store.group_members(id).await?;
            members.sort_unstable();
            ensure!(
                !members.is_empty(),
                "group {id} has no members (or does not exist)"
            );
            for m in members {
                outln!("{m}")?;
            }
        }
    }
    Ok(())
}
