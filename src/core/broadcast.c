/*
 * broadcast.c - numpy-style broadcasting of shapes and the strides that let a
 * kernel walk an input as if it had the broadcast shape.
 */
#include "ops/op.h"

#include <stdio.h>

nne_status nne_broadcast_shape(nne_op_ctx *ctx, int na, const int64_t *a, int nb, const int64_t *b, int *nout,
                               int64_t *out) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : a[i - (n - na)];
        int64_t db = i < n - nb ? 1 : b[i - (n - nb)];
        if (da == db || db == 1) out[i] = da;
        else if (da == 1) out[i] = db;
        else {
            char sa[256], sb[256];
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "shapes %s and %s cannot be broadcast (axis %d: %lld vs %lld)",
                                nne_dims_str(na, a, sa, sizeof sa), nne_dims_str(nb, b, sb, sizeof sb), i,
                                (long long)da, (long long)db);
        }
    }
    *nout = n;
    return NNE_OK;
}

void nne_broadcast_strides(const nne_tensor *t, int nout, const int64_t *out, int64_t *strides) {
    int64_t s = 1;
    for (int i = nout - 1; i >= 0; i--) {
        int ti = i - (nout - t->ndim);
        if (ti < 0) {
            strides[i] = 0;
            continue;
        }
        strides[i] = (t->dims[ti] == 1 && out[i] != 1) ? 0 : s;
        s *= t->dims[ti];
    }
}
