/*
 * bench.c - `nnedge bench MODEL [--shape NAME=DIMS]... [-i NAME=FILE.npy]...
 * [--threads N] [--runs N] [--warmup N] [--json]`: runs the model on random
 * inputs (fixed seed) and reports latency percentiles, prepare time, arena
 * and peak RSS. `-i` takes one input's values (and shape) from a .npy file
 * instead, for models whose control flow depends on an input's value (e.g.
 * a sample rate that picks a branch).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static uint64_t g_seed = 0x9e3779b97f4a7c15ull;
static double rnd(void) {
    g_seed ^= g_seed << 13;
    g_seed ^= g_seed >> 7;
    g_seed ^= g_seed << 17;
    return (double)(g_seed >> 11) / 9007199254740992.0;
}

static void fill_random(nne_tensor *t) {
    int64_t n = nne_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double r = rnd();
        switch (t->dtype) {
        case NNE_DTYPE_FLOAT: ((float *)t->data)[i] = (float)(2 * r - 1); break;
        case NNE_DTYPE_DOUBLE: ((double *)t->data)[i] = 2 * r - 1; break;
        case NNE_DTYPE_FLOAT16: ((uint16_t *)t->data)[i] = nne_f32_to_f16((float)(2 * r - 1)); break;
        case NNE_DTYPE_BFLOAT16: ((uint16_t *)t->data)[i] = nne_f32_to_bf16((float)(2 * r - 1)); break;
        case NNE_DTYPE_BOOL: ((uint8_t *)t->data)[i] = r < 0.5; break;
        case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)(r * 4); break;
        case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)(r * 4); break;
        case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)(r * 4); break;
        case NNE_DTYPE_INT64: case NNE_DTYPE_UINT64: ((uint64_t *)t->data)[i] = (uint64_t)(r * 4); break;
        default: return; /* no other dtype gets here (cli_bench refuses them) */
        }
    }
}

/* Peak resident set of this process in bytes. Linux keeps getrusage's
 * ru_maxrss across execve, so a process started by a big parent (node, a
 * Python test driver) would report the parent's peak; VmHWM in
 * /proc/self/status belongs to this program's own address space. */
