#!/usr/bin/env bash
# Sends and the mix, before and after group commit and durable syncs, with
# the raw backends measured in the same run (docs/benchmarks.md):
#   - SQLite alone on this disk: 1-row and 16-row transactions, WAL with
#     synchronous FULL and NORMAL (examples/sqlite_raw.rs);
#   - MariaDB alone: mysqlslap, single-row autocommit INSERTs into an
#     IMMessage-shaped table at 16 clients;
#   - the server, embedded with (sync, batch_max) = (normal, 1) — the old
#     behaviour —, (full, 1) and (full, 64) — the default —, and MySQL +
#     Redis with batch_max 1 and 64; `send` and `mixed` through the proxy
#     and `send` with --direct.
#
#   scripts/bench-sends.sh            # about 3 minutes
#   CONNS=64 DURATION=10s scripts/bench-sends.sh
#
# Needs jq, mysqlslap, the dev machine's MariaDB and Redis (database
# tt_bench_sends dropped and re-created, Redis db 13 flushed).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
MYSQL_URL=${MYSQL_URL:-mysql://root:@127.0.0.1:3306/tt_bench_sends}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/13}
PORT=${PORT:-10696}
OUT=${OUT:-$PWD/target/bench-sends}
ADDR=127.0.0.1:$PORT
secs=${DURATION%s}

cargo build --release --bins --examples --quiet
BIN=$PWD/target/release/tt-dbproxy
RAW=$PWD/target/release/examples/sqlite_raw
rm -rf "$OUT" && mkdir -p "$OUT"

# shellcheck source=scripts/server-lib.sh
. scripts/server-lib.sh

bench() { # dir, name, args...
    local dir=$1 name=$2
    shift 2
    (cd "$dir" && "$BIN" bench --addr "$ADDR" --users 200 --json "$@") >"$OUT/$name.json"
    jq -r --arg n "$name" '"| \($n) | \(.throughput | floor) | \(.latency_us.p50) | \(.latency_us.p99) | \(.errors) |"' "$OUT/$name.json"
}

{
echo "## raw backends"
"$RAW" "$OUT/raw" full 1 "$secs"
"$RAW" "$OUT/raw" full 16 "$secs"
"$RAW" "$OUT/raw" normal 1 "$secs"
db=${MYSQL_URL##*/}
mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\`"
mysql -uroot -h127.0.0.1 "$db" -e "CREATE TABLE raw_msg (id int unsigned NOT NULL AUTO_INCREMENT, relateId int unsigned NOT NULL, fromId int unsigned NOT NULL, toId int unsigned NOT NULL, msgId int unsigned NOT NULL, content varchar(4096) DEFAULT '', type tinyint unsigned NOT NULL DEFAULT 1, status tinyint unsigned NOT NULL DEFAULT 0, updated int unsigned NOT NULL, created int unsigned NOT NULL, PRIMARY KEY (id), KEY idx_relateId_status_created (relateId, status, created)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
start=$(date +%s.%N)
mysqlslap -uroot -h127.0.0.1 --create-schema="$db" --concurrency="$CONNS" \
    --number-of-queries=$((CONNS * 1500)) \
    --query="INSERT INTO raw_msg (relateId, fromId, toId, msgId, content, type, status, updated, created) VALUES (1, 1, 2, 1, 'bench message', 1, 0, 0, 0)" >/dev/null
end=$(date +%s.%N)
echo "mariadb single-row autocommit INSERT, $CONNS clients: $(echo "$CONNS * 1500 / ($end - $start)" | bc) rows/s"

echo
echo "## tt-dbproxy, $CONNS connections, $DURATION"
echo "| run | req/s | p50 µs | p99 µs | errors |"
echo "|---|---|---|---|---|"
for setting in "normal 1" "full 1" "full 64"; do
    read -r sync batch <<<"$setting"
    dir=$OUT/embedded-$sync-$batch
    mkdir -p "$dir"
    export TT_DBPROXY_SYNC=$sync TT_DBPROXY_BATCH_MAX=$batch
    unset TT_DBPROXY_MYSQL_PRIMARY TT_DBPROXY_REDIS_URL
    start_server "$dir"
    bench "$dir" prepare --prepare --requests 10 >/dev/null
    bench "$dir" "embedded-sync=$sync-batch=$batch-send" --workload send --connections "$CONNS" --duration "$DURATION"
    bench "$dir" "embedded-sync=$sync-batch=$batch-mixed" --workload mixed --connections "$CONNS" --duration "$DURATION"
    stop_server
done
for batch in 1 64; do
    dir=$OUT/mysql-$batch
    mkdir -p "$dir"
    mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\`"
    redis-cli -n "${REDIS_URL##*/}" FLUSHDB >/dev/null
    export TT_DBPROXY_MYSQL_PRIMARY=$MYSQL_URL TT_DBPROXY_REDIS_URL=$REDIS_URL TT_DBPROXY_BATCH_MAX=$batch
    (cd "$dir" && "$BIN" migrate >/dev/null)
    start_server "$dir"
    bench "$dir" prepare --prepare --requests 10 >/dev/null
    bench "$dir" "mysql-batch=$batch-send" --workload send --connections "$CONNS" --duration "$DURATION"
    bench "$dir" "mysql-batch=$batch-mixed" --workload mixed --connections "$CONNS" --duration "$DURATION"
    stop_server
    bench "$dir" "mysql-batch=$batch-send-direct" --direct --workload send --connections "$CONNS" --duration "$DURATION"
done
} | tee "$OUT/summary.md"
