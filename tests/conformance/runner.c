/*
 * runner.c - runs ONNX backend conformance tests (a directory with
 * model.onnx and test_data_set_<K>/{input,output}_N.pb for K = 0, 1, ...)
 * through nnedge, every data set, and compares outputs with the upstream
 * rule: shapes and dtypes equal, and
 * |actual - expected| <= atol + rtol * |expected| (rtol 1e-3, atol 1e-7),
 * NaN matching NaN and infinities matching in sign.
 *
 * Each test runs in a forked child with a time limit, so a crash or hang is
 * reported as a failure of that test instead of ending the run.
 * Output: one line per test, "PASS name", "FAIL name: reason" or
 * "SKIP name: reason" (SKIP only when the model's inputs or outputs have a
 * type nnedge cannot represent: sequences, optionals, strings, float8/4-bit
 * types; a data file that cannot be read or parsed is a FAIL).
 * --oom [--oom-max N]: a passing test must also survive the failure of each
 * of its allocations in turn (see oom_check; `make conformance-oom`).
 * --expect-reject (tests/opcases bad/): a case PASSes only when nnedge
 * refuses it with a message at load, prepare, input or run; a case that runs
 * FAILs whatever its outputs, so a wrong result never counts as a refusal.
 * A path ending in .onnx is a light/ model (see run_light).
 */
#include "nnedge.h"
#include "core/core.h"
#include "io/onnx.h"
#include "ir/graph.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double g_rtol = 1e-3, g_atol = 1e-7;
static int g_timeout = 120;

