//! A first rough throughput figure until `tt-dbproxy bench` exists:
//! sequential CID_OTHER_VALIDATE_REQ round trips over one connection.
//!
//! ```text
//! cargo run --release --example login_loop -- 127.0.0.1:10600 alice 123456 20000
//! ```

use std::time::Instant;

use prost::Message;
use tt_dbproxy::auth::password::md5_hex;
use tt_dbproxy::client::Client;
use tt_proto::im::server::{ImValidateReq, ImValidateRsp};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args.get(1).map_or("127.0.0.1:10600", String::as_str);
    let user = args.get(2).map_or("alice", String::as_str);
    let plain = args.get(3).map_or("123456", String::as_str);
    let count: u32 = args.get(4).map_or(Ok(20_000), |s| s.parse())?;
    let body = ImValidateReq {
        user_name: Some(user.as_bytes().to_vec()),
        password: Some(md5_hex(plain.as_bytes()).into_bytes()),
        attach_data: Some(b"AB".to_vec()),
    }
    .encode_to_vec();
    let mut client = Client::connect(addr).await?;
    let start = Instant::now();
    for _ in 0..count {
        let reply = client.request(7, 0x0703, body.clone(), 0x0704).await?;
        let rsp = ImValidateRsp::decode(reply.body)?;
        anyhow::ensure!(
            rsp.result_code == Some(0),
            "login failed: {:?}",
            rsp.result_code
        );
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{count} logins in {secs:.2} s over one connection: {:.0} logins/s, {:.0} µs per round trip",
        f64::from(count) / secs,
        secs * 1e6 / f64::from(count)
    );
    Ok(())
}