static long long peak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long long kb = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
        fclose(f);
        if (kb >= 0) return kb * 1024;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long long)ru.ru_maxrss * 1024;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cli_bench(int argc, char **argv) {
    const char *path = NULL;
    int json = 0, nshape = 0;
    long threads = 1, runs = 20, warmup = 3;
    char (*names)[256] = calloc((size_t)argc + 1, 256);
    nne_tensor *shapes = calloc((size_t)argc + 1, sizeof *shapes);
    int rc = EXIT_BAD_INPUT;
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_tensor *ins = NULL;
    const char **inames = NULL;
    double *times = NULL;
    const char **files = calloc((size_t)argc + 1, sizeof *files); /* -i: per input */
    char (*fnames)[256] = calloc((size_t)argc + 1, 256);
    char *from_npy = NULL; /* per model input: data read by nne_npy_read_file */
    nne_status st;
    int ni = 0, nfile = 0, lr;
    cli_limits lim = {0};
    if (!names || !shapes || !files || !fnames) {
        rc = cli_usage_error("out of memory");
        goto done;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--shape")) {
            const char *v = cli_opt_value(argc, argv, &i, "NAME=DIMS like input=1x3x224x224");
            if (!v) goto done;
            if (!cli_parse_shape(v, names[nshape], 256, &shapes[nshape])) {
                rc = cli_usage_error("--shape %s: expected NAME=DIMS like input=1x3x224x224 (dims >= 0, at most %d, "
                                     "element count below 2^63)", v, NNE_MAX_DIMS);
                goto done;
            }
            nshape++;
        } else if (!strcmp(a, "-i")) {
            const char *v = cli_opt_value(argc, argv, &i, "NAME=FILE.npy"), *eq;
            if (!v) goto done;
            eq = strchr(v, '=');
            if (!eq || eq == v || (size_t)(eq - v) >= 256) {
                rc = cli_usage_error("-i %s: expected NAME=FILE.npy", v);
                goto done;
            }
            memcpy(fnames[nfile], v, (size_t)(eq - v));
            fnames[nfile][eq - v] = 0;
            files[nfile++] = eq + 1;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--runs") || !strcmp(a, "--warmup")) {
            long *dst = a[2] == 't' ? &threads : a[2] == 'r' ? &runs : &warmup;
            long lo = a[2] == 'w' ? 0 : 1, hi = a[2] == 't' ? 1024 : 1000000;
            const char *v = cli_opt_value(argc, argv, &i, a[2] == 't' ? "N (threads)" : "N (runs)");
            if (!v) goto done;
            if (!cli_parse_int(v, lo, hi, dst)) {
                rc = cli_usage_error("%s %s: expected a number from %ld to %ld", a, v, lo, hi);
                goto done;
            }
        } else if ((lr = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr < 0) goto done;
        } else if (a[0] == '-') {
            rc = cli_usage_error("bench: unknown option %s", a);
            goto done;
        } else if (!path) path = a;
        else {
            rc = cli_usage_error("bench: more than one model given");
            goto done;
        }
    }
    if (!path) {
        rc = cli_usage_error("bench: no model given (nnedge bench MODEL)");
        goto done;
    }
    if ((st = cli_load_model(path, &lim, NULL, &m)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    ni = nne_model_num_inputs(m);
    ins = calloc((size_t)ni + 1, sizeof *ins);
    inames = calloc((size_t)ni + 1, sizeof *inames);
    times = calloc((size_t)runs, sizeof *times);
    from_npy = calloc((size_t)ni + 1, 1);
    if (!ins || !inames || !times || !from_npy) {
        rc = cli_usage_error("out of memory");
        goto done;
    }
    if ((st = cli_input_shapes(m, nshape, names, shapes, ins)) != NNE_OK) goto done;
    for (int i = 0; i < ni; i++) {
        nne_value_info vi;
        nne_model_input_info(m, i, &vi);
        inames[i] = vi.name;
    }
    for (int i = 0; i < ni; i++) {
        int given = 0;
        for (int k = 0; k < nfile; k++) given |= !strcmp(inames[i], fnames[k]);
        if (given) continue; /* read from its .npy below */
        if (!nne_dtype_size(ins[i].dtype)) { /* string, complex, ...: fill_random has nothing to write */
            rc = cli_usage_error("input \"%s\" has dtype %s, which bench cannot fill with random data", inames[i],
                                 nne_dtype_name(ins[i].dtype));
            goto done;
        }
        /* charged now (the session gets what is left), allocated after prepare */
        if (!cli_limits_charge(&lim, nne_tensor_nbytes(&ins[i]), inames[i])) goto done;
    }
    for (int k = 0; k < nfile; k++) {
        int i = 0;
        while (i < ni && strcmp(inames[i], fnames[k])) i++;
        if (i == ni) {
            rc = cli_usage_error("-i %s=%s: the model has no input \"%s\"", fnames[k], files[k], fnames[k]);
            goto done;
        }
        if (from_npy[i]) {
            rc = cli_usage_error("input \"%s\" is given twice", fnames[k]);
            goto done;
        }
        nne_tensor t;
        memset(&t, 0, sizeof t);
        if ((st = nne_npy_read_file(files[k], &t)) != NNE_OK) {
            rc = cli_fail(st, fnames[k]);
            goto done;
        }
        ins[i] = t;
        from_npy[i] = 1;
        if (!cli_limits_charge(&lim, nne_tensor_nbytes(&t), files[k])) goto done;
    }
    nne_session_options so = nne_session_options_default();
    so.threads = (int32_t)threads;
    if (!cli_limits_apply(&lim, &so)) goto done;
    double t0 = cli_now_ms();
    if ((st = nne_session_create(m, &so, &s)) != NNE_OK || (st = nne_session_prepare(s, ni, inames, ins)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    double prep = cli_now_ms() - t0;
    /* random data only now: the session has checked the shapes (a wrong rank
     * or dim is refused before anything is allocated for it) */
    for (int i = 0; i < ni; i++) {
        if (from_npy[i]) continue;
        size_t nb;
        if ((st = nne_tensor_nbytes_checked(&ins[i], &nb)) != NNE_OK) { /* cli_input_shapes checked it too */
            rc = cli_fail(st, inames[i]);
            goto done;
        }
        ins[i].data = malloc(nb ? nb : 1);
        if (!ins[i].data) {
            rc = cli_usage_error("input \"%s\": cannot allocate %zu bytes for its random data", inames[i], nb);
            goto done;
        }
        fill_random(&ins[i]);
    }
    for (int i = 0; i < ni; i++)
        if ((st = nne_session_set_input(s, inames[i], &ins[i])) != NNE_OK) {
            rc = cli_fail(st, NULL);
            goto done;
        }
    for (long r = 0; r < warmup + runs; r++) {
        double a = cli_now_ms();
        if ((st = nne_session_run(s)) != NNE_OK) {
            rc = cli_fail(st, NULL);
            goto done;
        }
        if (r >= warmup) times[r - warmup] = cli_now_ms() - a;
    }
    qsort(times, (size_t)runs, sizeof *times, cmp_d);
    double med = runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
    long p90i = (long)(0.9 * (double)(runs - 1) + 0.5);
    long long rss = peak_rss_bytes();
    size_t arena = nne_session_arena_bytes(s);
    if (json) {
        printf("{\"model\": ");
        json_str(stdout, path);
        printf(", \"threads\": %ld, \"runs\": %ld, \"median_ms\": %.4f, \"p90_ms\": %.4f, "
               "\"min_ms\": %.4f, \"prepare_ms\": %.3f, \"arena_bytes\": %zu, \"peak_rss_bytes\": %lld}\n",
               threads, runs, med, times[p90i], times[0], prep, arena, rss);
    } else
        printf("%s: median %.3f ms, p90 %.3f ms, min %.3f ms (%ld runs, %ld threads)\nprepare %.2f ms, arena %zu "
               "bytes, peak RSS %lld bytes\n",
               path, med, times[p90i], times[0], runs, threads, prep, arena, rss);
    rc = EXIT_OK;
done:
    nne_session_destroy(s);
    nne_model_destroy(m);
    if (ins)
        for (int i = 0; i < ni; i++) {
            if (from_npy && from_npy[i]) nne_tensor_free_data(&ins[i]);
            else free(ins[i].data);
        }
    free(ins);
    free(from_npy);
    free(files);
    free(fnames);
    free(inames);
    free(times);
    free(names);
    free(shapes);
    return rc;
}
