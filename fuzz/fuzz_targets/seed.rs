//! The `dispatch` target's world: one tokio runtime and one seeded
//! embedded store per process, built on first use.
//!
//! Ids follow the tests' fixture: users 1 (zhangyl), 2 (test) and 3
//! (gone, status 3), all with the password md5("123456"); group 1
//! (temporary, members 1 and 2) and group 2 (fixed, members 1 and 3).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use prost_reflect::DescriptorPool;
use tt_dbproxy::clock::Clock;
use tt_dbproxy::config::Config;
use tt_dbproxy::state::AppState;
use tt_dbproxy::store::{
    DepartRecord, NewGroup, NewMessage, NewUser, OfflineFile, Platform, SESSION_GROUP,
    SESSION_SINGLE, SqliteStore, Store,
};

/// The fixture's "now".
const T0: u32 = 1_700_000_000;

/// Everything one input runs against.
pub struct World {
    pub runtime: tokio::runtime::Runtime,
    pub state: Arc<AppState>,
    pub pool: DescriptorPool,
    _dir: tempfile::TempDir,
}

/// The process's world, seeded on the first call.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build)
}

fn build() -> World {
    // RAM-backed when available: the target writes on most inputs.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("temporary directory");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut config = Config::default();
    config.storage.data_dir = dir.path().to_path_buf();
    // Voice messages reach the media server: a closed loopback port
    // refuses at once.
    config.media.msfs_site = "http://127.0.0.1:9".into();
    let state = runtime.block_on(async {
        let store = SqliteStore::open(dir.path()).await.expect("open store");
        seed(&store).await;
        AppState::new(config, Arc::new(store), Clock::manual(T0, 8 * 3600))
    });
    World {
        runtime,
        state,
        pool: tt_dbproxy::wire::json::descriptor_pool().expect("descriptors"),
        _dir: dir,
    }
}

async fn seed(st: &dyn Store) {
    let password = "b605e86d02eef8bfd0646f6a704c17c9";
    let users = [
        ("zhangyl", "张远龙", 1, 0, 1000, 0, "hello"),
        ("test", "测试", 2, 0, 2000, 1, ""),
        ("gone", "离职", 1, 3, 3000, 0, ""),
    ];
    for (name, nick, depart_id, status, updated, push_shield_status, sign_info) in users {
        st.add_user(NewUser {
            name: name.into(),
            password: password.into(),
            salt: "1234".into(),
            nick: nick.into(),
            domain: name.into(),
            depart_id,
            status,
            updated,
            push_shield_status,
            sign_info: sign_info.into(),
            ..Default::default()
        })
        .await
        .expect("seed user");
    }
    for (name, priority, status, updated) in [("研发", 1, 0, 100), ("销售", 2, 1, 200)] {
        let d = DepartRecord {
            name: name.into(),
            priority,
            status,
            updated,
            ..Default::default()
        };
        st.add_department(d).await.expect("seed department");
    }
    let groups = [("g5", 1, 2, vec![1, 2]), ("fixed", 3, 1, vec![1, 3])];
    let mut group_ids = Vec::new();
    for (name, creator, group_type, members) in groups {
        let g = NewGroup {
            name: name.into(),
            avatar: "a".into(),
            creator,
            group_type,
            members,
        };
        group_ids.push(st.create_group(g, T0).await.expect("seed group"));
    }
    let messages = [
        (1, 2, false, 1, "hi"),
        (2, 1, false, 1, "yo"),
        (1, group_ids[0], true, 0x11, "g"),
        (3, group_ids[1], true, 0x11, "f"),
    ];
    for (from_id, to_id, group, msg_type, content) in messages {
        let m = NewMessage {
            from_id,
            to_id,
            group,
            msg_type,
            content: content.into(),
            created: T0,
            resend: None,
        };
        st.store_message(m, T0).await.expect("seed message");
    }
    // Messages made the senders' sessions; one more for a group member
    // who has not spoken, and one removed.
    st.add_session(2, group_ids[0], SESSION_GROUP, T0)
        .await
        .expect("session");
    let gone = st
        .add_session(3, 1, SESSION_SINGLE, T0)
        .await
        .expect("session");
    st.remove_session(gone, T0).await.expect("remove session");
    st.add_unread(2, 1, 3).await.expect("unread");
    st.register_device_token(1, Platform::Ios, "tok-ios")
        .await
        .expect("token");
    st.register_device_token(2, Platform::Android, "tok-android")
        .await
        .expect("token");
    st.set_push_shield(2, 1, T0).await.expect("push shield");
    st.set_group_push_shield(group_ids[0], 2, 1)
        .await
        .expect("group shield");
    let file = OfflineFile {
        from_id: 1,
        to_id: 2,
        task_id: "task-1".into(),
        file_name: "a.txt".into(),
        size: 10,
        created: T0,
    };
    st.add_offline_file(file, T0).await.expect("offline file");
}
