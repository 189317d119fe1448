#!/bin/sh
# Installs the Debian packages ipcvet needs, only those that are missing.
# Without root it prints the exact apt-get line and exits 2.
set -eu
PKGS="gcc make pkg-config libcriterion-dev libfiu-dev fiu-utils valgrind gcovr util-linux strace"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
line="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "ipcvet: missing packages:$missing; as root run: apt-get update && $line" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$line
