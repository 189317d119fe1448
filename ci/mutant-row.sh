#!/bin/sh
# One row of ci/mutants.sh: run the cases GLOB selects under the mutant NAME
# and require each to end "failed". Writes WORK/N.verdict (empty when the
# row holds) and WORK/N.proved (the cases it showed failing).
# usage: ci/mutant-row.sh IPCVET MUTANT-DIR WORK N NAME GLOB
ipcvet=$1 mdir=$2 work=$3 n=$4 name=$5 glob=$6
json=$work/$n.json
: > "$work/$n.verdict"
LD_PRELOAD="$mdir/$name.so" "$ipcvet" run -j1 --filter "$glob" --json "$json" \
    > "$work/$n.out" 2>&1
if ! grep -q '"outcome"' "$json" 2>/dev/null; then
    echo "mutants: $name: no case matches '$glob'" > "$work/$n.verdict"
    exit 0
fi
notfailed=$(grep '"outcome"' "$json" | grep -v '"outcome": "failed"' |
            sed 's/.*"name": "\([^"]*\)".*"outcome": "\([^"]*\)".*/\1 (\2)/')
[ -z "$notfailed" ] || echo "mutants: under $name these cases did not fail: $(echo $notfailed)" \
    > "$work/$n.verdict"
grep '"outcome": "failed"' "$json" |
    sed 's/.*"mechanism": "\([^"]*\)", "name": "\([^"]*\)".*/\1\/\2/' > "$work/$n.proved"
exit 0
