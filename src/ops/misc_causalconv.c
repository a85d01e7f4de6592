/*
 * misc_causalconv.c - CausalConvWithState (opset 27): stateful causal
 * depthwise 1-D convolution used by Mamba / Gated DeltaNet.
 *   x [B, C, L], w [C, 1, k], bias [C] (optional), past [B, C, k-1] (optional,
 *   zeros when absent).
 *   padded = concat(past, x) along the last axis (length k-1+L)
 *   y[b,c,t] = act(bias[c] + sum_j w[c,0,j] * padded[b,c,t+j])
 *   present = the last k-1 positions of padded.
 * act is identity ("none") or SiLU ("silu" / "swish": v * sigmoid(v)).
 * Each (b, c) row is widened to float in scratch, computed, then stored.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <math.h>
#include <string.h>

static nne_status causalconvwithstate_run(nne_op_ctx *ctx) {
    static const nne_dtype fok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                    NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    const nne_tensor *x = nne_ctx_input(ctx, 0), *w = nne_ctx_input(ctx, 1);
    const nne_tensor *bias = nne_ctx_input(ctx, 2), *past = nne_ctx_input(ctx, 3);
    char b1[96];
    if (!x || !w) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs input and weight are required");
    NNE_TRY(nne_la_check_dtype(ctx, "input", x->dtype, fok));
    const nne_tensor *others[3] = {w, bias, past};
    static const char *const onames[3] = {"weight", "bias", "past_state"};
    for (int i = 0; i < 3; i++) {
        if (others[i] && others[i]->dtype != x->dtype)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s is %s but input is %s (must match)",
                                onames[i], nne_dtype_name(others[i]->dtype), nne_dtype_name(x->dtype));
    }
    if (x->ndim != 3)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input shape %s, expected rank 3 (B, C, L)",
                            nne_dims_str(x->ndim, x->dims, b1, sizeof b1));
    int64_t B = x->dims[0], C = x->dims[1], L = x->dims[2];
    if (w->ndim != 3 || w->dims[0] != C || w->dims[1] != 1 || w->dims[2] < 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "weight shape %s, expected (%lld, 1, k) with k >= 1",
                            nne_dims_str(w->ndim, w->dims, b1, sizeof b1), (long long)C);
    int64_t k = w->dims[2], S = k - 1;
    if (bias && (bias->ndim != 1 || bias->dims[0] != C))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "bias shape %s, expected (%lld)",
                            nne_dims_str(bias->ndim, bias->dims, b1, sizeof b1), (long long)C);
    if (past && (past->ndim != 3 || past->dims[0] != B || past->dims[1] != C || past->dims[2] != S))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "past_state shape %s, expected (%lld, %lld, %lld)",
                            nne_dims_str(past->ndim, past->dims, b1, sizeof b1), (long long)B,
                            (long long)C, (long long)S);
    const char *act = nne_attr_s(ctx, "activation", "none");
    int silu;
    if (strcmp(act, "none") == 0) silu = 0;
    else if (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0) silu = 1;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "activation \"%s\": expected none, silu or swish", act);

    nne_tensor *y, *ps = NULL;
    NNE_TRY(nne_ctx_output_like(ctx, 0, x, &y));
    if (nne_ctx_num_outputs(ctx) > 1) {
        int64_t pd[3] = {B, C, S};
        NNE_TRY(nne_ctx_output(ctx, 1, x->dtype, 3, pd, &ps));
    }
    size_t total = 0;
    size_t opad = nne_la_reserve(&total, (size_t)(S + L) * sizeof(float));
    size_t oout = nne_la_reserve(&total, (size_t)L * sizeof(float));
    size_t ow = nne_la_reserve(&total, (size_t)k * sizeof(float));
    char *base = nne_ctx_scratch(ctx, total);
    if (nne_ctx_shape_only(ctx)) return NNE_OK;
    if (!base) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "no scratch memory");
    float *pad = (float *)(base + opad), *out = (float *)(base + oout), *wk = (float *)(base + ow);

    for (int64_t c = 0; c < C; c++) {
        nne_la_load_f32(w, c * k, 1, k, wk);
        float bc = 0.0f;
        if (bias) nne_la_load_f32(bias, c, 1, 1, &bc);
        for (int64_t b = 0; b < B; b++) {
            int64_t row = b * C + c;
            if (past) nne_la_load_f32(past, row * S, 1, S, pad);
            else memset(pad, 0, (size_t)S * sizeof(float));
            nne_la_load_f32(x, row * L, 1, L, pad + S);
            for (int64_t t = 0; t < L; t++) {
                const float *p = pad + t;
                float acc = bc;
                for (int64_t j = 0; j < k; j++) acc += wk[j] * p[j];
                if (silu) acc = acc / (1.0f + expf(-acc));
                out[t] = acc;
            }
            nne_la_store_f32(y, row * L, 1, L, out);
            if (ps) nne_la_store_f32(ps, row * S, 1, S, pad + L);
        }
    }
    return NNE_OK;
}
NNE_OP_REGISTER(CausalConvWithState, "", "CausalConvWithState", causalconvwithstate_run, 0);
