/*
 * app_image.c - what the image applications (app ocr, app classify) share:
 * a model with a session re-prepared when the input shape changes, and image
 * loading with the CLI's error conventions.
 */
#include "app.h"

#include <string.h>

int app_model_open(app_model *am, const char *path, int threads, cli_limits *lim) {
    memset(am, 0, sizeof *am);
    nne_status st;
    if ((st = cli_load_model(path, lim, NULL, &am->m)) != NNE_OK) return cli_fail(st, path);
    if ((st = nne_model_optimize(am->m, NNE_OPT_BASIC, NULL)) != NNE_OK) return cli_fail(st, path);
    if (nne_model_num_inputs(am->m) < 1 || nne_model_num_outputs(am->m) < 1)
        return cli_usage_error("%s: the model has no input or no output", path);
    nne_value_info vi;
    if ((st = nne_model_input_info(am->m, 0, &vi)) != NNE_OK) return cli_fail(st, path);
    snprintf(am->input, sizeof am->input, "%s", vi.name);
    nne_session_options so = nne_session_options_default();
    so.threads = threads;
    if (!cli_limits_apply(lim, &so)) return EXIT_BAD_INPUT;
    if ((st = nne_session_create(am->m, &so, &am->s)) != NNE_OK) return cli_fail(st, path);
    return EXIT_OK;
}

int app_model_run(app_model *am, const nne_tensor *in, nne_tensor *out, const char *what) {
    nne_status st;
    int same = am->prepared && am->shape.dtype == in->dtype && am->shape.ndim == in->ndim &&
               !memcmp(am->shape.dims, in->dims, sizeof(int64_t) * (size_t)in->ndim);
    if (!same) {
        const char *names[1] = {am->input};
        if ((st = nne_session_prepare(am->s, 1, names, in)) != NNE_OK) {
            am->prepared = 0;
            return cli_fail(st, what);
        }
        am->shape = *in;
        am->shape.data = NULL;
        am->prepared = 1;
    }
    if ((st = nne_session_set_input(am->s, am->input, in)) != NNE_OK || (st = nne_session_run(am->s)) != NNE_OK ||
        (st = nne_session_output(am->s, 0, out)) != NNE_OK)
        return cli_fail(st, what);
    if (out->dtype != NNE_DTYPE_FLOAT)
        return cli_usage_error("%s: output 0 is %s; expected float32", what, nne_dtype_name(out->dtype));
    return EXIT_OK;
}

void app_model_close(app_model *am) {
    nne_session_destroy(am->s);
    nne_model_destroy(am->m);
    memset(am, 0, sizeof *am);
}

int app_image_load(const char *path, nne_image *im) {
    nne_status st = nne_image_decode_file(path, 3, 0, im);
    if (st != NNE_OK) return cli_fail(st, NULL);
    return EXIT_OK;
}
