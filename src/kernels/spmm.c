/*
 * spmm.c - the CSR weights of kernels/spmm.h (count, pack, view), the rule
 * that decides when the sparse kernel runs, and its threaded driver (output
 * rows split statically into one contiguous range per thread, balanced by
 * nonzeros).
 */
#include "kernels/spmm.h"
#include "kernels/vec.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int64_t nne_spmat_count_upto(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t limit) {
    int64_t nnz = 0;
    for (int64_t r = 0; r < rows && nnz <= limit; r++)
        for (int64_t c = 0; c < cols; c++) nnz += w[r * rs + c * cs] != 0.0f;
    return nnz;
}

int64_t nne_spmat_count(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
    return nne_spmat_count_upto(w, rows, cols, rs, cs, INT64_MAX);
}

/* Layout: 64-byte header (rows, cols, nnz), rp, ci, v, cp, each part
 * starting on a 64-byte boundary. */
static size_t up64(size_t x) { return (x + 63) & ~(size_t)63; }
static int64_t chunks(int64_t cols) { return (cols + NNE_SPMM_KC - 1) / NNE_SPMM_KC; }

size_t nne_spmat_bytes(int64_t rows, int64_t cols, int64_t nnz) {
    if (rows < 0 || cols < 0 || nnz < 0 || nnz >= INT32_MAX || cols >= INT32_MAX || rows >= INT32_MAX ||
        rows * (chunks(cols) + 1) >= INT32_MAX)
        return 0;
    return 64 + up64((size_t)(rows + 1) * 4) + up64((size_t)nnz * 4) + up64((size_t)nnz * 4) +
           up64((size_t)(rows * (chunks(cols) + 1)) * 4);
}

nne_spmat nne_spmat_view(const void *buf) {
    const int64_t *h = buf;
    nne_spmat s = {h[0], h[1], h[2], NULL, NULL, NULL, chunks(h[1]), NULL};
    const char *p = (const char *)buf + 64;
    s.rp = (const int32_t *)p;
    p += up64((size_t)(s.rows + 1) * 4);
    s.ci = (const int32_t *)p;
    p += up64((size_t)s.nnz * 4);
    s.v = (const float *)p;
    p += up64((size_t)s.nnz * 4);
    s.cp = (const int32_t *)p;
    return s;
}

void nne_spmat_pack(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t nnz, void *buf) {
    memset(buf, 0, nne_spmat_bytes(rows, cols, nnz));
    int64_t *h = buf;
    h[0] = rows, h[1] = cols, h[2] = nnz;
    nne_spmat s = nne_spmat_view(buf);
    int32_t *rp = (int32_t *)s.rp, *ci = (int32_t *)s.ci;
    float *v = (float *)s.v;
    int64_t q = 0;
    for (int64_t r = 0; r < rows; r++) {
        rp[r] = (int32_t)q;
        for (int64_t c = 0; c < cols; c++) {
            float x = w[r * rs + c * cs];
            if (x != 0.0f && q < nnz) {
                ci[q] = (int32_t)c;
                v[q++] = x;
            }
        }
    }
    rp[rows] = (int32_t)q;
    int32_t *cp = (int32_t *)s.cp;
    for (int64_t r = 0; r < rows; r++) {
        int32_t k = rp[r];
        for (int64_t c = 0; c <= s.nch; c++) {
            while (k < rp[r + 1] && ci[k] < c * NNE_SPMM_KC) k++;
            cp[r * (s.nch + 1) + c] = k;
        }
    }
}