static int read_file(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    if (n < 0) {
        fclose(f);
        return 0;
    }
    *buf = malloc((size_t)n + 1);
    *len = (size_t)n;
    int ok = *buf && fread(*buf, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    return ok;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Why a value's data can't be represented, or NULL. */
static const char *unrepresentable(const nne_value *v) {
    if (v->vtype == NNE_VT_SEQUENCE) return "sequence data";
    if (v->vtype == NNE_VT_OPTIONAL) return "optional data";
    if (v->vtype == NNE_VT_MAP) return "map data";
    if (v->vtype == NNE_VT_SPARSE) return "sparse tensor data";
    if (v->dtype == NNE_DTYPE_STRING) return "string tensors";
    if (v->dtype != NNE_DTYPE_UNDEFINED && !nne_dtype_size(v->dtype)) {
        static char buf[64];
        snprintf(buf, sizeof buf, "%s tensors", nne_dtype_name(v->dtype));
        return buf;
    }
    return NULL;
}

static int compare(const nne_tensor *a, const nne_tensor *e, char *why, size_t wn) {
    char sa[128], se[128];
    if (a->dtype != e->dtype) {
        snprintf(why, wn, "dtype %s, expected %s", nne_dtype_name(a->dtype), nne_dtype_name(e->dtype));
        return 0;
    }
    int same = a->ndim == e->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = a->dims[d] == e->dims[d];
    if (!same) {
        snprintf(why, wn, "shape %s, expected %s", nne_dims_str(a->ndim, a->dims, sa, sizeof sa),
                 nne_dims_str(e->ndim, e->dims, se, sizeof se));
        return 0;
    }
    int64_t n = nne_tensor_numel(e);
    int isf = nne_dtype_is_float(e->dtype);
    for (int64_t i = 0; i < n; i++) {
        double x, y;
        if (isf) {
            x = nne_tensor_get_f64(a, i);
            y = nne_tensor_get_f64(e, i);
            if (isnan(y)) {
                if (isnan(x)) continue;
            } else if (isinf(y)) {
                if (x == y) continue;
            } else if (fabs(x - y) <= g_atol + g_rtol * fabs(y)) {
                continue;
            }
        } else if (e->dtype == NNE_DTYPE_UINT64) {
            uint64_t ux = ((const uint64_t *)a->data)[i], uy = ((const uint64_t *)e->data)[i];
            if (ux == uy) continue;
            x = (double)ux;
            y = (double)uy;
        } else {
            int64_t ix = nne_tensor_get_i64(a, i), iy = nne_tensor_get_i64(e, i);
            if (ix == iy) continue;
            /* upstream compares ints with allclose too: tiny relative slack */
            x = (double)ix;
            y = (double)iy;
            if (fabs(x - y) <= g_atol + g_rtol * fabs(y)) continue;
        }
        snprintf(why, wn, "element %lld: got %.9g, expected %.9g", (long long)i, x, y);
        return 0;
    }
    return 1;
}

/* Per-test tolerance overrides, exactly those upstream's own reference CI
 * passes to its runner (listed in onnx-tests/README.md, "Comparing outputs"):
 * the DFT tests' expected files hold float32 FFT rounding noise. */
static void tolerance_for(const char *name) {
    static const char *dft[] = {"test_dft", "test_dft_axis", "test_dft_axis_opset19", "test_dft_inverse",
                                "test_dft_inverse_opset19", "test_dft_opset19"};
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    g_rtol = 1e-3;
    g_atol = 1e-7;
    for (size_t i = 0; i < sizeof dft / sizeof dft[0]; i++)
        if (strcmp(base, dft[i]) == 0) g_atol = 1e-6;
    if (strcmp(base, "test_celu_bfloat16_expanded") == 0) g_rtol = g_atol = 1e-2;
}

/* --expect-reject: every case must be refused by nnedge (opcases bad/). */
static int g_expect_reject;

/* Reads dir/test_data_set_<set>/<kind>_<i>.pb for i = 0.. into a new array
 * (*out, *n; free with free_tensors). Returns 0 after printing a FAIL line
 * when a file cannot be read or parsed: the test's data is broken, which is
 * a failure, never a skip. */
static int read_tensors(const char *dir, int set, const char *kind, const char *name, nne_tensor **out, int *n) {
    char path[4096];
    int cnt = 0;
    while (cnt < 1000) {
        snprintf(path, sizeof path, "%s/test_data_set_%d/%s_%d.pb", dir, set, kind, cnt);
        if (!exists(path)) break;
        cnt++;
    }
    *n = cnt;
    *out = calloc((size_t)cnt + 1, sizeof **out);
    for (int i = 0; i < cnt; i++) {
        uint8_t *buf;
        size_t len;
        snprintf(path, sizeof path, "%s/test_data_set_%d/%s_%d.pb", dir, set, kind, i);
        if (!read_file(path, &buf, &len)) {
            printf("FAIL %s: data set %d: cannot read %s\n", name, set, path);
            return 0;
        }
        nne_status st = nne_onnx_tensor_parse(buf, len, NULL, &(*out)[i], NULL);
        free(buf);
        if (st != NNE_OK) {
            printf("FAIL %s: data set %d: %s %d cannot be parsed: %s\n", name, set, kind, i, nne_last_error());
            return 0;
        }
    }
    return 1;
}

static void free_tensors(nne_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) nne_aligned_free(t[i].data);
    free(t);
}

/* Runs data set `set` of a test on session s (prepared for this set's input
 * shapes). Returns 1 when nnedge's outputs match; 0 after printing a FAIL
 * line; with --expect-reject, 2 when nnedge refused the case (the stage and
 * message are left in `refused`). */
static int run_data_set(const char *dir, const char *name, const nne_model *m, nne_session *s, int set,
                        char *refused, size_t rn) {
    const nne_graph *g = m->graph;
    nne_tensor *ins = NULL, *exp = NULL;
    int nin = 0, nexp = 0, rc = 0;
    const char **names = NULL;
    const char *stage = NULL;
    if (!read_tensors(dir, set, "input", name, &ins, &nin) || !read_tensors(dir, set, "output", name, &exp, &nexp))
        goto done;
    if (nin > m->n_feed) {
        printf("FAIL %s: data set %d: %d input files but the model has %d inputs\n", name, set, nin, m->n_feed);
        goto done;
    }
    if (nexp != g->n_outputs) {
        printf("FAIL %s: data set %d: %d output files but the model has %d outputs\n", name, set, nexp,
               g->n_outputs);
        goto done;
    }
    names = calloc((size_t)nin + 1, sizeof *names);
    for (int i = 0; i < nin; i++) names[i] = g->values[m->feed[i]].name;
    if (nne_session_prepare(s, nin, names, ins) != NNE_OK) {
        stage = "prepare";
        goto refused;
    }
    for (int i = 0; i < nin; i++)
        if (nne_session_set_input(s, names[i], &ins[i]) != NNE_OK) {
            stage = "input";
            goto refused;
        }
    if (nne_session_run(s) != NNE_OK) {
        stage = "run";
        goto refused;
    }
    if (g_expect_reject) {
        printf("FAIL %s: data set %d: nnedge ran the case; expected it to refuse it\n", name, set);
        goto done;
    }
    for (int i = 0; i < nexp; i++) {
        nne_tensor out;
        char why[512];
        nne_session_output(s, i, &out);
        if (!compare(&out, &exp[i], why, sizeof why)) {
            printf("FAIL %s: data set %d: output %d (%s): %s\n", name, set, i, g->values[g->outputs[i]].name, why);
            goto done;
        }
    }
    rc = 1;
    goto done;
refused:
    if (g_expect_reject && nne_last_error()[0]) {
        snprintf(refused, rn, "%s: %s", stage, nne_last_error());
        rc = 2;
    } else {
        printf("FAIL %s: data set %d: %s: %s\n", name, set, stage,
               nne_last_error()[0] ? nne_last_error() : "(refused without a message)");
    }
done:
    free_tensors(ins, nin);
    free_tensors(exp, nexp);
    free(names);
    return rc;
}

/* --oom: after a test passes, run data set 0 again (load, prepare, inputs,
 * run) once per allocation the run makes, failing that allocation through
 * the allocator hook: every step must then succeed or fail with
 * NNE_ERR_OUT_OF_MEMORY, and no allocation may be left once the model and
 * session are destroyed (STYLE.md §7; tests/unit/test_oom.c does the same on
 * small models). Tests that make more than g_oom_max allocations are left
 * out of the check (their PASS line says so). */
static int g_oom;
static long g_oom_max = 3000;
typedef struct oom_state {
    long count, fail_at, live;
} oom_state;
static oom_state g_os;
static void *oom_malloc(void *u, size_t n) {
    if (++g_os.count == g_os.fail_at) return NULL;
    void *p = malloc(n);
    if (p) g_os.live++;
    return p;
}
static void *oom_realloc(void *u, void *p, size_t n) {
    if (++g_os.count == g_os.fail_at) return NULL;
    void *q = realloc(p, n);
    if (q && !p) g_os.live++;
    return q;
}
static void *oom_aligned(void *u, size_t a, size_t n) {
    if (++g_os.count == g_os.fail_at) return NULL;
    void *p = aligned_alloc(a, n);
    if (p) g_os.live++;
    return p;
}
static void oom_free(void *u, void *p) {
    if (p) g_os.live--;
    free(p);
}

/* One pass with allocation fail_at failing (0: none). Returns the status. */
static nne_status oom_pass(const char *model, int nin, const char **names, const nne_tensor *ins, long fail_at) {
    static const nne_allocator hook = {oom_malloc, oom_realloc, oom_aligned, oom_free, NULL};
    g_os.count = g_os.live = 0;
    g_os.fail_at = fail_at;
    nne_allocator_set(&hook);
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_status st = nne_model_load_file(model, NULL, &m);
    if (st == NNE_OK) st = nne_session_create(m, NULL, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, nin, names, ins);
    for (int i = 0; st == NNE_OK && i < nin; i++) st = nne_session_set_input(s, names[i], &ins[i]);
    if (st == NNE_OK) st = nne_session_run(s);
    nne_session_destroy(s);
    nne_model_destroy(m);
    nne_allocator_set(NULL);
    return st;
}

/* Returns 1 when every allocation failure is handled; else prints a FAIL line. */
static int oom_check(const char *dir, const char *name, const nne_model *m, long *n_alloc) {
    char model[4096];
    nne_tensor *ins = NULL, *exp = NULL;
    int nin = 0, nexp = 0, ok = 0;
    const char **names = NULL;
    *n_alloc = 0;
    if (!read_tensors(dir, 0, "input", name, &ins, &nin) || !read_tensors(dir, 0, "output", name, &exp, &nexp))
        goto done;
    names = calloc((size_t)nin + 1, sizeof *names);
    for (int i = 0; i < nin; i++) names[i] = m->graph->values[m->feed[i]].name;
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    nne_status st = oom_pass(model, nin, names, ins, 0);
    if (st != NNE_OK || g_os.live) {
        printf("FAIL %s: oom: the pass without failures gave %s with %ld allocations left\n", name,
               nne_status_str(st), g_os.live);
        goto done;
    }
    long total = *n_alloc = g_os.count;
    if (total > g_oom_max) {
        ok = 1;
        goto done;
    }
    for (long k = 1; k <= total; k++) {
        st = oom_pass(model, nin, names, ins, k);
        if (st != NNE_OK && st != NNE_ERR_OUT_OF_MEMORY) {
            printf("FAIL %s: oom: failing allocation %ld of %ld gave %s: %s\n", name, k, total, nne_status_str(st),
                   nne_last_error());
            goto done;
        }
        if (g_os.live) {
            printf("FAIL %s: oom: failing allocation %ld of %ld left %ld allocations\n", name, k, total, g_os.live);
            goto done;
        }
    }
    ok = 1;
done:
    free_tensors(ins, nin);
    free_tensors(exp, nexp);
    free(names);
    return ok;
}

/* With env NNE_OPTIMIZE=none|basic|all every model is optimized at that
 * level before its session is made (check.sh then measures the passes). */
static nne_status maybe_optimize(nne_model *m) {
    const char *e = getenv("NNE_OPTIMIZE");
    nne_opt_level level;
    if (!e || !e[0]) return NNE_OK;
    NNE_TRY(nne_opt_level_parse(e, &level));
    nne_status st = nne_model_optimize(m, level, NULL);
    if (st != NNE_OK) nne_error_prefix("optimize");
    return st;
}

/* Runs one test: every test_data_set_<K> in order, each prepared for its own
 * input shapes; the test passes when all of them do. Prints its result line.
 * Returns 0 pass, 1 fail, 2 skip. With --expect-reject it passes only when
 * nnedge refuses it (load, prepare, input or run fails with a message); a
 * case nnedge runs fails, whatever its outputs. */
static int run_test(const char *dir, const char *name) {
    char path[4096];
    tolerance_for(name);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    nne_model_options mo = nne_model_options_default();
    mo.allow_unsupported = 1;
    nne_model *m = NULL;
    nne_status st = nne_model_load_file(path, &mo, &m);
    if (st == NNE_OK && (st = maybe_optimize(m)) != NNE_OK) {
        nne_model_destroy(m);
        m = NULL;
    }
    if (st != NNE_OK) {
        if (g_expect_reject && nne_last_error()[0]) {
            printf("PASS %s: refused at load: %s\n", name, nne_last_error());
            return 0;
        }
        printf("FAIL %s: load: %s\n", name, nne_last_error());
        return 1;
    }
    const nne_graph *g = m->graph;
    for (int i = 0; i < m->n_feed; i++) {
        const char *why = unrepresentable(&g->values[m->feed[i]]);
        if (why) {
            printf("SKIP %s: input \"%s\" holds %s\n", name, g->values[m->feed[i]].name, why);
            nne_model_destroy(m);
            return 2;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const char *why = unrepresentable(&g->values[g->outputs[i]]);
        if (why) {
            printf("SKIP %s: output \"%s\" holds %s\n", name, g->values[g->outputs[i]].name, why);
            nne_model_destroy(m);
            return 2;
        }
    }
    int rc = 1, nsets = 0;
    nne_session *s = NULL;
    while (nsets < 1000) {
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, nsets);
        if (!exists(path)) break;
        nsets++;
    }
    if (nsets == 0) {
        printf("FAIL %s: no test_data_set_0 in %s\n", name, dir);
        goto done;
    }
    /* unsupported ops (the model was loaded with allow_unsupported) */
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].op) {
            printf("%s %s: unsupported op %s%s%s\n", g_expect_reject ? "PASS" : "FAIL", name, g->nodes[i].domain,
                   g->nodes[i].domain[0] ? ":" : "", g->nodes[i].op_type);
            rc = g_expect_reject ? 0 : 1;
            goto done;
        }
    if (nne_session_create(m, NULL, &s) != NNE_OK) {
        printf("FAIL %s: session: %s\n", name, nne_last_error());
        goto done;
    }
    for (int set = 0; set < nsets; set++) {
        char refused[1100] = "";
        int r = run_data_set(dir, name, m, s, set, refused, sizeof refused);
        if (r == 0) goto done;
        if (r == 2) { /* --expect-reject: refused, as it should be */
            printf("PASS %s: refused at %s\n", name, refused);
            rc = 0;
            goto done;
        }
    }
    if (g_expect_reject) {
        printf("FAIL %s: nnedge ran every data set; expected it to refuse the case\n", name);
        goto done;
    }
    if (g_oom) {
        long n_alloc;
        if (!oom_check(dir, name, m, &n_alloc)) goto done;
        if (n_alloc > g_oom_max)
            printf("PASS %s (oom: not checked, %ld allocations > --oom-max %ld)\n", name, n_alloc, g_oom_max);
        else
            printf("PASS %s (oom: each of %ld allocations failed once)\n", name, n_alloc);
        rc = 0;
        goto done;
    }
    if (nsets > 1) printf("PASS %s (%d data sets)\n", name, nsets);
    else printf("PASS %s\n", name);
    rc = 0;
