#!/bin/sh
# Runs every ONNX backend conformance test and checks the committed list:
# each test in tests/conformance/passing.txt must pass (the list only grows).
# Usage: tests/conformance/check.sh [--update]
#   CONFORMANCE=path/to/runner (default build/conformance), SHARED=../shared
set -u
BIN=${CONFORMANCE:-build/conformance}
SHARED=${SHARED:-../shared}
LIST=tests/conformance/passing.txt
SKIPS=tests/conformance/skipped.txt
OUT=${OUT:-build/conformance-results.txt}
mkdir -p "$(dirname "$OUT")"
if [ ! -d "$SHARED/onnx-tests/node" ]; then
    echo "conformance: $SHARED/onnx-tests not found (set SHARED=)" >&2
    exit 1
fi
"$BIN" "$SHARED"/onnx-tests/node/test_* "$SHARED"/onnx-tests/simple/test_* \
    "$SHARED"/onnx-tests/pytorch-converted/test_* "$SHARED"/onnx-tests/pytorch-operator/test_* \
    "$SHARED"/onnx-tests/light/light_*.onnx > "$OUT" 2>/dev/null
for suite in node simple pytorch-converted pytorch-operator light; do
    awk -v s="$suite" '
        { split($2, a, "/"); sub(":$", "", a[2]); if (a[1] != s) next }
        $1 == "PASS" { p++ } $1 == "FAIL" { f++ } $1 == "SKIP" { k++ }
        /CRASH/ { c++ }
        END { n = p + f; printf "conformance %-18s %4d passed, %4d failed, %4d skipped (unrepresentable), %d crashes: %.1f%% of %d\n", s, p, f, k, c, n ? 100 * p / n : 0, n }' "$OUT"
done
if [ "${1:-}" = "--update" ]; then
    { [ -f "$LIST" ] && cat "$LIST"; awk '$1 == "PASS" { print $2 }' "$OUT"; } | sort -u > "$LIST.tmp" && mv "$LIST.tmp" "$LIST"
    awk '$1 == "SKIP" { $1 = ""; sub(/^ /, ""); print }' "$OUT" | sort > "$SKIPS"
fi
status=0
missing=$(awk 'NR == FNR { if ($1 == "PASS") pass[$2] = 1; next } !($1 in pass) { print $1 }' "$OUT" "$LIST")
if [ -n "$missing" ]; then
    echo "conformance: tests listed in $LIST no longer pass:"
    for t in $missing; do grep -F " $t:" "$OUT" || echo "  $t (no result)"; done
    status=1
fi
new=$(awk 'NR == FNR { listed[$1] = 1; next } $1 == "PASS" && !($2 in listed) { print $2 }' "$LIST" "$OUT" | wc -l)
[ "$new" -gt 0 ] && echo "conformance: $new passing tests are not in $LIST yet (run: make conformance-update)"
npass=$(wc -l < "$LIST")
nbad=$(echo "$missing" | grep -c . || true)
echo "conformance: $((npass - nbad)) passed, $nbad failed"
exit $status
