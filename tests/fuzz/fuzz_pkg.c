/*
 * fuzz_pkg.c - libFuzzer harness for the .nne package reader: the fixed
 * header, the manifest parser and everything an unsigned package goes
 * through (layout, digests, the model loaded from its segments in place). The first byte picks the entry: even - the bytes are a
 * whole package (nne_pkg_open_memory, verify_manifest without a trusted
 * key, verify_segments, load_model: the model from its segments in
 * place; sessions are fuzz_model's part); odd - the rest is a
 * manifest alone (nne_pkg_manifest_parse). A signed package cannot get past
 * its signature here (the fuzzer cannot sign), which is the point of
 * checking the signature before parsing: the unsigned path exercises the
 * same parser. Every failure must leave a one-line message.
 */
#include "fuzz_common.h"
#include "pkg/pkg.h"

#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    fuzz_clear_error();
    if (data[0] & 1) {
        nne_pkg_manifest m;
        nne_status st = nne_pkg_manifest_parse(data + 1, size - 1, &m);
        fuzz_check_status(st, "nne_pkg_manifest_parse");
        if (st == NNE_OK) {
            for (int i = 0; i < m.n_segments; i++) fuzz_touch(m.segments[i].name, strlen(m.segments[i].name));
            for (int i = 0; i < m.n_labels; i++) fuzz_touch(m.labels[i], strlen(m.labels[i]));
            nne_pkg_manifest_free(&m);
        }
        return 0;
    }
    /* a private, 64-byte aligned copy: the package reader expects its buffer
     * to outlive the model (nne_pkg_open_memory does not copy) */
    uint8_t *buf = aligned_alloc(4096, (size - 1 + 4095) / 4096 * 4096 + 4096);
    if (!buf) return 0;
    memcpy(buf, data + 1, size - 1);
    nne_pkg *p = NULL;
    nne_status st = nne_pkg_open_memory(buf, size - 1, &p);
    if (st == NNE_OK) st = nne_pkg_verify_manifest(p, NULL, (int64_t)time(NULL));
    if (st == NNE_OK) st = nne_pkg_verify_segments(p);
    nne_model *m = NULL;
    if (st == NNE_OK && !nne_pkg_is_encrypted(p)) st = nne_pkg_load_model(p, NULL, &m);
    fuzz_check_status(st, "nne_pkg (open, verify, load)");
    nne_model_destroy(m);
    nne_pkg_close(p);
    free(buf);
    return 0;
}
