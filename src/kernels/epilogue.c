/*
 * epilogue.c - the reference output epilogue of Conv / Gemm / MatMul
 * kernels: y = act(y + bias + residual), element by element (see
 * epilogue.h). Fused kernels are tested against this.
 */
#include "kernels/epilogue.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static const char *const k_names[NNE_ACT_COUNT] = {
    [NNE_ACT_NONE] = "",           [NNE_ACT_RELU] = "Relu",          [NNE_ACT_CLIP] = "Clip",
    [NNE_ACT_LEAKYRELU] = "LeakyRelu", [NNE_ACT_SIGMOID] = "Sigmoid", [NNE_ACT_TANH] = "Tanh",
    [NNE_ACT_HARDSIGMOID] = "HardSigmoid", [NNE_ACT_HARDSWISH] = "HardSwish", [NNE_ACT_SILU] = "Silu",
    [NNE_ACT_GELU] = "Gelu",       [NNE_ACT_GELU_TANH] = "GeluTanh",
};

int nne_act_parse(const char *name) {
    if (!name) return -1;
    for (int a = 1; a < NNE_ACT_COUNT; a++)
        if (!strcmp(name, k_names[a])) return a;
    return -1;
}

const char *nne_act_name(int act) { return act >= 0 && act < NNE_ACT_COUNT ? k_names[act] : "?"; }

float nne_act_f32(int act, float alpha, float beta, float x) {
    switch (act) {
    case NNE_ACT_RELU: return x > 0.0f ? x : 0.0f;
    /* written so NaN passes through, as Clip does */
    case NNE_ACT_CLIP: return x < alpha ? alpha : x > beta ? beta : x;
    case NNE_ACT_LEAKYRELU: return x >= 0.0f ? x : alpha * x;
    case NNE_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case NNE_ACT_TANH: return tanhf(x);
    case NNE_ACT_HARDSIGMOID: return fmaxf(0.0f, fminf(1.0f, alpha * x + beta));
    case NNE_ACT_HARDSWISH: return x * fmaxf(0.0f, fminf(1.0f, x * (1.0f / 6.0f) + 0.5f));
    case NNE_ACT_SILU: return x / (1.0f + expf(-x));
    case NNE_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case NNE_ACT_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    default: return x;
    }
}

int nne_epilogue_active(const nne_epilogue *e) {
    return e && (e->bias || e->residual || e->act != NNE_ACT_NONE);
}

void nne_epilogue_apply_f32(const nne_epilogue *e, float *y, int64_t ldy, int64_t r0, int64_t rows, int64_t c0,
                            int64_t cols) {
    if (!nne_epilogue_active(e)) return;
    for (int64_t r = r0; r < r0 + rows; r++) {
        float *yr = y + r * ldy;
        const float *res = e->residual ? e->residual + r * e->ld_res : NULL;
        for (int64_t c = c0; c < c0 + cols; c++) {
            float v = yr[c];
            if (e->bias) v += e->bias_per_col ? e->bias[c] : e->bias[r];
            if (res) v += res[c];
            yr[c] = nne_act_f32(e->act, e->alpha, e->beta, v);
        }
    }
}
