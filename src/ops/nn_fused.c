/*
 * nn_fused.c - the fused nodes the fusion passes make (src/ir/pass_fuse.c):
 * a Conv / Gemm / MatMul followed by its output epilogue
 * y = act(y + bias + residual) (src/kernels/epilogue.h).
 *
 *   com.microsoft FusedConv (X, W, B?, Z?): ONNX Runtime's contrib op:
 *       Conv's attributes plus `activation` (string) and `activation_params`
 *       (floats: LeakyRelu alpha, Clip min max, HardSigmoid alpha beta);
 *       Z, when given, has Y's shape and is added before the activation.
 *   com.microsoft FusedGemm (A, B, C?): Gemm's attributes plus `activation`,
 *       `activation_alpha`, `activation_beta`.
 *   ai.nnedge FusedConv / FusedGemm: the same, for the activations ONNX
 *       Runtime's forms do not know (HardSwish, Silu, Gelu, GeluTanh), so a
 *       written model never claims an ORT op it cannot run.
 *   ai.nnedge FusedMatMul (A, B, bias?, Z?): MatMul (numpy semantics), then
 *       bias (shape [N], added to every row), then Z (Y's shape), then the
 *       activation (`activation`, `activation_params` as FusedConv).
 *
 * Each is the op it extends plus an epilogue: infer, plan and run are the
 * inner op's (found in the op table), with the inner state at the start of
 * this op's state, so the inner op's plan-time state (packed weights,
 * kernel choice) is unchanged. FusedConv hands the epilogue to the Conv
 * kernels (nne_conv_run_ep), which apply it per output tile; FusedGemm and
 * FusedMatMul still apply it to the finished output (nne_fused_epilogue_f32
 * below: the reference's results, vectorized).
 * float only: the passes fuse float nodes only.
 */
#include "kernels/epilogue.h"
#include "ops/nn_conv.h"
#include "ops/op.h"

#include <string.h>

/* room for the inner op's state (checked at plan) */
#define FUSED_INNER_MAX 1024

enum { FK_CONV = 0, FK_GEMM, FK_MATMUL };

/* The inner op follows today's ONNX semantics (Gemm's C optional and
 * broadcast, Conv as of opset 11), whatever the version of the fused
 * node's own domain. */
#define FUSED_ONNX_OPSET 13

typedef struct fused_state {
    unsigned char inner[FUSED_INNER_MAX]; /* first: aligned like the block */
    const nne_op_def *op;   /* the inner op */
    int kind;               /* FK_* */
    int act;
    float alpha, beta;
    int has_bias, has_res;  /* FusedMatMul bias, residual Z */
} fused_state;

static const nne_op_def *inner_op(int kind) {
    return nne_op_find("", kind == FK_CONV ? "Conv" : kind == FK_GEMM ? "Gemm" : "MatMul");
}

/* The activation and its parameters from the node's attributes. ORT's
 * domain accepts only the activations ONNX Runtime implements. */
static nne_status parse_act(nne_op_ctx *ctx, int kind, int ort, int *act, float *alpha, float *beta) {
    const char *name = nne_attr_s(ctx, "activation", "");
    *act = NNE_ACT_NONE;
    *alpha = *beta = 0.0f;
    if (name[0]) {
        *act = nne_act_parse(name);
        if (*act < 0)
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "activation \"%s\" is not supported", name);
    }
    if (ort && *act != NNE_ACT_NONE && *act != NNE_ACT_RELU && *act != NNE_ACT_TANH && *act != NNE_ACT_SIGMOID &&
        *act != NNE_ACT_LEAKYRELU && *act != NNE_ACT_HARDSIGMOID && !(kind == FK_CONV && *act == NNE_ACT_CLIP))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "activation \"%s\" is not one of com.microsoft's (use domain ai.nnedge)", name);
    int need = *act == NNE_ACT_LEAKYRELU ? 1 : *act == NNE_ACT_CLIP || *act == NNE_ACT_HARDSIGMOID ? 2 : 0;
    if (kind == FK_GEMM) {
        *alpha = nne_attr_f(ctx, "activation_alpha", *act == NNE_ACT_LEAKYRELU ? 0.01f : 0.2f);
        *beta = nne_attr_f(ctx, "activation_beta", 0.5f);
        return NNE_OK;
    }
    const float *p = NULL;
    int np = nne_attr_floats(ctx, "activation_params", &p);
    if (need && np != need)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "activation %s needs %d activation_params, got %d", name, need,
                            np < 0 ? 0 : np);
    if (need >= 1) *alpha = p[0];
    if (need >= 2) *beta = p[1];
    return NNE_OK;
}

