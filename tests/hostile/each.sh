#!/usr/bin/env bash
# each.sh VERB [ARGS...] -- FILE...: runs `$NNEDGE VERB FILE ARGS...` on each
# file (a hostile-suite case over a family of generated inputs); when an ARG
# holds {}, the file replaces the {} there instead (`run M -i x={}`). Each run must
# exit 0, or exit 2 with exactly one line on stderr; anything else (a crash,
# a sanitizer report, exit 1, several lines) is printed on stderr with the
# file's name and each.sh exits 1 at the end. Quiet when all hold. Each run
# has the suite's per-case limit (HOSTILE_TIMEOUT, 20 s).
verb=$1
shift
args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
shift
bad=0
err=$(mktemp)
for f in "$@"; do
    cmd=("$verb")
    placed=0
    for a in "${args[@]}"; do
        case $a in *'{}'*) cmd+=("${a//\{\}/$f}"); placed=1 ;; *) cmd+=("$a") ;; esac
    done
    [ $placed = 1 ] || cmd=("$verb" "$f" "${args[@]}")
    # each run under the suite's per-run limit (a hang is caught per file)
    timeout -k 2 "${HOSTILE_TIMEOUT:-20}" "$NNEDGE" "${cmd[@]}" >/dev/null 2>"$err" </dev/null
    rc=$?
    [ $rc -eq 124 ] && echo "timed out after ${HOSTILE_TIMEOUT:-20} s (hang?)" >>"$err"
    # ASan's note on a refused allocation (see run.sh) is not a finding
    sed -i -E '/^==[0-9]+==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]+ bytes$/d' "$err"
    lines=$(wc -l <"$err")
    if { [ $rc -ne 0 ] && [ $rc -ne 2 ]; } || { [ $rc -eq 2 ] && [ "$lines" -ne 1 ]; } || { [ $rc -eq 0 ] && [ -s "$err" ]; }; then
        echo "each.sh: $verb $(basename "$f"): exit $rc, stderr:" >&2
        head -5 "$err" >&2
        bad=1
    fi
done
rm -f "$err"
exit $bad