/* The rule, from `make bench-sparse` (bench/sparse_bench.c: sparse time /
 * dense time, CPU time, 1 thread, AMD EPYC with AVX2, the dense side being
 * the packed SGEMM with its weights packed once, as the ops run it; the
 * table is in bench/README.md). The sparse kernel does nnz * n
 * multiply-adds, at the vector width only where n fills vectors; the dense
 * SGEMM does rows * cols * n near its peak, so the density must fall below
 * the ratio of their speeds, which depends on n. Measured (ratio at the
 * sparsity named; crossover = ratio 1):
 *   1x1 conv, n >= 32 (pixels): crossover at 0.6-0.72 sparsity; at 0.75
 *     0.59-0.93, at 0.8 0.34-0.68
 *   Gemm, n >= 32 (batch; A and Y transposed around the kernel): crossover
 *     0.6-0.78; at 0.8 0.50-0.88, at 0.85 0.43-0.67
 *   8 <= n < 32: crossover 0.75-0.85; at 0.85 0.64-0.96, at 0.9 0.44-0.63
 *   n < 8 (Gemm at batch 1 to 7: a sparse dot product per output, scalar
 *     or masked): crossover 0.8-0.9; at 0.9 0.44-0.89, at 0.85 up to 1.27
 * So: sparsity >= 0.75 (1x1 conv) / 0.8 (Gemm) from 32 columns, 0.88 from
 * 8, 0.9 below. An unpruned model (few zeros) never takes it. */
double nne_spmm_max_density(int64_t n, int transposes) {
    return n >= 32 ? (transposes ? 0.20 : 0.25) : n >= 8 ? 0.12 : 0.10;
}

int nne_spmm_pays(int64_t rows, int64_t cols, int64_t nnz, int64_t n, int transposes) {
    if (rows <= 0 || cols <= 0 || n <= 0 || nne_spmat_bytes(rows, cols, nnz) == 0) return 0;
    return (double)nnz / ((double)rows * (double)cols) <= nne_spmm_max_density(n, transposes);
}

typedef struct spmm_job {
    const nne_vec_ops *ops;
    const nne_spmat *s;
    const float *X;
    int64_t ldx, n;
    float *Y;
    int64_t ldy;
    const float *bias;
    const nne_epilogue *ep;
} spmm_job;

/* rows [lo, hi) of part `part`: the rows whose nonzeros fall in the part's
 * share (rows of few nonzeros still cost their epilogue: count each row as
 * one more) */
static int64_t row_at(const nne_spmat *s, int64_t target) {
    int64_t lo = 0, hi = s->rows;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if ((int64_t)s->rp[mid] + mid < target) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void spmm_part(void *arg, int part, int nparts, void *scratch) {
    (void)scratch;
    const spmm_job *j = arg;
    int64_t total = j->s->nnz + j->s->rows;
    int64_t lo = part == 0 ? 0 : row_at(j->s, total * part / nparts);
    int64_t hi = part == nparts - 1 ? j->s->rows : row_at(j->s, total * (part + 1) / nparts);
    if (lo < hi) j->ops->spmm(j->s, lo, hi, j->X, j->ldx, j->n, j->Y, j->ldy, j->bias, j->ep);
}

void nne_spmm_run(const nne_vec_ops *ops, const nne_spmat *s, const float *X, int64_t ldx, int64_t n, float *Y,
                  int64_t ldy, const float *bias, const nne_epilogue *ep, nne_threadpool *pool) {
    if (s->rows <= 0 || n <= 0) return;
    static const float k_none[1] = {0.0f};
    if (!X) X = k_none; /* no nonzeros to read */
    if (!nne_epilogue_active(ep)) ep = NULL;
    int parts = (s->nnz + s->rows) * n >= 32768 ? nne_threadpool_threads(pool) : 1;
    if (parts > s->rows) parts = (int)s->rows;
    spmm_job job = {ops, s, X, ldx, n, Y, ldy, bias, ep};
    nne_parallel(pool, parts, spmm_part, &job, NULL);
}

/* NNE_SPARSE: "0" never runs the sparse kernel, "force" runs it wherever it
 * can (tests), anything else (or unset) follows nne_spmm_pays. Read once. */
static int g_mode;
static pthread_once_t g_mode_once = PTHREAD_ONCE_INIT;
static void read_mode(void) {
    const char *e = getenv("NNE_SPARSE");
    g_mode = !e ? 0 : strcmp(e, "0") == 0 ? 1 : strcmp(e, "force") == 0 ? 2 : 0;
}
int nne_spmm_mode(void) {
    pthread_once(&g_mode_once, read_mode);
    return g_mode;
}
