/*
 * tensor_tensorscatter.c - TensorScatter (opset 24): functional KV-cache update.
 * present = past_cache, then for every prefix index p (axes before `axis`,
 * batch b = p's first coordinate) and every step s of the update's sequence
 * axis, the inner block update[p, s, ...] is written to
 * present[p, w[b] + s, ...] (w = write_indices, zeros when absent; taken
 * modulo max_sequence_length in "circular" mode, bounds-checked in "linear").
 * Works on raw bytes, so any fixed-size dtype is supported.
 */
#include "ops/tensor_util.h"

#include <string.h>

/* TensorScatter: axis and mode parsed once per plan; write indices are data */
typedef struct tensorscatter_state {
    size_t es;
    int r;
    int axis;
    int circular;
    int64_t B;
} tensorscatter_state;

static nne_status tensorscatter_run(nne_op_ctx *ctx) {
    const nne_tensor *past = nne_ctx_input(ctx, 0), *upd = nne_ctx_input(ctx, 1);
    const nne_tensor *wi = nne_ctx_input(ctx, 2);
    char b1[96], b2[96];
    if (!past || !upd)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs past_cache and update are required");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, past->dtype, &es));
    if (upd->dtype != past->dtype)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "update is %s but past_cache is %s (must match)",
                            nne_dtype_name(upd->dtype), nne_dtype_name(past->dtype));
    int r = past->ndim, axis;
    if (r < 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "past_cache rank %d, expected >= 2", r);
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", -2), r, &axis));
    if (axis == 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axis must not be the batch axis 0");
    const char *mode = nne_attr_s(ctx, "mode", "linear");
    int circular;
    if (strcmp(mode, "linear") == 0) circular = 0;
    else if (strcmp(mode, "circular") == 0) circular = 1;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "mode \"%s\": expected linear or circular", mode);
    int same = upd->ndim == r;
    for (int i = 0; same && i < r; i++)
        if (i != axis && upd->dims[i] != past->dims[i]) same = 0;
    if (!same || upd->dims[axis] > past->dims[axis])
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "update shape %s incompatible with past_cache %s: must match except "
                            "axis %d, which must be <= %lld",
                            nne_dims_str(upd->ndim, upd->dims, b1, sizeof b1),
                            nne_dims_str(r, past->dims, b2, sizeof b2), axis,
                            (long long)past->dims[axis]);
    int64_t B = past->dims[0];
    if (wi) {
        if (!nne_dtype_is_int(wi->dtype) || wi->dtype == NNE_DTYPE_BOOL)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "write_indices dtype %s, expected int64",
                                nne_dtype_name(wi->dtype));
        if (wi->ndim != 1 || wi->dims[0] != B)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "write_indices shape %s, expected [%lld]",
                                nne_dims_str(wi->ndim, wi->dims, b1, sizeof b1), (long long)B);
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, past, &y));
    tensorscatter_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->es = es;
        st_->r = r;
        st_->axis = axis;
        st_->circular = circular;
        st_->B = B;
    }
    return NNE_OK;
}

static nne_status tensorscatter_kernel(const void *state, const nne_kernel_args *a) {
    const tensorscatter_state *st_ = state;
    const nne_tensor *past = a->in[0];
    const nne_tensor *upd = a->n_in > 1 ? a->in[1] : NULL;
    const nne_tensor *wi = a->n_in > 2 ? a->in[2] : NULL;
    nne_tensor *y = a->out[0];
    size_t es = st_->es;
    int r = st_->r;
    int axis = st_->axis;
    int circular = st_->circular;
    int64_t B = st_->B;
    nne_op_ctx *ctx = a->ctx;

    size_t nbytes = nne_tensor_nbytes(past);
    if (nbytes) memmove(y->data, past->data, nbytes);
    int64_t maxlen = past->dims[axis], seq = upd->dims[axis], inner = 1, per_batch = 1;
    for (int i = axis + 1; i < r; i++) inner *= past->dims[i];
    for (int i = 1; i < axis; i++) per_batch *= past->dims[i];
    size_t blk = (size_t)inner * es;
    if (blk == 0 || seq == 0 || B == 0 || per_batch == 0) return NNE_OK;
    size_t wsz = wi ? nne_dtype_size(wi->dtype) : 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t w = wi ? nne_ld_i64((const char *)wi->data + (size_t)b * wsz, wi->dtype, 0) : 0;
        if (circular) {
            if (maxlen == 0) continue;
            w %= maxlen;
            if (w < 0) w += maxlen;
        } else if (w < 0 || w > maxlen - seq) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "write_indices[%lld] = %lld out of range: linear mode needs "
                                "0 <= index and index + %lld <= %lld",
                                (long long)b, (long long)w, (long long)seq, (long long)maxlen);
        }
        for (int64_t p = b * per_batch; p < (b + 1) * per_batch; p++) {
            char *dst = (char *)y->data + (size_t)p * (size_t)maxlen * blk;
            const char *src = (const char *)upd->data + (size_t)p * (size_t)seq * blk;
            for (int64_t s = 0; s < seq; s++) {
                int64_t c = w + s;
                if (c >= maxlen) c -= maxlen; /* circular only */
                memcpy(dst + (size_t)c * blk, src + (size_t)s * blk, blk);
            }
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(TensorScatter, "", "TensorScatter", .infer = tensorscatter_run, .run = tensorscatter_kernel,
              .state_size = sizeof(tensorscatter_state));
