/*
 * linalg_matmul.c - MatMul, MatMulInteger and QLinearMatMul.
 *
 * All three follow numpy.matmul: the last two axes are matrices, leading
 * axes are batch axes broadcast numpy-style, a 1-D A gets a leading 1 and a
 * 1-D B a trailing 1 that are removed from the result.
 * Float products go through the blocked nne_gemm_f32 (float16/bfloat16 are
 * widened to float in scratch), double through nne_gemm_f64, integers
 * through 64-bit (MatMul) or 32-bit (the quantized ops) integer loops.
 * All three are phased: the quantized ops expand constant zero points and
 * scales once at plan and shift a constant B by its zero point once.
 * When B has no batch axes the batch of A is folded into M so one large
 * GEMM runs instead of many small ones.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"
#include "core/core.h"
#include "kernels/dispatch.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

typedef struct mm_plan {
    int64_t M, N, K;
    int nb;                             /* broadcast batch rank */
    int64_t bdims[NNE_MAX_DIMS];        /* broadcast batch dims */
    int64_t astr[NNE_MAX_DIMS];         /* A batch strides, in matrices (0: broadcast) */
    int64_t bstr[NNE_MAX_DIMS];
    int64_t batch;                      /* product of bdims */
    int64_t a_mats, b_mats;             /* matrices stored in A and B */
    int fold;                           /* B has a single matrix, A batch folded into M */
    int ndim;                           /* output rank */
    int64_t dims[NNE_MAX_DIMS];         /* output dims */
} mm_plan;

/* Shapes of numpy.matmul(A, B). */
static nne_status mm_plan_make(nne_op_ctx *ctx, const nne_tensor *A, const nne_tensor *B,
                               mm_plan *p) {
    char s1[96], s2[96];
    if (A->ndim < 1 || B->ndim < 1) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "inputs must have rank >= 1, got A %dD and B %dD", A->ndim, B->ndim);
    }
    int64_t ad[NNE_MAX_DIMS + 1], bd[NNE_MAX_DIMS + 1];
    int an = A->ndim, bn = B->ndim;
    if (an == 1) {
        ad[0] = 1;
        ad[1] = A->dims[0];
        an = 2;
    } else {
        memcpy(ad, A->dims, sizeof(int64_t) * (size_t)an);
    }
    if (bn == 1) {
        bd[0] = B->dims[0];
        bd[1] = 1;
        bn = 2;
    } else {
        memcpy(bd, B->dims, sizeof(int64_t) * (size_t)bn);
    }
    p->M = ad[an - 2];
    p->K = ad[an - 1];
    p->N = bd[bn - 1];
    if (bd[bn - 2] != p->K) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "inner dimensions differ: A is %s, B is %s (A's last dim must equal "
                            "B's second-to-last)",
                            nne_dims_str(A->ndim, A->dims, s1, sizeof s1),
                            nne_dims_str(B->ndim, B->dims, s2, sizeof s2));
    }
    int na = an - 2, nbb = bn - 2;
    p->nb = na > nbb ? na : nbb;
    int64_t as[NNE_MAX_DIMS], bs[NNE_MAX_DIMS];
    /* matrix-unit strides of each operand's own batch dims */
    int64_t s = 1;
    for (int i = na - 1; i >= 0; i--) { as[i] = s; s *= ad[i]; }
    p->a_mats = s;
    s = 1;
    for (int i = nbb - 1; i >= 0; i--) { bs[i] = s; s *= bd[i]; }
    p->b_mats = s;
    p->batch = 1;
    for (int i = 0; i < p->nb; i++) {
        int ia = i - (p->nb - na), ib = i - (p->nb - nbb);
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "batch dimensions do not broadcast: A is %s, B is %s",
                                nne_dims_str(A->ndim, A->dims, s1, sizeof s1),
                                nne_dims_str(B->ndim, B->dims, s2, sizeof s2));
        }
        p->bdims[i] = da == 1 ? db : da;
        p->astr[i] = (ia >= 0 && da != 1) ? as[ia] : 0;
        p->bstr[i] = (ib >= 0 && db != 1) ? bs[ib] : 0;
        p->batch *= p->bdims[i];
    }
    p->fold = p->b_mats == 1;
    p->ndim = 0;
    for (int i = 0; i < p->nb; i++) p->dims[p->ndim++] = p->bdims[i];
    if (A->ndim != 1) p->dims[p->ndim++] = p->M;
    if (B->ndim != 1) p->dims[p->ndim++] = p->N;
    if (p->ndim > NNE_MAX_DIMS) {
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output rank %d exceeds %d", p->ndim,
                            NNE_MAX_DIMS);
    }
    return NNE_OK;
}

