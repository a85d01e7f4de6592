#!/bin/bash
# tests/isa/run.sh - the kernel paths at every ISA level this CPU allows:
# for each level (the best one, each lower x86 level, the portable code, and
# NNE_FORCE_REFERENCE=1) the unit tests (every kernel variant the level
# allows, against the reference), the conformance pass list and the
# differential tests of a few models (1 and 2 threads) against ONNX Runtime.
# Prints which levels ran; a level the CPU lacks is skipped (never a failure).
#   BUILD=build SHARED=../shared NNEDGE_MODELS=... bash tests/isa/run.sh
set -u
BUILD=${BUILD:-build}
flags=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null || true)
has() { for f in "$@"; do case " $flags " in *" $f "*) ;; *) return 1 ;; esac; done; }
levels=()
case "$(uname -m)" in
x86_64)
    has avx512f avx512bw avx512dq avx512vl avx512_vnni && levels+=(avx512vnni)
    has avx512f avx512bw avx512dq avx512vl && levels+=(avx512)
    has avx2 fma && levels+=(avx2)
    levels+=(portable) ;;
aarch64) levels+=(neon portable) ;;
*) levels+=(portable) ;;
esac
levels+=(ref)
status=0
ran=()
for lv in "${levels[@]}"; do
    if [ "$lv" = ref ]; then env_=(NNE_FORCE_REFERENCE=1); else env_=(NNE_MAX_ISA=$lv); fi
    echo "== isa $lv (${env_[*]})"
    out=$(env "${env_[@]}" "$BUILD/unit_tests" 2>&1)
    rc=$?
    echo "$out" | grep -E '^kernels: (cpu|.*tested)' | sed 's/^/   /'
    echo "$out" | tail -1 | sed 's/^/   unit: /'
    [ $rc -eq 0 ] || { echo "isa $lv: unit tests failed"; echo "$out" | grep -i fail | head; status=1; }
    env "${env_[@]}" CONFORMANCE="$BUILD/conformance" OUT="$BUILD/isa/conformance-$lv.txt" \
        sh tests/conformance/check.sh | tail -1 | sed 's/^/   /' || status=1
    for t in 1 2; do
        env "${env_[@]}" NNEDGE="$BUILD/nnedge" bash tests/diff/run.sh mobilenet_v2 resnet18 squeezenet mlp --threads $t \
            > "$BUILD/isa/diff-$lv-t$t.txt" 2>&1 || { echo "isa $lv: diff tests failed (threads $t)"; tail -5 "$BUILD/isa/diff-$lv-t$t.txt"; status=1; }
        echo "   diff (threads $t): $(tail -1 "$BUILD/isa/diff-$lv-t$t.txt")"
    done
    ran+=("$lv")
done
echo "isa levels run: ${ran[*]}"
exit $status
