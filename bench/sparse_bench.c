/*
 * sparse_bench.c - the sparse x dense kernel (kernels/spmm.h) against the
 * dense packed SGEMM on the same product, per shape and sparsity: the
 * measurements behind nne_spmm_pays (kernels/spmm.c).
 *
 *   build/sparse_bench [rows cols n]...       (default: a table of shapes)
 *
 * rows x cols are the weights (output x input channels), n the columns of
 * X: a 1x1 Conv's pixels per image, or a Gemm's batch (then the sparse side
 * also pays the transposes of A and Y that the Gemm op does). Dense: the
 * SGEMM of the ISA in use with the weights packed once, as the ops run it.
 * Times are process CPU time, best of 15 trials of ~20 ms, 1 thread;
 * printed as sparse / dense (below 1: sparse wins) per sparsity, and
 * whether the rule picks sparse (*).
 */
#include "kernels/dispatch.h"
#include "kernels/spmm.h"
#include "kernels/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static unsigned rng = 12345u;
static float frand(void) {
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 65536.0f;
}

typedef struct shape {
    long rows, cols, n;
    int gemm; /* n is a Gemm batch: X and Y transposed around the kernel */
} shape;

static double best_of(void (*fn)(void *), void *arg, double work) {
    long reps = (long)(2e7 / (work > 1 ? work : 1));
    if (reps < 1) reps = 1;
    double best = 1e30;
    for (int t = 0; t < 15; t++) {
        double t0 = cpu_s();
        for (long r = 0; r < reps; r++) fn(arg);
        double d = (cpu_s() - t0) / (double)reps;
        if (d < best) best = d;
    }
    return best;
}

typedef struct run_ctx {
    const shape *sh;
    const nne_sgemm_ops *sg;
    const nne_vec_ops *vo;
    float *W, *P, *X, *Xt, *Y, *Yt;
    void *scr;
    nne_spmat s;
} run_ctx;

static void dense(void *arg) {
    run_ctx *c = arg;
    const shape *sh = c->sh;
    nne_sgemm_args a = {.alpha = 1.0f, .beta = 0.0f};
    if (!sh->gemm) { /* conv: Y (rows x n) = W * X, W packed as A */
        a.M = sh->rows, a.N = sh->n, a.K = sh->cols;
        a.Pa = c->P;
        a.B = c->X, a.rsb = sh->n, a.csb = 1;
        a.C = c->Y, a.ldc = sh->n;
    } else { /* gemm: Y (n x rows) = A (n x cols) * W^T, W^T packed as B */
        a.M = sh->n, a.N = sh->rows, a.K = sh->cols;
        a.A = c->X, a.rsa = sh->cols, a.csa = 1;
        a.Pb = c->P;
        a.C = c->Y, a.ldc = sh->rows;
    }
    c->sg->run(&a, c->scr, NULL);
}

static void sparse(void *arg) {
    run_ctx *c = arg;
    const shape *sh = c->sh;
    if (!sh->gemm) {
        c->vo->spmm(&c->s, 0, sh->rows, c->X, sh->n, sh->n, c->Y, sh->n, NULL, NULL);
        return;
    }
    long B = sh->n, K = sh->cols, N = sh->rows;
    for (long i = 0; i < B; i++)
        for (long k = 0; k < K; k++) c->Xt[k * B + i] = c->X[i * K + k];
    c->vo->spmm(&c->s, 0, N, c->Xt, B, B, c->Yt, B, NULL, NULL);
    for (long i = 0; i < B; i++)
        for (long j = 0; j < N; j++) c->Y[i * N + j] = c->Yt[j * B + i];
}

