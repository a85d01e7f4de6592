/*
 * eval.c - `nnedge eval MODEL --data X.npy --labels Y.npy [--scale S]
 * [--json]`: top-1/top-5 accuracy of a classifier over samples on axis 0.
 * The data (any numeric dtype) is multiplied by S and converted to the
 * model's input dtype; a value the input dtype cannot hold exactly (0.5 for
 * an int64 input, 300 for uint8) is an error, not a silent rounding.
 * Batches follow the model's batch dim: a fixed batch must divide the sample
 * count; a symbolic one runs 64 samples at a time and the rest as a smaller
 * batch. Labels are integers in [0, classes), one per sample ((N,) or
 * (N,1)). NaN or infinite scores are an error: no comparison with them
 * means anything.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double elem(const nne_tensor *t, int64_t i) {
    switch (t->dtype) {
    case NNE_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case NNE_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case NNE_DTYPE_FLOAT16: return nne_f16_to_f32(((const uint16_t *)t->data)[i]);
    case NNE_DTYPE_BFLOAT16: return nne_bf16_to_f32(((const uint16_t *)t->data)[i]);
    case NNE_DTYPE_UINT8: case NNE_DTYPE_BOOL: return ((const uint8_t *)t->data)[i];
    case NNE_DTYPE_INT8: return ((const int8_t *)t->data)[i];
    case NNE_DTYPE_INT16: return ((const int16_t *)t->data)[i];
    case NNE_DTYPE_UINT16: return ((const uint16_t *)t->data)[i];
    case NNE_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    case NNE_DTYPE_UINT32: return ((const uint32_t *)t->data)[i];
    case NNE_DTYPE_INT64: return (double)((const int64_t *)t->data)[i];
    case NNE_DTYPE_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: return NAN;
    }
}

static int is_float(nne_dtype dt) {
    return dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_DOUBLE || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
}
static int is_int(nne_dtype dt) {
    return nne_dtype_size(dt) && !is_float(dt) && dt != NNE_DTYPE_BOOL;
}

/* Store v as element i of t. Returns 0 when the dtype cannot hold v: integer
 * inputs take only integral values in their range (bool only 0 and 1). */
static int store(nne_tensor *t, int64_t i, double v) {
    void *p = t->data;
    if (!is_float(t->dtype) && (v != v || v != floor(v))) return 0;
    switch (t->dtype) {
    case NNE_DTYPE_FLOAT: ((float *)p)[i] = (float)v; return 1;
    case NNE_DTYPE_DOUBLE: ((double *)p)[i] = v; return 1;
    case NNE_DTYPE_FLOAT16: ((uint16_t *)p)[i] = nne_f32_to_f16((float)v); return 1;
    case NNE_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = nne_f32_to_bf16((float)v); return 1;
    case NNE_DTYPE_BOOL: if (v != 0 && v != 1) return 0; ((uint8_t *)p)[i] = (uint8_t)v; return 1;
    case NNE_DTYPE_UINT8: if (v < 0 || v > UINT8_MAX) return 0; ((uint8_t *)p)[i] = (uint8_t)v; return 1;
    case NNE_DTYPE_INT8: if (v < INT8_MIN || v > INT8_MAX) return 0; ((int8_t *)p)[i] = (int8_t)v; return 1;
    case NNE_DTYPE_UINT16: if (v < 0 || v > UINT16_MAX) return 0; ((uint16_t *)p)[i] = (uint16_t)v; return 1;
    case NNE_DTYPE_INT16: if (v < INT16_MIN || v > INT16_MAX) return 0; ((int16_t *)p)[i] = (int16_t)v; return 1;
    case NNE_DTYPE_UINT32: if (v < 0 || v > UINT32_MAX) return 0; ((uint32_t *)p)[i] = (uint32_t)v; return 1;
    case NNE_DTYPE_INT32: if (v < INT32_MIN || v > INT32_MAX) return 0; ((int32_t *)p)[i] = (int32_t)v; return 1;
    /* 2^63 and 2^64 are exact doubles: the ranges are half-open */
    case NNE_DTYPE_UINT64: if (v < 0 || v >= 18446744073709551616.0) return 0; ((uint64_t *)p)[i] = (uint64_t)v; return 1;
    case NNE_DTYPE_INT64:
        if (v < -9223372036854775808.0 || v >= 9223372036854775808.0) return 0;
        ((int64_t *)p)[i] = (int64_t)v;
        return 1;
    default: return 0;
    }
}

