/*
 * sgemm_tmpl.h - the body of every packed SGEMM variant (see sgemm.h),
 * written once with GCC/Clang vector extensions and compiled once per ISA
 * by a small .c file that sets the tile and vector width first:
 *     SG_SUF   name suffix (avx512)       SG_ISA  its NNE_ISA_* level
 *     SG_VL    floats per vector (16)     SG_MR   rows of the register tile
 *     SG_KC, SG_MC, SG_NC                 cache blocking (MC % MR == 0, NC % NR == 0)
 * and compiles it with that ISA's flags (Makefile: per-directory CFLAGS,
 * with -ffp-contract=fast so `c += a * b` becomes an FMA). The tile is
 * SG_MR x (2 * SG_VL): 2 * MR accumulators, two loads of B and MR
 * broadcasts of A per k.
 *
 * Blocking (Goto/BLIS): for each NC block of columns, for each KC slice,
 * B's slice is packed (or found pre-packed) in NR-wide panels, then for each
 * MC block of rows A's slice is packed (or found pre-packed) in MR-high
 * panels and every tile runs over the slice. alpha/beta and, after the last
 * slice, the epilogue are applied as each tile is written.
 */
#include "kernels/sgemm.h"
#include "kernels/dispatch.h"

#include <math.h>
#include <string.h>

#define SG_NR (2 * SG_VL)
#define SG_CAT2(a, b) a##__##b
#define SG_CAT(a, b) SG_CAT2(a, b)
#define SG_FN(name) SG_CAT(name, SG_SUF)

typedef float sg_vf __attribute__((vector_size(SG_VL * 4)));
typedef int32_t sg_vi __attribute__((vector_size(SG_VL * 4)));

