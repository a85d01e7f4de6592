/*
 * quant_fused.c - the int8 ops the qdq_fusion pass makes (src/ir/pass_qdq.c)
 * besides ai.nnedge QLinearConv (quant_conv.c):
 *
 *   ai.nnedge QLinearGemm (A, a_scale, a_zp, B, b_scale, b_zp, y_scale, y_zp,
 *       bias?): Y = requant(A' B' + bias), A of rank >= 2 viewed as
 *       [rows, K], B a 2-d [K, N] (transB = 0) or [N, K] (transB = 1)
 *       constant, b_scale/b_zp per tensor or per column, bias int32 [N] in
 *       units of a_scale * b_scale[n]; attributes transB, qmin, qmax.
 *       With attribute y_float = 1 (no y_scale / y_zp: a Gemm or MatMul
 *       whose float result is not quantized again) Y is float:
 *       (float)(A' B' + bias) * (float)(a_scale * b_scale[n]), the int32
 *       sum scaled once (as the DequantizeLinear of int32 sums would).
 *       The requantization is kernels/qgemm.h's (the same as QLinearConv);
 *       the int8 GEMM kernels run it when the parameters are constants,
 *       else (and under NNE_FORCE_REFERENCE) the int32 loop below.
 *   ai.nnedge QLinearAdd (A, a_scale, a_zp, B, b_scale, b_zp, y_scale, y_zp):
 *       A and B of one shape; exactly what DequantizeLinear, Add,
 *       QuantizeLinear compute in float: fa = (float)(a - a_zp) * a_scale
 *       (a table of 256), fb likewise, y = saturate(round_half_even((fa + fb)
 *       / y_scale) + y_zp), clamped to qmin/qmax (a fused Relu).
 *   ai.nnedge QLinearConcat (y_scale, y_zp, then x, x_scale, x_zp per input;
 *       com.microsoft's order), attribute axis: inputs whose parameters are
 *       the output's are copied, the others requantized through a table of
 *       256 (QuantizeLinear of DequantizeLinear, in float as those ops).
 * All parameters are per-tensor scalars except b_scale/b_zp.
 */
#include "core/core.h"
#include "kernels/dispatch.h"
#include "kernels/qgemm.h"
#include "kernels/vec.h"
#include "ops/nn_util.h"

#include <math.h>
#include <string.h>

static int is_q8(nne_dtype dt) { return dt == NNE_DTYPE_UINT8 || dt == NNE_DTYPE_INT8; }