/* Matrix offsets (in matrices) of A and B for output batch index b. */
static void mm_batch_offsets(const mm_plan *p, int64_t b, int64_t *ao, int64_t *bo) {
    int64_t oa = 0, ob = 0;
    for (int i = p->nb - 1; i >= 0; i--) {
        int64_t d = p->bdims[i];
        int64_t idx = d > 0 ? b % d : 0;
        b = d > 0 ? b / d : 0;
        oa += idx * p->astr[i];
        ob += idx * p->bstr[i];
    }
    *ao = oa;
    *bo = ob;
}

/* ------------------------------------------------------------- MatMul -- */

/* MatMul in phases: infer validates, declares Y and (when planning) keeps
 * the shapes and scratch layout; the run multiplies. */
typedef struct mm_state {
    mm_plan p;
    size_t og, oa, ob, oy; /* scratch layout */
    const float *pb;       /* B packed once (float initializer, blocked GEMM), or NULL */
    nne_gemm_f32_packed_fn gemm_packed;
} mm_state;

/* Packing a constant B for the GEMM (model cache). */
typedef struct mm_pack_src {
    const float *B;
    int64_t N, K, rsb, csb;
    nne_gemm_f32_pack_fn pack;
} mm_pack_src;
static void mm_pack_fill(void *user, void *buf) {
    const mm_pack_src *s = user;
    s->pack(s->N, s->K, s->B, s->rsb, s->csb, buf);
}

/* See linalg_util.h. The tag tells B's strides apart (the same initializer
 * may be used transposed by another node). */
const float *nne_la_pack_b(nne_op_ctx *ctx, int input, int64_t M, int64_t N, int64_t K, int64_t csa, int64_t rsb,
                           int64_t csb, nne_gemm_f32_packed_fn *fn) {
    const nne_kernel_table *kt = nne_kernels();
    const nne_tensor *B = nne_ctx_input(ctx, input);
    *fn = NULL;
    if (!B || B->dtype != NNE_DTYPE_FLOAT || !nne_ctx_input_is_initializer(ctx, input) || !kt->gemm_f32_packed ||
        !kt->gemm_f32_packs(M, N, csa, rsb, csb) || M <= 0 || N <= 0 || K <= 0)
        return NULL;
    mm_pack_src src = {.B = B->data, .N = N, .K = K, .rsb = rsb, .csb = csb, .pack = kt->gemm_f32_pack_b};
    uint64_t tag = 0x47454d4d00000000ull ^ ((uint64_t)rsb << 20) ^ (uint64_t)csb; /* "GEMM" */
    *fn = kt->gemm_f32_packed;
    return nne_ctx_packed_weight(ctx, B->data, tag, kt->gemm_f32_packed_bytes(N, K), mm_pack_fill, &src);
}

void nne_la_gemm_f32(nne_op_ctx *ctx, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                     int64_t csa, const float *B, int64_t rsb, int64_t csb, const float *Pb, float beta, float *C,
                     int64_t ldc, void *scratch, const nne_epilogue *ep) {
    const nne_kernel_table *kt = nne_kernels();
    if (kt->sgemm && kt->gemm_f32 == kt->sgemm->gemm) {
        /* the table's GEMM is this SGEMM: same scratch, same packed layout */
        nne_sgemm_args g = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .A = A, .rsa = rsa, .csa = csa,
                            .B = B, .rsb = rsb, .csb = csb, .Pb = Pb, .C = C, .ldc = ldc, .ep = ep};
        kt->sgemm->run(&g, scratch, nne_ctx_pool(ctx));
        return;
    }
    if (Pb) kt->gemm_f32_packed(M, N, K, alpha, A, rsa, csa, Pb, beta, C, ldc, scratch);
    else nne_gemm_f32(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc, scratch);
    nne_epilogue_apply_f32(ep, C, ldc, 0, M, 0, N);
}

