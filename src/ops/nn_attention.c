/*
 * nn_attention.c - Attention (opset 23, 24): scaled dot-product
 * attention with multi-head / grouped-query / multi-query heads.
 *
 *   Q [B, Hq, Sq, D] (or 3-D [B, Sq, Hq*D] with q_num_heads/kv_num_heads)
 *   K [B, Hkv, Skv, D], V [B, Hkv, Skv, Dv]; past_key/past_value [B, Hkv, P, *]
 *   are concatenated in front (present_key/present_value outputs), T = P + Skv.
 *   scores = scale * Q K^T  (scale defaults to 1/sqrt(D))
 *   softcap > 0: scores = softcap * tanh(scores / softcap)
 *   + bias: attn_mask (bool: false -> -inf; numeric: added; a last dim shorter
 *     than T is padded with -inf), causal frontier j <= i + offset (offset =
 *     P with a past cache, nonpad_kv_seqlen[b] - Sq with an external cache,
 *     else 0), keys j >= nonpad_kv_seqlen[b] -> -inf
 *   softmax over T; a fully masked row gives zeros (not NaN); Y = P V.
 * qk_matmul_output is the scores before softcap (mode 0), after softcap (1),
 * with the bias (2) or after softmax (3).
 * Q, K and V are widened to float in scratch in [B, H, S, D] order; each head
 * runs two GEMMs through nne_gemm_f32, the softmax runs in double.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"
#include "kernels/ref/gemm.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

typedef struct att_dims {
    int64_t B, Hq, Hkv, Sq, Skv, P, T, D, Dv;
    int three_d;
} att_dims;

/* Offset of element (b, h, s, 0) of a Q/K/V input in its own layout. */
static int64_t qkv_off(const att_dims *a, int three_d, int64_t H, int64_t S, int64_t E, int64_t b,
                       int64_t h, int64_t s) {
    if (three_d) return ((b * S + s) * H + h) * E;
    return ((b * H + h) * S + s) * E;
}

/* Attention in phases: dimensions, mask strides and attributes once per plan */
typedef struct attention_state {
    att_dims a;
    int64_t mstr[4];
    int64_t Lm;
    int mode;
    float scale;
    float softcap;
    int causal;
    int has_np;
    int64_t st;
    size_t oq;
    size_t ok_;
    size_t ov;
    size_t osc;
    size_t opr;
    size_t oy;
    size_t orw;
    size_t ogs;
} attention_state;

