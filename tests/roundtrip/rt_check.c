/*
 * rt_check.c - the nnedge half of the round-trip test (tests/roundtrip/run.sh).
 *
 *   rt_check [-t] LIST [NPY_DIR]
 *
 * LIST has one model per line, tab-separated: ORIG CONV SPEC, where CONV is
 * ORIG written by `nnedge convert --optimize none` and SPEC says where inputs
 * come from: "pb:DIR" (DIR/test_data_set_N/input_K.pb, every data set),
 * "npy" followed by NAME=FILE.npy fields, "gen" (every input from its
 * declared shape, unknown dims 1, values arange(n)/n) or "none".
 *
 * For every model: ORIG loads (allow_unsupported) -> CONV must load and be
 * the same graph (nne_model_equal); if ORIG prepares and runs on the inputs,
 * CONV must too, with bit-identical outputs (dtype, shape, bytes); if ORIG
 * fails, CONV must fail with the same status. With NPY_DIR, the inputs of the
 * first data set are written there as .npy and a line "ORIG CONV NAME=FILE..."
 * per model goes to NPY_DIR/manifest.tsv, for the ONNX Runtime half.
 * With -t (CONV written with --optimize basic|all) the graphs need not be
 * equal and outputs must agree within the differential tests' tolerance:
 * |conv - orig| <= 1e-4 * max(1, max|orig|) + 1e-3 * |orig| (NaN = NaN),
 * integer and bool outputs exactly.
 * Prints counts and one FAIL line per failure; exit 1 on any failure.
 */
#include "io/onnx.h"
#include "core/core.h"
#include "core/file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_IN 64

typedef struct inputs {
    int n;
    char *names[MAX_IN];
    nne_tensor t[MAX_IN];
} inputs;

static void inputs_free(inputs *in) {
    for (int i = 0; i < in->n; i++) {
        free(in->names[i]);
        nne_aligned_free(in->t[i].data);
    }
    in->n = 0;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Inputs of data set k under dir (pb), 0 when there is no such set, -1 on a parse failure. */
static int load_pb_set(const nne_model *m, const char *dir, int k, inputs *in) {
    char path[4096];
    snprintf(path, sizeof path, "%s/test_data_set_%d", dir, k);
    if (!exists(path)) return 0;
    for (int i = 0; i < MAX_IN; i++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, k, i);
        if (!exists(path)) break;
        if (i >= nne_model_num_inputs(m)) return -1;
        void *buf;
        size_t len;
        if (nne_file_read_all(path, "input", &buf, &len) != NNE_OK) return -1;
        nne_status st = nne_onnx_tensor_parse(buf, len, NULL, &in->t[i], NULL);
        nne_free(buf);
        if (st != NNE_OK) return -1;
        nne_value_info vi;
        nne_model_input_info(m, i, &vi);
        in->names[i] = strdup(vi.name);
        in->n = i + 1;
    }
    return 1;
}

static int gen_inputs(const nne_model *m, inputs *in) {
    for (int i = 0; i < nne_model_num_inputs(m) && i < MAX_IN; i++) {
        nne_value_info vi;
        nne_model_input_info(m, i, &vi);
        nne_tensor *t = &in->t[i];
        memset(t, 0, sizeof *t);
        t->dtype = vi.dtype;
        t->ndim = vi.ndim < 0 ? 0 : vi.ndim;
        for (int d = 0; d < t->ndim; d++) t->dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
        size_t nb = nne_tensor_nbytes(t);
        int64_t n = nne_tensor_numel(t);
        if (!nne_dtype_size(t->dtype) || nb > ((size_t)1 << 30)) return -1;
        t->data = nne_aligned_alloc(nb ? nb : 1);
        if (!t->data) return -1;
        memset(t->data, 0, nb);
        if (t->dtype == NNE_DTYPE_FLOAT)
            for (int64_t e = 0; e < n; e++) ((float *)t->data)[e] = (float)e / (float)n;
        in->names[i] = strdup(vi.name);
        in->n = i + 1;
    }
    return 1;
}