done:
    nne_session_destroy(s);
    nne_model_destroy(m);
    return rc;
}

/* light/light_<name>.onnx: one float input x = arange(n)/n (unknown dims 1),
 * expected output light_<name>_output_0.pb, tolerances from
 * real/test_<name>/data.json (see the onnx-tests README). */
static int run_light(const char *path, const char *name) {
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_tensor x = {0}, exp = {0};
    int rc = 1;
    double saved_rtol = g_rtol, saved_atol = g_atol;
    char p2[8300];
    nne_status st = nne_model_load_file(path, NULL, &m);
    if (st == NNE_OK && (st = maybe_optimize(m)) != NNE_OK) {
        nne_model_destroy(m);
        m = NULL;
    }
    if (st != NNE_OK) {
        printf("FAIL %s: load: %s\n", name, nne_last_error());
        return 1;
    }
    if (nne_model_num_inputs(m) != 1) {
        printf("FAIL %s: expected one input, got %d\n", name, nne_model_num_inputs(m));
        goto done;
    }
    nne_value_info vi;
    nne_model_input_info(m, 0, &vi);
    x.dtype = vi.dtype;
    x.ndim = vi.ndim;
    for (int d = 0; d < vi.ndim; d++) x.dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
    int64_t n = nne_tensor_numel(&x);
    x.data = malloc((size_t)n * sizeof(float) + 1);
    for (int64_t i = 0; i < n; i++) ((float *)x.data)[i] = (float)((double)i / (double)n);
    /* expected output and tolerances */
    size_t l = strlen(path);
    snprintf(p2, sizeof p2, "%.*s_output_0.pb", (int)(l - 5), path);
    uint8_t *buf;
    size_t len;
    if (!read_file(p2, &buf, &len)) {
        printf("FAIL %s: cannot read %s\n", name, p2);
        goto done;
    }
    st = nne_onnx_tensor_parse(buf, len, NULL, &exp, NULL);
    free(buf);
    if (st != NNE_OK) {
        printf("FAIL %s: expected output: %s\n", name, nne_last_error());
        goto done;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "light_", 6) == 0) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)(base - path), path);
        snprintf(p2, sizeof p2, "%s../real/test_%.*s/data.json", dir, (int)(strlen(base) - 11), base + 6);
        if (read_file(p2, &buf, &len)) {
            buf[len] = 0;
            char *r = strstr((char *)buf, "\"rtol\"");
            if (r && (r = strchr(r, ':'))) g_rtol = atof(r + 1);
            r = strstr((char *)buf, "\"atol\"");
            if (r && (r = strchr(r, ':'))) g_atol = atof(r + 1);
            free(buf);
        }
    }
    const char *iname = vi.name;
    if ((st = nne_session_create(m, NULL, &s)) != NNE_OK || (st = nne_session_prepare(s, 1, &iname, &x)) != NNE_OK ||
        (st = nne_session_set_input(s, iname, &x)) != NNE_OK || (st = nne_session_run(s)) != NNE_OK) {
        printf("FAIL %s: %s\n", name, nne_last_error());
        goto done;
    }
    nne_tensor out;
    char why[512];
    nne_session_output(s, 0, &out);
    if (!compare(&out, &exp, why, sizeof why)) {
        printf("FAIL %s: output 0: %s\n", name, why);
        goto done;
    }
    printf("PASS %s\n", name);
    rc = 0;
