/*
 * control_flow.c - If, Loop and Scan: ops that run subgraphs.
 *
 * Their output shapes depend on which branch runs or how many iterations
 * happen, so in shape mode they report NNE_DYNAMIC and are shaped at run time.
 * Bodies run through nne_ctx_run_graph_view, which plans a body once per
 * input-shape signature and lends its outputs as views; loop-carried values
 * are copied into two sets of buffers owned here (one read by the running
 * iteration, one written with its results, swapped after it), reused while
 * their sizes hold, and scan outputs are stacked into a buffer reserved for
 * the trip count: a Loop with static shapes allocates nothing per iteration.
 */
#include "ops/op.h"
#include "core/core.h"

#include <string.h>

static void free_all(nne_tensor *t, int n) {
    for (int i = 0; i < n; i++) nne_tensor_free_data(&t[i]);
}

/* A buffer a loop-carried value is copied into, reused across iterations. */
typedef struct carry {
    nne_tensor t;   /* data: nne_aligned_alloc'd, or a sequence (nne_tensor_clone) */
    size_t cap;     /* bytes of t.data for a tensor */
} carry;

/* dst = a copy of src; reuses dst's buffer when it is large enough. */
static nne_status carry_set(nne_op_ctx *ctx, carry *dst, const nne_tensor *src) {
    if (src->dtype == NNE_DTYPE_SEQUENCE || dst->t.dtype == NNE_DTYPE_SEQUENCE) {
        nne_tensor_free_data(&dst->t);
        dst->cap = 0;
        if (src->dtype == NNE_DTYPE_SEQUENCE) {
            if (nne_tensor_clone(src, &dst->t) != NNE_OK) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
            return NNE_OK;
        }
    }
    size_t nb = nne_tensor_nbytes(src);
    if (nb == SIZE_MAX) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "loop-carried value has an invalid shape");
    if (!dst->t.data || nb > dst->cap) {
        nne_tensor_free_data(&dst->t);
        dst->cap = 0;
        if (!(dst->t.data = nne_aligned_alloc(nb ? nb : 1)))
            return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for a loop-carried value", nb);
        dst->cap = nb;
    }
    void *d = dst->t.data;
    dst->t = *src;
    dst->t.data = d;
    if (nb && d != src->data) memcpy(d, src->data, nb);
    return NNE_OK;
}

static void carry_free(carry *c, int n) {
    for (int i = 0; c && i < n; i++) nne_tensor_free_data(&c[i].t);
}

/* Copy a subgraph result into node output i. */
static nne_status emit(nne_op_ctx *ctx, int i, const nne_tensor *src) {
    nne_tensor *y;
    if (src->dtype == NNE_DTYPE_SEQUENCE) {
        int n = nne_seq_length(src);
        nne_tensor *items = nne_calloc((size_t)n + 1, sizeof *items);
        if (!items) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        for (int k = 0; k < n; k++)
            if (nne_tensor_clone(nne_seq_item(src, k), &items[k]) != NNE_OK) {
                free_all(items, k);
                nne_free(items);
                return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
            }
        nne_status st = nne_ctx_output_seq(ctx, i, n, items);
        nne_free(items);
        return st;
    }
    NNE_TRY(nne_ctx_output_like(ctx, i, src, &y));
    size_t nb = nne_tensor_nbytes(src);
    if (nb) memcpy(y->data, src->data, nb);
    return NNE_OK;
}

/* ------------------------------------------------------------------ If -- */

static nne_status if_run(nne_op_ctx *ctx) {
    const nne_tensor *c = nne_ctx_input(ctx, 0);
    const struct nne_graph *tb = nne_attr_g(ctx, "then_branch"), *eb = nne_attr_g(ctx, "else_branch");
    if (!c || !tb || !eb) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs cond, then_branch and else_branch");
    if (nne_tensor_numel(c) != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "cond must hold one element, got %lld",
                            (long long)nne_tensor_numel(c));
    if (nne_ctx_shape_only(ctx)) return NNE_DYNAMIC;
    const struct nne_graph *g = nne_tensor_get_f64(c, 0) != 0 ? tb : eb;
    int n = nne_ctx_num_outputs(ctx);
    if (nne_graph_num_outputs(g) != n)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "branch has %d outputs, the node %d", nne_graph_num_outputs(g),
                            n);
    const nne_tensor **outs = nne_calloc((size_t)n + 1, sizeof *outs);
    if (!outs) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    nne_status st = nne_ctx_run_graph_view(ctx, g, 0, NULL, n, outs);
    for (int i = 0; st == NNE_OK && i < n; i++) st = emit(ctx, i, outs[i]);
    nne_free(outs);
    return st;
}
NNE_OP_REGISTER(If, "", "If", if_run, NNE_OPF_SUBGRAPH);

