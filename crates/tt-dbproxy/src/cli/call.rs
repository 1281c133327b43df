//! `tt-dbproxy call COMMAND JSON`: one request, its reply printed as JSON.
//!
//! JSON uses the proto field names (snake_case); `bytes` are base64, enums
//! are names (numbers accepted). Conversion goes through the unmodified
//! descriptors with prost-reflect, so every command works without
//! per-command code.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

use super::output::outln;
use crate::client::Client;
use crate::wire::command;

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

fn descriptor(pool: &DescriptorPool, name: &str) -> anyhow::Result<MessageDescriptor> {
    pool.get_message_by_name(name)
        .ok_or_else(|| anyhow!("message {name} is missing from the descriptors"))
}

/// Builds the request body from JSON.
pub fn encode_request(pool: &DescriptorPool, message: &str, json: &str) -> anyhow::Result<Vec<u8>> {
    let desc = descriptor(pool, message)?;
    let mut de = serde_json::Deserializer::from_str(json);
    let msg = DynamicMessage::deserialize(desc, &mut de)
        .with_context(|| format!("the JSON is not a valid {message}"))?;
    de.end()
        .with_context(|| format!("trailing characters after the {message} JSON"))?;
    Ok(msg.encode_to_vec())
}

/// Renders a reply body as pretty JSON with proto field names.
pub fn decode_reply(pool: &DescriptorPool, message: &str, body: &[u8]) -> anyhow::Result<String> {
    let desc = descriptor(pool, message)?;
    let msg = DynamicMessage::decode(desc, body)
        .with_context(|| format!("the reply is not a valid {message}"))?;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::pretty(&mut out);
    msg.serialize_with_options(
        &mut ser,
        &SerializeOptions::new().use_proto_field_name(true),
    )?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub(super) async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let spec = command::find(&args.command).ok_or_else(|| {
        anyhow!("unknown command {:?}; use a CID name such as CID_OTHER_VALIDATE_REQ or an id such as 0x0703", args.command)
    })?;
    let pool = DescriptorPool::decode(tt_proto::FILE_DESCRIPTOR_SET)
        .context("cannot load the protobuf descriptors")?;
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
