/*
 * dtype_io.h - the one set of element loads and stores for every numeric
 * dtype (float, double, float16, bfloat16, int8..int64, uint8..uint64, bool).
 *
 * Element form (static inline, for per-element code): element k of the array
 * at `base` read as double / float / int64 / uint64, or written from them.
 * Array form (dtype_io.c, a loop inside the dtype switch): n elements of a
 * tensor from element `start` with a stride, to or from a double / float /
 * int64 buffer.
 *
 * Conversions:
 *   - float16 / bfloat16 go through float (nne_f16_to_f32 and friends);
 *   - bool reads as 0 or 1 (any non-zero byte is true) and is written as
 *     v != 0 (NaN is true, as ONNX Cast says);
 *   - integer to integer keeps the low bits (two's complement); uint64 read
 *     as int64 keeps its bit pattern, signed read as uint64 is sign-extended;
 *   - float to integer follows one of three rules (nne_cvt), because the
 *     ops differ: Cast converts as C does on 64 bits and keeps the low bits
 *     (WRAP), quantization and resampling round half to even and saturate
 *     (RNE), the rest truncate and saturate (SAT). NaN gives 0 in every rule.
 * Elements are read and written with memcpy, so any alignment is fine; the
 * compiler makes plain loads of them.
 */
#ifndef NNE_CORE_DTYPE_IO_H
#define NNE_CORE_DTYPE_IO_H

#include "nnedge.h"
#include <stdint.h>
#include <stddef.h>
#include <string.h>

typedef enum {
    NNE_CVT_SAT = 0, /* truncate toward zero, saturate to the target range */
    NNE_CVT_RNE,     /* round half to even, saturate to the target range */
    NNE_CVT_WRAP     /* truncate, saturate to 64 bits, keep the low bits */
} nne_cvt;

/* double -> int64: truncate, saturate, NaN -> 0. */
static inline int64_t nne_f64_to_i64_sat(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775808.0) return INT64_MAX;
    if (v < -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* double -> uint64 bit pattern as a wrapping cast gives it: negatives go
 * through int64 (-1.0 -> all ones), [2^63, 2^64) converts directly, above
 * saturates; NaN -> 0. */
static inline uint64_t nne_f64_to_u64_wrap(double v) {
    if (v >= 9223372036854775808.0) {
        if (v >= 18446744073709551616.0) return UINT64_MAX;
        return (uint64_t)v;
    }
    return (uint64_t)nne_f64_to_i64_sat(v);
}

/* Bytes of one element of a dtype these helpers handle; 0 for others. */
static inline size_t nne_dio_size(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: case NNE_DTYPE_BOOL: return 1;
    case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16: return 2;
    case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: case NNE_DTYPE_FLOAT: return 4;
    case NNE_DTYPE_INT64: case NNE_DTYPE_UINT64: case NNE_DTYPE_DOUBLE: return 8;
    default: return 0;
    }
}

/* Element k of type T at base (any alignment). */
#define NNE_DIO_GET(T, base, k) \
    __extension__({ T nne_v_; memcpy(&nne_v_, (const char *)(base) + (ptrdiff_t)(k) * (ptrdiff_t)sizeof(T), sizeof(T)); nne_v_; })
#define NNE_DIO_PUT(T, base, k, x) \
    do { T nne_v_ = (x); memcpy((char *)(base) + (ptrdiff_t)(k) * (ptrdiff_t)sizeof(T), &nne_v_, sizeof(T)); } while (0)

/* ------------------------------------------------------------- loads -- */

/* Element k as double (unknown dtypes: 0). */
static inline double nne_ld_f64(const void *base, nne_dtype dt, int64_t k) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: return NNE_DIO_GET(float, base, k);
    case NNE_DTYPE_DOUBLE: return NNE_DIO_GET(double, base, k);
    case NNE_DTYPE_FLOAT16: return nne_f16_to_f32(NNE_DIO_GET(uint16_t, base, k));
    case NNE_DTYPE_BFLOAT16: return nne_bf16_to_f32(NNE_DIO_GET(uint16_t, base, k));
    case NNE_DTYPE_INT8: return NNE_DIO_GET(int8_t, base, k);
    case NNE_DTYPE_INT16: return NNE_DIO_GET(int16_t, base, k);
    case NNE_DTYPE_INT32: return NNE_DIO_GET(int32_t, base, k);
    case NNE_DTYPE_INT64: return (double)NNE_DIO_GET(int64_t, base, k);
    case NNE_DTYPE_UINT8: return NNE_DIO_GET(uint8_t, base, k);
    case NNE_DTYPE_UINT16: return NNE_DIO_GET(uint16_t, base, k);
    case NNE_DTYPE_UINT32: return NNE_DIO_GET(uint32_t, base, k);
    case NNE_DTYPE_UINT64: return (double)NNE_DIO_GET(uint64_t, base, k);
    case NNE_DTYPE_BOOL: return NNE_DIO_GET(uint8_t, base, k) != 0;
    default: return 0.0;
    }
}

