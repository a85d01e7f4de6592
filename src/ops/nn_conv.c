/*
 * nn_conv.c - Conv and ConvTranspose (all opsets: 1, 11, 22).
 *
 * Validates shapes and attributes, computes the output geometry (explicit
 * pads, auto_pad, output_padding / output_shape for ConvTranspose) and calls
 * the kernels. Both are phased. ConvTranspose's plan parses the attributes
 * and geometry once and converts constant half-precision weights once; its
 * run calls the reference transposed-conv kernel. Conv's plan parses the attributes once, chooses the
 * algorithm for the layer's shape (kernels/conv_fast.h: depthwise, direct
 * 1x1, implicit GEMM; the table's conv kernel when there is no SGEMM family,
 * i.e. under NNE_FORCE_REFERENCE; depthwise 2-d convs and 1x1 convs of 1x1
 * images (squeeze-excitation) run the vector kernels of kernels/vec.h), packs constant weights once (model
 * cache; half-precision ones converted first) and runs on the plan's thread
 * pool. float and double run natively; float16 and bfloat16 are converted to
 * float in scratch and back. nn_conv.h lets fused Conv nodes reuse the
 * phases with an epilogue.
 */
#include "train/train.h"
#include "kernels/conv_fast.h"
#include "kernels/dispatch.h"
#include "kernels/vec.h"
#include "ops/linalg_util.h"
#include "ops/nn_conv.h"
#include "ops/nn_util.h"

#include <string.h>

/* Common checks on X, W, B; fills dt. */
static nne_status conv_check_inputs(nne_op_ctx *ctx, const nne_tensor *X, const nne_tensor *W,
                                    const nne_tensor *B, nne_dtype *dt) {
    if (!X || !W) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs X and W are required");
    if (!nn_is_float_dtype(X->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (W->dtype != X->dtype || (B && B->dtype != X->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X is %s but W is %s%s%s",
                            nne_dtype_name(X->dtype), nne_dtype_name(W->dtype), B ? " and B is " : "",
                            B ? nne_dtype_name(B->dtype) : "");
    if (X->ndim < 3 || X->ndim - 2 > NNE_CONV_MAX_SP)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X has rank %d, expected 3..%d", X->ndim,
                            NNE_CONV_MAX_SP + 2);
    if (W->ndim != X->ndim)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "W has rank %d, expected %d like X", W->ndim,
                            X->ndim);
    *dt = X->dtype;
    return NNE_OK;
}

/* Scratch layout for running a float kernel on any float dtype. */
typedef struct conv_buf {
    size_t kern, x, w, b, y; /* offsets */
    size_t kern_n, x_n, w_n, b_n, y_n; /* bytes */
} conv_buf;

static void conv_buf_plan(nn_carve *c, conv_buf *cb, nne_dtype dt, size_t kern_bytes,
                          const nne_tensor *X, const nne_tensor *W, const nne_tensor *B,
                          const nne_tensor *Y) {
    int cvt = dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
    cb->kern_n = kern_bytes;
    cb->x_n = cvt ? nn_f32_copy_bytes(X) : 0;
    cb->w_n = cvt ? nn_f32_copy_bytes(W) : 0;
    cb->b_n = cvt && B ? nn_f32_copy_bytes(B) : 0;
    cb->y_n = cvt ? nn_f32_copy_bytes(Y) : 0;
    cb->kern = nn_carve_add(c, cb->kern_n);
    cb->x = nn_carve_add(c, cb->x_n);
    cb->w = nn_carve_add(c, cb->w_n);
    cb->b = nn_carve_add(c, cb->b_n);
    cb->y = nn_carve_add(c, cb->y_n);
}

/* Conv, in phases. infer and plan share conv_parse: checks and geometry. */
static nne_status conv_parse(nne_op_ctx *ctx, nne_conv_desc *p, nne_dtype *dt) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1);
    const nne_tensor *B = nne_ctx_input(ctx, 2);
    NNE_TRY(conv_check_inputs(ctx, X, W, B, dt));
    int nsp = X->ndim - 2;
    int64_t C = X->dims[1], M = W->dims[0], G;
    NNE_TRY(nn_conv_group(ctx, C, M, W->dims[1], &G));
    if (B && (B->ndim != 1 || B->dims[0] != M))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "B must have shape [%lld]", (long long)M);
    nn_geom g;
    g.nsp = nsp;
    for (int i = 0; i < nsp; i++) g.in[i] = X->dims[2 + i];
    NNE_TRY(nn_geom_conv(ctx, &g, W->dims + 2, 0));
    memset(p, 0, sizeof *p);
    p->nsp = nsp;
    p->N = X->dims[0];
    p->C = C;
    p->M = M;
    p->G = G;
    for (int i = 0; i < nsp; i++) {
        p->in[i] = g.in[i];
        p->out[i] = g.out[i];
        p->k[i] = g.k[i];
        p->s[i] = g.s[i];
        p->d[i] = g.d[i];
        p->pb[i] = g.pb[i];
    }
    return NNE_OK;
}

