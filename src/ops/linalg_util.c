/*
 * linalg_util.c - helpers of the linalg group of ops (Gemm, MatMul, Reduce*,
 * Softmax, CumSum, quantization, losses...): dtype checks, products, round
 * half to even, packing B for the blocked GEMM. Element loads and stores
 * are core/dtype_io.c's.
 */
#include "ops/linalg_util.h"

#include <math.h>
#include <string.h>

int nne_la_dtype_ok(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: case NNE_DTYPE_DOUBLE: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16:
    case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16:
    case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: case NNE_DTYPE_INT64: case NNE_DTYPE_UINT64:
    case NNE_DTYPE_BOOL:
        return 1;
    default:
        return 0;
    }
}

nne_status nne_la_check_dtype(nne_op_ctx *ctx, const char *what, nne_dtype dt, const nne_dtype *ok) {
    for (const nne_dtype *p = ok; *p != NNE_DTYPE_UNDEFINED; p++) {
        if (*p == dt) return NNE_OK;
    }
    return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%s: dtype %s not supported", what,
                        nne_dtype_name(dt));
}

int64_t nne_la_prod(const int64_t *dims, int a, int b) {
    int64_t p = 1;
    for (int i = a; i < b; i++) p *= dims[i];
    return p;
}

double nne_la_round_even(double x) {
    return nearbyint(x); /* default rounding mode: to nearest, ties to even */
}