/* Run m on in: 0 ok (outputs cloned into outs), else the status. */
static nne_status run_model(const nne_model *m, const inputs *in, int *n_out, nne_tensor *outs) {
    nne_session *s = NULL;
    nne_status st = nne_session_create(m, NULL, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, in->n, (const char *const *)in->names, in->t);
    for (int i = 0; st == NNE_OK && i < in->n; i++) st = nne_session_set_input(s, in->names[i], &in->t[i]);
    if (st == NNE_OK) st = nne_session_run(s);
    *n_out = 0;
    if (st == NNE_OK) {
        int no = nne_model_num_outputs(m);
        for (int i = 0; i < no && i < MAX_IN; i++) {
            nne_tensor o;
            nne_session_output(s, i, &o);
            size_t nb = nne_tensor_nbytes(&o);
            outs[i] = o;
            outs[i].data = malloc(nb ? nb : 1);
            if (o.data && nb) memcpy(outs[i].data, o.data, nb);
            *n_out = i + 1;
        }
    }
    nne_session_destroy(s);
    return st;
}

static int same_outputs(int na, nne_tensor *a, int nb, nne_tensor *b, char *why, size_t cap) {
    if (na != nb) return snprintf(why, cap, "%d outputs vs %d", na, nb), 0;
    for (int i = 0; i < na; i++) {
        if (a[i].dtype != b[i].dtype || a[i].ndim != b[i].ndim ||
            memcmp(a[i].dims, b[i].dims, sizeof(int64_t) * (size_t)a[i].ndim))
            return snprintf(why, cap, "output %d: dtype or shape differs", i), 0;
        if (memcmp(a[i].data, b[i].data, nne_tensor_nbytes(&a[i])))
            return snprintf(why, cap, "output %d: bytes differ", i), 0;
    }
    return 1;
}

/* -t: outputs within tolerance (floats), exactly (others) */
static int close_outputs(int na, nne_tensor *a, int nb, nne_tensor *b, char *why, size_t cap) {
    if (na != nb) return snprintf(why, cap, "%d outputs vs %d", na, nb), 0;
    for (int i = 0; i < na; i++) {
        if (a[i].dtype != b[i].dtype || a[i].ndim != b[i].ndim ||
            memcmp(a[i].dims, b[i].dims, sizeof(int64_t) * (size_t)a[i].ndim))
            return snprintf(why, cap, "output %d: dtype or shape differs", i), 0;
        int64_t n = nne_tensor_numel(&a[i]);
        if (!nne_dtype_is_float(a[i].dtype)) {
            if (memcmp(a[i].data, b[i].data, nne_tensor_nbytes(&a[i])))
                return snprintf(why, cap, "output %d: values differ", i), 0;
            continue;
        }
        double maxref = 0;
        for (int64_t e = 0; e < n; e++) {
            double r = fabs(nne_tensor_get_f64(&a[i], e));
            if (r > maxref && isfinite(r)) maxref = r;
        }
        for (int64_t e = 0; e < n; e++) {
            double r = nne_tensor_get_f64(&a[i], e), g = nne_tensor_get_f64(&b[i], e);
            if (isnan(r) && isnan(g)) continue;
            if (r == g) continue; /* infinities */
            if (!(fabs(g - r) <= 1e-4 * (maxref > 1 ? maxref : 1) + 1e-3 * fabs(r)))
                return snprintf(why, cap, "output %d: element %lld: %g vs %g", i, (long long)e, g, r), 0;
        }
    }
    return 1;
}

static void free_outs(int n, nne_tensor *o) {
    for (int i = 0; i < n; i++) free(o[i].data);
}

