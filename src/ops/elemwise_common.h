/*
 * elemwise_common.h - shared machinery of the element-wise ops (unary math,
 * activations, binary arithmetic/compare/logic, variadic, Where, Cast).
 *
 * Three pieces:
 *   1. Element access by dtype: core/dtype_io.h's nne_ld_f64 / nne_ld_i64 /
 *      nne_ld_u64 load element i of any supported dtype into a compute
 *      domain (double, int64, uint64); nne_st_f64 (NNE_CVT_WRAP) / nne_st_i64 /
 *      nne_st_u64 store back, converting without UB (float -> int saturates
 *      to int64 then wraps; int -> narrower int wraps).
 *   2. A broadcast iterator (ew_iter) that walks an output tensor in runs of
 *      its innermost (coalesced) dimension, giving for each operand the element
 *      offset of the run start and the element stride inside the run (0 on a
 *      broadcast axis, usually 1 otherwise).
 *   3. Row kernels: an op supplies one function per compute domain (typed
 *      float32, generic float/double/half, signed int, unsigned int/bool) and
 *      the drivers ew_unary_run / ew_binary_run pick one by dtype, declare the
 *      output and run it over the iterator's runs.
 *
 * Compute domains: float types (float16, bfloat16, float, double) compute in
 * double through the generic path ("gf"), except float32 which has a typed
 * fast path ("f32") when the op supplies one. Signed ints compute in int64
 * ("gi"), unsigned ints and bool in uint64 ("gu"). Wrapping arithmetic is
 * done in uint64 so overflow is never UB.
 */
#ifndef NNE_OPS_ELEMWISE_COMMON_H
#define NNE_OPS_ELEMWISE_COMMON_H

#include "train/train.h"
#include "ops/op.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------ dtypes -- */

/* dtype classes, used as bit masks of accepted input types */
enum {
    EW_TF = 1, /* float16, bfloat16, float, double */
    EW_TS = 2, /* int8..int64 */
    EW_TU = 4, /* uint8..uint64 */
    EW_TB = 8, /* bool */
    EW_TNUM = EW_TF | EW_TS | EW_TU,
    EW_TINT = EW_TS | EW_TU,
    EW_TALL = EW_TF | EW_TS | EW_TU | EW_TB
};

/* Class bit of a dtype, 0 for unsupported ones (string, undefined, ...). */
static inline unsigned ew_class(nne_dtype dt)
{
    switch (dt) {
    case NNE_DTYPE_FLOAT: case NNE_DTYPE_DOUBLE: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16:
        return EW_TF;
    case NNE_DTYPE_INT8: case NNE_DTYPE_INT16: case NNE_DTYPE_INT32: case NNE_DTYPE_INT64:
        return EW_TS;
    case NNE_DTYPE_UINT8: case NNE_DTYPE_UINT16: case NNE_DTYPE_UINT32: case NNE_DTYPE_UINT64:
        return EW_TU;
    case NNE_DTYPE_BOOL:
        return EW_TB;
    default:
        return 0;
    }
}

/* Element size in bytes of the dtypes above (0 otherwise). */
static inline size_t ew_esize(nne_dtype dt)
{
    switch (dt) {
    case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: case NNE_DTYPE_BOOL: return 1;
    case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16: return 2;
    case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: case NNE_DTYPE_FLOAT: return 4;
    case NNE_DTYPE_INT64: case NNE_DTYPE_UINT64: case NNE_DTYPE_DOUBLE: return 8;
    default: return 0;
    }
}

/* Element access by dtype is core/dtype_io.h's: nne_ld_f64 / nne_ld_i64 /
 * nne_ld_u64 load element i into a compute domain, nne_st_f64 (NNE_CVT_WRAP:
 * float -> int saturates to 64 bits then wraps, as Cast does) / nne_st_i64 /
 * nne_st_u64 store back. */
#include "core/dtype_io.h"

/* Wrapping int64 arithmetic (two's complement, never UB). */
static inline int64_t ew_u2i(uint64_t v)
{
    int64_t r;
    memcpy(&r, &v, sizeof r);
    return r;
}
static inline int64_t ew_wadd(int64_t a, int64_t b) { return ew_u2i((uint64_t)a + (uint64_t)b); }
static inline int64_t ew_wsub(int64_t a, int64_t b) { return ew_u2i((uint64_t)a - (uint64_t)b); }
static inline int64_t ew_wmul(int64_t a, int64_t b) { return ew_u2i((uint64_t)a * (uint64_t)b); }
static inline int64_t ew_wneg(int64_t a) { return ew_u2i(0u - (uint64_t)a); }

