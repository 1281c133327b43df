//! The storage interface by domain: one small trait per domain, each
//! implemented by every backend in the file that holds that domain's
//! storage, and [`Store`], all of them together, for the few callers that
//! need everything (handlers through `AppState`, `copy --verify`, the test
//! fault injector).

use async_trait::async_trait;

use super::{
    AudioRow, DepartRecord, DeviceToken, GroupMessageRow, GroupRecord, LastMessage, MessageRow,
    NewGroup, NewMessage, NewUser, OfflineFile, Platform, SessionRecord, SingleMessageRow,
    StoreResult, UserRecord, UserUpdate,
};

/// Whether the backends answer, taking reloaded settings, and recovering sends a crash left half done.
#[async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// Whether every backend answers now (for `/readyz`).
    async fn ready(&self) -> StoreResult<()>;

    /// Takes the reloadable storage settings of `config` (acquire timeout,
    /// pool sizes, replica list) without dropping work in progress. The
    /// embedded store has none.
    async fn reconfigure(&self, config: &crate::config::Config) -> StoreResult<()> {
        let _ = config;
        Ok(())
    }

    /// One recovery pass over sends left between their commit and their
    /// side effects (a process killed there, or a backend that failed
    /// there): each is counted once or dropped. Returns how many were found
    /// committed. Nothing to do where the row, counters and resend memory
    /// commit together (the embedded store).
    async fn recover_pending(&self) -> StoreResult<usize> {
        Ok(0)
    }
}

/// Users and the user-list change gate.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// The user whose login name is exactly `name` (byte-wise, case
    /// sensitive) and whose `status` is 0. With several such rows, the one
    /// with the highest id wins.
    async fn find_active_user_by_name(&self, name: &str) -> StoreResult<Option<UserRecord>>;

    /// Inserts a user and returns its new id.
    async fn add_user(&self, user: NewUser) -> StoreResult<u32>;

    /// Every user, ordered by id (for `admin user list`).
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>>;

    /// Applies an operator's changes to a user and sets `updated = now`.
    /// `true` iff a row changed.
    async fn update_user(&self, user_id: u32, update: UserUpdate, now: u32) -> StoreResult<bool>;

    /// Sets a user's "do not disturb" flag and `updated = now`. `true` iff
    /// a row changed (unknown user, or the same values again, is `false`).
    async fn set_push_shield(
        &self,
        user_id: u32,
        shield_status: u32,
        now: u32,
    ) -> StoreResult<bool>;

    /// A user's `push_shield_status`, `None` for an unknown user.
    async fn push_shield(&self, user_id: u32) -> StoreResult<Option<u32>>;

    /// The users among `ids` (any status), each once, ordered by id.
    async fn users_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<UserRecord>>;

    /// Users for an incremental sync, ordered by id: with `since == 0`
    /// every user whose status is known and not 3 (departed); otherwise
    /// every user with `updated >= since`, departed ones included.
    async fn changed_users(&self, since: u32) -> StoreResult<Vec<UserRecord>>;

    /// Sets `sign_info` and `updated = now`; `true` iff a row changed.
    async fn set_sign_info(&self, user_id: u32, sign_info: &str, now: u32) -> StoreResult<bool>;

    /// The user-list change gate (seconds): user syncs asking for changes
    /// since a time at or after it get nothing. `None` if never set.
    async fn user_list_gate(&self) -> StoreResult<Option<u32>>;

    /// Moves the user-list change gate to `at`.
    async fn set_user_list_gate(&self, at: u32) -> StoreResult<()>;
}

/// Departments.
#[async_trait]
pub trait DepartmentStore: Send + Sync + 'static {
    /// Inserts a department and returns its id.
    async fn add_department(&self, depart: DepartRecord) -> StoreResult<u32>;

    /// Every department, ordered by id.
    async fn list_departments(&self) -> StoreResult<Vec<DepartRecord>>;

    /// Departments with `updated > since` (any status), ordered by id.
    async fn changed_departments(&self, since: u32) -> StoreResult<Vec<DepartRecord>>;
}

