/*
 * test_train.c - the training engine's gradient rules against finite
 * differences, op by op, plus the loss (cross-entropy and distillation)
 * through the public trainer, masks, and bad batches.
 *
 * Each case builds one node, runs its rule forward on random inputs, sets
 * the output gradient to a random R (so the loss is L = sum R * Y) and runs
 * backward. The reference is the central difference of L in float64: the
 * node evaluated by nnedge's own inference op in double precision
 * (nne_node_eval, an implementation independent of the rule), with
 * eps = 1e-6. Where the op has no double kernel or its training forward
 * differs from inference (BatchNormalization's batch statistics, Dropout's
 * mask) the rule's own float forward is differenced with eps = 1e-2 and a
 * looser bound. Up to 48 elements of each input are checked.
 */
#include "unit.h"
#include "train/train.h"
#include "kernels/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 12345;
static double urand(void) { return nne_train_rand(&rs); }

static nne_graph *G;
static int n_cases, n_double; /* cases checked; of which against the float64 inference op */

static int add_in(const char *name, int ndim, const int64_t *dims) {
    int v = -1;
    nne_graph_add_input(G, name, &v);
    G->values[v].dtype = NNE_DTYPE_FLOAT;
    G->values[v].ndim = ndim;
    for (int d = 0; d < ndim; d++) G->values[v].dims[d] = dims[d];
    return v;
}

static int add_const(const char *name, nne_dtype dt, int ndim, const int64_t *dims, const void *vals) {
    nne_tensor t = {.dtype = dt, .ndim = ndim};
    for (int d = 0; d < ndim; d++) t.dims[d] = dims[d];
    size_t nb = nne_tensor_nbytes(&t);
    t.data = nne_aligned_alloc(nb ? nb : 64);
    memcpy(t.data, vals, nb);
    int v = -1;
    nne_graph_add_initializer(G, name, &t, &v);
    return v;
}

static int add_node(const char *op, int n_in, const int *in, int n_out) {
    int ni = -1;
    nne_graph_add_node(G, op, "", op, 17, &ni);
    for (int k = 0; k < n_in; k++) nne_node_add_input(G, ni, in[k]);
    for (int o = 0; o < n_out; o++) {
        char name[32];
        snprintf(name, sizeof name, "y%d", o);
        int v = nne_graph_add_value(G, name, NNE_VAL_NODE);
        nne_node_add_output(G, ni, v);
    }
    return ni;
}

static void new_graph(void) {
    nne_graph_destroy(G);
    G = nne_graph_create(NULL);
}

/* L = sum R * op(inputs) in double, by the inference op in float64;
 * 0 when the op has no double kernel. */
static int eval_double(int ni, nne_tval *const *tv, const double *R, int64_t nr, double *L) {
    const nne_node *nd = &G->nodes[ni];
    nne_tensor t[NNE_TRAIN_MAX_IO], outs[NNE_TRAIN_MAX_IO];
    const nne_tensor *ins[NNE_TRAIN_MAX_IO];
    for (int k = 0; k < nd->n_in; k++) {
        ins[k] = NULL;
        if (nd->in[k] < 0) continue;
        const nne_value *val = &G->values[nd->in[k]];
        if (val->kind == NNE_VAL_CONST && val->init.dtype != NNE_DTYPE_FLOAT) {
            t[k] = val->init;
        } else {
            memset(&t[k], 0, sizeof t[k]);
            t[k].dtype = NNE_DTYPE_DOUBLE;
            t[k].ndim = tv[k]->ndim;
            memcpy(t[k].dims, tv[k]->dims, sizeof t[k].dims);
            double *d = malloc((size_t)(tv[k]->n ? tv[k]->n : 1) * sizeof(double));
            for (int64_t i = 0; i < tv[k]->n; i++) d[i] = tv[k]->x[i];
            t[k].data = d;
        }
        ins[k] = &t[k];
    }
    int skipped = 0;
    nne_status st = nne_node_eval(G, ni, ins, (size_t)1 << 26, outs, &skipped);
    for (int k = 0; k < nd->n_in; k++)
        if (ins[k] && t[k].dtype == NNE_DTYPE_DOUBLE) free(t[k].data);
    if (st != NNE_OK || skipped || outs[0].dtype != NNE_DTYPE_DOUBLE || nne_tensor_numel(&outs[0]) != nr) {
        for (int o = 0; o < nd->n_out; o++) nne_aligned_free(outs[o].data);
        return 0;
    }
    double s = 0;
    for (int64_t i = 0; i < nr; i++) s += R[i] * ((const double *)outs[0].data)[i];
    *L = s;
    for (int o = 0; o < nd->n_out; o++) nne_aligned_free(outs[o].data);
    return 1;
}

