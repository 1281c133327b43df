#!/usr/bin/env bash
# CPU account per request kind (issue 22): for each binary, backend
# (embedded; MySQL + Redis) and workload (unread users send login mixed),
# a fresh server, a warm-up, then `bench` at CONNS connections for
# DURATION; per answered request it reports the CPU time (user + sys, µs,
# all threads, from /proc/<pid>/stat before and after) of tt-dbproxy,
# mariadbd, redis-server and the load generator, their total, the
# MariaDB statements (SHOW GLOBAL STATUS: Questions and Com_*) and the
# Redis commands (INFO commandstats; commands run inside a script are
# counted as well as the EVALSHA) per request.
#
#   scripts/cpu-account.sh                      # $CARGO_TARGET_DIR or target: release/tt-dbproxy
#   scripts/cpu-account.sh OLD_BINARY NEW_BINARY  # both, and new / old
#   DURATION=10s WORKLOADS="send mixed" BACKENDS=mysql scripts/cpu-account.sh
#
# MariaDB and Redis are the script's own (mariadb-install-db into a
# temporary directory, mariadbd and redis-server on free loopback ports),
# so no other client's work is counted; the shared servers on 3306 and
# 6379 are never touched. Needs mariadbd, mariadb-install-db, mysql,
# redis-server, redis-cli and jq. Results: $OUT/*.json, $OUT/*.delta and
# $OUT/account.md. About 1 minute per binary and backend at 5 s runs.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
WORKLOADS=${WORKLOADS:-"unread users send login mixed"}
BACKENDS=${BACKENDS:-"embedded mysql"}
USERS=${USERS:-100}
WARMUP=${WARMUP:-$((CONNS * 50))} # requests of the workload before each measurement
SETTLE=${SETTLE:-1}               # seconds of quiet before each measurement
OUT=${OUT:-$PWD/target/cpu-account}
MARIADB_ARGS=${MARIADB_ARGS:-}    # extra mariadbd options
PERF=${PERF:-}                    # "1": also `perf record -g` tt-dbproxy (and mariadbd) during each run
LOADGEN=${LOADGEN:-}              # the load generator for every run (default: the last binary given)

