/*
 * dtype_io.c - array loads and stores of any numeric dtype (dtype_io.h),
 * and the tensor element accessors of op.h built on them. The dtype switch
 * is outside the loop, so each loop is one conversion the compiler can
 * vectorize; the conversions are those of the element forms in dtype_io.h.
 */
#include "core/dtype_io.h"
#include "ops/op.h"

#define DIO_LOAD_LOOP(T, EXPR)                                          \
    do {                                                                \
        const char *b_ = (const char *)t->data;                         \
        for (int64_t i_ = 0; i_ < n; i_++) {                            \
            T v_;                                                       \
            memcpy(&v_, b_ + (ptrdiff_t)(start + i_ * stride) * (ptrdiff_t)sizeof(T), sizeof(T)); \
            dst[i_] = EXPR;                                             \
        }                                                               \
    } while (0)

/* One body per destination type D: float sources convert, integers cast. */
#define DIO_LOAD_BODY(D)                                                                  \
    switch (t->dtype) {                                                                   \
    case NNE_DTYPE_FLOAT: DIO_LOAD_LOOP(float, (D)v_); break;                             \
    case NNE_DTYPE_DOUBLE: DIO_LOAD_LOOP(double, (D)v_); break;                           \
    case NNE_DTYPE_FLOAT16: DIO_LOAD_LOOP(uint16_t, (D)nne_f16_to_f32(v_)); break;        \
    case NNE_DTYPE_BFLOAT16: DIO_LOAD_LOOP(uint16_t, (D)nne_bf16_to_f32(v_)); break;      \
    case NNE_DTYPE_INT8: DIO_LOAD_LOOP(int8_t, (D)v_); break;                             \
    case NNE_DTYPE_UINT8: DIO_LOAD_LOOP(uint8_t, (D)v_); break;                           \
    case NNE_DTYPE_BOOL: DIO_LOAD_LOOP(uint8_t, (D)(v_ != 0)); break;                     \
    case NNE_DTYPE_INT16: DIO_LOAD_LOOP(int16_t, (D)v_); break;                           \
    case NNE_DTYPE_UINT16: DIO_LOAD_LOOP(uint16_t, (D)v_); break;                         \
    case NNE_DTYPE_INT32: DIO_LOAD_LOOP(int32_t, (D)v_); break;                           \
    case NNE_DTYPE_UINT32: DIO_LOAD_LOOP(uint32_t, (D)v_); break;                         \
    case NNE_DTYPE_INT64: DIO_LOAD_LOOP(int64_t, (D)v_); break;                           \
    case NNE_DTYPE_UINT64: DIO_LOAD_LOOP(uint64_t, (D)v_); break;                         \
    default:                                                                              \
        for (int64_t i_ = 0; i_ < n; i_++) dst[i_] = 0;                                   \
        break;                                                                            \
    }

void nne_load_f64(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, double *dst) {
    DIO_LOAD_BODY(double)
}

void nne_load_f32(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, float *dst) {
    if (t->dtype == NNE_DTYPE_FLOAT && stride == 1) {
        if (n > 0) memcpy(dst, (const float *)t->data + start, (size_t)n * sizeof(float));
        return;
    }
    DIO_LOAD_BODY(float)
}

void nne_load_i64(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, int64_t *dst) {
    switch (t->dtype) {
    case NNE_DTYPE_FLOAT: DIO_LOAD_LOOP(float, nne_f64_to_i64_sat(v_)); break;
    case NNE_DTYPE_DOUBLE: DIO_LOAD_LOOP(double, nne_f64_to_i64_sat(v_)); break;
    case NNE_DTYPE_FLOAT16: DIO_LOAD_LOOP(uint16_t, nne_f64_to_i64_sat(nne_f16_to_f32(v_))); break;
    case NNE_DTYPE_BFLOAT16: DIO_LOAD_LOOP(uint16_t, nne_f64_to_i64_sat(nne_bf16_to_f32(v_))); break;
    case NNE_DTYPE_UINT64: DIO_LOAD_LOOP(int64_t, v_); break; /* same bits */
    default: DIO_LOAD_BODY(int64_t) break;
    }
}

#define DIO_STORE_LOOP(T, EXPR)                                         \
    do {                                                                \
        char *b_ = (char *)t->data;                                     \
        for (int64_t i_ = 0; i_ < n; i_++) {                            \
            T v_ = EXPR;                                                \
            memcpy(b_ + (ptrdiff_t)(start + i_ * stride) * (ptrdiff_t)sizeof(T), &v_, sizeof(T)); \
        }                                                               \
    } while (0)

/* Float sources: float targets convert, bool is v != 0, integers follow cvt
 * through the element form (the rules live in one place). */
#define DIO_STORE_FLOAT_BODY                                                                  \
    switch (t->dtype) {                                                                       \
    case NNE_DTYPE_FLOAT: DIO_STORE_LOOP(float, (float)src[i_]); break;                       \
    case NNE_DTYPE_DOUBLE: DIO_STORE_LOOP(double, (double)src[i_]); break;                    \
    case NNE_DTYPE_FLOAT16: DIO_STORE_LOOP(uint16_t, nne_f32_to_f16((float)src[i_])); break;  \
    case NNE_DTYPE_BFLOAT16: DIO_STORE_LOOP(uint16_t, nne_f32_to_bf16((float)src[i_])); break; \
    case NNE_DTYPE_BOOL: DIO_STORE_LOOP(uint8_t, (uint8_t)(src[i_] != 0)); break;             \
    default:                                                                                  \
        for (int64_t i_ = 0; i_ < n; i_++) nne_st_f64(t->data, t->dtype, start + i_ * stride, (double)src[i_], cvt); \
        break;                                                                                \
    }

void nne_store_f64(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const double *src, nne_cvt cvt) {
    DIO_STORE_FLOAT_BODY
}

void nne_store_f32(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const float *src, nne_cvt cvt) {
    if (t->dtype == NNE_DTYPE_FLOAT && stride == 1) {
        if (n > 0) memcpy((float *)t->data + start, src, (size_t)n * sizeof(float));
        return;
    }
    DIO_STORE_FLOAT_BODY
}

void nne_store_i64(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const int64_t *src) {
    switch (t->dtype) {
    case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: DIO_STORE_LOOP(uint8_t, (uint8_t)src[i_]); break;
    case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16: DIO_STORE_LOOP(uint16_t, (uint16_t)src[i_]); break;
    case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: DIO_STORE_LOOP(uint32_t, (uint32_t)src[i_]); break;
    case NNE_DTYPE_INT64: case NNE_DTYPE_UINT64: DIO_STORE_LOOP(uint64_t, (uint64_t)src[i_]); break;
    case NNE_DTYPE_BOOL: DIO_STORE_LOOP(uint8_t, (uint8_t)(src[i_] != 0)); break;
    default:
        for (int64_t i = 0; i < n; i++) nne_st_i64(t->data, t->dtype, start + i * stride, src[i]);
        break;
    }
}

/* ---- op.h's tensor element accessors ---- */

int64_t nne_tensor_get_i64(const nne_tensor *t, int64_t i) { return nne_ld_i64(t->data, t->dtype, i); }
double nne_tensor_get_f64(const nne_tensor *t, int64_t i) { return nne_ld_f64(t->data, t->dtype, i); }
void nne_tensor_set_f64(nne_tensor *t, int64_t i, double v) { nne_st_f64(t->data, t->dtype, i, v, NNE_CVT_SAT); }
