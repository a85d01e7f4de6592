/* Shape inference, folding, planning and external data on the small models
 * of tests/models (made by scripts/gen_test_models.py). */
#include "ir/session_internal.h"
#include "nnedge.h"
#include "unit.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODELS "tests/models/"

static nne_model *load(const char *name) {
    nne_model *m = NULL;
    if (nne_model_load_file(name, NULL, &m) != NNE_OK) fprintf(stderr, "%s: %s\n", name, nne_last_error());
    return m;
}

static void test_shape_chain(void) {
    nne_model *m = load(MODELS "shape_chain.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_value_info vi;
    CHECK(nne_model_input_info(m, 0, &vi) == NNE_OK && vi.ndim == 3 && vi.dims[0] < 0 && vi.dim_names[0] &&
          strcmp(vi.dim_names[0], "N") == 0);
    nne_session *s;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK);
    float x[5 * 12], *y;
    for (int i = 0; i < 60; i++) x[i] = (float)(i - 30);
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 3, .dims = {5, 3, 4}, .data = x};
    const char *nm = "x";
    CHECK(nne_session_prepare(s, 1, &nm, &t) == NNE_OK);
    int f, p, d;
    nne_session_debug_counts(s, &f, &p, &d);
    /* Shape, Gather, Unsqueeze, Concat fold; Reshape, Relu, Add are planned */
    CHECK(f == 4 && p == 3 && d == 0);
    CHECK(nne_session_plan_check(s) == 0);
    CHECK(nne_session_set_input(s, "x", &t) == NNE_OK && nne_session_run(s) == NNE_OK);
    nne_tensor out;
    CHECK(nne_session_output(s, 0, &out) == NNE_OK && out.ndim == 2 && out.dims[0] == 5 && out.dims[1] == 12);
    y = out.data;
    int ok = 1;
    for (int i = 0; i < 60; i++) ok &= y[i] == (x[i] > 0 ? x[i] : 0) + 1;
    CHECK(ok);
    /* a different batch needs a new prepare */
    nne_tensor t2 = t;
    t2.dims[0] = 2;
    CHECK(nne_session_set_input(s, "x", &t2) == NNE_ERR_INVALID_ARG);
    CHECK(strstr(nne_session_last_error(s), "5x3x4") != NULL);
    CHECK(nne_session_prepare(s, 1, &nm, &t2) == NNE_OK && nne_session_set_input(s, "x", &t2) == NNE_OK &&
          nne_session_run(s) == NNE_OK);
    CHECK(nne_session_output(s, 0, &out) == NNE_OK && out.dims[0] == 2);
    /* wrong rank, dtype, unknown name */
    nne_tensor bad = t;
    bad.ndim = 2;
    CHECK(nne_session_prepare(s, 1, &nm, &bad) == NNE_ERR_INVALID_ARG);
    bad = t;
    bad.dtype = NNE_DTYPE_INT32;
    CHECK(nne_session_prepare(s, 1, &nm, &bad) == NNE_ERR_INVALID_ARG);
    const char *nm2 = "nope";
    CHECK(nne_session_prepare(s, 1, &nm2, &t) == NNE_ERR_INVALID_ARG);
    CHECK(nne_session_run(s) == NNE_ERR_INVALID_ARG); /* not prepared after a failed prepare */
    /* missing input at run */
    CHECK(nne_session_prepare(s, 1, &nm, &t) == NNE_OK && nne_session_run(s) == NNE_ERR_INVALID_ARG);
    CHECK(strstr(nne_session_last_error(s), "\"x\"") != NULL);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