secs=${DURATION%s}
case $secs in
'' | *[!0-9]*) echo "DURATION must be whole seconds, e.g. 5s" >&2; exit 1 ;;
esac
BINS=("$@")
[ ${#BINS[@]} -eq 0 ] && BINS=("${CARGO_TARGET_DIR:-$PWD/target}/release/tt-dbproxy")
[ ${#BINS[@]} -le 2 ] || { echo "usage: $0 [OLD_BINARY [NEW_BINARY]]" >&2; exit 1; }
for i in "${!BINS[@]}"; do
    [ -x "${BINS[$i]}" ] || { echo "not an executable: ${BINS[$i]}" >&2; exit 1; }
    BINS[i]=$(cd "$(dirname "${BINS[$i]}")" && pwd)/$(basename "${BINS[$i]}")
done
# One load generator for both binaries, so a change to `bench` itself
# (or to what the binary links, such as its allocator) is not counted
# as the server's.
LOADGEN=${LOADGEN:-${BINS[${#BINS[@]} - 1]}}
[ -x "$LOADGEN" ] || { echo "not an executable: $LOADGEN" >&2; exit 1; }
LOADGEN=$(cd "$(dirname "$LOADGEN")" && pwd)/$(basename "$LOADGEN")
need=(jq timeout)
[[ " $BACKENDS " == *" mysql "* ]] && need+=(mariadbd mariadb-install-db mysql redis-server redis-cli)
for c in "${need[@]}"; do
    command -v "$c" >/dev/null || { echo "$c is required" >&2; exit 1; }
done
# The servers read TT_DBPROXY_* from the environment: only the script's.
for v in "${!TT_DBPROXY_@}"; do unset "$v"; done

TICK_US=$((1000000 / $(getconf CLK_TCK)))
mkdir -p "$OUT"
rm -f "$OUT"/[01]-* "$OUT/account.md" "$OUT/status-overhead"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cpu-account.XXXXXX")

MY_PID='' REDIS_PID='' IDLE=''
# shellcheck source=scripts/server-lib.sh
. scripts/server-lib.sh # start_server / stop_server (BIN, ADDR, PORT)

cleanup() {
    trap - EXIT INT TERM
    stop_server
    if [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
    if [ -n "$MY_PID" ]; then
        kill "$MY_PID" 2>/dev/null || true
        for _ in $(seq 300); do kill -0 "$MY_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$MY_PID" 2>/dev/null || true
        wait "$MY_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { # a loopback port nobody listens on
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    echo "no free port found" >&2
    exit 1
}

ticks() { # pid: utime + stime of the whole process (all its threads)
    local s
    read -r s <"/proc/$1/stat"
    s=${s##*) } # after "pid (comm) ": field 3 (state) is $1, so utime (14) is ${12}
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13}))
}

sql() {
    timeout 20 mysql --no-defaults --protocol=TCP -h127.0.0.1 -P"$MY_PORT" -uroot \
        --connect-timeout=5 -N -B "$@"
}
rcli() {
    timeout 20 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}

# Counters of the backends as "key value" lines: MariaDB's Questions and
# Com_* (sql.*), Redis's calls per command (redis.*), its client reads
# (redis_reads: about one per round trip) and all its commands (redis_all).
counters() {
    sql -e "SHOW GLOBAL STATUS WHERE Variable_name = 'Questions' OR Variable_name LIKE 'Com\\_%'" |
        awk '{print "sql." tolower($1), $2}'
    rcli INFO stats commandstats | tr -d '\r' | awk -F'[:,=]' '
        /^total_reads_processed:/ {print "redis_reads", $2}
        /^total_commands_processed:/ {print "redis_all", $2}
        /^cmdstat_/ {sub(/^cmdstat_/, "", $1); print "redis." $1, $3}'
}

delta() { # before after [overhead]: after - before - overhead, per key
    awk 'FILENAME == ARGV[1] {b[$1] = $2; next}
         FILENAME == ARGV[2] {a[$1] = $2; next}
         {o[$1] = $2}
         END {for (k in a) {d = a[k] - b[k] - o[k]; if (d != 0) print k, d}}' "$@" /dev/null
}

start_backends() {
    MY_PORT=$(free_port)
    mkdir -p "$TMP/mariadb"
    echo "== mariadb-install-db into $TMP/mariadb" >&2
    TMPDIR=$TMP/mariadb timeout 180 mariadb-install-db --no-defaults --datadir="$TMP/mariadb/data" \
        --user="$(id -un)" --auth-root-authentication-method=normal --skip-test-db \
        >"$TMP/mariadb/install.log" 2>&1 || { cat "$TMP/mariadb/install.log" >&2; exit 1; }
    # shellcheck disable=SC2086 # MARIADB_ARGS is a list of options
    TMPDIR=$TMP/mariadb mariadbd --no-defaults --datadir="$TMP/mariadb/data" --port="$MY_PORT" \
        --bind-address=127.0.0.1 --socket="$TMP/mariadb/sock" --pid-file="$TMP/mariadb/pid" \
        --user="$(id -un)" --skip-grant-tables --skip-log-bin --innodb-buffer-pool-size=128M \
        --innodb-flush-log-at-trx-commit=1 --max-connections=500 $MARIADB_ARGS \
        >/dev/null 2>"$TMP/mariadb/mariadbd.log" &
    MY_PID=$!
    for i in $(seq 600); do
        kill -0 "$MY_PID" 2>/dev/null || { tail "$TMP/mariadb/mariadbd.log" >&2; echo "mariadbd exited" >&2; exit 1; }
        sql -e 'SELECT 1' >/dev/null 2>&1 && break
        [ "$i" = 600 ] && { echo "mariadbd did not start within 60 s" >&2; exit 1; }
        sleep 0.1
    done
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    for i in $(seq 200); do
        kill -0 "$REDIS_PID" 2>/dev/null || { cat "$TMP/redis.log" >&2; echo "redis-server exited" >&2; exit 1; }
        [ "$(rcli PING 2>/dev/null)" = PONG ] && break
        [ "$i" = 200 ] && { echo "redis-server did not start within 20 s" >&2; exit 1; }
        sleep 0.1
    done
    # What one reading of the counters adds to them, subtracted from every
    # measurement (each delta spans exactly one reading).
    counters >"$TMP/c0"
    counters >"$TMP/c1"
    delta "$TMP/c0" "$TMP/c1" >"$TMP/overhead"
    cp "$TMP/overhead" "$OUT/status-overhead"
    echo "== mariadbd (pid $MY_PID) on $MY_PORT, redis-server (pid $REDIS_PID) on $REDIS_PORT" >&2
    # Their CPU while nobody uses them (background threads), for scale.
    local m r
    m=$(ticks "$MY_PID") r=$(ticks "$REDIS_PID")
    sleep 3
    IDLE="idle, over 3 s before the runs: mariadbd $((($(ticks "$MY_PID") - m) * TICK_US / 3)) µs/s, redis-server $((($(ticks "$REDIS_PID") - r) * TICK_US / 3)) µs/s"
}

# bench json-file args...: runs the load generator in the run directory
# with the backend's environment; prints its exit status and its CPU
# ticks (the children's times of the subshell that waited for it).
bench() {
    local out=$1
    shift
    (
        cd "$RUN"
        rc=0
        timeout --foreground -k 5 $((secs + 120)) env "${ENV[@]}" "$LOADGEN" bench --addr "$ADDR" \
            --users "$USERS" --json "$@" >"$out" 2>"$out.err" || rc=$?
        read -r s <"/proc/$BASHPID/stat" # no fork: this subshell's own line
        s=${s##*) }
        # shellcheck disable=SC2086
        set -- $s
        echo "$rc $((${14} + ${15}))"
    )
}

[[ " $BACKENDS " == *" mysql "* ]] && start_backends
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)

PORT=$(free_port)
ADDR=127.0.0.1:$PORT
for n in "${!BINS[@]}"; do
    BIN=${BINS[$n]}
    for backend in $BACKENDS; do
        RUN=$TMP/run-$n-$backend
        mkdir -p "$RUN"
        ENV=()
        first=1
        if [ "$backend" = mysql ]; then
            sql -e "DROP DATABASE IF EXISTS tt_cpu; CREATE DATABASE tt_cpu"
            rcli FLUSHALL >/dev/null
            ENV=(TT_DBPROXY_MYSQL_PRIMARY="mysql://root:@127.0.0.1:$MY_PORT/tt_cpu"
                TT_DBPROXY_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0")
            (cd "$RUN" && timeout 120 env "${ENV[@]}" "$BIN" migrate >migrate.log 2>&1) ||
                { cat "$RUN/migrate.log" >&2; exit 1; }
        fi
        start_server "$RUN" "${ENV[@]}"
        out=$(bench "$RUN/prepare.json" --prepare --requests 10)
        read -r rc _ <<<"$out"
        [ "$rc" = 0 ] || { cat "$RUN/prepare.json.err" >&2; echo "bench --prepare failed" >&2; exit 1; }
        if [ "$backend" = mysql ]; then
            first=$(sql tt_cpu -e "SELECT id FROM IMUser WHERE name = 'bench_0'")
        fi
        for w in $WORKLOADS; do
            tag=$n-$backend-$w
            echo "== binary $((n + 1)) ($BIN), $backend, $w" >&2
            bench "$RUN/warmup.json" --first-user-id "$first" --workload "$w" \
                --connections "$CONNS" --requests "$WARMUP" >/dev/null
            sleep "$SETTLE"
            if [ "$backend" = mysql ]; then counters >"$TMP/before"; else : >"$TMP/before"; fi
            s0=$(ticks "$SERVER_PID")
            if [ "$backend" = mysql ]; then m0=$(ticks "$MY_PID") r0=$(ticks "$REDIS_PID"); fi
            perf_pids=()
            if [ -n "$PERF" ]; then
                perf record -q -g -F 999 -p "$SERVER_PID" -o "$OUT/$tag.server.perf" \
                    -- sleep "$secs" >/dev/null 2>&1 &
                perf_pids+=($!)
                if [ "$backend" = mysql ]; then
                    perf record -q -g -F 999 -p "$MY_PID" -o "$OUT/$tag.mariadbd.perf" \
                        -- sleep "$secs" >/dev/null 2>&1 &
                    perf_pids+=($!)
                fi
            fi
            out=$(bench "$OUT/$tag.json" --first-user-id "$first" --workload "$w" \
                --connections "$CONNS" --duration "${secs}s")
            read -r rc load <<<"$out"
            for p in "${perf_pids[@]}"; do wait "$p" || true; done
            s1=$(ticks "$SERVER_PID")
            {
                echo "cpu.server $((s1 - s0))"
                echo "cpu.load $load"
                if [ "$backend" = mysql ]; then
                    echo "cpu.mariadbd $(($(ticks "$MY_PID") - m0))"
                    echo "cpu.redis $(($(ticks "$REDIS_PID") - r0))"
                    counters >"$TMP/after"
                    delta "$TMP/before" "$TMP/after" "$TMP/overhead"
                fi
            } >"$OUT/$tag.delta"
            # bench exits 2 when any request failed (reported), else 0.
            case $rc in
            0 | 2) ;;
            *) cat "$OUT/$tag.json.err" >&2; echo "bench failed ($rc): $tag" >&2; exit 1 ;;
            esac
            jq -r '"   \(.throughput | floor) req/s, errors \(.errors)"' "$OUT/$tag.json" >&2
        done
        stop_server
    done
done

# One table row from a run's JSON and delta: per request, CPU µs of each
# process and their total, statements and Redis commands.
row() { # tag backend workload
    local req
    req=$(jq .requests "$OUT/$1.json")
    jq -r '[(.throughput | floor), (.errors | to_entries | map("\(.key) \(.value)") | join(", "))] | @tsv' \
        "$OUT/$1.json" |
        awk -F'\t' -v b="$2" -v w="$3" -v req="$req" -v tick="$TICK_US" -v delta="$OUT/$1.delta" '
        function per(x) { return req > 0 ? x / req : 0 }
        function us(k) { return (k in d) ? sprintf("%.1f", per(d[k]) * tick) : "–" }
        function top(prefix, skip,   k, n, i, j, t, keys, s) {
            n = 0
            for (k in d) if (index(k, prefix) == 1 && k !~ skip && per(d[k]) >= 0.005) keys[++n] = k
            for (i = 2; i <= n; i++) for (j = i; j > 1 && d[keys[j]] > d[keys[j - 1]]; j--) {
                t = keys[j]; keys[j] = keys[j - 1]; keys[j - 1] = t
            }
            s = ""
            for (i = 1; i <= n; i++) s = s (i > 1 ? ", " : "") substr(keys[i], length(prefix) + 1) " " sprintf("%.2f", per(d[keys[i]]))
            return s == "" ? "–" : s
        }
        BEGIN { while ((getline line < delta) > 0) { split(line, f, " "); d[f[1]] = f[2] } }
        {
            my = ("cpu.mariadbd" in d)
            rd = ("cpu.redis" in d)
            total = 0
            for (k in d) if (k ~ /^cpu\./) total += d[k]
            sqlq = my ? sprintf("%.2f", per(d["sql.questions"])) : "–"
            prep = my ? sprintf("%.2f", per(d["sql.com_stmt_execute"])) : "–"
            sqlm = my ? top("sql.com_", "^sql.com_(show_|stmt_execute$)") : "–"
            rall = rd ? sprintf("%.2f", per(d["redis_all"])) : "–"
            rrd = rd ? sprintf("%.2f", per(d["redis_reads"])) : "–"
            rm = rd ? top("redis.", "^redis.info$") : "–"
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | **%.1f** | %s | %s | %s | %s | %s | %s |\n",
                b, w, $1, ($2 == "" ? "none" : $2), us("cpu.server"), us("cpu.mariadbd"), us("cpu.redis"),
                us("cpu.load"), per(total) * tick, sqlq, prep, sqlm, rall, rrd, rm
        }'
}

total_us() { # tag: total CPU µs per request
    local req
    req=$(jq .requests "$OUT/$1.json")
    awk -v req="$req" -v tick="$TICK_US" '/^cpu\./ {t += $2} END {printf "%.1f", (req > 0 ? t * tick / req : 0)}' "$OUT/$1.delta"
}

{
    echo "CPU per request: $CONNS connections, ${secs} s per run, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
    for n in "${!BINS[@]}"; do
        echo
        echo "### binary $((n + 1)): ${BINS[$n]}"
        echo
        echo "| backend | workload | req/s | errors | tt-dbproxy µs | mariadbd µs | redis-server µs | bench µs | total µs | SQL statements | prepared | main Com_* | Redis commands | Redis reads | main Redis commands |"
        echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        for backend in $BACKENDS; do
            for w in $WORKLOADS; do
                row "$n-$backend-$w" "$backend" "$w"
            done
        done
    done
    if [ ${#BINS[@]} -eq 2 ]; then
        echo
        echo "### new / old (binary 2 / binary 1)"
        echo
        echo "| backend | workload | old µs | new µs | CPU per request new / old | req/s new / old |"
        echo "|---|---|---|---|---|---|"
        for backend in $BACKENDS; do
            for w in $WORKLOADS; do
                old=$(total_us "0-$backend-$w") new=$(total_us "1-$backend-$w")
                t0=$(jq .throughput "$OUT/0-$backend-$w.json") t1=$(jq .throughput "$OUT/1-$backend-$w.json")
                awk -v b="$backend" -v w="$w" -v o="$old" -v n="$new" -v t0="$t0" -v t1="$t1" \
                    'BEGIN {printf "| %s | %s | %s | %s | %.2f | %.2f |\n", b, w, o, n, (o > 0 ? n / o : 0), (t0 > 0 ? t1 / t0 : 0)}'
            done
        done
    fi
    echo
    echo "Per answered request. CPU: user + sys of the whole process (all threads) from /proc/<pid>/stat"
    echo "over the measured run (clock tick $TICK_US µs); bench = the load generator; – = not used"
    echo "by that backend (not counted). SQL statements: MariaDB's Questions (client statements,"
    echo "text or prepared); prepared: Com_stmt_execute, of those; main Com_*: its other counters"
    echo "≥ 0.005 per request (each statement counts once under its kind, e.g. Com_select; prepares"
    echo "and pings are not statements). Redis commands: total_commands_processed, broken down by"
    echo "INFO commandstats; the commands a script runs count as well as its EVALSHA. Redis reads:"
    echo "total_reads_processed, the reads of client input (pipelined or multiplexed commands share"
    echo "one). The script's own status readings are subtracted. Load average before and after:"
    echo "$LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg).${IDLE:+ Backends $IDLE.}"
} | tee "$OUT/account.md"