static inline sg_vf sg_ld(const float *p) {
    sg_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void sg_st(float *p, sg_vf v) { memcpy(p, &v, sizeof v); }
/* x - (+0) == x for every x (x + 0 is not: -0 + 0 == +0), so this folds to a broadcast */
static inline sg_vf sg_splat(float x) { return x - (sg_vf){0}; }
static inline sg_vf sg_sel(sg_vi m, sg_vf a, sg_vf b) { return (sg_vf)((m & (sg_vi)a) | (~m & (sg_vi)b)); }

/* The even lanes of the pair (a, b): stride-2 loads without a gather. */
#if SG_VL == 16
#define SG_EVEN_IDX 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#elif SG_VL == 8
#define SG_EVEN_IDX 0, 2, 4, 6, 8, 10, 12, 14
#else
#define SG_EVEN_IDX 0, 2, 4, 6
#endif
#if defined(__clang__)
#define SG_EVEN(a, b) __builtin_shufflevector(a, b, SG_EVEN_IDX)
#else
#define SG_EVEN(a, b) __builtin_shuffle(a, b, (sg_vi){SG_EVEN_IDX})
#endif

/* d[i] = s[2 i] for i < n. The vector loop stops while an element is left
 * for the scalar tail, so it never reads past s[2 (n - 1)]. */
static inline void sg_copy_s2(float *restrict d, const float *restrict s, int64_t n) {
    int64_t i = 0;
    for (; i + SG_VL < n; i += SG_VL) {
        sg_vf a, b;
        memcpy(&a, s + 2 * i, sizeof a);
        memcpy(&b, s + 2 * i + SG_VL, sizeof b);
        sg_vf e = SG_EVEN(a, b);
        memcpy(d + i, &e, sizeof e);
    }
    for (; i < n; i++) d[i] = s[2 * i];
}

static inline int64_t sg_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t sg_rup(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* ------------------------------------------------------------ packing -- */

/* A(0..mc, 0..kc) into MR-row panels: per k, MR floats (rows past mc 0). */
static void sg_pack_a_block(int64_t mc, int64_t kc, const float *A, int64_t rsa, int64_t csa, float *restrict P) {
    for (int64_t i = 0; i < mc; i += SG_MR) {
        int64_t mr = sg_min(SG_MR, mc - i);
        const float *a = A + i * rsa;
        if (csa == 1 && mr == SG_MR) {
            for (int64_t k = 0; k < kc; k++)
                for (int r = 0; r < SG_MR; r++) P[k * SG_MR + r] = a[r * rsa + k];
        } else if (rsa == 1 && mr == SG_MR) {
            for (int64_t k = 0; k < kc; k++) memcpy(P + k * SG_MR, a + k * csa, SG_MR * sizeof(float));
        } else {
            for (int64_t k = 0; k < kc; k++) {
                int64_t r = 0;
                for (; r < mr; r++) P[k * SG_MR + r] = a[r * rsa + k * csa];
                for (; r < SG_MR; r++) P[k * SG_MR + r] = 0.0f;
            }
        }
        P += kc * SG_MR;
    }
}

/* B(0..kc, 0..nc) into NR-column panels: per k, NR floats (columns past nc 0). */
static void sg_pack_b_block(int64_t kc, int64_t nc, const float *B, int64_t rsb, int64_t csb, float *restrict P) {
    for (int64_t j = 0; j < nc; j += SG_NR) {
        int64_t nr = sg_min(SG_NR, nc - j);
        const float *b = B + j * csb;
        if (nr == SG_NR && csb == 1) {
            for (int64_t k = 0; k < kc; k++) memcpy(P + k * SG_NR, b + k * rsb, SG_NR * sizeof(float));
        } else if (nr == SG_NR && rsb == 1) {
            for (int64_t c = 0; c < SG_NR; c++) {
                const float *col = b + c * csb;
                for (int64_t k = 0; k < kc; k++) P[k * SG_NR + c] = col[k];
            }
        } else {
            for (int64_t k = 0; k < kc; k++) {
                int64_t c = 0;
                if (csb == 1) {
                    memcpy(P + k * SG_NR, b + k * rsb, (size_t)nr * sizeof(float));
                    c = nr;
                } else {
                    for (; c < nr; c++) P[k * SG_NR + c] = b[k * rsb + c * csb];
                }
                for (; c < SG_NR; c++) P[k * SG_NR + c] = 0.0f;
            }
        }
        P += kc * SG_NR;
    }
}

/* Whole-matrix packing (weights, once per plan): slice pc of depth kc at
 * float offset pc * round_up(M, MR) (A) or pc * round_up(N, NR) (B), its
 * panels back to back. */
static size_t SG_FN(nne_f32_sgemm_packed_a_bytes)(int64_t M, int64_t K) {
    if (M <= 0 || K <= 0) return 0;
    return (size_t)(sg_rup(M, SG_MR) * K) * sizeof(float);
}
static void SG_FN(nne_f32_sgemm_pack_a)(int64_t M, int64_t K, const float *A, int64_t rsa, int64_t csa, float *P) {
    int64_t Mp = sg_rup(M, SG_MR);
    for (int64_t pc = 0; pc < K; pc += SG_KC)
        sg_pack_a_block(M, sg_min(SG_KC, K - pc), A + pc * csa, rsa, csa, P + pc * Mp);
}
static size_t SG_FN(nne_f32_sgemm_packed_b_bytes)(int64_t N, int64_t K) {
    if (N <= 0 || K <= 0) return 0;
    return (size_t)(sg_rup(N, SG_NR) * K) * sizeof(float);
}
static void SG_FN(nne_f32_sgemm_pack_b)(int64_t N, int64_t K, const float *B, int64_t rsb, int64_t csb, float *P) {
    int64_t Np = sg_rup(N, SG_NR);
    for (int64_t pc = 0; pc < K; pc += SG_KC)
        sg_pack_b_block(sg_min(SG_KC, K - pc), N, B + pc * rsb, rsb, csb, P + pc * Np);
}

/* ------------------------------------------------------- micro-kernels -- */

#if SG_MR == 8
#define SG_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#elif SG_MR == 6
#define SG_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#elif SG_MR == 4
#define SG_ROWS(X) X(0) X(1) X(2) X(3)
#else
#error "SG_MR must be 4, 6 or 8"
#endif

/* T[MR x NR] = A panel (MR x kc) * B panel (kc x NR). */
static inline __attribute__((always_inline)) void sg_kernel_full(int64_t kc, const float *restrict Ap,
                                                                  const float *restrict Bp, float *restrict T) {
#define SG_DECL(i) sg_vf c##i##0 = {0}, c##i##1 = {0};
    SG_ROWS(SG_DECL)
#undef SG_DECL
    for (int64_t k = 0; k < kc; k++) {
        sg_vf b0 = sg_ld(Bp), b1 = sg_ld(Bp + SG_VL);
#define SG_FMA(i)              \
    {                          \
        sg_vf a = sg_splat(Ap[i]); \
        c##i##0 += a * b0;     \
        c##i##1 += a * b1;     \
    }
        SG_ROWS(SG_FMA)
#undef SG_FMA
        Ap += SG_MR;
        Bp += SG_NR;
    }
#define SG_OUT(i)                           \
    sg_st(T + (i) * SG_NR, c##i##0);        \
    sg_st(T + (i) * SG_NR + SG_VL, c##i##1);
    SG_ROWS(SG_OUT)
#undef SG_OUT
}

/* One row r of the panel: T[0 .. NR) (for the last rows of small M). */
static inline void sg_kernel_row(int64_t kc, const float *restrict Ap, const float *restrict Bp, float *restrict T) {
    sg_vf c0 = {0}, c1 = {0}, d0 = {0}, d1 = {0};
    int64_t k = 0;
    for (; k + 2 <= kc; k += 2) {
        sg_vf a = sg_splat(Ap[0]), e = sg_splat(Ap[SG_MR]);
        c0 += a * sg_ld(Bp);
        c1 += a * sg_ld(Bp + SG_VL);
        d0 += e * sg_ld(Bp + SG_NR);
        d1 += e * sg_ld(Bp + SG_NR + SG_VL);
        Ap += 2 * SG_MR;
        Bp += 2 * SG_NR;
    }
    if (k < kc) {
        sg_vf a = sg_splat(Ap[0]);
        c0 += a * sg_ld(Bp);
        c1 += a * sg_ld(Bp + SG_VL);
    }
    sg_st(T, c0 + d0);
    sg_st(T + SG_VL, c1 + d1);
}

/* ----------------------------------------------------------- epilogue -- */

/* e^x for a vector: x = n ln2 + r (|r| <= ln2 / 2, n rounded to nearest),
 * e^r by its degree-6 Taylor polynomial (relative error < 2e-7), times
 * 2^n built in the exponent bits. x is clamped to [-87, 88] first (below
 * that the result is a denormal, which this returns as e^-87); above
 * 88.72 the result is inf, as expf's. */
static inline __attribute__((always_inline)) sg_vf sg_exp(sg_vf x0) {
    sg_vf hi = sg_splat(88.0f), lo = sg_splat(-87.0f);
    sg_vf x = sg_sel(x0 > hi, hi, x0);
    x = sg_sel(x < lo, lo, x);
    sg_vf t = x * 1.44269504088896341f + 0.5f;
    sg_vi n = __builtin_convertvector(t, sg_vi);
    sg_vf nf = __builtin_convertvector(n, sg_vf);
    /* truncation rounded negative t up: step back to the floor */
    sg_vi up = nf > t;
    nf = sg_sel(up, nf - 1.0f, nf);
    n = n + up; /* up is -1 where true */
    sg_vf r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
    sg_vf p = sg_splat(1.0f / 720.0f);
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    sg_vi e = (n + 127) << 23;
    return sg_sel(x0 > 88.72283935546875f, sg_splat(INFINITY), p * (sg_vf)e);
}

static inline __attribute__((always_inline)) sg_vf sg_act(int act, float al, float be, sg_vf x) {
    sg_vf z = {0}, one = sg_splat(1.0f);
    switch (act) {
    case NNE_ACT_RELU: return sg_sel(x > z, x, z);
    case NNE_ACT_CLIP: {
        sg_vf lo = sg_splat(al), hi = sg_splat(be);
        x = sg_sel(x < lo, lo, x);
        return sg_sel(x > hi, hi, x);
    }
    case NNE_ACT_LEAKYRELU: return sg_sel(x >= z, x, x * al);
    case NNE_ACT_SIGMOID: return one / (one + sg_exp(-x));
    /* x * sigmoid(x), as the unfused graph computes it (-inf gives NaN) */
    case NNE_ACT_SILU: return x * (one / (one + sg_exp(-x)));
    case NNE_ACT_HARDSIGMOID:
    case NNE_ACT_HARDSWISH: {
        /* max(0, min(1, v)) as fmaxf/fminf: NaN gives 1 */
        sg_vf v = act == NNE_ACT_HARDSIGMOID ? x * al + be : x * (1.0f / 6.0f) + 0.5f;
        v = sg_sel(v < one, v, one);
        v = sg_sel(v > z, v, z);
        return act == NNE_ACT_HARDSIGMOID ? v : x * v;
    }
    default: {
        float t[SG_VL];
        sg_st(t, x);
        for (int i = 0; i < SG_VL; i++) t[i] = nne_act_f32(act, al, be, t[i]);
        return sg_ld(t);
    }
    }
}

/* Full-width rows of a tile (see sg_store_tile), act a constant in each
 * call below so that every activation gets its own loop. */
static inline __attribute__((always_inline)) void sg_store_rows(const float *T, int64_t mr, float *C, int64_t ldc,
                                                                 float alpha, float beta, const nne_epilogue *ep,
                                                                 int64_t r0, int64_t c0, int act) {
    for (int64_t i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        const float *t = T + i * SG_NR;
        const float *res = ep && ep->residual ? ep->residual + (r0 + i) * ep->ld_res + c0 : NULL;
        const float *bcol = ep && ep->bias && ep->bias_per_col ? ep->bias + c0 : NULL;
        float brow = ep && ep->bias && !ep->bias_per_col ? ep->bias[r0 + i] : 0.0f;
        for (int v = 0; v < SG_NR; v += SG_VL) {
            sg_vf x = sg_ld(t + v);
            if (alpha != 1.0f) x *= alpha;
            if (beta == 1.0f) x += sg_ld(c + v);
            else if (beta != 0.0f) x += beta * sg_ld(c + v);
            if (ep) {
                if (bcol) x += sg_ld(bcol + v);
                else x += brow;
                if (res) x += sg_ld(res + v);
                if (act != NNE_ACT_NONE) x = sg_act(act, ep->alpha, ep->beta, x);
            }
            sg_st(c + v, x);
        }
    }
}

/* C[mr x nr] (at row r0, column c0 of the whole C) = alpha * T + beta * C,
 * then the epilogue when ep != NULL. */
static void sg_store_tile(const float *T, int64_t mr, int64_t nr, float *C, int64_t ldc, float alpha, float beta,
                          const nne_epilogue *ep, int64_t r0, int64_t c0) {
    int act = ep ? ep->act : NNE_ACT_NONE;
    if (nr == SG_NR) {
        switch (act) {
        case NNE_ACT_NONE: sg_store_rows(T, mr, C, ldc, alpha, beta, ep, r0, c0, NNE_ACT_NONE); break;
        case NNE_ACT_RELU: sg_store_rows(T, mr, C, ldc, alpha, beta, ep, r0, c0, NNE_ACT_RELU); break;
        case NNE_ACT_CLIP: sg_store_rows(T, mr, C, ldc, alpha, beta, ep, r0, c0, NNE_ACT_CLIP); break;
        case NNE_ACT_SILU: sg_store_rows(T, mr, C, ldc, alpha, beta, ep, r0, c0, NNE_ACT_SILU); break;
        case NNE_ACT_HARDSWISH: sg_store_rows(T, mr, C, ldc, alpha, beta, ep, r0, c0, NNE_ACT_HARDSWISH); break;
        default: sg_store_rows(T, mr, C, ldc, alpha, beta, ep, r0, c0, act); break;
        }
        return;
    }
    for (int64_t i = 0; i < mr; i++) {
        float *c = C + i * ldc;
        const float *t = T + i * SG_NR;
        const float *res = ep && ep->residual ? ep->residual + (r0 + i) * ep->ld_res + c0 : NULL;
        const float *bcol = ep && ep->bias && ep->bias_per_col ? ep->bias + c0 : NULL;
        float brow = ep && ep->bias && !ep->bias_per_col ? ep->bias[r0 + i] : 0.0f;
        for (int64_t j = 0; j < nr; j++) {
            float x = alpha * t[j];
            x = beta == 0.0f ? x : beta == 1.0f ? c[j] + x : beta * c[j] + x;
            if (ep) {
                x += bcol ? bcol[j] : brow;
                if (res) x += res[j];
                x = nne_act_f32(act, ep->alpha, ep->beta, x);
            }
            c[j] = x;
        }
    }
}

/* One full MR x NR tile: the product of the panels, then straight from the
 * registers alpha, beta, the epilogue (act a constant in each call of
 * sg_tile_act) and the store; no round trip through a tile buffer. */
static inline __attribute__((always_inline)) void sg_tile_full(int64_t kc, const float *restrict Ap,
                                                                const float *restrict Bp, float *C, int64_t ldc,
                                                                float alpha, float beta, const nne_epilogue *ep,
                                                                int64_t r0, int64_t c0, int act) {
#define SG_DECL(i) sg_vf c##i##0 = {0}, c##i##1 = {0};
    SG_ROWS(SG_DECL)
#undef SG_DECL
    for (int64_t k = 0; k < kc; k++) {
        sg_vf b0 = sg_ld(Bp), b1 = sg_ld(Bp + SG_VL);
#define SG_FMA(i)                  \
    {                              \
        sg_vf a = sg_splat(Ap[i]); \
        c##i##0 += a * b0;         \
        c##i##1 += a * b1;         \
    }
        SG_ROWS(SG_FMA)
#undef SG_FMA
        Ap += SG_MR;
        Bp += SG_NR;
    }
    const float *bcol = ep && ep->bias && ep->bias_per_col ? ep->bias + c0 : NULL;
    sg_vf bc0 = {0}, bc1 = {0};
    if (bcol) bc0 = sg_ld(bcol), bc1 = sg_ld(bcol + SG_VL);
#define SG_PUT(i)                                                                                  \
    {                                                                                              \
        float *c = C + (i) * ldc;                                                                  \
        sg_vf x0 = c##i##0, x1 = c##i##1;                                                          \
        if (alpha != 1.0f) x0 *= alpha, x1 *= alpha;                                               \
        if (beta == 1.0f) x0 += sg_ld(c), x1 += sg_ld(c + SG_VL);                                  \
        else if (beta != 0.0f) x0 += beta * sg_ld(c), x1 += beta * sg_ld(c + SG_VL);               \
        if (ep) {                                                                                  \
            if (bcol) x0 += bc0, x1 += bc1;                                                        \
            else if (ep->bias) {                                                                   \
                float br = ep->bias[r0 + (i)];                                                     \
                x0 += br, x1 += br;                                                                \
            }                                                                                      \
            if (ep->residual) {                                                                    \
                const float *res = ep->residual + (r0 + (i)) * ep->ld_res + c0;                    \
                x0 += sg_ld(res), x1 += sg_ld(res + SG_VL);                                        \
            }                                                                                      \
            if (act != NNE_ACT_NONE)                                                               \
                x0 = sg_act(act, ep->alpha, ep->beta, x0), x1 = sg_act(act, ep->alpha, ep->beta, x1); \
        }                                                                                          \
        sg_st(c, x0);                                                                              \
        sg_st(c + SG_VL, x1);                                                                      \
    }
    SG_ROWS(SG_PUT)
#undef SG_PUT
}

static void sg_tile_act(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, float alpha,
                        float beta, const nne_epilogue *ep, int64_t r0, int64_t c0) {
    switch (ep ? ep->act : NNE_ACT_NONE) {
    case NNE_ACT_NONE: sg_tile_full(kc, Ap, Bp, C, ldc, alpha, beta, ep, r0, c0, NNE_ACT_NONE); break;
    case NNE_ACT_RELU: sg_tile_full(kc, Ap, Bp, C, ldc, alpha, beta, ep, r0, c0, NNE_ACT_RELU); break;
    case NNE_ACT_CLIP: sg_tile_full(kc, Ap, Bp, C, ldc, alpha, beta, ep, r0, c0, NNE_ACT_CLIP); break;
    default: sg_tile_full(kc, Ap, Bp, C, ldc, alpha, beta, ep, r0, c0, ep->act); break;
    }
}

/* ------------------------------------------------------------- driver -- */

#define SG_PACKA_FLOATS (SG_MC * SG_KC)
#define SG_PACKB_FLOATS (SG_KC * SG_NC)

size_t SG_FN(nne_f32_sgemm_scratch)(int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    int64_t a = sg_rup(sg_min(M, SG_MC), SG_MR) * sg_min(K, SG_KC);
    int64_t b = sg_rup(sg_min(N, SG_NC), SG_NR) * sg_min(K, SG_KC);
    return (size_t)(sg_rup(a, 16) + b) * sizeof(float) + 64;
}

/* The rows [m0, m1) x columns [n0, n1) of C (m0 % MR == 0, n0 % NR == 0). */
static void sg_block(const nne_sgemm_args *g, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void *scratch) {
    if (m0 >= m1 || n0 >= n1) return;
    int64_t K = g->K;
    float *bufA = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *bufB = bufA + sg_rup(sg_rup(sg_min(m1 - m0, SG_MC), SG_MR) * sg_min(K, SG_KC), 16);
    int64_t Mp = sg_rup(g->M, SG_MR), Np = sg_rup(g->N, SG_NR);
    float T[SG_MR * SG_NR] __attribute__((aligned(64)));
    for (int64_t jc = n0; jc < n1; jc += SG_NC) {
        int64_t nc = sg_min(SG_NC, n1 - jc);
        for (int64_t pc = 0; pc < K; pc += SG_KC) {
            int64_t kc = sg_min(SG_KC, K - pc);
            float bt = pc == 0 ? g->beta : 1.0f;
            const nne_epilogue *ep = pc + kc >= K ? g->ep : NULL;
            const float *Bp;
            if (g->Pb) {
                Bp = g->Pb + pc * Np + jc * kc;
            } else if (g->packer) {
                g->packer(g->packer_src, pc, kc, jc, nc, SG_NR, bufB);
                Bp = bufB;
            } else {
                sg_pack_b_block(kc, nc, g->B + pc * g->rsb + jc * g->csb, g->rsb, g->csb, bufB);
                Bp = bufB;
            }
            for (int64_t ic = m0; ic < m1; ic += SG_MC) {
                int64_t mc = sg_min(SG_MC, m1 - ic);
                const float *Ap;
                if (g->Pa) {
                    Ap = g->Pa + pc * Mp + ic * kc;
                } else {
                    sg_pack_a_block(mc, kc, g->A + ic * g->rsa + pc * g->csa, g->rsa, g->csa, bufA);
                    Ap = bufA;
                }
                for (int64_t jr = 0; jr < nc; jr += SG_NR) {
                    int64_t nr = sg_min(SG_NR, nc - jr);
                    const float *bp = Bp + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += SG_MR) {
                        int64_t mr = sg_min(SG_MR, mc - ir);
                        const float *ap = Ap + ir * kc;
                        int64_t row = ic + ir, col = jc + jr;
                        if (mr == SG_MR && nr == SG_NR) {
                            sg_tile_act(kc, ap, bp, g->C + (row - g->crow) * g->ldc + col, g->ldc, g->alpha, bt, ep,
                                        row, col);
                            continue;
                        }
                        if (mr <= SG_MR / 4) {
                            for (int64_t r = 0; r < mr; r++) sg_kernel_row(kc, ap + r, bp, T + r * SG_NR);
                        } else {
                            sg_kernel_full(kc, ap, bp, T);
                        }
                        sg_store_tile(T, mr, nr, g->C + (row - g->crow) * g->ldc + col, g->ldc, g->alpha, bt, ep, row, col);
                    }
                }
            }
        }
    }
}

static void SG_FN(nne_f32_sgemm_block)(const nne_sgemm_args *g, int64_t m0, int64_t m1, void *scratch) {
    sg_block(g, m0, m1, 0, g->N, scratch);
}

typedef struct sg_job {
    const nne_sgemm_args *g;
    int split_n;
} sg_job;

static void sg_part(void *arg, int part, int nparts, void *scratch) {
    const sg_job *j = arg;
    long long lo, hi;
    if (j->split_n) {
        nne_split_range(j->g->N, SG_NR, part, nparts, &lo, &hi);
        sg_block(j->g, 0, j->g->M, lo, hi, scratch);
    } else {
        nne_split_range(j->g->M, SG_MR, part, nparts, &lo, &hi);
        sg_block(j->g, lo, hi, 0, j->g->N, scratch);
    }
}

static void SG_FN(nne_f32_sgemm_run)(const nne_sgemm_args *g, void *scratch, nne_threadpool *pool) {
    int64_t M = g->M, N = g->N, K = g->K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || g->alpha == 0.0f) {
        for (int64_t i = 0; i < M; i++) {
            float *c = g->C + i * g->ldc;
            if (g->beta == 0.0f) memset(c, 0, (size_t)N * sizeof(float));
            else if (g->beta != 1.0f)
                for (int64_t j = 0; j < N; j++) c[j] *= g->beta;
        }
        nne_epilogue_apply_f32(g->ep, g->C, g->ldc, 0, M, 0, N);
        return;
    }
    int T = nne_threadpool_threads(pool);
    /* parts must be worth a thread wake-up (~ tens of microseconds of work) */
    int64_t work = M * N * K;
    int parts = 1;
    sg_job job = {g, 0};
    if (T > 1 && work >= (int64_t)1 << 18 && SG_FN(nne_f32_sgemm_scratch)(M, N, K) <= nne_threadpool_scratch_bytes(pool)) {
        int64_t npan = (N + SG_NR - 1) / SG_NR, mpan = (M + SG_MR - 1) / SG_MR;
        /* split the side that is not shared: columns when B is packed per call
         * (each thread packs only its columns) and they are plenty */
        if (npan >= 2 * T && (!g->Pb || mpan < 2 * T)) job.split_n = 1, parts = T;
        else if (mpan >= T) parts = T;
        else if (npan >= T) job.split_n = 1, parts = T;
    }
    nne_parallel(pool, parts, sg_part, &job, scratch);
}

/* The kernel table's entry points (nne_gemm_f32 signature). */
void SG_FN(nne_f32_gemm)(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa, int64_t csa,
                                const float *B, int64_t rsb, int64_t csb, float beta, float *C, int64_t ldc,
                                void *scratch) {
    nne_sgemm_args g = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .A = A, .rsa = rsa, .csa = csa,
                        .B = B, .rsb = rsb, .csb = csb, .C = C, .ldc = ldc};
    SG_FN(nne_f32_sgemm_run)(&g, scratch, NULL);
}
static void SG_FN(nne_f32_sgemm_packed_b)(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                                         int64_t csa, const float *Pb, float beta, float *C, int64_t ldc,
                                         void *scratch) {
    nne_sgemm_args g = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .A = A, .rsa = rsa, .csa = csa,
                        .Pb = Pb, .C = C, .ldc = ldc};
    SG_FN(nne_f32_sgemm_run)(&g, scratch, NULL);
}

