/*
 * test_plan.c - prepared plans and execution contexts: two contexts of one
 * plan run independently; the observer sees every node (folded ones too);
 * phased ops are planned with per-node state; a second plan of the same
 * model (another batch size) reuses the packed weights of the first; the
 * errors of the plan/context API.
 */
#include "ir/session_internal.h"
#include "kernels/dispatch.h"
#include "nnedge.h"
#include "unit.h"

#include <math.h>
#include <string.h>

#define MODELS "tests/models/"

static nne_model *load(const char *name) {
    nne_model *m = NULL;
    if (nne_model_load_file(name, NULL, &m) != NNE_OK) fprintf(stderr, "%s: %s\n", name, nne_last_error());
    return m;
}

/* shape_chain: y = relu(reshape(x, [N, 12])) + 1 */
static int check_chain(const nne_tensor *y, const float *x, int64_t n) {
    if (y->ndim != 2 || y->dims[0] != n || y->dims[1] != 12) return 0;
    for (int64_t i = 0; i < n * 12; i++)
        if (((const float *)y->data)[i] != (x[i] > 0 ? x[i] : 0) + 1) return 0;
    return 1;
}

static void test_two_contexts(void) {
    nne_model *m = load(MODELS "shape_chain.onnx");
    CHECK(m != NULL);
    if (!m) return;
    float xa[2 * 12], xb[2 * 12];
    for (int i = 0; i < 24; i++) xa[i] = (float)(i - 12), xb[i] = (float)(7 - i) * 0.5f;
    nne_tensor ta = {.dtype = NNE_DTYPE_FLOAT, .ndim = 3, .dims = {2, 3, 4}, .data = xa};
    nne_tensor tb = ta;
    tb.data = xb;
    const char *nm = "x";
    nne_plan *p = NULL;
    CHECK(nne_plan_create(m, NULL, 1, &nm, &ta, &p) == NNE_OK);
    nne_context *c1 = NULL, *c2 = NULL;
    CHECK(nne_context_create(p, &c1) == NNE_OK && nne_context_create(p, &c2) == NNE_OK);
    CHECK(nne_context_arena_bytes(c1) == nne_plan_arena_bytes(p) && nne_plan_arena_bytes(p) > 0);
    CHECK(nne_plan_check(p) == 0);
    CHECK(nne_context_set_input(c1, "x", &ta) == NNE_OK && nne_context_set_input(c2, "x", &tb) == NNE_OK);
    CHECK(nne_context_run(c1) == NNE_OK && nne_context_run(c2) == NNE_OK);
    nne_tensor y1, y2;
    CHECK(nne_context_output(c1, 0, &y1) == NNE_OK && nne_context_output(c2, 0, &y2) == NNE_OK);
    CHECK(y1.data != y2.data); /* each context has its own arena */
    CHECK(check_chain(&y1, xa, 2) && check_chain(&y2, xb, 2));
    /* errors stay with their context */
    CHECK(nne_context_set_input(c1, "nope", &ta) == NNE_ERR_INVALID_ARG);
    CHECK(strstr(nne_context_last_error(c1), "nope") != NULL && !strstr(nne_context_last_error(c2), "nope"));
    nne_tensor bad = ta;
    bad.dims[0] = 3;
    CHECK(nne_context_set_input(c2, "x", &bad) == NNE_ERR_INVALID_ARG);
    CHECK(strstr(nne_context_last_error(c2), "2x3x4") != NULL);
    nne_context *c3 = NULL;
    CHECK(nne_context_create(p, &c3) == NNE_OK && nne_context_run(c3) == NNE_ERR_INVALID_ARG); /* x not given */
    CHECK(nne_context_output(c3, 5, &y1) == NNE_ERR_INVALID_ARG);
    nne_context_destroy(c3);
    nne_context_destroy(c1);
    nne_context_destroy(c2);
    nne_plan_destroy(p);
    /* bad arguments */
    CHECK(nne_plan_create(NULL, NULL, 0, NULL, NULL, &p) == NNE_ERR_INVALID_ARG);
    CHECK(nne_plan_create(m, NULL, 1, NULL, NULL, &p) == NNE_ERR_INVALID_ARG);
    CHECK(nne_context_create(NULL, &c1) == NNE_ERR_INVALID_ARG);
    nne_plan_destroy(NULL);
    nne_context_destroy(NULL);
    nne_model_destroy(m);
}

typedef struct obs_log {
    int calls, outputs, folded_shape;
    char ops[16][32];
} obs_log;

