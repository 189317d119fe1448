#!/bin/sh
# make valgrind: ipcvet's own tests and a conformance run under memcheck,
# following every process (workers, roles, the sandbox's first process).
# valgrind's exit code does not reach Criterion's result, so the gate is the
# logs: every non-empty log is a finding (tooling note V2, V4).
# usage: ci/valgrind.sh IPCVET SELFTEST
set -eu
ipcvet=$1
selftest=$2
top=$(cd "$(dirname "$0")/.." && pwd)
logs=$top/reports/valgrind
rm -rf "$logs"
mkdir -p "$logs"
vg="valgrind -q --vgdb=no --trace-children=yes --child-silent-after-fork=no --leak-check=full \
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --suppressions=$top/ci/valgrind.supp --log-file=$logs/%p.log"
export IPCVET_TIMEOUT_MUL=20
export IPCVET="$top/$ipcvet" IPCVET_TOP="$top"
# Conformance: one mechanism is enough to exercise every harness path.
$vg "$ipcvet" run --mech "${VALGRIND_MECH:-sysv_shm}" -j1 > "$logs/run.out" 2>&1 || {
    echo "valgrind: the conformance run failed under valgrind:" >&2; tail -20 "$logs/run.out" >&2; exit 1; }
# Unit tests of the harness (end-to-end ones spawn ipcvet again: skip them).
sh "$top/ci/sandboxed.sh" $vg "$selftest" -j1 --filter "${VALGRIND_TESTS:-@(census|limits|report)*/*}" > "$logs/selftest.out" 2>&1 || {
    echo "valgrind: selftest failed under valgrind:" >&2; tail -20 "$logs/selftest.out" >&2; exit 1; }
# A finding is a memcheck line (==PID== ...); "--PID-- WARNING: unhandled
# syscall" lines (fsopen, pidfd_open are newer than valgrind 3.19) are not:
# ipcvet falls back when those calls fail.
bad=$(grep -lE '^==[0-9]+== ' "$logs"/*.log 2>/dev/null || true)
count=$(find "$logs" -name '*.log' | wc -l)
if [ -n "$bad" ]; then
    echo "valgrind: findings in $(echo "$bad" | wc -l) of $count process logs:" >&2
    for f in $bad; do echo "== $f" >&2; head -40 "$f" >&2; done
    exit 1
fi
echo "valgrind: clean ($count processes checked)"
