#!/bin/sh
# Run a command in its own mount and PID namespaces with a private /tmp and
# /dev/shm: Criterion's own runner (the self-tests are a plain Criterion
# binary) keeps a socket in /tmp and an arena in /dev/shm that a killed
# runner would leave on the host. Falls back to a plain run without root.
# usage: ci/sandboxed.sh CMD [ARG..]
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1; then
    exec unshare --mount --pid --fork --kill-child --mount-proc sh -c \
        'mount -t tmpfs ipcvet-tmp /tmp && mount -t tmpfs ipcvet-shm /dev/shm && "$@"' sh "$@"
fi
exec "$@"