/* Element k as float: integers convert directly (one rounding). */
static inline float nne_ld_f32(const void *base, nne_dtype dt, int64_t k) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: return NNE_DIO_GET(float, base, k);
    case NNE_DTYPE_DOUBLE: return (float)NNE_DIO_GET(double, base, k);
    case NNE_DTYPE_FLOAT16: return nne_f16_to_f32(NNE_DIO_GET(uint16_t, base, k));
    case NNE_DTYPE_BFLOAT16: return nne_bf16_to_f32(NNE_DIO_GET(uint16_t, base, k));
    case NNE_DTYPE_INT64: return (float)NNE_DIO_GET(int64_t, base, k);
    case NNE_DTYPE_UINT64: return (float)NNE_DIO_GET(uint64_t, base, k);
    default: return (float)nne_ld_f64(base, dt, k);
    }
}

/* Element k as int64: signed sign-extended, unsigned zero-extended (uint64
 * above INT64_MAX keeps its bit pattern), bool 0/1, floats truncated and
 * saturated (NaN -> 0). */
static inline int64_t nne_ld_i64(const void *base, nne_dtype dt, int64_t k) {
    switch (dt) {
    case NNE_DTYPE_INT8: return NNE_DIO_GET(int8_t, base, k);
    case NNE_DTYPE_INT16: return NNE_DIO_GET(int16_t, base, k);
    case NNE_DTYPE_INT32: return NNE_DIO_GET(int32_t, base, k);
    case NNE_DTYPE_INT64: return NNE_DIO_GET(int64_t, base, k);
    case NNE_DTYPE_UINT8: return NNE_DIO_GET(uint8_t, base, k);
    case NNE_DTYPE_UINT16: return NNE_DIO_GET(uint16_t, base, k);
    case NNE_DTYPE_UINT32: return NNE_DIO_GET(uint32_t, base, k);
    case NNE_DTYPE_UINT64: return NNE_DIO_GET(int64_t, base, k); /* same bits */
    case NNE_DTYPE_BOOL: return NNE_DIO_GET(uint8_t, base, k) != 0;
    case NNE_DTYPE_FLOAT: case NNE_DTYPE_DOUBLE: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16:
        return nne_f64_to_i64_sat(nne_ld_f64(base, dt, k));
    default: return 0;
    }
}

/* Element k as uint64: unsigned/bool zero-extended, signed sign-extended
 * (two's complement bit pattern), floats through nne_f64_to_u64_wrap. */
static inline uint64_t nne_ld_u64(const void *base, nne_dtype dt, int64_t k) {
    switch (dt) {
    case NNE_DTYPE_INT8: case NNE_DTYPE_INT16: case NNE_DTYPE_INT32: case NNE_DTYPE_INT64:
        return (uint64_t)nne_ld_i64(base, dt, k);
    case NNE_DTYPE_UINT8: return NNE_DIO_GET(uint8_t, base, k);
    case NNE_DTYPE_UINT16: return NNE_DIO_GET(uint16_t, base, k);
    case NNE_DTYPE_UINT32: return NNE_DIO_GET(uint32_t, base, k);
    case NNE_DTYPE_UINT64: return NNE_DIO_GET(uint64_t, base, k);
    case NNE_DTYPE_BOOL: return NNE_DIO_GET(uint8_t, base, k) != 0;
    case NNE_DTYPE_FLOAT: case NNE_DTYPE_DOUBLE: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16:
        return nne_f64_to_u64_wrap(nne_ld_f64(base, dt, k));
    default: return 0;
    }
}

/* ------------------------------------------------------------ stores -- */

/* Element k = v for integer / bool targets, keeping the low bits (bool:
 * v != 0). Float targets take v as unsigned. Unknown dtypes: nothing. */
static inline void nne_st_u64(void *base, nne_dtype dt, int64_t k, uint64_t v) {
    switch (dt) {
    case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: NNE_DIO_PUT(uint8_t, base, k, (uint8_t)v); break;
    case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16: NNE_DIO_PUT(uint16_t, base, k, (uint16_t)v); break;
    case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: NNE_DIO_PUT(uint32_t, base, k, (uint32_t)v); break;
    case NNE_DTYPE_INT64: case NNE_DTYPE_UINT64: NNE_DIO_PUT(uint64_t, base, k, v); break;
    case NNE_DTYPE_BOOL: NNE_DIO_PUT(uint8_t, base, k, v != 0); break;
    case NNE_DTYPE_FLOAT: NNE_DIO_PUT(float, base, k, (float)v); break;
    case NNE_DTYPE_DOUBLE: NNE_DIO_PUT(double, base, k, (double)v); break;
    case NNE_DTYPE_FLOAT16: NNE_DIO_PUT(uint16_t, base, k, nne_f32_to_f16((float)v)); break;
    case NNE_DTYPE_BFLOAT16: NNE_DIO_PUT(uint16_t, base, k, nne_f32_to_bf16((float)v)); break;
    default: break;
    }
}