nne_status nne_conv_infer(nne_op_ctx *ctx) {
    nne_conv_desc p;
    nne_dtype dt;
    NNE_TRY(conv_parse(ctx, &p, &dt));
    int64_t od[NNE_MAX_DIMS];
    od[0] = p.N;
    od[1] = p.M;
    for (int i = 0; i < p.nsp; i++) od[2 + i] = p.out[i];
    nne_tensor *Y;
    return nne_ctx_output(ctx, 0, dt, p.nsp + 2, od, &Y);
}

struct nne_conv_state {
    nne_conv_desc p;
    nne_dtype dt;
    conv_buf cb;
    nne_conv_f32_fn k32;  /* from the kernel table (no SGEMM family) */
    const float *w32;     /* float16/bfloat16 weights converted once (cached), or NULL */
    int fast;             /* cf is used */
    nne_conv_fast cf;
    const float *pw;      /* W packed for cf (constant weights), or NULL */
    const nne_vec_ops *dw; /* depthwise convs: the vector kernel (kernels/vec.h), or NULL */
    const nne_vec_ops *mv; /* 1x1 convs of 1x1 images: the vector matrix-vector kernel, or NULL */
    const void *sp;        /* pruned 1x1 convs: W in CSR (kernels/spmm.h), or NULL */
    const nne_vec_ops *spv; /* and the sparse kernel */
};
typedef nne_conv_state conv_state;
_Static_assert(sizeof(conv_state) <= NNE_CONV_STATE_SIZE, "NNE_CONV_STATE_SIZE in nn_conv.h is too small");

size_t nne_conv_state_size(void) { return sizeof(conv_state); }

typedef struct conv_pack_src {
    const nne_conv_fast *cf;
    const nne_conv_desc *p;
    const float *w;
} conv_pack_src;

static void conv_pack_fast(void *user, void *buf) {
    const conv_pack_src *s = user;
    nne_conv_fast_pack_w(s->cf, s->p, s->w, buf);
}

static void conv_pack_w32(void *user, void *buf) {
    const nne_tensor *W = user;
    nne_load_f32(W, 0, 1, nne_tensor_numel(W), buf);
}

