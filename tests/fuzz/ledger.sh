#!/bin/sh
# tests/fuzz/ledger.sh HARNESS LOG [NOTE] - append one long fuzzing run to
# tests/fuzz/ledger.tsv: date, harness, commit, executions and seconds (from
# libFuzzer's -print_final_stats=1 lines in LOG), findings (artifacts named
# in LOG), the CPU, and a note. The issues' execution counts ("10^8 in
# total") are the sums of this file per harness:
#   awk -F'\t' 'NR > 1 { n[$2] += $4 } END { for (h in n) print h, n[h] }' tests/fuzz/ledger.tsv
set -eu
h=$1
log=$2
note=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
ledger="$here/ledger.tsv"
runs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
secs=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | awk '{print $5}')
rate=$(grep -E '^stat::average_exec_per_sec' "$log" | tail -1 | awk '{print $2}')
# an interrupted run prints no "Done" line: its time from the average rate
[ -n "$secs" ] || { [ -n "$rate" ] && [ "$rate" -gt 0 ] && secs=$((runs / rate)); } || true
# a run killed without its final stats (the session ended under it): the
# last status line ("#N ... exec/s: R"), and the note says so
if [ -z "$runs" ]; then
    last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1)
    runs=$(printf '%s\n' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
    rate=$(printf '%s\n' "$last" | sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p')
    [ -n "$rate" ] && [ "$rate" -gt 0 ] && secs=$((runs / rate))
    [ -z "$runs" ] || note="${note:+$note; }killed without final stats: executions from the last status line"
fi
[ -n "$runs" ] || { echo "ledger.sh: no stat::number_of_executed_units in $log (run with -print_final_stats=1)" >&2; exit 2; }
# findings: crashes, leaks, timeouts, out-of-memory units and sanitizer
# reports; slow units (a unit over 10 s that still finished) are not
# findings, they go into the note
# (one per artifact written; a sanitizer report without an artifact counts
# itself: a report and its artifact are one finding)
found=$(grep -c -E 'Test unit written to .*/(crash|leak|timeout|oom)-' "$log" || true)
[ "$found" != 0 ] || found=$(grep -c -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$log" || true)
slow=$(grep -c -E 'Test unit written to .*/slow-unit-' "$log" || true)
[ "$slow" = 0 ] || note="$note; $slow slow unit(s)"
# FUZZ_COMMIT: the commit the binary was built at (default: HEAD)
commit=${FUZZ_COMMIT:-$(git -C "$here" rev-parse --short HEAD)}
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
[ -f "$ledger" ] || printf 'date\tharness\tcommit\texecutions\tseconds\tfindings\tcpu\tnote\n' > "$ledger"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$h" "$commit" "$runs" "${secs:-?}" "$found" "$cpu" "$note" >> "$ledger"
tail -1 "$ledger"