/// Recent sessions, relations and the last message of each session.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Up to `limit` of a user's sessions with status 0 and
    /// `updated > since`, newest `updated` first.
    async fn recent_sessions(
        &self,
        user_id: u32,
        since: u32,
        limit: u32,
    ) -> StoreResult<Vec<SessionRecord>>;

    /// The id of the user's session with `peer_id`/`session_type` and
    /// status 0 (the highest id if several).
    async fn find_session(
        &self,
        user_id: u32,
        peer_id: u32,
        session_type: u32,
    ) -> StoreResult<Option<u32>>;

    /// Creates a user's session with a peer, or revives and touches the
    /// existing one (any status); returns its id.
    async fn add_session(
        &self,
        user_id: u32,
        peer_id: u32,
        session_type: u32,
        now: u32,
    ) -> StoreResult<u32>;

    /// Marks a session deleted with `updated = now`; `true` iff it changed.
    async fn remove_session(&self, session_id: u32, now: u32) -> StoreResult<bool>;

    /// The relation id of an unordered user pair with status 0.
    async fn relation_id(&self, a: u32, b: u32) -> StoreResult<Option<u32>>;

    /// The relation id of a pair, created (or revived) if needed.
    async fn create_relation(&self, a: u32, b: u32, now: u32) -> StoreResult<u32>;

    /// The last message of each of `user_id`'s conversations, in the order
    /// given: `(peer_id, session_type)` pairs; `None` where there is none.
    async fn last_messages(
        &self,
        user_id: u32,
        sessions: &[(u32, u32)],
    ) -> StoreResult<Vec<Option<LastMessage>>>;

    /// What the unread summary reads first: the user's groups (as
    /// `GroupStore::user_groups`) and the last message with each of
    /// `peers` (one-to-one, in the order given) — in one round trip where
    /// the backend can.
    async fn groups_and_last_messages(
        &self,
        user_id: u32,
        peers: &[u32],
    ) -> StoreResult<(Vec<u32>, Vec<Option<LastMessage>>)>;
}

