/*
 * dtype.c - element types: names, sizes, half-precision conversion and the
 * generic element accessors used by reference kernels for uncommon dtypes.
 */
#include "core/core.h"
#include "ops/op.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *nne_dtype_name(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: return "float32";
    case NNE_DTYPE_UINT8: return "uint8";
    case NNE_DTYPE_INT8: return "int8";
    case NNE_DTYPE_UINT16: return "uint16";
    case NNE_DTYPE_INT16: return "int16";
    case NNE_DTYPE_INT32: return "int32";
    case NNE_DTYPE_INT64: return "int64";
    case NNE_DTYPE_STRING: return "string";
    case NNE_DTYPE_BOOL: return "bool";
    case NNE_DTYPE_FLOAT16: return "float16";
    case NNE_DTYPE_DOUBLE: return "float64";
    case NNE_DTYPE_UINT32: return "uint32";
    case NNE_DTYPE_UINT64: return "uint64";
    case NNE_DTYPE_BFLOAT16: return "bfloat16";
    default: break;
    }
    switch ((int)dt) {
    case 14: return "complex64";
    case 15: return "complex128";
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    case 23: return "float4e2m1";
    case 24: return "float8e8m0";
    case 25: return "uint2";
    case 26: return "int2";
    }
    return "undefined";
}

size_t nne_dtype_size(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: return 4;
    case NNE_DTYPE_UINT8: case NNE_DTYPE_INT8: case NNE_DTYPE_BOOL: return 1;
    case NNE_DTYPE_UINT16: case NNE_DTYPE_INT16: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16: return 2;
    case NNE_DTYPE_INT64: case NNE_DTYPE_DOUBLE: case NNE_DTYPE_UINT64: return 8;
    default: return 0;
    }
}

int nne_dtype_is_float(nne_dtype dt) {
    return dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_DOUBLE || dt == NNE_DTYPE_FLOAT16 ||
           dt == NNE_DTYPE_BFLOAT16;
}
int nne_dtype_is_int(nne_dtype dt) {
    return nne_dtype_size(dt) && !nne_dtype_is_float(dt);
}
int nne_dtype_is_signed(nne_dtype dt) {
    return dt == NNE_DTYPE_INT8 || dt == NNE_DTYPE_INT16 || dt == NNE_DTYPE_INT32 ||
           dt == NNE_DTYPE_INT64 || nne_dtype_is_float(dt);
}

/* On a shape that overflows (or has a negative dim) numel is -1 and nbytes
 * SIZE_MAX: no allocation of that size succeeds, where the 0 these once
 * returned made callers allocate one byte and write far past it. */
int64_t nne_tensor_numel(const nne_tensor *t) {
    size_t nb;
    int64_t n;
    nne_dims_nbytes(t->ndim, t->dims, nne_dtype_size(t->dtype), &nb, &n);
    return n;
}
size_t nne_tensor_nbytes(const nne_tensor *t) {
    size_t nb;
    nne_dims_nbytes(t->ndim, t->dims, nne_dtype_size(t->dtype), &nb, NULL);
    return nb;
}
nne_status nne_tensor_nbytes_checked(const nne_tensor *t, size_t *out) {
    if (!t) return nne_error(NNE_ERR_INVALID_ARG, "nne_tensor_nbytes_checked: NULL tensor");
    size_t nb = SIZE_MAX;
    nne_status st = nne_shape_check("tensor", t->dtype, t->ndim, t->dims, &nb);
    if (out) *out = nb;
    return st;
}

float nne_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Round to nearest even, with overflow to inf and gradual underflow. */
uint16_t nne_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan */
        return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0);
    if (ax >= 0x477ff000u) return sign | 0x7c00; /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {                       /* below smallest normal half */
        if (ax < 0x33000000u) return sign;         /* < 2^-25 rounds to 0 */
        uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
        int shift = 126 - (int)e; /* half subnormal unit is 2^-24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = ((ax >> 13) - ((127 - 15) << 10));
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return sign | (uint16_t)r;
}

float nne_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
uint16_t nne_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* nne_tensor_get_i64 / _get_f64 / _set_f64 live in dtype_io.c with the other
 * element conversions. */

const char *nne_dims_str(int ndim, const int64_t *dims, char *buf, size_t size) {
    size_t off = 0;
    buf[0] = 0;
    if (ndim == 0) {
        snprintf(buf, size, "scalar");
        return buf;
    }
    for (int i = 0; i < ndim && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, i ? "x%lld" : "%lld", (long long)dims[i]);
    return buf;
}
