/*
 * concurrency.c - many threads running shared plans (public API only).
 *
 * Loads the models named on the command line (default: the list below),
 * makes ONE plan per model at batch 1, and computes reference outputs
 * single-threaded for two input variants per model (the variants take
 * different If branches, NonZero counts and Loop trip counts). Then T
 * threads (default 8) each create their own context on every shared plan
 * and run the models in turn, alternating variants, until every model has
 * run at least R times in all (default 1000); every output must be bitwise
 * equal to its reference. Each thread also makes a plan of its own (model
 * thread % models, batch 8) while the others run, and runs it once: plans
 * made concurrently fill and share the model's packed-weight cache
 * (matmul_const packs its weights at batch 8). The shared plans have a
 * kernel thread pool (-k, default 2 threads), which all the contexts of a
 * plan share while they run at once.
 *
 *   concurrency [-t THREADS] [-r RUNS_PER_MODEL] [-k POOL_THREADS] [MODEL.onnx...]
 * Exits 0 when every run matched, 1 otherwise (the first mismatches are
 * printed). Built normally, under ASan (make test) and under ThreadSanitizer
 * (make test-tsan).
 */
#include "nnedge.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MODELS 32

static int g_pool_threads = 2;
#define MAX_IO 8
#define VARIANTS 2

static const char *default_models[] = {
    "models/fashion_cnn.onnx",      "tests/models/matmul_const.onnx", "tests/models/nested_if.onnx",
    "tests/models/nonzero.onnx",
    "tests/models/loop_accum.onnx", "tests/models/shape_chain.onnx", "tests/models/chain.onnx",
    "tests/models/add_2x3.onnx",    "tests/models/identity_2x3.onnx",
};

typedef struct model_case {
    const char *path;
    nne_model *m;
    nne_plan *plan;
    int n_in, n_out;
    const char *in_names[MAX_IO];
    nne_tensor in[VARIANTS][MAX_IO];   /* inputs (data malloc'd) */
    nne_tensor ref[VARIANTS][MAX_IO];  /* reference outputs (data malloc'd) */
} model_case;

static model_case g_cases[MAX_MODELS];
static int g_n_cases, g_runs_per_thread;
static pthread_mutex_t g_print = PTHREAD_MUTEX_INITIALIZER;

static void fill_input(nne_tensor *t, int variant, int k) {
    int64_t n = nne_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case NNE_DTYPE_FLOAT:
            /* some exact zeros, so NonZero's count depends on the variant */
            ((float *)t->data)[i] = (i + variant + k) % 3 == 0 ? 0.0f : (float)sin(0.7 * (double)i + variant + k);
            break;
        case NNE_DTYPE_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(variant & 1); break;
        case NNE_DTYPE_INT64: ((int64_t *)t->data)[i] = 3 + 2 * variant; break;
        case NNE_DTYPE_INT32: ((int32_t *)t->data)[i] = 3 + 2 * variant; break;
        default: memset((char *)t->data + (size_t)i * nne_dtype_size(t->dtype), 0, nne_dtype_size(t->dtype));
        }
    }
}

static int copy_tensor(const nne_tensor *src, nne_tensor *dst) {
    *dst = *src;
    size_t nb = nne_tensor_nbytes(src);
    dst->data = malloc(nb ? nb : 1);
    if (!dst->data) return 0;
    if (nb) memcpy(dst->data, src->data, nb);
    return 1;
}

static int same_tensor(const nne_tensor *a, const nne_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    size_t nb = nne_tensor_nbytes(a);
    return nb == 0 || memcmp(a->data, b->data, nb) == 0;
}

