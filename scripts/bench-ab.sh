#!/usr/bin/env bash
# Two binaries back to back on MySQL + Redis (or the embedded store):
# `send` and `mixed` at 16 connections, RUNS runs each, alternating A and
# B so both see the same machine; prints every figure (with its errors:
# `bench` exits 2 on any, e.g. the login throttle refusing a mixed run's
# logins) and the median per binary and workload. With ENGINES=1 each run
# also measures the engine alone, for the ratio of sends to what the
# engine can do in the same minutes: MariaDB's single-row autocommit
# INSERTs into an IMMessage-shaped table at CONNS clients (`mysqlslap`),
# or SQLite's synced 16-row transactions on this disk
# (examples/sqlite_raw.rs, built by this script).
#
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY
#   RUNS=5 DURATION=10s scripts/bench-ab.sh a b
#   BACKEND=embedded ENGINES=1 scripts/bench-ab.sh a b
#   LOADGEN=c scripts/bench-ab.sh a b  # load generator of both (default: B)
#
# Needs jq; for MySQL + Redis the dev machine's MariaDB and Redis
# (database tt_bench_ab dropped and re-created, Redis db 12 flushed,
# before each binary's runs) and mysqlslap for ENGINES=1. The embedded
# store runs synced (`storage.sync = "full"`, the default), each binary
# on a fresh data directory.
set -euo pipefail
cd "$(dirname "$0")/.."

A=${1:?old binary}
B=${2:?new binary}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
WORKLOADS=${WORKLOADS:-"send mixed"}
LOADGEN=${LOADGEN:-$B} # the load generator of both binaries' runs
BACKEND=${BACKEND:-mysql} # mysql | embedded
ENGINES=${ENGINES:-}
MYSQL_URL=${MYSQL_URL:-mysql://root:@127.0.0.1:3306/tt_bench_ab}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/12}
PORT=${PORT:-10697}
ADDR=127.0.0.1:$PORT
OUT=${OUT:-$PWD/target/bench-ab}
mkdir -p "$OUT"
rm -f "$OUT"/engine-*

# shellcheck source=scripts/server-lib.sh
. scripts/server-lib.sh

fresh() { # binary: empty backends, migrated, bench users prepared
    if [ "$BACKEND" = embedded ]; then
        BIN=$1
        rm -rf "$OUT/data"
        for v in "${!TT_DBPROXY_@}"; do unset "$v"; done
        start_server "$OUT"
        (cd "$OUT" && "$BIN" bench --addr "$ADDR" --prepare --requests 10 --json >/dev/null)
        return
    fi
    local db=${MYSQL_URL##*/}
    mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\`"
    redis-cli -n "${REDIS_URL##*/}" FLUSHDB >/dev/null
    BIN=$1
    TT_DBPROXY_MYSQL_PRIMARY="$MYSQL_URL" TT_DBPROXY_REDIS_URL="$REDIS_URL" "$BIN" migrate >/dev/null
    start_server "$OUT" TT_DBPROXY_MYSQL_PRIMARY="$MYSQL_URL" TT_DBPROXY_REDIS_URL="$REDIS_URL"
    # --prepare writes the users through the store of the configuration:
    # the same MySQL + Redis as the server's.
    TT_DBPROXY_MYSQL_PRIMARY="$MYSQL_URL" TT_DBPROXY_REDIS_URL="$REDIS_URL" \
        "$BIN" bench --addr "$ADDR" --prepare --requests 10 --json >/dev/null
}

secs=${DURATION%s}
if [ -n "$ENGINES" ] && [ "$BACKEND" = embedded ]; then
    cargo build --release --example sqlite_raw --quiet
    RAW=${CARGO_TARGET_DIR:-$PWD/target}/release/examples/sqlite_raw
fi
engine() { # run: the engine alone, printed and kept as $OUT/engine-<run>
    local rate
    if [ "$BACKEND" = embedded ]; then
        rm -rf "$OUT/raw"
        rate=$("$RAW" "$OUT/raw" full 16 "$secs" | sed -n 's/.*: \([0-9]*\) rows\/s/\1/p')
        echo "$rate" >"$OUT/engine-$1"
        printf 'E run %s sqlite synced 16-row transactions %8s rows/s\n' "$1" "$rate"
    else
        local db=${MYSQL_URL##*/} start end n=$((CONNS * 1500))
        mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\`"
        mysql -uroot -h127.0.0.1 "$db" -e "CREATE TABLE raw_msg (id int unsigned NOT NULL AUTO_INCREMENT, relateId int unsigned NOT NULL, fromId int unsigned NOT NULL, toId int unsigned NOT NULL, msgId int unsigned NOT NULL, content varchar(4096) DEFAULT '', type tinyint unsigned NOT NULL DEFAULT 1, status tinyint unsigned NOT NULL DEFAULT 0, updated int unsigned NOT NULL, created int unsigned NOT NULL, PRIMARY KEY (id), KEY idx_relateId_status_created (relateId, status, created)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        start=$(date +%s.%N)
        mysqlslap -uroot -h127.0.0.1 --create-schema="$db" --concurrency="$CONNS" \
            --number-of-queries="$n" \
            --query="INSERT INTO raw_msg (relateId, fromId, toId, msgId, content, type, status, updated, created) VALUES (1, 1, 2, 1, 'bench message', 1, 0, 0, 0)" >/dev/null
        end=$(date +%s.%N)
        rate=$(echo "$n / ($end - $start)" | bc)
        echo "$rate" >"$OUT/engine-$1"
        printf 'E run %s mysqlslap single-row INSERTs %8s rows/s\n' "$1" "$rate"
    fi
}

for run in $(seq "$RUNS"); do
    [ -n "$ENGINES" ] && engine "$run"
    for side in A B; do
        bin=$A
        [ "$side" = B ] && bin=$B
        fresh "$bin"
        for w in $WORKLOADS; do
            "$LOADGEN" bench --addr "$ADDR" --workload "$w" --connections "$CONNS" \
                --duration "$DURATION" --json >"$OUT/$side-$w-$run.json" || true
            printf '%s run %s %-6s %8.0f req/s  errors %s\n' "$side" "$run" "$w" \
                "$(jq .throughput "$OUT/$side-$w-$run.json")" \
                "$(jq -c '.errors // {}' "$OUT/$side-$w-$run.json")"
        done
        stop_server
    done
done

for side in A B; do
    for w in $WORKLOADS; do
        median=$(for f in "$OUT/$side-$w-"*.json; do jq .throughput "$f"; done |
            sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
        printf 'median %s %-6s %8.0f req/s\n' "$side" "$w" "$median"
    done
done
if [ -n "$ENGINES" ]; then
    median=$(cat "$OUT"/engine-* | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
    printf 'median E engine %8.0f rows/s\n' "$median"
fi