/* ------------------------------------------------------- stacking help -- */

/* A growing list of per-iteration tensors with the same shape. */
typedef struct stack {
    nne_tensor first;  /* dtype/shape of the elements (data unused) */
    uint8_t *data;
    size_t elem_bytes, cap_bytes;
    int64_t count;
} stack;

/* Elements reserved at the first push when the count is known, up to this
 * many bytes (a Loop whose condition ends it early must not reserve for a
 * trip count it never reaches; beyond this the buffer doubles as it grows). */
#define STACK_RESERVE_MAX ((size_t)1 << 20)

/* Push t; `expect` is the number of elements the stack will hold (0: unknown). */
static nne_status stack_push(nne_op_ctx *ctx, stack *s, const nne_tensor *t, int64_t expect) {
    if (t->dtype == NNE_DTYPE_SEQUENCE)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "a scan output that is a sequence is not supported");
    size_t nb = nne_tensor_nbytes(t);
    if (s->count == 0) {
        s->first = *t;
        s->elem_bytes = nb;
        /* reserve for every iteration at once, so later pushes only copy */
        if (expect > 1 && nb && (uint64_t)expect <= STACK_RESERVE_MAX / nb && !s->data) {
            if (!(s->data = nne_malloc((size_t)expect * nb)))
                return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
            s->cap_bytes = (size_t)expect * nb;
        }
    } else {
        int same = t->dtype == s->first.dtype && t->ndim == s->first.ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->dims[d] == s->first.dims[d];
        if (!same) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scan output changes shape between iterations");
    }
    size_t need = (size_t)(s->count + 1) * s->elem_bytes;
    if (need > s->cap_bytes) {
        size_t cap = s->cap_bytes ? s->cap_bytes * 2 : need;
        if (cap < need) cap = need;
        uint8_t *p = nne_realloc(s->data, cap);
        if (!p) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        s->data = p;
        s->cap_bytes = cap;
    }
    if (nb) memcpy(s->data + (size_t)s->count * s->elem_bytes, t->data, nb);
    s->count++;
    return NNE_OK;
}

/* ---------------------------------------------------------------- Loop -- */