nne_status nne_conv_plan(nne_op_ctx *ctx, void *state) {
    conv_state *st = state;
    NNE_TRY(conv_parse(ctx, &st->p, &st->dt));
    const nne_kernel_table *kt = nne_kernels();
    st->k32 = kt->conv_f32;
    st->fast = st->dt != NNE_DTYPE_DOUBLE && nne_conv_fast_plan(kt->sgemm, &st->p, &st->cf);
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1), *B = nne_ctx_input(ctx, 2);
    const nne_tensor *Y = nne_ctx_output_get(ctx, 0);
    int cvt = st->dt == NNE_DTYPE_FLOAT16 || st->dt == NNE_DTYPE_BFLOAT16;
    if (cvt && nne_ctx_input_is_initializer(ctx, 1)) {
        /* convert constant half-precision weights once per model, not per run */
        st->w32 = nne_ctx_packed_weight(ctx, W->data, 0x636f6e7633326677ull /* "conv32fw" */,
                                        (size_t)nne_tensor_numel(W) * sizeof(float), conv_pack_w32, (void *)W);
        if (!st->w32) return NNE_ERR_OUT_OF_MEMORY;
    }
    st->sp = NULL;
    st->spv = NULL;
    if (st->fast && st->cf.algo == NNE_CONV_POINTWISE && st->p.G == 1 && st->dt == NNE_DTYPE_FLOAT)
        /* a pruned 1x1 conv runs sparse where that was measured faster */
        NNE_TRY(nne_la_sparse_weights(ctx, 1, st->p.M, st->p.C, st->p.C, 1, st->cf.outsp, 0, &st->sp, &st->spv));
    if (st->fast && !st->sp && nne_conv_fast_packs_w(&st->cf) && nne_ctx_input_is_initializer(ctx, 1) &&
        (st->dt == NNE_DTYPE_FLOAT || st->w32)) {
        /* the weights as the GEMM's packed A (or Winograd-transformed),
         * once per model; the tag names the layout (variant, algorithm,
         * groups): plans of other input sizes may pick another algorithm
         * for the same W */
        conv_pack_src src = {&st->cf, &st->p, st->w32 ? st->w32 : (const float *)W->data};
        uint64_t tag = 0x636f6e7670616b00ull /* "convpak" */ ^ ((uint64_t)st->cf.ops->isa << 48) ^
                       ((uint64_t)st->cf.algo << 40) ^ ((uint64_t)st->p.G << 8);
        st->pw = nne_ctx_packed_weight(ctx, W->data, tag, nne_conv_fast_packed_w_bytes(&st->cf, &st->p),
                                       conv_pack_fast, &src);
        if (!st->pw) return NNE_ERR_OUT_OF_MEMORY;
    }
    st->dw = st->mv = NULL;
    if (st->fast && st->cf.algo == NNE_CONV_DEPTHWISE && nne_vec_dwconv_supported(nne_vec(), &st->p))
        st->dw = nne_vec();
    if (st->fast && !st->sp && nne_vec_conv1x1_supported(nne_vec(), &st->p)) st->mv = nne_vec();
    nn_carve c = {0};
    size_t kb = st->dt == NNE_DTYPE_DOUBLE ? nne_conv_scratch_f64(&st->p)
                : st->dw                   ? nne_vec_dwconv_scratch(st->dw, &st->p)
                : st->mv || st->sp         ? 0
                : st->fast                 ? nne_conv_fast_scratch(&st->cf, &st->p)
                                           : kt->conv_f32_scratch(&st->p);
    conv_buf_plan(&c, &st->cb, st->dt, kb, X, W, B, Y);
    if (st->w32) st->cb.w_n = 0; /* no per-run copy of W */
    nn_scratch(ctx, &c);
    return NNE_OK;
}

/* The float kernel: conv_fast with the epilogue, or the table's conv and
 * the reference epilogue after it. */
