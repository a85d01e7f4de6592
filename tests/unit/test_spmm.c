/*
 * test_spmm.c - the sparse x dense kernel (kernels/spmm.h): every variant
 * the CPU may run (nne_vec_all; a missing ISA is reported skipped) against
 * a dense double-precision product of the same weights, on random sparse
 * weights of several shapes (n around the vector widths: 1, 2, 3, 7, 8, 9,
 * 17, 31, 32, 33, 64, 100; rows and columns from 1 to 300, columns around
 * the kernel's chunk of 128) and sparsities
 * (0, 0.5, 0.8, 0.95, 1: no nonzero at all), with each epilogue (bias,
 * per-row ep bias, residual, activations), at 1 and 2 threads (rows split
 * by nonzeros). Also the CSR packing (round trip) and the rule: dense
 * weights never pick the sparse kernel.
 */
#include "kernels/dispatch.h"
#include "kernels/spmm.h"
#include "kernels/sgemm.h"
#include "kernels/vec.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t g_sseed = 4242u;
static float srand_f(void) {
    g_sseed = g_sseed * 1664525u + 1013904223u;
    return (float)((g_sseed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int sp_runs(const nne_vec_ops *ops) {
    const nne_kernel_table *t = nne_kernels();
    return nne_isa_allows(t->reference ? t->cpu_isa : t->isa, ops->isa);
}

/* One case; returns the number of outputs out of tolerance. kind: 0 none,
 * 1 bias + Relu, 2 residual + ep bias + Sigmoid, 3 both biases + residual
 * + Clip. */
static int sp_case(const nne_vec_ops *ops, nne_threadpool *pool, int64_t R, int64_t K, int64_t n, double sparsity,
                   int kind) {
    int64_t ldx = n + (n % 3), ldy = n + 1; /* rows not packed tight */
    float *w = malloc(sizeof(float) * (size_t)(R * K + 1));
    float *x = malloc(sizeof(float) * (size_t)(K * ldx + 1));
    float *y = malloc(sizeof(float) * (size_t)(R * ldy + 1));
    float *res = malloc(sizeof(float) * (size_t)(R * n + 1));
    float *b = malloc(sizeof(float) * (size_t)(R + 1)), *b2 = malloc(sizeof(float) * (size_t)(R + 1));
    for (int64_t i = 0; i < R * K; i++) {
        float v = srand_f();
        w[i] = (srand_f() + 1.0f) * 0.5f < sparsity ? 0.0f : v;
    }
    for (int64_t i = 0; i < K * ldx; i++) x[i] = srand_f();
    for (int64_t i = 0; i < R * ldy; i++) y[i] = NAN;
    for (int64_t i = 0; i < R * n; i++) res[i] = srand_f();
    for (int64_t i = 0; i < R; i++) b[i] = srand_f(), b2[i] = srand_f();
    int64_t nnz = nne_spmat_count(w, R, K, K, 1);
    size_t bytes = nne_spmat_bytes(R, K, nnz);
    void *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);
    nne_spmat_pack(w, R, K, K, 1, nnz, buf);
    nne_spmat s = nne_spmat_view(buf);
    nne_epilogue e = {0};
    const float *bias = kind == 1 || kind == 3 ? b : NULL;
    if (kind == 1) e.act = NNE_ACT_RELU;
    if (kind == 2) e.act = NNE_ACT_SIGMOID, e.bias = b2, e.residual = res, e.ld_res = n;
    if (kind == 3) e.act = NNE_ACT_CLIP, e.alpha = -0.5f, e.beta = 0.7f, e.bias = b2, e.residual = res, e.ld_res = n;
    nne_spmm_run(ops, &s, x, ldx, n, y, ldy, bias, kind ? &e : NULL, pool);
    int bad = 0;
    for (int64_t m = 0; m < R; m++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                acc += (double)w[m * K + k] * x[k * ldx + j];
                mag += fabs((double)w[m * K + k] * x[k * ldx + j]);
            }
            if (bias) acc += bias[m];
            if (e.bias) acc += e.bias[m];
            if (e.residual) acc += res[m * n + j];
            float ref = nne_act_f32(e.act, e.alpha, e.beta, (float)acc);
            float got = y[m * ldy + j];
            if (!(fabsf(got - ref) <= 1e-5f * (float)mag + 1e-5f)) {
                if (bad++ < 3)
                    fprintf(stderr, "%s spmm %lldx%lld n %lld sparsity %.2f kind %d: y[%lld][%lld] %g, expected %g\n",
                            ops->name, (long long)R, (long long)K, (long long)n, sparsity, kind, (long long)m,
                            (long long)j, got, ref);
            }
        }
    /* the slack past each row of y is untouched */
    for (int64_t m = 0; m < R; m++)
        for (int64_t j = n; j < ldy; j++) bad += !isnan(y[m * ldy + j]);
    free(w), free(x), free(y), free(res), free(b), free(b2), free(buf);
    return bad;
}

void unit_spmm(void) {
    /* CSR round trip, strided source (a transposed view) */
    {
        float w[3 * 4] = {0, 1, 0, 2, 0, 0, 0, 0, 3, 0, 4, 0}; /* 3 x 4, read as 4 x 3 transposed */
        int64_t nnz = nne_spmat_count(w, 4, 3, 1, 4);
        CHECK(nnz == 4);
        void *buf = aligned_alloc(64, (nne_spmat_bytes(4, 3, nnz) + 63) / 64 * 64);
        nne_spmat_pack(w, 4, 3, 1, 4, nnz, buf);
        nne_spmat s = nne_spmat_view(buf);
        CHECK(s.rows == 4 && s.cols == 3 && s.nnz == 4);
        CHECK(s.rp[0] == 0 && s.rp[1] == 1 && s.rp[2] == 2 && s.rp[3] == 3 && s.rp[4] == 4);
        CHECK(s.ci[0] == 2 && s.v[0] == 3.0f && s.ci[1] == 0 && s.v[1] == 1.0f && s.ci[2] == 2 && s.v[2] == 4.0f);
        CHECK(s.ci[3] == 0 && s.v[3] == 2.0f);
        free(buf);
    }
    /* the rule: dense or half-empty weights never go sparse; very sparse do */
    static const int64_t ns[] = {1, 8, 64, 784};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        for (int tr = 0; tr < 2; tr++) {
            CHECK(!nne_spmm_pays(256, 512, 256 * 512, ns[i], tr));
            CHECK(!nne_spmm_pays(256, 512, 256 * 512 / 2, ns[i], tr));
            CHECK(nne_spmm_pays(256, 512, 256 * 512 / 50, ns[i], tr));
        }
    }
    CHECK(nne_spmat_bytes(10, 10, (int64_t)INT32_MAX) == 0);
    {
        /* the early-stopping count: exact below the limit, past it above */
        float d[20 * 20];
        for (int i = 0; i < 400; i++) d[i] = i % 4 ? 1.0f : 0.0f; /* 300 nonzeros */
        CHECK(nne_spmat_count_upto(d, 20, 20, 20, 1, 1000) == 300);
        CHECK(nne_spmat_count_upto(d, 20, 20, 20, 1, 300) == 300);
        int64_t c = nne_spmat_count_upto(d, 20, 20, 20, 1, 50);
        CHECK(c > 50 && c < 300);
    }

    static const int64_t shapes[][3] = {{1, 1, 1},   {5, 7, 1},   {16, 64, 2},  {33, 20, 3},  {8, 9, 7},
                                        {13, 40, 8}, {7, 31, 9},  {24, 17, 17}, {9, 300, 31}, {40, 64, 32},
                                        {3, 5, 33},  {65, 48, 64}, {300, 12, 100}, {20, 300, 40}, {7, 257, 64},
                                        {5, 128, 32}, {6, 129, 33}};
    static const double sps[] = {0.0, 0.5, 0.8, 0.95, 1.0};
    nne_threadpool *pool = nne_threadpool_create(2, nne_sgemm_worker_scratch());
    for (int v = 0; nne_vec_all[v]; v++) {
        const nne_vec_ops *ops = nne_vec_all[v];
        if (!sp_runs(ops)) {
            printf("kernels: %s spmm skipped (needs %s)\n", ops->name, nne_isa_name(ops->isa));
            continue;
        }
        int bad = 0, cases = 0;
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (size_t si = 0; si < sizeof sps / sizeof *sps; si++)
                for (int kind = 0; kind < 4; kind++)
                    for (int th = 0; th < 2; th++, cases++)
                        bad += sp_case(ops, th ? pool : NULL, shapes[i][0], shapes[i][1], shapes[i][2], sps[si], kind) !=
                               0;
        CHECK(bad == 0);
        printf("kernels: %s spmm tested (%d cases, threads 1 and 2)\n", ops->name, cases);
    }
    nne_threadpool_destroy(pool);
}
