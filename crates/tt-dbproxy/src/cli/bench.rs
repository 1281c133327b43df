//! `tt-dbproxy bench`: arguments, safety bounds, `--prepare`, the progress
//! bar and the report.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::output::outln;
use super::setup::{ConfigArgs, load_config, open_store};
use crate::auth::password;
use crate::bench::workload::{BENCH_PASSWORD, BENCH_USER_PREFIX};
use crate::bench::{Options, Users, Workload, run};
use crate::clock::Clock;
use crate::state::AppState;
use crate::store::{NewUser, Store};

/// Most connections one run may open.
const MAX_CONNECTIONS: u32 = 10_000;
/// Most requests in flight per connection.
const MAX_PIPELINE: u32 = 1024;
/// Longest run.
const MAX_DURATION: Duration = Duration::from_secs(3600);

/// `bench` arguments.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Server address (loopback only unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:10600")]
    addr: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// Run this long (e.g. 10s, 500ms, 2m); default 10s unless --requests.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// What to send.
    #[arg(long, value_enum, default_value_t = Workload::Unread)]
    workload: Workload,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pipeline: u32,
    /// Users the requests are made for: `bench_0` ... `bench_<users-1>`
    /// (password `bench`), taken to have consecutive ids from `bench_0`'s.
    #[arg(long, default_value_t = 100)]
    users: u32,
    /// Id of `bench_0`, without --prepare (which looks it up instead).
    /// The default, 1, is right when the bench users were the first users
    /// created in an empty store.
    #[arg(long, default_value_t = 1)]
    first_user_id: u32,
    /// Create `bench_0` ... `bench_<users-1>` first, through the store the
    /// server uses (--config / --legacy-config, or ./dbproxyserver.conf,
    /// or ./data), and take `bench_0`'s id. If `bench_0` already exists,
    /// nothing is created (not even users missing because --users grew):
    /// its id is used, so passing --prepare on every run is safe.
    #[arg(long)]
    prepare: bool,
    /// No server: run the same requests in-process through the handlers
    /// and the store of --config (the backend-alone baseline; --addr is
    /// ignored). Stop the server first on the embedded store.
    #[arg(long)]
    direct: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Allow a non-loopback target.
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 10s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: use ms, s or m")),
    }
}

/// Creates the bench users unless `bench_0` exists; returns `bench_0`'s id.
async fn prepare(store: &dyn Store, users: u32) -> anyhow::Result<u32> {
    if let Some(u) = store
        .find_active_user_by_name(&format!("{BENCH_USER_PREFIX}0"))
        .await?
    {
        return Ok(u.id);
    }
    let now = Clock::system().now_secs();
    let mut first = None;
    for i in 0..users {
        let salt = password::random_salt();
        let id = store
            .add_user(NewUser {
                name: format!("{BENCH_USER_PREFIX}{i}"),
                nick: format!("bench {i}"),
                password: password::stored_hash(BENCH_PASSWORD, &salt),
                salt,
                created: now,
                updated: now,
                ..NewUser::default()
            })
            .await?;
        first.get_or_insert(id);
    }
    store.set_user_list_gate(now).await?;
    first.context("no users to prepare")
}

pub(super) async fn run_bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    ensure!(
        (1..=MAX_CONNECTIONS).contains(&args.connections),
        "--connections must be 1..={MAX_CONNECTIONS}"
    );
    ensure!(
        (1..=MAX_PIPELINE).contains(&args.pipeline),
        "--pipeline must be 1..={MAX_PIPELINE}"
    );
    ensure!(args.users >= 2, "--users must be at least 2");
    let duration = match (args.duration, args.requests) {
        (Some(d), _) => Some(d),
        (None, None) => Some(Duration::from_secs(10)),
        (None, Some(_)) => None,
    };
    if let Some(d) = duration {
        ensure!(d <= MAX_DURATION, "--duration is limited to one hour");
    }
    let addr = tokio::net::lookup_host(args.addr.as_str())
        .await
        .with_context(|| format!("cannot resolve {}", args.addr))?
        .next()
        .with_context(|| format!("{} resolves to nothing", args.addr))?;
    if !args.direct && !addr.ip().is_loopback() && !args.allow_remote {
        bail!("{addr} is not a loopback address; pass --allow-remote to load a remote server");
    }
    // The store of --config, opened once for --prepare and --direct.
    let backend = if args.prepare || args.direct {
        let (config, _) = load_config(&args.config)?;
        let store = open_store(&config).await?;
        Some((config, store))
    } else {
        None
    };
    let first = match &backend {
        Some((_, store)) if args.prepare => prepare(store.as_ref(), args.users).await?,
        _ => args.first_user_id,
    };
    let opts = Options {
        addr,
        connections: args.connections,
        pipeline: args.pipeline,
        requests: args.requests,
        duration,
        workload: args.workload,
        users: Users {
            first,
            count: args.users,
        },
    };
    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(args.requests.unwrap_or(0))
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} {human_pos} requests ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let ticker = bar.clone();
    let show_progress = move |progress: std::sync::Arc<crate::bench::Progress>| {
        tokio::spawn(async move {
            loop {
                ticker.set_position(progress.done.load(std::sync::atomic::Ordering::Relaxed));
                if ticker.is_finished() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    };
    let report = match backend {
        Some((config, store)) if args.direct => {
            let state = AppState::new(config, store, Clock::system());
            crate::bench::direct::run(opts, state, show_progress).await
        }
        _ => run(opts, show_progress).await,
    };
    bar.finish_and_clear();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        outln!("{}", report.text())?;
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