/* ------------------------------------------------------ depthwise 2-d -- */

/* Valid output range [lo, hi) of [0, n_out) where 0 <= o*s + off < n_in. */
static inline void sg_valid(int64_t off, int64_t s, int64_t n_in, int64_t n_out, int64_t *lo, int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = (n_in - 1 - off) < 0 ? 0 : (n_in - 1 - off) / s + 1;
    if (a > n_out) a = n_out;
    if (b > n_out) b = n_out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* One channel: out[OH x OW] = bias + sum over taps. Each output row is
 * built in a row buffer: the interior of stride-1 rows (where every tap is
 * inside the image) a vector of outputs at a time with all taps in
 * registers; the rest tap by tap. */
static void sg_dw_channel(const nne_conv_desc *p, const float *plane, const float *wk, float bv, float *out) {
    int64_t IH = p->in[0], IW = p->in[1], OH = p->out[0], OW = p->out[1];
    int64_t KH = p->k[0], KW = p->k[1], sy = p->s[0], sx = p->s[1], dy = p->d[0], dx = p->d[1];
    /* interior columns: ox*sx + kx*dx - pb in [0, IW) for every kx */
    int64_t ilo, ihi, t0, t1;
    sg_valid(-p->pb[1], sx, IW, OW, &ilo, &ihi);
    sg_valid((KW - 1) * dx - p->pb[1], sx, IW, OW, &t0, &t1);
    if (t0 > ilo) ilo = t0;
    if (t1 < ihi) ihi = t1;
    if (ihi < ilo) ihi = ilo;
    for (int64_t oy = 0; oy < OH; oy++) {
        float *orow = out + oy * OW;
        for (int64_t ox = 0; ox < OW; ox++) orow[ox] = bv;
        int64_t ky0 = 0, ky1 = KH;
        /* taps of this row inside the image */
        while (ky0 < KH && (oy * sy + ky0 * dy - p->pb[0] < 0)) ky0++;
        while (ky1 > ky0 && (oy * sy + (ky1 - 1) * dy - p->pb[0] >= IH)) ky1--;
        if (sx == 1 && KW <= 7) {
            int64_t ox = ilo;
            for (; ox + SG_VL <= ihi; ox += SG_VL) {
                sg_vf acc = sg_ld(orow + ox);
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    const float *ir = plane + (oy * sy + ky * dy - p->pb[0]) * IW + ox - p->pb[1];
                    const float *w = wk + ky * KW;
                    for (int64_t kx = 0; kx < KW; kx++) acc += w[kx] * sg_ld(ir + kx * dx);
                }
                sg_st(orow + ox, acc);
            }
            /* columns outside [ilo, ox): tap by tap below, skipping the done ones */
            for (int64_t ky = ky0; ky < ky1; ky++) {
                const float *irow = plane + (oy * sy + ky * dy - p->pb[0]) * IW;
                for (int64_t kx = 0; kx < KW; kx++) {
                    float wv = wk[ky * KW + kx];
                    int64_t off = kx * dx - p->pb[1], lo, hi;
                    sg_valid(off, 1, IW, OW, &lo, &hi);
                    for (int64_t o = lo; o < hi && o < ilo; o++) orow[o] += wv * irow[o + off];
                    for (int64_t o = ox > lo ? ox : lo; o < hi; o++) orow[o] += wv * irow[o + off];
                }
            }
            continue;
        }
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *irow = plane + (oy * sy + ky * dy - p->pb[0]) * IW;
            for (int64_t kx = 0; kx < KW; kx++) {
                float wv = wk[ky * KW + kx];
                int64_t off = kx * dx - p->pb[1], lo, hi;
                sg_valid(off, sx, IW, OW, &lo, &hi);
                for (int64_t o = lo; o < hi; o++) orow[o] += wv * irow[o * sx + off];
            }
        }
    }
}

