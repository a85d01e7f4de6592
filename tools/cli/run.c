/*
 * run.c - `nnedge run MODEL [-i NAME=FILE.npy]... [-o OUTDIR] [--threads N]
 * [--optimize none|basic|all] [--json]`: runs the model once on .npy inputs
 * and writes every output to OUTDIR/<output name>.npy ('/' and ':' in names
 * become '_'). --optimize (default: env NNE_OPTIMIZE, else none) runs the
 * graph passes on the model first.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void sanitize(const char *in, char *out, size_t cap) {
    size_t k = 0;
    for (; *in && k + 1 < cap; in++) out[k++] = (*in == '/' || *in == ':' || *in == '\\') ? '_' : *in;
    out[k] = 0;
    if (!strcmp(out, ".") || !strcmp(out, "..") || !out[0]) snprintf(out, cap, "output_%s", out[0] ? "dot" : "");
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
    cli_limits lim = {0};
    int lr;
    if (!names || !files || !ins || !inames) {
        rc = cli_usage_error("out of memory");
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "-i") && i + 1 < argc) {
            const char *v = argv[++i], *eq = strchr(v, '=');
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
        } else if (!strcmp(a, "-o") && i + 1 < argc) outdir = argv[++i];
        else if (!strcmp(a, "--optimize") && i + 1 < argc) optimize = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc) {
            if (!cli_parse_int(argv[++i], 1, 1024, &threads)) {
                rc = cli_usage_error("--threads %s: expected a number from 1 to 1024", argv[i]);
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
    if (json) printf("{\"model\": "), json_str(stdout, path), printf(", \"run_ms\": %.3f, \"outputs\": [", ms);
    for (int i = 0; i < no; i++) {
        nne_value_info vi;
        nne_tensor t;
        nne_model_output_info(m, i, &vi);
        nne_session_output(s, i, &t);
        char fname[512], full[4096];
        sanitize(vi.name, fname, sizeof fname);
        snprintf(full, sizeof full, "%s/%s.npy", outdir, fname);
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
            printf("%s: %s [%s] -> %s\n", vi.name, nne_dtype_name(t.dtype), t.ndim ? dims : "scalar", full);
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
    return rc;
}
