//! Messages on MySQL + Redis: rows in MySQL, ids and the resend memory in Redis; the send itself is [`super::send`] and [`super::pending`].

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::store::read_your_writes::Mark;
use crate::store::{
    AudioRow, GroupMessageRow, MessageRow, MessageStore, NewMessage, SingleMessageRow, StoreResult,
};

#[async_trait]
impl MessageStore for MysqlRedisStore {
    async fn insert_single_message(&self, row: SingleMessageRow) -> StoreResult<()> {
        let marks = [Mark::User(row.from_id), Mark::User(row.to_id)];
        self.write(
            "insert message",
            &marks,
            self.sql.insert_single_message(row),
        )
        .await
    }

    async fn insert_group_message(&self, row: GroupMessageRow) -> StoreResult<()> {
        let marks = [Mark::Group(row.group_id), Mark::User(row.from_id)];
        self.write(
            "insert group message",
            &marks,
            self.sql.insert_group_message(row),
        )
        .await
    }

    async fn store_message(&self, msg: NewMessage, now: u32) -> StoreResult<u32> {
        self.send(msg, now).await
    }

    async fn single_history(
        &self,
        user_id: u32,
        peer_id: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.settle_unresolved().await?;
        self.read(
            "history",
            &[Mark::User(user_id)],
            self.sql.single_history(user_id, peer_id, begin, count),
        )
        .await
    }

    async fn group_history(
        &self,
        group_id: u32,
        joined: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.settle_unresolved().await?;
        self.read(
            "group history",
            &[Mark::Group(group_id)],
            self.sql.group_history(group_id, joined, begin, count),
        )
        .await
    }

    async fn single_messages_by_id(
        &self,
        user_id: u32,
        peer_id: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.settle_unresolved().await?;
        self.read(
            "messages by id",
            &[Mark::User(user_id)],
            self.sql.single_by_ids(user_id, peer_id, ids, limit),
        )
        .await
    }

    async fn group_messages_by_id(
        &self,
        group_id: u32,
        joined: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.settle_unresolved().await?;
        self.read(
            "group messages by id",
            &[Mark::Group(group_id)],
            self.sql.group_by_ids(group_id, joined, ids, limit),
        )
        .await
    }

    async fn add_audio(&self, audio: AudioRow) -> StoreResult<u32> {
        self.write("add audio", &[], self.sql.add_audio(audio))
            .await
    }

    async fn audio(&self, id: u32) -> StoreResult<Option<AudioRow>> {
        self.read("audio", &[], self.sql.audio(id)).await
    }
}