/* Floats of the phase-split padded plane of one channel (see sg_dw_phased);
 * rows of Wq floats, one per (input row, phase). */
static int64_t sg_dw_wq(const nne_conv_desc *p) {
    int64_t owp = sg_rup(p->out[1], SG_VL);
    return owp + ((p->k[1] - 1) * p->d[1]) / p->s[1] + 1;
}
#define SG_DW_MAXK 16
/* Wider strides take the direct loop: the plane is split into sx phases of
 * every input row, so the fill grows with sx even when a few outputs read it
 * (as in vec_tmpl.h; a stride of 129 cost 1 s under ASan in fuzz_tflite). */
#define SG_DW_MAXS 8
static size_t SG_FN(nne_f32_dwconv2d_scratch)(const nne_conv_desc *p) {
    if (p->k[1] > SG_DW_MAXK || p->s[1] > SG_DW_MAXS) return SIZE_MAX; /* the direct loop */
    return (size_t)(p->in[0] * p->s[1] * sg_dw_wq(p)) * sizeof(float) + 64;
}

/* One channel through a copy of its plane that makes every tap a
 * contiguous, in-bounds vector load: each input row is split into its sx
 * phases (Q[(iy*sx + r)*Wq + m] = x[iy][m*sx + r - pad_left], zero outside
 * the row), so output column ox of tap kx reads phase (kx*dx) % sx at
 * m = ox + (kx*dx) / sx. Rows outside the image are skipped per output row. */