static int setup_case(model_case *c, const char *path) {
    c->path = path;
    if (nne_model_load_file(path, NULL, &c->m) != NNE_OK) {
        fprintf(stderr, "concurrency: %s: %s\n", path, nne_last_error());
        return 0;
    }
    c->n_in = nne_model_num_inputs(c->m);
    c->n_out = nne_model_num_outputs(c->m);
    if (c->n_in > MAX_IO || c->n_out > MAX_IO) {
        fprintf(stderr, "concurrency: %s: more than %d inputs or outputs\n", path, MAX_IO);
        return 0;
    }
    for (int v = 0; v < VARIANTS; v++)
        for (int i = 0; i < c->n_in; i++) {
            nne_value_info vi;
            nne_model_input_info(c->m, i, &vi);
            c->in_names[i] = vi.name;
            nne_tensor *t = &c->in[v][i];
            t->dtype = vi.dtype;
            t->ndim = vi.ndim < 0 ? 0 : vi.ndim;
            for (int d = 0; d < t->ndim; d++) t->dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
            size_t nb = nne_tensor_nbytes(t);
            t->data = calloc(1, nb ? nb : 1);
            if (!t->data) return 0;
            fill_input(t, v, i);
        }
    nne_session_options so = nne_session_options_default();
    so.threads = g_pool_threads;
    if (nne_plan_create(c->m, &so, c->n_in, c->in_names, c->in[0], &c->plan) != NNE_OK) {
        fprintf(stderr, "concurrency: %s: plan: %s\n", path, nne_last_error());
        return 0;
    }
    /* references, single-threaded, each variant on a fresh context */
    for (int v = 0; v < VARIANTS; v++) {
        nne_context *cx = NULL;
        int ok = nne_context_create(c->plan, &cx) == NNE_OK;
        for (int i = 0; ok && i < c->n_in; i++) ok = nne_context_set_input(cx, c->in_names[i], &c->in[v][i]) == NNE_OK;
        ok = ok && nne_context_run(cx) == NNE_OK;
        for (int o = 0; ok && o < c->n_out; o++) {
            nne_tensor y;
            ok = nne_context_output(cx, o, &y) == NNE_OK && copy_tensor(&y, &c->ref[v][o]);
        }
        if (!ok) fprintf(stderr, "concurrency: %s: reference run: %s\n", path, nne_last_error());
        nne_context_destroy(cx);
        if (!ok) return 0;
    }
    return 1;
}