static int32_t q8_at(const void *p, int u8, int64_t i) {
    return u8 ? (int32_t)((const uint8_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

/* A scalar parameter input (scale: float; zero point: uint8/int8 or absent). */
static nne_status scalar_param(nne_op_ctx *ctx, int i, const char *name, int is_scale) {
    const nne_tensor *t = nne_ctx_input(ctx, i);
    if (!t) {
        if (is_scale) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %s is required", name);
        return NNE_OK;
    }
    if (nne_tensor_numel(t) != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s must have one value (per tensor), has %lld", name,
                            (long long)nne_tensor_numel(t));
    if (is_scale ? t->dtype != NNE_DTYPE_FLOAT : !is_q8(t->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s has dtype %s, expected %s", name, nne_dtype_name(t->dtype),
                            is_scale ? "float" : "uint8 or int8");
    return NNE_OK;
}

static float f_at(const nne_tensor *t, int64_t i) { return (float)nne_tensor_get_f64(t, i); }
static int32_t zp_at(const nne_tensor *t, int64_t i) { return t ? (int32_t)nne_tensor_get_i64(t, i) : 0; }

static nne_status q_range(nne_op_ctx *ctx, nne_dtype ydt, int32_t *qmin, int32_t *qmax) {
    *qmin = ydt == NNE_DTYPE_UINT8 ? 0 : -128;
    *qmax = ydt == NNE_DTYPE_UINT8 ? 255 : 127;
    int64_t a = nne_attr_i(ctx, "qmin", *qmin), b = nne_attr_i(ctx, "qmax", *qmax);
    if (a < *qmin) a = *qmin;
    if (b > *qmax) b = *qmax;
    if (a > b) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "qmin %lld > qmax %lld", (long long)a, (long long)b);
    *qmin = (int32_t)a;
    *qmax = (int32_t)b;
    return NNE_OK;
}

/* -------------------------------------------------------- QLinearGemm -- */

typedef struct qgemm_state {
    int64_t rows, K, N;
    int transB, a_u8, b_u8, y_u8, y_float;
    int32_t qmin, qmax;
    const nne_qgemm_ops *ops; /* NULL: reference loop */
    const void *Pa;           /* B packed as the kernel's A (weight cache) */
    float *mult;              /* [N] (fast path), owned */
    int32_t *bias;            /* [N] or NULL, owned */
    int32_t az, yz;
} qgemm_state;

typedef struct qg_pack {
    const nne_qgemm_ops *ops;
    const nne_tensor *B, *bzp;
    int64_t K, N;
    int transB;
} qg_pack;

static void qg_fill(void *user, void *buf) {
    const qg_pack *q = user;
    int32_t wz[1] = {0};
    int64_t nz = q->bzp ? nne_tensor_numel(q->bzp) : 0;
    int32_t *zs = NULL;
    if (nz > 1) zs = nne_malloc((size_t)nz * sizeof(int32_t));
    for (int64_t i = 0; zs && i < nz; i++) zs[i] = zp_at(q->bzp, i);
    if (nz == 1) wz[0] = zp_at(q->bzp, 0);
    /* the kernel's A is B^T: element (n, k) */
    int64_t rsw = q->transB ? q->K : 1, csw = q->transB ? 1 : q->N;
    q->ops->pack_a(q->N, q->K, q->B->data, q->B->dtype == NNE_DTYPE_UINT8, rsw, csw, zs ? zs : wz, zs != NULL,
                   buf);
    nne_free(zs);
}

static nne_status qlgemm_infer(nne_op_ctx *ctx) {
    const nne_tensor *A = nne_ctx_input(ctx, 0), *B = nne_ctx_input(ctx, 3);
    const nne_tensor *bs = nne_ctx_input(ctx, 4), *bzp = nne_ctx_input(ctx, 5), *yzp = nne_ctx_input(ctx, 7);
    const nne_tensor *C = nne_ctx_input(ctx, 8);
    if (!A || !B || !bs) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs A, B and b_scale are required");
    if (!is_q8(A->dtype) || !is_q8(B->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "A/B dtype %s/%s not supported (uint8/int8)",
                            nne_dtype_name(A->dtype), nne_dtype_name(B->dtype));
    if (A->ndim < 2 || B->ndim != 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "A must have rank >= 2 and B rank 2 (got %d, %d)", A->ndim,
                            B->ndim);
    int transB = nne_attr_i(ctx, "transB", 0) != 0;
    int64_t K = A->dims[A->ndim - 1], N = transB ? B->dims[0] : B->dims[1];
    if ((transB ? B->dims[1] : B->dims[0]) != K)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "A's last dimension %lld does not match B", (long long)K);
    NNE_TRY(scalar_param(ctx, 1, "a_scale", 1));
    NNE_TRY(scalar_param(ctx, 2, "a_zero_point", 0));
    int y_float = nne_attr_i(ctx, "y_float", 0) != 0;
    if (y_float && (nne_ctx_input(ctx, 6) || yzp))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "y_float takes no y_scale or y_zero_point");
    if (!y_float) {
        NNE_TRY(scalar_param(ctx, 6, "y_scale", 1));
        NNE_TRY(scalar_param(ctx, 7, "y_zero_point", 0));
    }
    int64_t nbs = nne_tensor_numel(bs);
    if (bs->dtype != NNE_DTYPE_FLOAT || (nbs != 1 && nbs != N))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "b_scale must be float with 1 or %lld values", (long long)N);
    if (bzp && (bzp->dtype != B->dtype || nne_tensor_numel(bzp) != nbs))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "b_zero_point must be like b_scale, of B's dtype");
    if (C && (C->dtype != NNE_DTYPE_INT32 || nne_tensor_numel(C) != N))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "bias must be int32 of %lld values", (long long)N);
    if (K >= 33025) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "K = %lld is too long for int32 sums", (long long)K);
    nne_dtype ydt = y_float ? NNE_DTYPE_FLOAT : yzp ? yzp->dtype : NNE_DTYPE_UINT8;
    int32_t qmin = 0, qmax = 0;
    if (!y_float) NNE_TRY(q_range(ctx, ydt, &qmin, &qmax));
    int64_t od[NNE_MAX_DIMS];
    for (int d = 0; d < A->ndim - 1; d++) od[d] = A->dims[d];
    od[A->ndim - 1] = N;
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, ydt, A->ndim, od, &Y));
    qgemm_state *st = nne_ctx_plan_state(ctx);
    int64_t rows = nne_tensor_numel(A) / (K ? K : 1);
    if (K == 0) rows = nne_tensor_numel(Y) / (N ? N : 1);
    const nne_qgemm_ops *ops = nne_qgemm_best();
    int consts = nne_ctx_input_is_initializer(ctx, 3) && B->data;
    for (int i = 1; i <= 8 && consts; i++)
        if (i != 3 && nne_ctx_input(ctx, i) && !(nne_ctx_input_is_const(ctx, i) && nne_ctx_input(ctx, i)->data))
            consts = 0;
    if (!consts || K == 0) ops = NULL;
    if (ops && nne_qgemm8_best()) {
        /* the 8-bit variant (qgemm.h) when every weight minus its zero
         * point fits it; the kernel's A is B^T: element (n, k) */
        const nne_qgemm_ops *o8 = nne_qgemm8_best();
        int64_t rsw = transB ? K : 1, csw = transB ? 1 : N, nz = bzp ? nne_tensor_numel(bzp) : 0;
        int fits = 1;
        for (int64_t n = 0; n < N && fits; n++) {
            int32_t z = nz ? zp_at(bzp, nz == 1 ? 0 : n) : 0;
            fits = nne_qgemm_fits(o8, 1, K, (const char *)B->data + n * rsw, B->dtype == NNE_DTYPE_UINT8, rsw, csw,
                                  &z, 0);
        }
        if (fits) ops = o8;
    }
    if (ops) nne_ctx_scratch(ctx, ops->scratch(N, rows, K, NULL));
    if (!st) return NNE_OK;
    *st = (qgemm_state){.rows = rows, .K = K, .N = N, .transB = transB, .a_u8 = A->dtype == NNE_DTYPE_UINT8,
                        .b_u8 = B->dtype == NNE_DTYPE_UINT8, .y_u8 = ydt == NNE_DTYPE_UINT8, .y_float = y_float,
                        .qmin = qmin, .qmax = qmax, .ops = ops};
    if (!ops) return NNE_OK;
    const nne_tensor *as = nne_ctx_input(ctx, 1), *azp = nne_ctx_input(ctx, 2), *ys = nne_ctx_input(ctx, 6);
    st->az = zp_at(azp, 0);
    st->yz = zp_at(yzp, 0);
    st->mult = nne_malloc((size_t)(N ? N : 1) * sizeof(float));
    if (C) st->bias = nne_malloc((size_t)N * sizeof(int32_t));
    if (!st->mult || (C && !st->bias)) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    double asc = nne_tensor_get_f64(as, 0), ysc = y_float ? 1.0 : nne_tensor_get_f64(ys, 0);
    for (int64_t n = 0; n < N; n++) {
        st->mult[n] = (float)(asc * nne_tensor_get_f64(bs, nbs == 1 ? 0 : n) / ysc);
        if (C) st->bias[n] = (int32_t)nne_tensor_get_i64(C, n);
    }
    uint64_t tag = 0x7138676d6d303031ull ^ (uint64_t)(uintptr_t)ops ^ (uint64_t)transB; /* "q8gmm001" */
    for (int64_t i = 0; bzp && i < nne_tensor_numel(bzp); i++)
        tag = (tag ^ (uint64_t)(nne_tensor_get_i64(bzp, i) & 0xff)) * 0x100000001b3ull;
    qg_pack q = {ops, B, bzp, K, N, transB};
    st->Pa = nne_ctx_packed_weight(ctx, B->data, tag, ops->packed_a_bytes(N, K), qg_fill, &q);
    if (!st->Pa) return NNE_ERR_OUT_OF_MEMORY;
    return NNE_OK;
}

