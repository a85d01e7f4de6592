/*
 * test_save.c - the ONNX writer, weights in place and safe file opening:
 * load -> write -> load gives the same graph and the same bytes again;
 * external data is written aligned and used in place on load, unaligned
 * weights are copied only when a session needs them; FIFOs, directories and
 * symlinks out of the model's directory are refused; every allocation of the
 * writer may fail cleanly.
 */
#include "io/onnx.h"
#include "core/core.h"
#include "core/file.h"
#include "unit.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int roundtrip_file(const char *path) {
    nne_model_options mo = nne_model_options_default();
    mo.allow_unsupported = 1;
    nne_model *a = NULL, *b = NULL;
    void *wa = NULL, *wb = NULL;
    size_t na = 0, nb = 0;
    int ok = 0;
    char dir[1024], why[512] = "";
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl) *sl = 0;
    if (nne_model_load_file(path, &mo, &a) != NNE_OK) return -1; /* not loadable: not this test's business */
    if (nne_model_save_memory(a, &wa, &na) == NNE_OK && nne_model_load_memory(wa, na, dir, &mo, &b) == NNE_OK &&
        nne_model_equal(a, b, why, sizeof why) && nne_model_save_memory(b, &wb, &nb) == NNE_OK && na == nb &&
        memcmp(wa, wb, na) == 0)
        ok = 1;
    if (!ok) fprintf(stderr, "roundtrip %s: %s %s\n", path, why, nne_last_error());
    nne_buffer_free(wa);
    nne_buffer_free(wb);
    nne_model_destroy(a);
    nne_model_destroy(b);
    return ok;
}

static void roundtrip_dir(const char *dirpath) {
    DIR *d = opendir(dirpath);
    CHECK(d != NULL);
    if (!d) return;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".onnx")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dirpath, e->d_name);
        int r = roundtrip_file(p);
        if (r >= 0) {
            CHECK(r == 1);
            n++;
        }
    }
    closedir(d);
    CHECK(n >= 3);
}

static const nne_value *find_init(const nne_model *m, const char *name) {
    int v = nne_graph_find(m->graph, name);
    return v >= 0 ? &m->graph->values[v] : NULL;
}

static void weights_in_place(const char *tmp) {
    /* external.onnx: "a" lies at offset 3 (unaligned for float), "b" at 16 */
    nne_model *m = NULL;
    CHECK(nne_model_load_file("tests/roundtrip/models/external.onnx", NULL, &m) == NNE_OK);
    if (!m) return;
    const nne_value *a = find_init(m, "a"), *b = find_init(m, "b");
    CHECK(a && b);
    if (!a || !b) {
        nne_model_destroy(m);
        return;
    }
    CHECK(b->init_borrowed && b->init.data && (uintptr_t)b->init.data % 4 == 0);
    CHECK(!a->init.data && a->init_src != NULL); /* copied on first session only */
    nne_session *s = NULL;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK);
    CHECK(a->init.data && (uintptr_t)a->init.data % 64 == 0 && ((const float *)a->init.data)[1] == 1.5f);
    nne_session_destroy(s);

    /* written inline: raw_data placed at offsets aligned for the dtype */
    char inl[1024];
    snprintf(inl, sizeof inl, "%s/inline.onnx", tmp);
    CHECK(nne_model_save_file(m, inl, NULL) == NNE_OK);
    nne_model *mi = NULL;
    CHECK(nne_model_load_file(inl, NULL, &mi) == NNE_OK);
    if (mi) {
        const nne_value *ai = find_init(mi, "a"), *bi = find_init(mi, "b");
        CHECK(ai && ai->init_borrowed && bi && bi->init_borrowed);
        nne_model_destroy(mi);
    }
    /* written with external data: every tensor aligned, all used in place */
    char out[1024];
    snprintf(out, sizeof out, "%s/ext.onnx", tmp);
    nne_save_options so = nne_save_options_default();
    so.external_data = "ext.weights";
    so.external_threshold = 1;
    CHECK(nne_model_save_file(m, out, &so) == NNE_OK);
    nne_model *m2 = NULL;
    CHECK(nne_model_load_file(out, NULL, &m2) == NNE_OK);
    if (m2) {
        char why[256];
        CHECK(nne_model_equal(m, m2, why, sizeof why));
        const nne_value *a2 = find_init(m2, "a"), *b2 = find_init(m2, "b");
        CHECK(a2 && a2->init_borrowed && (uintptr_t)a2->init.data % 64 == 0);
        CHECK(b2 && b2->init_borrowed && (uintptr_t)b2->init.data % 64 == 0);
        nne_model_destroy(m2);
    }
    /* writing over the files the model is mapped from (its own model file
     * and external data): temp files renamed into place, no SIGBUS */
    so.external_data = "ext.weights";
    CHECK(nne_model_save_file(m, out, &so) == NNE_OK);
    nne_model *m3 = NULL;
    CHECK(nne_model_load_file(out, NULL, &m3) == NNE_OK);
    if (m3) {
        CHECK(nne_model_save_file(m3, out, &so) == NNE_OK); /* m3 reads both files while they are replaced */
        nne_model *m4 = NULL;
        char why[256];
        CHECK(nne_model_load_file(out, NULL, &m4) == NNE_OK && m4 && nne_model_equal(m3, m4, why, sizeof why));
        nne_model_destroy(m4);
        nne_model_destroy(m3);
    }
    /* bad external names are refused before anything is written */
    so.external_data = "../escape.bin";
    CHECK(nne_model_save_file(m, out, &so) == NNE_ERR_INVALID_ARG);
    so.external_data = "/tmp/abs.bin";
    CHECK(nne_model_save_file(m, out, &so) == NNE_ERR_INVALID_ARG);
    nne_model_destroy(m);
}