static nne_status loop_run(nne_op_ctx *ctx) {
    const struct nne_graph *body = nne_attr_g(ctx, "body");
    if (!body) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing body attribute");
    const nne_tensor *Mt = nne_ctx_input(ctx, 0), *ct = nne_ctx_input(ctx, 1);
    int nin = nne_ctx_num_inputs(ctx), nout = nne_ctx_num_outputs(ctx);
    int N = nin - 2; /* loop-carried */
    if (N < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs M and cond (may be empty)");
    int K = nout - N;
    if (K < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%d outputs for %d loop-carried values", nout, N);
    if (nne_graph_num_inputs(body) != 2 + N || nne_graph_num_outputs(body) != 1 + N + K)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "body takes %d inputs and gives %d outputs; expected %d and %d",
                            nne_graph_num_inputs(body), nne_graph_num_outputs(body), 2 + N, 1 + N + K);
    for (int i = 0; i < N; i++)
        if (!nne_ctx_input(ctx, 2 + i))
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "loop-carried input %d is empty (optional values)", i);
    if (nne_ctx_shape_only(ctx)) return NNE_DYNAMIC;
    int64_t M = INT64_MAX;
    if (Mt) {
        if (nne_tensor_numel(Mt) != 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "M must be a scalar");
        M = nne_tensor_get_i64(Mt, 0);
    }
    int keep = 1;
    if (ct) {
        if (nne_tensor_numel(ct) != 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "cond must be a scalar");
        keep = nne_tensor_get_f64(ct, 0) != 0;
    }
    nne_status st = NNE_OK;
    /* carried[0..N) is read by the iteration running, carried[N..2N) gets its results */
    carry *carried = nne_calloc((size_t)2 * N + 1, sizeof *carried);
    nne_tensor *bin = nne_calloc((size_t)N + 3, sizeof *bin);
    const nne_tensor **bout = nne_calloc((size_t)(1 + N + K) + 1, sizeof *bout);
    stack *scans = nne_calloc((size_t)K + 1, sizeof *scans);
    if (!carried || !bin || !bout || !scans) {
        st = nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int i = 0; i < N && st == NNE_OK; i++) st = carry_set(ctx, &carried[i], nne_ctx_input(ctx, 2 + i));
    if (st != NNE_OK) goto done;
    carry *cur = carried, *nxt = carried + N;
    int64_t iter = 0;
    uint8_t cond_in;
    while (keep && iter < M) {
        /* the session's cap (all Loops of the run) and the cancel callback */
        if ((st = nne_ctx_loop_step(ctx, M)) != NNE_OK) goto done;
        int64_t it = iter;
        cond_in = (uint8_t)keep;
        bin[0] = (nne_tensor){.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &it};
        bin[1] = (nne_tensor){.dtype = NNE_DTYPE_BOOL, .ndim = 0, .data = &cond_in};
        for (int i = 0; i < N; i++) bin[2 + i] = cur[i].t;
        nne_ctx_set_iteration(ctx, iter);
        if ((st = nne_ctx_run_graph_view(ctx, body, 2 + N, bin, 1 + N + K, bout)) != NNE_OK) goto done;
        if (bout[0]->dtype == NNE_DTYPE_SEQUENCE || nne_tensor_numel(bout[0]) != 1) {
            st = nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "body's cond output must be a scalar");
            goto done;
        }
        keep = nne_tensor_get_f64(bout[0], 0) != 0;
        for (int i = 0; i < N && st == NNE_OK; i++) st = carry_set(ctx, &nxt[i], bout[1 + i]);
        int64_t expect = M < INT64_MAX ? M : 0;
        for (int k = 0; k < K && st == NNE_OK; k++) st = stack_push(ctx, &scans[k], bout[1 + N + k], expect);
        if (st != NNE_OK) goto done;
        carry *t = cur;
        cur = nxt;
        nxt = t;
        iter++;
    }
    for (int i = 0; i < N && st == NNE_OK; i++) st = emit(ctx, i, &cur[i].t);
    for (int k = 0; k < K && st == NNE_OK; k++) {
        stack *s = &scans[k];
        int64_t dims[NNE_MAX_DIMS];
        nne_tensor *y;
        if (s->count == 0) {
            /* no iteration ran: the element shape is unknown; give an empty 1-D tensor */
            dims[0] = 0;
            st = nne_ctx_output(ctx, N + k, NNE_DTYPE_FLOAT, 1, dims, &y);
            continue;
        }
        if (s->first.ndim + 1 > NNE_MAX_DIMS) {
            st = nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "scan output rank too large");
            break;
        }
        dims[0] = s->count;
        for (int d = 0; d < s->first.ndim; d++) dims[d + 1] = s->first.dims[d];
        if ((st = nne_ctx_output(ctx, N + k, s->first.dtype, s->first.ndim + 1, dims, &y)) != NNE_OK) break;
        if (s->count && s->elem_bytes) memcpy(y->data, s->data, (size_t)s->count * s->elem_bytes);
    }
done:
    carry_free(carried, 2 * N);
    if (scans)
        for (int k = 0; k < K; k++) nne_free(scans[k].data);
    nne_free(carried);
    nne_free(bin);
    nne_free((void *)bout);
    nne_free(scans);
    return st;
}
NNE_OP_REGISTER(Loop, "", "Loop", loop_run, NNE_OPF_SUBGRAPH);

/* ---------------------------------------------------------------- Scan -- */

/* Copy slice `idx` along `axis` of x into dst (shape of x without axis). */
static void take_slice(const nne_tensor *x, int axis, int64_t idx, nne_tensor *dst) {
    size_t es = nne_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->dims[d];
    int64_t L = x->dims[axis];
    dst->dtype = x->dtype;
    dst->ndim = x->ndim - 1;
    for (int d = 0, k = 0; d < x->ndim; d++)
        if (d != axis) dst->dims[k++] = x->dims[d];
    for (int64_t o = 0; o < outer; o++)
        memcpy((uint8_t *)dst->data + (size_t)(o * inner) * es,
               (const uint8_t *)x->data + (size_t)((o * L + idx) * inner) * es, (size_t)inner * es);
}

