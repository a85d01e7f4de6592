/*
 * contexts_rss.c - what one more execution context on a shared plan costs.
 *
 *   contexts_rss MODEL [N]
 *
 * Loads MODEL, prepares one plan for its declared input shapes (symbolic
 * dims 1), then creates N contexts (default 16) on that plan and runs each
 * once on zero inputs. Prints the growth of private memory (Private_Dirty
 * from /proc/self/smaps_rollup) per context next to the context's arena
 * bytes and the model's weight bytes. A context owns only its arena,
 * scratch and bound inputs (issue 6 item 5), so the growth per context must
 * stay well below one copy of the weights: exits 1 when it reaches half of
 * them, 2 on a usage or model error.
 */
#include "nnedge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long private_kb(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Private_Dirty:", 14) == 0) v = atol(line + 14);
    fclose(f);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: contexts_rss MODEL [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 16;
    if (n < 1 || n > 256) {
        fprintf(stderr, "contexts_rss: N must be 1..256\n");
        return 2;
    }
    nne_model *m = NULL;
    nne_plan *p = NULL;
    if (nne_model_load_file(argv[1], NULL, &m) != NNE_OK) {
        fprintf(stderr, "contexts_rss: %s\n", nne_last_error());
        return 2;
    }
    nne_model_stats ms;
    if (nne_model_stats_get(m, &ms) != NNE_OK) {
        fprintf(stderr, "contexts_rss: %s\n", nne_last_error());
        nne_model_destroy(m);
        return 2;
    }
    int32_t ni = nne_model_num_inputs(m);
    if (ni < 1 || ni > 16) {
        fprintf(stderr, "contexts_rss: model has %d inputs (1..16 supported)\n", (int)ni);
        nne_model_destroy(m);
        return 2;
    }
    const char *names[16];
    nne_tensor ins[16];
    void *bufs[16] = {0};
    int rc = 2;
    for (int i = 0; i < ni; i++) {
        nne_value_info vi;
        if (nne_model_input_info(m, i, &vi) != NNE_OK || vi.ndim < 0) {
            fprintf(stderr, "contexts_rss: input %d has no known rank\n", i);
            goto done;
        }
        names[i] = vi.name;
        memset(&ins[i], 0, sizeof ins[i]);
        ins[i].dtype = vi.dtype;
        ins[i].ndim = vi.ndim;
        for (int d = 0; d < vi.ndim; d++) ins[i].dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
        size_t nb = 0;
        if (nne_tensor_nbytes_checked(&ins[i], &nb) != NNE_OK || !(bufs[i] = calloc(1, nb ? nb : 1))) {
            fprintf(stderr, "contexts_rss: input %d: cannot allocate\n", i);
            goto done;
        }
        ins[i].data = bufs[i];
    }
    if (nne_plan_create(m, NULL, ni, names, ins, &p) != NNE_OK) {
        fprintf(stderr, "contexts_rss: %s\n", nne_last_error());
        goto done;
    }
    nne_context **cx = calloc((size_t)n, sizeof *cx);
    if (!cx) goto done;
    long before = private_kb();
    size_t arena = 0;
    for (int k = 0; k < n; k++) {
        if (nne_context_create(p, &cx[k]) != NNE_OK) {
            fprintf(stderr, "contexts_rss: %s\n", nne_last_error());
            n = k;
            goto free_cx;
        }
        for (int i = 0; i < ni; i++)
            if (nne_context_set_input(cx[k], names[i], &ins[i]) != NNE_OK) {
                fprintf(stderr, "contexts_rss: %s\n", nne_context_last_error(cx[k]));
                n = k + 1;
                goto free_cx;
            }
        if (nne_context_run(cx[k]) != NNE_OK) {
            fprintf(stderr, "contexts_rss: %s\n", nne_context_last_error(cx[k]));
            n = k + 1;
            goto free_cx;
        }
        arena = nne_context_arena_bytes(cx[k]);
    }
    long after = private_kb();
    double per_ctx_kb = (double)(after - before) / n;
    double weights_kb = (double)ms.param_bytes / 1024.0;
    printf("%s: %d contexts on one plan: +%ld KiB private in all, %.0f KiB per context "
           "(arena %zu KiB; weights %.0f KiB)\n",
           argv[1], n, after - before, per_ctx_kb, arena / 1024, weights_kb);
    rc = per_ctx_kb < weights_kb / 2 ? 0 : 1;
    if (rc) fprintf(stderr, "contexts_rss: a context costs %.0f KiB, half a copy of the weights or more\n", per_ctx_kb);
free_cx:
    for (int k = 0; k < n; k++) nne_context_destroy(cx[k]);
    free(cx);
done:
    nne_plan_destroy(p);
    nne_model_destroy(m);
    for (int i = 0; i < 16; i++) free(bufs[i]);
    return rc;
}
