#!/bin/sh
# Snapshot the host's IPC objects, or compare with a snapshot: ipcvet must
# leave nothing behind (SysV objects, /dev/shm, POSIX queues, stray sockets).
set -eu
list() {
    for f in shm msg sem; do awk 'NR>1 {print "'$f'", $1, $2}' /proc/sysvipc/$f; done
    ls -A /dev/shm | sed 's/^/dev-shm /'
    [ -d /dev/mqueue ] && ls -A /dev/mqueue | sed 's/^/mqueue /'
    ls -A /tmp | grep -E '^(criterion_|ipcvet\.)' | sed 's/^/tmp /' || true
}
case "$1" in
snapshot) mkdir -p "$(dirname "$2")"; list | sort > "$2" ;;
compare)
    list | sort > "$2.after"
    if ! diff -u "$2" "$2.after"; then
        echo "ipcvet left IPC objects on the host (diff above)" >&2
        exit 1
    fi
    echo "host IPC objects unchanged: $(wc -l < "$2") before, $(wc -l < "$2.after") after" ;;
*) echo "usage: $0 snapshot|compare FILE" >&2; exit 2 ;;
esac
