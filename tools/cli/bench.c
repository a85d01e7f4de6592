/*
 * bench.c - `nnedge bench MODEL [--shape NAME=DIMS]... [-i NAME=FILE.npy]...
 * [--threads N] [--runs N] [--warmup N] [--optimize none|basic|all]
 * [--profile] [--json]`: runs the model on random inputs (fixed seed) and
 * reports latency percentiles, prepare time, the arena and its lower bound
 * (the most activation bytes alive at one node) and peak RSS. `-i` takes
 * one input's values (and shape) from a .npy file instead, for models whose
 * control flow depends on an input's value (e.g. a sample rate that picks a
 * branch). --optimize (default: env NNE_OPTIMIZE, else none) runs the graph
 * passes first, after --shape fixed the input shapes.
 *
 * --profile times every node through the observer (called after each node:
 * a node's time is the time since the previous call, summed over the timed
 * runs) and prints per-node and per-op-type time, share of the total and
 * GFLOP/s (2 x the node's multiply-accumulates / time) as tables, or under
 * "profile" in --json. Without --profile no observer is set: no cost.
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

/* --profile: per-node time, accumulated by the observer. Nodes of If/Loop/
 * Scan bodies are reported (with their scope path) before the node that
 * runs them: their time goes to per-op-type rows of their own ("Add (in
 * bodies)"), so the node running the body keeps only its own time. */
#define PROF_BODY_OPS 64
typedef struct prof {
    int n, k;            /* top-level nodes; the next one expected in this run */
    double t_prev;       /* time of the previous observer call (ms) */
    double *ms;          /* per top-level node, summed over the timed runs */
    const char **name, **op;
    int on;              /* 0 during warm-up runs */
    int n_body;          /* body op types seen */
    char body_op[PROF_BODY_OPS][64];
    double body_ms[PROF_BODY_OPS];
    long long body_calls[PROF_BODY_OPS];
} prof;

static void prof_observe(void *user, const char *node_name, const char *op_type, int32_t n,
                         const char *const *names, const nne_tensor *outputs) {
    prof *p = user;
    double dt = cli_now_ms() - p->t_prev;
    if (p->k < p->n && !strcmp(node_name, p->name[p->k]) && !strcmp(op_type, p->op[p->k])) {
        if (p->on) p->ms[p->k] += dt;
        p->k++;
    } else if (p->on) { /* a body's node */
        int b = 0;
        while (b < p->n_body && strcmp(p->body_op[b], op_type)) b++;
        if (b == p->n_body && b < PROF_BODY_OPS) snprintf(p->body_op[p->n_body++], 64, "%s", op_type);
        if (b == PROF_BODY_OPS) b = PROF_BODY_OPS - 1; /* more op types than rows: the last row takes them */
        p->body_ms[b] += dt;
        p->body_calls[b]++;
    }
    p->t_prev = cli_now_ms(); /* the observer's own time is not the next node's */
}

typedef struct prof_row {
    const char *name, *op;
    int idx;
    double ms;
    int64_t macs;
} prof_row;

static int cmp_row(const void *a, const void *b) {
    const prof_row *x = a, *y = b;
    return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : x->idx - y->idx;
}

