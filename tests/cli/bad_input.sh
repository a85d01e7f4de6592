#!/bin/sh
# bad_input.sh - the CLI contract on bad input (DESIGN.md section 4): every
# bad model, input file or option makes `nnedge` exit with status 2 and print
# exactly one line on stderr; it never crashes, hangs or exits 0 or 1.
# Bit-flipped models may still be valid: for those exit 0 is accepted too.
#
#   NNEDGE=build/nnedge sh tests/cli/bad_input.sh      (make test-bad-input)
#   NNEDGE=build-san/nnedge sh tests/cli/bad_input.sh  (make SAN=1 test-bad-input)
#
# Inputs are generated here with fixed seeds (no Python needed); the models
# come from tests/models/ (scripts/gen_test_models.py) and the fuzz corpus.
# Cases on models with Identity or Add run only when the build has that op
# (they print SKIP otherwise); the no-node passthrough model covers the same
# input checks on any build.

NNEDGE=${NNEDGE:-build/nnedge}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODELS=$ROOT/tests/models
CONV=$ROOT/tests/fuzz/corpus/model/conv_with_strides_padding.onnx
IFMODEL=$ROOT/tests/fuzz/corpus/model/if.onnx
export LC_ALL=C

if [ ! -x "$NNEDGE" ]; then
    echo "bad_input.sh: $NNEDGE is not an executable (set NNEDGE)" >&2
    exit 1
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/nne-bad-input.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM

pass=0
fail=0
skip=0

# start NAME CMD...: runs CMD with a 20 s limit; sets name, cmd and rc, leaves stderr in $T/err.
start() {
    name=$1
    shift
    cmd="$*"
    timeout 20 "$@" >"$T/out" 2>"$T/err" </dev/null
    rc=$?
}

report_fail() {
    fail=$((fail + 1))
    echo "FAIL $name: $1 (exit $rc)"
    echo "     command: $cmd"
    sed -n '1,5s/^/     stderr: /p' "$T/err"
}

# The stderr of a status-2 exit: non-empty, exactly one line, no sanitizer report.
check_err_line() {
    if [ ! -s "$T/err" ]; then
        report_fail "stderr is empty"
    elif [ "$(wc -l <"$T/err")" -ne 1 ] || [ -n "$(tail -c 1 "$T/err")" ]; then
        report_fail "stderr is not exactly one line"
    else
        pass=$((pass + 1))
    fi
}

# expect_bad NAME CMD...: exit 2 with one line on stderr.
expect_bad() {
    start "$@"
    case $rc in
    2) check_err_line ;;
    0) report_fail "accepted bad input" ;;
    1) report_fail "reported an internal error" ;;
    124) report_fail "timed out (hang?)" ;;
    *) report_fail "crashed or was killed" ;;
    esac
}

# expect_ok_or_bad NAME CMD...: exit 0, or exit 2 with one line on stderr.
expect_ok_or_bad() {
    start "$@"
    case $rc in
    0) pass=$((pass + 1)) ;;
    2) check_err_line ;;
    124) report_fail "timed out (hang?)" ;;
    *) report_fail "crashed, was killed or reported an internal error" ;;
    esac
}

# expect_ok NAME CMD...: the control cases, which must succeed.
expect_ok() {
    start "$@"
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1))
    else
        report_fail "a valid run failed"
    fi
}

# supported MODEL: 0 when this build has every op of MODEL.
supported() {
    timeout 20 "$NNEDGE" info "$1" --json 2>/dev/null | grep -q '"unsupported": \[\]'
}

