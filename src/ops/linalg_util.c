/*
 * linalg_util.c - strided typed loads/stores used by the linalg group of ops
 * (Gemm, MatMul, Reduce*, Softmax, CumSum, quantization, losses...).
 * The dtype switch sits outside the element loop so each loop is a plain
 * typed copy the compiler can vectorize.
 */
#include "ops/linalg_util.h"

#include <math.h>
#include <string.h>

#define LOAD_LOOP(T, EXPR)                                        \
    do {                                                          \
        const T *p_ = (const T *)t->data + start;                 \
        for (int64_t i_ = 0; i_ < n; i_++) {                      \
            T v_ = p_[i_ * stride];                               \
            dst[i_] = EXPR;                                       \
        }                                                         \
    } while (0)

#define LOAD_ALL(DT)                                                          \
    switch (t->dtype) {                                                       \
    case NNE_DTYPE_FLOAT: LOAD_LOOP(float, (DT)v_); break;                    \
    case NNE_DTYPE_DOUBLE: LOAD_LOOP(double, (DT)v_); break;                  \
    case NNE_DTYPE_FLOAT16: LOAD_LOOP(uint16_t, (DT)nne_f16_to_f32(v_)); break; \
    case NNE_DTYPE_BFLOAT16: LOAD_LOOP(uint16_t, (DT)nne_bf16_to_f32(v_)); break; \
    case NNE_DTYPE_INT8: LOAD_LOOP(int8_t, (DT)v_); break;                    \
    case NNE_DTYPE_UINT8: LOAD_LOOP(uint8_t, (DT)v_); break;                  \
    case NNE_DTYPE_BOOL: LOAD_LOOP(uint8_t, (DT)(v_ != 0)); break;            \
    case NNE_DTYPE_INT16: LOAD_LOOP(int16_t, (DT)v_); break;                  \
    case NNE_DTYPE_UINT16: LOAD_LOOP(uint16_t, (DT)v_); break;                \
    case NNE_DTYPE_INT32: LOAD_LOOP(int32_t, (DT)v_); break;                  \
    case NNE_DTYPE_UINT32: LOAD_LOOP(uint32_t, (DT)v_); break;                \
    case NNE_DTYPE_INT64: LOAD_LOOP(int64_t, (DT)v_); break;                  \
    case NNE_DTYPE_UINT64: LOAD_LOOP(uint64_t, (DT)v_); break;                \
    default:                                                                  \
        for (int64_t i_ = 0; i_ < n; i_++) dst[i_] = 0;                       \
        break;                                                                \
    }

void nne_la_load_f64(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, double *dst) {
    LOAD_ALL(double)
}

void nne_la_load_f32(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, float *dst) {
    if (t->dtype == NNE_DTYPE_FLOAT && stride == 1) {
        memcpy(dst, (const float *)t->data + start, (size_t)n * sizeof(float));
        return;
    }
    LOAD_ALL(float)
}