static void conv_f32(const conv_state *st, const nne_kernel_args *a, const float *x, const float *w,
                     const float *b, float *y, void *ks, const nne_epilogue *ep) {
    if (st->dw) {
        nne_vec_dwconv_run(st->dw, &st->p, x, w, b, ep, y, ks, nne_ctx_pool(a->ctx));
        return;
    }
    if (st->mv) {
        nne_vec_conv1x1_run(st->mv, &st->p, x, w, b, ep, y, nne_ctx_pool(a->ctx));
        return;
    }
    if (st->sp) {
        /* per image: Y (M x pixels) = W (sparse M x C) * X (C x pixels) */
        nne_spmat sm = nne_spmat_view(st->sp);
        int64_t sp = st->cf.outsp;
        for (int64_t n = 0; n < st->p.N; n++) {
            nne_epilogue e;
            if (ep) {
                e = *ep;
                if (e.residual) e.residual += n * st->p.M * e.ld_res;
            }
            nne_spmm_run(st->spv, &sm, x + n * st->p.C * sp, sp, sp, y + n * st->p.M * sp, sp, b, ep ? &e : NULL,
                         nne_ctx_pool(a->ctx));
        }
        return;
    }
    if (st->fast) {
        nne_conv_fast_run(&st->cf, &st->p, x, w, st->pw, b, ep, y, ks, nne_ctx_pool(a->ctx));
        return;
    }
    st->k32(&st->p, x, w, b, y, ks);
    int64_t rows = st->p.N * st->p.M;
    if (ep && rows) nne_conv_epilogue_apply(ep, y, st->p.N, st->p.M, nne_tensor_numel(a->out[0]) / rows);
}

nne_status nne_conv_run_ep(const void *state, const nne_kernel_args *a, const nne_epilogue *ep) {
    const conv_state *st = state;
    const conv_buf *cb = &st->cb;
    const nne_tensor *X = a->in[0], *W = a->in[1], *B = a->n_in > 2 ? a->in[2] : NULL;
    nne_tensor *Y = a->out[0];
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    void *base = a->scratch;
    void *ks = nn_carve_ptr(base, cb->kern, cb->kern_n);
    if (!ks) ks = base;
    if (st->dt == NNE_DTYPE_DOUBLE) {
        nne_conv_f64(&st->p, X->data, W->data, B ? B->data : NULL, Y->data, ks);
    } else if (st->dt == NNE_DTYPE_FLOAT) {
        conv_f32(st, a, X->data, W->data, B ? B->data : NULL, Y->data, ks, ep);
    } else {
        const float *x = nn_f32_view(X, (float *)nn_carve_ptr(base, cb->x, cb->x_n));
        const float *w = st->w32 ? st->w32 : nn_f32_view(W, (float *)nn_carve_ptr(base, cb->w, cb->w_n));
        const float *b = B ? nn_f32_view(B, (float *)nn_carve_ptr(base, cb->b, cb->b_n)) : NULL;
        float *y = (float *)nn_carve_ptr(base, cb->y, cb->y_n);
        conv_f32(st, a, x, w, b, y, ks, ep);
        nne_store_f32(Y, 0, 1, nne_tensor_numel(Y), y, NNE_CVT_RNE);
    }
    return NNE_OK;
}

static nne_status conv_run(const void *state, const nne_kernel_args *a) { return nne_conv_run_ep(state, a, NULL); }

/* MACs of Conv-like ops: every output element takes (input channels per
 * group) x (kernel taps) products; w is the weight input. */
int64_t nne_macs_conv(nne_op_ctx *ctx, int w_input) {
    const nne_tensor *W = nne_ctx_input(ctx, w_input), *Y = nne_ctx_output_get(ctx, 0);
    if (!W || !Y || W->ndim < 1 || Y->ndim < 0) return 0;
    return nne_tensor_numel(Y) * (nne_tensor_numel(W) / (W->dims[0] ? W->dims[0] : 1));
}
static int64_t conv_macs(nne_op_ctx *ctx) { return nne_macs_conv(ctx, 1); }

/* ConvTranspose: every input element scatters into (output channels per
 * group) x taps outputs. */
static int64_t convt_macs(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1);
    if (!X || !W || W->ndim < 1) return 0;
    return nne_tensor_numel(X) * (nne_tensor_numel(W) / (W->dims[0] ? W->dims[0] : 1));
}

/* ConvTranspose, in phases. infer and plan share convt_parse: checks,
 * attributes (strides, dilations, pads, auto_pad, output_padding,
 * output_shape) and the output geometry. */
