/*
 * linalg_gemm_op.c - Gemm (all opsets): Y = alpha * A' * B' + beta * C with
 * A' = transA ? A^T : A (M x K), B' = transB ? B^T : B (K x N).
 * C is optional from opset 11 and broadcasts (numpy, unidirectional) to
 * M x N; before opset 7 broadcasting needs the `broadcast` attribute.
 * Transposes are passed to the GEMM kernel as strides; no copies for float.
 */
#include "train/train.h"
#include "ops/op.h"
#include "ops/linalg_util.h"
#include "kernels/dispatch.h"

#include <inttypes.h>
#include <string.h>

/* Gemm in phases: infer validates, declares Y and (when planning) keeps the
 * parsed attributes, shapes and scratch layout; the run computes. */
typedef struct gemm_state {
    int ta, tb;
    float alpha, beta;
    int64_t M, N, K, crows, ccols;
    size_t og, oa, ob, oy; /* scratch layout */
    const float *pb;       /* B packed once (float initializer, blocked GEMM), or NULL */
    nne_gemm_f32_packed_fn gemm_packed;
    /* pruned float B: its CSR (kernels/spmm.h) and the kernel, or NULL;
     * scratch for A^T (K x M) and the product (N x M) */
    const void *sp;
    const nne_vec_ops *spv;
    size_t oxt, oyt;
} gemm_state;


