//! Voice messages (messages spec §2.9). On the wire an audio `msg_data`
//! is a 4-byte big-endian duration followed by the audio bytes; in the
//! database it is the decimal id of an `IMAudio` row whose `path` points at
//! the media server.

use futures_util::future::join_all;
use tracing::warn;
use tt_proto::im::base_define::{MsgInfo, MsgType};
use tt_proto::im::message::ImMsgData;

use crate::state::AppState;
use crate::store::{AudioRow, LastMessage, MessageRow, logged};

/// Whether a MsgType is a voice message (one-to-one or group).
pub fn is_audio(msg_type: u32) -> bool {
    msg_type == MsgType::SingleAudio as u32 || msg_type == MsgType::GroupAudio as u32
}

/// What a conversation list shows for a last message: the audio
/// placeholder for a voice message, the stored content otherwise.
pub fn preview(state: &AppState, last: LastMessage) -> Vec<u8> {
    if is_audio(last.msg_type) {
        state.audio_placeholder.clone()
    } else {
        last.content.into_bytes()
    }
}

/// Uploads a voice message and records it; returns the content to store
/// (the audio id), or `None` (logged) when it cannot be stored: payload of
/// 4 bytes or less, upload failure, or `IMAudio` insert failure.
pub async fn save(state: &AppState, req: &ImMsgData, _group: bool) -> Option<String> {
    let data = req.msg_data.as_deref().unwrap_or_default();
    let Some((duration, audio)) = data
        .split_first_chunk::<4>()
        .filter(|(_, rest)| !rest.is_empty())
    else {
        warn!(
            from = req.from_user_id,
            "audio: payload of 4 bytes or less; not stored"
        );
        return None;
    };
    let path = match state.media.upload(audio).await {
        Ok(p) => p,
        Err(e) => {
            warn!(error = %e, from = req.from_user_id, "audio: upload failed; not stored");
            return None;
        }
    };
    let row = AudioRow {
        id: 0,
        from_id: req.from_user_id.unwrap_or(0),
        to_id: req.to_session_id.unwrap_or(0),
        path,
        size: u32::try_from(audio.len()).ok()?,
        duration: u32::from_be_bytes(*duration),
        created: req.create_time.unwrap_or(0),
    };
    logged("add audio", state.messages().add_audio(row).await).map(|id| id.to_string())
}

/// The wire bytes of one stored audio message: downloaded when possible,
/// the stored id text when the metadata is missing or the download fails
/// (as the original), `None` when the content is not an id at all.
async fn expand_one(state: &AppState, content: &str) -> Option<Vec<u8>> {
    let id: u32 = content.trim().parse().ok()?;
    let fallback = Some(content.as_bytes().to_vec());
    let Some(Some(audio)) = logged("audio", state.messages().audio(id).await) else {
        return fallback;
    };
    if audio.path.is_empty() || audio.size == 0 || audio.duration == 0 {
        return fallback;
    }
    match state.media.download(&audio.path, audio.size as usize).await {
        Ok(bytes) => {
            let mut out = Vec::with_capacity(4 + bytes.len());
            out.extend_from_slice(&audio.duration.to_be_bytes());
            out.extend_from_slice(&bytes);
            Some(out)
        }
        Err(e) => {
            warn!(error = %e, audio = id, "audio: download failed; sending the id");
            fallback
        }
    }
}

/// History rows as `MsgInfo`, audio downloaded concurrently.
pub async fn expand(state: &AppState, rows: Vec<MessageRow>) -> Vec<MsgInfo> {
    let data = join_all(rows.iter().map(|r| async move {
        if is_audio(r.msg_type) {
            expand_one(state, &r.content).await
        } else {
            Some(r.content.clone().into_bytes())
        }
    }))
    .await;
    rows.into_iter()
        .zip(data)
        .filter_map(|(r, data)| {
            Some(MsgInfo {
                msg_id: Some(r.msg_id),
                from_session_id: Some(r.from_id),
                create_time: Some(r.created),
                msg_type: Some(r.msg_type as i32),
                msg_data: Some(data?),
            })
        })
        .collect()
}
