/*
 * epilogue.h - what a Conv / Gemm / MatMul kernel applies to its output
 * before storing it: y = act(y + bias + residual).
 *
 * This is the contract between the fusion passes (which turn
 * Conv -> Add -> Relu into one node) and the kernels (which apply the
 * epilogue to each output tile while it is still in registers or cache).
 * The plain nne_epilogue_apply_f32 below is the reference every fused
 * kernel is tested against; a kernel that has no fused form calls it on the
 * finished output.
 *
 * The order is ONNX Runtime's FusedConv: bias, then residual (its input Z),
 * then the activation.
 */
#ifndef NNE_KERNELS_EPILOGUE_H
#define NNE_KERNELS_EPILOGUE_H

#include <stdint.h>

/* Activations a kernel can fuse. alpha/beta as noted; others ignore them. */
typedef enum nne_act {
    NNE_ACT_NONE = 0,
    NNE_ACT_RELU,
    NNE_ACT_CLIP,        /* min(max(x, alpha), beta) */
    NNE_ACT_LEAKYRELU,   /* x >= 0 ? x : alpha * x */
    NNE_ACT_SIGMOID,
    NNE_ACT_TANH,
    NNE_ACT_HARDSIGMOID, /* max(0, min(1, alpha * x + beta)) */
    NNE_ACT_HARDSWISH,   /* x * max(0, min(1, x / 6 + 1/2)) */
    NNE_ACT_SILU,        /* x * sigmoid(x) (Swish with alpha 1) */
    NNE_ACT_GELU,        /* 0.5 x (1 + erf(x / sqrt 2)) */
    NNE_ACT_GELU_TANH,   /* Gelu with approximate="tanh" */
    NNE_ACT_COUNT
} nne_act;

typedef struct nne_epilogue {
    /* NULL, or bias[row] (Conv: one per output channel, the rows of its
     * GEMM) or, with bias_per_col, bias[col] (Gemm's C of shape [N]) */
    const float *bias;
    int bias_per_col;
    /* NULL, or a tensor laid out like y with row stride ld_res, added
     * element by element (the residual Add of a ResNet block) */
    const float *residual;
    int64_t ld_res;
    int act;            /* nne_act */
    float alpha, beta;  /* the activation's parameters */
} nne_epilogue;

/* One activation of one value (the reference; kernels vectorize it). */
float nne_act_f32(int act, float alpha, float beta, float x);

/* Applies e in place to rows [r0, r0 + rows) and columns [c0, c0 + cols)
 * of y (row stride ldy; y and e->residual are the whole matrices, so a
 * thread or tile passes its own offsets). e == NULL or an empty epilogue
 * does nothing. */
void nne_epilogue_apply_f32(const nne_epilogue *e, float *y, int64_t ldy, int64_t r0, int64_t rows, int64_t c0,
                            int64_t cols);

/* Whether e does anything. */
int nne_epilogue_active(const nne_epilogue *e);

/* The activation named as ONNX Runtime's FusedConv/FusedGemm `activation`
 * attribute names it ("Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh",
 * "HardSigmoid", ...; also "HardSwish", "Silu", "Gelu", "GeluTanh");
 * -1 for an unknown name. nne_act_name is its inverse. */
int nne_act_parse(const char *name);
const char *nne_act_name(int act);

#endif