static nne_status convt_parse(nne_op_ctx *ctx, nne_conv_desc *p, nne_dtype *dt) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1);
    const nne_tensor *B = nne_ctx_input(ctx, 2);
    NNE_TRY(conv_check_inputs(ctx, X, W, B, dt));
    int nsp = X->ndim - 2;
    int64_t G = nne_attr_i(ctx, "group", 1);
    int64_t C = X->dims[1];
    if (G < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "group=%lld, expected >= 1", (long long)G);
    if (W->dims[0] != C)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "W.shape[0]=%lld != input channels %lld",
                            (long long)W->dims[0], (long long)C);
    if (C % G != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "group=%lld does not divide the %lld input channels", (long long)G,
                            (long long)C);
    int64_t M;
    if (__builtin_mul_overflow(W->dims[1], G, &M))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "W.shape[1]=%lld * group=%lld output channels overflow",
                            (long long)W->dims[1], (long long)G);
    if (B && (B->ndim != 1 || B->dims[0] != M))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "B must have shape [%lld]", (long long)M);

    int64_t k[NNE_CONV_MAX_SP], s[NNE_CONV_MAX_SP], d[NNE_CONV_MAX_SP], op[NNE_CONV_MAX_SP];
    int64_t pads[2 * NNE_CONV_MAX_SP];
    const int64_t *ks = NULL;
    int nks = nne_attr_ints(ctx, "kernel_shape", &ks);
    for (int i = 0; i < nsp; i++) {
        k[i] = W->dims[2 + i];
        if (nks > 0 && ks && (nks != nsp || ks[i] != k[i]))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "kernel_shape does not match the weights' spatial shape");
    }
    NNE_TRY(nn_attr_ints_n(ctx, "strides", nsp, 1, 1, s));
    NNE_TRY(nn_attr_ints_n(ctx, "dilations", nsp, 1, 1, d));
    NNE_TRY(nn_attr_ints_n(ctx, "output_padding", nsp, 0, 0, op));
    NNE_TRY(nn_attr_ints_n(ctx, "pads", 2 * nsp, 0, 0, pads));
    int ap;
    NNE_TRY(nn_auto_pad(ctx, &ap));
    const int64_t *os = NULL;
    int nos = nne_attr_ints(ctx, "output_shape", &os);
    if (nos > 0 && os && nos != nsp && nos != nsp + 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "output_shape has %d values, expected %d",
                            nos, nsp);
    if (nos == nsp + 2) os += 2;

    memset(p, 0, sizeof *p);
    p->nsp = nsp;
    p->N = X->dims[0];
    p->C = C;
    p->M = M;
    p->G = G;
    for (int i = 0; i < nsp; i++) {
        int64_t in = X->dims[2 + i];
        int64_t ek = (k[i] - 1) * d[i] + 1;
        int64_t full = s[i] * (in - 1) + op[i] + ek; /* size with no padding */
        int64_t out, pb;
        if (nos > 0 && os) {
            out = os[i];
            int64_t total = full - out;
            /* floor division, as in the ONNX reference (total may be < 0) */
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            pb = ap == NN_PAD_SAME_UPPER ? half : total - half;
        } else if (ap == NN_PAD_SAME_UPPER || ap == NN_PAD_SAME_LOWER) {
            out = in * s[i];
            int64_t total = full - out;
            if (total < 0) total = 0;
            pb = ap == NN_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        } else if (ap == NN_PAD_VALID) {
            out = full;
            pb = 0;
        } else {
            pb = pads[i];
            out = full - pads[i] - pads[i + nsp];
        }
        if (out < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "output size %lld on spatial axis %d is negative (pads too large)",
                                (long long)out, i);
        p->in[i] = in;
        p->out[i] = out;
        p->k[i] = k[i];
        p->s[i] = s[i];
        p->d[i] = d[i];
        p->pb[i] = pb;
    }
    return NNE_OK;
}

