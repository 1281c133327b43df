#!/usr/bin/env bash
# The "Floods and slow clients" figures of docs/reliability.md: the mixed
# workload at 16 connections on the embedded store, quiet, then again with
# IDLE idle connections (a heartbeat every 5 s each, from 127.0.0.10 on,
# 1,000 per address) and SLOW slow clients (each dribbling a frame one
# byte every SLOW_EVERY_MS and reconnecting when the frame timeout closes
# it, from 127.0.0.30 on, 500 per address) held open by two other
# processes. The server runs with its defaults (frame timeout 10 s,
# per-peer cap 1,000) except max_connections.
#
#   scripts/flood-bench.sh                    # about 3 minutes
#   RUNS=1 SECONDS_PER_RUN=5 IDLE=2000 SLOW=200 scripts/flood-bench.sh
#
# Needs: jq, curl. Results: $OUT/*.json, $OUT/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONNS=${CONNS:-16}
WORKLOAD=${WORKLOAD:-mixed}
IDLE=${IDLE:-10000}
SLOW=${SLOW:-1000}
SLOW_EVERY_MS=${SLOW_EVERY_MS:-3000}
PORT=${PORT:-10697}
ADMIN_PORT=${ADMIN_PORT:-10698}
OUT=${OUT:-$PWD/target/flood-bench}
ADDR=127.0.0.1:$PORT

cargo build --release --bin tt-dbproxy --example idle_conns --quiet
BIN=$PWD/target/release/tt-dbproxy
HOLD=$PWD/target/release/examples/idle_conns
rm -rf "$OUT" && mkdir -p "$OUT/data"
ulimit -n 20000 2>/dev/null || echo "warning: cannot raise the open-files limit" >&2

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

(cd "$OUT/data" && TT_DBPROXY_LISTEN=$ADDR TT_DBPROXY_ADMIN_LISTEN=127.0.0.1:$ADMIN_PORT \
    TT_DBPROXY_LOG_LEVEL=warn TT_DBPROXY_MAX_CONNECTIONS=$((IDLE + SLOW + CONNS + 100)) \
    exec "$BIN" 2>"$OUT/server.log") &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done

bench() { # name
    (cd "$OUT/data" && "$BIN" bench --addr "$ADDR" --workload "$WORKLOAD" \
        --connections "$CONNS" --duration "${SECONDS_PER_RUN}s" --json) >"$OUT/$1.json"
    jq -r '"\(.throughput | floor) requests/s, p50 \(.latency_us.p50) µs, p99 \(.latency_us.p99) µs, errors \(.errors | length)"' "$OUT/$1.json"
}
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -E "^$1" || true; }

(cd "$OUT/data" && "$BIN" bench --addr "$ADDR" --prepare --requests 100 >/dev/null)
{
    echo "== quiet ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "server RSS $(rss) kB"
    for i in $(seq "$RUNS"); do echo "quiet run $i: $(bench "quiet-$i")"; done

    # Both holders stop by themselves once the flooded runs are done.
    hold=$((20 + RUNS * (SECONDS_PER_RUN + 3)))
    "$HOLD" "$ADDR" "$IDLE" $((hold + 10)) --from 127.0.0.10 --per-source 1000 >"$OUT/idle.txt" &
    PIDS+=($!)
    until grep -q '^open' "$OUT/idle.txt" 2>/dev/null; do sleep 0.5; done
    "$HOLD" "$ADDR" "$SLOW" "$hold" --slow "$SLOW_EVERY_MS" --from 127.0.0.30 --per-source 500 \
        >"$OUT/slow.txt" &
    PIDS+=($!)
    until grep -q '^open' "$OUT/slow.txt" 2>/dev/null; do sleep 0.5; done
    # Past one frame timeout, so slow clients are being closed and reopened.
    sleep 15
    echo "== flooded: $IDLE idle + $SLOW slow connections ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "server RSS $(rss) kB"
    for i in $(seq "$RUNS"); do echo "flooded run $i: $(bench "flooded-$i")"; done
    metric tt_dbproxy_connections_open
    metric tt_dbproxy_connections_refused_total
    metric tt_dbproxy_connections_closed_total
    echo "server log lines: $(wc -l <"$OUT/server.log") ($(grep -c 'left out' "$OUT/server.log" || true) 'left out' lines)"
    wait "${PIDS[@]:1}"
    echo "idle holder: $(tail -n +2 "$OUT/idle.txt")"
    echo "slow holder: $(tail -n +2 "$OUT/slow.txt")"
} | tee "$OUT/summary.txt"