static nne_status matmul_infer(nne_op_ctx *ctx) {
    static const nne_dtype ok[] = {
        NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
        NNE_DTYPE_INT8, NNE_DTYPE_UINT8, NNE_DTYPE_INT16, NNE_DTYPE_UINT16, NNE_DTYPE_INT32,
        NNE_DTYPE_UINT32, NNE_DTYPE_INT64, NNE_DTYPE_UINT64, NNE_DTYPE_UNDEFINED};
    const nne_tensor *A = nne_ctx_input(ctx, 0), *B = nne_ctx_input(ctx, 1);
    if (!A || !B) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs A and B");
    NNE_TRY(nne_la_check_dtype(ctx, "A", A->dtype, ok));
    if (B->dtype != A->dtype) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "A is %s but B is %s (must match)",
                            nne_dtype_name(A->dtype), nne_dtype_name(B->dtype));
    }
    mm_plan p;
    NNE_TRY(mm_plan_make(ctx, A, B, &p));
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, A->dtype, p.ndim, p.dims, &Y));
    int64_t M = p.M, N = p.N, K = p.K;
    int64_t gm = p.fold ? p.batch * M : M; /* rows per GEMM call */
    nne_dtype dt = A->dtype;
    int64_t na = nne_tensor_numel(A), nbn = nne_tensor_numel(B), ny = nne_tensor_numel(Y);
    int isf = dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
    size_t total = 0, og = 0, oa = 0, ob = 0, oy = 0;
    if (isf) {
        og = nne_la_reserve(&total, nne_gemm_f32_scratch(gm, N, K));
        if (dt != NNE_DTYPE_FLOAT) {
            oa = nne_la_reserve(&total, nne_size_elems(na, sizeof(float)));
            ob = nne_la_reserve(&total, nne_size_elems(nbn, sizeof(float)));
            oy = nne_la_reserve(&total, nne_size_elems(ny, sizeof(float)));
        }
    } else if (dt != NNE_DTYPE_DOUBLE) {
        oa = nne_la_reserve(&total, nne_size_elems(na, sizeof(int64_t)));
        ob = nne_la_reserve(&total, nne_size_elems(nbn, sizeof(int64_t)));
        oy = nne_la_reserve(&total, nne_size_elems(ny, sizeof(int64_t)));
    }
    nne_ctx_scratch(ctx, total);
    mm_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->p = p;
        st->og = og, st->oa = oa, st->ob = ob, st->oy = oy;
        if (dt == NNE_DTYPE_FLOAT && p.fold) {
            st->pb = nne_la_pack_b(ctx, 1, gm, N, K, 1, N, 1, &st->gemm_packed);
            if (!st->pb && st->gemm_packed) return NNE_ERR_OUT_OF_MEMORY;
        }
    }
    return NNE_OK;
}

static nne_status matmul_kernel(const void *state, const nne_kernel_args *args) {
    const mm_state *st = state;
    const mm_plan p = st->p;
    const nne_tensor *A = args->in[0], *B = args->in[1];
    nne_tensor *Y = args->out[0];
    int64_t M = p.M, N = p.N, K = p.K;
    int64_t gm = p.fold ? p.batch * M : M;
    nne_dtype dt = A->dtype;
    int64_t na = nne_tensor_numel(A), nbn = nne_tensor_numel(B), ny = nne_tensor_numel(Y);
    int isf = dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
    if (ny == 0) return NNE_OK;
    char *scr = args->scratch;
    void *gscr = scr + st->og;
    float *fa = (float *)(scr + st->oa), *fb = (float *)(scr + st->ob), *fy = (float *)(scr + st->oy);
    int64_t *ia = (int64_t *)(scr + st->oa), *ib = (int64_t *)(scr + st->ob), *iy = (int64_t *)(scr + st->oy);

    if (isf) {
        const float *a = A->data, *b = B->data;
        float *y = Y->data;
        if (dt != NNE_DTYPE_FLOAT) {
            nne_load_f32(A, 0, 1, na, fa);
            nne_load_f32(B, 0, 1, nbn, fb);
            a = fa;
            b = fb;
            y = fy;
        }
        if (st->pb || p.fold) {
            nne_la_gemm_f32(args->ctx, gm, N, K, 1.0f, a, K, 1, b, N, 1, st->pb, 0.0f, y, N, gscr, NULL);
        } else {
            for (int64_t bi = 0; bi < p.batch; bi++) {
                int64_t ao, bo;
                mm_batch_offsets(&p, bi, &ao, &bo);
                nne_la_gemm_f32(args->ctx, M, N, K, 1.0f, a + ao * M * K, K, 1, b + bo * K * N, N, 1, NULL, 0.0f,
                                y + bi * M * N, N, gscr, NULL);
            }
        }
        if (dt != NNE_DTYPE_FLOAT) nne_store_f32(Y, 0, 1, ny, fy, NNE_CVT_SAT);
    } else if (dt == NNE_DTYPE_DOUBLE) {
        const double *a = A->data, *b = B->data;
        double *y = Y->data;
        for (int64_t bi = 0; bi < p.batch; bi++) {
            int64_t ao, bo;
            mm_batch_offsets(&p, bi, &ao, &bo);
            nne_gemm_f64(M, N, K, 1.0, a + ao * M * K, K, 1, b + bo * K * N, N, 1, 0.0,
                         y + bi * M * N, N);
        }
    } else {
        nne_load_i64(A, 0, 1, na, ia);
        nne_load_i64(B, 0, 1, nbn, ib);
        for (int64_t bi = 0; bi < p.batch; bi++) {
            int64_t ao, bo;
            mm_batch_offsets(&p, bi, &ao, &bo);
            nne_gemm_i64(M, N, K, ia + ao * M * K, K, 1, ib + bo * K * N, N, 1, 0,
                         iy + bi * M * N, N);
        }
        nne_store_i64(Y, 0, 1, ny, iy);
    }
    return NNE_OK;
}

