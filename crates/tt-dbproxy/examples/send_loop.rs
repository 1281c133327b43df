//! A first rough send-throughput figure until `tt-dbproxy bench` exists:
//! C connections each send M one-to-one text messages (each connection its
//! own pair of users), waiting for every ack.
//!
//! ```text
//! cargo run --release --example send_loop -- 127.0.0.1:10600 16 500
//! ```

use std::time::Instant;

use prost::Message;
use tt_dbproxy::client::Client;
use tt_proto::im::message::ImMsgData;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:10600".into());
    let conns: u32 = args.get(2).map_or(Ok(16), |s| s.parse())?;
    let per_conn: u32 = args.get(3).map_or(Ok(500), |s| s.parse())?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..conns {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr.as_str()).await?;
            for i in 0..per_conn {
                let msg = ImMsgData {
                    from_user_id: Some(1000 + 2 * k),
                    to_session_id: Some(1001 + 2 * k),
                    msg_id: Some(0),
                    create_time: Some(i),
                    msg_type: Some(1),
                    msg_data: Some(format!("message {i}").into_bytes()),
                    attach_data: Some(Vec::new()),
                };
                let reply = c.request(3, 0x0301, msg.encode_to_vec(), 0x0301).await?;
                let ack = ImMsgData::decode(reply.body)?;
                anyhow::ensure!(ack.msg_id.unwrap_or(0) != 0, "send not stored");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let total = f64::from(conns * per_conn);
    println!(
        "{total} sends over {conns} connections in {secs:.2} s: {:.0} sends/s",
        total / secs
    );
    Ok(())
}
