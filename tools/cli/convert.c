/*
 * convert.c - `nnedge convert MODEL -o OUT.onnx [--optimize none|basic|all]
 * [--shape NAME=DIMS]... [--external-data NAME] [--external-threshold BYTES]
 * [--max-memory SIZE] ...`:
 * writes the model as ONNX. --shape fixes the declared shape of an input
 * (symbolic dims become numbers). --external-data puts every initializer of
 * at least --external-threshold bytes (default 1024) into the file NAME next
 * to OUT, 64-byte aligned, so nnedge maps it and uses the weights in place.
 * With --optimize none the written graph is the loaded one; basic and all
 * run nne_model_optimize's passes first (after --shape).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int cli_convert(int argc, char **argv) {
    const char *path = NULL, *out = NULL, *level = "none", *ext = NULL;
    long threshold = 0;
    int nshape = 0, rc = EXIT_BAD_INPUT;
    cli_limits lim = {0};
    int lr;
    char (*names)[256] = calloc((size_t)argc + 1, 256);
    nne_tensor *shapes = calloc((size_t)argc + 1, sizeof *shapes);
    nne_model *m = NULL;
    if (!names || !shapes) {
        rc = cli_usage_error("out of memory");
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "-o") || !strcmp(a, "--optimize") || !strcmp(a, "--shape") || !strcmp(a, "--external-data") ||
            !strcmp(a, "--external-threshold")) {
            if (!has_val) {
                rc = cli_usage_error("convert: %s needs a value", a);
                goto done;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "-o")) out = v;
            else if (!strcmp(a, "--optimize")) level = v;
            else if (!strcmp(a, "--external-data")) ext = v;
            else if (!strcmp(a, "--external-threshold")) {
                if (!cli_parse_int(v, 1, 1L << 40, &threshold)) {
                    rc = cli_usage_error("convert: --external-threshold %s: expected a positive number of bytes", v);
                    goto done;
                }
            } else {
                if (!cli_parse_shape(v, names[nshape], 256, &shapes[nshape])) {
                    rc = cli_usage_error("convert: --shape %s: expected NAME=DIMS like input=1x3x224x224", v);
                    goto done;
                }
                nshape++;
            }
        } else if ((lr = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr < 0) goto done;
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error("convert: unknown option %s", a);
            goto done;
        } else if (!path) {
            path = a;
        } else {
            rc = cli_usage_error("convert: unexpected argument %s (one MODEL only)", a);
            goto done;
        }
    }
    if (!path || !out) {
        rc = cli_usage_error("usage: nnedge convert MODEL -o OUT.onnx [--optimize none|basic|all] [--shape NAME=DIMS]...");
        goto done;
    }
    if (strcmp(level, "none") && strcmp(level, "basic") && strcmp(level, "all")) {
        rc = cli_usage_error("convert: --optimize %s: expected none, basic or all", level);
        goto done;
    }
    /* ops nnedge cannot run are still written: converting needs no kernels */
    nne_model_options mo = nne_model_options_default();
    mo.allow_unsupported = 1;
    nne_status st = cli_load_model(path, &lim, &mo, &m);
    if (st != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    for (int k = 0; k < nshape; k++) {
        st = nne_model_set_input_shape(m, names[k], shapes[k].ndim, shapes[k].dims);
        if (st != NNE_OK) {
            rc = cli_fail(st, "--shape");
            goto done;
        }
    }
    /* after --shape: fixed input shapes let the passes fold more */
    nne_opt_level lv = !strcmp(level, "all") ? NNE_OPT_ALL : !strcmp(level, "basic") ? NNE_OPT_BASIC : NNE_OPT_NONE;
    st = nne_model_optimize(m, lv, NULL);
    if (st != NNE_OK) {
        rc = cli_fail(st, "--optimize");
        goto done;
    }
    nne_save_options so = nne_save_options_default();
    so.external_data = ext;
    if (threshold) so.external_threshold = (size_t)threshold;
    st = nne_model_save_file(m, out, &so);
    if (st != NNE_OK) {
        rc = cli_fail(st, "");
        goto done;
    }
    rc = EXIT_OK;
done:
    nne_model_destroy(m);
    free(names);
    free(shapes);
    return rc;
}
