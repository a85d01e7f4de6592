/*
 * prune.c - `nnedge prune MODEL -o OUT.onnx (--sparsity R | --threshold-ratio A)
 * [--structured] [--json]`: magnitude pruning of the Conv/Gemm/MatMul
 * weights (nne_model_prune): unstructured zeroes weights, --structured
 * removes output channels and the matching consumer inputs so the graph
 * itself shrinks. Prints weights, zeros and MACs before and after.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* MACs of one sample (symbolic dims 1), -1 when the model cannot be prepared.
 * Uses a session: call it on a model no trainer or edit will touch again. */
static int64_t model_macs(nne_model *m) {
    int ni = nne_model_num_inputs(m);
    if (ni < 1 || ni > 16) return -1;
    nne_tensor ins[16];
    const char *names[16];
    memset(ins, 0, sizeof ins);
    if (cli_input_shapes(m, 0, NULL, NULL, ins) != NNE_OK) return -1;
    for (int i = 0; i < ni; i++) {
        nne_value_info vi;
        nne_model_input_info(m, i, &vi);
        names[i] = vi.name;
    }
    nne_session *s = NULL;
    int64_t macs = -1;
    if (nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, ni, names, ins) == NNE_OK)
        macs = nne_session_macs(s);
    nne_session_destroy(s);
    return macs;
}

int cli_prune(int argc, char **argv) {
    const char *path = NULL, *out_path = NULL;
    double sparsity = -1, ratio = -1;
    int structured = 0, json = 0, lr;
    cli_limits lim = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--structured")) structured = 1;
        else if (!strcmp(a, "-o")) {
            if (!(v = cli_opt_value(argc, argv, &i, "OUT.onnx"))) return EXIT_BAD_INPUT;
            out_path = v;
        } else if (!strcmp(a, "--sparsity") || !strcmp(a, "--threshold-ratio")) {
            if (!(v = cli_opt_value(argc, argv, &i, "a number"))) return EXIT_BAD_INPUT;
            char *e;
            double d = strtod(v, &e);
            int sp = !strcmp(a, "--sparsity");
            if (!v[0] || *e || !isfinite(d) || (sp ? (d < 0 || d >= 1) : (d <= 0 || d >= 1)))
                return cli_usage_error("%s %s: expected a number in %s", a, v, sp ? "[0, 1)" : "(0, 1)");
            if (sp) sparsity = d;
            else ratio = d;
        } else if ((lr = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr < 0) return EXIT_BAD_INPUT;
        } else if (a[0] == '-') return cli_usage_error("prune: unknown option %s", a);
        else if (!path) path = a;
        else return cli_usage_error("prune: more than one model given");
    }
    if (!path || !out_path || (sparsity < 0) == (ratio < 0))
        return cli_usage_error("prune: usage: nnedge prune MODEL -o OUT.onnx (--sparsity R | --threshold-ratio A) "
                               "[--structured]");
    if (structured && sparsity < 0) return cli_usage_error("prune: --structured takes --sparsity R (channels to remove)");
    nne_model *m = NULL;
    nne_status st;
    if ((st = cli_load_model(path, &lim, NULL, &m)) != NNE_OK) return cli_fail(st, NULL);
    int64_t macs0 = -1;
    {
        nne_model *m0 = NULL;
        if (cli_load_model(path, &lim, NULL, &m0) == NNE_OK) macs0 = model_macs(m0);
        nne_model_destroy(m0);
    }
    nne_prune_options o = nne_prune_options_default();
    o.sparsity = sparsity < 0 ? 0 : (float)sparsity;
    o.threshold_ratio = ratio < 0 ? 0 : (float)ratio;
    o.structured = structured;
    nne_prune_report r;
    int rc = EXIT_BAD_INPUT;
    if ((st = nne_model_prune(m, &o, &r)) != NNE_OK) {
        rc = cli_fail(st, path);
        goto done;
    }
    if ((st = nne_model_save_file(m, out_path, NULL)) != NNE_OK) {
        rc = cli_fail(st, out_path);
        goto done;
    }
    /* MACs of the written graph: load it back (shapes are inferred afresh) */
    nne_model *m2 = NULL;
    int64_t macs1 = -1;
    if (nne_model_load_file(out_path, NULL, &m2) == NNE_OK) macs1 = model_macs(m2);
    nne_model_destroy(m2);
    if (json)
        printf("{\"layers\": %d, \"weights_before\": %lld, \"weights_after\": %lld, \"zeros_before\": %lld, "
               "\"zeros_after\": %lld, \"sparsity\": %.6f, \"channels_removed\": %lld, \"macs_before\": %lld, "
               "\"macs_after\": %lld}\n",
               r.layers, (long long)r.weights_before, (long long)r.weights_after, (long long)r.zeros_before,
               (long long)r.zeros_after, r.weights_after ? (double)r.zeros_after / (double)r.weights_after : 0.0,
               (long long)r.channels_removed, (long long)macs0, (long long)macs1);
    else
        printf("pruned %d layers: weights %lld -> %lld, zeros %lld -> %lld (sparsity %.2f%%), channels removed %lld, "
               "MACs %lld -> %lld\nwrote %s\n",
               r.layers, (long long)r.weights_before, (long long)r.weights_after, (long long)r.zeros_before,
               (long long)r.zeros_after, r.weights_after ? 100.0 * (double)r.zeros_after / (double)r.weights_after : 0.0,
               (long long)r.channels_removed, (long long)macs0, (long long)macs1, out_path);
    rc = EXIT_OK;
done:
    nne_model_destroy(m);
    return rc;
}