/// Messages: the send, history, by id, and audio.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Inserts a one-to-one message row.
    async fn insert_single_message(&self, row: SingleMessageRow) -> StoreResult<()>;

    /// Inserts a group message row.
    async fn insert_group_message(&self, row: GroupMessageRow) -> StoreResult<()>;

    /// Stores a message and returns its id, allocated from the
    /// conversation's counter: strictly increasing, never reused (a missing
    /// counter is seeded from the largest stored id). One-to-one: both
    /// users' sessions are created or revived and touched, the relation is
    /// created if needed, and the receiver's unread count grows. Group:
    /// the sender's session is touched, `lastChated = now`, the group total
    /// grows and the sender's read mark follows it. `Ok` means the row is
    /// committed.
    async fn store_message(&self, msg: NewMessage, now: u32) -> StoreResult<u32>;

    /// A page of a one-to-one conversation, newest first (`created DESC,
    /// id DESC`), `msgId <= begin` unless `begin` is 0.
    async fn single_history(
        &self,
        user_id: u32,
        peer_id: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>>;

    /// A page of a group conversation from `joined` on, newest first.
    async fn group_history(
        &self,
        group_id: u32,
        joined: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>>;

    /// The one-to-one messages with the given ids, newest first, at most
    /// `limit`.
    async fn single_messages_by_id(
        &self,
        user_id: u32,
        peer_id: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>>;

    /// The group messages with the given ids from `joined` on, newest
    /// first, at most `limit`.
    async fn group_messages_by_id(
        &self,
        group_id: u32,
        joined: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>>;

    /// Records a voice message's file and returns its audio id.
    async fn add_audio(&self, audio: AudioRow) -> StoreResult<u32>;

    /// An `IMAudio` row.
    async fn audio(&self, id: u32) -> StoreResult<Option<AudioRow>>;
}

/// Unread counters, and group totals with read marks.
#[async_trait]
pub trait CounterStore: Send + Sync + 'static {
    /// Adds `n` to the unread count of messages from `peer_id` to `user_id`.
    async fn add_unread(&self, user_id: u32, peer_id: u32, n: u32) -> StoreResult<()>;

    /// Clears the unread count of messages from `peer_id` to `user_id`.
    async fn clear_unread(&self, user_id: u32, peer_id: u32) -> StoreResult<()>;

    /// Every one-to-one unread count of a user, `(peer, count)`, counts of
    /// 0 included (the original lists them).
    async fn unread_counts(&self, user_id: u32) -> StoreResult<Vec<(u32, u32)>>;

    /// Adds one to a group's message total and returns the new total.
    async fn incr_group_total(&self, group_id: u32) -> StoreResult<u32>;

    /// Marks a group read for a user: the user's read mark becomes the
    /// group's current total. Nothing happens if the group has no total.
    async fn mark_group_read(&self, user_id: u32, group_id: u32) -> StoreResult<()>;

    /// A group's message total and the user's read mark (0 if never
    /// marked); `None` if the group has no total.
    async fn group_counter(&self, user_id: u32, group_id: u32) -> StoreResult<Option<(u32, u32)>>;

    /// [`Store::group_counter`] of each of `group_ids`, in the order given,
    /// in one round trip.
    async fn group_counters(
        &self,
        user_id: u32,
        group_ids: &[u32],
    ) -> StoreResult<Vec<Option<(u32, u32)>>>;
}

/// Groups: membership and push settings.
#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    /// When a current member joined the group; `None` for a non-member.
    async fn group_join_time(&self, group_id: u32, user_id: u32) -> StoreResult<Option<u32>>;

    /// Adds a member (or revives a removed one) with join time `now`.
    async fn add_group_member(&self, group_id: u32, user_id: u32, now: u32) -> StoreResult<()>;

    /// Whether the group has any member (the original's group validity).
    async fn group_exists(&self, group_id: u32) -> StoreResult<bool>;

    /// Whether the user is a current member.
    async fn is_group_member(&self, group_id: u32, user_id: u32) -> StoreResult<bool>;

    /// The groups a user is a member of, most recently joined first.
    async fn user_groups(&self, user_id: u32) -> StoreResult<Vec<u32>>;

    /// `IMGroup` rows of the given ids (any type and status), most
    /// recently updated first.
    async fn groups_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<GroupRecord>>;

    /// Every group, ordered by id (for `admin group list`).
    async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>>;

    /// The current members of a group (any order).
    async fn group_members(&self, group_id: u32) -> StoreResult<Vec<u32>>;

    /// Creates a group with `members` (joined at `now`, version 1, status
    /// 0, `userCnt` = member count), replacing any stale membership left
    /// under the same id; returns the group id.
    async fn create_group(&self, group: NewGroup, now: u32) -> StoreResult<u32>;

    /// Adds (`add`) or removes members, keeps `userCnt` equal to the
    /// member count and bumps `version`. Members added rejoin at `now`.
    async fn change_group_members(
        &self,
        group_id: u32,
        add: bool,
        users: &[u32],
        now: u32,
    ) -> StoreResult<()>;

    /// Stores a member's push-shield value for a group (as given).
    async fn set_group_push_shield(
        &self,
        group_id: u32,
        user_id: u32,
        status: u32,
    ) -> StoreResult<()>;

    /// Every stored push-shield value of a group: `(user, status)`.
    async fn group_push_shields(&self, group_id: u32) -> StoreResult<Vec<(u32, u32)>>;
}

/// The sync center's steps: groups chatted in, members' sessions touched, its cursor.
#[async_trait]
pub trait SyncStore: Send + Sync + 'static {
    /// Groups with status 0 whose `lastChated` is at or after `since`
    /// (and not 0): `(group, lastChated)`, ascending by group.
    async fn groups_chatted_since(&self, since: u32) -> StoreResult<Vec<(u32, u32)>>;

    /// The sync center's step for one member: an existing group session
    /// (any status) gets `updated = at`; a missing one is created with
    /// status 0 and `updated = now`.
    async fn touch_group_session(
        &self,
        user_id: u32,
        group_id: u32,
        at: u32,
        now: u32,
    ) -> StoreResult<()>;

    /// The sync center's cursor (`last_update_group`), `None` if unset.
    async fn group_sync_cursor(&self) -> StoreResult<Option<u32>>;

    /// Moves the sync center's cursor.
    async fn set_group_sync_cursor(&self, at: u32) -> StoreResult<()>;
}

