/*
 * misc_bitcast.c - BitCast (opset 26): reinterpret the bytes of a tensor as
 * another dtype of the same width (`to`); the shape is unchanged. nnedge
 * stores tensors little endian on the hosts it supports, so this is a copy.
 */
#include "ops/op.h"

#include <string.h>

static nne_status bitcast_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input is required");
    if (!nne_attr_has(ctx, "to")) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute to is required");
    int64_t to = nne_attr_i(ctx, "to", 0);
    size_t in_sz = nne_dtype_size(x->dtype);
    size_t out_sz = to > 0 && to <= 0xff ? nne_dtype_size((nne_dtype)to) : 0;
    if (in_sz == 0 || x->dtype == NNE_DTYPE_STRING)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "input dtype %s not supported", nne_dtype_name(x->dtype));
    if (out_sz == 0 || to == NNE_DTYPE_STRING)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "to = %lld (%s) not supported", (long long)to,
                            nne_dtype_name((nne_dtype)to));
    if (in_sz != out_sz)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "to = %s is %zu bits wide but the input %s is %zu bits",
                            nne_dtype_name((nne_dtype)to), out_sz * 8, nne_dtype_name(x->dtype), in_sz * 8);
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, (nne_dtype)to, x->ndim, x->dims, &y));
    if (nne_ctx_shape_only(ctx)) return NNE_OK;
    size_t nb = nne_tensor_nbytes(x);
    if (nb && y->data != x->data) memmove(y->data, x->data, nb);
    return NNE_OK;
}
NNE_OP_REGISTER(BitCast, "", "BitCast", bitcast_run, 0);
