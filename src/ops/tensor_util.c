/*
 * tensor_util.c - shared helpers of the tensor/shape manipulation ops:
 * N-d strided element copy, reading small integer tensors (shapes, axes,
 * pads), index normalization with clear errors, typed element load/store/
 * compare, scatter reductions and a stable index sort. See tensor_util.h.
 */
#include "ops/tensor_util.h"
#include "core/core.h"

#include <math.h>
#include <string.h>

nne_status nne_tu_esize(nne_op_ctx *ctx, nne_dtype dt, size_t *esize) {
    size_t s = nne_dtype_size(dt);
    *esize = s;
    if (s == 0)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(dt));
    return NNE_OK;
}

void nne_tu_strides(int ndim, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

int nne_tu_mul_ok(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

nne_status nne_tu_numel(nne_op_ctx *ctx, int ndim, const int64_t *dims, const char *what,
                        int64_t *out) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s: dimension %d is negative (%lld)",
                                what, i, (long long)dims[i]);
        if (!nne_tu_mul_ok(n, dims[i], &n))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s: element count overflows int64", what);
    }
    *out = n;
    return NNE_OK;
}

NNE_NO_FUZZ_COVERAGE static void copy_elems(char *d, int64_t ds, const char *s, int64_t ss, size_t es, int64_t n) {
    if (ds == 1 && ss == 1) {
        memcpy(d, s, (size_t)n * es);
        return;
    }
    int64_t db = ds * (int64_t)es, sb = ss * (int64_t)es;
    switch (es) {
    case 1:
        for (int64_t i = 0; i < n; i++) d[i * db] = s[i * sb];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * db, s + i * sb, 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * db, s + i * sb, 4);
        break;
    case 8:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * db, s + i * sb, 8);
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(d + i * db, s + i * sb, es);
        break;
    }
}

/* Algorithm: drop size-1 axes, merge neighbouring axes that are contiguous
 * in both source and destination, then walk the outer axes with an odometer
 * and copy the innermost axis as a run (memcpy when both are unit-stride). */
NNE_NO_FUZZ_COVERAGE void nne_tu_copy_nd(void *dst, const int64_t *dstr, const void *src, const int64_t *sstr,
                    size_t esize, int nd, const int64_t *dims) {
    int64_t d[NNE_TU_MAX_VIEW_DIMS], ds[NNE_TU_MAX_VIEW_DIMS], ss[NNE_TU_MAX_VIEW_DIMS];
    int n = 0;
    for (int i = 0; i < nd; i++) {
        if (dims[i] == 0) return;
        if (dims[i] == 1) continue;
        if (n > 0 && ds[n - 1] == dstr[i] * dims[i] && ss[n - 1] == sstr[i] * dims[i]) {
            d[n - 1] *= dims[i];
            ds[n - 1] = dstr[i];
            ss[n - 1] = sstr[i];
            continue;
        }
        d[n] = dims[i];
        ds[n] = dstr[i];
        ss[n] = sstr[i];
        n++;
    }
    char *dp = dst;
    const char *sp = src;
    if (n == 0) {
        memcpy(dp, sp, esize);
        return;
    }
    int64_t idx[NNE_TU_MAX_VIEW_DIMS] = {0};
    int64_t inner = d[n - 1];
    int64_t es = (int64_t)esize;
    for (;;) {
        copy_elems(dp, ds[n - 1], sp, ss[n - 1], esize, inner);
        int k = n - 2;
        while (k >= 0) {
            idx[k]++;
            dp += ds[k] * es;
            sp += ss[k] * es;
            if (idx[k] < d[k]) break;
            dp -= ds[k] * es * d[k];
            sp -= ss[k] * es * d[k];
            idx[k] = 0;
            k--;
        }
        if (k < 0) break;
    }
}

NNE_NO_FUZZ_COVERAGE void nne_tu_fill(void *dst, const void *elem, size_t esize, int64_t n) {
    char *d = dst;
    if (n <= 0) return;
    int allzero = 1;
    for (size_t i = 0; i < esize; i++)
        if (((const unsigned char *)elem)[i]) allzero = 0;
    if (allzero || esize == 1) {
        memset(d, allzero ? 0 : *(const unsigned char *)elem, (size_t)n * esize);
        return;
    }
    /* doubling copy */
    memcpy(d, elem, esize);
    int64_t done = 1;
    while (done < n) {
        int64_t c = done < n - done ? done : n - done;
        memcpy(d + done * (int64_t)esize, d, (size_t)c * esize);
        done += c;
    }
}