static nne_status gemm_infer(nne_op_ctx *ctx) {
    static const nne_dtype ok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16,
                                   NNE_DTYPE_BFLOAT16, NNE_DTYPE_INT32, NNE_DTYPE_INT64,
                                   NNE_DTYPE_UINT32, NNE_DTYPE_UINT64, NNE_DTYPE_UNDEFINED};
    const nne_tensor *A = nne_ctx_input(ctx, 0), *B = nne_ctx_input(ctx, 1);
    const nne_tensor *C = nne_ctx_input(ctx, 2);
    int opset = nne_ctx_opset(ctx);
    char s1[96], s2[96];
    if (!A || !B) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs A and B");
    if (!C && opset < 11) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input C is required before opset 11");
    }
    NNE_TRY(nne_la_check_dtype(ctx, "A", A->dtype, ok));
    if (B->dtype != A->dtype || (C && C->dtype != A->dtype)) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "A, B and C must have the same dtype, got %s, %s, %s",
                            nne_dtype_name(A->dtype), nne_dtype_name(B->dtype),
                            C ? nne_dtype_name(C->dtype) : "-");
    }
    if (A->ndim != 2 || B->ndim != 2) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "A and B must be 2-D, got A %s and B %s",
                            nne_dims_str(A->ndim, A->dims, s1, sizeof s1),
                            nne_dims_str(B->ndim, B->dims, s2, sizeof s2));
    }
    int ta = nne_attr_i(ctx, "transA", 0) != 0, tb = nne_attr_i(ctx, "transB", 0) != 0;
    float alpha = nne_attr_f(ctx, "alpha", 1.0f), beta = nne_attr_f(ctx, "beta", 1.0f);
    int64_t M = ta ? A->dims[1] : A->dims[0], K = ta ? A->dims[0] : A->dims[1];
    int64_t KB = tb ? B->dims[1] : B->dims[0], N = tb ? B->dims[0] : B->dims[1];
    if (K != KB) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "inner dimensions differ: A%s is %s, B%s is %s (K %" PRId64
                            " vs %" PRId64 ")",
                            ta ? "^T" : "", nne_dims_str(A->ndim, A->dims, s1, sizeof s1),
                            tb ? "^T" : "", nne_dims_str(B->ndim, B->dims, s2, sizeof s2), K, KB);
    }
    /* C: rank <= 2, each dim 1 or the matching one of (M, N) */
    int64_t crows = 1, ccols = 1;
    if (C) {
        int bad = C->ndim > 2;
        if (!bad && C->ndim >= 1) ccols = C->dims[C->ndim - 1];
        if (!bad && C->ndim == 2) crows = C->dims[0];
        if ((crows != 1 && crows != M) || (ccols != 1 && ccols != N)) bad = 1;
        if (!bad && opset < 7 && !nne_attr_i(ctx, "broadcast", 0) &&
            !(C->ndim == 2 && crows == M && ccols == N)) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "C is %s but must be %" PRId64 "x%" PRId64
                                " when attribute broadcast=0 (opset %d)",
                                nne_dims_str(C->ndim, C->dims, s1, sizeof s1), M, N, opset);
        }
        if (bad) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "C is %s, which does not broadcast to %" PRId64 "x%" PRId64,
                                nne_dims_str(C->ndim, C->dims, s1, sizeof s1), M, N);
        }
    }
    int64_t ydims[2] = {M, N};
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, A->dtype, 2, ydims, &Y));
    nne_dtype dt = A->dtype;
    int64_t na = M * K, nbn = K * N, ny = M * N;
    size_t total = 0, og = 0, oa = 0, ob = 0, oy = 0;
    if (dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16) {
        og = nne_la_reserve(&total, nne_gemm_f32_scratch(M, N, K));
        if (dt != NNE_DTYPE_FLOAT) {
            oa = nne_la_reserve(&total, nne_size_elems(na, sizeof(float)));
            ob = nne_la_reserve(&total, nne_size_elems(nbn, sizeof(float)));
            oy = nne_la_reserve(&total, nne_size_elems(ny, sizeof(float)));
        }
    } else if (dt != NNE_DTYPE_DOUBLE) {
        /* integers: exact int64 product, then alpha/beta in double */
        oa = nne_la_reserve(&total, nne_size_elems(na, sizeof(int64_t)));
        ob = nne_la_reserve(&total, nne_size_elems(nbn, sizeof(int64_t)));
        oy = nne_la_reserve(&total, nne_size_elems(ny, sizeof(int64_t)));
    }
    nne_ctx_scratch(ctx, total);
    gemm_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        *st = (gemm_state){.ta = ta, .tb = tb, .alpha = alpha, .beta = beta, .M = M, .N = N, .K = K,
                           .crows = crows, .ccols = ccols, .og = og, .oa = oa, .ob = ob, .oy = oy};
        if (dt == NNE_DTYPE_FLOAT) {
            /* a pruned B runs sparse where that was measured faster: the
             * product as B'^T (N x K, sparse) * A^T (K x M), vectorized
             * over the batch M */
            NNE_TRY(nne_la_sparse_weights(ctx, 1, N, K, tb ? K : 1, tb ? 1 : N, M, !ta && M > 1, &st->sp, &st->spv));
            if (st->sp) {
                st->oxt = nne_la_reserve(&total, nne_size_elems(ta ? 0 : K * M, sizeof(float)));
                st->oyt = nne_la_reserve(&total, nne_size_elems(N * M, sizeof(float)));
                nne_ctx_scratch(ctx, total);
                return NNE_OK;
            }
            st->pb = nne_la_pack_b(ctx, 1, M, N, K, ta ? M : 1, tb ? 1 : N, tb ? K : 1, &st->gemm_packed);
            if (!st->pb && st->gemm_packed) return NNE_ERR_OUT_OF_MEMORY;
        }
    }
    return NNE_OK;
}

