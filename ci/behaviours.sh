#!/bin/sh
# Behaviour coverage: every id a case names must exist in cases/behaviors.tsv,
# and every row of a mechanism listed in cases/COMPLETE must be covered by a
# case or listed in cases/NOT-APPLICABLE.md. Prints a count per mechanism.
# usage: ci/behaviours.sh IPCVET
set -eu
ipcvet=$1
top=$(dirname "$0")/..
tsv=$top/cases/behaviors.tsv
na=$top/cases/NOT-APPLICABLE.md
tmp=${TMPDIR:-/tmp}/ipcvet-behaviours.$$
trap 'rm -f "$tmp".*' EXIT
"$ipcvet" list --ids | cut -f1 | sort -u > "$tmp.covered"
grep -oE '^\| *B[0-9]{3}' "$na" 2>/dev/null | grep -oE 'B[0-9]{3}' | sort -u > "$tmp.na" || true
awk -F'\t' 'NR > 1 { print $1 }' "$tsv" | sort -u > "$tmp.known"

bad=$(comm -23 "$tmp.covered" "$tmp.known")
if [ -n "$bad" ]; then
    echo "behaviours: cases name ids that are not in cases/behaviors.tsv: $bad" >&2
    exit 1
fi
both=$(comm -12 "$tmp.covered" "$tmp.na")
[ -z "$both" ] || echo "behaviours: note: covered and also listed as not applicable: $(echo $both)"

status=0
printf '%-12s %8s %8s %8s %8s\n' family rows covered n/a open
for fam in $(awk -F'\t' 'NR > 1 { print $2 }' "$tsv" | sort -u); do
    awk -F'\t' -v f="$fam" 'NR > 1 && $2 == f { print $1 }' "$tsv" | sort -u > "$tmp.fam"
    rows=$(wc -l < "$tmp.fam")
    cov=$(comm -12 "$tmp.fam" "$tmp.covered" | wc -l)
    nap=$(comm -12 "$tmp.fam" "$tmp.na" | comm -23 - "$tmp.covered" | wc -l)
    open=$((rows - cov - nap))
    printf '%-12s %8d %8d %8d %8d\n' "$fam" "$rows" "$cov" "$nap" "$open"
    if [ "$open" -gt 0 ] && grep -qx "$fam" "$top/cases/COMPLETE" 2>/dev/null; then
        echo "behaviours: $fam is marked complete but these rows are open:" \
             "$(comm -23 "$tmp.fam" "$tmp.covered" | comm -23 - "$tmp.na" | tr '\n' ' ')" >&2
        status=1
    fi
done
exit $status