/* Place slice src at `idx` along `axis` of y (len L on that axis). */
static void put_slice(nne_tensor *y, int axis, int64_t idx, const uint8_t *src) {
    size_t es = nne_dtype_size(y->dtype);
    int64_t outer = 1, inner = 1, L = y->dims[axis];
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    for (int d = axis + 1; d < y->ndim; d++) inner *= y->dims[d];
    for (int64_t o = 0; o < outer; o++)
        memcpy((uint8_t *)y->data + (size_t)((o * L + idx) * inner) * es, src + (size_t)(o * inner) * es,
               (size_t)inner * es);
}

typedef struct scan_cfg {
    int N, M, K;
    const nne_tensor *const *states;   /* N */
    const nne_tensor *const *xs;       /* M scan inputs */
    int in_axes[64], in_dirs[64], out_axes[64], out_dirs[64];
} scan_cfg;

/* One scan over full-length inputs. results: N final states + K outputs (malloc'd). */
static nne_status scan_once(nne_op_ctx *ctx, const struct nne_graph *body, const scan_cfg *c, nne_tensor *res) {
    int N = c->N, M = c->M, K = c->K;
    int64_t L = -1;
    for (int j = 0; j < M; j++) {
        const nne_tensor *x = c->xs[j];
        int64_t l = x->dims[c->in_axes[j]];
        if (L >= 0 && l != L)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scan inputs have different lengths (%lld vs %lld)",
                                (long long)L, (long long)l);
        L = l;
    }
    if (L < 0) L = 0;
    nne_status st = NNE_OK;
    nne_tensor *bin = nne_calloc((size_t)(N + M) + 1, sizeof *bin);
    const nne_tensor **bout = nne_calloc((size_t)(N + K) + 1, sizeof *bout);
    stack *stk = nne_calloc((size_t)K + 1, sizeof *stk);
    /* states: [0, N) read by the running iteration, [N, 2N) get its results */
    carry *sb = nne_calloc((size_t)2 * N + 1, sizeof *sb);
    carry *cur = sb, *nxt = sb ? sb + N : NULL;
    if (!bin || !bout || !stk || !sb) {
        st = nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int i = 0; i < N && st == NNE_OK; i++) st = carry_set(ctx, &cur[i], c->states[i]);
    if (st != NNE_OK) goto done;
    for (int j = 0; j < M; j++) {
        size_t nb = nne_tensor_nbytes(c->xs[j]);
        int64_t l = c->xs[j]->dims[c->in_axes[j]];
        bin[N + j].data = nne_aligned_alloc(l ? nb / (size_t)l + 1 : 1);
        if (!bin[N + j].data) {
            st = nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
            goto done;
        }
    }
    for (int64_t t = 0; t < L; t++) {
        if ((st = nne_ctx_check_cancel(ctx)) != NNE_OK) goto done;
        for (int i = 0; i < N; i++) bin[i] = cur[i].t;
        for (int j = 0; j < M; j++)
            take_slice(c->xs[j], c->in_axes[j], c->in_dirs[j] ? L - 1 - t : t, &bin[N + j]);
        nne_ctx_set_iteration(ctx, t);
        if ((st = nne_ctx_run_graph_view(ctx, body, N + M, bin, N + K, bout)) != NNE_OK) goto done;
        for (int i = 0; i < N && st == NNE_OK; i++) st = carry_set(ctx, &nxt[i], bout[i]);
        for (int k = 0; k < K && st == NNE_OK; k++) st = stack_push(ctx, &stk[k], bout[N + k], L);
        if (st != NNE_OK) goto done;
        carry *sw = cur;
        cur = nxt;
        nxt = sw;
    }
    /* the final states go to res (owned by the caller from here) */
    for (int i = 0; i < N; i++) {
        res[i] = cur[i].t;
        cur[i].t.data = NULL;
    }
    for (int k = 0; k < K; k++) {
        stack *s = &stk[k];
        nne_tensor *y = &res[N + k];
        if (!s->count) {
            y->dtype = NNE_DTYPE_FLOAT;
            y->ndim = 1;
            y->dims[0] = 0;
            y->data = nne_aligned_alloc(1);
            continue;
        }
        int r = s->first.ndim + 1;
        int64_t ax = c->out_axes[k] < 0 ? c->out_axes[k] + r : c->out_axes[k];
        if (ax < 0 || ax >= r || r > NNE_MAX_DIMS) {
            st = nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scan_output_axes[%d]=%d out of range", k, c->out_axes[k]);
            goto done;
        }
        y->dtype = s->first.dtype;
        y->ndim = r;
        for (int d = 0, q = 0; d < r; d++) y->dims[d] = d == ax ? L : s->first.dims[q++];
        y->data = nne_aligned_alloc(s->elem_bytes * (size_t)L + 1);
        if (!y->data) {
            st = nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
            goto done;
        }
        for (int64_t t = 0; t < L; t++)
            put_slice(y, (int)ax, c->out_dirs[k] ? L - 1 - t : t, s->data + (size_t)t * s->elem_bytes);
    }
