/* Unit tests of the session API (nnedge.h, "session"): model load errors,
 * create/prepare/re-prepare with other shapes, set_input's checks (dtype,
 * shape, name, NULL data), run before prepare or without inputs, outputs
 * (shapes, values, lifetime across runs, a data-dependent output), arena
 * bytes and MACs following the prepared shapes, independent sessions on one
 * model, destroy(NULL) and NULL arguments. */
#include "nnedge.h"
#include "unit.h"

#include <string.h>

#define MODELS "tests/models/"

static nne_model *load(const char *path) {
    nne_model *m = NULL;
    if (nne_model_load_file(path, NULL, &m) != NNE_OK) fprintf(stderr, "%s: %s\n", path, nne_last_error());
    return m;
}

static int has(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

static void test_load_errors(void) {
    nne_model *m = NULL;
    /* empty and garbage buffers */
    CHECK(nne_model_load_memory("", 0, NULL, NULL, &m) == NNE_ERR_CORRUPT_MODEL && !m);
    const uint8_t junk[] = {0x3a, 0x7f, 0x01};
    CHECK(nne_model_load_memory(junk, sizeof junk, NULL, NULL, &m) == NNE_ERR_CORRUPT_MODEL && !m);
    CHECK(has(nne_last_error(), "offset"));
    CHECK(nne_model_load_file("/nonexistent.onnx", NULL, &m) == NNE_ERR_IO);
    CHECK(nne_model_load_file(NULL, NULL, &m) == NNE_ERR_INVALID_ARG);
}

/* y = relu(reshape(x, [N, 12])) + 1 for x [N, 3, 4], N symbolic */
static int check_shape_chain(const nne_tensor *out, const float *x, int64_t n) {
    if (out->dtype != NNE_DTYPE_FLOAT || out->ndim != 2 || out->dims[0] != n || out->dims[1] != 12) return 0;
    for (int64_t i = 0; i < n * 12; i++)
        if (((const float *)out->data)[i] != (x[i] > 0 ? x[i] : 0) + 1) return 0;
    return 1;
}

static void test_prepare_reprepare(void) {
    nne_model *m = load(MODELS "shape_chain.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s = NULL;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && s);
    CHECK(nne_session_arena_bytes(s) == 0 && nne_session_macs(s) == 0); /* before prepare */
    static float x[7 * 12];
    for (int i = 0; i < 7 * 12; i++) x[i] = (float)((i * 37) % 23) - 11;
    const char *nm = "x";
    size_t arena[8] = {0};
    int64_t batches[] = {5, 2, 7, 1, 5};
    for (int k = 0; k < 5; k++) {
        int64_t n = batches[k];
        nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 3, .dims = {n, 3, 4}, .data = x};
        CHECK(nne_session_prepare(s, 1, &nm, &t) == NNE_OK);
        arena[n] = nne_session_arena_bytes(s);
        /* at least the [n, 12] float output, placed in the arena */
        CHECK(arena[n] >= (size_t)n * 12 * sizeof(float));
        CHECK(nne_session_set_input(s, "x", &t) == NNE_OK && nne_session_run(s) == NNE_OK);
        nne_tensor out;
        CHECK(nne_session_output(s, 0, &out) == NNE_OK && check_shape_chain(&out, x, n));
    }
    /* the arena follows the prepared shapes, and the same shape plans the same */
    CHECK(arena[1] < arena[2] && arena[2] < arena[5] && arena[5] < arena[7]);
    nne_tensor t5 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 3, .dims = {5, 3, 4}, .data = x};
    CHECK(nne_session_prepare(s, 1, &nm, &t5) == NNE_OK && nne_session_arena_bytes(s) == arena[5]);
    /* prepare with no names: symbolic dims become 1 */
    CHECK(nne_session_prepare(s, 0, NULL, NULL) == NNE_OK && nne_session_arena_bytes(s) == arena[1]);
    /* a failed prepare leaves the session unprepared */
    nne_tensor bad = t5;
    bad.ndim = 2;
    CHECK(nne_session_prepare(s, 1, &nm, &bad) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_arena_bytes(s) == 0);
    CHECK(nne_session_run(s) == NNE_ERR_INVALID_ARG && has(nne_session_last_error(s), "not prepared"));
    CHECK(nne_session_set_input(s, "x", &t5) == NNE_ERR_INVALID_ARG);
    nne_tensor out;
    CHECK(nne_session_output(s, 0, &out) == NNE_ERR_INVALID_ARG);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

static void test_set_input_errors(void) {
    nne_model *m = load(MODELS "add_2x3.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s = NULL;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK);
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {10, 20, 30, 40, 50, 60};
    nne_tensor ta = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 3}, .data = a}, tb = ta;
    tb.data = b;
    /* run and set_input before prepare */
    CHECK(nne_session_set_input(s, "x", &ta) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_run(s) == NNE_ERR_INVALID_ARG && has(nne_session_last_error(s), "not prepared"));
    CHECK(nne_session_prepare(s, 0, NULL, NULL) == NNE_OK);
    /* run with an input missing names it */
    CHECK(nne_session_set_input(s, "x", &ta) == NNE_OK);
    CHECK(nne_session_run(s) == NNE_ERR_INVALID_ARG && has(nne_session_last_error(s), "\"y\""));
    /* wrong dtype, shape, name; NULL data; NULL arguments */
    int32_t ints[6] = {0};
    nne_tensor ti = {.dtype = NNE_DTYPE_INT32, .ndim = 2, .dims = {2, 3}, .data = ints};
    CHECK(nne_session_set_input(s, "y", &ti) == NNE_ERR_INVALID_ARG);
    CHECK(has(nne_session_last_error(s), "float32") && has(nne_session_last_error(s), "int32"));
    nne_tensor ts = tb;
    ts.dims[1] = 2;
    CHECK(nne_session_set_input(s, "y", &ts) == NNE_ERR_INVALID_ARG);
    CHECK(has(nne_session_last_error(s), "2x3") && has(nne_session_last_error(s), "2x2"));
    ts = tb;
    ts.ndim = 3;
    ts.dims[2] = 1;
    CHECK(nne_session_set_input(s, "y", &ts) == NNE_ERR_INVALID_ARG && has(nne_session_last_error(s), "2x3x1"));
    CHECK(nne_session_set_input(s, "z", &tb) == NNE_ERR_INVALID_ARG && has(nne_session_last_error(s), "\"z\""));
    CHECK(nne_session_set_input(s, "nope", &tb) == NNE_ERR_INVALID_ARG && has(nne_session_last_error(s), "\"nope\""));
    ts = tb;
    ts.data = NULL;
    CHECK(nne_session_set_input(s, "y", &ts) == NNE_ERR_INVALID_ARG && has(nne_session_last_error(s), "NULL"));
    CHECK(nne_session_set_input(s, NULL, &tb) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_set_input(s, "y", NULL) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_set_input(NULL, "y", &tb) == NNE_ERR_INVALID_ARG);
    /* the failed calls bound nothing: y is still missing */
    CHECK(nne_session_run(s) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_set_input(s, "y", &tb) == NNE_OK && nne_session_run(s) == NNE_OK);
    nne_tensor out;
    CHECK(nne_session_output(s, 0, &out) == NNE_OK && out.ndim == 2 && out.dims[0] == 2 && out.dims[1] == 3);
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= ((float *)out.data)[i] == a[i] + b[i];
    CHECK(ok);
    /* the session keeps the bound pointers: new values in the same buffers are used by the next run */
    for (int i = 0; i < 6; i++) a[i] = (float)(-i);
    CHECK(nne_session_run(s) == NNE_OK && nne_session_output(s, 0, &out) == NNE_OK);
    ok = 1;
    for (int i = 0; i < 6; i++) ok &= ((float *)out.data)[i] == a[i] + b[i];
    CHECK(ok);
    /* outputs out of range; NULL out */
    CHECK(nne_session_output(s, 1, &out) == NNE_ERR_INVALID_ARG && nne_session_output(s, -1, &out) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_output(s, 0, NULL) == NNE_ERR_INVALID_ARG);
    /* prepare again: inputs must be bound again */
    CHECK(nne_session_prepare(s, 0, NULL, NULL) == NNE_OK && nne_session_run(s) == NNE_ERR_INVALID_ARG);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

/* A data-dependent output (NonZero) changes shape from run to run. */
static void test_dynamic_outputs(void) {
    nne_model *m = load(MODELS "nonzero.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s = NULL;
    float x[6] = {0, 1, 0, 2, 3, 0};
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 3}, .data = x}, out;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK);
    CHECK(nne_session_set_input(s, "x", &t) == NNE_OK);
    for (int nz = 3; nz >= 0; nz--) {
        /* exactly nz non-zeros, at flat positions 0..nz-1 */
        for (int i = 0; i < 6; i++) x[i] = i < nz ? (float)(i + 1) : 0.0f;
        CHECK(nne_session_run(s) == NNE_OK && nne_session_output(s, 0, &out) == NNE_OK);
        CHECK(out.dtype == NNE_DTYPE_INT64 && out.ndim == 2 && out.dims[0] == 2 && out.dims[1] == nz);
        int ok = 1;
        for (int k = 0; k < nz; k++)
            ok &= ((int64_t *)out.data)[k] == k / 3 && ((int64_t *)out.data)[nz + k] == k % 3;
        CHECK(ok);
    }
    nne_session_destroy(s);
    nne_model_destroy(m);
}