static void sg_dw_phased(const nne_conv_desc *p, const float *plane, const float *wk, float bv, float *out,
                         float *Q) {
    int64_t IH = p->in[0], IW = p->in[1], OH = p->out[0], OW = p->out[1];
    int64_t KH = p->k[0], KW = p->k[1], sy = p->s[0], sx = p->s[1], dy = p->d[0], dx = p->d[1];
    int64_t pl = p->pb[1], Wq = sg_dw_wq(p);
    for (int64_t iy = 0; iy < IH; iy++) {
        const float *row = plane + iy * IW;
        for (int64_t r = 0; r < sx; r++) {
            float *q = Q + (iy * sx + r) * Wq;
            /* q[m] = row[m*sx + r - pl] */
            int64_t lo, hi;
            sg_valid(r - pl, sx, IW, Wq, &lo, &hi);
            for (int64_t m = 0; m < lo; m++) q[m] = 0.0f;
            if (sx == 1) memcpy(q + lo, row + lo + r - pl, (size_t)(hi - lo) * sizeof(float));
            else if (sx == 2 && hi > lo) sg_copy_s2(q + lo, row + lo * 2 + r - pl, hi - lo);
            else
                for (int64_t m = lo; m < hi; m++) q[m] = row[m * sx + r - pl];
            for (int64_t m = hi; m < Wq; m++) q[m] = 0.0f;
        }
    }
    float tail[SG_VL];
    int64_t koff[SG_DW_MAXK]; /* offset of tap kx in its phase row block */
    for (int64_t kx = 0; kx < KW; kx++) koff[kx] = ((kx * dx) % sx) * Wq + (kx * dx) / sx;
    for (int64_t oy = 0; oy < OH; oy++) {
        int64_t ky0 = 0, ky1 = KH;
        while (ky0 < KH && oy * sy + ky0 * dy - p->pb[0] < 0) ky0++;
        while (ky1 > ky0 && oy * sy + (ky1 - 1) * dy - p->pb[0] >= IH) ky1--;
        float *orow = out + oy * OW;
        for (int64_t ox = 0; ox < OW; ox += SG_VL) {
            sg_vf acc = sg_splat(bv);
            for (int64_t ky = ky0; ky < ky1; ky++) {
                int64_t iy = oy * sy + ky * dy - p->pb[0];
                const float *w = wk + ky * KW;
                const float *q = Q + iy * sx * Wq + ox;
                if (KW == 3) {
                    acc += w[0] * sg_ld(q + koff[0]) + w[1] * sg_ld(q + koff[1]) + w[2] * sg_ld(q + koff[2]);
                } else {
                    for (int64_t kx = 0; kx < KW; kx++) acc += w[kx] * sg_ld(q + koff[kx]);
                }
            }
            if (ox + SG_VL <= OW) {
                sg_st(orow + ox, acc);
            } else {
                sg_st(tail, acc);
                for (int64_t i = 0; i < OW - ox; i++) orow[ox + i] = tail[i];
            }
        }
    }
}