static void test_chain_plan(void) {
    nne_model *m = load(MODELS "chain.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK);
    /* t1..t5 and y share one 1 KiB buffer: each Relu/Neg works in place of
     * its input, which dies there (x, a graph input, is never written) */
    CHECK(nne_session_arena_bytes(s) == 1024 && nne_session_arena_bound_bytes(s) == 1024);
    CHECK(nne_session_plan_check(s) == 0);
    float x[256];
    for (int i = 0; i < 256; i++) x[i] = (float)i - 100;
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {1, 256}, .data = x};
    CHECK(nne_session_set_input(s, "x", &t) == NNE_OK && nne_session_run(s) == NNE_OK);
    nne_tensor out;
    nne_session_output(s, 0, &out);
    int ok = 1; /* relu, neg, relu, neg, relu, neg -> -relu(x) for x>0... */
    for (int i = 0; i < 256; i++) {
        float v = x[i];
        for (int k = 0; k < 6; k++) v = k % 2 ? -v : (v > 0 ? v : 0);
        ok &= ((float *)out.data)[i] == v;
    }
    CHECK(ok);
    nne_session_options o = nne_session_options_default();
    o.arena_limit_bytes = 1000;
    nne_session *s2;
    CHECK(nne_session_create(m, &o, &s2) == NNE_OK && nne_session_prepare(s2, 0, NULL, NULL) == NNE_ERR_OUT_OF_MEMORY);
    nne_session_destroy(s2);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

static void test_dynamic(void) {
    nne_model *m = load(MODELS "nonzero.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK);
    int f, p, d;
    nne_session_debug_counts(s, &f, &p, &d);
    CHECK(d == 2 && p == 0);
    float x[6] = {0, 1, 0, 2, 3, 0};
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 3}, .data = x};
    for (int rep = 0; rep < 2; rep++) {
        CHECK(nne_session_set_input(s, "x", &t) == NNE_OK && nne_session_run(s) == NNE_OK);
        nne_tensor out;
        nne_session_output(s, 0, &out);
        const int64_t *o = out.data;
        CHECK(out.dtype == NNE_DTYPE_INT64 && out.ndim == 2 && out.dims[0] == 2 && out.dims[1] == 3);
        CHECK(o[0] == 0 && o[1] == 1 && o[2] == 1 && o[3] == 1 && o[4] == 0 && o[5] == 1);
        x[0] = 0; /* same data on the second run */
    }
    nne_session_destroy(s);
    nne_model_destroy(m);
}

static void test_unsupported(void) {
    nne_model *m = NULL;
    CHECK(nne_model_load_file(MODELS "unsupported_op.onnx", NULL, &m) == NNE_ERR_UNSUPPORTED && !m);
    CHECK(strstr(nne_last_error(), "FancyOp") && strstr(nne_last_error(), "fancy_1"));
    nne_model_options o = nne_model_options_default();
    o.allow_unsupported = 1;
    CHECK(nne_model_load_file(MODELS "unsupported_op.onnx", &o, &m) == NNE_OK && m);
    nne_session *s;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_ERR_UNSUPPORTED);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

static void test_external(void) {
    /* a sparse 3 GiB file with w at offset 3 GiB: exercises >2 GB offsets */
    const char *big = MODELS "ext_big.bin";
    int fd = open(big, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    float w[4] = {2, 3, 4, 5};
    int ok = fd >= 0 && pwrite(fd, w, sizeof w, (off_t)3 << 30) == (ssize_t)sizeof w;
    if (fd >= 0) close(fd);
    CHECK(ok);
    nne_model *m = load(MODELS "external_data.onnx");
    CHECK(m != NULL);
    if (m) {
        nne_session *s;
        float x[4] = {1, 1, 1, 2};
        nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {4}, .data = x};
        CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK &&
              nne_session_set_input(s, "x", &t) == NNE_OK && nne_session_run(s) == NNE_OK);
        nne_tensor out;
        nne_session_output(s, 0, &out);
        float *y = out.data;
        CHECK(y[0] == 2.5f && y[1] == 4.5f && y[2] == 2.0f && y[3] == 14.0f);
        nne_session_destroy(s);
        nne_model_destroy(m);
    }
    /* truncate the big file: the tensor now lies past its end */
    if (truncate(big, 1024) == 0) {
        CHECK(nne_model_load_file(MODELS "external_data.onnx", NULL, &m) == NNE_ERR_CORRUPT_MODEL);
        CHECK(strstr(nne_last_error(), "past the end") != NULL);
    }
    unlink(big);
    CHECK(nne_model_load_file(MODELS "external_data.onnx", NULL, &m) == NNE_ERR_IO);
}