static void set_shape(void) {
    nne_model *m = NULL;
    CHECK(nne_model_load_file("tests/roundtrip/models/features.onnx", NULL, &m) == NNE_OK);
    if (!m) return;
    int64_t d[2] = {5, 3}, bad[2] = {5, 4};
    CHECK(nne_model_set_input_shape(m, "x", 2, bad) == NNE_ERR_INVALID_ARG); /* dim 1 is fixed to 3 */
    CHECK(nne_model_set_input_shape(m, "x", 1, d) == NNE_ERR_INVALID_ARG);   /* rank 2 */
    CHECK(nne_model_set_input_shape(m, "nope", 2, d) == NNE_ERR_INVALID_ARG);
    CHECK(nne_model_set_input_shape(m, "x", 2, d) == NNE_OK);
    nne_value_info vi;
    CHECK(nne_model_input_info(m, 0, &vi) == NNE_OK && vi.dims[0] == 5 && vi.dim_names[0] == NULL);
    nne_model_destroy(m);
}

static void files(const char *tmp) {
    char p[1024], q[1024];
    int fd;
    uint64_t sz;
    snprintf(p, sizeof p, "%s/fifo", tmp);
    CHECK(mkfifo(p, 0600) == 0);
    CHECK(nne_file_open(p, "model", &fd, &sz) == NNE_ERR_IO && strstr(nne_last_error(), "FIFO")); /* no hang */
    nne_model *m = NULL;
    CHECK(nne_model_load_file(p, NULL, &m) == NNE_ERR_IO && !m);
    nne_tensor t;
    CHECK(nne_npy_read_file(p, &t) == NNE_ERR_IO);
    CHECK(nne_file_open(tmp, "model", &fd, &sz) == NNE_ERR_IO && strstr(nne_last_error(), "directory"));
    snprintf(q, sizeof q, "%s/out.bin", tmp);
    CHECK(symlink("/etc/passwd", q) == 0);
    CHECK(nne_file_open_beneath(tmp, "out.bin", "external data file", &fd, &sz) == NNE_ERR_CORRUPT_MODEL);
    CHECK(nne_file_open_beneath(tmp, "../x", "external data file", &fd, &sz) == NNE_ERR_CORRUPT_MODEL);
    CHECK(nne_file_open_beneath(tmp, "/etc/passwd", "external data file", &fd, &sz) == NNE_ERR_CORRUPT_MODEL);
    CHECK(nne_file_open_beneath(tmp, "fifo", "external data file", &fd, &sz) == NNE_ERR_IO);
    snprintf(q, sizeof q, "%s/ok.bin", tmp);
    FILE *f = fopen(q, "wb");
    if (f) {
        fputs("12345", f);
        fclose(f);
    }
    CHECK(nne_file_open_beneath(tmp, "ok.bin", "external data file", &fd, &sz) == NNE_OK && sz == 5);
    if (fd >= 0) close(fd);
}

/* Fail each allocation of the writer in turn: OK or OUT_OF_MEMORY, no leak. */
typedef struct { long count, fail_at, live; } oom_t;
static void *o_malloc(void *u, size_t n) {
    oom_t *s = u;
    if (++s->count == s->fail_at) return NULL;
    void *p = malloc(n);
    if (p) s->live++;
    return p;
}
static void *o_realloc(void *u, void *p, size_t n) {
    oom_t *s = u;
    if (++s->count == s->fail_at) return NULL;
    void *q = realloc(p, n);
    if (q && !p) s->live++;
    return q;
}
static void *o_aligned(void *u, size_t a, size_t n) {
    oom_t *s = u;
    if (++s->count == s->fail_at) return NULL;
    void *p = aligned_alloc(a, n);
    if (p) s->live++;
    return p;
}
static void o_free(void *u, void *p) {
    if (p) ((oom_t *)u)->live--;
    free(p);
}

static void writer_oom(void) {
    nne_model_options mo = nne_model_options_default();
    mo.allow_unsupported = 1;
    nne_model *m = NULL;
    CHECK(nne_model_load_file("tests/roundtrip/models/features.onnx", &mo, &m) == NNE_OK);
    if (!m) return;
    oom_t st = {0, 0, 0};
    nne_allocator a = {o_malloc, o_realloc, o_aligned, o_free, &st};
    int bad = 0, leaks = 0, done = 0;
    for (long n = 1; n < 10000 && !done; n++) {
        st.count = 0;
        st.fail_at = n;
        st.live = 0;
        void *buf = NULL;
        size_t len = 0;
        nne_allocator_set(&a);
        nne_status s = nne_model_save_memory(m, &buf, &len);
        nne_buffer_free(buf);
        nne_allocator_set(NULL);
        if (s == NNE_OK) done = 1;
        else if (s != NNE_ERR_OUT_OF_MEMORY) bad++;
        if (st.live) leaks++;
    }
    CHECK(done && !bad && !leaks);
    nne_model_destroy(m);
}

void unit_save(void) {
    roundtrip_dir("tests/models");
    roundtrip_dir("tests/roundtrip/models");
    char tmp[] = "/tmp/nne-unit-save.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    weights_in_place(tmp);
    set_shape();
    files(tmp);
    writer_oom();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
}