/* Element k = v; float targets convert v as signed. */
static inline void nne_st_i64(void *base, nne_dtype dt, int64_t k, int64_t v) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: NNE_DIO_PUT(float, base, k, (float)v); break;
    case NNE_DTYPE_DOUBLE: NNE_DIO_PUT(double, base, k, (double)v); break;
    case NNE_DTYPE_FLOAT16: NNE_DIO_PUT(uint16_t, base, k, nne_f32_to_f16((float)v)); break;
    case NNE_DTYPE_BFLOAT16: NNE_DIO_PUT(uint16_t, base, k, nne_f32_to_bf16((float)v)); break;
    default: nne_st_u64(base, dt, k, (uint64_t)v); break;
    }
}

/* v as an integer of the range [lo, hi] under rule cvt (SAT or RNE). */
static inline double nne_dio_clamp(double v, double lo, double hi, nne_cvt cvt) {
    if (v != v) return 0.0;
    if (cvt == NNE_CVT_RNE) v = __builtin_nearbyint(v);
    else v = __builtin_trunc(v);
    return v < lo ? lo : v > hi ? hi : v;
}

/* Element k = v, converted to dt; integer targets follow cvt. */
static inline void nne_st_f64(void *base, nne_dtype dt, int64_t k, double v, nne_cvt cvt) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: NNE_DIO_PUT(float, base, k, (float)v); return;
    case NNE_DTYPE_DOUBLE: NNE_DIO_PUT(double, base, k, v); return;
    case NNE_DTYPE_FLOAT16: NNE_DIO_PUT(uint16_t, base, k, nne_f32_to_f16((float)v)); return;
    case NNE_DTYPE_BFLOAT16: NNE_DIO_PUT(uint16_t, base, k, nne_f32_to_bf16((float)v)); return;
    case NNE_DTYPE_BOOL: NNE_DIO_PUT(uint8_t, base, k, v != 0.0); return;
    default: break;
    }
    if (cvt == NNE_CVT_WRAP) {
        nne_st_u64(base, dt, k, nne_f64_to_u64_wrap(v));
        return;
    }
    switch (dt) {
    case NNE_DTYPE_INT8: NNE_DIO_PUT(int8_t, base, k, (int8_t)nne_dio_clamp(v, -128.0, 127.0, cvt)); break;
    case NNE_DTYPE_UINT8: NNE_DIO_PUT(uint8_t, base, k, (uint8_t)nne_dio_clamp(v, 0.0, 255.0, cvt)); break;
    case NNE_DTYPE_INT16: NNE_DIO_PUT(int16_t, base, k, (int16_t)nne_dio_clamp(v, -32768.0, 32767.0, cvt)); break;
    case NNE_DTYPE_UINT16: NNE_DIO_PUT(uint16_t, base, k, (uint16_t)nne_dio_clamp(v, 0.0, 65535.0, cvt)); break;
    case NNE_DTYPE_INT32:
        NNE_DIO_PUT(int32_t, base, k, (int32_t)nne_dio_clamp(v, -2147483648.0, 2147483647.0, cvt));
        break;
    case NNE_DTYPE_UINT32: NNE_DIO_PUT(uint32_t, base, k, (uint32_t)nne_dio_clamp(v, 0.0, 4294967295.0, cvt)); break;
    case NNE_DTYPE_INT64: {
        /* the largest doubles below 2^63 / at -2^63 are the int64 limits that convert exactly */
        double c = nne_dio_clamp(v, -9223372036854775808.0, 9223372036854774784.0, cvt);
        NNE_DIO_PUT(int64_t, base, k, v >= 9223372036854775807.0 ? INT64_MAX : (int64_t)c);
        break;
    }
    case NNE_DTYPE_UINT64: {
        double c = nne_dio_clamp(v, 0.0, 18446744073709549568.0, cvt);
        NNE_DIO_PUT(uint64_t, base, k, v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)c);
        break;
    }
    default: break;
    }
}

/* nne_st_f64 with NNE_CVT_WRAP, for code that passes a store as a 4-argument
 * function (the element-wise kernel templates). */
static inline void nne_st_f64_wrap(void *base, nne_dtype dt, int64_t k, double v) {
    nne_st_f64(base, dt, k, v, NNE_CVT_WRAP);
}

/* ------------------------------------------------------- array forms -- */

/* dst[i] = element (start + i * stride) of t, for i < n. */
void nne_load_f64(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, double *dst);
void nne_load_f32(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, float *dst);
void nne_load_i64(const nne_tensor *t, int64_t start, int64_t stride, int64_t n, int64_t *dst);
/* element (start + i * stride) of t = src[i], for i < n; integer targets of
 * float sources follow cvt. */
void nne_store_f64(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const double *src, nne_cvt cvt);
void nne_store_f32(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const float *src, nne_cvt cvt);
void nne_store_i64(nne_tensor *t, int64_t start, int64_t stride, int64_t n, const int64_t *src);

#endif