static void qlgemm_free(void *state) {
    qgemm_state *st = state;
    nne_free(st->mult);
    nne_free(st->bias);
    st->mult = NULL;
    st->bias = NULL;
}

static nne_status qlgemm_run(const void *state, const nne_kernel_args *a) {
    const qgemm_state *st = state;
    const nne_tensor *A = a->in[0], *B = a->in[3], *Y = a->out[0];
    int64_t rows = st->rows, K = st->K, N = st->N;
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    if (st->ops) {
        float lo = (float)(st->qmin - st->yz), hi = (float)(st->qmax - st->yz);
        nne_qsrc src = {A->data, st->a_u8, st->az, 1, K, NULL, 0, NULL, 0, 0};
        /* y_float: the int32 sums + bias into Y's floats, scaled in place */
        nne_qreq req = {st->bias, st->mult, st->yz, lo, hi, st->y_u8, Y->data, 1, N, st->y_float};
        nne_qgemm_args ga = {N, rows, K, st->Pa, &src, &req};
        st->ops->run(&ga, a->scratch, nne_ctx_pool(a->ctx));
        if (st->y_float)
            for (int64_t r = 0; r < rows; r++) {
                float *y = (float *)Y->data + r * N;
                const int32_t *yi = (const int32_t *)Y->data + r * N;
                for (int64_t n = 0; n < N; n++) y[n] = (float)yi[n] * st->mult[n];
            }
        return NNE_OK;
    }
    /* reference: int32 sums, the same requantization */
    const nne_tensor *as = a->in[1], *azp = a->n_in > 2 ? a->in[2] : NULL, *bs = a->in[4];
    const nne_tensor *bzp = a->n_in > 5 ? a->in[5] : NULL, *ys = a->n_in > 6 ? a->in[6] : NULL;
    const nne_tensor *yzp = a->n_in > 7 ? a->in[7] : NULL, *C = a->n_in > 8 ? a->in[8] : NULL;
    int32_t az = zp_at(azp, 0), yz = zp_at(yzp, 0);
    int64_t nbs = nne_tensor_numel(bs);
    double asc = nne_tensor_get_f64(as, 0), ysc = st->y_float ? 1.0 : nne_tensor_get_f64(ys, 0);
    for (int64_t n = 0; n < N; n++) {
        float mult = (float)(asc * nne_tensor_get_f64(bs, nbs == 1 ? 0 : n) / ysc);
        int32_t bz = zp_at(bzp, nbs == 1 ? 0 : n);
        int32_t bias = C ? ((const int32_t *)C->data)[n] : 0;
        nne_qreq q = {&bias, &mult, yz, (float)(st->qmin - yz), (float)(st->qmax - yz), st->y_u8, Y->data, 0, 0, 0};
        for (int64_t r = 0; r < rows; r++) {
            int32_t acc = 0;
            for (int64_t k = 0; k < K; k++) {
                int32_t b = q8_at(B->data, st->b_u8, st->transB ? n * K + k : k * N + n) - bz;
                acc += (q8_at(A->data, st->a_u8, r * K + k) - az) * b;
            }
            if (st->y_float) {
                ((float *)Y->data)[r * N + n] = (float)(int32_t)((uint32_t)acc + (uint32_t)bias) * mult;
                continue;
            }
            int32_t v = nne_qreq_one(&q, 0, acc);
            if (st->y_u8) ((uint8_t *)Y->data)[r * N + n] = (uint8_t)v;
            else ((int8_t *)Y->data)[r * N + n] = (int8_t)v;
        }
    }
    return NNE_OK;
}

