/*
 * test_elemwise.c - unit tests of the element-wise machinery
 * (src/ops/elemwise_common.*): the broadcast iterator against naive numpy
 * indexing on shapes that hit every coalescing case, and the float32 fast
 * paths of Add/Max/Min (restrict-qualified, unrolled loops) against the
 * generic double path, with outputs disjoint, in place on either input,
 * partially overlapping, and with scalar operands, on lengths below, at and
 * above the unroll factor of 8.
 */
#include "ops/elemwise_common.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static int64_t numel_of(int nd, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= d[i];
    return n;
}

/* Flat index into t of output element `flat` of shape (nd, od). */
static int64_t naive_index(const nne_tensor *t, int nd, const int64_t *od, int64_t flat)
{
    int64_t coord[NNE_MAX_DIMS];
    for (int d = nd - 1; d >= 0; d--) {
        coord[d] = flat % od[d];
        flat /= od[d];
    }
    int64_t r = 0;
    int off = nd - t->ndim;
    for (int d = 0; d < t->ndim; d++)
        r = r * t->dims[d] + (t->dims[d] == 1 ? 0 : coord[d + off]);
    return r;
}

static void test_iter(void)
{
    static const struct {
        int na, nb, no;
        int64_t a[5], b[5], o[5];
    } cases[] = {
        {3, 1, 3, {2, 3, 4}, {4}, {2, 3, 4}},
        {3, 2, 3, {2, 1, 4}, {3, 1}, {2, 3, 4}},
        {0, 2, 2, {0}, {2, 3}, {2, 3}},
        {4, 4, 4, {2, 3, 1, 5}, {1, 3, 4, 1}, {2, 3, 4, 5}},
        {2, 2, 2, {5, 1}, {1, 5}, {5, 5}},
        {5, 5, 5, {2, 2, 2, 2, 2}, {2, 1, 2, 1, 2}, {2, 2, 2, 2, 2}},
        {3, 1, 3, {1, 1, 7}, {7}, {1, 1, 7}},
        {2, 1, 2, {0, 3}, {3}, {0, 3}},
        {2, 2, 2, {1, 1}, {1, 1}, {1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nne_tensor a = {NNE_DTYPE_FLOAT, cases[c].na, {0}, NULL};
        nne_tensor b = {NNE_DTYPE_FLOAT, cases[c].nb, {0}, NULL};
        nne_tensor o = {NNE_DTYPE_FLOAT, cases[c].no, {0}, NULL};
        memcpy(a.dims, cases[c].a, sizeof cases[c].a);
        memcpy(b.dims, cases[c].b, sizeof cases[c].b);
        memcpy(o.dims, cases[c].o, sizeof cases[c].o);
        const nne_tensor *ins[2] = {&a, &b};
        ew_iter it;
        ew_iter_init(&it, &o, 2, ins);
        int64_t n = numel_of(o.ndim, o.dims), seen = 0;
        int bad = 0;
        while (ew_iter_next(&it)) {
            for (int64_t i = 0; i < it.n; i++) {
                int64_t flat = it.off[0] + i;
                bad |= flat != seen;
                bad |= it.off[1] + i * it.step[1] != naive_index(&a, o.ndim, o.dims, flat);
                bad |= it.off[2] + i * it.step[2] != naive_index(&b, o.ndim, o.dims, flat);
                seen++;
            }
        }
        CHECK(!bad);
        CHECK(seen == n);
    }
    /* same shapes and scalar broadcast coalesce into a single run */
    nne_tensor x = {NNE_DTYPE_FLOAT, 3, {4, 5, 6}, NULL}, s = {NNE_DTYPE_FLOAT, 0, {0}, NULL};
    const nne_tensor *ins[2] = {&x, &s};
    ew_iter it;
    ew_iter_init(&it, &x, 2, ins);
    CHECK(it.ndim == 1 && it.n == 120 && it.step[1] == 1 && it.step[2] == 0);
}

static uint32_t g_ew_seed = 99u;
static float ew_rand(void)
{
    g_ew_seed = g_ew_seed * 1664525u + 1013904223u;
    return (float)((g_ew_seed >> 8) & 0xffff) / 4096.0f - 8.0f;
}

/* Layouts of output vs inputs. */
enum { L_DISJOINT, L_INPLACE_A, L_INPLACE_B, L_SCALAR_B, L_SCALAR_B_INPLACE, L_SCALAR_A_INPLACE,
       L_OVERLAP, L_COUNT };

/* Runs fn on a fresh copy of the buffers arranged per layout; writes the
 * output into res[0..n). */
static void run_layout(const ew_binop *op, int f32, int layout, const float *a0, const float *b0,
                       int64_t n, float *res)
{
    float *buf = malloc(sizeof(float) * (size_t)(3 * n + 8));
    float *a = buf, *b = buf + n + 2, *o = buf + 2 * n + 4;
    memcpy(a, a0, sizeof(float) * (size_t)n);
    memcpy(b, b0, sizeof(float) * (size_t)n);
    nne_tensor ta = {NNE_DTYPE_FLOAT, 1, {n}, a}, tb = {NNE_DTYPE_FLOAT, 1, {n}, b};
    nne_tensor to = {NNE_DTYPE_FLOAT, 1, {n}, o};
    switch (layout) {
    case L_INPLACE_A: to.data = a; break;
    case L_INPLACE_B: to.data = b; break;
    case L_SCALAR_B: tb.ndim = 0; break;
    case L_SCALAR_B_INPLACE: tb.ndim = 0; to.data = a; break;
    case L_SCALAR_A_INPLACE: ta.ndim = 0; to.data = b; break;
    case L_OVERLAP: to.data = a + 1; break;
    default: break;
    }
    ew_k k;
    memset(&k, 0, sizeof k);
    k.ta = k.tb = k.to = NNE_DTYPE_FLOAT;
    ew_binary_exec(&k, f32 ? op->f32 : op->gf, &to, &ta, &tb);
    memcpy(res, to.data, sizeof(float) * (size_t)n);
    free(buf);
}

static void test_f32_paths(void)
{
    static const int64_t lens[] = {1, 7, 8, 9, 16, 23, 64, 100};
    const ew_binop *ops[] = {&ew_binop_add, &ew_binop_max, &ew_binop_min};
    int bad = 0;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            int64_t n = lens[l];
            float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
            float *r1 = malloc(sizeof(float) * (size_t)n), *r2 = malloc(sizeof(float) * (size_t)n);
            for (int64_t i = 0; i < n; i++) {
                a[i] = ew_rand();
                b[i] = ew_rand();
            }
            if (n > 3)
                a[3] = NAN; /* Max/Min propagate NaN */
            for (int lay = 0; lay < L_COUNT; lay++) {
                run_layout(ops[o], 1, lay, a, b, n, r1);
                run_layout(ops[o], 0, lay, a, b, n, r2);
                for (int64_t i = 0; i < n; i++) {
                    int same = r1[i] == r2[i] || (r1[i] != r1[i] && r2[i] != r2[i]);
                    if (!same) {
                        fprintf(stderr, "elemwise f32 op %zu layout %d n %lld i %lld: %g vs %g\n", o,
                                lay, (long long)n, (long long)i, r1[i], r2[i]);
                        bad = 1;
                    }
                }
            }
            free(a);
            free(b);
            free(r1);
            free(r2);
        }
    }
    CHECK(!bad);
}