static void observer(void *user, const char *node, const char *op, int32_t n, const char *const *names,
                     const nne_tensor *outs) {
    obs_log *l = user;
    if (l->calls < 16) snprintf(l->ops[l->calls], sizeof l->ops[0], "%s", op);
    l->calls++;
    l->outputs += n;
    for (int i = 0; i < n; i++)
        if (!strcmp(op, "Shape") && outs[i].dtype == NNE_DTYPE_INT64 && outs[i].data && names[i]) l->folded_shape++;
    (void)node;
}

static void test_observer(void) {
    nne_model *m = load(MODELS "shape_chain.onnx");
    CHECK(m != NULL);
    if (!m) return;
    float x[12] = {0};
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 3, .dims = {1, 3, 4}, .data = x};
    const char *nm = "x";
    nne_session *s = NULL;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 1, &nm, &t) == NNE_OK);
    obs_log l;
    memset(&l, 0, sizeof l);
    nne_session_set_observer(s, observer, &l);
    CHECK(nne_session_set_input(s, "x", &t) == NNE_OK && nne_session_run(s) == NNE_OK);
    nne_model_stats ms;
    CHECK(nne_model_stats_get(m, &ms) == NNE_OK);
    /* every node once, in order: 4 folded (Shape...) and 3 planned */
    CHECK(l.calls == ms.num_nodes && l.calls == 7 && l.outputs == 7);
    CHECK(!strcmp(l.ops[0], "Shape") && l.folded_shape == 1);
    nne_session_set_observer(s, NULL, NULL);
    CHECK(nne_session_run(s) == NNE_OK && l.calls == 7);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

