#!/bin/sh
# A case must be able to fail. Each row of tests/mutants/*.tsv names a
# broken implementation (a mutant shim in fixtures/mutants/, or an injected
# fault) and the cases that must FAIL under it; broken set-up or a pass is
# not enough. Every case must be named by at least one row.
#
# Row: KIND<TAB>NAME<TAB>CASE-GLOB     KIND is mutant (LD_PRELOAD of
# BUILD/mutants/NAME.so) or inject (ipcvet run --inject NAME, when the
# faults layer provides it).
# usage: ci/mutants.sh IPCVET MUTANT-DIR
set -eu
ipcvet=$1
mdir=$2
top=$(dirname "$0")/..
tmp=${TMPDIR:-/tmp}/ipcvet-mutants.$$
trap 'rm -f "$tmp".*' EXIT
status=0
rows=0
: > "$tmp.proved"
for tsv in ${MUTANT_TSV:-"$top"/tests/mutants/*.tsv}; do
    [ -f "$tsv" ] || continue
    while IFS='	' read -r kind name glob; do
        case "$kind" in ''|'#'*) continue ;; esac
        rows=$((rows + 1))
        case "$kind" in
        mutant) set -- env LD_PRELOAD="$mdir/$name.so" "$ipcvet" run ;;
        inject) set -- "$ipcvet" run --inject "$name" ;;
        *) echo "mutants: $tsv: unknown kind '$kind'" >&2; status=1; continue ;;
        esac
        "$@" --filter "$glob" --json "$tmp.json" > "$tmp.out" 2>&1 || true
        # Each selected case must have failed (not broken, not passed).
        if ! grep -q '"outcome"' "$tmp.json" 2>/dev/null; then
            echo "mutants: $kind $name: no case matches '$glob'" >&2
            status=1
            continue
        fi
        notfailed=$(grep '"outcome"' "$tmp.json" | grep -v '"outcome": "failed"' |
                    sed 's/.*"name": "\([^"]*\)".*"outcome": "\([^"]*\)".*/\1 (\2)/' || true)
        if [ -n "$notfailed" ]; then
            echo "mutants: under $kind $name these cases did not fail: $(echo $notfailed)" >&2
            status=1
        fi
        grep '"outcome": "failed"' "$tmp.json" |
            sed 's/.*"mechanism": "\([^"]*\)", "name": "\([^"]*\)".*/\1\/\2/' >> "$tmp.proved"
    done < "$tsv"
done
"$ipcvet" list ${MUTANT_LIST_ARGS:-} | awk '{ print $1 "/" $2 }' | sort -u > "$tmp.all"
sort -u "$tmp.proved" > "$tmp.p"
unproved=$(comm -23 "$tmp.all" "$tmp.p")
total=$(wc -l < "$tmp.all")
proved=$(wc -l < "$tmp.p")
echo "mutants: $rows rows; $proved of $total cases shown failing under a mutant or fault"
if [ -n "$unproved" ]; then
    echo "mutants: no row shows these cases failing:" >&2
    echo "$unproved" | sed 's/^/  /' >&2
    status=1
fi
exit $status