static nne_status gemm_kernel(const void *state, const nne_kernel_args *args) {
    const gemm_state *st = state;
    const nne_tensor *A = args->in[0], *B = args->in[1], *C = args->n_in > 2 ? args->in[2] : NULL;
    nne_tensor *Y = args->out[0];
    int ta = st->ta, tb = st->tb;
    float alpha = st->alpha, beta = st->beta;
    int64_t M = st->M, N = st->N, K = st->K, crows = st->crows, ccols = st->ccols;
    size_t og = st->og, oa = st->oa, ob = st->ob, oy = st->oy;
    nne_dtype dt = A->dtype;
    int64_t na = M * K, nbn = K * N, ny = M * N;
    char *scr = args->scratch;
    if (ny == 0) return NNE_OK;
    void *gscr = scr + og;
    float *fa = (float *)(scr + oa), *fb = (float *)(scr + ob), *fy = (float *)(scr + oy);
    int64_t *ia = (int64_t *)(scr + oa), *ib = (int64_t *)(scr + ob), *iy = (int64_t *)(scr + oy);

    int64_t rsa = ta ? 1 : K, csa = ta ? M : 1; /* A' (i,k) strides */
    int64_t rsb = tb ? 1 : N, csb = tb ? K : 1; /* B' (k,j) strides */
    double cb[1];
    if (dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16) {
        const float *a = A->data, *b = B->data;
        float *y = Y->data;
        if (dt != NNE_DTYPE_FLOAT) {
            nne_load_f32(A, 0, 1, na, fa);
            nne_load_f32(B, 0, 1, nbn, fb);
            a = fa;
            b = fb;
            y = fy;
        }
        float bt = 0.0f;
        if (C && beta != 0.0f) {
            for (int64_t i = 0; i < M; i++) {
                int64_t co = (crows == 1 ? 0 : i) * ccols;
                if (ccols == 1) {
                    nne_load_f64(C, co, 1, 1, cb);
                    for (int64_t j = 0; j < N; j++) y[i * N + j] = (float)cb[0];
                } else {
                    nne_load_f32(C, co, 1, N, y + i * N);
                }
            }
            bt = beta;
        }
        if (st->sp) {
            /* T (N x M) = B'^T A^T; A^T is A itself when transA (or M is 1) */
            nne_spmat sm = nne_spmat_view(st->sp);
            const float *xt = a;
            float *t = (float *)(scr + st->oyt);
            if (!ta && M > 1) {
                float *x = (float *)(scr + st->oxt);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t k = 0; k < K; k++) x[k * M + i] = a[i * K + k];
                xt = x;
            }
            nne_spmm_run(st->spv, &sm, xt, M, M, t, M, NULL, NULL, nne_ctx_pool(args->ctx));
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++)
                    y[i * N + j] = bt != 0.0f ? alpha * t[j * M + i] + bt * y[i * N + j] : alpha * t[j * M + i];
        } else {
            nne_la_gemm_f32(args->ctx, M, N, K, alpha, a, rsa, csa, b, rsb, csb, st->pb, bt, y, N, gscr, NULL);
        }
        if (dt != NNE_DTYPE_FLOAT) nne_store_f32(Y, 0, 1, ny, fy, NNE_CVT_SAT);
    } else if (dt == NNE_DTYPE_DOUBLE) {
        double *y = Y->data;
        double bt = 0.0;
        if (C && beta != 0.0f) {
            for (int64_t i = 0; i < M; i++) {
                int64_t co = (crows == 1 ? 0 : i) * ccols;
                for (int64_t j = 0; j < N; j++) {
                    y[i * N + j] = ((const double *)C->data)[co + (ccols == 1 ? 0 : j)];
                }
            }
            bt = beta;
        }
        nne_gemm_f64(M, N, K, alpha, A->data, rsa, csa, B->data, rsb, csb, bt, y, N);
    } else {
        nne_load_i64(A, 0, 1, na, ia);
        nne_load_i64(B, 0, 1, nbn, ib);
        nne_gemm_i64(M, N, K, ia, rsa, csa, ib, rsb, csb, 0, iy, N);
        int64_t cv[1];
        for (int64_t i = 0; i < M; i++) {
            for (int64_t j = 0; j < N; j++) {
                int64_t v = iy[i * N + j];
                if (alpha != 1.0f) v = (int64_t)((double)v * alpha);
                if (C && beta != 0.0f) {
                    nne_load_i64(C, (crows == 1 ? 0 : i) * ccols + (ccols == 1 ? 0 : j), 1, 1,
                                    cv);
                    v = (int64_t)((uint64_t)v + (uint64_t)(beta == 1.0f ? cv[0]
                                                           : (int64_t)((double)cv[0] * beta)));
                }
                iy[i * N + j] = v;
            }
        }
        nne_store_i64(Y, 0, 1, ny, iy);
    }
    return NNE_OK;
}

static int64_t gemm_macs(nne_op_ctx *ctx) {
    const nne_tensor *A = nne_ctx_input(ctx, 0), *Y = nne_ctx_output_get(ctx, 0);
    if (!A || !Y || A->ndim != 2) return 0;
    return nne_tensor_numel(Y) * A->dims[nne_attr_i(ctx, "transA", 0) ? 0 : 1];
}

NNE_OP_DEFINE(Gemm, "", "Gemm", .infer = gemm_infer, .run = gemm_kernel, .state_size = sizeof(gemm_state),
              .macs = gemm_macs, .gradient = &nne_grad_Gemm);