/* ------------------------------------------------- broadcast iterator -- */

#define EW_MAX_OPS 4 /* output + up to 3 inputs (Where) */

/*
 * Walks the output in runs of the innermost coalesced dimension. Usage:
 *     ew_iter it;
 *     ew_iter_init(&it, y, 2, (const nne_tensor *[]){a, b});
 *     while (ew_iter_next(&it))
 *         kernel(a + it.off[1], it.step[1], b + it.off[2], it.step[2],
 *                y + it.off[0], it.n);        // it.step[0] is 1
 * Operand 0 is the output (C-contiguous); operand k >= 1 is ins[k-1], whose
 * shape must broadcast to the output's (numpy rules). Offsets and steps are
 * in elements. Adjacent dimensions are merged when every operand is
 * contiguous across them, and size-1 dims are dropped, so same-shape and
 * scalar-broadcast cases become one run over the whole tensor.
 */
typedef struct ew_iter {
    int nops;                                  /* output + inputs */
    int ndim;                                  /* coalesced rank, >= 1 */
    int64_t dims[NNE_MAX_DIMS];                /* coalesced dims, outer first */
    int64_t strides[EW_MAX_OPS][NNE_MAX_DIMS]; /* elements, 0 on broadcast axes */
    int64_t idx[NNE_MAX_DIMS];                 /* position in the outer dims */
    int64_t runs_left;                         /* runs not yet returned */
    int started;
    int64_t n;                                 /* run length (elements) */
    int64_t step[EW_MAX_OPS];                  /* stride inside a run (elements) */
    int64_t off[EW_MAX_OPS];                   /* OUT: run start offset (elements) */
} ew_iter;

void ew_iter_init(ew_iter *it, const nne_tensor *out, int nin, const nne_tensor *const *ins);
/* Advance to the next run; 0 when done. */
int ew_iter_next(ew_iter *it);

/* Broadcast shape of n tensors (numpy rules); fails with a message. */
nne_status ew_broadcast_n(nne_op_ctx *ctx, int n, const nne_tensor *const *ts, int *ndim,
                          int64_t *dims);

/* ------------------------------------------------------------ kernels -- */

/* Parameters passed to every row kernel. */
typedef struct ew_k {
    nne_dtype ta, tb, to;   /* dtypes of input A, input B, output */
    double alpha, beta, gamma;
    float falpha, fbeta, fgamma;
    int64_t iarg;           /* op specific (Mod: fmod, BitShift: left, IsInf flags) */
    double lo_f, hi_f;      /* Clip bounds in each domain */
    int64_t lo_i, hi_i;
    uint64_t lo_u, hi_u;
} ew_k;

/* Set alpha/beta/gamma with their float copies. */
static inline void ew_k_params(ew_k *k, double alpha, double beta, double gamma)
{
    k->alpha = alpha; k->beta = beta; k->gamma = gamma;
    k->falpha = (float)alpha; k->fbeta = (float)beta; k->fgamma = (float)gamma;
}

/* y[0..n) = f(x[0..n)); x and y contiguous. */
typedef void (*ew_unary_fn)(const ew_k *k, const void *x, void *y, int64_t n);
/* o[i] = f(a[i*sa], b[i*sb]) for i in [0, n); o contiguous. */
typedef void (*ew_binary_fn)(const ew_k *k, const void *a, int64_t sa, const void *b, int64_t sb,
                             void *o, int64_t n);

typedef struct ew_unop {
    unsigned types;   /* accepted input dtype classes (EW_T*) */
    int out_bool;     /* output is bool (IsNaN, IsInf), else same as input */
    ew_unary_fn f32;  /* float32 fast path, may be NULL (then gf) */
    ew_unary_fn gf;   /* float dtypes, through double */
    ew_unary_fn gi;   /* signed ints */
    ew_unary_fn gu;   /* unsigned ints and bool */
} ew_unop;

typedef struct ew_binop {
    unsigned types;   /* accepted dtype classes of A (and of B unless mixed) */
    unsigned types_b; /* when mixed: accepted classes of B */
    int out_bool;     /* output is bool (compare, logic) */
    int legacy;       /* opset < 7 versions take `broadcast`/`axis` attributes */
    int mixed;        /* A and B may have different dtypes (Pow) */
    ew_binary_fn f32; /* float32 x float32 fast path, may be NULL */
    ew_binary_fn gf, gi, gu;
} ew_binop;

