#!/bin/sh
# help.sh - per-verb help (DESIGN.md section 4): `nnedge VERB --help`,
# `nnedge VERB -h` and `nnedge help VERB` print that verb's usage on stdout
# (starting "usage: nnedge VERB") and exit 0 with nothing on stderr, for
# every verb `nnedge --help` lists, wherever --help stands among the
# arguments; unknown options still exit 2 with one line on stderr.
#
#   NNEDGE=build-san/nnedge sh tests/cli/help.sh       (make test)
NNEDGE=${NNEDGE:-build/nnedge}
export LC_ALL=C
T=$(mktemp -d "${TMPDIR:-/tmp}/nne-help.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

"$NNEDGE" --help >"$T/all" 2>"$T/err" && [ ! -s "$T/err" ] || bad "nnedge --help"
verbs=$(sed -n 's/^  \([a-z]*\) .*/\1/p' "$T/all" | grep -v '^limits$' | sort -u)
n=$(echo "$verbs" | wc -w)
[ "$n" -ge 12 ] && ok || bad "nnedge --help lists $n verbs: $verbs"
for v in $verbs; do
    for form in "$v --help" "$v -h" "help $v" "$v some/model.onnx --help" "$v -o x --json --help"; do
        # shellcheck disable=SC2086
        "$NNEDGE" $form >"$T/out" 2>"$T/err"
        rc=$?
        if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && head -n 1 "$T/out" | grep -q "^usage: nnedge $v " &&
           grep -q '^exit status: 0 ok' "$T/out"; then ok
        else bad "nnedge $form: exit $rc, stdout $(head -c 200 "$T/out"), stderr $(head -c 200 "$T/err")"; fi
    done
    # the verb's usage line is the one `nnedge --help` lists
    line=$("$NNEDGE" "$v" --help | head -n 1 | sed 's/^usage: nnedge //')
    grep -qF "  $line" "$T/all" && ok || bad "nnedge $v --help: \"$line\" is not in nnedge --help"
    "$NNEDGE" "$v" --no-such-option >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok
    else bad "nnedge $v --no-such-option: exit $rc, stderr $(head -c 200 "$T/err")"; fi
done
"$NNEDGE" help no-such-verb >"$T/out" 2>"$T/err"
[ $? -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && ok || bad "nnedge help no-such-verb"
"$NNEDGE" no-such-verb --help >"$T/out" 2>"$T/err"
[ $? -eq 2 ] && grep -q 'unknown verb' "$T/err" && ok || bad "nnedge no-such-verb --help"
echo "help: $pass passed, $fail failed"
[ $fail -eq 0 ]