nne_status nne_tu_read_ints(nne_op_ctx *ctx, const nne_tensor *t, const char *what, int64_t *out,
                            int64_t max, int64_t *n) {
    if (t->ndim > 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s must be a 1-D tensor, got rank %d", what,
                            (int)t->ndim);
    if (nne_dtype_size(t->dtype) == 0 || t->dtype == NNE_DTYPE_STRING)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s: dtype %s is not an integer type", what,
                            nne_dtype_name(t->dtype));
    int64_t cnt = nne_tensor_numel(t);
    if (cnt > max)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s has %lld values, at most %lld expected",
                            what, (long long)cnt, (long long)max);
    if (cnt > 0 && !t->data)
        return nne_ctx_fail(ctx, NNE_ERR_INTERNAL, "%s: data not available", what);
    size_t es = nne_dtype_size(t->dtype);
    for (int64_t i = 0; i < cnt; i++)
        out[i] = nne_ld_i64((const char *)t->data + (size_t)i * es, t->dtype, 0);
    *n = cnt;
    return NNE_OK;
}

nne_status nne_tu_read_scalar_i64(nne_op_ctx *ctx, const nne_tensor *t, const char *what,
                                  int64_t *out) {
    if (nne_dtype_size(t->dtype) == 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s: dtype %s is not numeric", what,
                            nne_dtype_name(t->dtype));
    if (nne_tensor_numel(t) != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s must hold exactly one value, got %lld",
                            what, (long long)nne_tensor_numel(t));
    if (!t->data) return nne_ctx_fail(ctx, NNE_ERR_INTERNAL, "%s: data not available", what);
    *out = nne_ld_i64(t->data, t->dtype, 0);
    return NNE_OK;
}

nne_status nne_tu_index(nne_op_ctx *ctx, int64_t idx, int64_t bound, const char *what,
                        int64_t *out) {
    int64_t v = idx < 0 ? idx + bound : idx;
    if (v < 0 || v >= bound)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s %lld out of range: expected [%lld, %lld)",
                            what, (long long)idx, (long long)-bound, (long long)bound);
    *out = v;
    return NNE_OK;
}

nne_status nne_tu_axes(nne_op_ctx *ctx, const int64_t *axes, int64_t n, int rank, const char *what,
                       int *out) {
    for (int64_t i = 0; i < n; i++) {
        int64_t a = axes[i];
        if (a < -rank || a >= rank)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "%s: axis %lld out of range for rank %d: expected [%d, %d]", what,
                                (long long)a, rank, -rank, rank - 1);
        out[i] = (int)(a < 0 ? a + rank : a);
        for (int64_t j = 0; j < i; j++)
            if (out[j] == out[i])
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s: axis %d repeated", what,
                                    out[i]);
    }
    return NNE_OK;
}

int nne_tu_is_nonzero(nne_dtype dt, const void *p) {
    if (nne_dtype_is_float(dt)) {
        double v = nne_ld_f64(p, dt, 0);
        return v != 0.0;
    }
    size_t es = nne_dtype_size(dt);
    const unsigned char *b = p;
    for (size_t i = 0; i < es; i++)
        if (b[i]) return 1;
    return 0;
}

int nne_tu_cmp(nne_dtype dt, const void *a, const void *b) {
    switch (dt) {
    case NNE_DTYPE_FLOAT:
    case NNE_DTYPE_DOUBLE:
    case NNE_DTYPE_FLOAT16:
    case NNE_DTYPE_BFLOAT16: {
        double x = nne_ld_f64(a, dt, 0), y = nne_ld_f64(b, dt, 0);
        int xn = x != x, yn = y != y;
        if (xn || yn) return xn - yn;
        return (x > y) - (x < y);
    }
    case NNE_DTYPE_UINT64: {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return (x > y) - (x < y);
    }
    default: {
        int64_t x = nne_ld_i64(a, dt, 0), y = nne_ld_i64(b, dt, 0);
        return (x > y) - (x < y);
    }
    }
}

nne_status nne_tu_reduction_attr(nne_op_ctx *ctx, int *red) {
    const char *r = nne_attr_s(ctx, "reduction", "none");
    int opset = nne_ctx_opset(ctx);
    *red = NNE_TU_RED_NONE;
    if (!strcmp(r, "none")) return NNE_OK;
    if (opset >= 16 && !strcmp(r, "add")) *red = NNE_TU_RED_ADD;
    else if (opset >= 16 && !strcmp(r, "mul")) *red = NNE_TU_RED_MUL;
    else if (opset >= 18 && !strcmp(r, "max")) *red = NNE_TU_RED_MAX;
    else if (opset >= 18 && !strcmp(r, "min")) *red = NNE_TU_RED_MIN;
    else
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "reduction \"%s\" not valid at opset %d (expected none, add, mul%s)", r,
                            opset, opset >= 18 ? ", max, min" : "");
    return NNE_OK;
}

