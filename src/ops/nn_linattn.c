/*
 * nn_linattn.c - LinearAttention (opset 27): recurrent linear attention
 * with the update rules
 *   linear:      S = S + k v^T
 *   gated:       S = exp(g) * S + k v^T
 *   delta:       S = S + beta * k (v - S^T k)^T
 *   gated_delta: S = exp(g) * S + beta * k (v - (exp(g) * S)^T k)^T
 * and output o = scale * S^T q per token, run sequentially over T.
 * query [B, T, Hq*dk], key [B, T, Hkv*dk], value [B, T, Hkv*dv]; the state S
 * is [B, Hkv, dk, dv] (past_state, zeros if absent; present_state output).
 * decay g is per key dimension [B, T, Hkv*dk] (scales rows of S) or per
 * head [B, T, Hkv]; beta is [B, T, Hkv] or [B, T, 1]. Query heads share KV
 * heads in groups of Hq / Hkv. The state is kept in double in scratch.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

enum { LA_LINEAR, LA_GATED, LA_DELTA, LA_GATED_DELTA };

/* LinearAttention in phases: update rule, heads and scratch layout once per plan */
typedef struct linattn_state {
    int64_t Hq;
    int64_t Hkv;
    int64_t B;
    int64_t T;
    int64_t dk;
    int64_t dv;
    int gated;
    int delta;
    int g_per_dim;
    int64_t beta_h;
    double scale;
    int64_t nst;
    size_t os;
    size_t oq;
    size_t ok_;
    size_t ov;
    size_t og;
    size_t oo;
} linattn_state;

