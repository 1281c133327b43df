//! A send's writes as the group commit takes them ([`super::batch`]):
//! the row and the sessions it touches, and whether their ids were
//! remembered ([`super::send_ids`]) and so must be checked.

use crate::store::{GroupMessageRow, SingleMessageRow};

/// A send's writes, waiting for a group commit.
#[derive(Debug, Clone)]
pub(crate) enum PendingSend {
    /// A one-to-one message and the two users' sessions.
    Single {
        /// Session ids of sender and receiver.
        sessions: [u32; 2],
        /// The row.
        row: SingleMessageRow,
        /// The ids came from [`super::send_ids`]: checked before writing.
        remembered: bool,
    },
    /// A group message and the sender's group session.
    Group {
        /// The sender's session id.
        session: u32,
        /// The row.
        row: GroupMessageRow,
        /// The id came from [`super::send_ids`]: checked before writing.
        remembered: bool,
    },
}

impl PendingSend {
    /// The remembered relation (if any) and sessions to check, when the
    /// ids were remembered.
    pub(super) fn remembered_ids(&self) -> Option<(Option<u32>, &[u32])> {
        match self {
            Self::Single {
                sessions,
                row,
                remembered: true,
            } => Some((Some(row.relation_id), sessions)),
            Self::Group {
                session,
                remembered: true,
                ..
            } => Some((None, std::slice::from_ref(session))),
            _ => None,
        }
    }
}
