/*
 * info.c - `nnedge info MODEL [--shape NAME=DIMS]... [--json]`: inputs,
 * outputs, opset, op histogram, parameters, MACs, sparsity, unsupported ops.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

typedef struct op_row {
    char name[160];
    int count, supported;
} op_row;

typedef struct ops_acc {
    op_row rows[512];
    int n;
} ops_acc;

static void visit(void *user, const char *domain, const char *op_type, int32_t count, int supported) {
    ops_acc *a = user;
    if (a->n >= 512) return;
    op_row *r = &a->rows[a->n++];
    snprintf(r->name, sizeof r->name, "%s%s%s", domain, domain[0] ? ":" : "", op_type);
    r->count = count;
    r->supported = supported;
}

static int cmp_rows(const void *x, const void *y) {
    const op_row *a = x, *b = y;
    if (a->count != b->count) return b->count - a->count;
    return strcmp(a->name, b->name);
}

static void print_vi(FILE *f, const nne_value_info *vi, int json) {
    if (json) {
        fprintf(f, "{\"name\": ");
        json_str(f, vi->name);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", nne_dtype_name(vi->dtype));
        for (int d = 0; d < vi->ndim; d++) {
            if (d) fprintf(f, ", ");
            if (vi->dims[d] >= 0) fprintf(f, "%lld", (long long)vi->dims[d]);
            else if (vi->dim_names[d]) json_str(f, vi->dim_names[d]);
            else fprintf(f, "null");
        }
        fprintf(f, "]}");
        return;
    }
    fprintf(f, "  %s: %s [", vi->name, nne_dtype_name(vi->dtype));
    if (vi->ndim < 0) fprintf(f, "unknown rank");
    for (int d = 0; d < vi->ndim; d++) {
        if (d) fprintf(f, ", ");
        if (vi->dims[d] >= 0) fprintf(f, "%lld", (long long)vi->dims[d]);
        else fprintf(f, "%s", vi->dim_names[d] ? vi->dim_names[d] : "?");
    }
    fprintf(f, "]\n");
}

int cli_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0, nshape = 0;
    char (*names)[256] = calloc((size_t)argc + 1, 256);
    nne_tensor *shapes = calloc((size_t)argc + 1, sizeof *shapes);
    int rc = EXIT_BAD_INPUT;
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_tensor *ins = NULL;
    ops_acc *acc = calloc(1, sizeof *acc);
    cli_limits lim = {0};
    int lr;
    if (!names || !shapes || !acc) {
        rc = cli_usage_error("out of memory");
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--shape")) {
            const char *v = cli_opt_value(argc, argv, &i, "NAME=DIMS like input=1x3x224x224");
            if (!v) goto done;
            if (!cli_parse_shape(v, names[nshape], 256, &shapes[nshape])) {
                rc = cli_usage_error("--shape %s: expected NAME=DIMS like input=1x3x224x224 (dims >= 0, at most %d, "
                                     "element count below 2^63)", v, NNE_MAX_DIMS);
                goto done;
            }
            nshape++;
        } else if ((lr = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr < 0) goto done;
        } else if (argv[i][0] == '-') {
            rc = cli_usage_error("info: unknown option %s", argv[i]);
            goto done;
        } else if (!path) path = argv[i];
        else {
            rc = cli_usage_error("info: more than one model given");
            goto done;
        }
    }
    if (!path) {
        rc = cli_usage_error("info: no model given (nnedge info MODEL)");
        goto done;
    }
    nne_model_options mo = nne_model_options_default();
    mo.allow_unsupported = 1;
    nne_status st = cli_load_model(path, &lim, &mo, &m);
    if (st != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    nne_model_stats ms;
    nne_model_stats_get(m, &ms);
    nne_model_visit_ops(m, visit, acc);
    qsort(acc->rows, (size_t)acc->n, sizeof acc->rows[0], cmp_rows);
    int n_unsup = 0;
    for (int i = 0; i < acc->n; i++) n_unsup += !acc->rows[i].supported;
    /* MACs need shapes: prepare when every op is supported */
    int64_t macs = -1;
    size_t arena = 0;
    const char *macs_err = NULL;
    int ni = nne_model_num_inputs(m);
    ins = calloc((size_t)ni + 1, sizeof *ins);
    if (!ins) {
        rc = cli_usage_error("out of memory");
        goto done;
    }
    if (!n_unsup) {
        st = cli_input_shapes(m, nshape, names, shapes, ins);
        if (st != NNE_OK) goto done;
        const char **inames = calloc((size_t)ni + 1, sizeof *inames);
        if (!inames) {
            rc = cli_usage_error("out of memory");
            goto done;
        }
        for (int i = 0; i < ni; i++) {
            nne_value_info vi;
            nne_model_input_info(m, i, &vi);
            inames[i] = vi.name;
        }
        nne_session_options so = nne_session_options_default();
        if (!cli_limits_apply(&lim, &so)) {
            free(inames);
            goto done;
        }
        if ((st = nne_session_create(m, &so, &s)) == NNE_OK &&
            (st = nne_session_prepare(s, ni, inames, ins)) == NNE_OK) {
            macs = nne_session_macs(s);
            arena = nne_session_arena_bytes(s);
        } else {
            macs_err = nne_last_error();
        }
        free(inames);
    }
    double sparsity = ms.params ? (double)ms.zero_params / (double)ms.params : 0.0;
    FILE *o = stdout;
    int no = nne_model_num_outputs(m);
    if (json) {
        fprintf(o, "{\"model\": ");
        json_str(o, path);
        fprintf(o, ", \"ir_version\": %lld, \"opset\": %lld, \"inputs\": [", (long long)ms.ir_version,
                (long long)ms.opset);
        for (int i = 0; i < ni; i++) {
            nne_value_info vi;
            nne_model_input_info(m, i, &vi);
            if (i) fprintf(o, ", ");
            print_vi(o, &vi, 1);
        }
        fprintf(o, "], \"outputs\": [");
        for (int i = 0; i < no; i++) {
            nne_value_info vi;
            nne_model_output_info(m, i, &vi);
            if (i) fprintf(o, ", ");
            print_vi(o, &vi, 1);
        }
        fprintf(o, "], \"nodes\": %d, \"ops\": {", ms.num_nodes);
        for (int i = 0; i < acc->n; i++) {
            if (i) fprintf(o, ", ");
            json_str(o, acc->rows[i].name);
            fprintf(o, ": %d", acc->rows[i].count);
        }
        fprintf(o, "}, \"params\": %lld, \"param_bytes\": %lld, ", (long long)ms.params, (long long)ms.param_bytes);
        if (macs >= 0) fprintf(o, "\"macs\": %lld, \"arena_bytes\": %zu, ", (long long)macs, arena);
        else fprintf(o, "\"macs\": null, ");
        fprintf(o, "\"sparsity\": %.6f, \"unsupported\": [", sparsity);
        int k = 0;
        for (int i = 0; i < acc->n; i++)
            if (!acc->rows[i].supported) {
                if (k++) fprintf(o, ", ");
                json_str(o, acc->rows[i].name);
            }
        fprintf(o, "]}\n");
    } else {
        fprintf(o, "model: %s\nir_version: %lld  opset: %lld  nodes: %d\ninputs:\n", path, (long long)ms.ir_version,
                (long long)ms.opset, ms.num_nodes);
        for (int i = 0; i < ni; i++) {
            nne_value_info vi;
            nne_model_input_info(m, i, &vi);
            print_vi(o, &vi, 0);
        }
        fprintf(o, "outputs:\n");
        for (int i = 0; i < no; i++) {
            nne_value_info vi;
            nne_model_output_info(m, i, &vi);
            print_vi(o, &vi, 0);
        }
        fprintf(o, "params: %lld (%lld bytes), sparsity %.2f%%\n", (long long)ms.params, (long long)ms.param_bytes,
                100.0 * sparsity);
        if (macs >= 0) fprintf(o, "macs: %lld  arena: %zu bytes\n", (long long)macs, arena);
        else if (macs_err) fprintf(o, "macs: unknown (%s)\n", macs_err);
        fprintf(o, "ops:\n");
        for (int i = 0; i < acc->n; i++)
            fprintf(o, "  %-28s %6d%s\n", acc->rows[i].name, acc->rows[i].count,
                    acc->rows[i].supported ? "" : "  UNSUPPORTED");
        if (n_unsup) fprintf(o, "unsupported ops: %d\n", n_unsup);
    }
    rc = EXIT_OK;
done:
    nne_session_destroy(s);
    nne_model_destroy(m);
    free(names);
    free(shapes);
    free(ins);
    free(acc);
    return rc;
}