static int same_shape(const nne_tensor *a, const nne_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* Checks of the epilogue's inputs once Y is declared. */
static nne_status check_epilogue(nne_op_ctx *ctx, int kind) {
    const nne_tensor *Y = nne_ctx_output_get(ctx, 0);
    if (!Y) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "the node has no output");
    if (Y->dtype != NNE_DTYPE_FLOAT)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported (float only)",
                            nne_dtype_name(Y->dtype));
    const nne_tensor *Z = nne_ctx_input(ctx, kind == FK_GEMM ? -1 : 3);
    if (Z && (Z->dtype != Y->dtype || !same_shape(Z, Y))) {
        char a[96], b[96];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "Z is %s %s, expected Y's %s %s", nne_dtype_name(Z->dtype),
                            nne_dims_str(Z->ndim, Z->dims, a, sizeof a), nne_dtype_name(Y->dtype),
                            nne_dims_str(Y->ndim, Y->dims, b, sizeof b));
    }
    const nne_tensor *bias = kind == FK_MATMUL ? nne_ctx_input(ctx, 2) : NULL;
    if (bias && (bias->dtype != Y->dtype || bias->ndim != 1 || Y->ndim < 1 || bias->dims[0] != Y->dims[Y->ndim - 1]))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "bias must be a float vector of Y's last dimension");
    return NNE_OK;
}

static nne_status fused_infer_k(nne_op_ctx *ctx, int kind, int ort) {
    const nne_op_def *op = inner_op(kind);
    if (!op || op->eval || !op->infer || !op->run)
        return nne_ctx_fail(ctx, NNE_ERR_INTERNAL, "the inner op is not a phased op");
    int act;
    float al, be;
    NNE_TRY(parse_act(ctx, kind, ort, &act, &al, &be));
    nne_ctx_set_inner_opset(ctx, FUSED_ONNX_OPSET);
    NNE_TRY(op->infer(ctx));
    return check_epilogue(ctx, kind);
}

static nne_status fused_plan_k(nne_op_ctx *ctx, void *state, int kind, int ort) {
    fused_state *st = state;
    const nne_op_def *op = inner_op(kind);
    if (!op || op->eval || !op->run) return nne_ctx_fail(ctx, NNE_ERR_INTERNAL, "the inner op is not a phased op");
    if (op->state_size > FUSED_INNER_MAX)
        return nne_ctx_fail(ctx, NNE_ERR_INTERNAL, "the inner op's state (%zu bytes) exceeds %d", op->state_size,
                            FUSED_INNER_MAX);
    st->op = op;
    st->kind = kind;
    NNE_TRY(parse_act(ctx, kind, ort, &st->act, &st->alpha, &st->beta));
    NNE_TRY(check_epilogue(ctx, kind));
    /* the inner op plans into the start of this state: nne_ctx_plan_state
     * gives it the same block when its infer fills the state */
    nne_ctx_set_inner_opset(ctx, FUSED_ONNX_OPSET);
    NNE_TRY(op->plan ? op->plan(ctx, st->inner) : op->infer(ctx));
    st->has_bias = kind == FK_MATMUL && nne_ctx_input(ctx, 2);
    st->has_res = kind != FK_GEMM && nne_ctx_input(ctx, 3);
    return NNE_OK;
}

/*
 * The epilogue on a finished output, fast: the activation is chosen once per
 * row, not per element, and the cheap ones are plain expressions the
 * compiler vectorizes (the reference nne_epilogue_apply_f32 calls a switch
 * and libm's fminf/fmaxf per element, which made a fused Conv slower than
 * Conv plus a separate activation op). Same operations in the same order as
 * the reference, so the results are identical (NaN inputs aside).
 */
