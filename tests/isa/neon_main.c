/*
 * neon_main.c - the kernel unit tests alone (tests/unit/test_kernels.c:
 * every GEMM / SGEMM / conv variant against the reference, the thread pool),
 * for the aarch64 cross build run under qemu-aarch64 (tests/isa/neon.sh).
 * Prints "N passed, M failed".
 */
#include "../unit/unit.h"

#include <stdio.h>

int g_unit_pass, g_unit_fail;

int main(void) {
    unit_kernels();
    unit_qgemm();
    unit_vec();
    unit_spmm();
    printf("%d passed, %d failed\n", g_unit_pass, g_unit_fail);
    return g_unit_fail ? 1 : 0;
}