static void SG_FN(nne_f32_dwconv2d)(const nne_conv_desc *p, const float *x, const float *w, const float *bias,
                                    float *y, int64_t c0, int64_t c1, const nne_epilogue *ep, void *scratch,
                                    size_t scratch_bytes) {
    int64_t insp = p->in[0] * p->in[1], outsp = p->out[0] * p->out[1], taps = p->k[0] * p->k[1];
    int64_t mult = p->M / p->C; /* outputs per input channel (depth multiplier) */
    float *Q = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int phased = scratch && SG_FN(nne_f32_dwconv2d_scratch)(p) <= scratch_bytes;
    for (int64_t m = c0; m < c1; m++) {
        float bv = ep && ep->bias ? ep->bias[m] : bias ? bias[m] : 0.0f;
        float *out = y + m * outsp;
        if (phased) sg_dw_phased(p, x + (m / mult) * insp, w + m * taps, bv, out, Q);
        else sg_dw_channel(p, x + (m / mult) * insp, w + m * taps, bv, out);
        if (ep && (ep->residual || ep->act != NNE_ACT_NONE)) {
            /* the channel is still in cache */
            int act = ep->act;
            const float *res = ep->residual ? ep->residual + m * ep->ld_res : NULL;
            int64_t i = 0;
            for (; i + SG_VL <= outsp; i += SG_VL) {
                sg_vf v = sg_ld(out + i);
                if (res) v += sg_ld(res + i);
                if (act != NNE_ACT_NONE) v = sg_act(act, ep->alpha, ep->beta, v);
                sg_st(out + i, v);
            }
            for (; i < outsp; i++) {
                float v = out[i] + (res ? res[i] : 0.0f);
                out[i] = nne_act_f32(act, ep->alpha, ep->beta, v);
            }
        }
    }
}

