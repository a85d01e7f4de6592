/*
 * idle_cpu.c - an idle process holding a prepared 2-thread plan uses no CPU
 * (the pool's workers sleep instead of spinning). Loads MODEL, prepares a
 * plan with threads = 2, runs it a few times, checks that the worker thread
 * exists (/proc/self/task), then measures the process's CPU time over 2 s
 * of idleness: it must stay under 1%.
 *   idle_cpu MODEL.onnx
 */
#include "nnedge.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static int thread_count(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: idle_cpu MODEL.onnx\n");
        return 2;
    }
    nne_model *m = NULL;
    nne_plan *p = NULL;
    nne_context *c = NULL;
    if (nne_model_load_file(argv[1], NULL, &m) != NNE_OK) {
        fprintf(stderr, "idle_cpu: %s\n", nne_last_error());
        return 1;
    }
    nne_value_info vi;
    if (nne_model_input_info(m, 0, &vi) != NNE_OK) {
        fprintf(stderr, "idle_cpu: %s\n", nne_last_error());
        return 1;
    }
    nne_tensor x = {.dtype = vi.dtype, .ndim = vi.ndim};
    for (int d = 0; d < vi.ndim; d++) x.dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
    size_t nb = nne_tensor_nbytes(&x);
    x.data = calloc(1, nb ? nb : 1);
    nne_session_options so = nne_session_options_default();
    so.threads = 2;
    const char *name = vi.name;
    int before = thread_count();
    if (!x.data || nne_plan_create(m, &so, 1, &name, &x, &p) != NNE_OK || nne_context_create(p, &c) != NNE_OK ||
        nne_context_set_input(c, name, &x) != NNE_OK) {
        fprintf(stderr, "idle_cpu: %s\n", nne_last_error());
        return 1;
    }
    for (int r = 0; r < 5; r++)
        if (nne_context_run(c) != NNE_OK) {
            fprintf(stderr, "idle_cpu: run: %s\n", nne_last_error());
            return 1;
        }
    int threads = thread_count();
    struct timespec settle = {0, 50 * 1000 * 1000}, idle = {2, 0};
    nanosleep(&settle, NULL);
    double t0 = cpu_seconds();
    nanosleep(&idle, NULL);
    double used = cpu_seconds() - t0;
    double pct = used / 2.0 * 100.0;
    printf("idle_cpu: %d threads with the plan (%d before), %.2f ms of CPU over 2 s idle (%.3f%%)\n", threads, before,
           used * 1e3, pct);
    int ok = threads >= before + 1 && pct < 1.0;
    if (!ok) fprintf(stderr, "idle_cpu: FAIL (expected a worker thread and < 1%% CPU)\n");
    nne_context_destroy(c);
    nne_plan_destroy(p);
    nne_model_destroy(m);
    free(x.data);
    return ok ? 0 : 1;
}
