/* Limits a caller sets on a session (memory, Loop iterations, cancellation),
 * attribute type checks, and planner checks on graphs the planner's index
 * must handle (a random DAG, 1500 tensors alive at once). Models: made by
 * tests/unit/gen_limit_models.py. */
#include "core/core.h"
#include "ir/session_internal.h"
#include "nnedge.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MODELS "tests/models/"

static nne_model *load(const char *name) {
    nne_model *m = NULL;
    if (nne_model_load_file(name, NULL, &m) != NNE_OK) fprintf(stderr, "%s: %s\n", name, nne_last_error());
    return m;
}

/* Run limits_loop.onnx for trip count M with the given options. */
static nne_status run_loop(const nne_model *m, const nne_session_options *o, int64_t M, float *acc, char *err,
                           size_t errcap) {
    nne_session *s = NULL;
    nne_status st = nne_session_create(m, o, &s);
    nne_tensor t = {.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &M};
    const char *nm = "M";
    if (st == NNE_OK) st = nne_session_prepare(s, 1, &nm, &t);
    if (st == NNE_OK) st = nne_session_set_input(s, "M", &t);
    if (st == NNE_OK) st = nne_session_run(s);
    if (st == NNE_OK && acc) {
        nne_tensor y;
        nne_session_output(s, 0, &y);
        *acc = ((float *)y.data)[0];
    }
    if (err) snprintf(err, errcap, "%s", s ? nne_session_last_error(s) : nne_last_error());
    nne_session_destroy(s);
    return st;
}

static void test_loop_cap(void) {
    nne_model *m = load(MODELS "limits_loop.onnx");
    CHECK(m != NULL);
    if (!m) return;
    char err[1024];
    float acc = 0;
    nne_session_options o = nne_session_options_default();
    /* the default cap stops a trip count of 10^12 */
    CHECK(run_loop(m, &o, 1000000000000LL, NULL, err, sizeof err) == NNE_ERR_LIMIT);
    CHECK(strstr(err, "iteration cap of 1000000 ") != NULL);
    o.max_loop_iterations = 300;
    CHECK(run_loop(m, &o, 300, &acc, err, sizeof err) == NNE_OK && acc == 300.0f);
    CHECK(run_loop(m, &o, 301, NULL, err, sizeof err) == NNE_ERR_LIMIT);
    CHECK(strstr(err, "Loop") && strstr(err, "iteration cap of 300 (all Loops together; this one's trip count 301)"));
    o.max_loop_iterations = -1; /* no cap */
    CHECK(run_loop(m, &o, 2000, &acc, err, sizeof err) == NNE_OK && acc == 2000.0f);
    nne_model_destroy(m);
}

typedef struct cancel_state {
    int calls, stop_at;
} cancel_state;
static int cancel_cb(void *user) {
    cancel_state *c = user;
    return ++c->calls >= c->stop_at;
}

static void test_cancel(void) {
    nne_model *m = load(MODELS "limits_loop.onnx");
    CHECK(m != NULL);
    if (!m) return;
    char err[1024];
    cancel_state c = {0, 1 << 30};
    nne_session_options o = nne_session_options_default();
    o.cancel_fn = cancel_cb;
    o.cancel_user = &c;
    /* called between nodes and at every iteration: >= 1 + 50 calls for 50 iterations */
    CHECK(run_loop(m, &o, 50, NULL, err, sizeof err) == NNE_OK && c.calls >= 51);
    c.calls = 0;
    c.stop_at = 20; /* stops in the middle of the loop */
    CHECK(run_loop(m, &o, 1000000000000LL, NULL, err, sizeof err) == NNE_ERR_CANCELLED);
    CHECK(strstr(err, "cancel") != NULL && c.calls == 20);
    nne_model_destroy(m);

    /* prepare is cancelled too (between nodes) */
    m = load(MODELS "chain.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s = NULL;
    c.calls = 0;
    c.stop_at = 2;
    CHECK(nne_session_create(m, &o, &s) == NNE_OK);
    CHECK(nne_session_prepare(s, 0, NULL, NULL) == NNE_ERR_CANCELLED);
    CHECK(strstr(nne_session_last_error(s), "cancel") != NULL);
    nne_session_destroy(s);
    nne_model_destroy(m);
    CHECK(nne_status_str(NNE_ERR_CANCELLED)[0] == 'N' && strcmp(nne_status_str(NNE_ERR_LIMIT), "NNE_ERR_LIMIT") == 0);
}

static void test_memory_limit(void) {
    nne_model *m = load(MODELS "limits_loop.onnx");
    CHECK(m != NULL);
    if (!m) return;
    char err[1024];
    nne_session_options o = nne_session_options_default();
    /* the stacked scan output grows 4 bytes per iteration: 64 KiB is reached
     * after some thousands of iterations */
    o.memory_limit_bytes = 64 * 1024;
    o.max_loop_iterations = -1;
    CHECK(run_loop(m, &o, 1000000, NULL, err, sizeof err) == NNE_ERR_OUT_OF_MEMORY);
    CHECK(strstr(err, "memory limit of 65536 bytes") != NULL);
    CHECK(run_loop(m, &o, 100, NULL, err, sizeof err) == NNE_OK);
    nne_model_destroy(m);

    /* the arena counts: chain.onnx plans 2 KiB */
    m = load(MODELS "chain.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s = NULL;
    o.memory_limit_bytes = 1024;
    CHECK(nne_session_create(m, &o, &s) == NNE_OK);
    CHECK(nne_session_prepare(s, 0, NULL, NULL) == NNE_ERR_OUT_OF_MEMORY);
    CHECK(strstr(nne_session_last_error(s), "memory limit of 1024 bytes") != NULL);
    nne_session_destroy(s);
    o.memory_limit_bytes = 0; /* the default */
    CHECK(nne_session_create(m, &o, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK);
    size_t used = nne_session_memory_bytes(s);
    CHECK(used >= nne_session_arena_bytes(s) && nne_session_memory_peak(s) >= used);
    /* preparing again releases the old plan first: the count does not grow */
    CHECK(nne_session_prepare(s, 0, NULL, NULL) == NNE_OK && nne_session_memory_bytes(s) == used);
    nne_session_destroy(s);
    nne_model_destroy(m);
    size_t def = nne_session_options_memory_limit(NULL);
    CHECK(def > 0 && def <= nne_mem_cap() / 2);
    o.memory_limit_bytes = SIZE_MAX;
    CHECK(nne_session_options_memory_limit(&o) == 0); /* none */
}

static void test_attr_type(void) {
    nne_model *m = load(MODELS "limits_attr_type.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s = NULL;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK);
    CHECK(nne_session_prepare(s, 0, NULL, NULL) == NNE_ERR_INVALID_ARG);
    CHECK(strstr(nne_session_last_error(s), "attribute kernel_shape has type FLOATS, expected INTS") != NULL);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

static void test_plan(const char *path) {
    nne_model *m = load(path);
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s = NULL;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK);
    CHECK(nne_session_plan_check(s) == 0);
    CHECK(nne_session_arena_bytes(s) > 0);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

void unit_limits(void) {
    test_loop_cap();
    test_cancel();
    test_memory_limit();
    test_attr_type();
    test_plan(MODELS "limits_dag.onnx");
    test_plan(MODELS "limits_wide.onnx");
}