static void fd_double(int ni, nne_tval *const *tv, int k, int64_t j, double eps, const double *R, int64_t nr,
                      double *Lp, double *Lm);

/* Check node ni's rule. `lo`/`hi`: input range; `float_only`: skip the
 * double oracle. Returns the number of mismatches. */
static int check_node(const char *what, int ni, double lo, double hi, int float_only) {
    const nne_node *nd = &G->nodes[ni];
    const nne_grad_rule *r = nd->op ? nd->op->gradient : NULL;
    CHECK(r != NULL);
    if (!r) return 1;
    nne_tval tv[NNE_TRAIN_MAX_IO * 2];
    memset(tv, 0, sizeof tv);
    nne_tnode tn;
    memset(&tn, 0, sizeof tn);
    tn.g = G;
    tn.node = nd;
    tn.rule = r;
    tn.n_in = nd->n_in;
    tn.n_out = nd->n_out;
    nne_tensor tin[NNE_TRAIN_MAX_IO], outs[NNE_TRAIN_MAX_IO];
    const nne_tensor *ins[NNE_TRAIN_MAX_IO];
    uint8_t so[NNE_TRAIN_MAX_IO];
    for (int k = 0; k < nd->n_in; k++) {
        ins[k] = NULL;
        so[k] = 0;
        if (nd->in[k] < 0) continue;
        const nne_value *val = &G->values[nd->in[k]];
        nne_tval *x = &tv[k];
        tn.in[k] = x;
        if (val->kind == NNE_VAL_CONST) {
            x->is_const = 1;
            x->cst = &val->init;
            x->ndim = val->init.ndim;
            memcpy(x->dims, val->init.dims, sizeof x->dims);
            x->n = nne_tensor_numel(&val->init);
            if (val->init.dtype == NNE_DTYPE_FLOAT) x->x = val->init.data;
            tin[k] = val->init;
            so[k] = 0;
        } else {
            x->ndim = val->ndim;
            memcpy(x->dims, val->dims, sizeof x->dims);
            memset(&tin[k], 0, sizeof tin[k]);
            tin[k].dtype = NNE_DTYPE_FLOAT;
            tin[k].ndim = val->ndim;
            memcpy(tin[k].dims, val->dims, sizeof tin[k].dims);
            x->n = nne_tensor_numel(&tin[k]);
            x->x = nne_train_alloc(x->n, "test");
            x->g = nne_train_alloc(x->n, "test");
            for (int64_t i = 0; i < x->n; i++) x->x[i] = (float)(lo + (hi - lo) * urand());
            so[k] = 1;
        }
        ins[k] = &tin[k];
    }
    int skipped = 0;
    nne_status st = nne_node_infer(G, ni, ins, so, outs, &skipped);
    CHECK(st == NNE_OK && !skipped);
    for (int o = 0; o < nd->n_out; o++) {
        nne_tval *y = &tv[NNE_TRAIN_MAX_IO + o];
        tn.out[o] = y;
        y->ndim = outs[o].ndim;
        memcpy(y->dims, outs[o].dims, sizeof y->dims);
        y->n = nne_tensor_numel(&outs[o]);
        y->x = nne_train_alloc(y->n, "test");
        y->g = nne_train_alloc(y->n, "test");
    }
    nne_tctx c;
    memset(&c, 0, sizeof c);
    c.ops = nne_kernels()->sgemm;
    c.training = 1;
    tn.state = r->state_size ? calloc(1, r->state_size) : NULL;
    st = r->plan ? r->plan(&tn, &c) : NNE_OK;
    CHECK(st == NNE_OK);
    int bad = 0;
    if (st != NNE_OK) {
        fprintf(stderr, "%s: plan: %s\n", what, nne_last_error());
        bad = 1;
        goto done;
    }
    nne_tval *Y = tn.out[0];
    double *R = malloc((size_t)Y->n * sizeof(double));
    for (int64_t i = 0; i < Y->n; i++) R[i] = 2 * urand() - 1;
    c.rng = 777;
    r->forward(&tn, &c);
    for (int64_t i = 0; i < Y->n; i++) Y->g[i] = (float)R[i];
    r->backward(&tn, &c);
    /* assign mode (a gradient with one reader is written, not added to):
     * the same gradient from a buffer full of garbage */
    if (r->assigns && tn.in[0] && tn.in[0]->g) {
        nne_tval *X = tn.in[0];
        float *keep = malloc((size_t)X->n * sizeof(float));
        memcpy(keep, X->g, (size_t)X->n * sizeof(float));
        for (int64_t i = 0; i < X->n; i++) X->g[i] = 1e30f;
        X->g_assign = 1;
        for (int k = 1; k < nd->n_in; k++)
            if (tn.in[k] && tn.in[k]->g) memset(tn.in[k]->g, 0, (size_t)tn.in[k]->n * sizeof(float));
        r->backward(&tn, &c);
        X->g_assign = 0;
        int same = 1;
        for (int64_t i = 0; i < X->n; i++) same &= X->g[i] == keep[i];
        CHECK(same);
        if (!same) fprintf(stderr, "%s: assign mode differs\n", what);
        free(keep);
    }
    double Ld;
    int use_double = !float_only && eval_double(ni, tn.in, R, Y->n, &Ld);
    /* eps a power of two: the perturbed input is exact in float too (some
     * "double" kernels compute in float inside) */
    double eps = use_double ? 1.0 / 1024 : 1e-2, tol = use_double ? 2e-3 : 3e-2;
    n_cases++;
    n_double += use_double;
    if (!use_double) printf("train: %s checked against its own float forward\n", what);
    int checked = 0;
    for (int k = 0; k < nd->n_in; k++) {
        nne_tval *x = tn.in[k];
        if (!x || !x->g || !(r->diff_inputs >> k & 1)) continue;
        int64_t step = x->n > 48 ? x->n / 48 : 1;
        for (int64_t j = (int64_t)(urand() * (double)step); j < x->n; j += step) {
            float keep = x->x[j];
            double Lp = 0, Lm = 0;
            if (use_double) {
                fd_double(ni, tn.in, k, j, eps, R, Y->n, &Lp, &Lm);
            } else {
                x->x[j] = keep + (float)eps;
                c.rng = 777;
                r->forward(&tn, &c);
                for (int64_t i = 0; i < Y->n; i++) Lp += R[i] * Y->x[i];
                x->x[j] = keep - (float)eps;
                c.rng = 777;
                r->forward(&tn, &c);
                for (int64_t i = 0; i < Y->n; i++) Lm += R[i] * Y->x[i];
                x->x[j] = keep;
            }
            double fd = (Lp - Lm) / (2 * eps), an = x->g[j];
            checked++;
            if (fabs(fd - an) > tol * (1 + fabs(fd))) {
                if (bad < 3)
                    fprintf(stderr, "%s: d/d input %d [%lld]: backward %.6g, finite difference %.6g\n", what, k,
                            (long long)j, an, fd);
                bad++;
            }
        }
    }
    CHECK(checked > 0);
    CHECK(bad == 0);
    free(R);
done:
    if (r->free) r->free(&tn);
    free(tn.state);
    nne_aligned_free(c.gemm_scratch);
    for (int k = 0; k < NNE_TRAIN_MAX_IO * 2; k++) {
        if (!tv[k].is_const) nne_aligned_free(tv[k].x);
        nne_aligned_free(tv[k].g);
    }
    return bad;
}

