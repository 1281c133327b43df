//! The MySQL schema that `tt-dbproxy migrate` creates: TeamTalk's tables
//! exactly as `ttopen.sql` defines them (names, columns, types, indexes,
//! charsets), plus `IMTransmitFile`, which upstream forgot. Every statement
//! is `CREATE TABLE IF NOT EXISTS`: an existing table is never altered or
//! dropped.

use std::time::Duration;

use super::error::map_err;
use super::pool::{MysqlPools, endpoint_opts};
use crate::config::MysqlEndpoint;
use crate::store::{MESSAGE_SHARDS, StoreError, StoreResult};
use mysql_async::Conn;
use mysql_async::prelude::Queryable;

const TABLES: &[&str] = &[
    r"CREATE TABLE IF NOT EXISTS `IMAdmin` (
  `id` mediumint(6) unsigned NOT NULL AUTO_INCREMENT,
  `uname` varchar(40) NOT NULL,
  `pwd` char(32) NOT NULL,
  `status` tinyint(2) unsigned NOT NULL DEFAULT '0',
  `created` int(11) unsigned NOT NULL DEFAULT '0',
  `updated` int(11) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8",
    r"CREATE TABLE IF NOT EXISTS `IMAudio` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `fromId` int(11) unsigned NOT NULL,
  `toId` int(11) unsigned NOT NULL,
  `path` varchar(255) COLLATE utf8mb4_bin DEFAULT '',
  `size` int(11) unsigned NOT NULL DEFAULT '0',
  `duration` int(11) unsigned NOT NULL DEFAULT '0',
  `created` int(11) unsigned NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_fromId_toId` (`fromId`,`toId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    r"CREATE TABLE IF NOT EXISTS `IMDepart` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `departName` varchar(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `priority` int(11) unsigned NOT NULL DEFAULT '0',
  `parentId` int(11) unsigned NOT NULL,
  `status` int(11) unsigned NOT NULL DEFAULT '0',
  `created` int(11) unsigned NOT NULL,
  `updated` int(11) unsigned NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_departName` (`departName`),
  KEY `idx_priority_status` (`priority`,`status`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    r"CREATE TABLE IF NOT EXISTS `IMDiscovery` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `itemName` varchar(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `itemUrl` varchar(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `itemPriority` int(11) unsigned NOT NULL,
  `status` int(11) unsigned NOT NULL DEFAULT '0',
  `created` int(11) unsigned NOT NULL,
  `updated` int(11) unsigned NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_itemName` (`itemName`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    r"CREATE TABLE IF NOT EXISTS `IMGroup` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(256) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `avatar` varchar(256) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `creator` int(11) unsigned NOT NULL DEFAULT '0',
  `type` tinyint(3) unsigned NOT NULL DEFAULT '1',
  `userCnt` int(11) unsigned NOT NULL DEFAULT '0',
  `status` tinyint(3) unsigned NOT NULL DEFAULT '1',
  `version` int(11) unsigned NOT NULL DEFAULT '1',
  `lastChated` int(11) unsigned NOT NULL DEFAULT '0',
  `updated` int(11) unsigned NOT NULL DEFAULT '0',
  `created` int(11) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`),
  KEY `idx_name` (`name`(191)),
  KEY `idx_creator` (`creator`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    r"CREATE TABLE IF NOT EXISTS `IMGroupMember` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `groupId` int(11) unsigned NOT NULL,
  `userId` int(11) unsigned NOT NULL,
  `status` tinyint(4) unsigned NOT NULL DEFAULT '1',
  `created` int(11) unsigned NOT NULL DEFAULT '0',
  `updated` int(11) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`),
  KEY `idx_groupId_userId_status` (`groupId`,`userId`,`status`),
  KEY `idx_userId_status_updated` (`userId`,`status`,`updated`),
  KEY `idx_groupId_updated` (`groupId`,`updated`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8",
    r"CREATE TABLE IF NOT EXISTS `IMRecentSession` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `userId` int(11) unsigned NOT NULL,
  `peerId` int(11) unsigned NOT NULL,
  `type` tinyint(1) unsigned DEFAULT '0',
  `status` tinyint(1) unsigned DEFAULT '0',
  `created` int(11) unsigned NOT NULL DEFAULT '0',
  `updated` int(11) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`),
  KEY `idx_userId_peerId_status_updated` (`userId`,`peerId`,`status`,`updated`),
  KEY `idx_userId_peerId_type` (`userId`,`peerId`,`type`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8",
    r"CREATE TABLE IF NOT EXISTS `IMRelationShip` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `smallId` int(11) unsigned NOT NULL,
  `bigId` int(11) unsigned NOT NULL,
  `status` tinyint(1) unsigned DEFAULT '0',
  `created` int(11) unsigned NOT NULL DEFAULT '0',
  `updated` int(11) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`),
  KEY `idx_smallId_bigId_status_updated` (`smallId`,`bigId`,`status`,`updated`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8",
    r"CREATE TABLE IF NOT EXISTS `IMUser` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `sex` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `name` varchar(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `domain` varchar(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `nick` varchar(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `password` varchar(32) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `salt` varchar(4) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `phone` varchar(11) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `email` varchar(64) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `avatar` varchar(255) COLLATE utf8mb4_bin DEFAULT '',
  `departId` int(11) unsigned NOT NULL,
  `status` tinyint(2) unsigned DEFAULT '0',
  `created` int(11) unsigned NOT NULL,
  `updated` int(11) unsigned NOT NULL,
  `push_shield_status` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `sign_info` varchar(128) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  PRIMARY KEY (`id`),
  KEY `idx_domain` (`domain`),
  KEY `idx_name` (`name`),
  KEY `idx_phone` (`phone`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    r"CREATE TABLE IF NOT EXISTS `IMTransmitFile` (
  `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
  `fromId` int(11) unsigned NOT NULL,
  `toId` int(11) unsigned NOT NULL,
  `fileName` varchar(255) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `size` int(11) unsigned NOT NULL DEFAULT '0',
  `taskId` varchar(128) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `status` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `created` int(11) unsigned NOT NULL DEFAULT '0',
  `updated` int(11) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`),
  KEY `idx_toId_status_created` (`toId`,`status`,`created`),
  KEY `idx_fromId_toId_taskId` (`fromId`,`toId`,`taskId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
];

const GROUP_MESSAGE_TABLE: &str = r"CREATE TABLE IF NOT EXISTS `IMGroupMessage_{n}` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `groupId` int(11) unsigned NOT NULL,
  `userId` int(11) unsigned NOT NULL,
  `msgId` int(11) unsigned NOT NULL,
  `content` varchar(4096) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  `type` tinyint(3) unsigned NOT NULL DEFAULT '2',
  `status` int(11) unsigned NOT NULL DEFAULT '0',
  `updated` int(11) unsigned NOT NULL DEFAULT '0',
  `created` int(11) unsigned NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`),
  KEY `idx_groupId_status_created` (`groupId`,`status`,`created`),
  KEY `idx_groupId_msgId_status_created` (`groupId`,`msgId`,`status`,`created`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

const MESSAGE_TABLE: &str = r"CREATE TABLE IF NOT EXISTS `IMMessage_{n}` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `relateId` int(11) unsigned NOT NULL,
  `fromId` int(11) unsigned NOT NULL,
  `toId` int(11) unsigned NOT NULL,
  `msgId` int(11) unsigned NOT NULL,
  `content` varchar(4096) COLLATE utf8mb4_bin DEFAULT '',
  `type` tinyint(2) unsigned NOT NULL DEFAULT '1',
  `status` tinyint(1) unsigned NOT NULL DEFAULT '0',
  `updated` int(11) unsigned NOT NULL,
  `created` int(11) unsigned NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_relateId_status_created` (`relateId`,`status`,`created`),
  KEY `idx_relateId_status_msgId_created` (`relateId`,`status`,`msgId`,`created`),
  KEY `idx_fromId_toId_created` (`fromId`,`toId`,`status`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/// Every statement of the schema, shard tables expanded.
pub fn statements() -> Vec<String> {
    let mut all: Vec<String> = TABLES.iter().map(|s| (*s).to_string()).collect();
    for n in 0..MESSAGE_SHARDS {
        all.push(GROUP_MESSAGE_TABLE.replace("{n}", &n.to_string()));
        all.push(MESSAGE_TABLE.replace("{n}", &n.to_string()));
    }
    all
}

/// Creates whatever tables are missing; returns how many statements ran.
pub async fn migrate(pools: &MysqlPools) -> StoreResult<usize> {
    let mut conn = pools.primary().await?;
    let all = statements();
    for sql in &all {
        conn.query_drop(sql.as_str()).await.map_err(map_err)?;
    }
    Ok(all.len())
}

/// MySQL's `ER_BAD_DB_ERROR`: the database does not exist.
const ER_BAD_DB: u16 = 1049;
/// MySQL's `ER_DBACCESS_DENIED_ERROR`: no privilege on the database (also
/// what a missing one looks like to an account without any grant on it).
const ER_DBACCESS_DENIED: u16 = 1044;

/// Why `migrate` cannot use the configured database.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The database is missing and the account may not create it.
    #[error(
        "MySQL database `{database}` does not exist on {server} and user '{user}' may not \
         create it ({reason}); as a MySQL administrator run\n  \
         CREATE DATABASE `{database}` CHARACTER SET utf8mb4;\n  \
         GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'%';\n\
         (with the account's host instead of '%' if it has one), then migrate again"
    )]
    CannotCreate {
        /// The configured database.
        database: String,
        /// `host:port`.
        server: String,
        /// The configured user.
        user: String,
        /// The server's refusal.
        reason: String,
    },
    /// The account may not use the database (which may also be missing).
    #[error(
        "MySQL user '{user}' may not use database `{database}` on {server} ({reason}); \
         as a MySQL administrator run\n  \
         CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4;\n  \
         GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'%';\n\
         (with the account's host instead of '%' if it has one), then migrate again"
    )]
    AccessDenied {
        /// The configured database.
        database: String,
        /// `host:port`.
        server: String,
        /// The configured user.
        user: String,
        /// The server's refusal.
        reason: String,
    },
    /// MySQL could not be reached or failed otherwise.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `name` as a quoted identifier.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Connects to `e` (with or without its database) within `wait`.
async fn connect(
    e: &MysqlEndpoint,
    with_db: bool,
    wait: Duration,
) -> Result<Conn, mysql_async::Error> {
    match tokio::time::timeout(wait, Conn::new(endpoint_opts(e, with_db))).await {
        Ok(r) => r,
        Err(_) => Err(mysql_async::Error::Other(
            format!(
                "no connection to {}:{} within {} ms",
                e.host,
                e.port,
                wait.as_millis()
            )
            .into(),
        )),
    }
}

/// Makes sure the primary's database exists before `migrate` creates the
/// tables: when MySQL says it is unknown, connects without a database
/// and creates it (`utf8mb4`), which needs the `CREATE` privilege. Returns
/// whether it was created. A refusal names the database and the
/// statements an administrator runs instead.
pub async fn ensure_database(e: &MysqlEndpoint, wait: Duration) -> Result<bool, DatabaseError> {
    let server = format!("{}:{}", e.host, e.port);
    let refused = |code: u16, message: &str| (format!("ERROR {code}: {message}"), server.clone());
    match connect(e, true, wait).await {
        Ok(c) => {
            let _ = c.disconnect().await;
            Ok(false)
        }
        Err(mysql_async::Error::Server(s)) if s.code == ER_BAD_DB => {
            let mut c = connect(e, false, wait).await.map_err(map_err)?;
            let created = c
                .query_drop(format!(
                    "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
                    quoted(&e.database)
                ))
                .await;
            let _ = c.disconnect().await;
            match created {
                Ok(()) => Ok(true),
                Err(mysql_async::Error::Server(s)) => {
                    let (reason, server) = refused(s.code, &s.message);
                    Err(DatabaseError::CannotCreate {
                        database: e.database.clone(),
                        server,
                        user: e.user.clone(),
                        reason,
                    })
                }
                Err(other) => Err(map_err(other).into()),
            }
        }
        Err(mysql_async::Error::Server(s)) if s.code == ER_DBACCESS_DENIED => {
            let (reason, server) = refused(s.code, &s.message);
            Err(DatabaseError::AccessDenied {
                database: e.database.clone(),
                server,
                user: e.user.clone(),
                reason,
            })
        }
        Err(other) => Err(map_err(other).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn database_names_are_quoted() {
        assert_eq!(quoted("teamtalk"), "`teamtalk`");
        assert_eq!(quoted("a`b"), "`a``b`");
    }
}