/* Float -> int64 for loads into integer arithmetic: truncate, saturate. */
static int64_t f2i(double v) {
    if (!(v == v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

void nne_la_load_i64(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, int64_t *dst) {
    switch (t->dtype) {
    case NNE_DTYPE_FLOAT: LOAD_LOOP(float, f2i(v_)); break;
    case NNE_DTYPE_DOUBLE: LOAD_LOOP(double, f2i(v_)); break;
    case NNE_DTYPE_FLOAT16: LOAD_LOOP(uint16_t, f2i(nne_f16_to_f32(v_))); break;
    case NNE_DTYPE_BFLOAT16: LOAD_LOOP(uint16_t, f2i(nne_bf16_to_f32(v_))); break;
    case NNE_DTYPE_INT8: LOAD_LOOP(int8_t, (int64_t)v_); break;
    case NNE_DTYPE_UINT8: LOAD_LOOP(uint8_t, (int64_t)v_); break;
    case NNE_DTYPE_BOOL: LOAD_LOOP(uint8_t, (int64_t)(v_ != 0)); break;
    case NNE_DTYPE_INT16: LOAD_LOOP(int16_t, (int64_t)v_); break;
    case NNE_DTYPE_UINT16: LOAD_LOOP(uint16_t, (int64_t)v_); break;
    case NNE_DTYPE_INT32: LOAD_LOOP(int32_t, (int64_t)v_); break;
    case NNE_DTYPE_UINT32: LOAD_LOOP(uint32_t, (int64_t)v_); break;
    case NNE_DTYPE_INT64: LOAD_LOOP(int64_t, v_); break;
    case NNE_DTYPE_UINT64: LOAD_LOOP(uint64_t, (int64_t)v_); break;
    default:
        for (int64_t i = 0; i < n; i++) dst[i] = 0;
        break;
    }
}

/* Saturating double -> integer conversion toward zero; NaN -> 0. */
static double sat(double v, double lo, double hi) {
    if (!(v == v)) return 0.0;
    if (v < lo) return lo;
    if (v > hi) return hi;
    return v;
}

#define STORE_LOOP(T, EXPR)                                       \
    do {                                                          \
        T *p_ = (T *)t->data + start;                             \
        for (int64_t i_ = 0; i_ < n; i_++) {                      \
            double v_ = (double)src[i_];                          \
            p_[i_ * stride] = EXPR;                               \
        }                                                         \
    } while (0)

#define STORE_ALL                                                                          \
    switch (t->dtype) {                                                                    \
    case NNE_DTYPE_DOUBLE: STORE_LOOP(double, v_); break;                                  \
    case NNE_DTYPE_FLOAT16: STORE_LOOP(uint16_t, nne_f32_to_f16((float)v_)); break;        \
    case NNE_DTYPE_BFLOAT16: STORE_LOOP(uint16_t, nne_f32_to_bf16((float)v_)); break;      \
    case NNE_DTYPE_INT8: STORE_LOOP(int8_t, (int8_t)sat(v_, -128.0, 127.0)); break;        \
    case NNE_DTYPE_UINT8: STORE_LOOP(uint8_t, (uint8_t)sat(v_, 0.0, 255.0)); break;        \
    case NNE_DTYPE_BOOL: STORE_LOOP(uint8_t, (uint8_t)(v_ != 0.0)); break;                 \
    case NNE_DTYPE_INT16: STORE_LOOP(int16_t, (int16_t)sat(v_, -32768.0, 32767.0)); break; \
    case NNE_DTYPE_UINT16: STORE_LOOP(uint16_t, (uint16_t)sat(v_, 0.0, 65535.0)); break;   \
    case NNE_DTYPE_INT32:                                                                  \
        STORE_LOOP(int32_t, (int32_t)sat(v_, -2147483648.0, 2147483647.0));                \
        break;                                                                             \
    case NNE_DTYPE_UINT32: STORE_LOOP(uint32_t, (uint32_t)sat(v_, 0.0, 4294967295.0)); break; \
    case NNE_DTYPE_INT64: STORE_LOOP(int64_t, f2i(v_)); break;                             \
    case NNE_DTYPE_UINT64:                                                                 \
        STORE_LOOP(uint64_t, v_ >= 18446744073709551615.0 ? UINT64_MAX                     \
                                                         : (uint64_t)sat(v_, 0.0, 1e300)); \
        break;                                                                             \
    default: break;                                                                        \
    }

void nne_la_store_f64(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const double *src) {
    if (t->dtype == NNE_DTYPE_FLOAT) {
        float *p = (float *)t->data + start;
        for (int64_t i = 0; i < n; i++) p[i * stride] = (float)src[i];
        return;
    }
    STORE_ALL
}

void nne_la_store_f32(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const float *src) {
    if (t->dtype == NNE_DTYPE_FLOAT) {
        float *p = (float *)t->data + start;
        if (stride == 1) {
            memcpy(p, src, (size_t)n * sizeof(float));
        } else {
            for (int64_t i = 0; i < n; i++) p[i * stride] = src[i];
        }
        return;
    }
    STORE_ALL
}

#define STORE_I(T)                                                          \
    do {                                                                    \
        T *p_ = (T *)t->data + start;                                       \
        for (int64_t i_ = 0; i_ < n; i_++) p_[i_ * stride] = (T)src[i_];    \
    } while (0)

void nne_la_store_i64(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const int64_t *src) {
    switch (t->dtype) {
    case NNE_DTYPE_INT8: STORE_I(int8_t); break;
    case NNE_DTYPE_UINT8: STORE_I(uint8_t); break;
    case NNE_DTYPE_INT16: STORE_I(int16_t); break;
    case NNE_DTYPE_UINT16: STORE_I(uint16_t); break;
    case NNE_DTYPE_INT32: STORE_I(int32_t); break;
    case NNE_DTYPE_UINT32: STORE_I(uint32_t); break;
    case NNE_DTYPE_INT64: STORE_I(int64_t); break;
    case NNE_DTYPE_UINT64: STORE_I(uint64_t); break;
    case NNE_DTYPE_BOOL: {
        uint8_t *p = (uint8_t *)t->data + start;
        for (int64_t i = 0; i < n; i++) p[i * stride] = src[i] != 0;
        break;
    }
    default: {
        /* float outputs: through double */
        for (int64_t i = 0; i < n; i++) {
            double v = (double)src[i];
            nne_la_store_f64(t, start + i * stride, 1, 1, &v);
        }
        break;
    }
    }
}

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