static int bench_shape(const shape *sh) {
    const nne_kernel_table *kt = nne_kernels();
    run_ctx c = {.sh = sh, .sg = kt->sgemm, .vo = nne_vec()};
    if (!c.sg || !c.vo) {
        fprintf(stderr, "sparse_bench: no SGEMM / vector family (NNE_FORCE_REFERENCE?)\n");
        return 1;
    }
    long R = sh->rows, K = sh->cols, n = sh->n;
    c.W = malloc(sizeof(float) * (size_t)(R * K));
    c.X = malloc(sizeof(float) * (size_t)(K * n));
    c.Xt = malloc(sizeof(float) * (size_t)(K * n));
    c.Y = malloc(sizeof(float) * (size_t)(R * n));
    c.Yt = malloc(sizeof(float) * (size_t)(R * n));
    size_t pb = sh->gemm ? c.sg->packed_b_bytes(R, K) : c.sg->packed_a_bytes(R, K);
    c.P = aligned_alloc(64, (pb + 63) / 64 * 64);
    size_t sb = sh->gemm ? c.sg->scratch(n, R, K) : c.sg->scratch(R, n, K);
    c.scr = aligned_alloc(64, (sb + 64) / 64 * 64);
    if (!c.W || !c.X || !c.Xt || !c.Y || !c.Yt || !c.P || !c.scr) {
        fprintf(stderr, "sparse_bench: out of memory\n");
        return 1;
    }
    for (long i = 0; i < K * n; i++) c.X[i] = frand() - 0.5f;
    static const double sps[] = {0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95};
    printf("%-4s %5ld x %5ld  n %5ld ", sh->gemm ? "gemm" : "1x1", R, K, n);
    for (size_t si = 0; si < sizeof sps / sizeof sps[0]; si++) {
        for (long i = 0; i < R * K; i++) {
            float w = frand() - 0.5f;
            c.W[i] = frand() < sps[si] ? 0.0f : w;
        }
        if (sh->gemm) c.sg->pack_b(R, K, c.W, 1, K, c.P); /* B(k, j) = W[j][k] */
        else c.sg->pack_a(R, K, c.W, K, 1, c.P);
        int64_t nnz = nne_spmat_count(c.W, R, K, K, 1);
        void *buf = aligned_alloc(64, (nne_spmat_bytes(R, K, nnz) + 63) / 64 * 64);
        if (!buf) return 1;
        nne_spmat_pack(c.W, R, K, K, 1, nnz, buf);
        c.s = nne_spmat_view(buf);
        double work = 2.0 * (double)R * (double)K * (double)n;
        double td = best_of(dense, &c, work), ts = best_of(sparse, &c, work * (1 - sps[si]));
        printf(" %.2f:%.2f%s", sps[si], ts / td, nne_spmm_pays(R, K, nnz, n, sh->gemm && n > 1) ? "*" : " ");
        free(buf);
    }
    printf("\n");
    fflush(stdout);
    free(c.W), free(c.X), free(c.Xt), free(c.Y), free(c.Yt), free(c.P), free(c.scr);
    return 0;
}

int main(int argc, char **argv) {
    /* 1x1 convs (channels, pixels of ResNet / MobileNet stages), Gemm
     * heads at batch 1, 8 and 64 (the seed CNN's 1568 -> 128 and an MLP's
     * 784 -> 256) */
    static const shape dflt[] = {
        {64, 64, 3136, 0},  {128, 64, 784, 0},  {256, 128, 784, 0}, {512, 256, 196, 0}, {256, 512, 49, 0},
        {64, 32, 16, 0},    {64, 32, 8, 0},     {128, 1568, 1, 1},  {128, 1568, 8, 1},  {128, 1568, 64, 1},
        {256, 784, 1, 1},   {256, 784, 4, 1},   {256, 784, 16, 1},  {256, 784, 64, 1},  {10, 128, 64, 1},   {1000, 2048, 1, 1},
    };
    printf("sparse / dense time, 1 thread, %s (* = the rule picks sparse)\n", nne_kernels()->sgemm ?
           nne_kernels()->sgemm->name : "-");
    int rc = 0;
    if (argc > 1) {
        for (int i = 1; i + 2 < argc; i += 3) {
            shape sh = {atol(argv[i]), atol(argv[i + 1]), atol(argv[i + 2]), 0};
            rc |= bench_shape(&sh);
            sh.gemm = 1;
            rc |= bench_shape(&sh);
        }
        return rc;
    }
    for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++) rc |= bench_shape(&dflt[i]);
    return rc;
}
