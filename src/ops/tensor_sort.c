/*
 * tensor_sort.c - ordering ops: TopK (k from the attribute before opset 10,
 * from input K after) and Unique (sorted or first-occurrence order, whole
 * tensor or slices along `axis`, four outputs).
 * Both sort index arrays with the stable merge sort of tensor_util, so
 * equal values keep the lower index first (TopK's documented tie-break,
 * Unique's first occurrence). Comparisons are exact for every dtype; NaN
 * sorts above all numbers and equals NaN.
 */
#include "ops/tensor_util.h"
#include "core/core.h"

#include <string.h>

typedef struct {
    const char *base;   /* element 0 of the sorted run */
    int64_t stride;     /* bytes between consecutive items */
    nne_dtype dt;
    int desc;           /* 1: largest first */
} run_cmp;

static int cmp_run(const void *user, int64_t a, int64_t b) {
    const run_cmp *c = user;
    int r = nne_tu_cmp(c->dt, c->base + a * c->stride, c->base + b * c->stride);
    return c->desc ? -r : r;
}

/* ------------------------------------------------------------------- TopK */

/* k is an attribute (opset < 10) or a constant input (else NNE_DYNAMIC):
 * the state keeps the element size, the axis and the direction; k is the
 * output's size along the axis. */
typedef struct topk_state {
    size_t es;
    int axis, largest, want_idx;
} topk_state;

static nne_status topk_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    int opset = nne_ctx_opset(ctx);
    int r = x->ndim;
    if (r < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input must have rank >= 1");
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", -1), r, &axis));
    int64_t k;
    if (opset < 10) {
        if (!nne_attr_has(ctx, "k"))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute 'k' is required before opset 10");
        k = nne_attr_i(ctx, "k", 0);
    } else {
        const nne_tensor *kt = nne_ctx_input(ctx, 1);
        if (!kt) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input K is required");
        NNE_TRY(nne_ctx_need_data(ctx, kt));
        NNE_TRY(nne_tu_read_scalar_i64(ctx, kt, "K", &k));
    }
    int64_t n = x->dims[axis];
    if (k < 0 || k > n)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "k = %lld out of range: expected [0, %lld] (axis %d size)",
                            (long long)k, (long long)n, axis);
    int largest = opset >= 11 ? nne_attr_i(ctx, "largest", 1) != 0 : 1;
    int64_t od[NNE_MAX_DIMS];
    for (int i = 0; i < r; i++) od[i] = i == axis ? k : x->dims[i];
    nne_tensor *yv, *yi = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, r, od, &yv));
    if (nne_ctx_num_outputs(ctx) > 1) NNE_TRY(nne_ctx_output(ctx, 1, NNE_DTYPE_INT64, r, od, &yi));
    size_t sbytes = (size_t)(2 * (n > 0 ? n : 1)) * sizeof(int64_t);
    nne_ctx_scratch(ctx, sbytes);
    topk_state *st = nne_ctx_plan_state(ctx);
    if (st)
        *st = (topk_state){.es = es, .axis = axis, .largest = largest,
                           .want_idx = nne_ctx_num_outputs(ctx) > 1 && nne_ctx_has_output(ctx, 1)};
    return NNE_OK;
}

static nne_status topk_kernel(const void *state, const nne_kernel_args *a) {
    const topk_state *st = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *yv = a->out[0], *yi = a->n_out > 1 ? a->out[1] : NULL;
    size_t es = st->es;
    int axis = st->axis, r = x->ndim, largest = st->largest;
    int64_t n = x->dims[axis], k = yv->dims[axis];
    int64_t *idx = a->scratch, *tmp = idx + n;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < r; i++) inner *= x->dims[i];
    if (k == 0) return NNE_OK;
    char *vd = yv->data;
    int64_t *id = yi && st->want_idx ? yi->data : NULL;
    run_cmp c = {NULL, inner * (int64_t)es, x->dtype, largest};
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            c.base = (const char *)x->data + (size_t)(o * n * inner + in) * es;
            for (int64_t j = 0; j < n; j++) idx[j] = j;
            nne_tu_sort_idx(idx, tmp, n, cmp_run, &c);
            for (int64_t j = 0; j < k; j++) {
                int64_t oo = (o * k + j) * inner + in;
                memcpy(vd + (size_t)oo * es, c.base + idx[j] * c.stride, es);
                if (id) id[oo] = idx[j];
            }
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(TopK, "", "TopK", .infer = topk_run, .run = topk_kernel, .state_size = sizeof(topk_state));

/* ----------------------------------------------------------------- Unique */

/* Items are the n slices x[o, item, i] (o < outer, i < inner), compared
 * lexicographically in C order; without an axis outer = inner = 1. */
typedef struct {
    const char *base;
    int64_t n, outer, inner;
    size_t es;
    nne_dtype dt;
} item_cmp;

static int cmp_item(const void *user, int64_t a, int64_t b) {
    const item_cmp *c = user;
    for (int64_t o = 0; o < c->outer; o++) {
        const char *pa = c->base + (size_t)((o * c->n + a) * c->inner) * c->es;
        const char *pb = c->base + (size_t)((o * c->n + b) * c->inner) * c->es;
        for (int64_t i = 0; i < c->inner; i++) {
            int r = nne_tu_cmp(c->dt, pa + (size_t)i * c->es, pb + (size_t)i * c->es);
            if (r) return r;
        }
    }
    return 0;
}

static int cmp_i64(const void *user, int64_t a, int64_t b) {
    const int64_t *v = user;
    return (v[a] > v[b]) - (v[a] < v[b]);
}