static void test_nested_if(void) {
    nne_model *m = load(MODELS "nested_if.onnx");
    CHECK(m != NULL);
    if (!m) return;
    nne_session *s;
    float x[3] = {-1, 2, -3};
    uint8_t c = 1;
    nne_tensor tx = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {3}, .data = x};
    nne_tensor tc = {.dtype = NNE_DTYPE_BOOL, .ndim = 0, .data = &c};
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK);
    CHECK(nne_session_set_input(s, "x", &tx) == NNE_OK && nne_session_set_input(s, "c", &tc) == NNE_OK);
    CHECK(nne_session_run(s) == NNE_OK);
    nne_tensor out;
    nne_session_output(s, 0, &out);
    CHECK(((float *)out.data)[0] == 1 && ((float *)out.data)[1] == -2 && ((float *)out.data)[2] == 3);
    c = 0;
    CHECK(nne_session_run(s) == NNE_OK);
    nne_session_output(s, 0, &out);
    CHECK(((float *)out.data)[0] == 0 && ((float *)out.data)[1] == 2 && ((float *)out.data)[2] == 0);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

/* max |a - b| over two float32 tensors of the same shape, or 1e30 */
static double max_diff(const nne_tensor *a, const nne_tensor *b) {
    if (a->dtype != NNE_DTYPE_FLOAT || b->dtype != NNE_DTYPE_FLOAT || a->ndim != b->ndim) return 1e30;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 1e30;
    double m = 0;
    for (int64_t i = 0; i < nne_tensor_numel(a); i++) {
        double d = fabs((double)((const float *)a->data)[i] - ((const float *)b->data)[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

/* Constant folding through MatMul/Softmax/LayerNormalization/ReduceMean, and
 * a Loop whose body runs scratch-taking ops: outputs equal numpy's
 * (scripts/gen_test_models.py wrote them next to the models). */
static void test_scratch_models(void) {
    float x8[8];
    for (int i = 0; i < 8; i++) x8[i] = (float)i / 8 - 0.5f;
    nne_tensor x = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 4}, .data = x8}, out, want;
    nne_model *m = load(MODELS "fold_scratch.onnx");
    nne_session *s = NULL;
    CHECK(m != NULL);
    if (m && nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK) {
        int f, p, d;
        nne_session_debug_counts(s, &f, &p, &d);
        CHECK(f == 4 && p == 2 && d == 0); /* MatMul..ReduceMean folded; Add, Mul planned */
        CHECK(nne_session_set_input(s, "x", &x) == NNE_OK && nne_session_run(s) == NNE_OK &&
              nne_session_output(s, 0, &out) == NNE_OK);
        CHECK(nne_npy_read_file(MODELS "fold_scratch_y.npy", &want) == NNE_OK);
        CHECK(max_diff(&out, &want) < 1e-5);
        nne_tensor_free_data(&want);
    } else {
        CHECK(0);
    }
    nne_session_destroy(s);
    nne_model_destroy(m);
    s = NULL;
    m = load(MODELS "loop_scratch.onnx");
    CHECK(m != NULL);
    int64_t trips = 3;
    nne_tensor tm = {.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &trips};
    if (m && nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 0, NULL, NULL) == NNE_OK &&
        nne_session_set_input(s, "x", &x) == NNE_OK && nne_session_set_input(s, "M", &tm) == NNE_OK) {
        for (int rep = 0; rep < 2; rep++) {
            CHECK(nne_session_run(s) == NNE_OK);
            CHECK(nne_session_output(s, 0, &out) == NNE_OK);
            CHECK(nne_npy_read_file(MODELS "loop_scratch_state.npy", &want) == NNE_OK);
            CHECK(max_diff(&out, &want) < 1e-5);
            nne_tensor_free_data(&want);
            CHECK(nne_session_output(s, 1, &out) == NNE_OK);
            CHECK(nne_npy_read_file(MODELS "loop_scratch_scan.npy", &want) == NNE_OK);
            CHECK(max_diff(&out, &want) < 1e-5);
            nne_tensor_free_data(&want);
        }
    } else {
        CHECK(0);
    }
    nne_session_destroy(s);
    nne_model_destroy(m);
}

void unit_models(void) {
    test_scratch_models();
    test_nested_if();
    test_shape_chain();
    test_chain_plan();
    test_dynamic();
    test_unsupported();
    test_external();
}