static int64_t qlgemm_macs(nne_op_ctx *ctx) {
    const nne_tensor *Y = nne_ctx_output_get(ctx, 0), *A = nne_ctx_input(ctx, 0);
    if (!Y || !A || A->ndim < 1) return 0;
    int64_t r;
    return __builtin_mul_overflow(nne_tensor_numel(Y), A->dims[A->ndim - 1], &r) ? INT64_MAX : r;
}

NNE_OP_DEFINE(QLinearGemmNne, "ai.nnedge", "QLinearGemm", .infer = qlgemm_infer, .run = qlgemm_run,
              .state_free = qlgemm_free, .state_size = sizeof(qgemm_state), .macs = qlgemm_macs);

/* --------------------------------------------------------- QLinearAdd -- */

typedef struct qadd_state {
    int a_u8, b_u8, y_u8;
    int32_t qmin, qmax;
    uint8_t *lut; /* [a byte][b byte] -> y byte when the scales and zero points are constants, owned */
} qadd_state;

static void qladd_free(void *state) {
    qadd_state *st = state;
    nne_free(st->lut);
    st->lut = NULL;
}

static void dq_table(float *t, int u8, int32_t zp, float scale);
static uint8_t qladd_one(const float *ta, const float *tb, float ys, float lo, float hi, int32_t yz, int a, int b);

