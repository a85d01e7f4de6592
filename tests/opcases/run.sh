#!/bin/sh
# Generates the op-group test cases and runs them through the conformance
# runner: every case under good/ must pass; every case under bad/ must fail
# with an error message (a crash fails the check).
# Usage: tests/opcases/run.sh   (CONFORMANCE=path/to/runner, default build/conformance)
set -eu
BIN=${CONFORMANCE:-build/conformance}
OUT=${OUT:-build/opcases}
rm -rf "$OUT"
for g in tests/opcases/gen_*.py; do python3 "$g" "$OUT"; done
status=0
"$BIN" "$OUT"/good/* > "$OUT/good.txt" 2>&1 || true
if grep -v '^PASS' "$OUT/good.txt" | grep -v 'passed,' ; then status=1; fi
"$BIN" "$OUT"/bad/* > "$OUT/bad.txt" 2>&1 || true
if grep -E '^PASS|CRASH' "$OUT/bad.txt"; then status=1; fi
echo "opcases: $(grep -c '^PASS' "$OUT/good.txt") passed, $(grep -v '^PASS' "$OUT/good.txt" | grep -vc 'passed,') failed; $(grep -c '^FAIL' "$OUT/bad.txt") invalid inputs rejected"
exit $status
