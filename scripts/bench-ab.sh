#!/usr/bin/env bash
# Two binaries back to back on MySQL + Redis: `send` and `mixed` at 16
# connections, RUNS runs each, alternating A and B so both see the same
# machine; prints every figure (with its errors: `bench` exits 2 on any,
# e.g. the login throttle refusing a mixed run's logins) and the median
# per binary and workload.
#
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY
#   RUNS=5 DURATION=10s scripts/bench-ab.sh a b
#
# Needs jq and the dev machine's MariaDB and Redis (database tt_bench_ab
# dropped and re-created, Redis db 12 flushed, before each binary's runs).
set -euo pipefail
cd "$(dirname "$0")/.."

A=${1:?old binary}
B=${2:?new binary}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
WORKLOADS=${WORKLOADS:-"send mixed"}
MYSQL_URL=${MYSQL_URL:-mysql://root:@127.0.0.1:3306/tt_bench_ab}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/12}
PORT=${PORT:-10697}
ADDR=127.0.0.1:$PORT
OUT=${OUT:-$PWD/target/bench-ab}
mkdir -p "$OUT"

# shellcheck source=scripts/server-lib.sh
. scripts/server-lib.sh

fresh() { # binary: empty backends, migrated, bench users prepared
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

for run in $(seq "$RUNS"); do
    for side in A B; do
        bin=$A
        [ "$side" = B ] && bin=$B
        fresh "$bin"
        for w in $WORKLOADS; do
            "$bin" bench --addr "$ADDR" --workload "$w" --connections "$CONNS" \
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