static nne_status qladd_infer(nne_op_ctx *ctx) {
    const nne_tensor *A = nne_ctx_input(ctx, 0), *B = nne_ctx_input(ctx, 3), *yzp = nne_ctx_input(ctx, 7);
    if (!A || !B) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs A and B are required");
    if (!is_q8(A->dtype) || !is_q8(B->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "A/B dtype %s/%s not supported (uint8/int8)",
                            nne_dtype_name(A->dtype), nne_dtype_name(B->dtype));
    int same = A->ndim == B->ndim;
    for (int d = 0; same && d < A->ndim; d++) same = A->dims[d] == B->dims[d];
    if (!same) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "A and B must have the same shape (no broadcasting)");
    NNE_TRY(scalar_param(ctx, 1, "a_scale", 1));
    NNE_TRY(scalar_param(ctx, 2, "a_zero_point", 0));
    NNE_TRY(scalar_param(ctx, 4, "b_scale", 1));
    NNE_TRY(scalar_param(ctx, 5, "b_zero_point", 0));
    NNE_TRY(scalar_param(ctx, 6, "y_scale", 1));
    NNE_TRY(scalar_param(ctx, 7, "y_zero_point", 0));
    nne_dtype ydt = yzp ? yzp->dtype : NNE_DTYPE_UINT8;
    int32_t qmin, qmax;
    NNE_TRY(q_range(ctx, ydt, &qmin, &qmax));
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, ydt, A->ndim, A->dims, &Y));
    qadd_state *st = nne_ctx_plan_state(ctx);
    if (!st) return NNE_OK;
    *st = (qadd_state){.a_u8 = A->dtype == NNE_DTYPE_UINT8, .b_u8 = B->dtype == NNE_DTYPE_UINT8,
                       .y_u8 = ydt == NNE_DTYPE_UINT8, .qmin = qmin, .qmax = qmax};
    /* constant parameters (the fused QDQ graphs): every (a, b) pair's result
     * in a 64 KiB table, computed by the scalar formula of the run */
    for (int k = 1; k <= 7; k++)
        if (k != 3 && nne_ctx_input(ctx, k) && !(nne_ctx_input_is_const(ctx, k) && nne_ctx_input(ctx, k)->data))
            return NNE_OK;
    st->lut = nne_malloc(65536);
    if (!st->lut) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    float ta[256], tb[256];
    dq_table(ta, st->a_u8, zp_at(nne_ctx_input(ctx, 2), 0), f_at(nne_ctx_input(ctx, 1), 0));
    dq_table(tb, st->b_u8, zp_at(nne_ctx_input(ctx, 5), 0), f_at(nne_ctx_input(ctx, 4), 0));
    float ys = f_at(nne_ctx_input(ctx, 6), 0);
    int32_t yz = zp_at(yzp, 0);
    float lo = (float)(qmin - yz), hi = (float)(qmax - yz);
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) st->lut[a << 8 | b] = qladd_one(ta, tb, ys, lo, hi, yz, a, b);
    return NNE_OK;
}

/* One output byte: QuantizeLinear of the float sum (division by the scale,
 * half to even, clamped, zero point). */
static uint8_t qladd_one(const float *ta, const float *tb, float ys, float lo, float hi, int32_t yz, int a, int b) {
    float v = nearbyintf((ta[a] + tb[b]) / ys);
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (uint8_t)((int32_t)v + yz); /* the byte of the uint8 or int8 value */
}

/* Dequantized values of all 256 codes (index: the code's byte). */
static void dq_table(float *t, int u8, int32_t zp, float scale) {
    for (int i = 0; i < 256; i++) {
        int32_t v = u8 ? i : (int32_t)(int8_t)(uint8_t)i;
        t[i] = (float)(v - zp) * scale;
    }
}

/* 4 lanes (one SSE2 / NEON register): the same float operations as the
 * scalar formula, lane by lane. */
typedef float qa_vf __attribute__((vector_size(16)));
typedef int32_t qa_vi __attribute__((vector_size(16)));
typedef uint8_t qa_vu8 __attribute__((vector_size(4)));
typedef int8_t qa_vs8 __attribute__((vector_size(4)));
typedef uint8_t qa_vbb __attribute__((vector_size(16)));