static nne_status linattn_run(nne_op_ctx *ctx) {
    static const nne_dtype ok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                   NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    const nne_tensor *Q = nne_ctx_input(ctx, 0), *K = nne_ctx_input(ctx, 1);
    const nne_tensor *V = nne_ctx_input(ctx, 2), *PS = nne_ctx_input(ctx, 3);
    const nne_tensor *G = nne_ctx_input(ctx, 4), *BE = nne_ctx_input(ctx, 5);
    char s1[96], s2[96], s3[96];
    if (!Q || !K || !V) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs query, key and value");
    NNE_TRY(nne_la_check_dtype(ctx, "query", Q->dtype, ok));
    if (K->dtype != Q->dtype || V->dtype != Q->dtype) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "query, key and value must share a dtype");
    }
    if (PS) NNE_TRY(nne_la_check_dtype(ctx, "past_state", PS->dtype, ok));
    const char *rule = nne_attr_s(ctx, "update_rule", "gated_delta");
    int mode;
    if (!strcmp(rule, "linear")) mode = LA_LINEAR;
    else if (!strcmp(rule, "gated")) mode = LA_GATED;
    else if (!strcmp(rule, "delta")) mode = LA_DELTA;
    else if (!strcmp(rule, "gated_delta")) mode = LA_GATED_DELTA;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "update_rule \"%s\" is not linear, gated, delta or gated_delta", rule);
    int64_t Hq = nne_attr_i(ctx, "q_num_heads", 0), Hkv = nne_attr_i(ctx, "kv_num_heads", 0);
    if (Q->ndim != 3 || K->ndim != 3 || V->ndim != 3 || Hq <= 0 || Hkv <= 0 || Hq % Hkv ||
        Q->dims[2] % Hq || K->dims[2] % Hkv || V->dims[2] % Hkv) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "expected 3-D query %s, key %s, value %s with hidden sizes divisible by "
                            "q_num_heads %" PRId64 " / kv_num_heads %" PRId64 " (a multiple of it)",
                            nne_dims_str(Q->ndim, Q->dims, s1, sizeof s1),
                            nne_dims_str(K->ndim, K->dims, s2, sizeof s2),
                            nne_dims_str(V->ndim, V->dims, s3, sizeof s3), Hq, Hkv);
    }
    int64_t B = Q->dims[0], T = Q->dims[1], dk = Q->dims[2] / Hq, dv = V->dims[2] / Hkv;
    if (K->dims[0] != B || V->dims[0] != B || K->dims[1] != T || V->dims[1] != T ||
        K->dims[2] / Hkv != dk) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "query %s, key %s and value %s disagree",
                            nne_dims_str(Q->ndim, Q->dims, s1, sizeof s1),
                            nne_dims_str(K->ndim, K->dims, s2, sizeof s2),
                            nne_dims_str(V->ndim, V->dims, s3, sizeof s3));
    }
    if (PS && (PS->ndim != 4 || PS->dims[0] != B || PS->dims[1] != Hkv || PS->dims[2] != dk ||
               PS->dims[3] != dv)) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "past_state %s must be [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 "]",
                            nne_dims_str(PS->ndim, PS->dims, s1, sizeof s1), B, Hkv, dk, dv);
    }
    int gated = mode == LA_GATED || mode == LA_GATED_DELTA;
    int delta = mode == LA_DELTA || mode == LA_GATED_DELTA;
    int g_per_dim = 0;
    if (gated) {
        if (!G) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "update_rule %s needs the decay input", rule);
        if (G->ndim != 3 || G->dims[0] != B || G->dims[1] != T ||
            (G->dims[2] != Hkv * dk && G->dims[2] != Hkv)) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "decay %s must be [%" PRId64 ", %" PRId64 ", %" PRId64 " or %" PRId64 "]",
                                nne_dims_str(G->ndim, G->dims, s1, sizeof s1), B, T, Hkv * dk, Hkv);
        }
        g_per_dim = G->dims[2] == Hkv * dk && dk != 1;
    }
    int64_t beta_h = 0;
    if (delta) {
        if (!BE) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "update_rule %s needs the beta input", rule);
        if (BE->ndim != 3 || BE->dims[0] != B || BE->dims[1] != T ||
            (BE->dims[2] != Hkv && BE->dims[2] != 1)) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "beta %s must be [%" PRId64 ", %" PRId64 ", %" PRId64 " or 1]",
                                nne_dims_str(BE->ndim, BE->dims, s1, sizeof s1), B, T, Hkv);
        }
        beta_h = BE->dims[2];
    }
    double scale = nne_attr_f(ctx, "scale", 0.0f);
    if (scale == 0.0) scale = 1.0 / sqrt((double)dk);
    nne_tensor *O, *PSo = NULL;
    int64_t od[3] = {B, T, Hq * dv};
    NNE_TRY(nne_ctx_output(ctx, 0, Q->dtype, 3, od, &O));
    if (nne_ctx_num_outputs(ctx) > 1) {
        int64_t sd[4] = {B, Hkv, dk, dv};
        NNE_TRY(nne_ctx_output(ctx, 1, PS ? PS->dtype : Q->dtype, 4, sd, &PSo));
    }
    int64_t nst = B * Hkv * dk * dv;
    size_t total = 0;
    size_t os = nne_la_reserve(&total, nne_size_elems(nst + 1, sizeof(double)));
    size_t oq = nne_la_reserve(&total, nne_size_elems(dk + 1, sizeof(double)));
    size_t ok_ = nne_la_reserve(&total, nne_size_elems(dk + 1, sizeof(double)));
    size_t ov = nne_la_reserve(&total, nne_size_elems(dv + 1, sizeof(double)));
    size_t og = nne_la_reserve(&total, nne_size_elems(dk + 1, sizeof(double)));
    size_t oo = nne_la_reserve(&total, nne_size_elems(dv + 1, sizeof(double)));
    nne_ctx_scratch(ctx, total);
    linattn_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->Hq = Hq;
        st_->Hkv = Hkv;
        st_->B = B;
        st_->T = T;
        st_->dk = dk;
        st_->dv = dv;
        st_->gated = gated;
        st_->delta = delta;
        st_->g_per_dim = g_per_dim;
        st_->beta_h = beta_h;
        st_->scale = scale;
        st_->nst = nst;
        st_->os = os;
        st_->oq = oq;
        st_->ok_ = ok_;
        st_->ov = ov;
        st_->og = og;
        st_->oo = oo;
    }
    return NNE_OK;
}