void nne_fused_epilogue_f32(const nne_epilogue *e, float *y, int64_t rows, int64_t cols) {
    const float al = e->alpha, be = e->beta;
    for (int64_t r = 0; r < rows; r++) {
        float *restrict yr = y + r * cols;
        if (e->bias) {
            if (e->bias_per_col)
                for (int64_t c = 0; c < cols; c++) yr[c] += e->bias[c];
            else
                for (int64_t c = 0; c < cols; c++) yr[c] += e->bias[r];
        }
        if (e->residual) {
            const float *restrict z = e->residual + r * e->ld_res;
            for (int64_t c = 0; c < cols; c++) yr[c] += z[c];
        }
        switch (e->act) {
        case NNE_ACT_NONE: break;
        case NNE_ACT_RELU:
            for (int64_t c = 0; c < cols; c++) yr[c] = yr[c] > 0.0f ? yr[c] : 0.0f;
            break;
        case NNE_ACT_CLIP:
            for (int64_t c = 0; c < cols; c++) {
                float v = yr[c];
                yr[c] = v < al ? al : v > be ? be : v;
            }
            break;
        case NNE_ACT_LEAKYRELU:
            for (int64_t c = 0; c < cols; c++) yr[c] = yr[c] >= 0.0f ? yr[c] : al * yr[c];
            break;
        case NNE_ACT_HARDSIGMOID:
            for (int64_t c = 0; c < cols; c++) {
                float t = al * yr[c] + be;
                t = t < 1.0f ? t : 1.0f;
                yr[c] = t > 0.0f ? t : 0.0f;
            }
            break;
        case NNE_ACT_HARDSWISH:
            for (int64_t c = 0; c < cols; c++) {
                float v = yr[c], t = v * (1.0f / 6.0f) + 0.5f;
                t = t < 1.0f ? t : 1.0f;
                t = t > 0.0f ? t : 0.0f;
                yr[c] = v * t;
            }
            break;
        default: /* the transcendental ones cost their libm call either way */
            for (int64_t c = 0; c < cols; c++) yr[c] = nne_act_f32(e->act, al, be, yr[c]);
            break;
        }
    }
}

static nne_status fused_run(const void *state, const nne_kernel_args *a) {
    const fused_state *st = state;
    nne_kernel_args in = *a;
    if (st->kind == FK_MATMUL && in.n_in > 2) in.n_in = 2; /* MatMul sees A, B */
    if (st->kind == FK_CONV && in.n_in > 3) in.n_in = 3;   /* Conv sees X, W, B */
    nne_tensor *Y = a->out[0];
    if (st->kind == FK_CONV) {
        /* the Conv kernels apply the epilogue per output tile, while it is
         * still in cache: rows are the N*M channel planes of Y */
        int64_t planes = Y->ndim >= 2 ? Y->dims[0] * Y->dims[1] : 0;
        nne_epilogue ce = {.act = st->act, .alpha = st->alpha, .beta = st->beta};
        if (st->has_res && planes) {
            ce.residual = a->in[3]->data;
            ce.ld_res = nne_tensor_numel(Y) / planes;
        }
        return nne_conv_run_ep(st->inner, &in, &ce);
    }
    NNE_TRY(st->op->run(st->inner, &in));
    int64_t n = nne_tensor_numel(Y);
    if (n == 0) return NNE_OK;
    int64_t cols = st->kind == FK_CONV ? (Y->dims[0] && Y->dims[1] ? n / (Y->dims[0] * Y->dims[1]) : 0)
                                       : Y->dims[Y->ndim - 1];
    if (cols <= 0) return NNE_OK;
    nne_epilogue e = {.act = st->act, .alpha = st->alpha, .beta = st->beta};
    if (st->has_bias) {
        e.bias = a->in[2]->data;
        e.bias_per_col = 1;
    }
    if (st->has_res) {
        e.residual = a->in[3]->data;
        e.ld_res = cols;
    }
    nne_fused_epilogue_f32(&e, Y->data, n / cols, cols);
    return NNE_OK;
}