static nne_status attention_run(nne_op_ctx *ctx) {
    static const nne_dtype fok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16,
                                    NNE_DTYPE_BFLOAT16, NNE_DTYPE_UNDEFINED};
    const nne_tensor *Q = nne_ctx_input(ctx, 0), *K = nne_ctx_input(ctx, 1);
    const nne_tensor *V = nne_ctx_input(ctx, 2), *M = nne_ctx_input(ctx, 3);
    const nne_tensor *PK = nne_ctx_input(ctx, 4), *PV = nne_ctx_input(ctx, 5);
    const nne_tensor *NP = nne_ctx_opset(ctx) >= 24 ? nne_ctx_input(ctx, 6) : NULL;
    char s1[96], s2[96], s3[96];
    if (!Q || !K || !V) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs Q, K and V");
    NNE_TRY(nne_la_check_dtype(ctx, "Q", Q->dtype, fok));
    NNE_TRY(nne_la_check_dtype(ctx, "V", V->dtype, fok));
    if (K->dtype != Q->dtype) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "K is %s but Q is %s (must match)",
                            nne_dtype_name(K->dtype), nne_dtype_name(Q->dtype));
    }
    if (M && !nne_la_dtype_ok(M->dtype)) {
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "attn_mask dtype %s not supported",
                            nne_dtype_name(M->dtype));
    }
    if ((PK == NULL) != (PV == NULL)) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "past_key and past_value must be given together");
    }
    att_dims a;
    memset(&a, 0, sizeof a);
    if (Q->ndim != K->ndim || Q->ndim != V->ndim || (Q->ndim != 3 && Q->ndim != 4)) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "Q, K, V must all be 3-D or all 4-D, got %s, %s, %s",
                            nne_dims_str(Q->ndim, Q->dims, s1, sizeof s1),
                            nne_dims_str(K->ndim, K->dims, s2, sizeof s2),
                            nne_dims_str(V->ndim, V->dims, s3, sizeof s3));
    }
    a.three_d = Q->ndim == 3;
    a.B = Q->dims[0];
    if (a.three_d) {
        a.Hq = nne_attr_i(ctx, "q_num_heads", 0);
        a.Hkv = nne_attr_i(ctx, "kv_num_heads", 0);
        if (a.Hq <= 0 || a.Hkv <= 0) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "3-D inputs need attributes q_num_heads and kv_num_heads > 0");
        }
        if (Q->dims[2] % a.Hq || K->dims[2] % a.Hkv || V->dims[2] % a.Hkv) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "hidden sizes (Q %" PRId64 ", K %" PRId64 ", V %" PRId64
                                ") must be multiples of the head counts (%" PRId64 ", %" PRId64 ")",
                                Q->dims[2], K->dims[2], V->dims[2], a.Hq, a.Hkv);
        }
        a.Sq = Q->dims[1];
        a.D = Q->dims[2] / a.Hq;
        a.Skv = K->dims[1];
        if (K->dims[2] / a.Hkv != a.D) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "Q and K head sizes differ (%" PRId64 " vs %" PRId64 ")",
                                a.D, K->dims[2] / a.Hkv);
        }
        a.Dv = V->dims[2] / a.Hkv;
        if (V->dims[1] != a.Skv || K->dims[0] != a.B || V->dims[0] != a.B) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "K %s and V %s disagree with Q %s",
                                nne_dims_str(K->ndim, K->dims, s1, sizeof s1),
                                nne_dims_str(V->ndim, V->dims, s2, sizeof s2),
                                nne_dims_str(Q->ndim, Q->dims, s3, sizeof s3));
        }
    } else {
        a.Hq = Q->dims[1];
        a.Sq = Q->dims[2];
        a.D = Q->dims[3];
        a.Hkv = K->dims[1];
        a.Skv = K->dims[2];
        a.Dv = V->dims[3];
        if (K->dims[0] != a.B || V->dims[0] != a.B || K->dims[3] != a.D || V->dims[1] != a.Hkv ||
            V->dims[2] != a.Skv) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "shapes disagree: Q %s, K %s, V %s (expected [B,Hq,Sq,D], "
                                "[B,Hkv,Skv,D], [B,Hkv,Skv,Dv])",
                                nne_dims_str(Q->ndim, Q->dims, s1, sizeof s1),
                                nne_dims_str(K->ndim, K->dims, s2, sizeof s2),
                                nne_dims_str(V->ndim, V->dims, s3, sizeof s3));
        }
    }
    if (a.Hkv <= 0 || a.Hq % a.Hkv) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "q heads (%" PRId64 ") must be a multiple of kv heads (%" PRId64 ")",
                            a.Hq, a.Hkv);
    }
    if (PK) {
        if (PK->ndim != 4 || PV->ndim != 4 || PK->dims[0] != a.B || PK->dims[1] != a.Hkv ||
            PK->dims[3] != a.D || PV->dims[0] != a.B || PV->dims[1] != a.Hkv ||
            PV->dims[2] != PK->dims[2] || PV->dims[3] != a.Dv || PK->dtype != Q->dtype ||
            PV->dtype != V->dtype) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "past_key %s / past_value %s must be [B=%" PRId64 ", Hkv=%" PRId64
                                ", P, D=%" PRId64 "] / [.., P, Dv=%" PRId64 "] of Q's / V's dtype",
                                nne_dims_str(PK->ndim, PK->dims, s1, sizeof s1),
                                nne_dims_str(PV->ndim, PV->dims, s2, sizeof s2), a.B, a.Hkv, a.D,
                                a.Dv);
        }
        a.P = PK->dims[2];
    }
    a.T = a.P + a.Skv;
    if (NP && (NP->dtype != NNE_DTYPE_INT64 || nne_tensor_numel(NP) != a.B)) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "nonpad_kv_seqlen must be %" PRId64 " int64 values, got %s %s", a.B,
                            nne_dtype_name(NP->dtype), nne_dims_str(NP->ndim, NP->dims, s1, sizeof s1));
    }
    /* mask strides, right-aligned to (B, Hq, Sq, Lm) */
    int64_t mstr[4] = {0, 0, 0, 1}, Lm = 0;
    if (M) {
        int64_t tgt[4] = {a.B, a.Hq, a.Sq, 0};
        if (M->ndim < 1 || M->ndim > 4) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attn_mask must have rank 1..4, got %d", M->ndim);
        }
        Lm = M->dims[M->ndim - 1];
        if (Lm > a.T) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "attn_mask last dim %" PRId64 " exceeds total sequence length %" PRId64,
                                Lm, a.T);
        }
        int64_t s = Lm;
        for (int i = M->ndim - 2; i >= 0; i--) {
            int ti = 4 - M->ndim + i;
            int64_t d = M->dims[i];
            if (d != 1 && d != tgt[ti]) {
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "attn_mask %s does not broadcast to [%" PRId64 ", %" PRId64
                                    ", %" PRId64 ", %" PRId64 "]",
                                    nne_dims_str(M->ndim, M->dims, s1, sizeof s1), a.B, a.Hq, a.Sq, a.T);
            }
            mstr[ti] = d == 1 ? 0 : s;
            s *= d;
        }
    }
    int mode = (int)nne_attr_i(ctx, "qk_matmul_output_mode", 0);
    if (mode < 0 || mode > 3) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "qk_matmul_output_mode must be 0..3, got %d", mode);
    }
    float scale = nne_attr_has(ctx, "scale") ? nne_attr_f(ctx, "scale", 1.0f)
                                             : (float)(1.0 / sqrt((double)a.D));
    float softcap = nne_attr_f(ctx, "softcap", 0.0f);
    int causal = nne_attr_i(ctx, "is_causal", 0) != 0;

    nne_tensor *Y, *PKo = NULL, *PVo = NULL, *QKo = NULL;
    int64_t yd[4];
    if (a.three_d) {
        yd[0] = a.B; yd[1] = a.Sq; yd[2] = a.Hq * a.Dv;
    } else {
        yd[0] = a.B; yd[1] = a.Hq; yd[2] = a.Sq; yd[3] = a.Dv;
    }
    NNE_TRY(nne_ctx_output(ctx, 0, Q->dtype, a.three_d ? 3 : 4, yd, &Y));
    int nout = nne_ctx_num_outputs(ctx);
    if (nout > 1) {
        int64_t d[4] = {a.B, a.Hkv, a.T, a.D};
        NNE_TRY(nne_ctx_output(ctx, 1, Q->dtype, 4, d, &PKo));
    }
    if (nout > 2) {
        int64_t d[4] = {a.B, a.Hkv, a.T, a.Dv};
        NNE_TRY(nne_ctx_output(ctx, 2, V->dtype, 4, d, &PVo));
    }
    if (nout > 3) {
        int64_t d[4] = {a.B, a.Hq, a.Sq, a.T};
        NNE_TRY(nne_ctx_output(ctx, 3, Q->dtype, 4, d, &QKo));
    }
    int has_np = NP != NULL;
    int64_t nq = a.B * a.Hq * a.Sq * a.D, nk = a.B * a.Hkv * a.T * a.D;
    int64_t nv = a.B * a.Hkv * a.T * a.Dv, st = a.Sq * a.T;
    size_t total = 0;
    size_t oq = nne_la_reserve(&total, nne_size_elems(nq + 1, sizeof(float)));
    size_t ok_ = nne_la_reserve(&total, nne_size_elems(nk + 1, sizeof(float)));
    size_t ov = nne_la_reserve(&total, nne_size_elems(nv + 1, sizeof(float)));
    size_t osc = nne_la_reserve(&total, nne_size_elems(st + 1, sizeof(float)));
    size_t opr = nne_la_reserve(&total, nne_size_elems(st + 1, sizeof(float)));
    size_t oy = nne_la_reserve(&total, nne_size_elems(a.Sq * a.Dv + 1, sizeof(float)));
    size_t orw = nne_la_reserve(&total, nne_size_elems(3 * a.T + 1, sizeof(double)));
    size_t g1 = nne_gemm_f32_scratch(a.Sq, a.T, a.D), g2 = nne_gemm_f32_scratch(a.Sq, a.Dv, a.T);
    size_t ogs = nne_la_reserve(&total, g1 > g2 ? g1 : g2);
    nne_ctx_scratch(ctx, total);
    attention_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->a = a;
        memcpy(st_->mstr, mstr, sizeof st_->mstr);
        st_->Lm = Lm;
        st_->mode = mode;
        st_->scale = scale;
        st_->softcap = softcap;
        st_->causal = causal;
        st_->has_np = has_np;
        st_->st = st;
        st_->oq = oq;
        st_->ok_ = ok_;
        st_->ov = ov;
        st_->osc = osc;
        st_->opr = opr;
        st_->oy = oy;
        st_->orw = orw;
        st_->ogs = ogs;
    }
    return NNE_OK;
}

