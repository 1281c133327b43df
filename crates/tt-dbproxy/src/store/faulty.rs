//! [`FaultyStore`]: a wrapper that makes the next N calls of an operation
//! fail or stall, and counts calls, for the "store down" test cases.
//!
//! It lives in the library (not behind `cfg(test)`) so end-to-end tests can
//! put it between a real server and a real backend.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use async_trait::async_trait;

use super::console_domain::{
    AuditEntry, ConsoleAccount, ConsoleAccountStore, ConsoleSession, ConsoleSessionStore,
    DirectoryAdminStore, DiscoveryItem, DiscoveryStore, UserEdit,
};
use super::domain::{
    CounterStore, DepartmentStore, DeviceStore, FileStore, GroupStore, MessageStore, Readiness,
    SessionStore, SharedStore, SyncStore, UserStore,
};
use super::{
    AudioRow, DepartRecord, DeviceToken, GroupMessageRow, GroupRecord, LastMessage, MessageRow,
    NewGroup, NewMessage, NewUser, OfflineFile, Platform, SessionRecord, SingleMessageRow, Store,
    StoreError, StoreResult, UserRecord, UserUpdate,
};

#[derive(Default)]
struct Faults {
    fail_next: HashMap<StoreOp, u32>,
    delay_next: HashMap<StoreOp, (u32, Duration)>,
    calls: HashMap<StoreOp, u64>,
    finished: HashMap<StoreOp, u64>,
}

/// Wraps a real store; by default it only counts calls.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Mutex<Faults>,
}

impl FaultyStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            faults: Mutex::new(Faults::default()),
        }
    }

    /// Makes the next `n` calls of `op` fail with [`StoreError::Injected`].
    pub fn fail_next(&self, op: StoreOp, n: u32) {
        self.with(|f| {
            f.fail_next.insert(op, n);
        });
    }

    /// Makes the next `n` calls of `op` wait `delay` before running.
    pub fn delay_next(&self, op: StoreOp, n: u32, delay: Duration) {
        self.with(|f| {
            f.delay_next.insert(op, (n, delay));
        });
    }

    /// How many times `op` was called (failed calls included).
    pub fn calls(&self, op: StoreOp) -> u64 {
        self.with(|f| f.calls.get(&op).copied().unwrap_or(0))
    }

    /// How many calls of `op` have returned (successfully or not): lets a
    /// test wait for the work of a request that has no reply.
    pub fn finished(&self, op: StoreOp) -> u64 {
        self.with(|f| f.finished.get(&op).copied().unwrap_or(0))
    }

    fn finish(&self, op: StoreOp) {
        self.with(|f| *f.finished.entry(op).or_default() += 1);
    }

    fn with<T>(&self, f: impl FnOnce(&mut Faults) -> T) -> T {
        // A poisoned lock only means another test thread panicked; the
        // counters are still usable.
        let mut guard = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    async fn enter(&self, op: StoreOp) -> StoreResult<()> {
        let (fail, delay) = self.with(|f| {
            *f.calls.entry(op).or_default() += 1;
            let fail = match f.fail_next.get_mut(&op) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            };
            let delay = match f.delay_next.get_mut(&op) {
                Some((n, d)) if *n > 0 => {
                    *n -= 1;
                    Some(*d)
                }
                _ => None,
            };
            (fail, delay)
        });
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if fail {
            return Err(StoreError::Injected(op));
        }
        Ok(())
    }
}

/// Declares [`StoreOp`] and the delegating impl of every domain trait from
/// one list, so every method is wrapped the same way.
macro_rules! faulty_store {
    ($($domain:ident {
        $($op:ident => fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*
    })*) => {
        /// The operations of [`Store`], one per method.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum StoreOp {
            $($(
                #[doc = concat!("`", stringify!($domain), "::", stringify!($name), "`.")]
                $op,
            )*)*
        }

        $(
            #[async_trait]
            impl $domain for FaultyStore {
                $(
                    async fn $name(&self $(, $arg: $ty)*) -> StoreResult<$ret> {
                        let result = match self.enter(StoreOp::$op).await {
                            Ok(()) => self.inner.$name($($arg),*).await,
                            Err(e) => Err(e),
                        };
                        self.finish(StoreOp::$op);
                        result
                    }
                )*
            }
        )*
    };
}

