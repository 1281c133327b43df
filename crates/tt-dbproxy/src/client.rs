//! A small async client of the PDU protocol, used by `call`, the load
//! generator and the tests.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream, ToSocketAddrs};
use tokio_util::codec::Framed;

use crate::wire::command::cid;
use crate::wire::{FrameError, Pdu, PduCodec};

/// What can go wrong talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed.
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    /// The stream broke or carried a bad frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
}

/// One connection to a tt-dbproxy (or original db_proxy_server).
pub struct Client {
    framed: Framed<TcpStream, PduCodec>,
    next_seq: u16,
}

impl Client {
    /// Connects to `addr`.
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<Self, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(ClientError::Connect)?;
        Self::from_stream(stream)
    }

    /// Connects to `addr` from the local address `from` (port 0: any), so
    /// one machine can be several peers (127.0.0.2, 127.0.0.3, ... on
    /// loopback) for the per-peer cap and the allow-list.
    pub async fn connect_from(from: SocketAddr, addr: SocketAddr) -> Result<Self, ClientError> {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(ClientError::Connect)?;
        socket.bind(from).map_err(ClientError::Connect)?;
        let stream = socket.connect(addr).await.map_err(ClientError::Connect)?;
        Self::from_stream(stream)
    }

    fn from_stream(stream: TcpStream) -> Result<Self, ClientError> {
        stream.set_nodelay(true).map_err(ClientError::Connect)?;
        Ok(Self {
            framed: Framed::new(stream, PduCodec::new(u32::MAX as usize)),
            next_seq: 1,
        })
    }

    /// Sends a request with the next sequence number and returns it.
    pub async fn send(
        &mut self,
        service_id: u16,
        command_id: u16,
        body: Vec<u8>,
    ) -> Result<u16, ClientError> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        self.send_pdu(Pdu::new(service_id, command_id, seq, body))
            .await?;
        Ok(seq)
    }

    /// Sends a frame as given (the encoder fixes `length`).
    pub async fn send_pdu(&mut self, pdu: Pdu) -> Result<(), ClientError> {
        self.framed.send(pdu).await?;
        Ok(())
    }

    /// Writes raw bytes, for malformed-frame tests.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let stream = self.framed.get_mut();
        stream.write_all(bytes).await.map_err(FrameError::Io)?;
        stream.flush().await.map_err(FrameError::Io)?;
        Ok(())
    }

    /// The next frame from the server, heartbeats included; `None` at a
    /// clean end of stream.
    pub async fn next_frame(&mut self) -> Result<Option<Pdu>, ClientError> {
        self.framed
            .next()
            .await
            .transpose()
            .map_err(ClientError::from)
    }

    /// Waits for the reply with `seq` and `command_id`, skipping
    /// heartbeats and other frames.
    pub async fn wait_reply(&mut self, seq: u16, command_id: u16) -> Result<Pdu, ClientError> {
        loop {
            match self.next_frame().await? {
                None => return Err(ClientError::Closed),
                Some(p) if p.header.command_id == cid::HEARTBEAT => {}
                Some(p) if p.header.seq_num == seq && p.header.command_id == command_id => {
                    return Ok(p);
                }
                Some(_) => {}
            }
        }
    }

    /// Sends a request and waits for its reply.
    pub async fn request(
        &mut self,
        service_id: u16,
        command_id: u16,
        body: Vec<u8>,
        reply_command_id: u16,
    ) -> Result<Pdu, ClientError> {
        let seq = self.send(service_id, command_id, body).await?;
        self.wait_reply(seq, reply_command_id).await
    }
}
