/*
 * gemm_bench.c - GFLOPS of the float GEMM kernel (src/kernels/ref/gemm.c) on
 * a few shapes: `build/gemm_bench [M N K [t]]...` (t: B transposed). Times
 * are process CPU time (CLOCK_PROCESS_CPUTIME_ID), best of 25 trials of
 * ~0.4 GFLOP each, so that other load on a shared machine inflates them
 * less than wall time would (it still shares caches and memory bandwidth).
 */
#include "kernels/ref/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench_one(long M, long N, long K, int tb) {
    float *A = malloc(sizeof(float) * (size_t)(M * K));
    float *B = malloc(sizeof(float) * (size_t)(K * N));
    float *C = malloc(sizeof(float) * (size_t)(M * N));
    void *scr = malloc(nne_gemm_f32_scratch(M, N, K) + 1);
    if (!A || !B || !C || !scr) {
        fprintf(stderr, "gemm_bench: out of memory for %ldx%ldx%ld\n", M, N, K);
        return 1;
    }
    for (long i = 0; i < M * K; i++) A[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
    for (long i = 0; i < K * N; i++) B[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;
    double flop = 2.0 * (double)M * (double)N * (double)K, best = 1e30;
    long reps = (long)(4e8 / flop);
    if (reps < 1) reps = 1;
    for (int t = 0; t < 25; t++) {
        double t0 = cpu_s();
        for (long r = 0; r < reps; r++) {
            if (tb) nne_gemm_f32(M, N, K, 1.0f, A, K, 1, B, 1, K, 0.0f, C, N, scr);
            else nne_gemm_f32(M, N, K, 1.0f, A, K, 1, B, N, 1, 0.0f, C, N, scr);
        }
        double d = (cpu_s() - t0) / (double)reps;
        if (d < best) best = d;
    }
    printf("%5ld x %5ld x %5ld %s  %7.2f GFLOPS  (%.3f ms)\n", M, N, K, tb ? "B^T" : "B  ",
           flop / best * 1e-9, best * 1e3);
    free(A), free(B), free(C), free(scr);
    return 0;
}

int main(int argc, char **argv) {
    /* M x N x K: square, a classifier head (Gemm transB=1, and MatMul), a 3x3
     * conv of ResNet's first stage as im2col (64 x 3136 x 576) and as
     * NHWC (3136 x 64 x 576), a 1x1 conv */
    static const long dflt[][4] = {{256, 256, 256, 0}, {512, 512, 512, 0}, {1, 1000, 2048, 1},
                                   {1, 1000, 2048, 0}, {64, 3136, 576, 0}, {3136, 64, 576, 0},
                                   {128, 3136, 64, 0}, {256, 256, 256, 1}};
    int rc = 0;
    if (argc > 1) {
        for (int i = 1; i + 2 < argc; i += 3) {
            int tb = i + 3 < argc && !strcmp(argv[i + 3], "t");
            rc |= bench_one(atol(argv[i]), atol(argv[i + 1]), atol(argv[i + 2]), tb);
            if (tb) i++;
        }
        return rc;
    }
    for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++)
        rc |= bench_one(dflt[i][0], dflt[i][1], dflt[i][2], (int)dflt[i][3]);
    return rc;
}
