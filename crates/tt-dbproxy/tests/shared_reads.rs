//! Reads that concurrent requests share on MySQL + Redis (users by ids,
//! the unread summary: one statement for a batch of requests, rows tagged
//! by request) answer every request with exactly its own rows, whatever
//! else shares its batch; on both backends.

mod common;

use common::sends::send_id;
use common::*;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{NewGroup, NewUser};
use tt_proto::im::buddy::{ImUsersInfoReq, ImUsersInfoRsp};
use tt_proto::im::message::{ImMsgData, ImUnreadMsgCntReq, ImUnreadMsgCntRsp};

/// Users made for the test: ids `FIRST..FIRST + USERS`.
const USERS: u32 = 24;
/// Requests in flight at once, each on its own connection.
const CLIENTS: u32 = 12;
/// Rounds of concurrent requests.
const ROUNDS: u32 = 4;

/// Adds `USERS` users named `shared_<i>`, nick `nick <i>`; the first id.
async fn add_users(s: &TestServer) -> u32 {
    let mut first = None;
    for i in 0..USERS {
        let id = s
            .store
            .add_user(NewUser {
                name: format!("shared_{i}"),
                nick: format!("nick {i}"),
                ..NewUser::default()
            })
            .await
            .unwrap();
        first.get_or_insert(id);
    }
    first.unwrap()
}

/// (id, nick) of each user a users request answered.
async fn users(c: &mut Client, ids: Vec<u32>) -> Vec<(u32, String)> {
    let req = ImUsersInfoReq {
        user_id: Some(1),
        user_id_list: ids,
        attach_data: ab(),
    };
    let rsp: ImUsersInfoRsp = call(c, 0x0204, &req, 2, 0x0205).await;
    assert_eq!(rsp.attach_data, ab());
    rsp.user_info_list
        .iter()
        .map(|u| {
            let nick = String::from_utf8_lossy(u.user_nick_name.as_deref().unwrap_or_default());
            (u.user_id.unwrap_or(0), nick.into_owned())
        })
        .collect()
}

/// The ids client `n` asks for in round `round`: a window of the users
/// that moves with both, some asked twice, and an id nobody has.
fn asked(first: u32, n: u32, round: u32) -> Vec<u32> {
    let start = first + (n * 3 + round) % USERS;
    let len = 1 + (n + round) % 7;
    let mut ids: Vec<u32> = (start..start + len)
        .filter(|id| *id < first + USERS)
        .collect();
    if let Some(id) = ids.first().copied() {
        ids.push(id);
    }
    ids.push(900_000 + n);
    ids
}

async fn concurrent_users_requests_each_get_their_own_users(b: Backend) {
    let s = TestServer::seeded(b).await;
    let first = add_users(&s).await;
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        for n in 0..CLIENTS {
            let mut c = s.client().await;
            let ids = asked(first, n, round);
            tasks.push(tokio::spawn(async move { (n, users(&mut c, ids).await) }));
        }
        for t in tasks {
            let (n, got) = t.await.unwrap();
            let mut want: Vec<u32> = asked(first, n, round)
                .into_iter()
                .filter(|id| *id < first + USERS)
                .collect();
            want.sort_unstable();
            want.dedup();
            let want: Vec<(u32, String)> = want
                .into_iter()
                .map(|id| (id, format!("nick {}", id - first)))
                .collect();
            assert_eq!(got, want, "client {n}, round {round}");
        }
    }
}

/// (peer or group, count, latest message, its sender) of each entry of
/// a user's unread summary, ordered by session.
async fn unread(c: &mut Client, user: u32) -> Vec<Entry> {
    let req = ImUnreadMsgCntReq {
        user_id: Some(user),
        attach_data: ab(),
    };
    let rsp: ImUnreadMsgCntRsp = call(c, 0x0307, &req, 3, 0x0308).await;
    assert_eq!(rsp.user_id, Some(user));
    let mut out: Vec<Entry> = rsp
        .unreadinfo_list
        .iter()
        .map(|e| {
            let data = String::from_utf8_lossy(e.latest_msg_data.as_deref().unwrap_or_default());
            (
                e.session_id.unwrap_or(0),
                e.unread_cnt.unwrap_or(0),
                data.into_owned(),
                e.latest_msg_from_user_id.unwrap_or(0),
            )
        })
        .collect();
    out.sort_unstable();
    out
}