/* MACs of MatMul-like ops: every output element takes K products (K: the
 * last dim of A). */
int64_t nne_macs_matmul(nne_op_ctx *ctx) {
    const nne_tensor *A = nne_ctx_input(ctx, 0), *Y = nne_ctx_output_get(ctx, 0);
    if (!A || !Y || A->ndim < 1) return 0;
    return nne_tensor_numel(Y) * A->dims[A->ndim - 1];
}

NNE_OP_DEFINE(MatMul, "", "MatMul", .infer = matmul_infer, .run = matmul_kernel, .state_size = sizeof(mm_state),
              .macs = nne_macs_matmul);

/* ---------------------------------------------- quantized matmul shared -- */

/*
 * Quantization parameters of A are per row: a scalar, a vector of M values,
 * or a tensor shaped like A with its last axis 1 ([..., M, 1]). Those of B
 * (and Y) are per column: a scalar, N values, or [..., 1, N]. This expands a
 * parameter to one value per (matrix of the operand, row or column):
 * out[mat * len + r].
 */
static nne_status qparam_check(nne_op_ctx *ctx, const char *what, const nne_tensor *q,
                               const nne_tensor *X, int per_row, int64_t len) {
    if (!q) return NNE_OK;
    int64_t n = nne_tensor_numel(q);
    if (n == 1) return NNE_OK;
    if (q->ndim == 1 && q->dims[0] == len) return NNE_OK;
    /* N-D: broadcast against X's dims with the other matrix axis set to 1 */
    int xn = X->ndim;
    if (q->ndim <= xn && xn >= 2) {
        int okb = 1;
        for (int i = 0; i < q->ndim; i++) {
            int xi = xn - q->ndim + i;
            int64_t xd = X->dims[xi];
            if (xi == (per_row ? xn - 1 : xn - 2)) xd = 1;
            if (q->dims[i] != xd && q->dims[i] != 1) okb = 0;
        }
        if (okb) return NNE_OK;
    }
    char s1[96], s2[96];
    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                        "%s has shape %s; expected a scalar, %" PRId64 " values (per %s), or a "
                        "tensor broadcastable to the input %s with the %s axis 1",
                        what, nne_dims_str(q->ndim, q->dims, s1, sizeof s1), len,
                        per_row ? "row" : "column", nne_dims_str(X->ndim, X->dims, s2, sizeof s2),
                        per_row ? "last" : "second-to-last");
}

/* Expand q into dst[mats * len] doubles (see qparam_check). X NULL: Y params
 * (scalar or per column only). */
