/*
 * tensor_revseq.c - ReverseSequence: for each batch entry b, reverse the
 * first sequence_lens[b] steps along the time axis and copy the rest.
 * time_axis / batch_axis are 0 and 1 in either order; the remaining axes
 * form a contiguous inner block that is moved with memcpy.
 */
#include "ops/tensor_util.h"

#include <string.h>

/* ReverseSequence: axes parsed once per plan; sequence lengths are data */
typedef struct revseq_state {
    size_t es;
    int64_t ta;
    int64_t ba;
    int64_t nb;
    int64_t nt;
} revseq_state;

static nne_status reversesequence_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *sl = nne_ctx_input(ctx, 1);
    if (!x || !sl)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs input and sequence_lens are required");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    if (x->ndim < 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input rank %d, expected >= 2", (int)x->ndim);
    int64_t ta = nne_attr_i(ctx, "time_axis", 0), ba = nne_attr_i(ctx, "batch_axis", 1);
    if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "time_axis %lld / batch_axis %lld invalid: expected 0 and 1 in either order",
                            (long long)ta, (long long)ba);
    int64_t nb = x->dims[ba], nt = x->dims[ta];
    if (sl->ndim != 1 || sl->dims[0] != nb)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sequence_lens must be 1-D of length %lld (batch)",
                            (long long)nb);
    if (!nne_dtype_is_int(sl->dtype) || sl->dtype == NNE_DTYPE_BOOL)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sequence_lens dtype %s is not an integer type",
                            nne_dtype_name(sl->dtype));
    nne_tensor *y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, x, &y));
    revseq_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->es = es;
        st_->ta = ta;
        st_->ba = ba;
        st_->nb = nb;
        st_->nt = nt;
    }
    return NNE_OK;
}

static nne_status revseq_kernel(const void *state, const nne_kernel_args *a) {
    const revseq_state *st_ = state;
    const nne_tensor *x = a->in[0];
    const nne_tensor *sl = a->n_in > 1 ? a->in[1] : NULL;
    nne_tensor *y = a->out[0];
    size_t es = st_->es;
    int64_t ta = st_->ta;
    int64_t nb = st_->nb;
    int64_t nt = st_->nt;
    nne_op_ctx *ctx = a->ctx;
    int64_t inner = 1;
    for (int i = 2; i < x->ndim; i++) inner *= x->dims[i];
    size_t row = (size_t)inner * es;
    if (row == 0) return NNE_OK;
    size_t lsz = nne_dtype_size(sl->dtype);
    /* element (t, b) lives at row t*nb + b (time major) or b*nt + t */
    for (int64_t b = 0; b < nb; b++) {
        int64_t len = nne_ld_i64((const char *)sl->data + (size_t)b * lsz, sl->dtype, 0);
        if (len < 0 || len > nt)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "sequence_lens[%lld] = %lld out of range: expected [0, %lld]",
                                (long long)b, (long long)len, (long long)nt);
        for (int64_t t = 0; t < nt; t++) {
            int64_t st = t < len ? len - 1 - t : t;
            int64_t dr = ta == 0 ? t * nb + b : b * nt + t;
            int64_t sr = ta == 0 ? st * nb + b : b * nt + st;
            memcpy((char *)y->data + (size_t)dr * row, (const char *)x->data + (size_t)sr * row, row);
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(ReverseSequence, "", "ReverseSequence", .infer = reversesequence_run, .run = revseq_kernel,
              .state_size = sizeof(revseq_state));