static void fused_free(void *state) {
    fused_state *st = state;
    if (st->op && st->op->state_free) st->op->state_free(st->inner);
}

static int64_t fused_macs_k(nne_op_ctx *ctx, int kind) {
    const nne_op_def *op = inner_op(kind);
    nne_ctx_set_inner_opset(ctx, FUSED_ONNX_OPSET);
    return op && op->macs ? op->macs(ctx) : 0;
}

#define FUSED_FNS(nm, kind, ort)                                                                               \
    static nne_status nm##_infer(nne_op_ctx *ctx) { return fused_infer_k(ctx, kind, ort); }                   \
    static nne_status nm##_plan(nne_op_ctx *ctx, void *st) { return fused_plan_k(ctx, st, kind, ort); }       \
    static int64_t nm##_macs(nne_op_ctx *ctx) { return fused_macs_k(ctx, kind); }

FUSED_FNS(ms_conv, FK_CONV, 1)
FUSED_FNS(ms_gemm, FK_GEMM, 1)
FUSED_FNS(nn_conv, FK_CONV, 0)
FUSED_FNS(nn_gemm, FK_GEMM, 0)
FUSED_FNS(nn_matmul, FK_MATMUL, 0)

#define NNE_OP_FUSED(sym, dom, type, nm)                                                                          \
    NNE_OP_DEFINE(sym, dom, type, .infer = nm##_infer, .plan = nm##_plan, .run = fused_run,                   \
                  .state_free = fused_free, .state_size = sizeof(fused_state), .macs = nm##_macs)

NNE_OP_FUSED(MsFusedConv, "com.microsoft", "FusedConv", ms_conv);
NNE_OP_FUSED(MsFusedGemm, "com.microsoft", "FusedGemm", ms_gemm);
NNE_OP_FUSED(NneFusedConv, "ai.nnedge", "FusedConv", nn_conv);
NNE_OP_FUSED(NneFusedGemm, "ai.nnedge", "FusedGemm", nn_gemm);
NNE_OP_FUSED(NneFusedMatMul, "ai.nnedge", "FusedMatMul", nn_matmul);

/* com.microsoft Gelu (ONNX Runtime's contrib op, what the pattern pass
 * writes for models older than ONNX's own Gelu of opset 20): the erf form,
 * float only. */
static nne_status ms_gelu_infer(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (X->dtype != NNE_DTYPE_FLOAT)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported (float only)", nne_dtype_name(X->dtype));
    nne_tensor *Y;
    return nne_ctx_output_like(ctx, 0, X, &Y);
}

static nne_status ms_gelu_run_k(const nne_kernel_args *a, int act) {
    const float *x = a->in[0]->data;
    float *y = a->out[0]->data;
    int64_t n = nne_tensor_numel(a->out[0]);
    for (int64_t i = 0; i < n; i++) y[i] = nne_act_f32(act, 0.0f, 0.0f, x[i]);
    return NNE_OK;
}
static nne_status ms_gelu_run(const void *state, const nne_kernel_args *a) { return ms_gelu_run_k(a, NNE_ACT_GELU); }
static nne_status ms_fastgelu_run(const void *state, const nne_kernel_args *a) {
    return ms_gelu_run_k(a, NNE_ACT_GELU_TANH);
}
/* FastGelu's optional bias input is not supported (the pass never writes it) */
static nne_status ms_fastgelu_infer(nne_op_ctx *ctx) {
    if (nne_ctx_input(ctx, 1)) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "the bias input is not supported");
    return ms_gelu_infer(ctx);
}

NNE_OP_DEFINE(MsGelu, "com.microsoft", "Gelu", .infer = ms_gelu_infer, .run = ms_gelu_run);
/* com.microsoft FastGelu: the tanh approximation of GELU */
NNE_OP_DEFINE(MsFastGelu, "com.microsoft", "FastGelu", .infer = ms_fastgelu_infer, .run = ms_fastgelu_run);
