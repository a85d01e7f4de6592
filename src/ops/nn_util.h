/*
 * nn_util.h - helpers shared by the neural-network ops (conv, pooling,
 * normalization, resize): float conversion of any numeric tensor, scratch
 * carving, and the spatial geometry (kernel, strides, dilations, pads,
 * auto_pad) that Conv and the pooling ops share.
 */
#ifndef NNE_OPS_NN_UTIL_H
#define NNE_OPS_NN_UTIL_H

#include "ops/op.h"

/* ---- dtype conversion ----
 * Element loads and stores are core/dtype_io.h's (nne_load_f64 ...). */
#include "core/dtype_io.h"
/* Bytes of float scratch needed to hold a float copy of t (0 when t is float). */
size_t nn_f32_copy_bytes(const nne_tensor *t);
/* 1 for float, double, float16, bfloat16. */
int nn_is_float_dtype(nne_dtype dt);

/* ---- scratch carving ----
 * An op computes its scratch layout twice (shape mode and run mode) with the
 * same calls: nn_carve_add() reserves a 64-byte aligned piece and returns its
 * offset; after nne_ctx_scratch(ctx, c.total) the pieces are base + offset. */
typedef struct nn_carve {
    size_t total; /* bytes reserved so far */
} nn_carve;

static inline size_t nn_carve_add(nn_carve *c, size_t bytes) {
    size_t off = c->total; /* saturating: an overflowing layout requests SIZE_MAX and fails cleanly */
    c->total = nne_size_add(c->total, nne_size_align64(bytes));
    return off;
}
static inline void *nn_carve_ptr(void *base, size_t off, size_t bytes) {
    return (base && bytes) ? (char *)base + off : NULL;
}

/* Request the carved scratch (at least 64 bytes, so pieces never sit on a
 * NULL base in run mode). NULL in shape mode. */
static inline void *nn_scratch(nne_op_ctx *ctx, const nn_carve *c) {
    return nne_ctx_scratch(ctx, c->total < 64 ? 64 : c->total);
}

/* A float view of an input: t->data when t is float32, otherwise a converted
 * copy in `buf` (which holds nn_f32_copy_bytes(t) bytes). */
const float *nn_f32_view(const nne_tensor *t, float *buf);

/* ---- spatial geometry ---- */

#define NN_MAX_SP (NNE_MAX_DIMS - 2)

enum { NN_PAD_NOTSET = 0, NN_PAD_SAME_UPPER, NN_PAD_SAME_LOWER, NN_PAD_VALID };

typedef struct nn_geom {
    int nsp;                   /* number of spatial axes */
    int64_t in[NN_MAX_SP];     /* input spatial sizes */
    int64_t out[NN_MAX_SP];    /* output spatial sizes */
    int64_t k[NN_MAX_SP];      /* kernel sizes */
    int64_t s[NN_MAX_SP];      /* strides */
    int64_t d[NN_MAX_SP];      /* dilations */
    int64_t pb[NN_MAX_SP];     /* pads at the beginning */
    int64_t pe[NN_MAX_SP];     /* pads at the end */
} nn_geom;

/* Parse auto_pad ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"). */
nne_status nn_auto_pad(nne_op_ctx *ctx, int *out);

/* Largest kernel size, stride, dilation or pad accepted. */
#define NN_ATTR_MAX ((int64_t)1 << 31)

/* Read an optional ints attribute of exactly n values (n*2 for pads) into
 * out; absent -> every value is `def`. Values must be >= minv. */
nne_status nn_attr_ints_n(nne_op_ctx *ctx, const char *name, int n, int64_t def, int64_t minv,
                          int64_t *out);

/* Fill g for Conv / pooling: g->nsp and g->in must be set; kernel sizes are
 * taken from `kernel` when non-NULL, else from the kernel_shape attribute
 * (required then). Reads strides, dilations, pads, auto_pad and (when
 * `pool`) ceil_mode, and computes g->out, g->pb, g->pe. */
nne_status nn_geom_conv(nne_op_ctx *ctx, nn_geom *g, const int64_t *kernel, int pool);

/* The group attribute of a Conv-like node (ConvInteger, QLinearConv too)
 * with C input channels and weights of shape (M, wc, ...): checks
 * group >= 1, wc * group == C (without overflow) and that group divides M. */
nne_status nn_conv_group(nne_op_ctx *ctx, int64_t C, int64_t M, int64_t wc, int64_t *G);

/* MACs of a Conv-like node whose weights are input w_input (nn_conv.c). */
int64_t nne_macs_conv(nne_op_ctx *ctx, int w_input);

/* Product of n sizes. */
static inline int64_t nn_prod(const int64_t *v, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= v[i];
    return p;
}

#endif