fn text(from: u32, to: u32, msg_type: i32, data: String) -> ImMsgData {
    common::sends::msg(from, to, msg_type, data.as_bytes())
}

/// An entry of [`unread`]'s answer.
type Entry = (u32, u32, String, u32);

/// `rounds` rounds of `CLIENTS` unread summaries at once, each on its own
/// connection: in round `r`, client `n` asks for the receiver of pair
/// `(n + r) % pairs` (user `first + 2k + 1`), answered `want(k)`.
async fn summaries_at_once(
    s: &TestServer,
    first: u32,
    pairs: u32,
    rounds: u32,
    want: impl Fn(u32) -> Vec<Entry>,
) {
    for round in 0..rounds {
        let mut tasks = Vec::new();
        for n in 0..CLIENTS {
            let k = (n + round) % pairs;
            let mut c = s.client().await;
            tasks.push(tokio::spawn(async move {
                (k, unread(&mut c, first + 2 * k + 1).await)
            }));
        }
        for t in tasks {
            let (k, got) = t.await.unwrap();
            assert_eq!(got, want(k), "pair {k}, round {round}");
        }
    }
}

async fn concurrent_unread_summaries_each_get_their_own_conversations(b: Backend) {
    let s = TestServer::seeded(b).await;
    let first = add_users(&s).await;
    let mut c = s.client().await;
    // Pair k: user 2k sends k + 1 messages to user 2k + 1, and a message
    // into the group of the two, one group per pair.
    let pairs = USERS / 2;
    let mut groups = Vec::new();
    for k in 0..pairs {
        let (from, to) = (first + 2 * k, first + 2 * k + 1);
        for i in 0..=k {
            let id = send_id(&mut c, &text(from, to, 1, format!("pair {k} message {i}"))).await;
            assert_eq!(id, i + 1, "pair {k}");
        }
        let group = s
            .store
            .create_group(
                NewGroup {
                    name: format!("group {k}"),
                    avatar: String::new(),
                    creator: from,
                    group_type: 1,
                    members: vec![from, to],
                },
                1000,
            )
            .await
            .unwrap();
        let id = send_id(&mut c, &text(from, group, 0x11, format!("group {k} news"))).await;
        assert_eq!(id, 1, "group {k}");
        groups.push(group);
    }
    let want = |k: u32| {
        let mut w = vec![
            (
                first + 2 * k,
                k + 1,
                format!("pair {k} message {k}"),
                first + 2 * k,
            ),
            (
                groups[k as usize],
                1,
                format!("group {k} news"),
                first + 2 * k,
            ),
        ];
        w.sort_unstable();
        w
    };
    summaries_at_once(&s, first, pairs, ROUNDS, want).await;
}

/// A relation this instance remembers from a send but that was ended
/// behind its back (by an operator) hides the conversation from the
/// receiver's unread summary, whether the summary's read runs alone or
/// shares its statement with others' (the relation is checked in the
/// statement); the conversations of active relations and the group stay
/// listed, also for a user whose summary two requests of one read ask.
async fn unread_summaries_leave_out_relations_ended_meanwhile(b: Backend) {
    let s = TestServer::seeded(b).await;
    let first = add_users(&s).await;
    let mut c = s.client().await;
    let pairs = 6;
    for k in 0..pairs {
        let (from, to) = (first + 2 * k, first + 2 * k + 1);
        let id = send_id(&mut c, &text(from, to, 1, format!("pair {k}"))).await;
        assert_eq!(id, 1, "pair {k}");
    }
    // The odd pairs' relations are ended by hand.
    let odd: Vec<String> = (0..pairs)
        .filter(|k| k % 2 == 1)
        .map(|k| (first + 2 * k).to_string())
        .collect();
    let sql = format!(
        "UPDATE IMRelationShip SET status = 1 WHERE smallId IN ({})",
        odd.join(", ")
    );
    common::fixtures::exec_sql(&s, b, &sql).await;
    // A group of everyone, with one message: every summary lists it too
    // (a user asked for by several requests of one read gets it in each).
    let group = s
        .store
        .create_group(
            NewGroup {
                name: "everyone".into(),
                avatar: String::new(),
                creator: first,
                group_type: 1,
                members: (first..first + 2 * pairs).collect(),
            },
            1000,
        )
        .await
        .unwrap();
    let id = send_id(&mut c, &text(first, group, 0x11, "news".into())).await;
    assert_eq!(id, 1, "group message");
    let want = |k: u32| {
        let mut w = vec![(group, 1, "news".to_string(), first)];
        if k.is_multiple_of(2) {
            w.push((first + 2 * k, 1, format!("pair {k}"), first + 2 * k));
        }
        w.sort_unstable();
        w
    };
    // Alone, then concurrently.
    for k in 0..pairs {
        assert_eq!(
            unread(&mut c, first + 2 * k + 1).await,
            want(k),
            "pair {k} alone"
        );
    }
    summaries_at_once(&s, first, pairs, 3 * ROUNDS, want).await;
}

