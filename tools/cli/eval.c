/*
 * eval.c - `nnedge eval MODEL --data X.npy --labels Y.npy [--scale S]
 * [--json]`: top-1/top-5 accuracy of a classifier over samples on axis 0.
 * uint8 (or any) data is converted to the model's float input and multiplied
 * by S. Batches follow the model's batch dim (symbolic: 64 at a time).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static double elem(const nne_tensor *t, int64_t i) {
    switch (t->dtype) {
    case NNE_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case NNE_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case NNE_DTYPE_FLOAT16: return nne_f16_to_f32(((const uint16_t *)t->data)[i]);
    case NNE_DTYPE_UINT8: case NNE_DTYPE_BOOL: return ((const uint8_t *)t->data)[i];
    case NNE_DTYPE_INT8: return ((const int8_t *)t->data)[i];
    case NNE_DTYPE_INT16: return ((const int16_t *)t->data)[i];
    case NNE_DTYPE_UINT16: return ((const uint16_t *)t->data)[i];
    case NNE_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    case NNE_DTYPE_UINT32: return ((const uint32_t *)t->data)[i];
    case NNE_DTYPE_INT64: return (double)((const int64_t *)t->data)[i];
    case NNE_DTYPE_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: return 0;
    }
}

static void store(nne_tensor *t, int64_t i, double v) {
    switch (t->dtype) {
    case NNE_DTYPE_FLOAT: ((float *)t->data)[i] = (float)v; break;
    case NNE_DTYPE_DOUBLE: ((double *)t->data)[i] = v; break;
    case NNE_DTYPE_FLOAT16: ((uint16_t *)t->data)[i] = nne_f32_to_f16((float)v); break;
    case NNE_DTYPE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
    case NNE_DTYPE_INT8: ((int8_t *)t->data)[i] = (int8_t)v; break;
    default: break;
    }
}

int cli_eval(int argc, char **argv) {
    const char *path = NULL, *data_path = NULL, *label_path = NULL;
    double scale = 1.0;
    int json = 0, rc = EXIT_BAD_INPUT;
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_tensor X = {0}, Y = {0}, in = {0};
    nne_status st;
    cli_limits lim = {0};
    int lr;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--data") && i + 1 < argc) data_path = argv[++i];
        else if (!strcmp(a, "--labels") && i + 1 < argc) label_path = argv[++i];
        else if (!strcmp(a, "--scale") && i + 1 < argc) {
            char *e;
            scale = strtod(argv[++i], &e);
            if (*e || !argv[i][0]) return cli_usage_error("--scale %s: expected a number", argv[i]);
        } else if ((lr = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr < 0) return EXIT_BAD_INPUT;
        } else if (a[0] == '-') return cli_usage_error("eval: unknown option %s", a);
        else if (!path) path = a;
        else return cli_usage_error("eval: more than one model given");
    }
    if (!path || !data_path || !label_path)
        return cli_usage_error("eval: usage: nnedge eval MODEL --data X.npy --labels Y.npy [--scale S]");
    if ((st = cli_load_model(path, &lim, NULL, &m)) != NNE_OK) return cli_fail(st, NULL);
    if ((st = nne_npy_read_file(data_path, &X)) != NNE_OK || (st = nne_npy_read_file(label_path, &Y)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    if (nne_model_num_inputs(m) != 1) {
        rc = cli_usage_error("eval: the model has %d inputs; eval needs a single-input classifier",
                             nne_model_num_inputs(m));
        goto done;
    }
    if (X.ndim < 1 || Y.ndim < 1 || Y.dims[0] != X.dims[0] || (Y.dtype == NNE_DTYPE_FLOAT || Y.dtype == NNE_DTYPE_DOUBLE || Y.dtype == NNE_DTYPE_FLOAT16)) {
        rc = cli_usage_error("eval: labels must be integers with one per sample (data has %lld samples)",
                             X.ndim ? (long long)X.dims[0] : 0LL);
        goto done;
    }
    nne_value_info vi;
    nne_model_input_info(m, 0, &vi);
    int64_t N = X.dims[0];
    int64_t per = N ? nne_tensor_numel(&X) / N : 0;
    /* model sample shape: declared dims after the batch dim */
    int64_t mper = 1;
    for (int d = 1; d < vi.ndim; d++) mper *= vi.dims[d] < 0 ? 1 : vi.dims[d];
    if (vi.ndim < 1 || mper != per) {
        rc = cli_usage_error("eval: each sample has %lld values but the model input \"%s\" takes %lld", (long long)per,
                             vi.name, (long long)mper);
        goto done;
    }
    int64_t B = vi.dims[0] > 0 ? vi.dims[0] : (N < 64 ? N : 64);
    if (B <= 0) {
        rc = cli_usage_error("eval: no samples in %s", data_path);
        goto done;
    }
    in.dtype = vi.dtype;
    in.ndim = vi.ndim;
    for (int d = 0; d < vi.ndim; d++) in.dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
    nne_session_options so = nne_session_options_default();
    if (!cli_limits_charge(&lim, nne_tensor_nbytes(&X), data_path) ||
        !cli_limits_charge(&lim, nne_tensor_nbytes(&Y), label_path) ||
        !cli_limits_charge(&lim, (size_t)(B * per) * nne_dtype_size(in.dtype), "the input batch") ||
        !cli_limits_apply(&lim, &so))
        goto done;
    if ((st = nne_session_create(m, &so, &s)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    in.data = malloc((size_t)(B * per) * nne_dtype_size(in.dtype) + 1);
    int64_t top1 = 0, top5 = 0, done_n = 0, prepared_b = -1;
    const char *iname = vi.name;
    for (int64_t b0 = 0; b0 < N; b0 += B) {
        int64_t nb = N - b0 < B ? N - b0 : B;
        if (vi.dims[0] > 0 && nb != B) break; /* fixed batch: drop the remainder */
        in.dims[0] = nb;
        if (nb != prepared_b) {
            if ((st = nne_session_prepare(s, 1, &iname, &in)) != NNE_OK) {
                rc = cli_fail(st, NULL);
                goto done;
            }
            prepared_b = nb;
        }
        for (int64_t i = 0; i < nb * per; i++) store(&in, i, elem(&X, b0 * per + i) * scale);
        if ((st = nne_session_set_input(s, iname, &in)) != NNE_OK || (st = nne_session_run(s)) != NNE_OK) {
            rc = cli_fail(st, NULL);
            goto done;
        }
        nne_tensor out;
        nne_session_output(s, 0, &out);
        int64_t C = nb ? nne_tensor_numel(&out) / nb : 0;
        if (C <= 0 || nne_tensor_numel(&out) != nb * C) {
            rc = cli_usage_error("eval: output 0 has no per-sample scores");
            goto done;
        }
        for (int64_t i = 0; i < nb; i++) {
            int64_t label = (int64_t)elem(&Y, b0 + i);
            double sl = label >= 0 && label < C ? elem(&out, i * C + label) : -1e300;
            int64_t better = 0;
            for (int64_t c = 0; c < C; c++) {
                double v = elem(&out, i * C + c);
                if (v > sl || (v == sl && c < label)) better++;
            }
            if (label >= 0 && label < C) {
                top1 += better == 0;
                top5 += better < 5;
            }
        }
        done_n += nb;
    }
    if (json)
        printf("{\"model\": \"%s\", \"top1\": %.6f, \"top5\": %.6f, \"n\": %lld}\n", path,
               done_n ? (double)top1 / done_n : 0.0, done_n ? (double)top5 / done_n : 0.0, (long long)done_n);
    else
        printf("top1 %.4f  top5 %.4f  n %lld\n", done_n ? (double)top1 / done_n : 0.0,
               done_n ? (double)top5 / done_n : 0.0, (long long)done_n);
    rc = EXIT_OK;
done:
    nne_session_destroy(s);
    nne_model_destroy(m);
    nne_tensor_free_data(&X);
    nne_tensor_free_data(&Y);
    free(in.data);
    return rc;
}