static inline qa_vf qa_deq(const void *p, int u8, float z, float s) {
    qa_vf f;
    if (u8) {
        qa_vu8 b;
        memcpy(&b, p, sizeof b);
        f = __builtin_convertvector(b, qa_vf);
    } else {
        qa_vs8 b;
        memcpy(&b, p, sizeof b);
        f = __builtin_convertvector(b, qa_vf);
    }
    /* (float)(x - z) is exact in float: x - z in [-255, 255] */
    return (f - z) * s;
}

static nne_status qladd_run(const void *state, const nne_kernel_args *a) {
    const qadd_state *st = state;
    const nne_tensor *A = a->in[0], *B = a->in[3], *Y = a->out[0];
    const nne_vec_ops *v = nne_vec();
    if (v) { /* the float formula in vectors of the ISA in use */
        int32_t yz = zp_at(a->n_in > 7 ? a->in[7] : NULL, 0);
        v->q8_add(A->data, st->a_u8, (float)zp_at(a->in[2], 0), f_at(a->in[1], 0), B->data, st->b_u8,
                  (float)zp_at(a->in[5], 0), f_at(a->in[4], 0), f_at(a->in[6], 0), (float)(st->qmin - yz),
                  (float)(st->qmax - yz), yz, Y->data, nne_tensor_numel(Y));
        return NNE_OK;
    }
    if (st->lut) {
        const uint8_t *pa = A->data, *pb = B->data;
        uint8_t *py = Y->data;
        int64_t n = nne_tensor_numel(Y);
        for (int64_t i = 0; i < n; i++) py[i] = st->lut[(unsigned)pa[i] << 8 | pb[i]];
        return NNE_OK;
    }
    const nne_tensor *yzp = a->n_in > 7 ? a->in[7] : NULL;
    float ta[256], tb[256];
    float sa = f_at(a->in[1], 0), sb = f_at(a->in[4], 0);
    int32_t za = zp_at(a->in[2], 0), zb = zp_at(a->in[5], 0);
    dq_table(ta, st->a_u8, za, sa);
    dq_table(tb, st->b_u8, zb, sb);
    float ys = f_at(a->in[6], 0);
    int32_t yz = zp_at(yzp, 0);
    float lo = (float)(st->qmin - yz), hi = (float)(st->qmax - yz);
    const uint8_t *pa = A->data, *pb = B->data;
    uint8_t *py = Y->data;
    int64_t n = nne_tensor_numel(Y), i = 0;
    /* QuantizeLinear of the sum: x / scale in float, half to even, zero
     * point, saturation; clamping to [lo, hi] first gives the same result,
     * and then (v + 1.5 * 2^23) - 1.5 * 2^23 rounds half to even */
    for (; i + 4 <= n; i += 4) {
        qa_vf v = (qa_deq(pa + i, st->a_u8, (float)za, sa) + qa_deq(pb + i, st->b_u8, (float)zb, sb)) / ys;
        qa_vf vlo = v - v + lo, vhi = v - v + hi;
        qa_vi m = v > vlo; /* NaN -> lo */
        v = (qa_vf)((m & (qa_vi)v) | (~m & (qa_vi)vlo));
        m = v < vhi;
        v = (qa_vf)((m & (qa_vi)v) | (~m & (qa_vi)vhi));
        v = (v + 12582912.0f) - 12582912.0f;
        qa_vi r = __builtin_convertvector(v, qa_vi) + yz;
        qa_vbb all = (qa_vbb)r;
        qa_vu8 b = __builtin_shufflevector(all, all, 0, 4, 8, 12);
        memcpy(py + i, &b, 4);
    }
    for (; i < n; i++) py[i] = qladd_one(ta, tb, ys, lo, hi, yz, pa[i], pb[i]);
    return NNE_OK;
}

NNE_OP_DEFINE(QLinearAddNne, "ai.nnedge", "QLinearAdd", .infer = qladd_infer, .run = qladd_run,
              .state_free = qladd_free, .state_size = sizeof(qadd_state));

/* ------------------------------------------------------ QLinearConcat -- */

typedef struct qcat_state {
    int axis, y_u8;
    int64_t outer, out_row; /* rows before the axis; elements per output row */
} qcat_state;

