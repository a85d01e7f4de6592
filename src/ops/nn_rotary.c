/*
 * nn_rotary.c - RotaryEmbedding (opset 23) and SwiGLU (opset 28).
 *
 * RotaryEmbedding rotates the first rotary_embedding_dim (default: all)
 * features of every head row of X ([B, H, S, Dh], or [B, S, H*Dh] with
 * num_heads) by position-dependent angles:
 *   real = cos * x1 - sin * x2,  imag = sin * x1 + cos * x2
 * where (x1, x2) are the two halves of the rotated part, or its even/odd
 * elements when interleaved=1. cos/sin rows come from cos_cache[pos] with
 * pos = position_ids[b, s] (bounds-checked), or cos_cache[b, s] without
 * position_ids. The remaining features are copied.
 *
 * SwiGLU: Y = A * sigmoid(alpha * A) * B, element-wise on equal shapes.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* RotaryEmbedding in phases: geometry and attributes once per plan; position ids are data */
typedef struct rotary_state {
    int64_t B;
    int64_t H;
    int64_t Sq;
    int64_t Dh;
    int three;
    int64_t rd;
    int64_t half;
    int interleaved;
    size_t ox;
    size_t oc;
    size_t os;
    size_t oy;
} rotary_state;

static nne_status rotary_run(nne_op_ctx *ctx) {
    static const nne_dtype ok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                   NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    const nne_tensor *X = nne_ctx_input(ctx, 0), *C = nne_ctx_input(ctx, 1);
    const nne_tensor *S = nne_ctx_input(ctx, 2), *P = nne_ctx_input(ctx, 3);
    char s1[96], s2[96];
    if (!X || !C || !S) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs X, cos_cache and sin_cache");
    NNE_TRY(nne_la_check_dtype(ctx, "X", X->dtype, ok));
    if (C->dtype != X->dtype || S->dtype != X->dtype) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "cos_cache/sin_cache must be %s like X",
                            nne_dtype_name(X->dtype));
    }
    int64_t B, H, Sq, Dh;
    int three = X->ndim == 3;
    if (X->ndim == 4) {
        B = X->dims[0]; H = X->dims[1]; Sq = X->dims[2]; Dh = X->dims[3];
    } else if (three) {
        H = nne_attr_i(ctx, "num_heads", 0);
        if (H <= 0 || X->dims[2] % H) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "3-D input needs num_heads > 0 dividing the hidden size %" PRId64
                                ", got num_heads %" PRId64, X->dims[2], H);
        }
        B = X->dims[0]; Sq = X->dims[1]; Dh = X->dims[2] / H;
    } else {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must be 3-D or 4-D, got %s",
                            nne_dims_str(X->ndim, X->dims, s1, sizeof s1));
    }
    int64_t rd = nne_attr_i(ctx, "rotary_embedding_dim", 0);
    if (rd == 0) rd = Dh;
    if (rd < 0 || rd > Dh || rd % 2) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "rotary_embedding_dim %" PRId64 " must be even and at most head size %" PRId64,
                            rd, Dh);
    }
    int64_t half = rd / 2;
    int interleaved = nne_attr_i(ctx, "interleaved", 0) != 0;
    int shape_ok;
    if (P) {
        if (P->dtype != NNE_DTYPE_INT64 && P->dtype != NNE_DTYPE_INT32) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "position_ids must be int64, got %s",
                                nne_dtype_name(P->dtype));
        }
        if (nne_tensor_numel(P) != B * Sq || P->ndim != 2) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "position_ids %s must be [%" PRId64 ", %" PRId64 "]",
                                nne_dims_str(P->ndim, P->dims, s1, sizeof s1), B, Sq);
        }
        shape_ok = C->ndim == 2 && S->ndim == 2 && C->dims[1] == half && S->dims[1] == half &&
                   S->dims[0] == C->dims[0];
    } else {
        shape_ok = C->ndim == 3 && S->ndim == 3 && C->dims[0] == B && C->dims[1] == Sq &&
                   C->dims[2] == half && S->dims[0] == B && S->dims[1] == Sq && S->dims[2] == half;
    }
    if (!shape_ok) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "cos_cache %s / sin_cache %s must be %s with last dim %" PRId64
                            " (rotary_embedding_dim / 2)",
                            nne_dims_str(C->ndim, C->dims, s1, sizeof s1),
                            nne_dims_str(S->ndim, S->dims, s2, sizeof s2),
                            P ? "[max_position + 1, d]" : "[batch, seq, d]", half);
    }
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    size_t total = 0;
    size_t ox = nne_la_reserve(&total, nne_size_elems(Dh + 1, sizeof(float)));
    size_t oc = nne_la_reserve(&total, nne_size_elems(half + 1, sizeof(float)));
    size_t os = nne_la_reserve(&total, nne_size_elems(half + 1, sizeof(float)));
    size_t oy = nne_la_reserve(&total, nne_size_elems(Dh + 1, sizeof(float)));
    nne_ctx_scratch(ctx, total);
    rotary_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->B = B;
        st_->H = H;
        st_->Sq = Sq;
        st_->Dh = Dh;
        st_->three = three;
        st_->rd = rd;
        st_->half = half;
        st_->interleaved = interleaved;
        st_->ox = ox;
        st_->oc = oc;
        st_->os = os;
        st_->oy = oy;
    }
    return NNE_OK;
}

