# Sourced by the benchmark scripts: start and stop one tt-dbproxy server.
# Needs BIN (the binary), ADDR (listen address) and PORT.

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

start_server() { # dir [VAR=value...]: serve in dir, extra environment after it
    local dir=$1
    shift
    (cd "$dir" && exec env TT_DBPROXY_LISTEN="$ADDR" TT_DBPROXY_ADMIN_LISTEN= TT_DBPROXY_LOG_LEVEL=warn \
        TT_DBPROXY_MAX_CONNECTIONS_PER_PEER=0 "$@" "$BIN") &
    SERVER_PID=$!
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited" >&2; exit 1; }
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server did not start" >&2
    exit 1
}