/* Integer helpers: wrapping and loads/stores of every dtype. */
static void test_int_helpers(void)
{
    CHECK(ew_wadd(INT64_MAX, 1) == INT64_MIN);
    CHECK(ew_wmul(INT64_MIN, -1) == INT64_MIN);
    CHECK(ew_wneg(INT64_MIN) == INT64_MIN);
    CHECK(nne_f64_to_i64_sat(NAN) == 0);
    CHECK(nne_f64_to_i64_sat(1e300) == INT64_MAX);
    CHECK(nne_f64_to_i64_sat(-1e300) == INT64_MIN);
    CHECK(nne_f64_to_u64_wrap(1.5e19) == 15000000000000000000ull);
    CHECK(nne_f64_to_u64_wrap(-1.0) == UINT64_MAX);
    int8_t i8 = -3;
    CHECK(nne_ld_i64(&i8, NNE_DTYPE_INT8, 0) == -3);
    CHECK(nne_ld_u64(&i8, NNE_DTYPE_INT8, 0) == (uint64_t)-3);
    uint64_t u64 = UINT64_MAX;
    CHECK(nne_ld_i64(&u64, NNE_DTYPE_UINT64, 0) == -1);
    CHECK(nne_ld_f64(&u64, NNE_DTYPE_UINT64, 0) == 18446744073709551616.0);
    uint8_t u8 = 0;
    nne_st_i64(&u8, NNE_DTYPE_UINT8, 0, -1);
    CHECK(u8 == 255);
    nne_st_f64(&u8, NNE_DTYPE_BOOL, 0, NAN, NNE_CVT_WRAP);
    CHECK(u8 == 1);
    int16_t i16 = 0;
    nne_st_f64(&i16, NNE_DTYPE_INT16, 0, 70000.7, NNE_CVT_WRAP);
    CHECK(i16 == (int16_t)(70000 - 65536));
    float f = 0;
    nne_st_u64(&f, NNE_DTYPE_FLOAT, 0, UINT64_MAX);
    CHECK(f == 18446744073709551616.0f);
}

void unit_elemwise(void)
{
    test_iter();
    test_f32_paths();
    test_int_helpers();
}