/* Group the n items with the 5n int64 buffer sc: idx, tmp, first, count,
 * inv. Returns the number of unique items; leaves order (= idx) and rank
 * (= tmp) of the groups as the outputs need them. */
static int64_t unique_groups(const item_cmp *c, int sorted, int64_t *sc) {
    int64_t n = c->n, g = 0;
    int64_t *idx = sc, *tmp = sc + n, *first = sc + 2 * n, *count = sc + 3 * n, *inv = sc + 4 * n;
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    if (c->outer * c->inner > 0) nne_tu_sort_idx(idx, tmp, n, cmp_item, c);
    /* groups of equal items in sorted order; stable sort puts the first
     * occurrence at the start of each group */
    for (int64_t j = 0; j < n; j++) {
        if (j == 0 || (c->outer * c->inner > 0 && cmp_item(c, idx[j - 1], idx[j]) != 0)) {
            first[g] = idx[j];
            count[g] = 0;
            g++;
        }
        count[g - 1]++;
        inv[idx[j]] = g - 1;
    }
    /* order[u] = group shown at output position u; rank = its inverse */
    int64_t *order = idx, *rank = tmp;
    for (int64_t u = 0; u < g; u++) order[u] = u;
    if (!sorted) nne_tu_sort_idx(order, rank, g, cmp_i64, first);
    for (int64_t u = 0; u < g; u++) rank[order[u]] = u;
    return g;
}

/* Unique: the output sizes follow the data (NNE_DYNAMIC unless the input is
 * constant); infer groups the items once to count them (a temporary buffer:
 * infer may allocate, run may not), run groups them again in scratch. */
typedef struct unique_state {
    item_cmp c; /* base set per run */
    int sorted;
} unique_state;

static nne_status unique_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    int sorted = nne_attr_i(ctx, "sorted", 1) != 0;
    int has_axis = nne_attr_has(ctx, "axis");
    int axis = 0;
    item_cmp c = {NULL, nne_tensor_numel(x), 1, 1, es, x->dtype};
    if (has_axis) {
        if (x->ndim < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axis given for a scalar input");
        NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 0), x->ndim, &axis));
        c.n = x->dims[axis];
        for (int i = 0; i < axis; i++) c.outer *= x->dims[i];
        for (int i = axis + 1; i < x->ndim; i++) c.inner *= x->dims[i];
    }
    int64_t n = c.n;
    NNE_TRY(nne_ctx_need_data(ctx, x));
    c.base = x->data;
    size_t sbytes = nne_size_elems(5 * (n > 0 ? n : 1), sizeof(int64_t));
    int64_t *tmpbuf = nne_malloc(sbytes);
    if (!tmpbuf) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", sbytes);
    int64_t g = unique_groups(&c, sorted, tmpbuf); /* number of unique items */
    nne_free(tmpbuf);
    nne_ctx_scratch(ctx, sbytes);
    int64_t od[NNE_MAX_DIMS];
    int orank = has_axis ? x->ndim : 1;
    if (has_axis) {
        for (int i = 0; i < x->ndim; i++) od[i] = x->dims[i];
        od[axis] = g;
    } else {
        od[0] = g;
    }
    nne_tensor *y, *yi = NULL, *yinv = NULL, *ycnt = NULL;
    int nout = nne_ctx_num_outputs(ctx);
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, orank, od, &y));
    if (nout > 1) NNE_TRY(nne_ctx_output(ctx, 1, NNE_DTYPE_INT64, 1, &g, &yi));
    if (nout > 2) NNE_TRY(nne_ctx_output(ctx, 2, NNE_DTYPE_INT64, 1, &n, &yinv));
    if (nout > 3) NNE_TRY(nne_ctx_output(ctx, 3, NNE_DTYPE_INT64, 1, &g, &ycnt));
    unique_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (unique_state){.c = c, .sorted = sorted};
    return NNE_OK;
}

static nne_status unique_kernel(const void *state, const nne_kernel_args *a) {
    const unique_state *st = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    nne_tensor *yi = a->n_out > 1 ? a->out[1] : NULL, *yinv = a->n_out > 2 ? a->out[2] : NULL;
    nne_tensor *ycnt = a->n_out > 3 ? a->out[3] : NULL;
    item_cmp c = st->c;
    c.base = x->data;
    int64_t n = c.n;
    size_t es = c.es;
    int64_t *sc = a->scratch;
    int64_t g = unique_groups(&c, st->sorted, sc);
    int64_t *order = sc, *rank = sc + n, *first = sc + 2 * n, *count = sc + 3 * n, *inv = sc + 4 * n;
    size_t row = (size_t)c.inner * es;
    char *d = y->data;
    for (int64_t u = 0; u < g; u++) {
        int64_t src = first[order[u]];
        for (int64_t o = 0; o < c.outer; o++)
            if (row)
                memcpy(d + (size_t)(o * g + u) * row, (const char *)x->data + (size_t)(o * n + src) * row,
                       row);
    }
    if (yi)
        for (int64_t u = 0; u < g; u++) ((int64_t *)yi->data)[u] = first[order[u]];
    if (yinv)
        for (int64_t i = 0; i < n; i++) ((int64_t *)yinv->data)[i] = rank[inv[i]];
    if (ycnt)
        for (int64_t u = 0; u < g; u++) ((int64_t *)ycnt->data)[u] = count[order[u]];
    return NNE_OK;
}
NNE_OP_DEFINE(Unique, "", "Unique", .infer = unique_run, .run = unique_kernel, .state_size = sizeof(unique_state));