static void qparam_expand(const nne_tensor *q, const nne_tensor *X, int per_row, int64_t len,
                          int64_t mats, double def, double *dst) {
    int64_t total = mats * len;
    if (!q) {
        for (int64_t i = 0; i < total; i++) dst[i] = def;
        return;
    }
    int64_t n = nne_tensor_numel(q);
    if (n == 1 || (q->ndim == 1 && q->dims[0] == len)) {
        double v[1];
        for (int64_t m = 0; m < mats; m++) {
            if (n == 1) {
                nne_load_f64(q, 0, 1, 1, v);
                for (int64_t r = 0; r < len; r++) dst[m * len + r] = v[0];
            } else {
                nne_load_f64(q, 0, 1, len, dst + m * len);
            }
        }
        return;
    }
    /* N-D: walk X's batch positions and the row/column index */
    int xn = X->ndim;
    int64_t shp[NNE_MAX_DIMS], str[NNE_MAX_DIMS];
    memcpy(shp, X->dims, sizeof(int64_t) * (size_t)xn);
    shp[per_row ? xn - 1 : xn - 2] = 1;
    nne_broadcast_strides(q, xn, shp, str);
    int64_t rstride = per_row ? str[xn - 2] : str[xn - 1];
    for (int64_t m = 0; m < mats; m++) {
        int64_t off = 0, rem = m;
        for (int i = xn - 3; i >= 0; i--) {
            int64_t d = X->dims[i];
            off += (rem % d) * str[i];
            rem /= d;
        }
        nne_load_f64(q, off, rstride, len, dst + m * len);
    }
}

static int is_q8(nne_dtype dt) { return dt == NNE_DTYPE_INT8 || dt == NNE_DTYPE_UINT8; }

static nne_status q8_check(nne_op_ctx *ctx, const char *what, const nne_tensor *t) {
    if (t && !is_q8(t->dtype)) {
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED,
                            "%s: dtype %s not supported (int8 or uint8 expected)", what,
                            nne_dtype_name(t->dtype));
    }
    return NNE_OK;
}

/* ------------------------------------------- quantized matmul phases -- */

/*
 * MatMulInteger and QLinearMatMul in phases. infer validates and declares Y;
 * plan keeps the shapes and the scratch layout, expands every quantization
 * parameter that is absent or constant into doubles once (state-owned), and
 * when B and its zero point are initializers computes B - b_zero_point in
 * int32 once per model (weight cache). run shifts A, multiplies with 32-bit
 * wrapping accumulation and (QLinearMatMul) requantizes.
 */
enum { QP_AZ, QP_AS, QP_BZ, QP_BS, QP_YZ, QP_YS, QP_N };

typedef struct qmm_state {
    mm_plan p;
    nne_dtype ydt;
    int qlinear;              /* QLinearMatMul (else MatMulInteger) */
    int in_b;                 /* node input of B */
    int in_q[QP_N];           /* node input of each parameter, -1: not an input of this op */
    double *cst[QP_N];        /* expanded parameter (owned), or NULL: expanded per run at off[] */
    size_t off[QP_N];
    size_t oa, ob, oacc;      /* scratch: A - azp, B - bzp (unless b32), int32 accumulators (QLinear) */
    const int32_t *b32;       /* B - bzp computed once (weight cache), or NULL */
} qmm_state;

/* Parameter k: the operand it belongs to (0 A, 1 B, 2 Y), its length per
 * matrix and default. */
static void qp_desc(const qmm_state *st, int k, int *opnd, int64_t *len, int64_t *mats, double *def) {
    *opnd = k / 2;
    *len = *opnd == 0 ? st->p.M : st->p.N;
    *mats = *opnd == 0 ? st->p.a_mats : *opnd == 1 ? st->p.b_mats : 1;
    *def = k % 2 ? 1.0 : 0.0;
}

/* Expand parameter k into dst (see qparam_expand); A and B give the
 * operands' shapes. */
static void qp_expand(const qmm_state *st, int k, const nne_tensor *q, const nne_tensor *A, const nne_tensor *B,
                      double *dst) {
    int opnd;
    int64_t len, mats;
    double def;
    qp_desc(st, k, &opnd, &len, &mats, &def);
    qparam_expand(q, opnd == 0 ? A : opnd == 1 ? B : NULL, opnd == 0, len, mats, def, dst);
}

static const nne_tensor *arg_in(const nne_kernel_args *a, int i) { return i >= 0 && i < a->n_in ? a->in[i] : NULL; }