/* Prints the profile (tables, or JSON members after `"profile": `). */
static void prof_print(const prof *p, const nne_session *s, long runs, int json) {
    prof_row *rows = calloc((size_t)p->n + 1, sizeof *rows);
    prof_row *ops = calloc((size_t)p->n + PROF_BODY_OPS + 1, sizeof *ops);
    char (*body_label)[80] = calloc(PROF_BODY_OPS, 80);
    if (!rows || !ops || !body_label) {
        free(rows);
        free(ops);
        free(body_label);
        return;
    }
    double total = 0;
    int nops = 0;
    for (int i = 0; i < p->n; i++) {
        int64_t mc = nne_session_node_macs(s, i);
        rows[i] = (prof_row){.name = p->name[i], .op = p->op[i], .idx = i,
                             .ms = p->ms[i] / (double)runs, .macs = mc > 0 ? mc : 0};
        total += rows[i].ms;
        int o = 0;
        while (o < nops && strcmp(ops[o].op, rows[i].op)) o++;
        if (o == nops) ops[nops++] = (prof_row){.op = rows[i].op};
        ops[o].ms += rows[i].ms;
        ops[o].macs += rows[i].macs;
        ops[o].idx++; /* node count */
    }
    for (int b = 0; b < p->n_body; b++) { /* body nodes: a row per op type, calls per run as its count */
        snprintf(body_label[b], 80, "%s (in bodies)", p->body_op[b]);
        ops[nops++] = (prof_row){.op = body_label[b], .ms = p->body_ms[b] / (double)runs,
                                 .idx = (int)(p->body_calls[b] / runs)};
        total += p->body_ms[b] / (double)runs;
    }
    qsort(rows, (size_t)p->n, sizeof *rows, cmp_row);
    for (int o = 0; o < nops; o++) ops[o].name = NULL;
    /* sort op types by time (idx holds the count: keep it aside) */
    for (int a = 1; a < nops; a++)
        for (int b = a; b > 0 && ops[b].ms > ops[b - 1].ms; b--) {
            prof_row t = ops[b];
            ops[b] = ops[b - 1];
            ops[b - 1] = t;
        }
    double share_den = total > 0 ? total : 1;
    if (json) {
        printf("{\"total_ms\": %.4f, \"nodes\": [", total);
        for (int i = 0; i < p->n; i++) {
            const prof_row *r = &rows[i];
            printf("%s{\"index\": %d, \"name\": ", i ? ", " : "", r->idx);
            json_str(stdout, r->name);
            printf(", \"op_type\": ");
            json_str(stdout, r->op);
            printf(", \"ms\": %.5f, \"share\": %.5f, \"macs\": %lld, \"gflops\": %.3f}", r->ms,
                   r->ms / share_den, (long long)r->macs, r->ms > 0 ? 2.0 * (double)r->macs / (r->ms * 1e6) : 0.0);
        }
        printf("], \"op_types\": [");
        for (int o = 0; o < nops; o++) {
            const prof_row *r = &ops[o];
            printf("%s{\"op_type\": ", o ? ", " : "");
            json_str(stdout, r->op);
            printf(", \"nodes\": %d, \"ms\": %.5f, \"share\": %.5f, \"macs\": %lld, \"gflops\": %.3f}", r->idx,
                   r->ms, r->ms / share_den, (long long)r->macs,
                   r->ms > 0 ? 2.0 * (double)r->macs / (r->ms * 1e6) : 0.0);
        }
        printf("]}");
    } else {
        printf("profile: %d nodes, %.3f ms per run in nodes (observer overhead included)\n", p->n, total);
        printf("%-26s %6s %9s %7s %9s\n", "op type", "nodes", "ms", "share", "GFLOP/s");
        for (int o = 0; o < nops; o++)
            printf("%-26.26s %6d %9.3f %6.1f%% %9.2f\n", ops[o].op, ops[o].idx, ops[o].ms,
                   100 * ops[o].ms / share_den, ops[o].ms > 0 ? 2.0 * (double)ops[o].macs / (ops[o].ms * 1e6) : 0.0);
        printf("%5s %-36s %-14s %9s %7s %9s\n", "node", "name", "op type", "ms", "share", "GFLOP/s");
        for (int i = 0; i < p->n; i++) {
            const prof_row *r = &rows[i];
            printf("%5d %-36.36s %-14.14s %9.4f %6.2f%% %9.2f\n", r->idx, r->name, r->op, r->ms,
                   100 * r->ms / share_den, r->ms > 0 ? 2.0 * (double)r->macs / (r->ms * 1e6) : 0.0);
        }
    }
    free(rows);
    free(ops);
    free(body_label);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cli_bench(int argc, char **argv) {
    const char *path = NULL;
    int json = 0, nshape = 0, profile = 0;
    const char *optimize = getenv("NNE_OPTIMIZE");
    prof pf = {0};
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
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--optimize")) {
            if (!(optimize = cli_opt_value(argc, argv, &i, "none, basic or all"))) goto done;
        }
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
    nne_opt_level lv = NNE_OPT_NONE;
    if (optimize && optimize[0]) {
        if (nne_opt_level_parse(optimize, &lv) != NNE_OK) {
            rc = cli_usage_error("--optimize %s: expected none, basic or all", optimize);
            goto done;
        }
        /* fixed input shapes first: the passes fold and fuse more with them */
        for (int k = 0; k < nshape; k++)
            if ((st = nne_model_set_input_shape(m, names[k], shapes[k].ndim, shapes[k].dims)) != NNE_OK) {
                rc = cli_fail(st, "--shape");
                goto done;
            }
        if ((st = nne_model_optimize(m, lv, NULL)) != NNE_OK) {
            rc = cli_fail(st, "--optimize");
            goto done;
        }
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
    if (profile) {
        pf.n = nne_session_num_nodes(s);
        pf.ms = calloc((size_t)pf.n + 1, sizeof *pf.ms);
        pf.name = calloc((size_t)pf.n + 1, sizeof *pf.name);
        pf.op = calloc((size_t)pf.n + 1, sizeof *pf.op);
        if (!pf.ms || !pf.name || !pf.op) {
            rc = cli_usage_error("out of memory");
            goto done;
        }
        for (int i = 0; i < pf.n; i++)
            if ((st = nne_session_node_info(s, i, &pf.name[i], &pf.op[i])) != NNE_OK) {
                rc = cli_fail(st, NULL);
                goto done;
            }
        nne_session_set_observer(s, prof_observe, &pf);
    }
    for (long r = 0; r < warmup + runs; r++) {
        double a = cli_now_ms();
        pf.k = 0;
        pf.on = r >= warmup;
        pf.t_prev = a;
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
    size_t arena = nne_session_arena_bytes(s), bound = nne_session_arena_bound_bytes(s);
    if (json) {
        printf("{\"model\": ");
        json_str(stdout, path);
        printf(", \"threads\": %ld, \"runs\": %ld, \"median_ms\": %.4f, \"p90_ms\": %.4f, "
               "\"min_ms\": %.4f, \"prepare_ms\": %.3f, \"arena_bytes\": %zu, \"arena_lower_bound_bytes\": %zu, "
               "\"peak_rss_bytes\": %lld, \"optimize\": \"%s\", \"macs\": %lld",
               threads, runs, med, times[p90i], times[0], prep, arena, bound, rss,
               lv == NNE_OPT_ALL ? "all" : lv == NNE_OPT_BASIC ? "basic" : "none", (long long)nne_session_macs(s));
        if (profile) {
            printf(", \"profile\": ");
            prof_print(&pf, s, runs, 1);
        }
        printf("}\n");
    } else {
        printf("%s: median %.3f ms, p90 %.3f ms, min %.3f ms (%ld runs, %ld threads)\nprepare %.2f ms, arena %zu "
               "bytes (lower bound %zu), peak RSS %lld bytes\n",
               path, med, times[p90i], times[0], runs, threads, prep, arena, bound, rss);
        if (profile) prof_print(&pf, s, runs, 0);
    }
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
    free(pf.ms);
    free((void *)pf.name);
    free((void *)pf.op);
    return rc;
}
