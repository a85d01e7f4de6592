/*
 * test_dtype_io.c - the core element loads and stores (core/dtype_io.h):
 * every dtype through every load, every store rule (SAT, RNE, WRAP) at the
 * range edges and on NaN, half-precision rounding, bool, unsigned 64-bit
 * values above INT64_MAX, and the array forms against the element forms
 * (strided, unaligned).
 */
#include "core/dtype_io.h"
#include "ops/op.h"
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static const nne_dtype k_all[] = {NNE_DTYPE_FLOAT,  NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                  NNE_DTYPE_INT8,   NNE_DTYPE_INT16,  NNE_DTYPE_INT32,   NNE_DTYPE_INT64,
                                  NNE_DTYPE_UINT8,  NNE_DTYPE_UINT16, NNE_DTYPE_UINT32,  NNE_DTYPE_UINT64,
                                  NNE_DTYPE_BOOL};
#define N_ALL ((int)(sizeof k_all / sizeof k_all[0]))

static int is_float(nne_dtype dt) {
    return dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_DOUBLE || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
}

/* Small integers survive a store and a load through every dtype and every
 * load form. */
static void test_roundtrip_small(void) {
    int bad = 0;
    for (int d = 0; d < N_ALL; d++) {
        nne_dtype dt = k_all[d];
        unsigned char buf[8 * 4];
        for (int v = 0; v <= 100; v += 25) {
            int64_t want = dt == NNE_DTYPE_BOOL ? v != 0 : v;
            nne_st_f64(buf, dt, 3, (double)v, NNE_CVT_SAT);
            if (nne_ld_f64(buf, dt, 3) != (double)want || nne_ld_f32(buf, dt, 3) != (float)want ||
                nne_ld_i64(buf, dt, 3) != want || nne_ld_u64(buf, dt, 3) != (uint64_t)want)
                bad++;
            nne_st_i64(buf, dt, 1, v);
            if (nne_ld_i64(buf, dt, 1) != want) bad++;
            nne_st_u64(buf, dt, 2, (uint64_t)v);
            if (nne_ld_i64(buf, dt, 2) != want) bad++;
        }
        CHECK(nne_dio_size(dt) > 0);
    }
    CHECK(bad == 0);
    CHECK(nne_dio_size(NNE_DTYPE_STRING) == 0);
}

static void test_loads(void) {
    int8_t i8 = -3;
    CHECK(nne_ld_i64(&i8, NNE_DTYPE_INT8, 0) == -3);
    CHECK(nne_ld_u64(&i8, NNE_DTYPE_INT8, 0) == (uint64_t)-3);
    CHECK(nne_ld_f64(&i8, NNE_DTYPE_INT8, 0) == -3.0);
    uint64_t u64 = UINT64_MAX;
    CHECK(nne_ld_i64(&u64, NNE_DTYPE_UINT64, 0) == -1); /* bit pattern */
    CHECK(nne_ld_u64(&u64, NNE_DTYPE_UINT64, 0) == UINT64_MAX);
    CHECK(nne_ld_f64(&u64, NNE_DTYPE_UINT64, 0) == 18446744073709551616.0);
    uint8_t b = 7; /* any non-zero byte is true */
    CHECK(nne_ld_f64(&b, NNE_DTYPE_BOOL, 0) == 1.0);
    CHECK(nne_ld_i64(&b, NNE_DTYPE_BOOL, 0) == 1);
    float f = -2.75f;
    CHECK(nne_ld_i64(&f, NNE_DTYPE_FLOAT, 0) == -2); /* toward zero */
    f = NAN;
    CHECK(nne_ld_i64(&f, NNE_DTYPE_FLOAT, 0) == 0);
    f = 1e30f;
    CHECK(nne_ld_i64(&f, NNE_DTYPE_FLOAT, 0) == INT64_MAX);
    f = -1.0f;
    CHECK(nne_ld_u64(&f, NNE_DTYPE_FLOAT, 0) == UINT64_MAX); /* as a wrapping cast */
    uint16_t h = nne_f32_to_f16(1.5f);
    CHECK(nne_ld_f64(&h, NNE_DTYPE_FLOAT16, 0) == 1.5);
    h = nne_f32_to_bf16(-0.25f);
    CHECK(nne_ld_f32(&h, NNE_DTYPE_BFLOAT16, 0) == -0.25f);
    int64_t big = ((int64_t)1 << 53) + 1; /* float load rounds once */
    CHECK(nne_ld_f32(&big, NNE_DTYPE_INT64, 0) == (float)big);
    CHECK(nne_ld_f64(&big, NNE_DTYPE_STRING, 0) == 0.0);
    CHECK(nne_ld_i64(&big, NNE_DTYPE_UNDEFINED, 0) == 0);
    /* unaligned element */
    unsigned char raw[9] = {0};
    int32_t v = -123456;
    memcpy(raw + 1, &v, 4);
    CHECK(nne_ld_i64(raw + 1, NNE_DTYPE_INT32, 0) == -123456);
}