/* Checks shared by infer and plan; fills st's shapes and inputs. */
static nne_status qmm_parse(nne_op_ctx *ctx, int qlinear, qmm_state *st) {
    memset(st, 0, sizeof *st);
    st->qlinear = qlinear;
    static const int in_int[QP_N] = {2, -1, 3, -1, -1, -1}, in_ql[QP_N] = {2, 1, 5, 4, 7, 6};
    memcpy(st->in_q, qlinear ? in_ql : in_int, sizeof st->in_q);
    st->in_b = qlinear ? 3 : 1;
    const nne_tensor *A = nne_ctx_input(ctx, 0), *B = nne_ctx_input(ctx, st->in_b);
    const nne_tensor *q[QP_N];
    for (int k = 0; k < QP_N; k++) q[k] = st->in_q[k] >= 0 ? nne_ctx_input(ctx, st->in_q[k]) : NULL;
    if (!qlinear) {
        if (!A || !B) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs A and B");
        NNE_TRY(q8_check(ctx, "A", A));
        NNE_TRY(q8_check(ctx, "B", B));
    } else {
        if (!A || !q[QP_AS] || !B || !q[QP_BS] || !q[QP_YS])
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs a, a_scale, b, b_scale and y_scale");
        NNE_TRY(q8_check(ctx, "a", A));
        NNE_TRY(q8_check(ctx, "b", B));
    }
    NNE_TRY(q8_check(ctx, "a_zero_point", q[QP_AZ]));
    NNE_TRY(q8_check(ctx, "b_zero_point", q[QP_BZ]));
    NNE_TRY(q8_check(ctx, "y_zero_point", q[QP_YZ]));
    if (qlinear) {
        static const nne_dtype sok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                        NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
        NNE_TRY(nne_la_check_dtype(ctx, "a_scale", q[QP_AS]->dtype, sok));
        NNE_TRY(nne_la_check_dtype(ctx, "b_scale", q[QP_BS]->dtype, sok));
        NNE_TRY(nne_la_check_dtype(ctx, "y_scale", q[QP_YS]->dtype, sok));
    }
    mm_plan *p = &st->p;
    NNE_TRY(mm_plan_make(ctx, A, B, p));
    NNE_TRY(qparam_check(ctx, "a_zero_point", q[QP_AZ], A, 1, p->M));
    NNE_TRY(qparam_check(ctx, "a_scale", q[QP_AS], A, 1, p->M));
    NNE_TRY(qparam_check(ctx, "b_zero_point", q[QP_BZ], B, 0, p->N));
    NNE_TRY(qparam_check(ctx, "b_scale", q[QP_BS], B, 0, p->N));
    const nne_tensor *ys = q[QP_YS], *yzp = q[QP_YZ];
    if (ys && nne_tensor_numel(ys) != 1 &&
        !(ys->ndim >= 1 && ys->dims[ys->ndim - 1] == p->N && nne_tensor_numel(ys) == p->N)) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "y_scale must be a scalar or %" PRId64 " per-column values", p->N);
    }
    if (yzp && nne_tensor_numel(yzp) != 1 && nne_tensor_numel(yzp) != p->N) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "y_zero_point must be a scalar or %" PRId64 " per-column values", p->N);
    }
    st->ydt = !qlinear ? NNE_DTYPE_INT32 : yzp ? yzp->dtype : NNE_DTYPE_UINT8;
    return NNE_OK;
}

static nne_status qmm_infer(nne_op_ctx *ctx, int qlinear) {
    qmm_state st;
    NNE_TRY(qmm_parse(ctx, qlinear, &st));
    nne_tensor *Y;
    return nne_ctx_output(ctx, 0, st.ydt, st.p.ndim, st.p.dims, &Y);
}
static nne_status matmulinteger_infer(nne_op_ctx *ctx) { return qmm_infer(ctx, 0); }
static nne_status qlinearmatmul_infer(nne_op_ctx *ctx) { return qmm_infer(ctx, 1); }

/* B - b_zero_point in int32 (b32[e], e over all of B's matrices). */
static void qmm_shift_b(const mm_plan *p, const nne_tensor *B, const double *bzp, int32_t *b32) {
    int64_t N = p->N, K = p->K, nb = nne_tensor_numel(B);
    int64_t tmp[256];
    for (int64_t i = 0; i < nb; i += 256) {
        int64_t c = nb - i < 256 ? nb - i : 256;
        nne_load_i64(B, i, 1, c, tmp);
        for (int64_t j = 0; j < c; j++) {
            int64_t e = i + j;
            int64_t col = (e / (K * N)) * N + e % N;
            b32[e] = (int32_t)(tmp[j] - (int64_t)bzp[col]);
        }
    }
}

typedef struct qmm_pack {
    const mm_plan *p;
    const nne_tensor *B;
    const double *bz;
} qmm_pack;
static void qmm_pack_fill(void *user, void *buf) {
    const qmm_pack *q = user;
    qmm_shift_b(q->p, q->B, q->bz, buf);
}

