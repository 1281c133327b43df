//! [`Store`] for [`SqliteStore`]: each method runs one statement module
//! function on a reader or the writer connection.

use async_trait::async_trait;

use super::{SqliteStore, counter, depart, device, file, group, message, session, user};
use crate::store::{
    AudioRow, DepartRecord, DeviceToken, GroupMessageRow, GroupRecord, LastMessage, MessageRow,
    NewGroup, NewMessage, NewUser, OfflineFile, Platform, SessionRecord, SingleMessageRow, Store,
    StoreResult, UserRecord, UserUpdate,
};

#[async_trait]
impl Store for SqliteStore {
    async fn ready(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn reconfigure(&self, config: &crate::config::Config) -> StoreResult<()> {
        self.apply(config);
        Ok(())
    }

    async fn find_active_user_by_name(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        let name = name.to_owned();
        self.read(move |c| user::find_active_by_name(c, &name))
            .await
    }

    async fn add_user(&self, new: NewUser) -> StoreResult<u32> {
        self.write(move |c| user::insert(c, &new)).await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.read(user::list).await
    }

    async fn update_user(&self, user_id: u32, update: UserUpdate, now: u32) -> StoreResult<bool> {
        self.write(move |c| user::update(c, user_id, &update, now))
            .await
    }

    async fn set_push_shield(
        &self,
        user_id: u32,
        shield_status: u32,
        now: u32,
    ) -> StoreResult<bool> {
        self.write(move |c| user::set_push_shield(c, user_id, shield_status, now))
            .await
    }

    async fn push_shield(&self, user_id: u32) -> StoreResult<Option<u32>> {
        self.read(move |c| user::push_shield(c, user_id)).await
    }

    async fn users_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<UserRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.read(move |c| user::by_ids(c, &ids)).await
    }

    async fn changed_users(&self, since: u32) -> StoreResult<Vec<UserRecord>> {
        self.read(move |c| user::changed(c, since)).await
    }

    async fn set_sign_info(&self, user_id: u32, sign_info: &str, now: u32) -> StoreResult<bool> {
        let sign_info = sign_info.to_owned();
        self.write(move |c| user::set_sign_info(c, user_id, &sign_info, now))
            .await
    }

    async fn user_list_gate(&self) -> StoreResult<Option<u32>> {
        self.read(user::gate).await
    }

    async fn set_user_list_gate(&self, at: u32) -> StoreResult<()> {
        self.write(move |c| user::set_gate(c, at)).await
    }

    async fn add_department(&self, d: DepartRecord) -> StoreResult<u32> {
        self.write(move |c| depart::insert(c, &d)).await
    }

    async fn list_departments(&self) -> StoreResult<Vec<DepartRecord>> {
        self.read(|c| depart::query(c, None)).await
    }

    async fn changed_departments(&self, since: u32) -> StoreResult<Vec<DepartRecord>> {
        self.read(move |c| depart::query(c, Some(since))).await
    }

    async fn recent_sessions(
        &self,
        user_id: u32,
        since: u32,
        limit: u32,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.read(move |c| session::recent(c, user_id, since, limit))
            .await
    }

    async fn find_session(
        &self,
        user_id: u32,
        peer_id: u32,
        session_type: u32,
    ) -> StoreResult<Option<u32>> {
        self.read(move |c| session::find(c, user_id, peer_id, session_type))
            .await
    }

    async fn add_session(
        &self,
        user_id: u32,
        peer_id: u32,
        session_type: u32,
        now: u32,
    ) -> StoreResult<u32> {
        self.write(move |c| session::add(c, user_id, peer_id, session_type, now))
            .await
    }

    async fn remove_session(&self, session_id: u32, now: u32) -> StoreResult<bool> {
        self.write(move |c| session::remove(c, session_id, now))
            .await
    }

