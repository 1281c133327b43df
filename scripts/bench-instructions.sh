#!/usr/bin/env bash
# Instruction counts of the hot path (benches/hot_path.rs) under
# Valgrind: installs the gungraun-runner matching Cargo.lock if missing,
# runs the benchmarks and prints, per request, the instructions of the
# request itself (its count minus its setup_only twin's).
#
#   scripts/bench-instructions.sh
#
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(awk '/^name = "gungraun"$/ {getline; gsub(/"/, "", $3); print $3}' Cargo.lock)
if [ "$(gungraun-runner --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
    cargo install gungraun-runner --version "$version" --locked
fi
out=$(cargo bench -p tt-dbproxy --bench hot_path 2>&1)
echo "$out"
echo
echo "| request | instructions (request − setup) |"
echo "|---|---|"
echo "$out" | awk '
    /^hot_path::hot_path::/ { split($1, a, "::"); fn = a[3]; split($2, b, ":"); id = b[1] }
    /Instructions:/ { split($2, c, "|"); n[fn "/" id] = c[1] }
    END {
        for (k in n) {
            split(k, p, "/")
            if (p[1] == "request") printf "| %s | %d |\n", p[2], n[k] - n["setup_only/" p[2]]
        }
    }' | sort