static void qmm_state_free(void *state) {
    qmm_state *st = state;
    for (int k = 0; k < QP_N; k++) nne_free(st->cst[k]);
}

static nne_status qmm_plan(nne_op_ctx *ctx, void *state, int qlinear) {
    qmm_state *st = state;
    NNE_TRY(qmm_parse(ctx, qlinear, st));
    const nne_tensor *A = nne_ctx_input(ctx, 0), *B = nne_ctx_input(ctx, st->in_b);
    const mm_plan *p = &st->p;
    size_t total = 0;
    for (int k = 0; k < QP_N; k++) {
        int in = st->in_q[k], opnd;
        if (!qlinear && k != QP_AZ && k != QP_BZ) continue; /* MatMulInteger has no scales */
        int64_t len, mats;
        double def;
        qp_desc(st, k, &opnd, &len, &mats, &def);
        size_t bytes = nne_size_elems(mats * len, sizeof(double));
        const nne_tensor *q = in >= 0 ? nne_ctx_input(ctx, in) : NULL;
        if (!q || nne_ctx_input_is_const(ctx, in)) {
            /* absent (the default) or constant: expanded once */
            if (!(st->cst[k] = nne_malloc(bytes ? bytes : 1)))
                return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", bytes);
            qp_expand(st, k, q, A, B, st->cst[k]);
        } else {
            st->off[k] = nne_la_reserve(&total, bytes);
        }
    }
    st->oa = nne_la_reserve(&total, nne_size_elems(nne_tensor_numel(A), sizeof(int32_t)));
    int bz_in = st->in_q[QP_BZ];
    if (st->cst[QP_BZ] && nne_ctx_input_is_initializer(ctx, st->in_b) && nne_tensor_numel(B) > 0 &&
        (!nne_ctx_input(ctx, bz_in) || nne_ctx_input_is_initializer(ctx, bz_in))) {
        /* the tag carries the zero points, so one B with other zero points packs apart */
        uint64_t tag = 0x716d6d6233320000ull; /* "qmmb32" */
        for (int64_t i = 0; i < p->b_mats * p->N; i++)
            tag = (tag ^ (uint64_t)(int64_t)st->cst[QP_BZ][i]) * 0x100000001b3ull;
        qmm_pack q = {p, B, st->cst[QP_BZ]};
        st->b32 = nne_ctx_packed_weight(ctx, B->data, tag, nne_size_elems(nne_tensor_numel(B), sizeof(int32_t)),
                                        qmm_pack_fill, &q);
        if (!st->b32) return NNE_ERR_OUT_OF_MEMORY;
    } else {
        st->ob = nne_la_reserve(&total, nne_size_elems(nne_tensor_numel(B), sizeof(int32_t)));
    }
    if (qlinear) st->oacc = nne_la_reserve(&total, nne_size_elems(nne_tensor_numel(nne_ctx_output_get(ctx, 0)),
                                                                   sizeof(int32_t)));
    nne_ctx_scratch(ctx, total);
    return NNE_OK;
}
static nne_status matmulinteger_plan(nne_op_ctx *ctx, void *state) { return qmm_plan(ctx, state, 0); }
static nne_status qlinearmatmul_plan(nne_op_ctx *ctx, void *state) { return qmm_plan(ctx, state, 1); }

/*
 * acc (int32, batch x M x N) = (A - azp) @ (B - bzp), with zero points
 * expanded per A row / B column. Products never overflow; the 32-bit
 * accumulation wraps. Fills prm[] with every parameter's expansion.
 */