/* Kernel for dtype dt, NULL when the op does not accept it. */
ew_unary_fn ew_unop_pick(const ew_unop *op, nne_dtype dt);
ew_binary_fn ew_binop_pick(const ew_binop *op, nne_dtype dt);

/* Whole unary op on input 0 -> output 0 (k's attributes filled by caller). */
nne_status ew_unary_run(nne_op_ctx *ctx, const ew_unop *op, ew_k *k);
/* Whole binary op on inputs 0, 1 -> output 0, incl. legacy broadcast. */
nne_status ew_binary_run(nne_op_ctx *ctx, const ew_binop *op, ew_k *k);
/* Run fn over the broadcast of a and b into y (k->ta/tb/to must be set). */
void ew_binary_exec(const ew_k *k, ew_binary_fn fn, nne_tensor *y, const nne_tensor *a,
                    const nne_tensor *b);
/* Tables shared by the binary and variadic ops (elemwise_binary.c). */
extern const ew_binop ew_binop_add, ew_binop_max, ew_binop_min;

/* Phases: infer is the op's one function (ew_unary_run / ew_binary_run at
 * its end); with plan NULL it runs again in planning mode and fills these
 * states; the run is ew_unary_kernel / ew_binary_kernel (no attributes). */
typedef struct ew_un_state {
    ew_k k;
    ew_unary_fn fn;
} ew_un_state;
typedef struct ew_bin_state {
    ew_k k;
    ew_binary_fn fn;
    int b_ndim;                    /* B as a view (legacy broadcast, PRelu) */
    int64_t b_dims[NNE_MAX_DIMS];
} ew_bin_state;
void ew_bin_state_set(ew_bin_state *st, const ew_k *k, ew_binary_fn fn, const nne_tensor *bview);
nne_status ew_unary_kernel(const void *state, const nne_kernel_args *a);
nne_status ew_binary_kernel(const void *state, const nne_kernel_args *a);
#define NNE_OP_EW_UNARY(sym, optype, fn) \
    NNE_OP_DEFINE(sym, "", optype, .infer = fn, .run = ew_unary_kernel, .state_size = sizeof(ew_un_state))
/* The same with a gradient rule (src/train/train.h). */
#define NNE_OP_EW_UNARY_G(sym, optype, fn, grad) \
    NNE_OP_DEFINE(sym, "", optype, .infer = fn, .run = ew_unary_kernel, .state_size = sizeof(ew_un_state), \
                  .gradient = &grad)
#define NNE_OP_EW_BINARY_G(sym, optype, fn, grad) \
    NNE_OP_DEFINE(sym, "", optype, .infer = fn, .run = ew_binary_kernel, .state_size = sizeof(ew_bin_state), \
                  .gradient = &grad)
#define NNE_OP_EW_BINARY(sym, optype, fn) \
    NNE_OP_DEFINE(sym, "", optype, .infer = fn, .run = ew_binary_kernel, .state_size = sizeof(ew_bin_state))

/* Error for an unsupported dtype, naming the input. */
nne_status ew_fail_dtype(nne_op_ctx *ctx, const char *what, nne_dtype dt);

/*
 * Row-kernel generators. EXPR sees `x` (and `y` for binary) in the domain
 * type and `k` (the ew_k parameters).
 *   EW_UNARY_F32(name, EXPR)   float in, float out
 *   EW_UNARY_GF(name, EXPR)    double domain, any dtype in/out via k->ta/k->to
 *   EW_UNARY_GI / _GU          int64 / uint64 domain
 *   EW_BINARY_F32(name, EXPR)  float x float -> float, with tight loops for
 *                              same-shape and scalar-broadcast runs
 *   EW_BINARY_F32_B            float x float -> bool (comparisons)
 *   EW_BINARY_GF / _GI / _GU   generic domains; the _B variants store a bool
 */
/* 1 when byte ranges [p, p+pn) and [q, q+qn) do not overlap. */
static inline int ew_disjoint(const void *p, size_t pn, const void *q, size_t qn)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)q;
    return a + pn <= b || b + qn <= a;
}

/* Runs BODY (which uses `i`) for i in [0, n), unrolled by 8 so that GCC's
 * -O2 vectorizer (which does not version loops for aliasing or add
 * epilogues) vectorizes it when the pointers are restrict-qualified. */