done:
    if (bin)
        for (int j = 0; j < M; j++) nne_aligned_free(bin[N + j].data);
    if (stk)
        for (int k = 0; k < K; k++) nne_free(stk[k].data);
    carry_free(sb, 2 * N);
    nne_free(sb);
    nne_free(bin);
    nne_free((void *)bout);
    nne_free(stk);
    if (st != NNE_OK) free_all(res, N + K);
    return st;
}

static nne_status scan_attrs(nne_op_ctx *ctx, scan_cfg *c, int rank_base) {
    const int64_t *v;
    int n;
    if (c->M > 64 || c->K > 64) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "more than 64 scan inputs/outputs");
    const char *dir_in = nne_ctx_opset(ctx) < 9 ? "directions" : "scan_input_directions";
    for (int j = 0; j < c->M; j++) c->in_axes[j] = 0, c->in_dirs[j] = 0;
    for (int k = 0; k < c->K; k++) c->out_axes[k] = 0, c->out_dirs[k] = 0;
    if ((n = nne_attr_ints(ctx, dir_in, &v)) >= 0) {
        if (n != c->M) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s has %d entries for %d inputs", dir_in, n, c->M);
        for (int j = 0; j < n; j++) c->in_dirs[j] = v[j] != 0;
    }
    if ((n = nne_attr_ints(ctx, "scan_input_axes", &v)) >= 0) {
        if (n != c->M) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scan_input_axes has %d entries", n);
        for (int j = 0; j < n; j++) {
            int r = c->xs[j]->ndim - rank_base, a;
            NNE_TRY(nne_ctx_axis(ctx, v[j], r, &a));
            c->in_axes[j] = a;
        }
    }
    if ((n = nne_attr_ints(ctx, "scan_output_directions", &v)) >= 0) {
        if (n != c->K) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scan_output_directions has %d entries", n);
        for (int k = 0; k < n; k++) c->out_dirs[k] = v[k] != 0;
    }
    if ((n = nne_attr_ints(ctx, "scan_output_axes", &v)) >= 0) {
        if (n != c->K) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scan_output_axes has %d entries", n);
        for (int k = 0; k < n; k++) c->out_axes[k] = (int)v[k];
    }
    return NNE_OK;
}