static nne_status rotary_kernel(const void *state, const nne_kernel_args *a) {
    const rotary_state *st_ = state;
    const nne_tensor *X = a->in[0];
    const nne_tensor *C = a->n_in > 1 ? a->in[1] : NULL;
    const nne_tensor *S = a->n_in > 2 ? a->in[2] : NULL;
    const nne_tensor *P = a->n_in > 3 ? a->in[3] : NULL;
    nne_tensor *Y = a->out[0];
    int64_t B = st_->B;
    int64_t H = st_->H;
    int64_t Sq = st_->Sq;
    int64_t Dh = st_->Dh;
    int three = st_->three;
    int64_t rd = st_->rd;
    int64_t half = st_->half;
    int interleaved = st_->interleaved;
    size_t ox = st_->ox;
    size_t oc = st_->oc;
    size_t os = st_->os;
    size_t oy = st_->oy;
    char *scr = a->scratch;
    nne_op_ctx *ctx = a->ctx;
    float *xr = (float *)(scr + ox), *cr = (float *)(scr + oc), *sr = (float *)(scr + os);
    float *yr = (float *)(scr + oy);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t s = 0; s < Sq; s++) {
            int64_t crow;
            if (P) {
                int64_t pos = nne_tensor_get_i64(P, b * Sq + s);
                if (pos < 0 || pos >= C->dims[0]) {
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                        "position_ids[%" PRId64 ", %" PRId64 "] = %" PRId64
                                        " is outside the caches' [0, %" PRId64 ")",
                                        b, s, pos, C->dims[0]);
                }
                crow = pos * half;
            } else {
                crow = (b * Sq + s) * half;
            }
            nne_load_f32(C, crow, 1, half, cr);
            nne_load_f32(S, crow, 1, half, sr);
            for (int64_t h = 0; h < H; h++) {
                int64_t off = three ? ((b * Sq + s) * H + h) * Dh : ((b * H + h) * Sq + s) * Dh;
                nne_load_f32(X, off, 1, Dh, xr);
                for (int64_t i = 0; i < half; i++) {
                    int64_t i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
                    float x1 = xr[i1], x2 = xr[i2];
                    yr[i1] = cr[i] * x1 - sr[i] * x2;
                    yr[i2] = sr[i] * x1 + cr[i] * x2;
                }
                for (int64_t i = rd; i < Dh; i++) yr[i] = xr[i];
                nne_store_f32(Y, off, 1, Dh, yr, NNE_CVT_SAT);
            }
        }
    }
    return NNE_OK;
}

NNE_OP_DEFINE(RotaryEmbedding, "", "RotaryEmbedding", .infer = rotary_run, .run = rotary_kernel,
              .state_size = sizeof(rotary_state));

#define CHUNK 256

/* SwiGLU: alpha parsed once per plan */
typedef struct swiglu_state {
    double alpha;
} swiglu_state;

static nne_status swiglu_run(nne_op_ctx *ctx) {
    static const nne_dtype ok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                   NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    const nne_tensor *A = nne_ctx_input(ctx, 0), *Bt = nne_ctx_input(ctx, 1);
    char s1[96], s2[96];
    if (!A || !Bt) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs A and B");
    NNE_TRY(nne_la_check_dtype(ctx, "A", A->dtype, ok));
    int same = A->dtype == Bt->dtype && A->ndim == Bt->ndim;
    for (int i = 0; same && i < A->ndim; i++) same = A->dims[i] == Bt->dims[i];
    if (!same) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "A (%s %s) and B (%s %s) must have the same dtype and shape",
                            nne_dtype_name(A->dtype), nne_dims_str(A->ndim, A->dims, s1, sizeof s1),
                            nne_dtype_name(Bt->dtype), nne_dims_str(Bt->ndim, Bt->dims, s2, sizeof s2));
    }
    double alpha = nne_attr_f(ctx, "alpha", 1.0f);
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, A, &Y));
    swiglu_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->alpha = alpha;
    }
    return NNE_OK;
}

static nne_status swiglu_kernel(const void *state, const nne_kernel_args *args) {
    const swiglu_state *st_ = state;
    const nne_tensor *A = args->in[0];
    const nne_tensor *Bt = args->n_in > 1 ? args->in[1] : NULL;
    nne_tensor *Y = args->out[0];
    double alpha = st_->alpha;
    int64_t n = nne_tensor_numel(A);
    double a[CHUNK], b[CHUNK];
    for (int64_t c = 0; c < n; c += CHUNK) {
        int64_t cn = n - c < CHUNK ? n - c : CHUNK;
        nne_load_f64(A, c, 1, cn, a);
        nne_load_f64(Bt, c, 1, cn, b);
        for (int64_t j = 0; j < cn; j++) a[j] = a[j] / (1.0 + exp(-alpha * a[j])) * b[j];
        nne_store_f64(Y, c, 1, cn, a, NNE_CVT_SAT);
    }
    return NNE_OK;
}

NNE_OP_DEFINE(SwiGLU, "", "SwiGLU", .infer = swiglu_run, .run = swiglu_kernel,
              .state_size = sizeof(swiglu_state));