#define EW_LOOP8_(n, BODY)                                                          \
    do {                                                                            \
        int64_t i8_ = 0;                                                            \
        for (; i8_ + 8 <= (n); i8_ += 8)                                            \
            for (int j8_ = 0; j8_ < 8; j8_++) {                                     \
                const int64_t i = i8_ + j8_;                                        \
                BODY;                                                               \
            }                                                                       \
        for (int64_t i = i8_; i < (n); i++) {                                       \
            BODY;                                                                   \
        }                                                                           \
    } while (0)

#define EW_UNARY_F32(name, EXPR)                                                    \
    static inline float name##_e(const ew_k *k, const float x)                     \
    {                                                                               \
        (void)k;                                                                    \
        return (EXPR);                                                              \
    }                                                                               \
    static void name##_cp(const ew_k *k, const float *restrict X, float *restrict Y, \
                          int64_t n)                                                \
    {                                                                               \
        EW_LOOP8_(n, Y[i] = name##_e(k, X[i]));                                     \
    }                                                                               \
    static void name##_ip(const ew_k *k, float *restrict Y, int64_t n)             \
    {                                                                               \
        EW_LOOP8_(n, Y[i] = name##_e(k, Y[i]));                                     \
    }                                                                               \
    static void name(const ew_k *k, const void *xp, void *yp, int64_t n)           \
    {                                                                               \
        const float *X = (const float *)xp;                                         \
        float *Y = (float *)yp;                                                     \
        size_t nb = (size_t)n * sizeof(float);                                      \
        if ((const void *)X == (const void *)Y)                                     \
            name##_ip(k, Y, n);                                                     \
        else if (ew_disjoint(X, nb, Y, nb))                                         \
            name##_cp(k, X, Y, n);                                                  \
        else                                                                        \
            for (int64_t i = 0; i < n; i++)                                         \
                Y[i] = name##_e(k, X[i]);                                           \
    }

#define EW_UNARY_GEN_(name, T, LD, ST, EXPR)                                        \
    static void name(const ew_k *k, const void *xp, void *yp, int64_t n)           \
    {                                                                               \
        for (int64_t i = 0; i < n; i++) {                                           \
            const T x = LD(xp, k->ta, i);                                           \
            ST(yp, k->to, i, (EXPR));                                               \
        }                                                                           \
    }
#define EW_UNARY_GF(name, EXPR) EW_UNARY_GEN_(name, double, nne_ld_f64, nne_st_f64_wrap, EXPR)
#define EW_UNARY_GI(name, EXPR) EW_UNARY_GEN_(name, int64_t, nne_ld_i64, nne_st_i64, EXPR)
#define EW_UNARY_GU(name, EXPR) EW_UNARY_GEN_(name, uint64_t, nne_ld_u64, nne_st_u64, EXPR)

/* Typed binary kernel: restrict-qualified loops for same-shape and
 * scalar-broadcast runs, used when the output is disjoint from the inputs or
 * exactly one of them (in place, only when TI == TO: INPLACE = 1); partial
 * overlap and general strides take the plain loop. */
#define EW_BINARY_TYPED_(name, TI, TO, INPLACE, EXPR)                               \
    static inline TO name##_e(const ew_k *k, const TI x, const TI y)               \
    {                                                                               \
        (void)k;                                                                    \
        return (TO)(EXPR);                                                          \
    }                                                                               \
    static void name##_vv(const ew_k *k, const TI *restrict A, const TI *restrict B, \
                          TO *restrict O, int64_t n)                                \
    {                                                                               \
        EW_LOOP8_(n, O[i] = name##_e(k, A[i], B[i]));                               \
    }                                                                               \
    static void name##_vs(const ew_k *k, const TI *restrict A, const TI y,          \
                          TO *restrict O, int64_t n)                                \
    {                                                                               \
        EW_LOOP8_(n, O[i] = name##_e(k, A[i], y));                                  \
    }                                                                               \
    static void name##_sv(const ew_k *k, const TI x, const TI *restrict B,          \
                          TO *restrict O, int64_t n)                                \
    {                                                                               \
        EW_LOOP8_(n, O[i] = name##_e(k, x, B[i]));                                  \
    }                                                                               \
    /* in place: O is also input A (ia = 1) or input B (ia = 0) */                 \
    static void name##_iv(const ew_k *k, TO *restrict O, const TI *restrict B,      \
                          int ia, int64_t n)                                        \
    {                                                                               \
        if (ia)                                                                     \
            EW_LOOP8_(n, O[i] = name##_e(k, (TI)O[i], B[i]));                       \
        else                                                                        \
            EW_LOOP8_(n, O[i] = name##_e(k, B[i], (TI)O[i]));                       \
    }                                                                               \
    static void name##_is(const ew_k *k, TO *restrict O, const TI c, int ia,        \
                          int64_t n)                                                \
    {                                                                               \
        if (ia)                                                                     \
            EW_LOOP8_(n, O[i] = name##_e(k, (TI)O[i], c));                          \
        else                                                                        \
            EW_LOOP8_(n, O[i] = name##_e(k, c, (TI)O[i]));                          \
    }                                                                               \
    static void name(const ew_k *k, const void *ap, int64_t sa, const void *bp,    \
                     int64_t sb, void *op, int64_t n)                               \
    {                                                                               \
        const TI *A = (const TI *)ap;                                               \
        const TI *B = (const TI *)bp;                                               \
        TO *O = (TO *)op;                                                           \
        size_t ni = (size_t)n * sizeof(TI), no = (size_t)n * sizeof(TO);            \
        if (sa == 1 && sb == 1) {                                                   \
            int da = ew_disjoint(A, ni, O, no), db = ew_disjoint(B, ni, O, no);     \
            if (da && db) {                                                         \
                name##_vv(k, A, B, O, n);                                           \
                return;                                                             \
            }                                                                       \
            if (INPLACE && (const void *)A == (const void *)O && db) {              \
                name##_iv(k, O, B, 1, n);                                           \
                return;                                                             \
            }                                                                       \
            if (INPLACE && (const void *)B == (const void *)O && da) {              \
                name##_iv(k, O, A, 0, n);                                           \
                return;                                                             \
            }                                                                       \
        } else if ((sa == 1 && sb == 0) || (sa == 0 && sb == 1)) {                  \
            const TI *V = sa ? A : B; /* the contiguous operand */                  \
            const TI c = sa ? B[0] : A[0];                                          \
            if (ew_disjoint(V, ni, O, no)) {                                        \
                if (sa)                                                             \
                    name##_vs(k, V, c, O, n);                                       \
                else                                                                \
                    name##_sv(k, c, V, O, n);                                       \
                return;                                                             \
            }                                                                       \
            if (INPLACE && (const void *)V == (const void *)O) {                    \
                name##_is(k, O, c, sa, n);                                          \
                return;                                                             \
            }                                                                       \
        }                                                                           \
        for (int64_t i = 0; i < n; i++)                                             \
            O[i] = name##_e(k, A[i * sa], B[i * sb]);                               \
    }
#define EW_BINARY_F32(name, EXPR) EW_BINARY_TYPED_(name, float, float, 1, EXPR)
#define EW_BINARY_F32_B(name, EXPR) EW_BINARY_TYPED_(name, float, uint8_t, 0, EXPR)

#define EW_BINARY_GEN_(name, T, LD, ST, EXPR)                                       \
    static void name(const ew_k *k, const void *ap, int64_t sa, const void *bp,    \
                     int64_t sb, void *op, int64_t n)                               \
    {                                                                               \
        for (int64_t i = 0; i < n; i++) {                                           \
            const T x = LD(ap, k->ta, i * sa);                                      \
            const T y = LD(bp, k->tb, i * sb);                                      \
            ST(op, k->to, i, (EXPR));                                               \
        }                                                                           \
    }
static inline void ew_st_b(void *p, nne_dtype dt, int64_t i, int v)
{
    (void)dt;
    ((uint8_t *)p)[i] = (uint8_t)(v != 0);
}
#define EW_BINARY_GF(name, EXPR) EW_BINARY_GEN_(name, double, nne_ld_f64, nne_st_f64_wrap, EXPR)
#define EW_BINARY_GI(name, EXPR) EW_BINARY_GEN_(name, int64_t, nne_ld_i64, nne_st_i64, EXPR)
#define EW_BINARY_GU(name, EXPR) EW_BINARY_GEN_(name, uint64_t, nne_ld_u64, nne_st_u64, EXPR)
#define EW_BINARY_GF_B(name, EXPR) EW_BINARY_GEN_(name, double, nne_ld_f64, ew_st_b, EXPR)
#define EW_BINARY_GI_B(name, EXPR) EW_BINARY_GEN_(name, int64_t, nne_ld_i64, ew_st_b, EXPR)
#define EW_BINARY_GU_B(name, EXPR) EW_BINARY_GEN_(name, uint64_t, nne_ld_u64, ew_st_b, EXPR)

#endif