    async fn relation_id(&self, a: u32, b: u32) -> StoreResult<Option<u32>> {
        self.read(move |c| session::relation(c, a, b)).await
    }

    async fn create_relation(&self, a: u32, b: u32, now: u32) -> StoreResult<u32> {
        self.write(move |c| session::create_relation(c, a, b, now))
            .await
    }

    async fn insert_single_message(&self, row: SingleMessageRow) -> StoreResult<()> {
        self.write(move |c| session::insert_single(c, &row)).await
    }

    async fn insert_group_message(&self, row: GroupMessageRow) -> StoreResult<()> {
        self.write(move |c| session::insert_group(c, &row)).await
    }

    async fn last_messages(
        &self,
        user_id: u32,
        sessions: &[(u32, u32)],
    ) -> StoreResult<Vec<Option<LastMessage>>> {
        let sessions = sessions.to_vec();
        self.read_quick(sessions.len(), move |c| {
            session::last_messages(c, user_id, &sessions)
        })
        .await
    }

    async fn store_message(&self, msg: NewMessage, now: u32) -> StoreResult<u32> {
        self.write(move |c| message::store(c, &msg, now)).await
    }

    async fn single_history(
        &self,
        user_id: u32,
        peer_id: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.read(move |c| message::single_history(c, user_id, peer_id, begin, count))
            .await
    }

    async fn group_history(
        &self,
        group_id: u32,
        joined: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.read(move |c| message::group_history(c, group_id, joined, begin, count))
            .await
    }

    async fn single_messages_by_id(
        &self,
        user_id: u32,
        peer_id: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        let ids = ids.to_vec();
        self.read(move |c| message::single_by_ids(c, user_id, peer_id, &ids, limit))
            .await
    }

    async fn group_messages_by_id(
        &self,
        group_id: u32,
        joined: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        let ids = ids.to_vec();
        self.read(move |c| message::group_by_ids(c, group_id, joined, &ids, limit))
            .await
    }

    async fn group_join_time(&self, group_id: u32, user_id: u32) -> StoreResult<Option<u32>> {
        self.read(move |c| message::join_time(c, group_id, user_id))
            .await
    }

    async fn add_audio(&self, audio: AudioRow) -> StoreResult<u32> {
        self.write(move |c| message::add_audio(c, &audio)).await
    }

    async fn audio(&self, id: u32) -> StoreResult<Option<AudioRow>> {
        self.read(move |c| message::audio(c, id)).await
    }

    async fn add_unread(&self, user_id: u32, peer_id: u32, n: u32) -> StoreResult<()> {
        self.write(move |c| counter::add_unread(c, user_id, peer_id, n))
            .await
    }

    async fn clear_unread(&self, user_id: u32, peer_id: u32) -> StoreResult<()> {
        self.write(move |c| counter::clear_unread(c, user_id, peer_id))
            .await
    }

    async fn unread_counts(&self, user_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.read_quick(1, move |c| counter::unread_counts(c, user_id))
            .await
    }

    async fn incr_group_total(&self, group_id: u32) -> StoreResult<u32> {
        self.write(move |c| counter::incr_group_total(c, group_id))
            .await
    }

    async fn mark_group_read(&self, user_id: u32, group_id: u32) -> StoreResult<()> {
        self.write(move |c| counter::mark_group_read(c, user_id, group_id))
            .await
    }

    async fn group_counter(&self, user_id: u32, group_id: u32) -> StoreResult<Option<(u32, u32)>> {
        self.read(move |c| counter::group_counter(c, user_id, group_id))
            .await
    }