static nne_status convt_infer(nne_op_ctx *ctx) {
    nne_conv_desc p;
    nne_dtype dt;
    NNE_TRY(convt_parse(ctx, &p, &dt));
    int64_t od[NNE_MAX_DIMS];
    od[0] = p.N;
    od[1] = p.M;
    for (int i = 0; i < p.nsp; i++) od[2 + i] = p.out[i];
    nne_tensor *Y;
    return nne_ctx_output(ctx, 0, dt, p.nsp + 2, od, &Y);
}

typedef struct convt_state {
    nne_conv_desc p;
    nne_dtype dt;
    conv_buf cb;
    const float *w32; /* float16/bfloat16 weights converted once (cached), or NULL */
} convt_state;

static nne_status convt_plan(nne_op_ctx *ctx, void *state) {
    convt_state *st = state;
    NNE_TRY(convt_parse(ctx, &st->p, &st->dt));
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1), *B = nne_ctx_input(ctx, 2);
    const nne_tensor *Y = nne_ctx_output_get(ctx, 0);
    int cvt = st->dt == NNE_DTYPE_FLOAT16 || st->dt == NNE_DTYPE_BFLOAT16;
    if (cvt && nne_ctx_input_is_initializer(ctx, 1)) {
        /* the same conversion as Conv's: the cache entry is shared */
        st->w32 = nne_ctx_packed_weight(ctx, W->data, 0x636f6e7633326677ull /* "conv32fw" */,
                                        (size_t)nne_tensor_numel(W) * sizeof(float), conv_pack_w32, (void *)W);
        if (!st->w32) return NNE_ERR_OUT_OF_MEMORY;
    }
    size_t kb = st->dt == NNE_DTYPE_DOUBLE ? nne_convt_scratch_f64(&st->p) : nne_convt_scratch_f32(&st->p);
    nn_carve c = {0};
    conv_buf_plan(&c, &st->cb, st->dt, kb, X, W, B, Y);
    if (st->w32) st->cb.w_n = 0; /* no per-run copy of W */
    nn_scratch(ctx, &c);
    return NNE_OK;
}

static nne_status convt_run(const void *state, const nne_kernel_args *a) {
    const convt_state *st = state;
    const conv_buf *cb = &st->cb;
    const nne_tensor *X = a->in[0], *W = a->in[1], *B = a->n_in > 2 ? a->in[2] : NULL;
    nne_tensor *Y = a->out[0];
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    void *base = a->scratch;
    void *ks = nn_carve_ptr(base, cb->kern, cb->kern_n);
    if (!ks) ks = base;
    if (st->dt == NNE_DTYPE_DOUBLE) {
        nne_convt_f64(&st->p, X->data, W->data, B ? B->data : NULL, Y->data, ks);
    } else if (st->dt == NNE_DTYPE_FLOAT) {
        nne_convt_f32(&st->p, X->data, W->data, B ? B->data : NULL, Y->data, ks);
    } else {
        const float *x = nn_f32_view(X, (float *)nn_carve_ptr(base, cb->x, cb->x_n));
        const float *w = st->w32 ? st->w32 : nn_f32_view(W, (float *)nn_carve_ptr(base, cb->w, cb->w_n));
        const float *b = B ? nn_f32_view(B, (float *)nn_carve_ptr(base, cb->b, cb->b_n)) : NULL;
        float *y = (float *)nn_carve_ptr(base, cb->y, cb->y_n);
        nne_convt_f32(&st->p, x, w, b, y, ks);
        nne_store_f32(Y, 0, 1, nne_tensor_numel(Y), y, NNE_CVT_RNE);
    }
    return NNE_OK;
}

NNE_OP_DEFINE(Conv, "", "Conv", .infer = nne_conv_infer, .plan = nne_conv_plan, .run = conv_run,
              .state_size = sizeof(conv_state), .macs = conv_macs, .gradient = &nne_grad_Conv);
NNE_OP_DEFINE(ConvTranspose, "", "ConvTranspose", .infer = convt_infer, .plan = convt_plan, .run = convt_run,
              .state_size = sizeof(convt_state), .macs = convt_macs);