# mknpy FILE DESCR SHAPE DATA_BYTES: a .npy v1.0 file of zero-valued elements.
mknpy() {
    hdr="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
    len=$((${#hdr} + 1))
    pad=$(((64 - (10 + len) % 64) % 64))
    hlen=$((len + pad))
    {
        printf '\223NUMPY\001\000'
        printf "\\$(printf %03o $((hlen % 256)))\\$(printf %03o $((hlen / 256)))"
        printf '%s%*s\n' "$hdr" "$pad" ''
        head -c "$4" /dev/zero
    } >"$1"
}

# randbytes FILE N SEED: N pseudo-random bytes (awk's generator, fixed seed).
randbytes() {
    awk -v n="$2" -v seed="$3" 'BEGIN { srand(seed); for (i = 0; i < n; i++) printf "%c", int(rand() * 256) }' >"$1"
}

# flipbits FILE SEED K: flip K pseudo-randomly chosen bits of FILE in place.
flipbits() {
    size=$(wc -c <"$1")
    x=$2
    k=0
    while [ "$k" -lt "$3" ]; do
        x=$(((x * 1103515245 + 12345) % 2147483648))
        off=$(((x / 8) % size))
        bit=$((x % 8))
        byte=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
        printf "\\$(printf %03o $((byte ^ (1 << bit))))" | dd of="$1" bs=1 seek="$off" conv=notrunc 2>/dev/null
        k=$((k + 1))
    done
}

# ---------------------------------------------------------------- inputs --
mknpy "$T/x.npy" '<f4' '(2, 3)' 24
mknpy "$T/x_3x2.npy" '<f4' '(3, 2)' 24
mknpy "$T/x_6.npy" '<f4' '(6,)' 24
mknpy "$T/x_i4.npy" '<i4' '(2, 3)' 24
mknpy "$T/x_f8.npy" '<f8' '(2, 3)' 48
mknpy "$T/x_scalar.npy" '<f4' '()' 4
head -c 100 "$T/x.npy" >"$T/trunc_data.npy"   # header intact, data cut
head -c 40 "$T/x.npy" >"$T/trunc_header.npy"  # inside the header
head -c 7 "$T/x.npy" >"$T/trunc_magic.npy"
randbytes "$T/random.npy" 200 7
: >"$T/empty.npy"
: >"$T/empty.onnx"
randbytes "$T/random1.onnx" 1 1
randbytes "$T/random64.onnx" 64 2
randbytes "$T/random4k.onnx" 4096 3
OUT=$T/outdir
PT=$MODELS/passthrough_2x3.onnx

# --------------------------------------------------------- control cases --
expect_ok "passthrough runs" "$NNEDGE" run "$PT" -i "x=$T/x.npy" -o "$OUT"
expect_ok "passthrough info" "$NNEDGE" info "$PT"

# ---------------------------------------------------------------- models --
expect_bad "missing model (run)" "$NNEDGE" run "$T/no-such-model.onnx" -i "x=$T/x.npy" -o "$OUT"
expect_bad "missing model (info)" "$NNEDGE" info "$T/no-such-model.onnx"
expect_bad "model is a directory" "$NNEDGE" info "$T"
expect_bad "empty model (run)" "$NNEDGE" run "$T/empty.onnx" -i "x=$T/x.npy" -o "$OUT"
expect_bad "empty model (info)" "$NNEDGE" info "$T/empty.onnx"
expect_bad "empty model (bench)" "$NNEDGE" bench "$T/empty.onnx" --runs 1 --warmup 0
for f in random1 random64 random4k; do
    expect_bad "random bytes $f (info)" "$NNEDGE" info "$T/$f.onnx"
    expect_bad "random bytes $f (run)" "$NNEDGE" run "$T/$f.onnx" -i "x=$T/x.npy" -o "$OUT"
done
size=$(wc -c <"$CONV")
for n in 1 2 5 16 33 64 100 150 $((size - 30)) $((size - 1)); do
    head -c "$n" "$CONV" >"$T/trunc.onnx"
    expect_bad "conv model cut to $n of $size bytes (info)" "$NNEDGE" info "$T/trunc.onnx"
    expect_bad "conv model cut to $n of $size bytes (run)" "$NNEDGE" run "$T/trunc.onnx" -i "x=$T/x.npy" -o "$OUT"
done
size=$(wc -c <"$PT")
for n in 3 20 40 $((size - 8)) $((size - 1)); do
    head -c "$n" "$PT" >"$T/trunc.onnx"
    expect_bad "passthrough model cut to $n of $size bytes" "$NNEDGE" run "$T/trunc.onnx" -i "x=$T/x.npy" -o "$OUT"
done
expect_bad "unsupported op (run)" "$NNEDGE" run "$MODELS/unsupported_op.onnx" -i "x=$T/x.npy" -o "$OUT"
expect_bad "unsupported op (bench)" "$NNEDGE" bench "$MODELS/unsupported_op.onnx" --runs 1 --warmup 0
expect_bad "external data claiming 256 GiB, file missing" "$NNEDGE" info "$MODELS/external_huge.onnx"

# Bit flips: 50 variants (fixed seeds), 1-4 bits each, over four models.
i=1
while [ "$i" -le 50 ]; do
    case $((i % 4)) in
    0) base=$PT ;;
    1) base=$CONV ;;
    2) base=$MODELS/add_2x3.onnx ;;
    3) base=$IFMODEL ;;
    esac
    cp "$base" "$T/flip.onnx"
    flipbits "$T/flip.onnx" "$i" $((1 + i % 4))
    expect_ok_or_bad "bit flips #$i of $(basename "$base") (info)" "$NNEDGE" info "$T/flip.onnx"
    expect_ok_or_bad "bit flips #$i of $(basename "$base") (run)" "$NNEDGE" run "$T/flip.onnx" -i "x=$T/x.npy" -o "$OUT"
    i=$((i + 1))
