/* Regressions found by the fuzzers (tests/fuzz/crashes/): each input fails
 * with the expected status and a one-line message. Under `make SAN=1` the
 * sanitizers also check that no byte is read out of bounds, nothing leaks
 * and no float is cast out of range. */
#include "nnedge.h"
#include "io/onnx.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define CRASHES "tests/fuzz/crashes/"

/* The file's bytes in a buffer of exactly its size (so ASan sees over-reads). */
static void *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    void *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static int one_line(const char *msg) { return msg[0] && !strchr(msg, '\n') && !strchr(msg, '\r'); }

static nne_status load(const char *path, int allow_unsupported) {
    nne_model_options opt = nne_model_options_default();
    opt.allow_unsupported = allow_unsupported;
    nne_model *m = NULL;
    nne_status st = nne_model_load_file(path, &opt, &m);
    nne_model_destroy(m);
    return st;
}

/* Prepare with declared shapes and run on zeros; the status of the first failure. */
static nne_status prepare_run(const char *path) {
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_status st = nne_model_load_file(path, NULL, &m);
    if (st == NNE_OK) st = nne_session_create(m, NULL, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, 0, NULL, NULL);
    static char zeros[4096];
    for (int i = 0; st == NNE_OK && i < nne_model_num_inputs(m); i++) {
        nne_value_info vi;
        nne_model_input_info(m, i, &vi);
        nne_tensor t = {.dtype = vi.dtype, .ndim = vi.ndim, .data = zeros};
        for (int d = 0; d < vi.ndim; d++) t.dims[d] = vi.dims[d];
        if (nne_tensor_nbytes(&t) > sizeof zeros) return NNE_ERR_INTERNAL;
        st = nne_session_set_input(s, vi.name, &t);
    }
    if (st == NNE_OK) st = nne_session_run(s);
    nne_session_destroy(s);
    nne_model_destroy(m);
    return st;
}

void unit_fuzz_regress(void) {
    /* a newline in a value name: the message escapes it */
    CHECK(load(CRASHES "model/newline-in-name.onnx", 1) == NNE_ERR_CORRUPT_MODEL);
    CHECK(one_line(nne_last_error()) && strstr(nne_last_error(), "da\\x0ata"));
    /* strings, then a bad tensor in the same attribute: an error, nothing leaked */
    CHECK(load(CRASHES "model/leak-attr-strings-then-error.onnx", 1) == NNE_ERR_CORRUPT_MODEL);
    /* one float and three ints in one attribute */
    CHECK(load(CRASHES "model/attr-floats-and-ints.onnx", 1) == NNE_ERR_CORRUPT_MODEL);
    CHECK(one_line(nne_last_error()) && strstr(nne_last_error(), "more than one kind of list"));
    /* a node with more outputs than its op: a model error, not an internal one */
    CHECK(prepare_run(CRASHES "model/sigmoid-with-two-outputs.onnx") == NNE_ERR_INVALID_ARG);
    CHECK(one_line(nne_last_error()) && strstr(nne_last_error(), "Sigmoid"));
    /* ops on zero inputs / odd attributes: no undefined float-to-int casts */
    CHECK(prepare_run(CRASHES "model/qlinearconv-zero-scales.onnx") == NNE_OK);
    CHECK(prepare_run(CRASHES "model/qlinearmatmul-zero-scales.onnx") == NNE_OK);
    CHECK(prepare_run(CRASHES "model/resize-antialias-zero-sizes.onnx") == NNE_OK);
    nne_status st = prepare_run(CRASHES "model/float-attr-read-as-int.onnx");
    CHECK(st != NNE_OK && st != NNE_ERR_INTERNAL && one_line(nne_last_error()));
    /* 'shape': ends the .npy header and the file */
    size_t n;
    void *buf = slurp(CRASHES "npy/shape-key-at-end-of-file.npy", &n);
    CHECK(buf != NULL);
    if (buf) {
        nne_tensor t;
        CHECK(nne_npy_read_memory(buf, n, &t) == NNE_ERR_INVALID_ARG && t.data == NULL);
        free(buf);
    }
    /* external data claiming 256 GiB: refused before anything is allocated */
    buf = slurp(CRASHES "tensor/external-huge-shape.pb", &n);
    CHECK(buf != NULL);
    if (buf) {
        nne_tensor t;
        CHECK(nne_onnx_tensor_parse(buf, n, NULL, &t, NULL) == NNE_ERR_IO && t.data == NULL);
        CHECK(nne_onnx_tensor_parse(buf, n, "tests/models", &t, NULL) == NNE_ERR_CORRUPT_MODEL && t.data == NULL);
        free(buf);
    }
    CHECK(load("tests/models/external_huge.onnx", 0) == NNE_ERR_IO);
    CHECK(one_line(nne_last_error()) && strstr(nne_last_error(), "no-such-weights.bin"));
}
