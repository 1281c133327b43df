//! `tt-dbproxy call COMMAND JSON`: one request, its reply printed as JSON.
//!
//! JSON uses the proto field names (snake_case); `bytes` are base64, enums
//! are names (numbers accepted). The conversion is [`crate::wire::json`].

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;

use super::output::outln;
use crate::client::Client;
use crate::wire::command;
use crate::wire::json::{decode_reply, descriptor_pool, encode_request};

/// `call` arguments.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:10600")]
    addr: String,
    /// Give up after this long without a reply (ms).
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// A CID name such as CID_OTHER_VALIDATE_REQ, or its id (0x0703).
    command: String,
    /// The request body as JSON.
    json: String,
}

pub(super) async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let spec = command::find(&args.command).ok_or_else(|| {
        anyhow!("unknown command {:?}; use a CID name such as CID_OTHER_VALIDATE_REQ or an id such as 0x0703", args.command)
    })?;
    let pool = descriptor_pool().context("cannot load the protobuf descriptors")?;
    let body = encode_request(&pool, spec.request, &args.json)?;
    let timeout = Duration::from_millis(args.timeout_ms);

    let exchange = async {
        let mut client = Client::connect(args.addr.as_str()).await?;
        let seq = client.send(spec.service_id, spec.command_id, body).await?;
        match spec.reply {
            None => Ok(None),
            Some(reply) => client
                .wait_reply(seq, reply.command_id)
                .await
                .map(|p| Some((reply, p))),
        }
    };
    let outcome = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => bail!("no reply from {} within {} ms", args.addr, args.timeout_ms),
        Ok(r) => r.with_context(|| format!("{} with {}", spec.name, args.addr))?,
    };
    match outcome {
        None => eprintln!("{} sent; this command has no reply", spec.name),
        Some((reply, pdu)) => outln!("{}", decode_reply(&pool, reply.message, &pdu.body)?)?,
    }
    Ok(ExitCode::SUCCESS)
}
