/*
 * run.c - `nnedge run MODEL [-i NAME=FILE.npy]... [-o OUTDIR] [--threads N]
 * [--optimize none|basic|all] [--json]`: runs the model once on .npy inputs
 * and writes every output to OUTDIR/<file>.npy, and lists which output went
 * to which file. --optimize (default: env NNE_OPTIMIZE, else none) runs the
 * graph passes on the model first.
 *
 * File names: an output name that is a safe file name is used as it is. Any
 * other name (holding '/', '\\', ':', control characters or bytes that are not
 * UTF-8, starting with '.', empty, or too long for a file name) is made safe
 * ('_' for the bad bytes, cut at 160 bytes on a character boundary) and gets
 * "_" and a hash of the full name appended, so that "a/b" and "a_b" cannot
 * both become a_b.npy. A name that still collides (case-insensitively, for
 * file systems that fold case) with an earlier output's file gets a counter.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Longest base name kept before the hash (NAME_MAX is 255 bytes on the
 * common file systems; the hash, a counter and ".npy" fit after it). */
#define RUN_NAME_KEEP 160

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static int unsafe_byte(unsigned char c) {
    return c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':';
}

void cli_safe_file_name(const char *name, char *out, size_t cap) {
    size_t len = strlen(name), k = 0;
    int changed = len == 0 || name[0] == '.' || len > RUN_NAME_KEEP;
    for (size_t i = 0; i < len && k < RUN_NAME_KEEP;) {
        unsigned char c = (unsigned char)name[i];
        int n = cli_utf8_len((const unsigned char *)name + i);
        if (n > 1) { /* a valid multi-byte character: kept whole (the JSON mapping then names the file exactly) */
            if (k + (size_t)n > RUN_NAME_KEEP) break;
            memcpy(out + k, name + i, (size_t)n);
            k += (size_t)n;
            i += (size_t)n;
            continue;
        }
        int bad = n == 0 || unsafe_byte(c) || (k == 0 && c == '.');
        changed |= bad;
        out[k++] = bad ? '_' : (char)c;
        i++;
    }
    out[k] = 0;
    if (changed) snprintf(out + k, cap - k, "%s%016llx", k ? "_" : "output_", (unsigned long long)fnv1a(name));
}