static nne_status linattn_kernel(const void *state, const nne_kernel_args *a) {
    const linattn_state *st_ = state;
    const nne_tensor *Q = a->in[0];
    const nne_tensor *K = a->n_in > 1 ? a->in[1] : NULL;
    const nne_tensor *V = a->n_in > 2 ? a->in[2] : NULL;
    const nne_tensor *PS = a->n_in > 3 ? a->in[3] : NULL;
    const nne_tensor *G = a->n_in > 4 ? a->in[4] : NULL;
    const nne_tensor *BE = a->n_in > 5 ? a->in[5] : NULL;
    nne_tensor *O = a->out[0];
    nne_tensor *PSo = a->n_out > 1 ? a->out[1] : NULL;
    int64_t Hq = st_->Hq;
    int64_t Hkv = st_->Hkv;
    int64_t B = st_->B;
    int64_t T = st_->T;
    int64_t dk = st_->dk;
    int64_t dv = st_->dv;
    int gated = st_->gated;
    int delta = st_->delta;
    int g_per_dim = st_->g_per_dim;
    int64_t beta_h = st_->beta_h;
    double scale = st_->scale;
    int64_t nst = st_->nst;
    size_t os = st_->os;
    size_t oq = st_->oq;
    size_t ok_ = st_->ok_;
    size_t ov = st_->ov;
    size_t og = st_->og;
    size_t oo = st_->oo;
    char *scr = a->scratch;
    double *S = (double *)(scr + os), *q = (double *)(scr + oq), *k = (double *)(scr + ok_);
    double *v = (double *)(scr + ov), *g = (double *)(scr + og), *o = (double *)(scr + oo);
    if (PS) nne_load_f64(PS, 0, 1, nst, S);
    else memset(S, 0, (size_t)nst * sizeof(double));
    int64_t grp = Hq / Hkv;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            for (int64_t h = 0; h < Hkv; h++) {
                double *Sh = S + (b * Hkv + h) * dk * dv;
                nne_load_f64(K, (b * T + t) * Hkv * dk + h * dk, 1, dk, k);
                nne_load_f64(V, (b * T + t) * Hkv * dv + h * dv, 1, dv, v);
                if (gated) {
                    if (g_per_dim) {
                        nne_load_f64(G, (b * T + t) * Hkv * dk + h * dk, 1, dk, g);
                    } else {
                        int64_t gi = (b * T + t) * G->dims[2] + (G->dims[2] == Hkv ? h : h * dk);
                        nne_load_f64(G, gi, 1, 1, g);
                        for (int64_t i = 1; i < dk; i++) g[i] = g[0];
                    }
                    for (int64_t i = 0; i < dk; i++) {
                        double e = exp(g[i]);
                        for (int64_t j = 0; j < dv; j++) Sh[i * dv + j] *= e;
                    }
                }
                if (delta) {
                    double beta;
                    nne_load_f64(BE, (b * T + t) * beta_h + (beta_h == 1 ? 0 : h), 1, 1, &beta);
                    /* v - S^T k, then S += beta * k (.)^T */
                    for (int64_t j = 0; j < dv; j++) o[j] = v[j];
                    for (int64_t i = 0; i < dk; i++) {
                        for (int64_t j = 0; j < dv; j++) o[j] -= Sh[i * dv + j] * k[i];
                    }
                    for (int64_t i = 0; i < dk; i++) {
                        double bk = beta * k[i];
                        for (int64_t j = 0; j < dv; j++) Sh[i * dv + j] += bk * o[j];
                    }
                } else {
                    for (int64_t i = 0; i < dk; i++) {
                        for (int64_t j = 0; j < dv; j++) Sh[i * dv + j] += k[i] * v[j];
                    }
                }
                for (int64_t r = 0; r < grp; r++) {
                    int64_t hq = h * grp + r;
                    nne_load_f64(Q, (b * T + t) * Hq * dk + hq * dk, 1, dk, q);
                    for (int64_t j = 0; j < dv; j++) o[j] = 0.0;
                    for (int64_t i = 0; i < dk; i++) {
                        for (int64_t j = 0; j < dv; j++) o[j] += q[i] * Sh[i * dv + j];
                    }
                    for (int64_t j = 0; j < dv; j++) o[j] *= scale;
                    nne_store_f64(O, (b * T + t) * Hq * dv + hq * dv, 1, dv, o, NNE_CVT_SAT);
                }
            }
        }
    }
    if (PSo) nne_store_f64(PSo, 0, 1, nst, S, NNE_CVT_SAT);
    return NNE_OK;
}

NNE_OP_DEFINE(LinearAttention, "", "LinearAttention", .infer = linattn_run, .run = linattn_kernel,
              .state_size = sizeof(linattn_state));