static void test_store_rules(void) {
    int8_t i8;
    nne_st_f64(&i8, NNE_DTYPE_INT8, 0, 300.7, NNE_CVT_SAT);
    CHECK(i8 == 127);
    nne_st_f64(&i8, NNE_DTYPE_INT8, 0, -2.5, NNE_CVT_SAT);
    CHECK(i8 == -2);
    nne_st_f64(&i8, NNE_DTYPE_INT8, 0, -2.5, NNE_CVT_RNE);
    CHECK(i8 == -2);
    nne_st_f64(&i8, NNE_DTYPE_INT8, 0, -3.5, NNE_CVT_RNE);
    CHECK(i8 == -4);
    nne_st_f64(&i8, NNE_DTYPE_INT8, 0, -300.0, NNE_CVT_RNE);
    CHECK(i8 == -128);
    nne_st_f64(&i8, NNE_DTYPE_INT8, 0, 300.7, NNE_CVT_WRAP);
    CHECK(i8 == (int8_t)44); /* 300 keeps its low 8 bits */
    nne_st_f64(&i8, NNE_DTYPE_INT8, 0, NAN, NNE_CVT_WRAP);
    CHECK(i8 == 0);
    uint8_t u8;
    nne_st_f64(&u8, NNE_DTYPE_UINT8, 0, -1.0, NNE_CVT_SAT);
    CHECK(u8 == 0);
    nne_st_f64(&u8, NNE_DTYPE_UINT8, 0, -1.0, NNE_CVT_WRAP);
    CHECK(u8 == 255);
    nne_st_f64(&u8, NNE_DTYPE_UINT8, 0, NAN, NNE_CVT_RNE);
    CHECK(u8 == 0);
    nne_st_f64(&u8, NNE_DTYPE_BOOL, 0, NAN, NNE_CVT_SAT);
    CHECK(u8 == 1);
    nne_st_f64(&u8, NNE_DTYPE_BOOL, 0, -0.0, NNE_CVT_SAT);
    CHECK(u8 == 0);
    int64_t i64;
    nne_st_f64(&i64, NNE_DTYPE_INT64, 0, 1e300, NNE_CVT_SAT);
    CHECK(i64 == INT64_MAX);
    nne_st_f64(&i64, NNE_DTYPE_INT64, 0, -1e300, NNE_CVT_RNE);
    CHECK(i64 == INT64_MIN);
    nne_st_f64(&i64, NNE_DTYPE_INT64, 0, 9007199254740993.0, NNE_CVT_SAT);
    CHECK(i64 == 9007199254740992); /* the double nearest */
    uint64_t u64;
    nne_st_f64(&u64, NNE_DTYPE_UINT64, 0, 1.5e19, NNE_CVT_SAT);
    CHECK(u64 == 15000000000000000000ull);
    nne_st_f64(&u64, NNE_DTYPE_UINT64, 0, 1e30, NNE_CVT_SAT);
    CHECK(u64 == UINT64_MAX);
    nne_st_f64(&u64, NNE_DTYPE_UINT64, 0, -5.0, NNE_CVT_SAT);
    CHECK(u64 == 0);
    nne_st_f64(&u64, NNE_DTYPE_UINT64, 0, -1.0, NNE_CVT_WRAP);
    CHECK(u64 == UINT64_MAX);
    int32_t i32;
    nne_st_f64(&i32, NNE_DTYPE_INT32, 0, 2147483647.6, NNE_CVT_RNE);
    CHECK(i32 == INT32_MAX);
    nne_st_f64(&i32, NNE_DTYPE_INT32, 0, 4294967296.0 + 5.0, NNE_CVT_WRAP);
    CHECK(i32 == 5);
    /* integer stores keep the low bits; float targets convert */
    int16_t i16;
    nne_st_i64(&i16, NNE_DTYPE_INT16, 0, 70000);
    CHECK(i16 == (int16_t)(70000 - 65536));
    nne_st_i64(&u8, NNE_DTYPE_BOOL, 0, -4);
    CHECK(u8 == 1);
    float f;
    nne_st_i64(&f, NNE_DTYPE_FLOAT, 0, -7);
    CHECK(f == -7.0f);
    nne_st_u64(&f, NNE_DTYPE_FLOAT, 0, UINT64_MAX);
    CHECK(f == 18446744073709551616.0f);
    uint16_t h;
    nne_st_f64(&h, NNE_DTYPE_FLOAT16, 0, 65520.0, NNE_CVT_SAT); /* rounds to inf in half */
    CHECK(isinf(nne_f16_to_f32(h)));
    nne_st_f64(&h, NNE_DTYPE_BFLOAT16, 0, 1.00390625, NNE_CVT_SAT); /* tie: to even (1.0) */
    CHECK(nne_bf16_to_f32(h) == 1.0f);
    nne_st_f64_wrap(&i8, NNE_DTYPE_INT8, 0, 129.0);
    CHECK(i8 == -127);
    /* unknown dtypes write nothing */
    unsigned char guard[8];
    memset(guard, 0xab, sizeof guard);
    nne_st_f64(guard, NNE_DTYPE_STRING, 0, 1.0, NNE_CVT_SAT);
    nne_st_i64(guard, NNE_DTYPE_UNDEFINED, 0, 1);
    CHECK(guard[0] == 0xab && guard[7] == 0xab);
}