/* ------------------------------------------------ element-wise activation -- */

/* y[i] = act(x[i]) for i < n (x == y allowed; no other overlap). */
static void SG_FN(nne_f32_vact)(int act, float alpha, float beta, const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + SG_VL <= n; i += SG_VL) sg_st(y + i, sg_act(act, alpha, beta, sg_ld(x + i)));
    if (i < n) {
        /* the tail through the same vector code, so every element rounds alike */
        float t[SG_VL] = {0};
        for (int64_t j = i; j < n; j++) t[j - i] = x[j];
        sg_vf v = sg_act(act, alpha, beta, sg_ld(t));
        sg_st(t, v);
        for (int64_t j = i; j < n; j++) y[j] = t[j - i];
    }
}

/* ------------------------------------------------- implicit-GEMM packer -- */

/* n floats from s to d (vectors, then the tail). */
static inline void sg_copy(float *restrict d, const float *restrict s, int64_t n) {
    int64_t i = 0;
    for (; i + SG_VL <= n; i += SG_VL) sg_st(d + i, sg_ld(s + i));
    for (; i < n; i++) d[i] = s[i];
}

/* Panels of nr columns of B(k0 .. k0+kc, n0 .. n0+nc) of a 2-d conv (see
 * nne_im2col_src). A panel's columns are a few runs of one output row
 * each, found once per panel; each (row k, run) is then a clipped copy
 * from one input row (stride 1: contiguous) with zeros for the padding. */
