/* The API's stability parts: nne_version() and option structs of any size
 * (nnedge.h, "Option structs"): NULL means defaults, struct_size 0 is
 * refused, an older caller's smaller struct gets defaults for the fields it
 * lacks, a newer caller's larger struct is accepted only while the options
 * this library does not know are left at zero. */
#include "nnedge.h"
#include "unit.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define MODELS "tests/models/"

static void test_version(void) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", NNE_VERSION_MAJOR, NNE_VERSION_MINOR, NNE_VERSION_PATCH);
    CHECK(strcmp(nne_version(), want) == 0);
    CHECK(nne_version_number() == NNE_VERSION_NUMBER);
    CHECK(nne_version_number() == NNE_VERSION_MAJOR * 10000 + NNE_VERSION_MINOR * 100 + NNE_VERSION_PATCH);
}

/* prepare chain.onnx (a 2 KiB arena) with options opt; returns the status */
static nne_status prepare_with(const nne_model *m, const void *opt) {
    nne_session *s = NULL;
    nne_status st = nne_session_create(m, opt, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, 0, NULL, NULL);
    else CHECK(s == NULL);
    nne_session_destroy(s);
    return st;
}

static void test_session_options(void) {
    nne_model *m = NULL;
    CHECK(nne_model_load_file(MODELS "chain.onnx", NULL, &m) == NNE_OK);
    if (!m) return;
    nne_session_options o = nne_session_options_default();
    CHECK(o.struct_size == sizeof o && o.threads == 1 && o.arena_limit_bytes == 0);
    CHECK(prepare_with(m, NULL) == NNE_OK);
    CHECK(prepare_with(m, &o) == NNE_OK);
    o.arena_limit_bytes = 1000; /* the plan needs 2048 */
    CHECK(prepare_with(m, &o) == NNE_ERR_OUT_OF_MEMORY);
    /* not started from the default: refused, with a message that says so */
    nne_session_options zero;
    memset(&zero, 0, sizeof zero);
    zero.arena_limit_bytes = 1000;
    CHECK(prepare_with(m, &zero) == NNE_ERR_INVALID_ARG);
    CHECK(strstr(nne_last_error(), "struct_size") && strstr(nne_last_error(), "nne_session_options_default"));
    /* an older caller whose struct ends before arena_limit_bytes: the
     * library must not read the (here: over-limit) bytes past its size */
    o.struct_size = (uint32_t)offsetof(nne_session_options, arena_limit_bytes);
    CHECK(prepare_with(m, &o) == NNE_OK);
    /* a newer caller: one more option this library does not know */
    struct newer {
        nne_session_options known;
        int64_t future_option;
    } n;
    memset(&n, 0, sizeof n);
    n.known = nne_session_options_default();
    n.known.struct_size = (uint32_t)sizeof n;
    CHECK(prepare_with(m, &n) == NNE_OK); /* left at its default (0): fine */
    n.known.arena_limit_bytes = 1000;
    CHECK(prepare_with(m, &n) == NNE_ERR_OUT_OF_MEMORY); /* known fields are still read */
    n.known.arena_limit_bytes = 0;
    n.future_option = 7;
    CHECK(prepare_with(m, &n) == NNE_ERR_UNSUPPORTED);
    CHECK(strstr(nne_last_error(), "newer libnnedge") != NULL);
    nne_model_destroy(m);
}

static void test_model_options(void) {
    nne_model *m = NULL;
    nne_model_options o = nne_model_options_default();
    CHECK(o.struct_size == sizeof o && o.allow_unsupported == 0);
    o.allow_unsupported = 1;
    CHECK(nne_model_load_file(MODELS "unsupported_op.onnx", &o, &m) == NNE_OK && m);
    nne_model_destroy(m);
    m = NULL;
    /* struct_size 0 */
    nne_model_options zero;
    memset(&zero, 0, sizeof zero);
    zero.allow_unsupported = 1;
    CHECK(nne_model_load_file(MODELS "unsupported_op.onnx", &zero, &m) == NNE_ERR_INVALID_ARG && !m);
    CHECK(strstr(nne_last_error(), "nne_model_options") != NULL);
    /* a caller whose struct holds only struct_size: allow_unsupported is its default (0) */
    o.struct_size = (uint32_t)sizeof o.struct_size;
    CHECK(nne_model_load_file(MODELS "unsupported_op.onnx", &o, &m) == NNE_ERR_UNSUPPORTED && !m);
    /* from memory too */
    static const uint8_t bytes[] = {0x08, 0x07}; /* ir_version 7, no graph */
    CHECK(nne_model_load_memory(bytes, sizeof bytes, NULL, &zero, &m) == NNE_ERR_INVALID_ARG && !m);
}

void unit_api(void) {
    test_version();
    test_session_options();
    test_model_options();
}
