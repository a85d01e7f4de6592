/*
 * elemwise_bitcast.c - BitCast (opset 26): reinterprets the bytes of a tensor as
 * another dtype of the same width ("to" attribute); the shape is kept.
 * nnedge stores tensors little-endian, as the spec requires.
 */
#include "ops/op.h"

#include <string.h>

static nne_status bitcast_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input is required");
    if (!nne_attr_has(ctx, "to")) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute to is required");
    int64_t to = nne_attr_i(ctx, "to", 0);
    size_t si = nne_dtype_size(x->dtype), so = to > 0 && to < 64 ? nne_dtype_size((nne_dtype)to) : 0;
    if (!si) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "input dtype %s not supported", nne_dtype_name(x->dtype));
    if (!so) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "target dtype %lld not supported", (long long)to);
    if (si != so)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s (%zu bytes) and %s (%zu bytes) differ in width",
                            nne_dtype_name(x->dtype), si, nne_dtype_name((nne_dtype)to), so);
    nne_tensor *y;
    int64_t dims[NNE_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = x->dims[i];
    return nne_ctx_output(ctx, 0, (nne_dtype)to, x->ndim, dims, &y);
}

/* A byte copy: no state. */
static nne_status bitcast_kernel(const void *state, const nne_kernel_args *a) {
    (void)state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    size_t nb = nne_tensor_nbytes(x);
    if (nb && y->data != x->data) memmove(y->data, x->data, nb);
    return NNE_OK;
}

NNE_OP_DEFINE(BitCast, "", "BitCast", .infer = bitcast_run, .run = bitcast_kernel);