/* The array forms give what the element forms give, strided and from an
 * offset, for every dtype (including the float32 memcpy fast paths). */
static void test_arrays(void) {
    int bad = 0;
    for (int d = 0; d < N_ALL; d++) {
        nne_dtype dt = k_all[d];
        size_t es = nne_dio_size(dt);
        unsigned char mem[16 * 8 + 8];
        nne_tensor t = {.dtype = dt, .ndim = 1, .dims = {16}, .data = mem};
        for (int i = 0; i < 16; i++) nne_st_f64(mem, dt, i, (double)(i * 7 % 11) - (is_float(dt) ? 4.5 : 0.0), NNE_CVT_SAT);
        double fd[8];
        float ff[8];
        int64_t fi[8];
        nne_load_f64(&t, 1, 2, 7, fd);
        nne_load_f32(&t, 1, 2, 7, ff);
        nne_load_i64(&t, 1, 2, 7, fi);
        for (int i = 0; i < 7; i++) {
            if (fd[i] != nne_ld_f64(mem, dt, 1 + 2 * i)) bad++;
            if (ff[i] != nne_ld_f32(mem, dt, 1 + 2 * i)) bad++;
            if (fi[i] != nne_ld_i64(mem, dt, 1 + 2 * i)) bad++;
        }
        nne_load_f32(&t, 3, 1, 5, ff);
        for (int i = 0; i < 5; i++)
            if (ff[i] != nne_ld_f32(mem, dt, 3 + i)) bad++;
        /* stores: values that need each rule */
        const double src[6] = {-129.5, 2.5, 3.5, 1e10, NAN, -0.5};
        const float srcf[6] = {-129.5f, 2.5f, 3.5f, 1e10f, NAN, -0.5f};
        const int64_t srci[6] = {-129, 2, 300, INT64_MAX, 0, -1};
        for (int cvt = NNE_CVT_SAT; cvt <= NNE_CVT_WRAP; cvt++) {
            unsigned char want[16 * 8];
            nne_store_f64(&t, 2, 2, 6, src, (nne_cvt)cvt); /* elements 2..12 */
            for (int i = 0; i < 6; i++) nne_st_f64(want, dt, i, src[i], (nne_cvt)cvt);
            for (int i = 0; i < 6; i++)
                if (memcmp(mem + (size_t)(2 + 2 * i) * es, want + (size_t)i * es, es)) bad++;
            nne_store_f32(&t, 0, 1, 6, srcf, (nne_cvt)cvt);
            for (int i = 0; i < 6; i++) nne_st_f64(want, dt, i, (double)srcf[i], (nne_cvt)cvt);
            if (memcmp(mem, want, 6 * es)) bad++;
        }
        unsigned char want[16 * 8];
        nne_store_i64(&t, 1, 2, 6, srci);
        for (int i = 0; i < 6; i++) nne_st_i64(want, dt, i, srci[i]);
        for (int i = 0; i < 6; i++)
            if (memcmp(mem + (size_t)(1 + 2 * i) * es, want + (size_t)i * es, es)) bad++;
        /* op.h's accessors are the same conversions */
        if (nne_tensor_get_f64(&t, 5) != nne_ld_f64(mem, dt, 5)) bad++;
        if (nne_tensor_get_i64(&t, 5) != nne_ld_i64(mem, dt, 5)) bad++;
        nne_tensor_set_f64(&t, 4, 1e300);
        nne_st_f64(want, dt, 0, 1e300, NNE_CVT_SAT);
        if (memcmp(mem + 4 * es, want, es)) bad++;
        /* unaligned tensor data */
        nne_tensor u = {.dtype = dt, .ndim = 1, .dims = {8}, .data = mem + 1};
        for (int i = 0; i < 8; i++) nne_st_i64(mem + 1, dt, i, i);
        nne_load_i64(&u, 0, 1, 8, fi);
        for (int i = 0; i < 8; i++)
            if (fi[i] != (dt == NNE_DTYPE_BOOL ? i != 0 : i)) bad++;
    }
    CHECK(bad == 0);
    /* unknown dtypes load zeros */
    nne_tensor s = {.dtype = NNE_DTYPE_STRING, .ndim = 1, .dims = {2}, .data = (void *)"ab"};
    double z[2] = {5, 5};
    nne_load_f64(&s, 0, 1, 2, z);
    CHECK(z[0] == 0.0 && z[1] == 0.0);
}

void unit_dtype_io(void) {
    test_roundtrip_small();
    test_loads();
    test_store_rules();
    test_arrays();
}