/* Label i as a class index; 0 and a message in `why` when it is not one. */
static int label_at(const nne_tensor *Y, int64_t i, int64_t classes, int64_t *out, char *why, size_t cap) {
    if (Y->dtype == NNE_DTYPE_UINT64) {
        uint64_t u = ((const uint64_t *)Y->data)[i];
        if (u >= (uint64_t)classes) {
            snprintf(why, cap, "label %llu of sample %lld is outside the model's classes [0, %lld)",
                     (unsigned long long)u, (long long)i, (long long)classes);
            return 0;
        }
        *out = (int64_t)u;
        return 1;
    }
    int64_t v = Y->dtype == NNE_DTYPE_INT64 ? ((const int64_t *)Y->data)[i] : (int64_t)elem(Y, i);
    if (v < 0 || v >= classes) {
        snprintf(why, cap, "label %lld of sample %lld is outside the model's classes [0, %lld)", (long long)v,
                 (long long)i, (long long)classes);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_eval(int argc, char **argv) {
    const char *path = NULL, *data_path = NULL, *label_path = NULL;
    double scale = 1.0;
    long threads = 1;
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
        else if (!strcmp(a, "--data")) {
            if (!(data_path = cli_opt_value(argc, argv, &i, "X.npy (the samples)"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--labels")) {
            if (!(label_path = cli_opt_value(argc, argv, &i, "Y.npy (the labels)"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--scale")) {
            const char *v = cli_opt_value(argc, argv, &i, "S (a finite number)");
            if (!v) return EXIT_BAD_INPUT;
            char *e;
            scale = strtod(v, &e);
            if (*e || !v[0] || !isfinite(scale))
                return cli_usage_error("--scale %s: expected a finite number", v);
        } else if (!strcmp(a, "--threads")) {
            const char *v = cli_opt_value(argc, argv, &i, "N (threads, 1 to 1024)");
            if (!v) return EXIT_BAD_INPUT;
            if (!cli_parse_int(v, 1, 1024, &threads)) return cli_usage_error("--threads %s: expected a number from 1 to 1024", v);
        } else if ((lr = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr < 0) return EXIT_BAD_INPUT;
        } else if (a[0] == '-') return cli_usage_error("eval: unknown option %s", a);
        else if (!path) path = a;
        else return cli_usage_error("eval: more than one model given");
    }
    if (!path || !data_path || !label_path)
        return cli_usage_error("eval: usage: nnedge eval MODEL --data X.npy --labels Y.npy [--scale S] [--threads N]");
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
    if (X.ndim < 1 || X.dims[0] == 0) {
        rc = cli_usage_error("eval: %s has no samples (shape must be (N, ...) with N > 0)", data_path);
        goto done;
    }
    int64_t N = X.dims[0];
    if (!is_int(Y.dtype) || !(Y.ndim == 1 || (Y.ndim == 2 && Y.dims[1] == 1)) || Y.dims[0] != N) {
        char b[160];
        size_t off = 0;
        b[0] = 0;
        for (int d = 0; d < Y.ndim && off < sizeof b; d++)
            off += (size_t)snprintf(b + off, sizeof b - off, d ? "x%lld" : "%lld", (long long)Y.dims[d]);
        rc = cli_usage_error("eval: labels must be integers of shape (%lld,) or (%lld, 1), one per sample; %s holds "
                             "%s of shape %s",
                             (long long)N, (long long)N, label_path, nne_dtype_name(Y.dtype), Y.ndim ? b : "scalar");
        goto done;
    }
    nne_value_info vi;
    nne_model_input_info(m, 0, &vi);
    if (!nne_dtype_size(vi.dtype)) {
        rc = cli_usage_error("eval: the model input \"%s\" has dtype %s, which eval cannot fill", vi.name,
                             nne_dtype_name(vi.dtype));
        goto done;
    }
    if (vi.ndim < 1) {
        rc = cli_usage_error("eval: the model input \"%s\" has %s; eval needs a batch axis", vi.name,
                             vi.ndim < 0 ? "no declared shape" : "rank 0");
        goto done;
    }
    int64_t per = nne_tensor_numel(&X) / N;
    /* the sample shape: the data's when the ranks agree (filling symbolic
     * dims), else the model's, which must then be fully known */
    in.dtype = vi.dtype;
    in.ndim = vi.ndim;
    int64_t mper = 1;
    int shape_ok = 1;
    for (int d = 1; d < vi.ndim; d++) {
        if (vi.ndim == X.ndim) {
            in.dims[d] = X.dims[d];
            shape_ok &= vi.dims[d] < 0 || vi.dims[d] == X.dims[d];
        } else {
            in.dims[d] = vi.dims[d];
            shape_ok &= vi.dims[d] >= 0;
        }
        if (shape_ok && __builtin_mul_overflow(mper, in.dims[d], &mper)) shape_ok = 0;
    }
    if (!shape_ok || mper != per) {
        rc = cli_usage_error("eval: each sample of %s has %lld values, which do not fit the model input \"%s\" (rank "
                             "%d)",
                             data_path, (long long)per, vi.name, vi.ndim);
        goto done;
    }
    int fixed = vi.dims[0] > 0;
    int64_t B = fixed ? vi.dims[0] : (N < 64 ? N : 64);
    if (fixed && N % B != 0) {
        rc = cli_usage_error("eval: the model has a fixed batch of %lld, which does not divide the %lld samples of %s",
                             (long long)B, (long long)N, data_path);
        goto done;
    }
    in.dims[0] = B;
    size_t inbytes;
    if ((st = nne_tensor_nbytes_checked(&in, &inbytes)) != NNE_OK) {
        rc = cli_fail(st, "eval: model input");
        goto done;
    }
    nne_session_options so = nne_session_options_default();
    so.threads = (int32_t)threads;
    if (!cli_limits_charge(&lim, nne_tensor_nbytes(&X), data_path) ||
        !cli_limits_charge(&lim, nne_tensor_nbytes(&Y), label_path) ||
        !cli_limits_charge(&lim, inbytes, "the input batch") || !cli_limits_apply(&lim, &so))
        goto done;
    if ((st = nne_session_create(m, &so, &s)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    in.data = malloc(inbytes ? inbytes : 1);
    if (!in.data) {
        rc = cli_usage_error("eval: cannot allocate %zu bytes for a batch of %lld samples", inbytes, (long long)B);
        goto done;
    }
    int64_t top1 = 0, top5 = 0, done_n = 0, prepared_b = -1;
    const char *iname = vi.name;
    for (int64_t b0 = 0; b0 < N; b0 += B) {
        int64_t nb = N - b0 < B ? N - b0 : B; /* smaller only with a symbolic batch */
        in.dims[0] = nb;
        if (nb != prepared_b) {
            if ((st = nne_session_prepare(s, 1, &iname, &in)) != NNE_OK) {
                rc = cli_fail(st, NULL);
                goto done;
            }
            prepared_b = nb;
        }
        for (int64_t i = 0; i < nb * per; i++) {
            double v = elem(&X, b0 * per + i) * scale;
            if (!store(&in, i, v)) {
                rc = cli_usage_error("eval: value %g of sample %lld (times --scale %g) cannot be stored in the model "
                                     "input \"%s\" of dtype %s",
                                     elem(&X, b0 * per + i), (long long)(b0 + i / per), scale, vi.name,
                                     nne_dtype_name(vi.dtype));
                goto done;
            }
        }
        if ((st = nne_session_set_input(s, iname, &in)) != NNE_OK || (st = nne_session_run(s)) != NNE_OK) {
            rc = cli_fail(st, NULL);
            goto done;
        }
        nne_tensor out;
        if ((st = nne_session_output(s, 0, &out)) != NNE_OK) {
            rc = cli_fail(st, NULL);
            goto done;
        }
        int64_t on = nne_tensor_numel(&out);
        int64_t C = on > 0 ? on / nb : 0;
        if (((out.ndim < 1 || out.dims[0] != nb) && nb != 1) || C <= 0 || on != nb * C || !nne_dtype_size(out.dtype) ||
            out.dtype == NNE_DTYPE_BOOL) {
            rc = cli_usage_error("eval: output 0 has no per-sample scores (a batch of %lld gave %s of %lld values)",
                                 (long long)nb, nne_dtype_name(out.dtype), (long long)on);
            goto done;
        }
        for (int64_t i = 0; i < nb; i++) {
            int64_t label;
            char why[200];
            if (!label_at(&Y, b0 + i, C, &label, why, sizeof why)) {
                rc = cli_usage_error("eval: %s: %s", label_path, why);
                goto done;
            }
            double sl = elem(&out, i * C + label);
            int64_t better = 0;
            for (int64_t c = 0; c < C; c++) {
                double v = elem(&out, i * C + c);
                if (!isfinite(v)) {
                    rc = cli_usage_error("eval: the model's score %lld of sample %lld is %s; no accuracy can be "
                                         "computed",
                                         (long long)c, (long long)(b0 + i), isnan(v) ? "NaN" : "infinite");
                    goto done;
                }
                if (v > sl || (v == sl && c < label)) better++;
            }
            top1 += better == 0;
            top5 += better < 5;
        }
        done_n += nb;
    }
    if (json) {
        printf("{\"model\": ");
        json_str(stdout, path);
        printf(", \"top1\": %.6f, \"top5\": %.6f, \"n\": %lld}\n", (double)top1 / (double)done_n,
               (double)top5 / (double)done_n, (long long)done_n);
    } else {
        printf("top1 %.4f  top5 %.4f  n %lld\n", (double)top1 / (double)done_n, (double)top5 / (double)done_n,
               (long long)done_n);
    }
    rc = EXIT_OK;
done:
    nne_session_destroy(s);
    nne_model_destroy(m);
    nne_tensor_free_data(&X);
    nne_tensor_free_data(&Y);
    free(in.data);
    return rc;
}
