#!/usr/bin/env bash
# Re-runs the benchmark table of docs/benchmarks.md on this machine:
# every workload at 1, 16 and 64 connections on the embedded store and on
# MySQL + Redis, each through the proxy and with `bench --direct` (the same
# handlers and statements in-process, no socket: the backend-alone
# baseline), then the raw backend (redis-benchmark, mysqlslap) and the
# memory per idle connection at 10,000 connections.
#
#   scripts/bench-table.sh              # everything, about 8 minutes
#   BACKENDS=embedded CONNS=16 WORKLOADS=unread scripts/bench-table.sh
#
# Needs: jq; for the mysql backend the MariaDB and Redis of the dev machine
# (MYSQL_URL, REDIS_URL below; the database is dropped and re-created and
# the Redis db flushed). Results: $OUT/*.json and $OUT/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-3s}
CONNS=${CONNS:-"1 16 64"}
WORKLOADS=${WORKLOADS:-"unread users send login mixed"}
BACKENDS=${BACKENDS:-"embedded mysql"}
USERS=${USERS:-200}
IDLE_CONNS=${IDLE_CONNS:-10000}
MYSQL_URL=${MYSQL_URL:-mysql://root:@127.0.0.1:3306/tt_bench}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/13}
PORT=${PORT:-10695}
OUT=${OUT:-$PWD/target/bench-table}
ADDR=127.0.0.1:$PORT

cargo build --release --bins --examples --quiet
BIN=$PWD/target/release/tt-dbproxy
IDLE=$PWD/target/release/examples/idle_conns
rm -rf "$OUT" && mkdir -p "$OUT"
ulimit -n 20000 2>/dev/null || echo "warning: cannot raise the open-files limit" >&2

# shellcheck source=scripts/server-lib.sh
. scripts/server-lib.sh

bench() { # dir, extra args...
    local dir=$1
    shift
    (cd "$dir" && "$BIN" bench --addr "$ADDR" --users "$USERS" --json "$@")
}

for backend in $BACKENDS; do
    dir=$OUT/$backend
    mkdir -p "$dir"
    if [ "$backend" = mysql ]; then
        db=${MYSQL_URL##*/}
        mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\`"
        redis_db=${REDIS_URL##*/}
        redis-cli -n "$redis_db" FLUSHDB >/dev/null
        export TT_DBPROXY_MYSQL_PRIMARY=$MYSQL_URL TT_DBPROXY_REDIS_URL=$REDIS_URL
        (cd "$dir" && "$BIN" migrate >/dev/null)
    else
        unset TT_DBPROXY_MYSQL_PRIMARY TT_DBPROXY_REDIS_URL
    fi
    start_server "$dir"
    bench "$dir" --prepare --requests 10 >/dev/null
    for workload in $WORKLOADS; do
        for c in $CONNS; do
            echo "== $backend $workload $c connections" >&2
            bench "$dir" --workload "$workload" --connections "$c" --duration "$DURATION" \
                >"$OUT/$backend-$workload-$c-proxy.json"
            # The server is idle meanwhile; on the embedded store both
            # processes share the SQLite file (WAL).
            bench "$dir" --direct --workload "$workload" --connections "$c" --duration "$DURATION" \
                >"$OUT/$backend-$workload-$c-direct.json"
        done
    done
    stop_server
done

# Memory per idle connection: a fresh embedded server (so no memory freed
# by the runs above is reused), RSS before and with IDLE_CONNS connections
# that each send a heartbeat every 5 s.
if [ "$IDLE_CONNS" -gt 0 ]; then
    unset TT_DBPROXY_MYSQL_PRIMARY TT_DBPROXY_REDIS_URL
    mkdir -p "$OUT/idle"
    start_server "$OUT/idle" TT_DBPROXY_MAX_CONNECTIONS=$((IDLE_CONNS + 100))
    sleep 1
    before=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
    "$IDLE" "$ADDR" "$IDLE_CONNS" 20 >"$OUT/idle.txt" &
    idle_pid=$!
    until grep -q '^open' "$OUT/idle.txt" 2>/dev/null; do sleep 0.5; done
    sleep 12 # more than two heartbeat rounds
    after=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
    wait "$idle_pid"
    echo "idle connections: $IDLE_CONNS, server RSS $before kB -> $after kB: $(((after - before) * 1024 / IDLE_CONNS)) bytes per connection" \
        >>"$OUT/idle.txt"
    stop_server
fi

# The raw backends at the same concurrency: the Redis command of the
# unread workload and the SQL statements of users and login.
if [[ " $BACKENDS " == *" mysql "* ]]; then
    redis_db=${REDIS_URL##*/}
    db=${MYSQL_URL##*/}
    ids=$(seq -s, 1 100)
    cols="id, sex, name, domain, nick, password, salt, phone, email, avatar, departId, status, created, updated, push_shield_status, sign_info"
    for c in $CONNS; do
        redis-benchmark -n 100000 -c "$c" --csv -e -q \
            -h 127.0.0.1 -p 6379 --dbnum "$redis_db" HGETALL "unread_1" \
            >"$OUT/raw-redis-hgetall-$c.csv"
        mysqlslap -uroot -h127.0.0.1 --create-schema="$db" --concurrency="$c" \
            --number-of-queries=$((c * 300)) \
            --query="SELECT $cols FROM IMUser WHERE id IN ($ids) ORDER BY id" \
            >"$OUT/raw-mysql-users-$c.txt"
        mysqlslap -uroot -h127.0.0.1 --create-schema="$db" --concurrency="$c" \
            --number-of-queries=$((c * 1000)) \
            --query="SELECT $cols FROM IMUser WHERE name = 'bench_0' AND status = 0 ORDER BY id DESC LIMIT 1" \
            >"$OUT/raw-mysql-login-$c.txt"
    done
fi

# The table: requests/s (p50 / p99 µs) through the proxy and direct, the
# ratio, and the latency the proxy adds at p50.
{
    echo "| backend | workload | conns | proxy req/s (p50 / p99 µs) | direct req/s (p50 / p99 µs) | proxy ÷ direct | p50 added (µs) |"
    echo "|---|---|---|---|---|---|---|"
    for backend in $BACKENDS; do
        for workload in $WORKLOADS; do
            for c in $CONNS; do
                p=$OUT/$backend-$workload-$c-proxy.json
                d=$OUT/$backend-$workload-$c-direct.json
                jq -rn --slurpfile p "$p" --slurpfile d "$d" \
                    --arg b "$backend" --arg w "$workload" --arg c "$c" '
                    ($p[0]) as $p | ($d[0]) as $d |
                    def cell(r): "\(r.throughput | floor) (\(r.latency_us.p50) / \(r.latency_us.p99))";
                    def errs(r): if (r.errors | length) > 0 then " errors: \(r.errors)" else "" end;
                    "| \($b) | \($w) | \($c) | \(cell($p))\(errs($p)) | \(cell($d))\(errs($d)) | \(($p.throughput / $d.throughput * 100 | floor))% | \($p.latency_us.p50 - $d.latency_us.p50) |"'
            done
        done
    done
    echo
    if [ -f "$OUT/idle.txt" ]; then tail -2 "$OUT/idle.txt"; fi
} | tee "$OUT/table.md"