faulty_store! {
    Readiness {
        Ready => fn ready(&self) -> ();
        Reconfigure => fn reconfigure(&self, config: &Config) -> ();
        RecoverPending => fn recover_pending(&self) -> usize;
    }
    UserStore {
        FindActiveUserByName => fn find_active_user_by_name(&self, name: &str) -> Option<UserRecord>;
        AddUser => fn add_user(&self, user: NewUser) -> u32;
        ListUsers => fn list_users(&self) -> Vec<UserRecord>;
        UpdateUser => fn update_user(&self, user_id: u32, update: UserUpdate, now: u32) -> bool;
        SetPushShield => fn set_push_shield(&self, user_id: u32, shield_status: u32, now: u32) -> bool;
        PushShield => fn push_shield(&self, user_id: u32) -> Option<u32>;
        UsersByIds => fn users_by_ids(&self, ids: &[u32]) -> Vec<UserRecord>;
        ChangedUsers => fn changed_users(&self, since: u32) -> Vec<UserRecord>;
        SetSignInfo => fn set_sign_info(&self, user_id: u32, sign_info: &str, now: u32) -> bool;
        UserListGate => fn user_list_gate(&self) -> Option<u32>;
        SetUserListGate => fn set_user_list_gate(&self, at: u32) -> ();
    }
    DepartmentStore {
        AddDepartment => fn add_department(&self, depart: DepartRecord) -> u32;
        ListDepartments => fn list_departments(&self) -> Vec<DepartRecord>;
        ChangedDepartments => fn changed_departments(&self, since: u32) -> Vec<DepartRecord>;
    }
    SessionStore {
        RecentSessions => fn recent_sessions(&self, user_id: u32, since: u32, limit: u32) -> Vec<SessionRecord>;
        FindSession => fn find_session(&self, user_id: u32, peer_id: u32, session_type: u32) -> Option<u32>;
        AddSession => fn add_session(&self, user_id: u32, peer_id: u32, session_type: u32, now: u32) -> u32;
        RemoveSession => fn remove_session(&self, session_id: u32, now: u32) -> bool;
        RelationId => fn relation_id(&self, a: u32, b: u32) -> Option<u32>;
        CreateRelation => fn create_relation(&self, a: u32, b: u32, now: u32) -> u32;
        LastMessages => fn last_messages(&self, user_id: u32, sessions: &[(u32, u32)]) -> Vec<Option<LastMessage>>;
        GroupsAndLastMessages => fn groups_and_last_messages(&self, user_id: u32, peers: &[u32]) -> (Vec<u32>, Vec<Option<LastMessage>>);
    }
    MessageStore {
        InsertSingleMessage => fn insert_single_message(&self, row: SingleMessageRow) -> ();
        InsertGroupMessage => fn insert_group_message(&self, row: GroupMessageRow) -> ();
        StoreMessage => fn store_message(&self, msg: NewMessage, now: u32) -> u32;
        SingleHistory => fn single_history(&self, user_id: u32, peer_id: u32, begin: u32, count: u32) -> Vec<MessageRow>;
        GroupHistory => fn group_history(&self, group_id: u32, joined: u32, begin: u32, count: u32) -> Vec<MessageRow>;
        SingleMessagesById => fn single_messages_by_id(&self, user_id: u32, peer_id: u32, ids: &[u32], limit: u32) -> Vec<MessageRow>;
        GroupMessagesById => fn group_messages_by_id(&self, group_id: u32, joined: u32, ids: &[u32], limit: u32) -> Vec<MessageRow>;
        AddAudio => fn add_audio(&self, audio: AudioRow) -> u32;
        Audio => fn audio(&self, id: u32) -> Option<AudioRow>;
    }
    CounterStore {
        AddUnread => fn add_unread(&self, user_id: u32, peer_id: u32, n: u32) -> ();
        ClearUnread => fn clear_unread(&self, user_id: u32, peer_id: u32) -> ();
        UnreadCounts => fn unread_counts(&self, user_id: u32) -> Vec<(u32, u32)>;
        IncrGroupTotal => fn incr_group_total(&self, group_id: u32) -> u32;
        MarkGroupRead => fn mark_group_read(&self, user_id: u32, group_id: u32) -> ();
        GroupCounter => fn group_counter(&self, user_id: u32, group_id: u32) -> Option<(u32, u32)>;
        GroupCounters => fn group_counters(&self, user_id: u32, group_ids: &[u32]) -> Vec<Option<(u32, u32)>>;
    }
    GroupStore {
        GroupJoinTime => fn group_join_time(&self, group_id: u32, user_id: u32) -> Option<u32>;
        AddGroupMember => fn add_group_member(&self, group_id: u32, user_id: u32, now: u32) -> ();
        GroupExists => fn group_exists(&self, group_id: u32) -> bool;
        IsGroupMember => fn is_group_member(&self, group_id: u32, user_id: u32) -> bool;
        UserGroups => fn user_groups(&self, user_id: u32) -> Vec<u32>;
        GroupsByIds => fn groups_by_ids(&self, ids: &[u32]) -> Vec<GroupRecord>;
        ListGroups => fn list_groups(&self) -> Vec<GroupRecord>;
        GroupMembers => fn group_members(&self, group_id: u32) -> Vec<u32>;
        CreateGroup => fn create_group(&self, group: NewGroup, now: u32) -> u32;
        ChangeGroupMembers => fn change_group_members(&self, group_id: u32, add: bool, users: &[u32], now: u32) -> ();
        SetGroupPushShield => fn set_group_push_shield(&self, group_id: u32, user_id: u32, status: u32) -> ();
        GroupPushShields => fn group_push_shields(&self, group_id: u32) -> Vec<(u32, u32)>;
    }
    SyncStore {
        GroupsChattedSince => fn groups_chatted_since(&self, since: u32) -> Vec<(u32, u32)>;
        TouchGroupSession => fn touch_group_session(&self, user_id: u32, group_id: u32, at: u32, now: u32) -> ();
        GroupSyncCursor => fn group_sync_cursor(&self) -> Option<u32>;
        SetGroupSyncCursor => fn set_group_sync_cursor(&self, at: u32) -> ();
    }
    DeviceStore {
        RegisterDeviceToken => fn register_device_token(&self, user_id: u32, platform: Platform, token: &str) -> ();
        ClearDeviceToken => fn clear_device_token(&self, user_id: u32) -> ();
        DeviceTokens => fn device_tokens(&self, user_ids: &[u32]) -> Vec<DeviceToken>;
    }
    FileStore {
        AddOfflineFile => fn add_offline_file(&self, file: OfflineFile, now: u32) -> ();
        OfflineFilesFor => fn offline_files_for(&self, to_id: u32) -> Vec<OfflineFile>;
        DeleteOfflineFile => fn delete_offline_file(&self, from_id: u32, to_id: u32, task_id: &str) -> u64;
    }
    SharedStore {
        SharedThrottleFailures => fn shared_throttle_failures(&self, name: &[u8], now: u32) -> Option<u64>;
        SharedThrottleFailure => fn shared_throttle_failure(&self, name: &[u8], now: u32) -> ();
        SharedThrottleClear => fn shared_throttle_clear(&self, name: &[u8]) -> ();
        SyncLease => fn sync_lease(&self, ttl_ms: u64) -> bool;
    }
    ConsoleAccountStore {
        PrepareConsole => fn prepare_console(&self) -> ();
        ConsoleAccounts => fn console_accounts(&self) -> Vec<ConsoleAccount>;
        ConsoleAccountByName => fn console_account_by_name(&self, name: &str) -> Option<ConsoleAccount>;
        ConsoleAccountById => fn console_account(&self, id: u32) -> Option<ConsoleAccount>;
        AddConsoleAccount => fn add_console_account(&self, name: &str, hash: &str, now: u32) -> u32;
        SetConsolePassword => fn set_console_password(&self, id: u32, hash: &str, now: u32) -> bool;
        SetConsoleAccountStatus => fn set_console_account_status(&self, id: u32, status: u32, now: u32) -> bool;
    }
    ConsoleSessionStore {
        CreateConsoleSession => fn create_console_session(&self, session: ConsoleSession, now: u32) -> ();
        ConsoleSessionByToken => fn console_session(&self, token_hash: &str, now: u32) -> Option<ConsoleSession>;
        EndConsoleSession => fn end_console_session(&self, token_hash: &str) -> ();
        EndConsoleSessionsOf => fn end_console_sessions_of(&self, account_id: u32) -> ();
        ConsoleFailures => fn console_failures(&self, key: &str, since: u32) -> u32;
        RecordConsoleFailure => fn record_console_failure(&self, key: &str, now: u32) -> ();
        ClearConsoleFailures => fn clear_console_failures(&self, key: &str) -> ();
        AddAudit => fn add_audit(&self, entry: AuditEntry) -> ();
        AuditLog => fn audit_log(&self, offset: u32, limit: u32) -> Vec<AuditEntry>;
    }
    DirectoryAdminStore {
        SearchUsers => fn search_users(&self, search: &str, offset: u32, limit: u32) -> (Vec<UserRecord>, u64);
        EditUser => fn edit_user(&self, user_id: u32, edit: UserEdit, now: u32) -> bool;
        Department => fn department(&self, id: u32) -> Option<DepartRecord>;
        EditDepartment => fn edit_department(&self, d: DepartRecord, now: u32) -> bool;
        DepartmentReferences => fn department_references(&self, id: u32) -> (u64, u64);
        DeleteDepartment => fn delete_department(&self, id: u32, now: u32) -> bool;
        EditGroup => fn edit_group(&self, id: u32, name: &str, avatar: &str, now: u32) -> bool;
    }
    DiscoveryStore {
        DiscoveryItems => fn discovery_items(&self) -> Vec<DiscoveryItem>;
        AddDiscoveryItem => fn add_discovery_item(&self, item: DiscoveryItem) -> u32;
        EditDiscoveryItem => fn edit_discovery_item(&self, item: DiscoveryItem, now: u32) -> bool;
        DeleteDiscoveryItem => fn delete_discovery_item(&self, id: u32) -> bool;
    }
}