/* Central difference of L in float64 for element j of input k. */
static void fd_double(int ni, nne_tval *const *tv, int k, int64_t j, double eps, const double *R, int64_t nr,
                      double *Lp, double *Lm) {
    const nne_node *nd = &G->nodes[ni];
    nne_tensor t[NNE_TRAIN_MAX_IO], outs[NNE_TRAIN_MAX_IO];
    const nne_tensor *ins[NNE_TRAIN_MAX_IO];
    for (int s = 0; s < 2; s++) {
        for (int q = 0; q < nd->n_in; q++) {
            ins[q] = NULL;
            if (nd->in[q] < 0) continue;
            const nne_value *val = &G->values[nd->in[q]];
            if (val->kind == NNE_VAL_CONST && val->init.dtype != NNE_DTYPE_FLOAT) t[q] = val->init;
            else {
                memset(&t[q], 0, sizeof t[q]);
                t[q].dtype = NNE_DTYPE_DOUBLE;
                t[q].ndim = tv[q]->ndim;
                memcpy(t[q].dims, tv[q]->dims, sizeof t[q].dims);
                double *d = malloc((size_t)(tv[q]->n ? tv[q]->n : 1) * sizeof(double));
                for (int64_t i = 0; i < tv[q]->n; i++) d[i] = tv[q]->x[i];
                if (q == k) d[j] += s ? -eps : eps;
                t[q].data = d;
            }
            ins[q] = &t[q];
        }
        int skipped = 0;
        nne_status st = nne_node_eval(G, ni, ins, (size_t)1 << 26, outs, &skipped);
        double L = 0;
        if (st == NNE_OK && !skipped)
            for (int64_t i = 0; i < nr; i++) L += R[i] * ((const double *)outs[0].data)[i];
        for (int o = 0; o < nd->n_out; o++) nne_aligned_free(outs[o].data);
        for (int q = 0; q < nd->n_in; q++)
            if (ins[q] && t[q].dtype == NNE_DTYPE_DOUBLE) free(t[q].data);
        if (s == 0) *Lp = L;
        else *Lm = L;
    }
}