/* fashion_cnn: every node is an op converted to phases */
static void test_phased_nodes(void) {
    nne_model *m = load("models/fashion_cnn.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_plan *p = NULL;
    CHECK(nne_plan_create(m, NULL, 0, NULL, NULL, &p) == NNE_OK);
    int f, pl, d, phased = 0;
    nne_plan_debug_counts(p, &f, &pl, &d);
    for (int i = 0; i < f + pl + d; i++) phased += nne_plan_node_phased(p, i);
    CHECK(pl > 0 && phased == pl);
    CHECK(nne_plan_macs(p) > 0);
    nne_plan_destroy(p);
    nne_model_destroy(m);
}

/* Two plans (batch 1 and 3) of a float16 Conv: one cached weight conversion
 * (and packing). */
static void test_weight_cache(void) {
    nne_model *m = load(MODELS "conv_f16.onnx");
    CHECK(m != NULL);
    if (!m) return;
    uint16_t x[3 * 2 * 25];
    for (int i = 0; i < 150; i++) x[i] = nne_f32_to_f16((float)((i * 7) % 11) / 8.0f - 0.5f);
    nne_tensor t1 = {.dtype = NNE_DTYPE_FLOAT16, .ndim = 4, .dims = {1, 2, 5, 5}, .data = x};
    nne_tensor t3 = t1;
    t3.dims[0] = 3;
    const char *nm = "x";
    int entries;
    size_t bytes;
    nne_model_wcache_stats(m, &entries, &bytes);
    CHECK(entries == 0);
    nne_plan *p1 = NULL, *p3 = NULL;
    CHECK(nne_plan_create(m, NULL, 1, &nm, &t1, &p1) == NNE_OK);
    nne_model_wcache_stats(m, &entries, &bytes);
    /* the converted weights, and with an SGEMM family their packed form (A of 3 x 18) */
    const nne_sgemm_ops *sg = nne_kernels()->sgemm;
    int want = sg ? 2 : 1;
    CHECK(entries == want && bytes == 3 * 2 * 9 * sizeof(float) + (sg ? sg->packed_a_bytes(3, 18) : 0));
    CHECK(nne_plan_create(m, NULL, 1, &nm, &t3, &p3) == NNE_OK);
    nne_model_wcache_stats(m, &entries, &bytes);
    CHECK(entries == want); /* reused, not packed again */
    nne_context *c1 = NULL, *c3 = NULL;
    CHECK(nne_context_create(p1, &c1) == NNE_OK && nne_context_create(p3, &c3) == NNE_OK);
    CHECK(nne_context_set_input(c1, "x", &t1) == NNE_OK && nne_context_set_input(c3, "x", &t3) == NNE_OK);
    CHECK(nne_context_run(c1) == NNE_OK && nne_context_run(c3) == NNE_OK);
    nne_tensor y1, y3;
    CHECK(nne_context_output(c1, 0, &y1) == NNE_OK && nne_context_output(c3, 0, &y3) == NNE_OK);
    CHECK(y1.dtype == NNE_DTYPE_FLOAT16 && y3.dims[0] == 3 && y1.dims[1] == 3);
    /* batch item 0 is the same in both plans; and a direct check of one output */
    CHECK(memcmp(y1.data, y3.data, 3 * 25 * sizeof(uint16_t)) == 0);
    /* y[0, 0, 2, 2] = b0 + sum over c, 3x3 window (all inside) */
    double acc = 0.5;
    for (int c = 0; c < 2; c++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                float w = nne_f16_to_f32(nne_f32_to_f16(-1.0f + 2.0f * (float)(c * 9 + ky * 3 + kx) / 53.0f));
                acc += (double)w * nne_f16_to_f32(x[c * 25 + (1 + ky) * 5 + (1 + kx)]);
            }
    float got = nne_f16_to_f32(((const uint16_t *)y1.data)[2 * 5 + 2]);
    CHECK(fabs(got - acc) < 0.01 * (1 + fabs(acc)));
    nne_context_destroy(c1);
    nne_context_destroy(c3);
    nne_plan_destroy(p1);
    nne_plan_destroy(p3);
    nne_model_destroy(m);
}

/* MatMul + Gemm with initializer weights: at batch 7 and 9 the weights are
 * packed (once: the second plan reuses them); the result equals running each
 * row alone at batch 1 (no packing) within float rounding. */
static void test_packed_gemm(void) {
    nne_model *m = load(MODELS "matmul_const.onnx");
    CHECK(m != NULL);
    if (!m) return;
    float x[9 * 37];
    for (int i = 0; i < 9 * 37; i++) x[i] = (float)sin(0.37 * i);
    const char *nm = "x";
    nne_tensor t1 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {1, 37}, .data = x};
    nne_plan *p1 = NULL;
    CHECK(nne_plan_create(m, NULL, 1, &nm, &t1, &p1) == NNE_OK);
    int entries;
    size_t bytes;
    nne_model_wcache_stats(m, &entries, &bytes);
    /* one row: the portable GEMM reads B directly; the packed SGEMM family
     * packs at every batch size (both weights at once) */
    const nne_kernel_table *kt = nne_kernels();
    int packs_m1 = kt->gemm_f32_packed && kt->gemm_f32_packs(1, 11, 1, 11, 1);
    CHECK(entries == (packs_m1 ? 2 : 0));
    nne_context *c1 = NULL;
    CHECK(nne_context_create(p1, &c1) == NNE_OK);
    float ref[9 * 11];
    for (int r = 0; r < 9; r++) {
        nne_tensor row = t1;
        row.data = x + r * 37;
        nne_tensor y;
        CHECK(nne_context_set_input(c1, "x", &row) == NNE_OK && nne_context_run(c1) == NNE_OK &&
              nne_context_output(c1, 0, &y) == NNE_OK);
        memcpy(ref + r * 11, y.data, 11 * sizeof(float));
    }
    for (int batch = 7; batch <= 9; batch += 2) {
        nne_tensor tb = t1;
        tb.dims[0] = batch;
        nne_plan *p = NULL;
        nne_context *c = NULL;
        CHECK(nne_plan_create(m, NULL, 1, &nm, &tb, &p) == NNE_OK && nne_context_create(p, &c) == NNE_OK);
        nne_model_wcache_stats(m, &entries, &bytes);
        /* w1 for MatMul, w2 (transposed) for Gemm, the same at batch 9; none
         * when the kernel table has no packed GEMM (NNE_FORCE_REFERENCE=1) */
        CHECK(entries == (nne_kernels()->gemm_f32_packed ? 2 : 0));
        nne_tensor y;
        CHECK(nne_context_set_input(c, "x", &tb) == NNE_OK && nne_context_run(c) == NNE_OK &&
              nne_context_output(c, 0, &y) == NNE_OK && y.dims[0] == batch && y.dims[1] == 11);
        int bad = 0;
        for (int i = 0; i < batch * 11; i++)
            bad += !(fabsf(((float *)y.data)[i] - ref[i]) <= 1e-4f * (1.0f + fabsf(ref[i])));
        CHECK(bad == 0);
        nne_context_destroy(c);
        nne_plan_destroy(p);
    }
    nne_context_destroy(c1);
    nne_plan_destroy(p1);
    nne_model_destroy(m);
}

void unit_plan(void) {
    test_packed_gemm();
    test_two_contexts();
    test_observer();
    test_phased_nodes();
    test_weight_cache();
}