#define RED_INT(T) do {                                                    \
        T x_, y_;                                                          \
        memcpy(&x_, dst, sizeof x_);                                       \
        memcpy(&y_, src, sizeof y_);                                       \
        switch (red) {                                                     \
        case NNE_TU_RED_ADD: x_ = (T)((uint64_t)x_ + y_); break;                     \
        case NNE_TU_RED_MUL: x_ = (T)((uint64_t)x_ * y_); break;                     \
        case NNE_TU_RED_MAX: if (y_ > x_) x_ = y_; break;                  \
        case NNE_TU_RED_MIN: if (y_ < x_) x_ = y_; break;                  \
        default: x_ = y_; break;                                           \
        }                                                                  \
        memcpy(dst, &x_, sizeof x_);                                       \
    } while (0)

void nne_tu_reduce(nne_dtype dt, int red, void *dst, const void *src) {
    switch (dt) {
    /* unsigned arithmetic wraps; signed types go through the unsigned type of
     * the same width for add/mul so overflow is defined (two's complement). */
    case NNE_DTYPE_UINT8: RED_INT(uint8_t); return;
    case NNE_DTYPE_UINT16: RED_INT(uint16_t); return;
    case NNE_DTYPE_UINT32: RED_INT(uint32_t); return;
    case NNE_DTYPE_UINT64: RED_INT(uint64_t); return;
    case NNE_DTYPE_BOOL: {
        uint8_t x, y;
        memcpy(&x, dst, 1);
        memcpy(&y, src, 1);
        x = x != 0;
        y = y != 0;
        if (red == NNE_TU_RED_ADD || red == NNE_TU_RED_MAX) x = x | y;
        else if (red == NNE_TU_RED_MUL || red == NNE_TU_RED_MIN) x = x & y;
        else x = y;
        memcpy(dst, &x, 1);
        return;
    }
    case NNE_DTYPE_INT8:
    case NNE_DTYPE_INT16:
    case NNE_DTYPE_INT32:
    case NNE_DTYPE_INT64: {
        int64_t x = nne_ld_i64(dst, dt, 0), y = nne_ld_i64(src, dt, 0);
        switch (red) {
        case NNE_TU_RED_ADD: x = (int64_t)((uint64_t)x + (uint64_t)y); break;
        case NNE_TU_RED_MUL: x = (int64_t)((uint64_t)x * (uint64_t)y); break;
        case NNE_TU_RED_MAX: if (y > x) x = y; break;
        case NNE_TU_RED_MIN: if (y < x) x = y; break;
        default: x = y; break;
        }
        /* store truncates to the width (implementation-defined but two's
         * complement on every supported compiler) */
        nne_st_i64(dst, dt, 0, x);
        return;
    }
    default: {
        if (red == NNE_TU_RED_NONE) {
            memcpy(dst, src, nne_dtype_size(dt));
            return;
        }
        double x = nne_ld_f64(dst, dt, 0), y = nne_ld_f64(src, dt, 0);
        switch (red) {
        case NNE_TU_RED_ADD: x = x + y; break;
        case NNE_TU_RED_MUL: x = x * y; break;
        case NNE_TU_RED_MAX: x = fmax(x, y); break;
        case NNE_TU_RED_MIN: x = fmin(x, y); break;
        default: break;
        }
        if (dt == NNE_DTYPE_FLOAT) {
            float f = (float)x;
            memcpy(dst, &f, 4);
        } else {
            nne_st_f64(dst, dt, 0, x, NNE_CVT_WRAP);
        }
        return;
    }
    }
}
#undef RED_INT

/* Bottom-up merge sort: runs of width w are merged pairwise from idx into
 * tmp, then the buffers swap roles; a final copy puts the result in idx.
 * Stable: on ties the element of the left run is taken first. */
void nne_tu_sort_idx(int64_t *idx, int64_t *tmp, int64_t n, nne_tu_cmp_fn cmp, const void *user) {
    int64_t *a = idx, *b = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n;
            int64_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) b[k++] = cmp(user, a[j], a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        int64_t *t = a;
        a = b;
        b = t;
    }
    if (a != idx) memcpy(idx, a, (size_t)n * sizeof *idx);
}
