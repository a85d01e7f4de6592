/*
 * fuzz_model.c - libFuzzer harness for the ONNX loader and the session.
 *
 * Each input is loaded twice from memory (allow_unsupported off, then on;
 * the second time the model is also optimized with nne_model_optimize).
 * A loaded model goes through everything `nnedge info` reads (input/output
 * info, stats, op histogram), then a session is prepared with the declared
 * input shapes (symbolic dims -> 1) and, when that succeeds, run once on
 * zero-filled inputs and every output is read. To keep executions fast (a
 * small model can legitimately ask for a lot of work), inputs above
 * FUZZ_MAX_NUMEL elements are not prepared, the arena is capped at
 * FUZZ_ARENA_LIMIT bytes and everything else the session allocates (folded
 * constants: prepare folds every all-constant node, however much work that
 * is) at FUZZ_MEMORY_LIMIT, and graphs of more than FUZZ_MAX_MACS
 * multiply-adds (nne_session_macs) are prepared but not run; every smaller
 * graph runs. The limits are far above what the seeds need (arenas of a few
 * KiB) and keep copy-bound ops cheap under ASan: with a 16 MiB arena,
 * units moving large tensors through Transpose or Pad took 0.5-0.7 s each
 * (with 512 MiB of session memory a folded Expand took 7 s); such units were
 * 90% of the time of a pass over fuzz_tflite's grown corpus.
 */
#include "fuzz_common.h"

/* (each limit can be overridden with -D for an experiment) */

#ifndef FUZZ_MAX_NUMEL
#define FUZZ_MAX_NUMEL 100000
#endif
#ifndef FUZZ_ARENA_LIMIT
#define FUZZ_ARENA_LIMIT ((size_t)4 << 20)
#endif
/* everything a session allocates (folded constants, scratch): far under
 * libFuzzer's malloc limit (-rss_limit_mb=2048), so a model asking for more
 * is refused by nnedge (NNE_ERR_OUT_OF_MEMORY), not reported as a finding.
 * It also bounds the work of constant folding at prepare time, which the
 * multiply-add cap does not see: with 512 MiB, a Pad of an empty constant
 * to 17M elements and its Transpose took over 10 s under the sanitizers
 * (0.6 s in the release build) */
#ifndef FUZZ_MEMORY_LIMIT
#define FUZZ_MEMORY_LIMIT ((size_t)32 << 20)
#endif
#ifndef FUZZ_MAX_MACS
#define FUZZ_MAX_MACS 20000000
#endif
#define FUZZ_MAX_INPUTS 64

static void visit(void *user, const char *domain, const char *op_type, int32_t count, int supported) {
    *(unsigned *)user += fuzz_touch(domain, strlen(domain)) + fuzz_touch(op_type, strlen(op_type)) +
                         (unsigned)count + (unsigned)supported;
}

static void touch_info(const nne_value_info *vi) {
    fuzz_touch(vi->name, strlen(vi->name));
    if (vi->ndim < -1 || vi->ndim > NNE_MAX_DIMS) abort();
    for (int d = 0; d < vi->ndim; d++)
        if (vi->dim_names[d]) fuzz_touch(vi->dim_names[d], strlen(vi->dim_names[d]));
}

static void run_session(const nne_model *m) {
    int ni = nne_model_num_inputs(m);
    if (ni > FUZZ_MAX_INPUTS) return;
    const char *names[FUZZ_MAX_INPUTS];
    nne_tensor shapes[FUZZ_MAX_INPUTS];
    void *bufs[FUZZ_MAX_INPUTS] = {0};
    memset(shapes, 0, sizeof shapes);
    for (int i = 0; i < ni; i++) {
        nne_value_info vi;
        if (nne_model_input_info(m, i, &vi) != NNE_OK) abort();
        if (vi.ndim < 0) return; /* no declared shape: prepare has nothing to go on */
        names[i] = vi.name;
        shapes[i].dtype = vi.dtype;
        shapes[i].ndim = vi.ndim;
        for (int d = 0; d < vi.ndim; d++) shapes[i].dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
        int64_t n = nne_dims_numel(vi.ndim, shapes[i].dims);
        if (n < 0 || n > FUZZ_MAX_NUMEL) return;
    }
    nne_session *s = NULL;
    nne_session_options so = nne_session_options_default();
    so.arena_limit_bytes = FUZZ_ARENA_LIMIT;
    so.memory_limit_bytes = FUZZ_MEMORY_LIMIT;
    fuzz_clear_error();
    nne_status st = nne_session_create(m, &so, &s);
    fuzz_check_status(st, "nne_session_create");
    if (st != NNE_OK) return;
    fuzz_clear_error();
    st = nne_session_prepare(s, ni, names, shapes);
    fuzz_check_status(st, "nne_session_prepare");
    if (st != NNE_OK) goto done;
    nne_session_arena_bytes(s);
    if (nne_session_macs(s) > FUZZ_MAX_MACS) goto done;
    for (int i = 0; i < ni; i++) {
        size_t nb = nne_tensor_nbytes(&shapes[i]);
        bufs[i] = calloc(1, nb ? nb : 1);
        if (!bufs[i]) goto done;
        nne_tensor t = shapes[i];
        t.data = bufs[i];
        fuzz_clear_error();
        st = nne_session_set_input(s, names[i], &t);
        fuzz_check_status(st, "nne_session_set_input");
        if (st != NNE_OK) abort(); /* the prepared shape itself was refused */
    }
    fuzz_clear_error();
    st = nne_session_run(s);
    fuzz_check_status(st, "nne_session_run");
    if (st != NNE_OK) goto done;
    for (int i = 0; i < nne_model_num_outputs(m); i++) {
        nne_tensor y;
        if (nne_session_output(s, i, &y) != NNE_OK) abort();
        if (y.ndim < 0 || y.ndim > NNE_MAX_DIMS) abort();
        size_t nb = nne_tensor_nbytes(&y);
        if (nb && !y.data) abort();
        fuzz_touch(y.data, nb);
    }
done:
    nne_session_destroy(s);
    for (int i = 0; i < ni; i++) free(bufs[i]);
}

static void exercise(const nne_model *m) {
    unsigned sink = 0;
    nne_value_info vi;
    for (int i = 0; i < nne_model_num_inputs(m); i++) {
        if (nne_model_input_info(m, i, &vi) != NNE_OK) abort();
        touch_info(&vi);
    }
    for (int i = 0; i < nne_model_num_outputs(m); i++) {
        if (nne_model_output_info(m, i, &vi) != NNE_OK) abort();
        touch_info(&vi);
    }
    nne_model_stats stats;
    if (nne_model_stats_get(m, &stats) != NNE_OK) abort();
    nne_model_visit_ops(m, visit, &sink);
    run_session(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int allow = 0; allow < 2; allow++) {
        nne_model_options opt = nne_model_options_default();
        opt.allow_unsupported = allow;
        nne_model *m = NULL;
        fuzz_clear_error();
        nne_status st = nne_model_load_memory(data, size, NULL, &opt, &m);
        fuzz_check_status(st, "nne_model_load_memory");
        if (st != NNE_OK) {
            if (m) abort();
            continue;
        }
        if (allow) {
            /* the optimization passes on whatever loads (validated after each
             * pass: the fuzz build defines NNE_DEBUG_VALIDATE) */
            fuzz_clear_error();
            st = nne_model_optimize(m, NNE_OPT_ALL, NULL);
            fuzz_check_status(st, "nne_model_optimize");
            if (st != NNE_OK) {
                nne_model_destroy(m);
                continue;
            }
        }
        exercise(m);
        nne_model_destroy(m);
    }
    return 0;
}