static nne_status attention_kernel(const void *state, const nne_kernel_args *args) {
    const attention_state *st_ = state;
    const nne_tensor *Q = args->in[0];
    const nne_tensor *K = args->n_in > 1 ? args->in[1] : NULL;
    const nne_tensor *V = args->n_in > 2 ? args->in[2] : NULL;
    const nne_tensor *M = args->n_in > 3 ? args->in[3] : NULL;
    const nne_tensor *PK = args->n_in > 4 ? args->in[4] : NULL;
    const nne_tensor *PV = args->n_in > 5 ? args->in[5] : NULL;
    const nne_tensor *NP = st_->has_np && args->n_in > 6 ? args->in[6] : NULL;
    nne_tensor *Y = args->out[0];
    nne_tensor *PKo = args->n_out > 1 ? args->out[1] : NULL;
    nne_tensor *PVo = args->n_out > 2 ? args->out[2] : NULL;
    nne_tensor *QKo = args->n_out > 3 ? args->out[3] : NULL;
    att_dims a = st_->a;
    const int64_t *mstr = st_->mstr;
    int64_t Lm = st_->Lm;
    int mode = st_->mode;
    float scale = st_->scale;
    float softcap = st_->softcap;
    int causal = st_->causal;
    int64_t nk = a.B * a.Hkv * a.T * a.D, nv = a.B * a.Hkv * a.T * a.Dv;
    size_t oq = st_->oq;
    size_t ok_ = st_->ok_;
    size_t ov = st_->ov;
    size_t osc = st_->osc;
    size_t opr = st_->opr;
    size_t oy = st_->oy;
    size_t orw = st_->orw;
    size_t ogs = st_->ogs;
    char *scr = args->scratch;
    nne_op_ctx *ctx = args->ctx;
    float *qf = (float *)(scr + oq), *kf = (float *)(scr + ok_), *vf = (float *)(scr + ov);
    float *sc = (float *)(scr + osc), *pr = (float *)(scr + opr), *yf = (float *)(scr + oy);
    double *row = (double *)(scr + orw);
    void *gs = scr + ogs;

    /* widen into [B, H, S, E] float layouts */
    for (int64_t b = 0; b < a.B; b++) {
        for (int64_t h = 0; h < a.Hq; h++) {
            for (int64_t s = 0; s < a.Sq; s++) {
                nne_load_f32(Q, qkv_off(&a, a.three_d, a.Hq, a.Sq, a.D, b, h, s), 1, a.D,
                                qf + ((b * a.Hq + h) * a.Sq + s) * a.D);
            }
        }
        for (int64_t h = 0; h < a.Hkv; h++) {
            for (int64_t t = 0; t < a.T; t++) {
                float *kd = kf + ((b * a.Hkv + h) * a.T + t) * a.D;
                float *vd = vf + ((b * a.Hkv + h) * a.T + t) * a.Dv;
                if (t < a.P) {
                    nne_load_f32(PK, ((b * a.Hkv + h) * a.P + t) * a.D, 1, a.D, kd);
                    nne_load_f32(PV, ((b * a.Hkv + h) * a.P + t) * a.Dv, 1, a.Dv, vd);
                } else {
                    int64_t s = t - a.P;
                    nne_load_f32(K, qkv_off(&a, a.three_d, a.Hkv, a.Skv, a.D, b, h, s), 1, a.D, kd);
                    nne_load_f32(V, qkv_off(&a, a.three_d, a.Hkv, a.Skv, a.Dv, b, h, s), 1, a.Dv, vd);
                }
            }
        }
    }
    if (PKo) nne_store_f32(PKo, 0, 1, nk, kf, NNE_CVT_SAT);
    if (PVo) nne_store_f32(PVo, 0, 1, nv, vf, NNE_CVT_SAT);

    double *mrow = row, *srow = row + a.T, *orow = row + 2 * a.T;
    int64_t grp = a.Hq / a.Hkv;
    for (int64_t b = 0; b < a.B; b++) {
        int64_t np = a.T;
        if (NP) {
            np = nne_tensor_get_i64(NP, b);
            if (np < 0 || np > a.T) {
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "nonpad_kv_seqlen[%" PRId64 "] = %" PRId64 " is outside [0, %" PRId64 "]",
                                    b, np, a.T);
            }
        }
        int64_t offset = PK ? a.P : (NP ? np - a.Sq : 0);
        for (int64_t h = 0; h < a.Hq; h++) {
            int64_t hk = h / grp;
            const float *qh = qf + (b * a.Hq + h) * a.Sq * a.D;
            const float *kh = kf + (b * a.Hkv + hk) * a.T * a.D;
            const float *vh = vf + (b * a.Hkv + hk) * a.T * a.Dv;
            /* scores = scale * Q K^T: K^T(d, t) = kh[t*D + d] */
            nne_gemm_f32(a.Sq, a.T, a.D, scale, qh, a.D, 1, kh, 1, a.D, 0.0f, sc, a.T, gs);
            for (int64_t i = 0; i < a.Sq; i++) {
                float *si = sc + i * a.T;
                /* bias row */
                for (int64_t j = 0; j < a.T; j++) mrow[j] = 0.0;
                if (M) {
                    int64_t mo = b * mstr[0] + h * mstr[1] + i * mstr[2];
                    nne_load_f64(M, mo, 1, Lm, mrow);
                    if (M->dtype == NNE_DTYPE_BOOL) {
                        for (int64_t j = 0; j < Lm; j++) mrow[j] = mrow[j] != 0.0 ? 0.0 : -INFINITY;
                    }
                    for (int64_t j = Lm; j < a.T; j++) mrow[j] = -INFINITY;
                }
                if (causal) {
                    for (int64_t j = 0; j < a.T; j++) {
                        if (j > i + offset) mrow[j] = -INFINITY;
                    }
                }
                if (NP) {
                    for (int64_t j = np; j < a.T; j++) mrow[j] = -INFINITY;
                }
                double mx = -INFINITY;
                for (int64_t j = 0; j < a.T; j++) {
                    double v = si[j];
                    if (QKo && mode == 0) orow[j] = v;
                    if (softcap > 0.0f) v = softcap * tanh(v / softcap);
                    if (QKo && mode == 1) orow[j] = v;
                    v += mrow[j];
                    if (QKo && mode == 2) orow[j] = v;
                    srow[j] = v;
                    if (v > mx) mx = v;
                }
                float *pi = pr + i * a.T;
                if (mx == -INFINITY) {
                    /* fully masked row: zero probabilities, zero output */
                    for (int64_t j = 0; j < a.T; j++) pi[j] = 0.0f;
                    if (QKo && mode == 3) {
                        for (int64_t j = 0; j < a.T; j++) orow[j] = 0.0;
                    }
                } else {
                    double sum = 0.0;
                    for (int64_t j = 0; j < a.T; j++) {
                        srow[j] = exp(srow[j] - mx);
                        sum += srow[j];
                    }
                    double inv = 1.0 / sum;
                    for (int64_t j = 0; j < a.T; j++) {
                        double p = srow[j] * inv;
                        pi[j] = (float)p;
                        if (QKo && mode == 3) orow[j] = p;
                    }
                }
                if (QKo) nne_store_f64(QKo, ((b * a.Hq + h) * a.Sq + i) * a.T, 1, a.T, orow, NNE_CVT_SAT);
            }
            /* Y = P V */
            nne_gemm_f32(a.Sq, a.Dv, a.T, 1.0f, pr, a.T, 1, vh, a.Dv, 1, 0.0f, yf, a.Dv, gs);
            for (int64_t s = 0; s < a.Sq; s++) {
                nne_store_f32(Y, qkv_off(&a, a.three_d, a.Hq, a.Sq, a.Dv, b, h, s), 1, a.Dv,
                                 yf + s * a.Dv, NNE_CVT_SAT);
            }
        }
    }
    return NNE_OK;
}

NNE_OP_DEFINE(Attention, "", "Attention", .infer = attention_run, .run = attention_kernel,
              .state_size = sizeof(attention_state));