static nne_status qlcat_infer(nne_op_ctx *ctx) {
    int nin = nne_ctx_num_inputs(ctx);
    if (nin < 5 || (nin - 2) % 3 != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "expected y_scale, y_zero_point and (x, scale, zero point) "
                                                      "triplets, got %d inputs", nin);
    NNE_TRY(scalar_param(ctx, 0, "y_scale", 1));
    NNE_TRY(scalar_param(ctx, 1, "y_zero_point", 0));
    const nne_tensor *yzp = nne_ctx_input(ctx, 1);
    nne_dtype ydt = yzp ? yzp->dtype : NNE_DTYPE_UINT8;
    const nne_tensor *first = nne_ctx_input(ctx, 2);
    if (!first) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "the first input is missing");
    int r = first->ndim;
    int64_t ax = nne_attr_i(ctx, "axis", 1);
    if (r == 0 || ax < -r || ax >= r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axis %lld out of range for rank %d", (long long)ax, r);
    int axis = (int)(ax < 0 ? ax + r : ax);
    int64_t od[NNE_MAX_DIMS];
    for (int d = 0; d < r; d++) od[d] = first->dims[d];
    od[axis] = 0;
    for (int k = 2; k < nin; k += 3) {
        const nne_tensor *t = nne_ctx_input(ctx, k);
        if (!t || t->dtype != ydt || t->ndim != r)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d must be %s of rank %d", k, nne_dtype_name(ydt),
                                r);
        for (int d = 0; d < r; d++)
            if (d != axis && t->dims[d] != first->dims[d])
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d does not match the first except on axis %d",
                                    k, axis);
        NNE_TRY(scalar_param(ctx, k + 1, "x_scale", 1));
        NNE_TRY(scalar_param(ctx, k + 2, "x_zero_point", 0));
        if (__builtin_add_overflow(od[axis], t->dims[axis], &od[axis]))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "concatenated size overflows");
    }
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, ydt, r, od, &Y));
    qcat_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        int64_t outer = 1, row = 1;
        for (int d = 0; d < axis; d++) outer *= od[d];
        for (int d = axis; d < r; d++) row *= od[d];
        *st = (qcat_state){.axis = axis, .y_u8 = ydt == NNE_DTYPE_UINT8, .outer = outer, .out_row = row};
    }
    return NNE_OK;
}

static nne_status qlcat_run(const void *state, const nne_kernel_args *a) {
    const qcat_state *st = state;
    nne_tensor *Y = a->out[0];
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    float ys = f_at(a->in[0], 0);
    int32_t yz = zp_at(a->in[1], 0);
    int32_t tmin = st->y_u8 ? 0 : -128, tmax = st->y_u8 ? 255 : 127;
    int64_t off = 0;
    for (int k = 2; k + 2 < a->n_in; k += 3) {
        const nne_tensor *X = a->in[k];
        float xs = f_at(a->in[k + 1], 0);
        int32_t xz = zp_at(a->in[k + 2], 0);
        int64_t row = st->outer ? nne_tensor_numel(X) / st->outer : 0;
        int same = xs == ys && xz == yz;
        const nne_vec_ops *v = nne_vec();
        if (!same && v) {
            /* QuantizeLinear of DequantizeLinear in vectors: q8_add with a
             * second operand scaled by 0 (fa * xs + 0 is fa * xs) */
            for (int64_t o = 0; o < st->outer; o++) {
                const uint8_t *s = (const uint8_t *)X->data + o * row;
                v->q8_add(s, st->y_u8, (float)xz, xs, s, st->y_u8, (float)xz, 0.0f, ys, (float)(tmin - yz),
                          (float)(tmax - yz), yz, (uint8_t *)Y->data + o * st->out_row + off, row);
            }
            off += row;
            continue;
        }
        uint8_t lut[256];
        if (!same) {
            float t[256];
            dq_table(t, st->y_u8, xz, xs);
            for (int i = 0; i < 256; i++) {
                float v = nearbyintf(t[i] / ys) + (float)yz;
                int32_t q = !(v >= (float)tmin) ? tmin : v > (float)tmax ? tmax : (int32_t)v;
                lut[i] = (uint8_t)q;
            }
        }
        for (int64_t o = 0; o < st->outer; o++) {
            const uint8_t *s = (const uint8_t *)X->data + o * row;
            uint8_t *d = (uint8_t *)Y->data + o * st->out_row + off;
            if (same) memcpy(d, s, (size_t)row);
            else
                for (int64_t i = 0; i < row; i++) d[i] = lut[s[i]];
        }
        off += row;
    }
    return NNE_OK;
}

NNE_OP_DEFINE(QLinearConcatNne, "ai.nnedge", "QLinearConcat", .infer = qlcat_infer, .run = qlcat_run,
              .state_size = sizeof(qcat_state));