/// Push device tokens.
#[async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Registers `token` as `user_id`'s push token. A previous owner of the
    /// same token loses it; the user's previous token is released.
    async fn register_device_token(
        &self,
        user_id: u32,
        platform: Platform,
        token: &str,
    ) -> StoreResult<()>;

    /// Unregisters `user_id`'s push token (a logout, or a duplicate mobile
    /// login kicked): the user has no token afterwards, and the old token
    /// is released if it still names the user. A no-op without a token.
    async fn clear_device_token(&self, user_id: u32) -> StoreResult<()>;

    /// The registered tokens of the given users (each user at most once).
    async fn device_tokens(&self, user_ids: &[u32]) -> StoreResult<Vec<DeviceToken>>;
}

/// Offline files.
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Records a pending offline file (status 0, created = updated = now).
    async fn add_offline_file(&self, file: OfflineFile, now: u32) -> StoreResult<()>;

    /// Pending offline files for a receiver, oldest first.
    async fn offline_files_for(&self, to_id: u32) -> StoreResult<Vec<OfflineFile>>;

    /// Deletes the files matching sender, receiver and task id exactly;
    /// returns how many were deleted.
    async fn delete_offline_file(
        &self,
        from_id: u32,
        to_id: u32,
        task_id: &str,
    ) -> StoreResult<u64>;
}

/// What the instances sharing a backend share: the login throttle and the sync lease.
#[async_trait]
pub trait SharedStore: Send + Sync + 'static {
    /// How many failed logins of `name` the login throttle shared by
    /// every instance on this backend holds within its window (the rules
    /// of [`crate::auth::throttle`] apply to the count); `None` when the
    /// backend has none (the embedded store serves one process), and the
    /// process-local throttle decides.
    async fn shared_throttle_failures(&self, name: &[u8], now: u32) -> StoreResult<Option<u64>> {
        let _ = (name, now);
        Ok(None)
    }

    /// Records a failed login in the shared throttle (nothing without one).
    async fn shared_throttle_failure(&self, name: &[u8], now: u32) -> StoreResult<()> {
        let _ = (name, now);
        Ok(())
    }

    /// Forgets a name's failures in the shared throttle (nothing without
    /// one).
    async fn shared_throttle_clear(&self, name: &[u8]) -> StoreResult<()> {
        let _ = name;
        Ok(())
    }

    /// Takes or renews the sync center's lease for `ttl_ms`: `true` when
    /// this instance runs the next cycle. A backend shared by several
    /// instances lets one hold it at a time (a crashed holder's lease runs
    /// out); one serving a single process always grants it.
    async fn sync_lease(&self, ttl_ms: u64) -> StoreResult<bool> {
        let _ = ttl_ms;
        Ok(true)
    }
}

/// Every domain of the storage interface: what a backend implements, and
/// what the server holds as `Arc<dyn Store>`. Implemented for every type
/// that implements all the domain traits.
pub trait Store:
    Readiness
    + UserStore
    + DepartmentStore
    + SessionStore
    + MessageStore
    + CounterStore
    + GroupStore
    + SyncStore
    + DeviceStore
    + FileStore
    + SharedStore
    + super::console_domain::ConsoleStores
{
}

impl<
    T: Readiness
        + UserStore
        + DepartmentStore
        + SessionStore
        + MessageStore
        + CounterStore
        + GroupStore
        + SyncStore
        + DeviceStore
        + FileStore
        + SharedStore
        + super::console_domain::ConsoleStores,
> Store for T
{
}
