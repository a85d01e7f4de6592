#!/bin/sh
# Generates the op-group test cases and runs them through the conformance
# runner: every case under good/ must pass (outputs within tolerance); every
# case under bad/ must be refused by nnedge with an error message (runner
# --expect-reject: a bad case that runs fails, whatever its outputs, so a
# wrong numeric result is never counted as a refusal; a crash fails too).
# Usage: tests/opcases/run.sh   (CONFORMANCE=path/to/runner, default build/conformance)
set -eu
BIN=${CONFORMANCE:-build/conformance}
OUT=${OUT:-build/opcases}
rm -rf "$OUT"
for g in tests/opcases/gen_*.py; do python3 "$g" "$OUT"; done
status=0
"$BIN" "$OUT"/good/* > "$OUT/good.txt" 2> "$OUT/good.err" || true
"$BIN" --expect-reject "$OUT"/bad/* > "$OUT/bad.txt" 2> "$OUT/bad.err" || true
ngood=$(ls "$OUT"/good | wc -l)
nbad=$(ls "$OUT"/bad | wc -l)
if grep -v '^PASS' "$OUT/good.txt"; then status=1; fi
if grep -v '^PASS' "$OUT/bad.txt"; then status=1; fi
# every case must have produced a line
pgood=$(grep -c '^PASS' "$OUT/good.txt" || true)
pbad=$(grep -c '^PASS' "$OUT/bad.txt" || true)
[ "$pgood" -eq "$ngood" ] || status=1
[ "$pbad" -eq "$nbad" ] || status=1
echo "opcases: $pgood of $ngood valid cases passed; $pbad of $nbad invalid cases refused by nnedge"
exit $status