/* Two sessions on one model are independent: own shapes, own outputs. MACs
 * follow the batch. */
static void test_two_sessions(void) {
    nne_model *m = load("models/fashion_cnn.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s1 = NULL, *s4 = NULL;
    static float img[4 * 28 * 28];
    for (int i = 0; i < 4 * 28 * 28; i++) img[i] = (float)((i * 7919) % 256) / 255.0f;
    const char *nm = "input";
    nne_tensor t1 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .dims = {1, 1, 28, 28}, .data = img};
    nne_tensor t4 = t1;
    t4.dims[0] = 4;
    CHECK(nne_session_create(m, NULL, &s1) == NNE_OK && nne_session_create(m, NULL, &s4) == NNE_OK);
    CHECK(nne_session_prepare(s1, 1, &nm, &t1) == NNE_OK && nne_session_prepare(s4, 1, &nm, &t4) == NNE_OK);
    CHECK(nne_session_macs(s1) > 0 && nne_session_macs(s4) == 4 * nne_session_macs(s1));
    CHECK(nne_session_arena_bytes(s4) > nne_session_arena_bytes(s1));
    nne_tensor o1, o4;
    float first[10];
    int ok = 1;
    /* each image of the batch of 4 run alone in s1 gives the same logits */
    CHECK(nne_session_set_input(s4, nm, &t4) == NNE_OK && nne_session_run(s4) == NNE_OK &&
          nne_session_output(s4, 0, &o4) == NNE_OK && o4.ndim == 2 && o4.dims[0] == 4 && o4.dims[1] == 10);
    for (int b = 0; b < 4; b++) {
        nne_tensor tb = t1;
        tb.data = img + b * 28 * 28;
        CHECK(nne_session_set_input(s1, nm, &tb) == NNE_OK && nne_session_run(s1) == NNE_OK &&
              nne_session_output(s1, 0, &o1) == NNE_OK && o1.dims[0] == 1 && o1.dims[1] == 10);
        if (b == 0) memcpy(first, o1.data, sizeof first);
        for (int k = 0; k < 10; k++) {
            float d = ((float *)o1.data)[k] - ((float *)o4.data)[b * 10 + k];
            ok &= d < 1e-4f && d > -1e-4f;
        }
    }
    CHECK(ok);
    /* s4's output was not touched by s1's runs; s1's first result differs from its last (different images) */
    CHECK(memcmp(first, o1.data, sizeof first) != 0);
    nne_session_destroy(s1);
    nne_session_destroy(s4);
    nne_model_destroy(m);
}

static void test_null_arguments(void) {
    nne_session *s = NULL;
    CHECK(nne_session_create(NULL, NULL, &s) == NNE_ERR_INVALID_ARG && s == NULL);
    nne_model *m = load(MODELS "add_2x3.onnx");
    CHECK(m != NULL);
    if (m) {
        CHECK(nne_session_create(m, NULL, NULL) == NNE_ERR_INVALID_ARG);
        nne_model_destroy(m);
    }
    CHECK(nne_session_run(NULL) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_prepare(NULL, 0, NULL, NULL) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_arena_bytes(NULL) == 0 && nne_session_macs(NULL) == 0);
    CHECK(nne_session_last_error(NULL) != NULL);
    nne_session_destroy(NULL); /* does nothing */
    nne_model_destroy(NULL);
}

void unit_session(void) {
    test_load_errors();
    test_prepare_reprepare();
    test_set_input_errors();
    test_dynamic_outputs();
    test_two_sessions();
    test_null_arguments();
}
