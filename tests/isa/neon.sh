#!/bin/bash
# tests/isa/neon.sh - the NEON kernels under emulation: cross-compiles the
# library for aarch64 (build-arm64/, gcc-aarch64-linux-gnu) and the kernel
# unit tests linked statically, and runs them under qemu-aarch64 (qemu-user):
# the NEON SGEMM / depthwise / conv variants and the portable ones against
# the reference, with the thread pool. Skipped (exit 0, with a message) when
# the cross compiler or qemu is missing, so a machine without them still
# builds and tests; `make setup` installs both.
set -eu
CROSS=${CROSS:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
if ! command -v "$CROSS" >/dev/null || ! command -v "$QEMU" >/dev/null; then
    echo "test-neon: SKIPPED ($CROSS or $QEMU not installed; make setup installs them)"
    exit 0
fi
B=build-arm64
make -s -j2 CC="$CROSS" BUILD=$B $B/libnnedge.a
mkdir -p $B/isa
"$CROSS" -std=c11 -O2 -Iinclude -Isrc -D_GNU_SOURCE -pthread -static -o $B/isa/neon_kernels \
    tests/isa/neon_main.c tests/unit/test_kernels.c tests/unit/test_qgemm.c tests/unit/test_vec.c tests/unit/test_spmm.c $B/libnnedge.a -lm
out=$("$QEMU" $B/isa/neon_kernels 2>&1) || { echo "$out" | tail -20; echo "test-neon: FAILED"; exit 1; }
echo "$out" | grep -E '^kernels:' | sed 's/^/   /'
echo "test-neon: $(echo "$out" | tail -1) (aarch64 under qemu)"
echo "$out" | grep -q 'nne_f32_gemm_ukernel_8x8__neon tested' || { echo "test-neon: the NEON variant did not run"; exit 1; }
echo "$out" | grep -q 'nne_q8_gemm_ukernel_6x8__neon tested' || { echo "test-neon: the NEON int8 variant did not run"; exit 1; }
echo "$out" | grep -q 'nne_f32_vec__neon dwconv tested' || { echo "test-neon: the NEON vec variant did not run"; exit 1; }
echo "$out" | grep -q 'nne_f32_vec__neon spmm tested' || { echo "test-neon: the NEON sparse kernel did not run"; exit 1; }
