/*
 * conv_bench.c - the float Conv algorithms of kernels/conv_fast.c side by
 * side on one layer shape: `build/conv_bench [C M H W [threads]]...`
 * (3x3, stride 1, pad 1; no arguments: the 3x3 layers of the torchvision
 * ResNets and a few others). For each shape it times the implicit GEMM and
 * Winograd F(4x4, 3x3) alternately (best of 15 trials of ~0.2 GFLOP of
 * direct-conv work each, process CPU time with 1 thread, wall time with
 * more) and prints GFLOP/s counted as direct convolution, the ratios
 * implicit/winograd and implicit/winograd_t (transposed GEMMs; above 1:
 * Winograd is faster) and the algorithm the
 * plan picks. Used to set the rule in conv_fast.c's wino_pays.
 */
#include "core/threadpool.h"
#include "kernels/conv_fast.h"
#include "kernels/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(int cpu) {
    struct timespec t;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct algo_run {
    nne_conv_fast cf;
    float *P;
    void *scr;
    double best;
} algo_run;

static int g_cold; /* evict the caches before each run (weights come from memory, as in a model) */
static char *g_evict;

static int bench_shape(long C, long M, long H, long W, int threads, int k, int st) {
    const nne_sgemm_ops *ops = nne_kernels()->sgemm;
    nne_conv_desc p;
    memset(&p, 0, sizeof p);
    p.nsp = 2, p.N = 1, p.C = C, p.M = M, p.G = 1;
    for (int a = 0; a < 2; a++)
        p.in[a] = a ? W : H, p.k[a] = k, p.s[a] = st, p.d[a] = 1, p.pb[a] = k / 2, p.out[a] = (p.in[a] + 2 * (k / 2) - k) / st + 1;
    float *x = malloc(sizeof(float) * (size_t)(C * H * W)), *w = malloc(sizeof(float) * (size_t)(M * C * k * k));
    float *y = malloc(sizeof(float) * (size_t)(M * p.out[0] * p.out[1])), *b = malloc(sizeof(float) * (size_t)M);
    for (long i = 0; i < C * H * W; i++) x[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
    for (long i = 0; i < M * C * k * k; i++) w[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;
    for (long i = 0; i < M; i++) b[i] = 0.1f;
    nne_threadpool *pool = nne_threadpool_create(threads, nne_sgemm_worker_scratch());
    const int algos[3] = {NNE_CONV_IMPLICIT, NNE_CONV_WINOGRAD, NNE_CONV_WINOGRAD_T};
    algo_run r[3];
    int n = 0;
    for (int a = 0; a < 3; a++) {
        memset(&r[a], 0, sizeof r[a]);
        r[a].best = 1e30;
        if (!nne_conv_fast_plan_algo(ops, &p, &r[a].cf, algos[a])) continue;
        n = a + 1;
        r[a].P = malloc(nne_conv_fast_packed_w_bytes(&r[a].cf, &p) + 64);
        nne_conv_fast_pack_w(&r[a].cf, &p, w, r[a].P);
        r[a].scr = aligned_alloc(64, (nne_conv_fast_scratch(&r[a].cf, &p) + 127) / 64 * 64);
    }
    nne_epilogue ep = {.act = NNE_ACT_RELU};
    double flop = 2.0 * (double)M * (double)C * k * k * (double)p.out[0] * (double)p.out[1];
    long reps = g_cold ? 1 : (long)(2e8 / flop);
    if (reps < 1) reps = 1;
    for (int t = 0; t < 15; t++)
        for (int a = 0; a < n; a++) {
            if (!r[a].scr) continue;
            if (g_cold)
                for (size_t i = 0; i < ((size_t)64 << 20); i += 64) g_evict[i]++;
            double t0 = now_s(threads <= 1);
            for (long k = 0; k < reps; k++) nne_conv_fast_run(&r[a].cf, &p, x, w, r[a].P, b, &ep, y, r[a].scr, pool);
            double dt = (now_s(threads <= 1) - t0) / (double)reps;
            if (dt < r[a].best) r[a].best = dt;
        }
    nne_conv_fast pick;
    nne_conv_fast_plan(ops, &p, &pick);
    printf("C %4ld M %4ld %4ldx%-4ld k%d s%d T%d  implicit %7.2f GF/s", C, M, H, W, k, st, threads, flop / r[0].best * 1e-9);
    if (n >= 2 && r[1].scr)
        printf("  winograd %7.2f GF/s (tiles %ld, nb %ld) ratio %5.2f", flop / r[1].best * 1e-9,
               (long)r[1].cf.tiles, (long)r[1].cf.nb, r[0].best / r[1].best);
    else printf("  winograd n/a");
    if (n >= 3 && r[2].scr)
        printf("  winograd_t %7.2f GF/s ratio %5.2f", flop / r[2].best * 1e-9, r[0].best / r[2].best);
    printf("  plan: %s\n", nne_conv_fast_algo_name(pick.algo));
    for (int a = 0; a < 3; a++) free(r[a].P), free(r[a].scr);
    free(x), free(w), free(y), free(b);
    nne_threadpool_destroy(pool);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        int rc = 0;
        for (int i = 1; i + 3 < argc;) {
            long C = atol(argv[i]), M = atol(argv[i + 1]), H = atol(argv[i + 2]), W = atol(argv[i + 3]);
            int th = 1, k = 3, st = 1;
            i += 4;
            while (i < argc && strchr("tksc", argv[i][0])) {
                if (argv[i][0] == 'c') {
                    g_cold = 1;
                    if (!g_evict) g_evict = calloc((size_t)64 << 20, 1);
                    i++;
                    continue;
                }
                int v = atoi(argv[i] + 1);
                if (argv[i][0] == 't') th = v;
                else if (argv[i][0] == 'k') k = v;
                else st = v;
                i++;
            }
            rc |= bench_shape(C, M, H, W, th, k, st);
        }
        return rc;
    }
    static const long shapes[][4] = {
        {64, 64, 56, 56}, {128, 128, 28, 28}, {256, 256, 14, 14}, {512, 512, 7, 7}, {32, 32, 112, 112},
        {16, 16, 160, 160}, {64, 64, 80, 80}, {16, 32, 56, 56}, {24, 24, 40, 40}, {256, 64, 20, 20},
        {8, 8, 64, 64}, {96, 128, 10, 10},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        bench_shape(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], 1, 3, 1);
    return 0;
}