typedef struct worker {
    int id;
    long runs, mismatches, errors;
    int extra_plan_ok;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    nne_context *cx[MAX_MODELS] = {0};
    for (int k = 0; k < g_n_cases; k++)
        if (nne_context_create(g_cases[k].plan, &cx[k]) != NNE_OK) {
            w->errors++;
            goto out;
        }
    for (int r = 0; r < g_runs_per_thread; r++) {
        if (r == g_runs_per_thread / 2) {
            /* a plan of our own, for batch 8, while the other threads run */
            model_case *c = &g_cases[w->id % g_n_cases];
            nne_tensor shp[MAX_IO];
            int batched = 0;
            for (int i = 0; i < c->n_in; i++) {
                shp[i] = c->in[0][i];
                nne_value_info vi;
                nne_model_input_info(c->m, i, &vi);
                if (vi.ndim > 0 && vi.dims[0] < 0) shp[i].dims[0] = 8, batched = 1;
                shp[i].data = NULL;
            }
            nne_plan *p2 = NULL;
            nne_context *c2 = NULL;
            int ok = nne_plan_create(c->m, NULL, c->n_in, c->in_names, shp, &p2) == NNE_OK &&
                     nne_context_create(p2, &c2) == NNE_OK;
            /* run it once, the batch-1 input repeated 8 times */
            for (int i = 0; ok && i < c->n_in; i++) {
                size_t one = nne_tensor_nbytes(&c->in[0][i]), all = nne_tensor_nbytes(&shp[i]);
                shp[i].data = malloc(all ? all : 1);
                ok = shp[i].data != NULL;
                for (size_t off = 0; ok && one && off < all; off += one) memcpy((char *)shp[i].data + off, c->in[0][i].data, one);
                ok = ok && nne_context_set_input(c2, c->in_names[i], &shp[i]) == NNE_OK;
            }
            if (ok) ok = nne_context_run(c2) == NNE_OK;
            (void)batched;
            for (int i = 0; i < c->n_in; i++) free(shp[i].data);
            w->extra_plan_ok = ok;
            nne_context_destroy(c2);
            nne_plan_destroy(p2);
        }
        for (int k = 0; k < g_n_cases; k++) {
            model_case *c = &g_cases[k];
            int v = (r + w->id) % VARIANTS;
            int ok = 1;
            for (int i = 0; ok && i < c->n_in; i++) ok = nne_context_set_input(cx[k], c->in_names[i], &c->in[v][i]) == NNE_OK;
            ok = ok && nne_context_run(cx[k]) == NNE_OK;
            if (!ok) {
                w->errors++;
                pthread_mutex_lock(&g_print);
                fprintf(stderr, "concurrency: thread %d: %s: %s\n", w->id, c->path, nne_context_last_error(cx[k]));
                pthread_mutex_unlock(&g_print);
                continue;
            }
            w->runs++;
            for (int o = 0; o < c->n_out; o++) {
                nne_tensor y;
                if (nne_context_output(cx[k], o, &y) != NNE_OK || !same_tensor(&y, &c->ref[v][o])) {
                    if (w->mismatches++ < 3) {
                        pthread_mutex_lock(&g_print);
                        fprintf(stderr, "concurrency: thread %d run %d: %s output %d differs from the "
                                        "single-threaded run\n", w->id, r, c->path, o);
                        pthread_mutex_unlock(&g_print);
                    }
                }
            }
        }
    }
out:
    for (int k = 0; k < g_n_cases; k++) nne_context_destroy(cx[k]);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = 8, runs = 1000, nm = 0;
    const char *paths[MAX_MODELS];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-k") && i + 1 < argc) g_pool_threads = atoi(argv[++i]);
        else if (nm < MAX_MODELS) paths[nm++] = argv[i];
    }
    if (threads < 1 || threads > 256 || runs < 1 || g_pool_threads < 1 || g_pool_threads > 64) {
        fprintf(stderr, "usage: concurrency [-t THREADS] [-r RUNS_PER_MODEL] [-k POOL_THREADS] [MODEL.onnx...]\n");
        return 2;
    }
    if (!nm)
        for (size_t i = 0; i < sizeof default_models / sizeof *default_models; i++) paths[nm++] = default_models[i];
    int rc = 0;
    for (int k = 0; k < nm; k++) {
        if (!setup_case(&g_cases[g_n_cases], paths[k])) {
            rc = 1;
            g_n_cases++;
            goto cleanup;
        }
        g_n_cases++;
    }
    g_runs_per_thread = (runs + threads - 1) / threads;
    worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *ts = calloc((size_t)threads, sizeof *ts);
    if (!ws || !ts) return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < threads; t++) {
        ws[t].id = t;
        pthread_create(&ts[t], NULL, work, &ws[t]);
    }
    long total = 0, bad = 0, errs = 0, plans = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ts[t], NULL);
        total += ws[t].runs;
        bad += ws[t].mismatches;
        errs += ws[t].errors;
        plans += ws[t].extra_plan_ok;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("concurrency: %d threads, %d models on shared plans, %ld runs (%ld per model), %ld mismatches, "
           "%ld errors, %ld/%d concurrent batch-8 plans, %.2f s\n",
           threads, g_n_cases, total, total / (g_n_cases ? g_n_cases : 1), bad, errs, plans, threads, s);
    if (bad || errs || plans != threads || total < (long)g_n_cases * runs) rc = 1;
    free(ws);
    free(ts);
cleanup:
    for (int k = 0; k < g_n_cases; k++) {
        model_case *c = &g_cases[k];
        for (int v = 0; v < VARIANTS; v++) {
            for (int i = 0; i < MAX_IO; i++) free(c->in[v][i].data), free(c->ref[v][i].data);
        }
        nne_plan_destroy(c->plan);
        nne_model_destroy(c->m);
    }
    return rc;
}