static void qmm_accumulate(const qmm_state *st, const nne_kernel_args *a, const double *prm[QP_N], int32_t *acc) {
    const mm_plan *p = &st->p;
    const nne_tensor *A = a->in[0], *B = a->in[st->in_b];
    char *scr = a->scratch;
    for (int k = 0; k < QP_N; k++) {
        if (st->cst[k] || (!st->qlinear && k != QP_AZ && k != QP_BZ)) {
            prm[k] = st->cst[k];
            continue;
        }
        double *d = (double *)(scr + st->off[k]);
        qp_expand(st, k, arg_in(a, st->in_q[k]), A, B, d);
        prm[k] = d;
    }
    int64_t M = p->M, N = p->N, K = p->K;
    int64_t na = nne_tensor_numel(A);
    int32_t *a32 = (int32_t *)(scr + st->oa);
    const double *azp = prm[QP_AZ];
    int64_t tmp[256];
    for (int64_t i = 0; i < na; i += 256) {
        int64_t c = na - i < 256 ? na - i : 256;
        nne_load_i64(A, i, 1, c, tmp);
        for (int64_t j = 0; j < c; j++) {
            int64_t row = (i + j) / K; /* global row over all A matrices */
            a32[i + j] = (int32_t)(tmp[j] - (int64_t)azp[row]);
        }
    }
    const int32_t *b32 = st->b32;
    if (!b32) {
        int32_t *bs = (int32_t *)(scr + st->ob);
        qmm_shift_b(p, B, prm[QP_BZ], bs);
        b32 = bs;
    }
    for (int64_t bi = 0; bi < p->batch; bi++) {
        int64_t ao, bo;
        mm_batch_offsets(p, bi, &ao, &bo);
        const int32_t *ap = a32 + ao * M * K, *bp = b32 + bo * K * N;
        uint32_t *y = (uint32_t *)(acc + bi * M * N);
        for (int64_t m = 0; m < M; m++) {
            uint32_t *restrict yr = y + m * N;
            for (int64_t n = 0; n < N; n++) yr[n] = 0;
            for (int64_t k = 0; k < K; k++) {
                uint32_t av = (uint32_t)ap[m * K + k];
                const int32_t *restrict br = bp + k * N;
                for (int64_t n = 0; n < N; n++) yr[n] += av * (uint32_t)br[n];
            }
        }
    }
}

/* ------------------------------------------------------ MatMulInteger -- */

static nne_status matmulinteger_run(const void *state, const nne_kernel_args *a) {
    const qmm_state *st = state;
    nne_tensor *Y = a->out[0];
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    const double *prm[QP_N];
    qmm_accumulate(st, a, prm, Y->data);
    return NNE_OK;
}

NNE_OP_DEFINE(MatMulInteger, "", "MatMulInteger", .infer = matmulinteger_infer, .plan = matmulinteger_plan,
              .run = matmulinteger_run, .state_free = qmm_state_free, .state_size = sizeof(qmm_state),
              .macs = nne_macs_matmul);

/* ------------------------------------------------------ QLinearMatMul -- */

static nne_status qlinearmatmul_run(const void *state, const nne_kernel_args *a) {
    const qmm_state *st = state;
    nne_tensor *Y = a->out[0];
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    const mm_plan *p = &st->p;
    const double *prm[QP_N];
    int32_t *acc = (int32_t *)((char *)a->scratch + st->oacc);
    qmm_accumulate(st, a, prm, acc);
    const double *asx = prm[QP_AS], *bsx = prm[QP_BS], *ysx = prm[QP_YS], *yz = prm[QP_YZ];
    nne_dtype ydt = st->ydt;
    double lo = ydt == NNE_DTYPE_INT8 ? -128.0 : 0.0, hi = ydt == NNE_DTYPE_INT8 ? 127.0 : 255.0;
    int64_t M = p->M, N = p->N;
    for (int64_t bi = 0; bi < p->batch; bi++) {
        int64_t ao, bo;
        mm_batch_offsets(p, bi, &ao, &bo);
        for (int64_t m = 0; m < M; m++) {
            double sa = asx[ao * M + m];
            int64_t base = (bi * M + m) * N;
            for (int64_t n = 0; n < N; n++) {
                /* the multiplier is formed in float like the reference: */
                float mult = (float)((float)(sa * bsx[bo * N + n]) / (float)ysx[n]);
                double v = nne_la_round_even((double)acc[base + n] * (double)mult) + yz[n];
                v = !(v >= lo) ? lo : (v > hi ? hi : v); /* NaN saturates low */
                if (ydt == NNE_DTYPE_INT8) {
                    ((int8_t *)Y->data)[base + n] = (int8_t)v;
                } else {
                    ((uint8_t *)Y->data)[base + n] = (uint8_t)v;
                }
            }
        }
    }
    return NNE_OK;
}

NNE_OP_DEFINE(QLinearMatMul, "", "QLinearMatMul", .infer = qlinearmatmul_infer, .plan = qlinearmatmul_plan,
              .run = qlinearmatmul_run, .state_free = qmm_state_free, .state_size = sizeof(qmm_state),
              .macs = nne_macs_matmul);
