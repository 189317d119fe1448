#!/bin/sh
# A case must be able to fail. Each row of tests/mutants/*.tsv names a
# broken implementation (a mutant shim in fixtures/mutants/) and the cases
# that must FAIL under it; broken set-up or a pass is not enough. Every case
# must be named by at least one row. Rows run MUTANT_JOBS (6) at a time: most of a row is waiting (a mutant that
# loses a wake-up is caught by a bounded wait), not computing.
#
# Row: mutant<TAB>NAME<TAB>CASE-GLOB    (LD_PRELOAD of MUTANT-DIR/NAME.so,
# then `ipcvet run --filter CASE-GLOB`; see ci/mutant-row.sh)
# usage: ci/mutants.sh IPCVET MUTANT-DIR
set -eu
ipcvet=$1
mdir=$2
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mutants.XXXXXX")
trap 'rm -rf "$work"' EXIT

n=0
status=0
for tsv in ${MUTANT_TSV:-"$top"/tests/mutants/*.tsv}; do
    [ -f "$tsv" ] || continue
    while IFS='	' read -r kind name glob; do
        case "$kind" in ''|'#'*) continue ;; esac
        if [ "$kind" != mutant ]; then
            echo "mutants: $tsv: unknown kind '$kind'" >&2
            status=1
            continue
        fi
        n=$((n + 1))
        printf '%s %s %s\n' "$n" "$name" "$glob"
    done < "$tsv"
done > "$work/jobs"

xargs -P "${MUTANT_JOBS:-6}" -n 3 sh "$top/ci/mutant-row.sh" "$ipcvet" "$mdir" "$work" < "$work/jobs"

cat "$work"/*.verdict 2>/dev/null >&2 && [ -z "$(cat "$work"/*.verdict 2>/dev/null)" ] || status=1
"$ipcvet" list ${MUTANT_LIST_ARGS:-} | awk '{ print $1 "/" $2 }' | sort -u > "$work/all"
cat "$work"/*.proved 2>/dev/null | sort -u > "$work/proved"
unproved=$(comm -23 "$work/all" "$work/proved")
echo "mutants: $n rows; $(wc -l < "$work/proved") of $(wc -l < "$work/all") cases shown failing under a mutant"
if [ -n "$unproved" ]; then
    echo "mutants: no row shows these cases failing:" >&2
    echo "$unproved" | sed 's/^/  /' >&2
    status=1
fi
exit $status