static void SG_FN(nne_f32_im2col_pack)(const void *srcp, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,
                                       float *P) {
    const nne_im2col_src *s = srcp;
    const nne_conv_desc *p = s->p;
    int64_t IH = p->in[0], IW = p->in[1], OW = p->out[1], KH = p->k[0], KW = p->k[1];
    int64_t sy = p->s[0], sx = p->s[1], dy = p->d[0], dx = p->d[1], py = p->pb[0], px = p->pb[1];
    enum { MAXSEG = 2 * SG_NR + 2 };
    int64_t seg_oy[MAXSEG], seg_ox[MAXSEG], seg_run[MAXSEG], seg_dst[MAXSEG];
    for (int64_t j0 = 0; j0 < nc; j0 += nr) {
        int64_t cols = nc - j0 < nr ? nc - j0 : nr;
        /* the runs of this panel */
        int nseg = 0;
        for (int64_t done = 0, j = n0 + j0; done < cols && nseg < MAXSEG; nseg++) {
            int64_t oy = j / OW, ox = j % OW;
            int64_t run = OW - ox < cols - done ? OW - ox : cols - done;
            seg_oy[nseg] = oy, seg_ox[nseg] = ox, seg_run[nseg] = run, seg_dst[nseg] = done;
            done += run;
            j += run;
        }
        int64_t c = k0 / (KH * KW), t = k0 % (KH * KW), ky = t / KW, kx = t % KW;
        for (int64_t k = 0; k < kc; k++) {
            float *dst = P + k * nr;
            const float *plane = s->x + c * s->insp;
            int64_t off = kx * dx - px; /* ix = ox * sx + off */
            /* output columns with 0 <= ox*sx + off < IW: [vlo, vhi) */
            int64_t vlo, vhi;
            if (sx == 1) {
                vlo = off >= 0 ? 0 : -off;
                vhi = IW - off;
            } else {
                vlo = off >= 0 ? 0 : (-off + sx - 1) / sx;
                vhi = IW - 1 - off < 0 ? 0 : (IW - 1 - off) / sx + 1;
            }
            for (int g = 0; g < nseg; g++) {
                int64_t ox = seg_ox[g], run = seg_run[g];
                int64_t iy = seg_oy[g] * sy + ky * dy - py;
                float *d = dst + seg_dst[g];
                if (iy < 0 || iy >= IH) {
                    for (int64_t q = 0; q < run; q++) d[q] = 0.0f;
                    continue;
                }
                const float *row = plane + iy * IW;
                int64_t lo = vlo > ox ? vlo : ox, hi = vhi < ox + run ? vhi : ox + run;
                if (lo > ox + run) lo = ox + run; /* the whole run is left of the image's edge */
                if (hi < lo) hi = lo;
                int64_t q = 0;
                for (; q < lo - ox; q++) d[q] = 0.0f;
                if (sx == 1) sg_copy(d + q, row + lo + off, hi - lo);
                else if (sx == 2 && hi > lo) sg_copy_s2(d + q, row + lo * 2 + off, hi - lo);
                else
                    for (int64_t o = lo; o < hi; o++) d[q + o - lo] = row[o * sx + off];
                q += hi - lo;
                for (; q < run; q++) d[q] = 0.0f;
            }
            for (int64_t q = cols; q < nr; q++) dst[q] = 0.0f;
            if (++kx == KW) {
                kx = 0;
                if (++ky == KH) {
                    ky = 0;
                    c++;
                }
            }
        }
        P += kc * nr;
    }
}

#include "kernels/winograd_tmpl.h"

const nne_sgemm_ops SG_CAT(nne_sgemm_ops, SG_SUF) = {
    .name = "nne_f32_gemm_ukernel_" SG_TILE_NAME "__" SG_SUF_NAME,
    .isa = SG_ISA,
    .mr = SG_MR,
    .nr = SG_NR,
    .kc = SG_KC,
    .scratch = SG_FN(nne_f32_sgemm_scratch),
    .run = SG_FN(nne_f32_sgemm_run),
    .block = SG_FN(nne_f32_sgemm_block),
    .packed_a_bytes = SG_FN(nne_f32_sgemm_packed_a_bytes),
    .pack_a = SG_FN(nne_f32_sgemm_pack_a),
    .packed_b_bytes = SG_FN(nne_f32_sgemm_packed_b_bytes),
    .pack_b = SG_FN(nne_f32_sgemm_pack_b),
    .gemm = SG_FN(nne_f32_gemm),
    .gemm_packed_b = SG_FN(nne_f32_sgemm_packed_b),
    .dwconv2d = SG_FN(nne_f32_dwconv2d),
    .dwconv2d_scratch = SG_FN(nne_f32_dwconv2d_scratch),
    .im2col_pack = SG_FN(nne_f32_im2col_pack),
    .vact = SG_FN(nne_f32_vact),
    .wino_in = SG_FN(nne_f32_wino_in),
    .wino_out = SG_FN(nne_f32_wino_out),
    .wino_out_t = SG_FN(nne_f32_wino_out_t),
};