done:
    g_rtol = saved_rtol;
    g_atol = saved_atol;
    nne_session_destroy(s);
    nne_model_destroy(m);
    free(x.data);
    nne_aligned_free(exp.data);
    return rc;
}

static int run_one(const char *dir, const char *name) {
    size_t l = strlen(dir);
    if (l > 5 && strcmp(dir + l - 5, ".onnx") == 0) return run_light(dir, name);
    return run_test(dir, name);
}

static int run_forked(const char *dir, const char *name) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return run_one(dir, name);
    if (pid == 0) {
        alarm((unsigned)g_timeout);
        int rc = run_one(dir, name);
        fflush(stdout);
        _exit(rc);
    }
    int status;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) <= 2) return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        printf("FAIL %s: CRASH (signal %d%s)\n", name, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? ", timeout" : "");
    else
        printf("FAIL %s: CRASH (exit %d)\n", name, WEXITSTATUS(status));
    return 1;
}

int main(int argc, char **argv) {
    int fork_each = 1, np = 0, nf = 0, ns = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--no-fork") == 0) {
            fork_each = 0;
            continue;
        }
        if (strcmp(a, "--oom") == 0) {
            g_oom = 1;
            continue;
        }
        if (strcmp(a, "--oom-max") == 0 && i + 1 < argc) {
            g_oom_max = atol(argv[++i]);
            continue;
        }
        if (strcmp(a, "--expect-reject") == 0) {
            g_expect_reject = 1;
            continue;
        }
        if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            g_timeout = atoi(argv[++i]);
            continue;
        }
        size_t l = strlen(a);
        while (l > 1 && a[l - 1] == '/') l--;
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", (int)l, a);
        /* name the test "suite/test_x" (the last two path parts) */
        const char *name = strrchr(dir, '/');
        if (name) {
            const char *p = name;
            while (p > dir && p[-1] != '/') p--;
            name = p;
        } else {
            name = dir;
        }
        int rc = fork_each ? run_forked(dir, name) : run_one(dir, name);
        if (rc == 0) np++;
        else if (rc == 2) ns++;
        else nf++;
        fflush(stdout);
    }
    fprintf(stderr, "%d passed, %d failed, %d skipped\n", np, nf, ns);
    return nf ? 1 : 0;
}
