/* OOM injection (STYLE.md §7): through the allocator hook, fail the Nth
 * allocation for every N while loading, preparing and running small models
 * (planned, data-dependent, constant-folded through ops with scratch memory,
 * nested If subgraphs, a Loop whose body takes scratch at run time);
 * each step must return NNE_OK or NNE_ERR_OUT_OF_MEMORY, and once everything
 * is destroyed no allocation may be left. */
#include "nnedge.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static long g_fail_at; /* for messages */

typedef struct oom_state {
    long count, fail_at, live;
} oom_state;

static int take(oom_state *s) {
    return ++s->count != s->fail_at;
}
static void *t_malloc(void *u, size_t n) {
    oom_state *s = u;
    if (!take(s)) return NULL;
    void *p = malloc(n);
    if (p) s->live++;
    return p;
}
static void *t_realloc(void *u, void *p, size_t n) {
    oom_state *s = u;
    if (!take(s)) return NULL;
    void *q = realloc(p, n);
    if (q && !p) s->live++;
    return q;
}
static void *t_aligned(void *u, size_t a, size_t n) {
    oom_state *s = u;
    if (!take(s)) return NULL;
    void *p = aligned_alloc(a, n);
    if (p) s->live++;
    return p;
}
static void t_free(void *u, void *p) {
    oom_state *s = u;
    s->live--;
    free(p);
}

/* 1: each pass also runs nne_model_optimize(ALL) between load and session. */
static int g_oom_optimize;

/* One full pass; returns 1 when every step succeeded. *bad counts steps that
 * failed with something other than OUT_OF_MEMORY. */
static int one_pass(const char *path, int nin, const char **names, const nne_tensor *ins, int *bad) {
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_status st = nne_model_load_file(path, NULL, &m);
    int ok = 0;
    if (st == NNE_OK && g_oom_optimize) st = nne_model_optimize(m, NNE_OPT_ALL, NULL);
    if (st == NNE_OK) st = nne_session_create(m, NULL, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, nin, names, ins);
    for (int i = 0; st == NNE_OK && i < nin; i++) st = nne_session_set_input(s, names[i], &ins[i]);
    if (st == NNE_OK) st = nne_session_run(s);
    if (st == NNE_OK) st = nne_session_run(s); /* a second run reuses everything */
    if (st == NNE_OK) ok = 1;
    else if (st != NNE_ERR_OUT_OF_MEMORY) {
        fprintf(stderr, "oom %s: failing allocation %ld gave %s: %s\n", path, g_fail_at, nne_status_str(st),
                nne_last_error());
        (*bad)++;
    }
    nne_session_destroy(s);
    nne_model_destroy(m);
    return ok;
}

/* First a pass with no failure counts the allocations (it must succeed);
 * then each of them fails once. A pass may still succeed when a failed
 * allocation was optional, so every N up to the count is tried: stopping at
 * the first successful pass would leave the later allocations untested. */
static void oom_model(const char *path, int nin, const char **names, const nne_tensor *ins) {
    oom_state st = {0, 0, 0};
    nne_allocator a = {t_malloc, t_realloc, t_aligned, t_free, &st};
    int bad = 0, leaks = 0, recovered = 0;
    nne_allocator_set(&a);
    int clean = one_pass(path, nin, names, ins, &bad);
    nne_allocator_set(NULL);
    long total = st.count;
    CHECK(clean && st.live == 0);
    for (long n = 1; n <= total; n++) {
        st.count = 0;
        st.fail_at = g_fail_at = n;
        st.live = 0;
        nne_allocator_set(&a);
        recovered += one_pass(path, nin, names, ins, &bad);
        nne_allocator_set(NULL);
        if (st.live != 0) {
            if (!leaks) fprintf(stderr, "oom %s: %ld allocations left after failing allocation %ld\n", path, st.live, n);
            leaks++;
        }
    }
    if (getenv("NNE_OOM_VERBOSE"))
        fprintf(stderr, "oom %s: %ld allocations, each failed once (%d passes still succeeded)\n", path, total,
                recovered);
    CHECK(total > 0);
    CHECK(bad == 0);
    CHECK(leaks == 0);
}

void unit_oom(void) {
    float x[5 * 12] = {0}, c3[3] = {1, -2, 3}, x2[6] = {1, 0, 2, 0, 0, 3};
    uint8_t cond = 1;
    nne_tensor t1 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 3, .dims = {5, 3, 4}, .data = x};
    const char *n1[] = {"x"};
    oom_model("tests/models/shape_chain.onnx", 1, n1, &t1);
    nne_tensor t2 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {1, 256}, .data = NULL};
    float big[256] = {0};
    t2.data = big;
    oom_model("tests/models/chain.onnx", 1, n1, &t2);
    nne_tensor t3 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 3}, .data = x2};
    oom_model("tests/models/nonzero.onnx", 1, n1, &t3);
    nne_tensor t4[2] = {{.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {3}, .data = c3},
                        {.dtype = NNE_DTYPE_BOOL, .ndim = 0, .data = &cond}};
    const char *n4[] = {"x", "c"};
    oom_model("tests/models/nested_if.onnx", 2, n4, t4);
    /* constant folding at prepare through ops that take scratch memory */
    float x8[8];
    for (int i = 0; i < 8; i++) x8[i] = (float)i / 8 - 0.5f;
    nne_tensor t8 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 4}, .data = x8};
    oom_model("tests/models/fold_scratch.onnx", 1, n1, &t8);
    /* a Loop body (a subgraph run with malloc'd values and scratch) */
    int64_t trips = 3;
    nne_tensor t7[2] = {t8, {.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &trips}};
    const char *n7[] = {"x", "M"};
    oom_model("tests/models/loop_scratch.onnx", 2, n7, t7);
    static float img[28 * 28];
    for (int i = 0; i < 28 * 28; i++) img[i] = (float)(i % 17) / 17.0f;
    nne_tensor t5 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .dims = {1, 1, 28, 28}, .data = img};
    const char *n5[] = {"input"};
    oom_model("models/fashion_cnn.onnx", 1, n5, &t5);
    /* packed weights (the model's cache), half-precision weights converted
     * once, and a Loop body run through the phased ops' run-time path */
    static float xm[7 * 37];
    nne_tensor t10 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {7, 37}, .data = xm};
    oom_model("tests/models/matmul_const.onnx", 1, n1, &t10);
    static uint16_t xh[2 * 25];
    nne_tensor t11 = {.dtype = NNE_DTYPE_FLOAT16, .ndim = 4, .dims = {1, 2, 5, 5}, .data = xh};
    oom_model("tests/models/conv_f16.onnx", 1, n1, &t11);
    float xl[4] = {1, 2, 3, 4};
    nne_tensor t9[2] = {{.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {4}, .data = xl},
                        {.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &trips}};
    const char *n9[] = {"x", "n"};
    oom_model("tests/models/loop_accum.onnx", 2, n9, t9);
    /* the optimization passes' failure paths: folding, subgraph editing */
    g_oom_optimize = 1;
    oom_model("tests/models/shape_chain.onnx", 1, n1, &t1);
    oom_model("tests/models/nested_if.onnx", 2, n4, t4);
    float x6[3] = {-1.5f, 0.25f, 4};
    nne_tensor t6[2] = {{.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {3}, .data = x6},
                        {.dtype = NNE_DTYPE_BOOL, .ndim = 0, .data = &cond}};
    const char *n6[] = {"x", "c"};
    oom_model("tests/models/opt_passes.onnx", 2, n6, t6);
    g_oom_optimize = 0;
}
