#!/usr/bin/env bash
# Pages an embedded batch of sends writes (issue 22): serves a fresh
# embedded store, runs `bench --workload send` at 16 connections for 3 s,
# kills the server (so the WAL is not checkpointed away), then counts the
# frames of each commit still in the WAL and maps their pages to tables and
# indexes with SQLite's dbstat.
#
#   scripts/wal-pages.sh [BINARY]     # default: target/release/tt-dbproxy
#
# Needs python3 (with its sqlite3 module). The WAL holds the commits since
# the last checkpoint, so a run reports a few dozen of them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-$PWD/target}/release/tt-dbproxy}
[ -x "$BIN" ] || { echo "not an executable: $BIN" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wal-pages.XXXXXX")
PORT=$((20000 + RANDOM % 40000))
ADDR=127.0.0.1:$PORT
. scripts/server-lib.sh
trap 'stop_server; rm -rf "$TMP"' EXIT
start_server "$TMP"
"$BIN" bench --addr "$ADDR" --prepare --requests 10 >/dev/null
"$BIN" bench --addr "$ADDR" --workload send --connections 16 --duration 3s >/dev/null
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
python3 - "$(ls "$TMP"/*/*.sqlite3)" <<'PY'
import collections, shutil, sqlite3, struct, sys
db = sys.argv[1]
wal = open(db + '-wal', 'rb').read()
_, _, size, _, salt1, salt2, _, _ = struct.unpack('>8I', wal[:32])
commits, frames, off = [], [], 32
while off + 24 + size <= len(wal):
    page, commit, s1, s2, _, _ = struct.unpack('>6I', wal[off:off + 24])
    if (s1, s2) != (salt1, salt2):
        break
    frames.append(page)
    if commit:
        commits.append(set(frames))
        frames = []
    off += 24 + size
copy = db + '.copy'
shutil.copy(db, copy)
shutil.copy(db + '-wal', copy + '-wal')
owner = dict((p, n) for n, p in sqlite3.connect(copy).execute('SELECT name, pageno FROM dbstat'))
pages = collections.Counter(owner.get(p, '?') for c in commits for p in c)
n = max(len(commits), 1)
print(f'{len(commits)} commits in the WAL, {sum(map(len, commits)) / n:.1f} pages each (page size {size})')
for name, count in pages.most_common(12):
    print(f'{count / n:6.2f}  {name}')
PY