static void set_ints(int ni, const char *name, int n, const int64_t *v) { nne_node_set_attr_ints(G, ni, name, n, v); }

static void grad_cases(void) {
    /* Conv: groups, asymmetric pads, strides, dilations, bias */
    new_graph();
    {
        int x = add_in("x", 4, (int64_t[]){2, 4, 7, 8}), w = add_in("w", 4, (int64_t[]){6, 2, 3, 3}),
            b = add_in("b", 1, (int64_t[]){6});
        int ni = add_node("Conv", 3, (int[]){x, w, b}, 1);
        nne_node_set_attr_int(G, ni, "group", 2);
        set_ints(ni, "pads", 4, (int64_t[]){1, 0, 2, 1});
        set_ints(ni, "strides", 2, (int64_t[]){2, 1});
        set_ints(ni, "dilations", 2, (int64_t[]){1, 2});
        check_node("Conv groups/pads/strides/dilations", ni, -1, 1, 0);
    }
    new_graph();
    {
        int x = add_in("x", 4, (int64_t[]){3, 5, 9, 9}), w = add_in("w", 4, (int64_t[]){7, 5, 3, 3});
        int ni = add_node("Conv", 2, (int[]){x, w}, 1);
        nne_node_set_attr_string(G, ni, "auto_pad", "SAME_UPPER");
        check_node("Conv SAME_UPPER no bias", ni, -1, 1, 0);
    }
    new_graph();
    {
        int x = add_in("x", 4, (int64_t[]){2, 6, 6, 5}), w = add_in("w", 4, (int64_t[]){6, 1, 3, 3}),
            b = add_in("b", 1, (int64_t[]){6});
        int ni = add_node("Conv", 3, (int[]){x, w, b}, 1);
        nne_node_set_attr_int(G, ni, "group", 6);
        set_ints(ni, "pads", 4, (int64_t[]){1, 1, 1, 1});
        check_node("Conv depthwise", ni, -1, 1, 0);
    }
    /* Gemm: both transposes, alpha, beta, C broadcast by row */
    new_graph();
    {
        int a = add_in("a", 2, (int64_t[]){5, 4}), b = add_in("b", 2, (int64_t[]){7, 5}),
            c = add_in("c", 2, (int64_t[]){1, 7});
        int ni = add_node("Gemm", 3, (int[]){a, b, c}, 1);
        nne_node_set_attr_int(G, ni, "transA", 1);
        nne_node_set_attr_int(G, ni, "transB", 1);
        nne_node_set_attr_float(G, ni, "alpha", 0.7f);
        nne_node_set_attr_float(G, ni, "beta", 1.3f);
        check_node("Gemm transA transB alpha beta", ni, -1, 1, 0);
    }
    new_graph();
    {
        int a = add_in("a", 2, (int64_t[]){6, 9}), b = add_in("b", 2, (int64_t[]){9, 4}), c = add_in("c", 1, (int64_t[]){4});
        check_node("Gemm plain", add_node("Gemm", 3, (int[]){a, b, c}, 1), -1, 1, 0);
    }
    new_graph();
    {
        int a = add_in("a", 3, (int64_t[]){2, 3, 5}), b = add_in("b", 2, (int64_t[]){5, 4});
        check_node("MatMul batched A", add_node("MatMul", 2, (int[]){a, b}, 1), -1, 1, 0);
    }
    /* activations (inputs kept off the kinks by the random draw) */
    static const char *const acts[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Softplus", "HardSigmoid",
                                       "HardSwish", "Identity"};
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        new_graph();
        int x = add_in("x", 3, (int64_t[]){2, 3, 7});
        int ni = add_node(acts[k], 1, (int[]){x}, 1);
        if (!strcmp(acts[k], "LeakyRelu")) nne_node_set_attr_float(G, ni, "alpha", 0.1f);
        check_node(acts[k], ni, -4, 4, 0);
    }
    new_graph();
    {
        float lo = -0.5f, hi = 0.7f;
        int x = add_in("x", 2, (int64_t[]){4, 9}), a = add_const("lo", NNE_DTYPE_FLOAT, 0, NULL, &lo),
            b = add_const("hi", NNE_DTYPE_FLOAT, 0, NULL, &hi);
        check_node("Clip", add_node("Clip", 3, (int[]){x, a, b}, 1), -1, 1, 0);
    }
    /* pooling */
    new_graph();
    {
        int x = add_in("x", 4, (int64_t[]){2, 3, 9, 8});
        int ni = add_node("MaxPool", 1, (int[]){x}, 1);
        set_ints(ni, "kernel_shape", 2, (int64_t[]){3, 2});
        set_ints(ni, "strides", 2, (int64_t[]){2, 2});
        set_ints(ni, "pads", 4, (int64_t[]){1, 0, 1, 1});
        check_node("MaxPool pads strides", ni, -1, 1, 0);
    }
    new_graph();
    {
        int x = add_in("x", 4, (int64_t[]){2, 3, 8, 8});
        int ni = add_node("MaxPool", 1, (int[]){x}, 1);
        set_ints(ni, "kernel_shape", 2, (int64_t[]){2, 2});
        set_ints(ni, "strides", 2, (int64_t[]){2, 2});
        check_node("MaxPool 2x2", ni, -1, 1, 0);
    }
    for (int inc = 0; inc < 2; inc++) {
        new_graph();
        int x = add_in("x", 4, (int64_t[]){2, 2, 7, 6});
        int ni = add_node("AveragePool", 1, (int[]){x}, 1);
        set_ints(ni, "kernel_shape", 2, (int64_t[]){3, 3});
        set_ints(ni, "strides", 2, (int64_t[]){2, 1});
        set_ints(ni, "pads", 4, (int64_t[]){1, 1, 1, 0});
        nne_node_set_attr_int(G, ni, "count_include_pad", inc);
        check_node(inc ? "AveragePool count_include_pad" : "AveragePool", ni, -1, 1, 0);
    }
    new_graph();
    check_node("GlobalAveragePool", add_node("GlobalAveragePool", 1, (int[]){add_in("x", 4, (int64_t[]){2, 3, 4, 5})}, 1),
               -1, 1, 0);
    new_graph();
    check_node("GlobalMaxPool", add_node("GlobalMaxPool", 1, (int[]){add_in("x", 4, (int64_t[]){2, 3, 4, 5})}, 1), -1,
               1, 0);
    /* BatchNormalization in training mode: the rule's own forward (batch statistics) */
    new_graph();
    {
        float mean[3] = {0.1f, -0.2f, 0.3f}, var[3] = {1.5f, 0.5f, 2.0f};
        int x = add_in("x", 4, (int64_t[]){4, 3, 3, 2}), s = add_in("s", 1, (int64_t[]){3}), b = add_in("b", 1, (int64_t[]){3});
        int m = add_const("m", NNE_DTYPE_FLOAT, 1, (int64_t[]){3}, mean), v = add_const("v", NNE_DTYPE_FLOAT, 1, (int64_t[]){3}, var);
        check_node("BatchNormalization (training)", add_node("BatchNormalization", 5, (int[]){x, s, b, m, v}, 1), -2, 2, 1);
    }
    /* shapes and broadcasting */
    new_graph();
    check_node("Flatten", add_node("Flatten", 1, (int[]){add_in("x", 4, (int64_t[]){2, 3, 2, 2})}, 1), -1, 1, 0);
    new_graph();
    {
        int64_t shp[2] = {-1, 6};
        int x = add_in("x", 3, (int64_t[]){2, 3, 4}), s = add_const("s", NNE_DTYPE_INT64, 1, (int64_t[]){2}, shp);
        check_node("Reshape", add_node("Reshape", 2, (int[]){x, s}, 1), -1, 1, 0);
    }
    static const char *const bins[] = {"Add", "Sub", "Mul"};
    for (int k = 0; k < 3; k++) {
        new_graph();
        int a = add_in("a", 3, (int64_t[]){2, 3, 4}), b = add_in("b", 2, (int64_t[]){3, 1});
        check_node(bins[k], add_node(bins[k], 2, (int[]){a, b}, 1), -1, 1, 0);
        new_graph();
        a = add_in("a", 2, (int64_t[]){5, 4});
        b = add_in("b", 2, (int64_t[]){5, 4});
        check_node(bins[k], add_node(bins[k], 2, (int[]){a, b}, 1), -1, 1, 0);
    }
    new_graph();
    {
        int a = add_in("a", 3, (int64_t[]){2, 1, 4}), b = add_in("b", 3, (int64_t[]){2, 3, 4}),
            c = add_in("c", 3, (int64_t[]){2, 2, 4});
        int ni = add_node("Concat", 3, (int[]){a, b, c}, 1);
        nne_node_set_attr_int(G, ni, "axis", 1);
        check_node("Concat", ni, -1, 1, 0);
    }
    new_graph();
    {
        float ratio = 0.3f;
        int x = add_in("x", 2, (int64_t[]){6, 10}), r = add_const("r", NNE_DTYPE_FLOAT, 0, NULL, &ratio);
        check_node("Dropout (training)", add_node("Dropout", 2, (int[]){x, r}, 1), -1, 1, 1);
    }
    nne_graph_destroy(G);
    G = NULL;
}

