#!/bin/sh
# Run a command in its own mount and PID namespaces with a private /tmp and
# /dev/shm: Criterion's own runner (the self-tests are a plain Criterion
# binary) keeps a socket in /tmp and an arena in /dev/shm that a killed
# runner would leave on the host. A checkout under /tmp stays visible.
# `sh` stays the namespace's first process so that orphans are reaped by it,
# never by Criterion's runner. Falls back to a plain run without root.
# usage: ci/sandboxed.sh CMD [ARG..]
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null 2>&1; then
    exec "$@"
fi
here=$(pwd -P)
case "$here" in
/tmp/*) rest=${here#/tmp/}; keep=/tmp/${rest%%/*} ;;
*) keep= ;;
esac
KEEP=$keep exec unshare --mount --pid --fork --kill-child --mount-proc sh -c '
    set -e
    if [ -n "$KEEP" ]; then
        # Park the checkout on /dev/shm (replaced below anyway), then move
        # it into the new /tmp.
        mount --bind "$KEEP" /dev/shm
        mount -t tmpfs ipcvet-tmp /tmp
        mkdir -p "$KEEP"
        mount --move /dev/shm "$KEEP"
    else
        mount -t tmpfs ipcvet-tmp /tmp
    fi
    mount -t tmpfs ipcvet-shm /dev/shm
    cd "$PWD"
    "$@"' sh "$@"