static nne_status scan_run(nne_op_ctx *ctx) {
    const struct nne_graph *body = nne_attr_g(ctx, "body");
    if (!body) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing body attribute");
    int v8 = nne_ctx_opset(ctx) < 9;
    int first = v8 ? 1 : 0; /* opset 8 starts with sequence_lens */
    int nin = nne_ctx_num_inputs(ctx) - first, nout = nne_ctx_num_outputs(ctx);
    int64_t M64 = nne_attr_i(ctx, "num_scan_inputs", -1);
    if (M64 < 1 || M64 > nin) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "num_scan_inputs=%lld is invalid", (long long)M64);
    scan_cfg c;
    memset(&c, 0, sizeof c);
    c.M = (int)M64;
    c.N = nin - c.M;
    c.K = nout - c.N;
    if (c.K < 0 || nne_graph_num_inputs(body) != c.N + c.M || nne_graph_num_outputs(body) != c.N + c.K)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "body signature does not match the node");
    const nne_tensor *ptrs[256];
    if (nin > 256) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "too many inputs");
    for (int i = 0; i < nin; i++) {
        ptrs[i] = nne_ctx_input(ctx, first + i);
        if (!ptrs[i]) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d is empty", first + i);
        if (ptrs[i]->ndim < (v8 ? 1 : 0) + (i >= c.N ? 1 : 0))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d has too few dims", first + i);
    }
    c.states = ptrs;
    c.xs = ptrs + c.N;
    NNE_TRY(scan_attrs(ctx, &c, v8 ? 1 : 0));
    if (nne_ctx_shape_only(ctx)) return NNE_DYNAMIC;
    nne_tensor *res = nne_calloc((size_t)(c.N + c.K) + 1, sizeof *res);
    if (!res) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    nne_status st = NNE_OK;
    if (!v8) {
        if ((st = scan_once(ctx, body, &c, res)) == NNE_OK) {
            for (int i = 0; i < c.N + c.K && st == NNE_OK; i++) st = emit(ctx, i, &res[i]);
            free_all(res, c.N + c.K);
        }
        nne_free(res);
        return st;
    }
    /* opset 8: axis 0 is a batch; every sample scans its own sequence */
    const nne_tensor *sl = nne_ctx_input(ctx, 0);
    int64_t B = ptrs[0]->dims[0];
    for (int i = 0; i < nin; i++)
        if (ptrs[i]->dims[0] != B) {
            nne_free(res);
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs disagree on the batch size");
        }
    for (int j = 0; j < c.M; j++) c.in_axes[j] = 0;
    nne_tensor *bt = nne_calloc((size_t)nin + 1, sizeof *bt);
    const nne_tensor **bp = nne_calloc((size_t)nin + 1, sizeof *bp);
    nne_tensor **ys = nne_calloc((size_t)(c.N + c.K) + 1, sizeof *ys);
    if (!bt || !bp || !ys) st = nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t b = 0; b < B && st == NNE_OK; b++) {
        for (int i = 0; i < nin; i++) {
            size_t nb = nne_tensor_nbytes(ptrs[i]);
            bt[i].data = nne_aligned_alloc(B ? nb / (size_t)B + 1 : 1);
            if (!bt[i].data) st = nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
            else take_slice(ptrs[i], 0, b, &bt[i]);
            bp[i] = &bt[i];
        }
        if (st == NNE_OK && sl) {
            int64_t L = c.M ? bt[c.N].dims[0] : 0;
            if (sl->ndim != 1 || sl->dims[0] != B || nne_tensor_get_i64(sl, b) != L)
                st = nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "sequence_lens shorter than the sequence");
        }
        if (st == NNE_OK) {
            scan_cfg cb = c;
            cb.states = bp;
            cb.xs = bp + c.N;
            st = scan_once(ctx, body, &cb, res);
            for (int i = 0; i < nin; i++) nne_aligned_free(bt[i].data), bt[i].data = NULL;
            if (st != NNE_OK) break;
        } else {
            for (int i = 0; i < nin; i++) nne_aligned_free(bt[i].data), bt[i].data = NULL;
            break;
        }
        for (int i = 0; i < c.N + c.K && st == NNE_OK; i++) {
            if (res[i].ndim + 1 > NNE_MAX_DIMS) {
                st = nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "rank too large");
                break;
            }
            if (b == 0) {
                int64_t dims[NNE_MAX_DIMS];
                dims[0] = B;
                for (int d = 0; d < res[i].ndim; d++) dims[d + 1] = res[i].dims[d];
                st = nne_ctx_output(ctx, i, res[i].dtype, res[i].ndim + 1, dims, &ys[i]);
                if (st != NNE_OK) break;
            }
            size_t nb = nne_tensor_nbytes(&res[i]);
            if (res[i].dtype != ys[i]->dtype || (int64_t)nb * B != (int64_t)nne_tensor_nbytes(ys[i])) {
                st = nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "batch samples give outputs of different shapes");
                break;
            }
            if (nb) memcpy((uint8_t *)ys[i]->data + (size_t)b * nb, res[i].data, nb);
        }
        free_all(res, c.N + c.K);
    }
    nne_free(bt);
    nne_free(bp);
    nne_free(ys);
    nne_free(res);
    return st;
}
NNE_OP_REGISTER(Scan, "", "Scan", scan_run, NNE_OPF_SUBGRAPH);