done

# ---------------------------------------------------------------- inputs --
# input_cases MODEL: wrong shape, rank, dtype, missing and broken input files.
input_cases() {
    m=$1
    tag=$(basename "$m" .onnx)
    set -- "$NNEDGE" run "$m" -o "$OUT"
    extra=""
    [ "$tag" = add_2x3 ] && extra="y=$T/x.npy"
    if [ -n "$extra" ]; then
        expect_ok "$tag runs" "$@" -i "x=$T/x.npy" -i "$extra"
        expect_bad "$tag: missing input y" "$@" -i "x=$T/x.npy"
        expect_bad "$tag: wrong shape (3x2)" "$@" -i "x=$T/x.npy" -i "y=$T/x_3x2.npy"
        expect_bad "$tag: wrong dtype (int32)" "$@" -i "x=$T/x.npy" -i "y=$T/x_i4.npy"
        set -- "$@" -i "$extra"
    else
        expect_ok "$tag runs" "$@" -i "x=$T/x.npy"
    fi
    expect_bad "$tag: no inputs given" "$@"
    expect_bad "$tag: wrong shape (3x2)" "$@" -i "x=$T/x_3x2.npy"
    expect_bad "$tag: wrong rank (6)" "$@" -i "x=$T/x_6.npy"
    expect_bad "$tag: wrong rank (scalar)" "$@" -i "x=$T/x_scalar.npy"
    expect_bad "$tag: wrong dtype (int32)" "$@" -i "x=$T/x_i4.npy"
    expect_bad "$tag: wrong dtype (float64)" "$@" -i "x=$T/x_f8.npy"
    expect_bad "$tag: unknown input name" "$@" -i "x=$T/x.npy" -i "nosuch=$T/x.npy"
    expect_bad "$tag: input given twice" "$@" -i "x=$T/x.npy" -i "x=$T/x.npy"
    expect_bad "$tag: missing .npy file" "$@" -i "x=$T/no-such.npy"
    expect_bad "$tag: empty .npy" "$@" -i "x=$T/empty.npy"
    expect_bad "$tag: .npy cut in the data" "$@" -i "x=$T/trunc_data.npy"
    expect_bad "$tag: .npy cut in the header" "$@" -i "x=$T/trunc_header.npy"
    expect_bad "$tag: .npy cut in the magic" "$@" -i "x=$T/trunc_magic.npy"
    expect_bad "$tag: random bytes as .npy" "$@" -i "x=$T/random.npy"
    expect_bad "$tag: model file as .npy" "$@" -i "x=$m"
}
for m in "$PT" "$MODELS/identity_2x3.onnx" "$MODELS/add_2x3.onnx"; do
    if supported "$m"; then
        input_cases "$m"
    else
        skip=$((skip + 1))
        echo "SKIP input cases on $(basename "$m"): this build lacks its op"
    fi
done

# --------------------------------------------------------------- options --
expect_bad "no verb" "$NNEDGE" nosuchverb "$PT"
expect_bad "unknown option (run)" "$NNEDGE" run "$PT" -i "x=$T/x.npy" --no-such-option
expect_bad "unknown option (info)" "$NNEDGE" info "$PT" --no-such-option
expect_bad "unknown option (bench)" "$NNEDGE" bench "$PT" --no-such-option
expect_bad "unknown option (eval)" "$NNEDGE" eval "$PT" --no-such-option
expect_bad "run without a model" "$NNEDGE" run
expect_bad "-i without =" "$NNEDGE" run "$MODELS/add_2x3.onnx" -i "$T/x.npy"
expect_bad "--threads 0" "$NNEDGE" run "$PT" -i "x=$T/x.npy" --threads 0 -o "$OUT"
expect_bad "--threads abc" "$NNEDGE" run "$PT" -i "x=$T/x.npy" --threads abc -o "$OUT"
expect_bad "--shape without dims" "$NNEDGE" info "$PT" --shape x=
expect_bad "--shape of an unknown input" "$NNEDGE" info "$PT" --shape nosuch=2x3
expect_bad "--shape with a wrong rank" "$NNEDGE" bench "$PT" --shape x=2x3x4 --runs 1 --warmup 0

if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed ($skip model(s) skipped)"; else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
