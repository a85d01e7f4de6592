/*
 * misc_linattn.c - LinearAttention (opset 27): recurrent linear attention
 * with GQA, for decode (T = 1) and prefill (T > 1).
 *   query [B, T, Hq*dk], key [B, T, Hkv*dk], value [B, T, Hkv*dv]
 *   past_state [B, Hkv, dk, dv] (zeros when absent)
 *   decay [B, T, Hkv*dk] (per key dim) or [B, T, Hkv] (per head), log-space
 *   beta [B, T, Hkv] or [B, T, 1]
 * For every (b, kv head) the state S [dk, dv] is updated token by token:
 *   gated rules first decay it: S = exp(g_t) * S (row i scaled by exp(g_t[i]))
 *   linear / gated:           S += k_t (x) v_t
 *   delta / gated_delta:      S += beta_t * k_t (x) (v_t - S^T k_t)
 * and every query head h of the group (h / (Hq/Hkv) == kv head) outputs
 *   o_t = scale * q_t^T S   (scale = 1/sqrt(dk) when the attribute is 0).
 * This is the sequential form of the recurrence; chunk_size is only a hint
 * for chunked algorithms and is ignored. Math is float in scratch.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <math.h>
#include <string.h>

enum { LA_LINEAR, LA_GATED, LA_DELTA, LA_GATED_DELTA };

static nne_status check_3d(nne_op_ctx *ctx, const char *what, const nne_tensor *t, int64_t B, int64_t T,
                           int64_t last_a, int64_t last_b) {
    char b1[96];
    if (t->ndim != 3 || t->dims[0] != B || t->dims[1] != T || (t->dims[2] != last_a && t->dims[2] != last_b)) {
        if (last_a == last_b)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s shape %s, expected (%lld, %lld, %lld)", what,
                                nne_dims_str(t->ndim, t->dims, b1, sizeof b1), (long long)B, (long long)T,
                                (long long)last_a);
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s shape %s, expected (%lld, %lld, %lld or %lld)", what,
                            nne_dims_str(t->ndim, t->dims, b1, sizeof b1), (long long)B, (long long)T,
                            (long long)last_a, (long long)last_b);
    }
    return NNE_OK;
}

static nne_status linearattention_run(nne_op_ctx *ctx) {
    static const nne_dtype fok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                    NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    const nne_tensor *q = nne_ctx_input(ctx, 0), *k = nne_ctx_input(ctx, 1), *v = nne_ctx_input(ctx, 2);
    const nne_tensor *past = nne_ctx_input(ctx, 3), *decay = nne_ctx_input(ctx, 4);
    const nne_tensor *beta = nne_ctx_input(ctx, 5);
    char b1[96];
    if (!q || !k || !v)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs query, key and value are required");
    NNE_TRY(nne_la_check_dtype(ctx, "query", q->dtype, fok));
    const nne_tensor *ts[4] = {k, v, decay, beta};
    static const char *const tn[4] = {"key", "value", "decay", "beta"};
    for (int i = 0; i < 4; i++) {
        if (ts[i] && ts[i]->dtype != q->dtype)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s is %s but query is %s (must match)", tn[i],
                                nne_dtype_name(ts[i]->dtype), nne_dtype_name(q->dtype));
    }
    if (past) NNE_TRY(nne_la_check_dtype(ctx, "past_state", past->dtype, fok));

    int64_t Hq = nne_attr_i(ctx, "q_num_heads", 0), Hkv = nne_attr_i(ctx, "kv_num_heads", 0);
    if (Hq <= 0 || Hkv <= 0 || Hq % Hkv != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "q_num_heads %lld / kv_num_heads %lld: both required, positive, and q_num_heads "
                            "a multiple of kv_num_heads", (long long)Hq, (long long)Hkv);
    const char *rule_s = nne_attr_s(ctx, "update_rule", "gated_delta");
    int rule;
    if (strcmp(rule_s, "linear") == 0) rule = LA_LINEAR;
    else if (strcmp(rule_s, "gated") == 0) rule = LA_GATED;
    else if (strcmp(rule_s, "delta") == 0) rule = LA_DELTA;
    else if (strcmp(rule_s, "gated_delta") == 0) rule = LA_GATED_DELTA;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                             "update_rule \"%s\": expected linear, gated, delta or gated_delta", rule_s);
    int gated = rule == LA_GATED || rule == LA_GATED_DELTA;
    int delta = rule == LA_DELTA || rule == LA_GATED_DELTA;
    if (gated && !decay)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "update_rule %s requires the decay input", rule_s);
    if (delta && !beta)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "update_rule %s requires the beta input", rule_s);

    if (q->ndim != 3 || q->dims[2] % Hq != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "query shape %s, expected (B, T, %lld * d_k)",
                            nne_dims_str(q->ndim, q->dims, b1, sizeof b1), (long long)Hq);
    int64_t B = q->dims[0], T = q->dims[1], dk = q->dims[2] / Hq;
    NNE_TRY(check_3d(ctx, "key", k, B, T, Hkv * dk, Hkv * dk));
    if (v->ndim != 3 || v->dims[0] != B || v->dims[1] != T || v->dims[2] % Hkv != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "value shape %s, expected (%lld, %lld, %lld * d_v)",
                            nne_dims_str(v->ndim, v->dims, b1, sizeof b1), (long long)B, (long long)T,
                            (long long)Hkv);
    int64_t dv = v->dims[2] / Hkv;
    if (gated) NNE_TRY(check_3d(ctx, "decay", decay, B, T, Hkv * dk, Hkv));
    if (delta) NNE_TRY(check_3d(ctx, "beta", beta, B, T, Hkv, 1));
    if (past && (past->ndim != 4 || past->dims[0] != B || past->dims[1] != Hkv || past->dims[2] != dk ||
                 past->dims[3] != dv))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "past_state shape %s, expected (%lld, %lld, %lld, %lld)",
                            nne_dims_str(past->ndim, past->dims, b1, sizeof b1), (long long)B,
                            (long long)Hkv, (long long)dk, (long long)dv);
    float scale = nne_attr_f(ctx, "scale", 0.0f);
    if (scale == 0.0f) scale = dk > 0 ? 1.0f / sqrtf((float)dk) : 1.0f;

    nne_tensor *y, *ps = NULL;
    int64_t yd[3] = {B, T, Hq * dv}, sd[4] = {B, Hkv, dk, dv};
    NNE_TRY(nne_ctx_output(ctx, 0, q->dtype, 3, yd, &y));
    if (nne_ctx_num_outputs(ctx) > 1)
        NNE_TRY(nne_ctx_output(ctx, 1, past ? past->dtype : q->dtype, 4, sd, &ps));
    int64_t G = Hq / Hkv;
    size_t total = 0;
    size_t oS = nne_la_reserve(&total, (size_t)(dk * dv) * sizeof(float));
    size_t oq = nne_la_reserve(&total, (size_t)dk * sizeof(float));
    size_t ok = nne_la_reserve(&total, (size_t)dk * sizeof(float));
    size_t og = nne_la_reserve(&total, (size_t)dk * sizeof(float));
    size_t ov = nne_la_reserve(&total, (size_t)dv * sizeof(float));
    size_t oo = nne_la_reserve(&total, (size_t)dv * sizeof(float));
    char *base = nne_ctx_scratch(ctx, total);
    if (nne_ctx_shape_only(ctx)) return NNE_OK;
    if (!base) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "no scratch memory");
    float *S = (float *)(base + oS), *qv = (float *)(base + oq), *kv = (float *)(base + ok);
    float *gv = (float *)(base + og), *vv = (float *)(base + ov), *ov_ = (float *)(base + oo);
    int g_per_dim = gated && decay->dims[2] == Hkv * dk; /* same either way when dk == 1 */
    int beta_per_head = delta && beta->dims[2] == Hkv;

    for (int64_t b = 0; b < B; b++) {
        for (int64_t hk = 0; hk < Hkv; hk++) {
            int64_t so = (b * Hkv + hk) * dk * dv;
            if (past) nne_la_load_f32(past, so, 1, dk * dv, S);
            else memset(S, 0, (size_t)(dk * dv) * sizeof(float));
            for (int64_t t = 0; t < T; t++) {
                int64_t bt = b * T + t;
                nne_la_load_f32(k, (bt * Hkv + hk) * dk, 1, dk, kv);
                nne_la_load_f32(v, (bt * Hkv + hk) * dv, 1, dv, vv);
                if (gated) {
                    if (g_per_dim) {
                        nne_la_load_f32(decay, (bt * Hkv + hk) * dk, 1, dk, gv);
                        for (int64_t i = 0; i < dk; i++) gv[i] = expf(gv[i]);
                    } else {
                        float g;
                        nne_la_load_f32(decay, bt * Hkv + hk, 1, 1, &g);
                        g = expf(g);
                        for (int64_t i = 0; i < dk; i++) gv[i] = g;
                    }
                    for (int64_t i = 0; i < dk; i++) {
                        float *row = S + i * dv, gi = gv[i];
                        for (int64_t j = 0; j < dv; j++) row[j] *= gi;
                    }
                }
                if (delta) {
                    float bb;
                    nne_la_load_f32(beta, beta_per_head ? bt * Hkv + hk : bt, 1, 1, &bb);
                    /* vv = beta * (v - S^T k) */
                    for (int64_t j = 0; j < dv; j++) ov_[j] = 0.0f;
                    for (int64_t i = 0; i < dk; i++) {
                        const float *row = S + i * dv;
                        float ki = kv[i];
                        for (int64_t j = 0; j < dv; j++) ov_[j] += ki * row[j];
                    }
                    for (int64_t j = 0; j < dv; j++) vv[j] = bb * (vv[j] - ov_[j]);
                }
                for (int64_t i = 0; i < dk; i++) {
                    float *row = S + i * dv, ki = kv[i];
                    for (int64_t j = 0; j < dv; j++) row[j] += ki * vv[j];
                }
                for (int64_t h = hk * G; h < (hk + 1) * G; h++) {
                    nne_la_load_f32(q, (bt * Hq + h) * dk, 1, dk, qv);
                    for (int64_t j = 0; j < dv; j++) ov_[j] = 0.0f;
                    for (int64_t i = 0; i < dk; i++) {
                        const float *row = S + i * dv;
                        float qi = qv[i];
                        for (int64_t j = 0; j < dv; j++) ov_[j] += qi * row[j];
                    }
                    for (int64_t j = 0; j < dv; j++) ov_[j] *= scale;
                    nne_la_store_f32(y, (bt * Hq + h) * dv, 1, dv, ov_);
                }
            }
            if (ps) nne_la_store_f32(ps, so, 1, dk * dv, S);
        }
    }
    return NNE_OK;
}
NNE_OP_REGISTER(LinearAttention, "", "LinearAttention", linearattention_run, 0);