/// Summaries whose remembered conversation comes after more than a
/// thousand others (peers with unread counts and no conversation, as
/// after a bulk import), several in one shared read: each finds its own
/// message and no other request's. A row of the shared statement is
/// tagged by the conversation's index among those it reads, not by its
/// position in the summary, which has no bound (a position past the
/// tag's stride once read as another request's).
async fn conversations_after_a_thousand_others_are_found(b: Backend) {
    let s = TestServer::seeded(b).await;
    let first = add_users(&s).await;
    // Senders whose ids sort after "1…" as text (the summary's order).
    let senders: Vec<u32> = (first..first + USERS)
        .filter(|id| !id.to_string().starts_with('1'))
        .take(2)
        .collect();
    assert_eq!(senders.len(), 2);
    let receivers: Vec<u32> = (first..first + USERS)
        .filter(|id| !senders.contains(id))
        .take(2)
        .collect();
    let mut c = s.client().await;
    for (from, to) in senders.iter().zip(&receivers) {
        let id = send_id(&mut c, &text(*from, *to, 1, format!("from {from}"))).await;
        assert_eq!(id, 1);
        for peer in 1_000_000..1_001_100 {
            s.store.add_unread(*to, peer, 1).await.unwrap();
        }
    }
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        for n in 0..CLIENTS {
            let i = ((n + round) % 2) as usize;
            let (from, to) = (senders[i], receivers[i]);
            let mut c = s.client().await;
            tasks.push(tokio::spawn(
                async move { (from, unread(&mut c, to).await) },
            ));
        }
        for t in tasks {
            let (from, got) = t.await.unwrap();
            assert_eq!(
                got,
                [(from, 1, format!("from {from}"), from)],
                "the one conversation with a message, at position 1,100; round {round}"
            );
        }
    }
}

/// (reads, requests) of the shared `read` so far, from its histogram.
fn shared(read: &str) -> (f64, f64) {
    histogram_count_sum(
        "tt_dbproxy_shared_read_batch_size",
        &format!("{{read=\"{read}\"}}"),
    )
}

/// On MySQL, concurrent requests do share reads: fewer reads than
/// requests (the answers' exactness is the tests above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_users_requests_share_reads_on_mysql() {
    let Some(s) = seeded_mysql_redis_with_metrics().await else {
        return;
    };
    let first = add_users(&s).await;
    let (reads_before, requests_before) = shared("users");
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        for n in 0..CLIENTS {
            let mut c = s.client().await;
            let ids = asked(first, n, round);
            tasks.push(tokio::spawn(async move { users(&mut c, ids).await.len() }));
        }
        for t in tasks {
            assert!(t.await.unwrap() >= 1);
        }
    }
    let (reads, requests) = shared("users");
    let (reads, requests) = (reads - reads_before, requests - requests_before);
    assert!(
        requests >= f64::from(CLIENTS * ROUNDS),
        "every request counted: {requests}"
    );
    assert!(reads < requests, "{reads} reads for {requests} requests");
}

on_every_backend!(
    concurrent_users_requests_each_get_their_own_users,
    concurrent_unread_summaries_each_get_their_own_conversations,
    unread_summaries_leave_out_relations_ended_meanwhile,
    conversations_after_a_thousand_others_are_found,
);
