#!/bin/sh
# tests/phase.sh CMD [ARG]... - run one step of `make test` and record its
# wall time in $PHASES (default build-san/phases.log), so a slow CI run shows
# where its time went. Leading VAR=value words are environment assignments
# (run through env). `tests/phase.sh --summary` prints the steps, slowest
# first, and the total.
PHASES=${PHASES:-build-san/phases.log}
if [ "${1:-}" = "--summary" ]; then
    [ -f "$PHASES" ] || exit 0
    echo "== make test: time per step (slowest first)"
    sort -t'	' -k1,1nr "$PHASES" | awk -F'\t' '{ printf "%7.1f s  %s\n", $1, $2; t += $1 } END { printf "%7.1f s  in all (%.1f min)\n", t, t / 60 }'
    exit 0
fi
mkdir -p "$(dirname "$PHASES")"
t0=$(date +%s.%N)
env "$@"
rc=$?
t1=$(date +%s.%N)
dt=$(echo "$t1 $t0" | awk '{ printf "%.1f", $1 - $2 }')
printf '%s\t%s\n' "$dt" "$*" >> "$PHASES"
echo "== step done in $dt s (rc $rc): $*"
exit $rc