/* ---- the loss through the public trainer: x [N,K] -> Gemm -> logits ---- */

static nne_model *gemm_model(int N, int K, int C, const float *w, const float *b) {
    nne_model *m = nne_model_new();
    m->graph = nne_graph_create(NULL);
    m->ir_version = 8;
    m->n_opsets = 1;
    m->opsets = nne_calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = nne_strdup("");
    m->opsets[0].version = 17;
    G = m->graph;
    int x = add_in("x", 2, (int64_t[]){-1, K});
    int W = add_const("W", NNE_DTYPE_FLOAT, 2, (int64_t[]){C, K}, w);
    int B = add_const("B", NNE_DTYPE_FLOAT, 1, (int64_t[]){C}, b);
    int ni = add_node("Gemm", 3, (int[]){x, W, B}, 1);
    nne_node_set_attr_int(G, ni, "transB", 1);
    nne_graph_add_output(G, G->nodes[ni].out[0]);
    m->feed = nne_calloc(1, sizeof(int));
    m->feed[0] = x;
    m->n_feed = 1;
    G = NULL;
    (void)N;
    return m;
}

static void loss_cases(void) {
    enum { N = 6, K = 5, C = 4 };
    float w[C * K], b[C], x[N * K], tl[N * C];
    int64_t lab[N];
    for (int i = 0; i < C * K; i++) w[i] = (float)(urand() - 0.5);
    for (int i = 0; i < C; i++) b[i] = (float)(urand() - 0.5);
    for (int i = 0; i < N * K; i++) x[i] = (float)(2 * urand() - 1);
    for (int i = 0; i < N * C; i++) tl[i] = (float)(4 * urand() - 2);
    for (int i = 0; i < N; i++) lab[i] = i % C;
    nne_tensor xt = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {N, K}, .data = x};
    nne_tensor tt = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {N, C}, .data = tl};
    for (int kd = 0; kd < 2; kd++) {
        nne_model *m = gemm_model(N, K, C, w, b);
        nne_train_options o = nne_train_options_default();
        o.optimizer = NNE_OPTIM_SGD;
        o.momentum = 0;
        o.lr = 1e-30f; /* the step leaves the weights as they are */
        o.kd_alpha = 0.6f;
        o.kd_temperature = 2.5f;
        nne_trainer *t = NULL;
        nne_status st = nne_trainer_create(m, &o, &t);
        CHECK(st == NNE_OK);
        if (st != NNE_OK) {
            fprintf(stderr, "trainer: %s\n", nne_last_error());
            nne_model_destroy(m);
            continue;
        }
        CHECK(nne_trainer_classes(t) == C);
        nne_train_stats s;
        CHECK(nne_trainer_step(t, &xt, lab, kd ? &tt : NULL, &s) == NNE_OK);
        nne_tval *W = nne_trainer_value(t, "W");
        float an[C * K];
        memcpy(an, W->g, sizeof an);
        int bad = 0;
        for (int j = 0; j < C * K; j++) {
            float keep = W->x[j];
            double Lp, Lm;
            W->x[j] = keep + 1e-2f;
            nne_trainer_step(t, &xt, lab, kd ? &tt : NULL, &s);
            Lp = s.loss;
            W->x[j] = keep - 1e-2f;
            nne_trainer_step(t, &xt, lab, kd ? &tt : NULL, &s);
            Lm = s.loss;
            W->x[j] = keep;
            double fd = (Lp - Lm) / 2e-2;
            if (fabs(fd - an[j]) > 2e-3 + 2e-2 * fabs(fd)) {
                if (bad < 3) fprintf(stderr, "loss%s: dW[%d] backward %.6g, finite difference %.6g\n", kd ? " (KD)" : "", j, an[j], fd);
                bad++;
            }
        }
        CHECK(bad == 0);
        /* bad batches: label out of range, wrong sample shape, NaN loss */
        int64_t badlab[N];
        memcpy(badlab, lab, sizeof badlab);
        badlab[3] = C;
        CHECK(nne_trainer_step(t, &xt, badlab, NULL, &s) == NNE_ERR_INVALID_ARG);
        badlab[3] = -1;
        CHECK(nne_trainer_step(t, &xt, badlab, NULL, &s) == NNE_ERR_INVALID_ARG);
        nne_tensor x2 = xt;
        x2.dims[1] = K + 1;
        CHECK(nne_trainer_step(t, &x2, lab, NULL, &s) == NNE_ERR_INVALID_ARG);
        float keep = W->x[0];
        W->x[0] = NAN;
        CHECK(nne_trainer_step(t, &xt, lab, NULL, &s) == NNE_ERR_INVALID_ARG);
        CHECK(strstr(nne_last_error(), "NaN") != NULL);
        W->x[0] = keep;
        nne_trainer_destroy(t);
        nne_model_destroy(m);
    }
    /* masks: a zero weight stays zero through Adam steps */
    {
        float wz[C * K];
        memcpy(wz, w, sizeof wz);
        wz[2] = wz[7] = 0.0f;
        nne_model *m = gemm_model(N, K, C, wz, b);
        nne_trainer *t = NULL;
        nne_train_options o = nne_train_options_default();
        o.lr = 0.05f;
        CHECK(nne_trainer_create(m, &o, &t) == NNE_OK);
        nne_train_stats s;
        double first = 0;
        for (int it = 0; it < 30 && t; it++) {
            CHECK(nne_trainer_step(t, &xt, lab, NULL, &s) == NNE_OK);
            if (it == 0) first = s.loss;
        }
        CHECK(s.loss < first); /* it learns */
        nne_tval *W = t ? nne_trainer_value(t, "W") : NULL;
        CHECK(W && W->x[2] == 0.0f && W->x[7] == 0.0f && W->x[3] != 0.0f);
        nne_trainer_destroy(t);
        nne_model_destroy(m);
    }
}

void unit_train(void) {
    grad_cases();
    printf("train: %d gradient rules' cases checked by finite differences, %d against the float64 inference op\n",
           n_cases, n_double);
    loss_cases();
}