    async fn group_counters(
        &self,
        user_id: u32,
        group_ids: &[u32],
    ) -> StoreResult<Vec<Option<(u32, u32)>>> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = group_ids.to_vec();
        self.read_quick(ids.len(), move |c| {
            ids.iter()
                .map(|g| counter::group_counter(c, user_id, *g))
                .collect()
        })
        .await
    }

    async fn add_group_member(&self, group_id: u32, user_id: u32, now: u32) -> StoreResult<()> {
        self.write(move |c| group::add_member(c, group_id, user_id, now))
            .await
    }

    async fn group_exists(&self, group_id: u32) -> StoreResult<bool> {
        self.read(move |c| group::exists(c, group_id)).await
    }

    async fn is_group_member(&self, group_id: u32, user_id: u32) -> StoreResult<bool> {
        self.read(move |c| group::is_member(c, group_id, user_id))
            .await
    }

    async fn user_groups(&self, user_id: u32) -> StoreResult<Vec<u32>> {
        self.read_quick(1, move |c| group::user_groups(c, user_id))
            .await
    }

    async fn groups_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<GroupRecord>> {
        let ids = ids.to_vec();
        self.read(move |c| group::by_ids(c, &ids)).await
    }

    async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>> {
        self.read(group::list).await
    }

    async fn group_members(&self, group_id: u32) -> StoreResult<Vec<u32>> {
        self.read(move |c| group::members(c, group_id)).await
    }

    async fn create_group(&self, g: NewGroup, now: u32) -> StoreResult<u32> {
        self.write(move |c| group::create(c, &g, now)).await
    }

    async fn change_group_members(
        &self,
        group_id: u32,
        add: bool,
        users: &[u32],
        now: u32,
    ) -> StoreResult<()> {
        let users = users.to_vec();
        self.write(move |c| group::change_members(c, group_id, add, &users, now))
            .await
    }

    async fn groups_chatted_since(&self, since: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.read(move |c| group::chatted_since(c, since)).await
    }

    async fn touch_group_session(
        &self,
        user_id: u32,
        group_id: u32,
        at: u32,
        now: u32,
    ) -> StoreResult<()> {
        self.write(move |c| session::touch_group(c, user_id, group_id, at, now))
            .await
    }

    async fn group_sync_cursor(&self) -> StoreResult<Option<u32>> {
        self.read(|c| user::state_value(c, user::GROUP_SYNC_CURSOR))
            .await
    }

    async fn set_group_sync_cursor(&self, at: u32) -> StoreResult<()> {
        self.write(move |c| user::set_state_value(c, user::GROUP_SYNC_CURSOR, at))
            .await
    }

    async fn set_group_push_shield(
        &self,
        group_id: u32,
        user_id: u32,
        status: u32,
    ) -> StoreResult<()> {
        self.write(move |c| group::set_push_shield(c, group_id, user_id, status))
            .await
    }

    async fn group_push_shields(&self, group_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.read(move |c| group::push_shields(c, group_id)).await
    }

    async fn register_device_token(
        &self,
        user_id: u32,
        platform: Platform,
        token: &str,
    ) -> StoreResult<()> {
        let token = token.to_owned();
        self.write(move |c| device::register(c, user_id, platform, &token))
            .await
    }

    async fn clear_device_token(&self, user_id: u32) -> StoreResult<()> {
        self.write(move |c| device::clear(c, user_id)).await
    }

    async fn device_tokens(&self, user_ids: &[u32]) -> StoreResult<Vec<DeviceToken>> {
        let ids = user_ids.to_vec();
        self.read(move |c| device::tokens(c, &ids)).await
    }

    async fn add_offline_file(&self, f: OfflineFile, now: u32) -> StoreResult<()> {
        self.write(move |c| file::add(c, &f, now)).await
    }

    async fn offline_files_for(&self, to_id: u32) -> StoreResult<Vec<OfflineFile>> {
        self.read(move |c| file::for_receiver(c, to_id)).await
    }

    async fn delete_offline_file(
        &self,
        from_id: u32,
        to_id: u32,
        task_id: &str,
    ) -> StoreResult<u64> {
        let task_id = task_id.to_owned();
        self.write(move |c| file::delete(c, from_id, to_id, &task_id))
            .await
    }
}