int main(int argc, char **argv) {
    int tol = argc > 1 && !strcmp(argv[1], "-t");
    if (tol) argc--, argv++;
    if (argc < 2) {
        fprintf(stderr, "usage: rt_check [-t] LIST [NPY_DIR]\n");
        return 2;
    }
    FILE *lf = fopen(argv[1], "r");
    if (!lf) {
        perror(argv[1]);
        return 2;
    }
    const char *npy_dir = argc > 2 ? argv[2] : NULL;
    FILE *man = NULL;
    if (npy_dir) {
        char p[4096];
        snprintf(p, sizeof p, "%s/manifest.tsv", npy_dir);
        man = fopen(p, "w");
        if (!man) {
            perror(p);
            return 2;
        }
    }
    static char line[1 << 16];
    int n_models = 0, n_orig_fail = 0, n_equal = 0, n_ran = 0, n_sets = 0, n_both_fail = 0, n_fail = 0, n_noin = 0;
    int idx = 0;
    nne_model_options mo = nne_model_options_default();
    mo.allow_unsupported = 1;
    while (fgets(line, sizeof line, lf)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        char *fields[MAX_IN + 4];
        int nf = 0;
        for (char *tok = strtok(line, "\t"); tok && nf < MAX_IN + 4; tok = strtok(NULL, "\t")) fields[nf++] = tok;
        if (nf < 3) continue;
        const char *orig = fields[0], *conv = fields[1], *spec = fields[2];
        n_models++;
        idx++;
        nne_model *a = NULL, *b = NULL;
        if (nne_model_load_file(orig, &mo, &a) != NNE_OK) {
            n_orig_fail++;
            continue;
        }
        char why[1024];
        if (nne_model_load_file(conv, &mo, &b) != NNE_OK) {
            printf("FAIL %s: the converted model does not load: %s\n", orig, nne_last_error());
            n_fail++;
            nne_model_destroy(a);
            continue;
        }
        if (tol) {
            n_equal++; /* not asked: an optimized graph differs on purpose */
        } else if (!nne_model_equal(a, b, why, sizeof why)) {
            printf("FAIL %s: the converted graph differs: %s\n", orig, why);
            n_fail++;
        } else {
            n_equal++;
        }
        int ok = 1;
        for (int set = 0; ok; set++) {
            inputs in = {0};
            int got;
            if (!strncmp(spec, "pb:", 3)) got = load_pb_set(a, spec + 3, set, &in);
            else if (set > 0 || !strcmp(spec, "none")) got = 0;
            else if (!strcmp(spec, "gen")) got = gen_inputs(a, &in);
            else {
                got = 1;
                for (int f = 3; f < nf && in.n < MAX_IN; f++) {
                    char *eq = strrchr(fields[f], '=');
                    if (!eq) continue;
                    *eq = 0;
                    if (nne_npy_read_file(eq + 1, &in.t[in.n]) != NNE_OK) {
                        got = -1;
                        break;
                    }
                    in.names[in.n++] = strdup(fields[f]);
                }
            }
            if (got <= 0) {
                if (set == 0) n_noin++; /* no test data, or data nnedge cannot hold (strings, sequences) */
                inputs_free(&in);
                break;
            }
            nne_tensor oa[MAX_IN], ob[MAX_IN];
            int na = 0, nb = 0;
            nne_status sa = run_model(a, &in, &na, oa);
            nne_status sb = run_model(b, &in, &nb, ob);
            if (sa != NNE_OK) {
                if (sb != sa) {
                    printf("FAIL %s: data set %d: the original fails (%s), the converted model gives %s\n", orig,
                           set, nne_status_str(sa), nne_status_str(sb));
                    n_fail++;
                    ok = 0;
                } else if (set == 0) {
                    n_both_fail++;
                }
            } else if (sb != NNE_OK) {
                printf("FAIL %s: data set %d: the converted model fails: %s\n", orig, set, nne_last_error());
                n_fail++;
                ok = 0;
            } else if (tol ? !close_outputs(na, oa, nb, ob, why, sizeof why)
                           : !same_outputs(na, oa, nb, ob, why, sizeof why)) {
                printf("FAIL %s: data set %d: %s\n", orig, set, why);
                n_fail++;
                ok = 0;
            } else {
                n_sets++;
                if (set == 0) n_ran++;
            }
            free_outs(na, oa);
            free_outs(nb, ob);
            if (set == 0 && man) {
                /* inputs for the ONNX Runtime half */
                fprintf(man, "%s\t%s", orig, conv);
                for (int i = 0; i < in.n; i++) {
                    char p[4096];
                    snprintf(p, sizeof p, "%s/%d_%d.npy", npy_dir, idx, i);
                    if (nne_npy_write_file(p, &in.t[i]) == NNE_OK) fprintf(man, "\t%s=%s", in.names[i], p);
                }
                fprintf(man, "\n");
            }
            inputs_free(&in);
        }
        nne_model_destroy(a);
        nne_model_destroy(b);
    }
    fclose(lf);
    if (man) fclose(man);
    printf("rt_check%s: %d models: %d not loadable by nnedge (skipped), %d %s; "
           "%d ran with %s outputs (%d data sets), %d fail in nnedge before and after, %d without "
           "inputs nnedge can read; %d failures\n",
           tol ? " -t" : "", n_models, n_orig_fail, n_equal, tol ? "loaded again" : "same graph after the round trip",
           n_ran, tol ? "the same (within tolerance)" : "bit-identical", n_sets, n_both_fail, n_noin, n_fail);
    return n_fail ? 1 : 0;
}