int cli_run(int argc, char **argv) {
    const char *path = NULL, *outdir = ".", *optimize = getenv("NNE_OPTIMIZE");
    int json = 0, nin = 0;
    long threads = 1;
    char (*names)[256] = calloc((size_t)argc + 1, 256);
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    nne_tensor *ins = calloc((size_t)argc + 1, sizeof *ins);
    const char **inames = calloc((size_t)argc + 1, sizeof *inames);
    int rc = EXIT_BAD_INPUT;
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_status st;
    char (*fnames)[256] = NULL; /* per output: its file name without ".npy" */
    cli_limits lim = {0};
    int lr;
    if (!names || !files || !ins || !inames) {
        rc = cli_usage_error("out of memory");
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "-i")) {
            const char *v = cli_opt_value(argc, argv, &i, "NAME=FILE.npy"), *eq;
            if (!v) goto done;
            eq = strchr(v, '=');
            if (!eq) { /* "-i FILE.npy": the model's only input */
                names[nin][0] = 0;
                files[nin++] = v;
            } else {
                if (eq == v || (size_t)(eq - v) >= 256) {
                    rc = cli_usage_error("-i %s: expected NAME=FILE.npy", v);
                    goto done;
                }
                memcpy(names[nin], v, (size_t)(eq - v));
                names[nin][eq - v] = 0;
                files[nin++] = eq + 1;
            }
        } else if (!strcmp(a, "-o")) {
            if (!(outdir = cli_opt_value(argc, argv, &i, "OUTDIR (the output directory)"))) goto done;
        } else if (!strcmp(a, "--optimize")) {
            if (!(optimize = cli_opt_value(argc, argv, &i, "none|basic|all"))) goto done;
        } else if (!strcmp(a, "--threads")) {
            const char *v = cli_opt_value(argc, argv, &i, "N (threads, 1 to 1024)");
            if (!v) goto done;
            if (!cli_parse_int(v, 1, 1024, &threads)) {
                rc = cli_usage_error("--threads %s: expected a number from 1 to 1024", v);
                goto done;
            }
        } else if ((lr = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr < 0) goto done;
        } else if (a[0] == '-') {
            rc = cli_usage_error("run: unknown option %s", a);
            goto done;
        } else if (!path) path = a;
        else {
            rc = cli_usage_error("run: more than one model given");
            goto done;
        }
    }
    if (!path) {
        rc = cli_usage_error("run: no model given (nnedge run MODEL -i NAME=FILE.npy)");
        goto done;
    }
    if ((st = cli_load_model(path, &lim, NULL, &m)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    if (optimize && optimize[0]) {
        nne_opt_level level;
        if ((st = nne_opt_level_parse(optimize, &level)) != NNE_OK || (st = nne_model_optimize(m, level, NULL)) != NNE_OK) {
            rc = cli_fail(st, "--optimize");
            goto done;
        }
    }
    int ni = nne_model_num_inputs(m);
    for (int k = 0; k < nin; k++) {
        if (!names[k][0]) {
            if (ni != 1 || nin != 1) {
                rc = cli_usage_error("-i %s: the model has %d inputs; use -i NAME=FILE.npy", files[k], ni);
                goto done;
            }
            nne_value_info vi;
            nne_model_input_info(m, 0, &vi);
            snprintf(names[k], 256, "%s", vi.name);
        }
        for (int j = 0; j < k; j++)
            if (!strcmp(names[j], names[k])) {
                rc = cli_usage_error("input \"%s\" is given twice", names[k]);
                goto done;
            }
        if ((st = nne_npy_read_file(files[k], &ins[k])) != NNE_OK) {
            rc = cli_fail(st, names[k]);
            goto done;
        }
        inames[k] = names[k];
        if (!cli_limits_charge(&lim, nne_tensor_nbytes(&ins[k]), files[k])) goto done;
    }
    for (int i = 0; i < ni; i++) {
        nne_value_info vi;
        nne_model_input_info(m, i, &vi);
        int found = 0;
        for (int k = 0; k < nin; k++) found |= !strcmp(names[k], vi.name);
        if (!found) {
            rc = cli_usage_error("missing input \"%s\" (%s); give it with -i %s=FILE.npy", vi.name,
                                 nne_dtype_name(vi.dtype), vi.name);
            goto done;
        }
    }
    nne_session_options so = nne_session_options_default();
    so.threads = (int32_t)threads;
    if (!cli_limits_apply(&lim, &so)) goto done;
    if ((st = nne_session_create(m, &so, &s)) != NNE_OK || (st = nne_session_prepare(s, nin, inames, ins)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    for (int k = 0; k < nin; k++)
        if ((st = nne_session_set_input(s, names[k], &ins[k])) != NNE_OK) {
            rc = cli_fail(st, NULL);
            goto done;
        }
    double t0 = cli_now_ms();
    if ((st = nne_session_run(s)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    double ms = cli_now_ms() - t0;
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
        rc = cli_usage_error("cannot create output directory %s: %s", outdir, strerror(errno));
        goto done;
    }
    int no = nne_model_num_outputs(m);
    fnames = calloc((size_t)no + 1, sizeof *fnames);
    if (!fnames) {
        rc = cli_usage_error("out of memory");
        goto done;
    }
    /* every file name first, so nothing is written when one cannot be made */
    for (int i = 0; i < no; i++) {
        nne_value_info vi;
        nne_model_output_info(m, i, &vi);
        char base[256];
        cli_safe_file_name(vi.name, base, sizeof base);
        size_t bl = strlen(base);
        for (int n = 2;; n++) {
            int clash = 0;
            for (int j = 0; j < i && !clash; j++) clash = !strcasecmp(fnames[j], base);
            if (!clash) break;
            snprintf(base + bl, sizeof base - bl, "_%d", n);
        }
        memcpy(fnames[i], base, sizeof base);
    }
    if (json) printf("{\"model\": "), json_str(stdout, path), printf(", \"run_ms\": %.3f, \"outputs\": [", ms);
    for (int i = 0; i < no; i++) {
        nne_value_info vi;
        nne_tensor t;
        nne_model_output_info(m, i, &vi);
        nne_session_output(s, i, &t);
        if (!nne_dtype_size(t.dtype)) { /* a sequence, an empty optional, a string tensor */
            if (json) printf("]}\n");
            rc = cli_usage_error("output \"%s\" is not a numeric tensor (%s); it cannot be written as .npy", vi.name,
                                 nne_dtype_name(t.dtype));
            goto done;
        }
        char full[4400];
        if ((size_t)snprintf(full, sizeof full, "%s/%s.npy", outdir, fnames[i]) >= sizeof full) {
            if (json) printf("]}\n");
            rc = cli_usage_error("output directory %s: path too long", outdir);
            goto done;
        }
        if ((st = nne_npy_write_file(full, &t)) != NNE_OK) {
            if (json) printf("]}\n");
            rc = cli_fail(st, NULL);
            goto done;
        }
        char dims[256];
        size_t off = 0;
        dims[0] = 0;
        for (int d = 0; d < t.ndim && off < sizeof dims; d++)
            off += (size_t)snprintf(dims + off, sizeof dims - off, d ? "x%lld" : "%lld", (long long)t.dims[d]);
        if (json) {
            printf("%s{\"name\": ", i ? ", " : "");
            json_str(stdout, vi.name);
            printf(", \"file\": ");
            json_str(stdout, full);
            printf(", \"dtype\": \"%s\", \"shape\": ", nne_dtype_name(t.dtype));
            json_dims(stdout, t.ndim, t.dims);
            printf("}");
        } else {
            /* the mapping output name -> file; names may hold any byte */
            json_str(stdout, vi.name);
            printf(": %s [%s] -> ", nne_dtype_name(t.dtype), t.ndim ? dims : "scalar");
            json_str(stdout, full);
            printf("\n");
        }
    }
    if (json) printf("]}\n");
    else printf("ran in %.3f ms\n", ms);
    rc = EXIT_OK;
done:
    nne_session_destroy(s);
    nne_model_destroy(m);
    for (int k = 0; k < nin; k++) nne_tensor_free_data(&ins[k]);
    free(names);
    free(files);
    free(ins);
    free(inames);
    free(fnames);
    return rc;
}
