/*
 * tflite_load.c - TFLite import: a .tflite FlatBuffer (schema "TFL3") ->
 * nne_model, through the graph builder (src/ir/graph.h), so every pass,
 * the runtime and the ONNX writer work on it as on an imported ONNX model.
 *
 * Mapping, in short:
 *  - Each TFLite tensor becomes a value; constant tensors (a non-empty
 *    buffer, inside the FlatBuffer or past it by Buffer.offset/size) become
 *    initializers, made lazily when an operator reads them.
 *  - Layout: TFLite activations are NHWC and conv filters OHWI (depthwise
 *    1HW(C*M)). Conv/pool/resize/depth-space ops get a Transpose to NCHW
 *    before and back after; filters are permuted to OIHW at import. A memo
 *    (value -> its NCHW twin) lets consecutive NCHW ops skip the pair, and
 *    the transposes nobody reads are dropped at the end.
 *  - Quantization: an operator whose output is float or quantized runs in
 *    float. Quantized inputs are dequantized (constants at import,
 *    per-tensor or per-channel; activations by DequantizeLinear), a
 *    quantized output is produced by QuantizeLinear with its scale and zero
 *    point, so consumers see the same rounded values TFLite's do. float16
 *    tensors are cast. Integer tensors without quantization (shapes,
 *    indices) stay integer.
 *  - Fused activations (RELU, RELU6, RELU_N1_TO_1) become nodes after the
 *    op (a fused TANH, which TFLite's kernels ignore, is refused); SAME padding is ONNX SAME_UPPER (TF pads the extra row/column
 *    at the end, with strides respected the same way).
 *  - IF becomes ONNX If with the two subgraphs as branches (their inputs are
 *    links to the IF's operands); WHILE becomes Loop (see op_while). Ops
 *    without a mapping fail at load naming the op and its version.
 *  - Graph inputs and outputs keep the tensor names (what tflite_runtime's
 *    get_input_details() reports); dims that shape_signature marks -1 stay
 *    symbolic. SignatureDefs are kept as metadata ("tflite.signature.KEY").
 *
 * Every count and index read from the file is checked (tflite_fb.c checks
 * the FlatBuffer structure itself), and allocations are bounded by counts
 * that were checked against the file size.
 */
#include "io/tflite.h"
#include "io/tflite_fb.h"
#include "core/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPSET 20
#define MAX_SG_DEPTH 16
#define MAX_CONST_INTS (1 << 16)

/* TFLite TensorType numbers */
enum {
    TT_FLOAT32 = 0, TT_FLOAT16 = 1, TT_INT32 = 2, TT_UINT8 = 3, TT_INT64 = 4, TT_STRING = 5, TT_BOOL = 6,
    TT_INT16 = 7, TT_COMPLEX64 = 8, TT_INT8 = 9, TT_FLOAT64 = 10, TT_COMPLEX128 = 11, TT_UINT64 = 12,
    TT_RESOURCE = 13, TT_VARIANT = 14, TT_UINT32 = 15, TT_UINT16 = 16, TT_INT4 = 17, TT_BFLOAT16 = 18
};

static const char *const k_type_names[] = {"FLOAT32", "FLOAT16", "INT32",   "UINT8",   "INT64",    "STRING", "BOOL",
                                           "INT16",   "COMPLEX64", "INT8",  "FLOAT64", "COMPLEX128", "UINT64",
                                           "RESOURCE", "VARIANT", "UINT32", "UINT16",  "INT4",     "BFLOAT16"};
static const char *type_name(int tt) {
    return tt >= 0 && tt < (int)(sizeof k_type_names / sizeof *k_type_names) ? k_type_names[tt] : "unknown";
}

static nne_dtype map_type(int tt) {
    switch (tt) {
    case TT_FLOAT32: return NNE_DTYPE_FLOAT;
    case TT_FLOAT16: return NNE_DTYPE_FLOAT16;
    case TT_INT32: return NNE_DTYPE_INT32;
    case TT_UINT8: return NNE_DTYPE_UINT8;
    case TT_INT64: return NNE_DTYPE_INT64;
    case TT_BOOL: return NNE_DTYPE_BOOL;
    case TT_INT16: return NNE_DTYPE_INT16;
    case TT_INT8: return NNE_DTYPE_INT8;
    case TT_FLOAT64: return NNE_DTYPE_DOUBLE;
    case TT_UINT64: return NNE_DTYPE_UINT64;
    case TT_UINT32: return NNE_DTYPE_UINT32;
    case TT_UINT16: return NNE_DTYPE_UINT16;
    case TT_BFLOAT16: return NNE_DTYPE_BFLOAT16;
    default: return NNE_DTYPE_UNDEFINED;
    }
}

/* Builtin operator names, by code (schema.fbs enum BuiltinOperator). */
static const char *const k_op_names[] = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE",
    "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU",
    "RELU_N1_TO_1", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH",
    "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB",
    "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
    "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM",
    "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN",
    "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT", "RSQRT",
    "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK", "LOGICAL_OR", "ONE_HOT",
    "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN", "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL",
    "FLOOR_MOD", "RANGE", "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
    "SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU",
    "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF", "WHILE",
    "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM",
    "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D",
    "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE",
    "REDUCE_ALL", "CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT"};
#define N_OP_NAMES ((int)(sizeof k_op_names / sizeof *k_op_names))

enum {
    OP_ADD = 0, OP_AVERAGE_POOL_2D = 1, OP_CONCATENATION = 2, OP_CONV_2D = 3, OP_DEPTHWISE_CONV_2D = 4,
    OP_DEPTH_TO_SPACE = 5, OP_DEQUANTIZE = 6, OP_FLOOR = 8, OP_FULLY_CONNECTED = 9, OP_LOGISTIC = 14,
    OP_MAX_POOL_2D = 17, OP_MUL = 18, OP_RELU = 19, OP_RELU_N1_TO_1 = 20, OP_RELU6 = 21, OP_RESHAPE = 22,
    OP_RESIZE_BILINEAR = 23, OP_SOFTMAX = 25, OP_SPACE_TO_DEPTH = 26, OP_TANH = 28, OP_CUSTOM = 32, OP_PAD = 34,
    OP_GATHER = 36, OP_TRANSPOSE = 39, OP_MEAN = 40, OP_SUB = 41, OP_DIV = 42, OP_SQUEEZE = 43,
    OP_STRIDED_SLICE = 45, OP_EXP = 47, OP_SPLIT = 49, OP_LOG_SOFTMAX = 50, OP_CAST = 53, OP_PRELU = 54,
    OP_MAXIMUM = 55, OP_ARG_MAX = 56, OP_MINIMUM = 57, OP_LESS = 58, OP_NEG = 59, OP_PADV2 = 60, OP_GREATER = 61,
    OP_GREATER_EQUAL = 62, OP_LESS_EQUAL = 63, OP_SELECT = 64, OP_SLICE = 65, OP_SIN = 66, OP_TRANSPOSE_CONV = 67, OP_TILE = 69,
    OP_EXPAND_DIMS = 70, OP_EQUAL = 71, OP_NOT_EQUAL = 72, OP_LOG = 73, OP_SUM = 74, OP_SQRT = 75, OP_RSQRT = 76,
    OP_SHAPE = 77, OP_POW = 78, OP_ARG_MIN = 79, OP_REDUCE_PROD = 81, OP_REDUCE_MAX = 82, OP_PACK = 83,
    OP_LOGICAL_OR = 84, OP_LOGICAL_AND = 86, OP_LOGICAL_NOT = 87, OP_UNPACK = 88, OP_REDUCE_MIN = 89,
    OP_SQUARE = 92, OP_RESIZE_NEAREST_NEIGHBOR = 97, OP_LEAKY_RELU = 98, OP_SQUARED_DIFFERENCE = 99, OP_ABS = 101,
    OP_SPLIT_V = 102, OP_CEIL = 104, OP_COS = 108, OP_ELU = 111, OP_QUANTIZE = 114, OP_HARD_SWISH = 117,
    OP_IF = 118, OP_WHILE = 119, OP_SELECT_V2 = 123, OP_BATCH_MATMUL = 126, OP_GELU = 150,
    OP_L2_NORMALIZATION = 11, OP_LRN = 13, OP_FLOOR_DIV = 90, OP_FILL = 94, OP_FLOOR_MOD = 95, OP_RANGE = 96,
    OP_MIRROR_PAD = 100, OP_REVERSE_V2 = 105, OP_ADD_N = 106, OP_GATHER_ND = 107, OP_CUMSUM = 128,
    OP_BROADCAST_TO = 130
};

/* The highest version of each op this importer handles. Later versions may
 * carry options it does not know; they are refused by name and version. */
static int max_version(int code) {
    switch (code) {
    case OP_CONV_2D: return 8;
    case OP_DEPTHWISE_CONV_2D: return 7;
    case OP_TRANSPOSE_CONV: return 5;
    case OP_L2_NORMALIZATION: case OP_LRN: case OP_FLOOR_DIV: case OP_FLOOR_MOD: case OP_MIRROR_PAD: case OP_GATHER_ND:
    case OP_REVERSE_V2: case OP_BROADCAST_TO: return 3;
    case OP_FILL: case OP_RANGE: case OP_ADD_N: case OP_CUMSUM: return 2;
    case OP_FULLY_CONNECTED: return 12;
    case OP_ADD: case OP_SUB: return 5;
    case OP_MUL: return 7;
    case OP_DIV: return 2;
    case OP_AVERAGE_POOL_2D: case OP_MAX_POOL_2D: return 3;
    case OP_CONCATENATION: return 4;
    case OP_RESHAPE: case OP_EXPAND_DIMS: case OP_SHAPE: case OP_HARD_SWISH: return 1;
    case OP_SOFTMAX: return 3;
    case OP_MEAN: case OP_SUM: case OP_REDUCE_MAX: case OP_REDUCE_MIN: case OP_REDUCE_PROD: return 3;
    case OP_PAD: case OP_PADV2: return 4;
    case OP_RELU: case OP_LOGISTIC: case OP_TANH: return 3;
    case OP_RELU6: case OP_RELU_N1_TO_1: case OP_LEAKY_RELU: case OP_SQUEEZE: return 2;
    case OP_QUANTIZE: return 3;
    case OP_DEQUANTIZE: return 6;
    case OP_TRANSPOSE: return 6;
    case OP_STRIDED_SLICE: return 8;
    case OP_SLICE: return 6;
    case OP_GATHER: return 7;
    case OP_SPLIT: case OP_SPLIT_V: case OP_PACK: case OP_UNPACK: return 4;
    case OP_BATCH_MATMUL: return 4;
    case OP_CAST: return 6;
    case OP_MAXIMUM: case OP_MINIMUM: return 4;
    case OP_RESIZE_BILINEAR: case OP_RESIZE_NEAREST_NEIGHBOR: return 4;
    case OP_GELU: case OP_PRELU: case OP_ELU: case OP_IF: case OP_WHILE: return 1;
    case OP_SQUARED_DIFFERENCE: case OP_ARG_MAX: case OP_ARG_MIN: case OP_SELECT: case OP_SELECT_V2: return 3;
    case OP_LESS: case OP_GREATER: case OP_GREATER_EQUAL: case OP_LESS_EQUAL: case OP_EQUAL: case OP_NOT_EQUAL:
        return 4;
    case OP_EXP: case OP_LOG: case OP_SQRT: case OP_RSQRT: case OP_ABS: case OP_NEG: case OP_SIN: case OP_COS:
    case OP_SQUARE: case OP_FLOOR: case OP_CEIL: case OP_POW: case OP_TILE: case OP_LOG_SOFTMAX:
    case OP_LOGICAL_OR: case OP_LOGICAL_AND: case OP_LOGICAL_NOT: case OP_SPACE_TO_DEPTH: case OP_DEPTH_TO_SPACE:
        return 2;
    default: return 0; /* no mapping */
    }
}

typedef struct tfl_tensor {
    int tt;              /* TFLite type */
    nne_dtype dt;
    int ndim;
    int64_t dims[NNE_MAX_DIMS];  /* static shape (`shape`) */
    int64_t sig[NNE_MAX_DIMS];   /* with -1 where shape_signature says unknown */
    const char *name;
    uint32_t name_len;
    const uint8_t *data; /* constant bytes (NULL: an activation) */
    uint64_t nbytes;
    int quant;           /* has scales */
    nne_fb_vec scale, zp;
    int qdim;
    int v;               /* value index in the graph, -1 until made */
    int vf;              /* its float32 twin, -1 until made */
} tfl_tensor;

typedef struct loader loader;

typedef struct sg_ctx {
    loader *ld;
    nne_graph *g;
    int sgi;
    int n_t;
    tfl_tensor *t;
    int *nchw;           /* value index -> value holding it in NCHW (-1: none) */
    int nchw_cap;
    const char *opname;  /* current operator, for messages */
    int opver;
    int opi;
    char node_base[200]; /* names of the nodes made for the current operator: its first output's name */
    int node_serial;     /* + "/N", N counting every node of the graph, so names are unique (ONNX Runtime checks) */
} sg_ctx;

struct loader {
    nne_fb fb;
    const uint8_t *file;
    size_t file_len;
    nne_fb_table model;
    nne_fb_vec codes, subgraphs, buffers;
    nne_model *m;
    int depth;
    int allow_unsupported;
    uint8_t *sg_busy;    /* subgraphs being imported (a branch may not contain itself) */
    uint64_t work;       /* tensors + operators imported so far, over every (re)import */
    uint64_t work_cap;   /* MAX_IMPORT_WORK plus 16 times the file's own count */
};

/* Each IF imports its branch subgraphs again (they become its attributes),
 * so a small file of IFs that fan out to the same subgraphs at every level
 * could ask for exponential work: the total is capped. */
#define MAX_IMPORT_WORK ((uint64_t)1 << 16)

typedef struct opinfo {
    int code, version;
    nne_fb_vec in, out;
    nne_fb_table opt;    /* builtin_options (zeroed: defaults) */
} opinfo;

static nne_status fb_err(loader *ld) {
    return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: %s", ld->fb.err);
}
static nne_status oom(void) { return nne_error(NNE_ERR_OUT_OF_MEMORY, "tflite: out of memory"); }

static nne_status op_fail(sg_ctx *c, nne_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static nne_status op_fail(sg_ctx *c, nne_status st, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nne_error(st, "tflite: subgraph %d operator %d (%s version %d): %s", c->sgi, c->opi, c->opname, c->opver,
                     msg);
}

int nne_tflite_detect(const void *data, size_t size) {
    return data && size >= 8 && memcmp((const uint8_t *)data + 4, "TFL3", 4) == 0;
}

/* ------------------------------------------------------------ tensors -- */

static int64_t numel_of(const tfl_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0) return -1;
        if (t->dims[d] && n > INT64_MAX / t->dims[d]) return -1;
        n *= t->dims[d];
    }
    return n;
}

static nne_status parse_tensor(loader *ld, sg_ctx *c, int i, const nne_fb_table *tt) {
    tfl_tensor *t = &c->t[i];
    memset(t, 0, sizeof *t);
    t->v = t->vf = -1;
    t->tt = nne_fb_i8(tt, 1, 0);
    nne_fb_string(tt, 3, &t->name, &t->name_len);
    nne_fb_vec shape, sig;
    nne_fb_vector(tt, 0, 4, &shape);
    int has_sig = nne_fb_vector(tt, 7, 4, &sig);
    if (ld->fb.failed) return fb_err(ld);
    if (shape.n > NNE_MAX_DIMS)
        return nne_error(NNE_ERR_UNSUPPORTED, "tflite: tensor \"%.*s\" has rank %u; nnedge supports up to %d",
                         (int)t->name_len, t->name, shape.n, NNE_MAX_DIMS);
    if (has_sig && sig.n != shape.n)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: tensor \"%.*s\": shape_signature has %u dims, shape %u",
                         (int)t->name_len, t->name, sig.n, shape.n);
    t->ndim = (int)shape.n;
    for (int d = 0; d < t->ndim; d++) {
        int32_t s = nne_fb_vec_i32(&shape, (uint32_t)d);
        int32_t g = has_sig ? nne_fb_vec_i32(&sig, (uint32_t)d) : s;
        if (s < -1 || g < -1)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: tensor \"%.*s\": dim %d is %d", (int)t->name_len, t->name,
                             d, s < -1 ? s : g);
        /* a -1 in `shape` itself (seen in converted dynamic models) is unknown too */
        t->dims[d] = s < 0 ? 1 : s;
        t->sig[d] = (g < 0 || s < 0) ? -1 : s;
    }
    t->dt = map_type(t->tt);
    if (t->dt == NNE_DTYPE_UNDEFINED)
        return nne_error(NNE_ERR_UNSUPPORTED, "tflite: tensor \"%.*s\" has type %s (%d), which nnedge does not support",
                         (int)t->name_len, t->name, type_name(t->tt), t->tt);
    if (nne_fb_has(tt, 6))
        return nne_error(NNE_ERR_UNSUPPORTED, "tflite: tensor \"%.*s\" is sparse; densify the model first",
                         (int)t->name_len, t->name);
    if (nne_fb_u8(tt, 5, 0))
        return nne_error(NNE_ERR_UNSUPPORTED, "tflite: tensor \"%.*s\" is a variable (stateful models are not supported)",
                         (int)t->name_len, t->name);
    nne_fb_table q;
    if (nne_fb_table_field(tt, 4, &q)) {
        if (nne_fb_u8(&q, 4, 0) != 0)
            return nne_error(NNE_ERR_UNSUPPORTED, "tflite: tensor \"%.*s\" uses custom quantization details",
                             (int)t->name_len, t->name);
        nne_fb_vector(&q, 2, 4, &t->scale);
        nne_fb_vector(&q, 3, 8, &t->zp);
        t->qdim = nne_fb_i32(&q, 6, 0);
        if (ld->fb.failed) return fb_err(ld);
        if (t->scale.n > 0 && (t->dt == NNE_DTYPE_INT8 || t->dt == NNE_DTYPE_UINT8 || t->dt == NNE_DTYPE_INT16 ||
                               t->dt == NNE_DTYPE_INT32 || t->dt == NNE_DTYPE_INT64)) {
            t->quant = 1;
            if (t->scale.n > 1 && (t->qdim < 0 || t->qdim >= t->ndim || (int64_t)t->scale.n != t->dims[t->qdim]))
                return nne_error(NNE_ERR_CORRUPT_MODEL,
                                 "tflite: tensor \"%.*s\": %u scales for quantized_dimension %d of a rank-%d tensor",
                                 (int)t->name_len, t->name, t->scale.n, t->qdim, t->ndim);
            if (t->zp.n != 0 && t->zp.n != t->scale.n)
                return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: tensor \"%.*s\": %u scales but %u zero points",
                                 (int)t->name_len, t->name, t->scale.n, t->zp.n);
            for (uint32_t k = 0; k < t->scale.n; k++) {
                float s = nne_fb_vec_f32(&t->scale, k);
                if (!(s > 0) || !isfinite(s))
                    return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: tensor \"%.*s\": scale %g is not positive",
                                     (int)t->name_len, t->name, (double)s);
            }
        }
    }
    /* the buffer */
    uint32_t b = nne_fb_u32(tt, 2, 0);
    if (b >= ld->buffers.n && b != 0)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: tensor \"%.*s\" refers to buffer %u of %u", (int)t->name_len,
                         t->name, b, ld->buffers.n);
    if (b > 0) {
        nne_fb_table bt;
        if (!nne_fb_vec_table(&ld->buffers, b, &bt)) return fb_err(ld);
        uint64_t off = nne_fb_u64(&bt, 1, 0), size = nne_fb_u64(&bt, 2, 0);
        nne_fb_vec data;
        nne_fb_vector(&bt, 0, 1, &data);
        if (ld->fb.failed) return fb_err(ld);
        if (off > 1) {
            /* a buffer stored past the FlatBuffer (models over 2 GB) */
            if (off > ld->file_len || size > ld->file_len - off)
                return nne_error(NNE_ERR_CORRUPT_MODEL,
                                 "tflite: buffer %u: offset %llu + size %llu is past the end of the %zu-byte file", b,
                                 (unsigned long long)off, (unsigned long long)size, ld->file_len);
            if (size) t->data = ld->file + off, t->nbytes = size;
        } else if (data.n) {
            t->data = ld->fb.buf + data.pos;
            t->nbytes = data.n;
        }
    }
    if (t->data) {
        int64_t n = numel_of(t);
        size_t es = t->dt == NNE_DTYPE_BOOL ? 1 : nne_dtype_size(t->dt);
        if (n < 0 || (uint64_t)n > UINT64_MAX / (es ? es : 1) || (uint64_t)n * es != t->nbytes)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: constant tensor \"%.*s\" (%s, %lld elements) has %llu bytes",
                             (int)t->name_len, t->name, type_name(t->tt), (long long)n,
                             (unsigned long long)t->nbytes);
    }
    return NNE_OK;
}

/* A copy of a tensor's name (or "t<index>" for a nameless one). */
static char *tname(sg_ctx *c, int ti, char *buf, size_t cap) {
    tfl_tensor *t = &c->t[ti];
    if (!t->name_len) snprintf(buf, cap, "t%d", ti);
    else snprintf(buf, cap, "%.*s", (int)t->name_len, t->name);
    return buf;
}

static void declare(nne_value *v, const tfl_tensor *t) {
    v->dtype = t->dt;
    v->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) v->dims[d] = t->sig[d];
}

/* ------------------------------------------------------ node building -- */

static nne_status new_value(sg_ctx *c, const char *base, int *out) {
    return nne_graph_add_unique_value(c->g, base && base[0] ? base : "v", NNE_VAL_NODE, out);
}

/* A node with n inputs (-1: omitted) and n_out fresh outputs. */
static nne_status node(sg_ctx *c, const char *op, int n, const int *in, int n_out, int *outs, int *ni_out) {
    int ni;
    char nm[240];
    snprintf(nm, sizeof nm, "%s%s%d", c->node_base, c->node_base[0] ? "/" : "n", c->node_serial++);
    NNE_TRY(nne_graph_add_node(c->g, op, "", nm, OPSET, &ni));
    for (int k = 0; k < n; k++) NNE_TRY(nne_node_add_input(c->g, ni, in[k]));
    for (int k = 0; k < n_out; k++) {
        int v;
        NNE_TRY(new_value(c, op, &v));
        NNE_TRY(nne_node_add_output(c->g, ni, v));
        outs[k] = v;
    }
    if (ni_out) *ni_out = ni;
    return NNE_OK;
}
static nne_status node1(sg_ctx *c, const char *op, int a, int b, int *out, int *ni) {
    int in[2] = {a, b};
    return node(c, op, b == -2 ? 1 : 2, in, 1, out, ni);
}
#define UN (-2) /* node1: no second input */

static nne_status const_tensor(sg_ctx *c, const char *base, nne_tensor *t, int *out) {
    int v;
    if (!nne_dtype_size(t->dtype) || t->ndim < 0 || t->ndim > NNE_MAX_DIMS || nne_dims_numel(t->ndim, t->dims) < 0) {
        nne_aligned_free(t->data);
        t->data = NULL;
        return nne_error(NNE_ERR_INVALID_ARG, "tflite: constant tensor \"%s\" has an invalid dtype or shape", base);
    }
    nne_status st = nne_graph_add_unique_value(c->g, base, NNE_VAL_CONST, &v);
    if (st != NNE_OK) {
        nne_aligned_free(t->data);
        return st;
    }
    /* the value exists already: make it the initializer */
    nne_value *val = &c->g->values[v];
    val->init = *t;
    val->init_from_file = 1;
    t->data = NULL;
    *out = v;
    return NNE_OK;
}

static nne_status const_i64(sg_ctx *c, int n, const int64_t *vals, int scalar, int *out) {
    nne_tensor t = {.dtype = NNE_DTYPE_INT64, .ndim = scalar ? 0 : 1, .dims = {n}};
    t.data = nne_aligned_alloc((size_t)(n > 0 ? n : 1) * 8);
    if (!t.data) return oom();
    if (n) memcpy(t.data, vals, (size_t)n * 8);
    return const_tensor(c, "const", &t, out);
}
static nne_status const_f32(sg_ctx *c, float x, int *out) {
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 0};
    t.data = nne_aligned_alloc(4);
    if (!t.data) return oom();
    memcpy(t.data, &x, 4);
    return const_tensor(c, "const", &t, out);
}

static nne_status transpose(sg_ctx *c, int v, int rank, const int64_t *perm, int *out) {
    int ni;
    NNE_TRY(node1(c, "Transpose", v, UN, out, &ni));
    return nne_node_set_attr_ints(c->g, ni, "perm", rank, perm);
}

static int memo_get(sg_ctx *c, int v) { return v >= 0 && v < c->nchw_cap ? c->nchw[v] : -1; }
static nne_status memo_set(sg_ctx *c, int v, int w) {
    if (v >= c->nchw_cap) {
        int cap = c->g->n_values + 64;
        int *p = nne_realloc(c->nchw, (size_t)cap * sizeof *p);
        if (!p) return oom();
        for (int i = c->nchw_cap; i < cap; i++) p[i] = -1;
        c->nchw = p;
        c->nchw_cap = cap;
    }
    c->nchw[v] = w;
    return NNE_OK;
}

static const int64_t k_to_nchw[4] = {0, 3, 1, 2}, k_to_nhwc[4] = {0, 2, 3, 1};

static nne_status to_nchw(sg_ctx *c, int v, int *out) {
    int w = memo_get(c, v);
    if (w >= 0) {
        *out = w;
        return NNE_OK;
    }
    NNE_TRY(transpose(c, v, 4, k_to_nchw, out));
    return NNE_OK;
}
static nne_status from_nchw(sg_ctx *c, int w, int *out) {
    NNE_TRY(transpose(c, w, 4, k_to_nhwc, out));
    return memo_set(c, *out, w);
}

/* ------------------------------------------------------- tensor values -- */

/* Dequantized (or converted) float32 copy of a constant tensor. */
static nne_status const_floats(sg_ctx *c, int ti, float **out) {
    tfl_tensor *t = &c->t[ti];
    int64_t n = numel_of(t);
    float *f = nne_aligned_alloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    if (!f) return oom();
    const uint8_t *p = t->data;
    int64_t inner = 1, D = 1;
    if (t->quant && t->scale.n > 1) {
        D = t->dims[t->qdim];
        for (int d = t->qdim + 1; d < t->ndim; d++) inner *= t->dims[d];
    }
    for (int64_t i = 0; i < n; i++) {
        double x;
        switch (t->dt) {
        case NNE_DTYPE_FLOAT: { float v; memcpy(&v, p + 4 * i, 4); x = v; break; }
        case NNE_DTYPE_FLOAT16: { uint16_t h; memcpy(&h, p + 2 * i, 2); x = nne_f16_to_f32(h); break; }
        case NNE_DTYPE_DOUBLE: memcpy(&x, p + 8 * i, 8); break;
        case NNE_DTYPE_INT8: x = (int8_t)p[i]; break;
        case NNE_DTYPE_UINT8: x = p[i]; break;
        case NNE_DTYPE_BOOL: x = p[i] != 0; break;
        case NNE_DTYPE_INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); x = v; break; }
        case NNE_DTYPE_INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); x = v; break; }
        case NNE_DTYPE_INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); x = (double)v; break; }
        default:
            nne_aligned_free(f);
            return nne_error(NNE_ERR_UNSUPPORTED, "tflite: constant \"%.*s\" of type %s cannot be read as float",
                             (int)t->name_len, t->name, type_name(t->tt));
        }
        if (t->quant) {
            uint32_t ch = t->scale.n > 1 ? (uint32_t)((i / inner) % D) : 0;
            double zp = t->zp.n ? (double)nne_fb_vec_i64(&t->zp, ch) : 0.0;
            x = (x - zp) * nne_fb_vec_f32(&t->scale, ch);
        }
        f[i] = (float)x;
    }
    *out = f;
    return NNE_OK;
}

/* The tensor as stored (integers stay integers, quantized stays quantized). */
static nne_status tval(sg_ctx *c, int ti, int *out) {
    if (ti < 0 || ti >= c->n_t) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "a required input is missing");
    tfl_tensor *t = &c->t[ti];
    if (t->v >= 0) {
        *out = t->v;
        return NNE_OK;
    }
    char nm[256];
    /* a tensor with no elements needs no buffer: converters write empty
     * shape constants (a RESHAPE to a scalar) that way */
    if (!t->data && numel_of(t) == 0) t->data = (const uint8_t *)"", t->nbytes = 0;
    if (!t->data)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "reads tensor \"%s\" (index %d) before any operator writes it",
                       tname(c, ti, nm, sizeof nm), ti);
    nne_tensor x = {.dtype = t->dt, .ndim = t->ndim};
    for (int d = 0; d < t->ndim; d++) x.dims[d] = t->dims[d];
    x.data = nne_aligned_alloc(t->nbytes ? t->nbytes : 1);
    if (!x.data) return oom();
    memcpy(x.data, t->data, t->nbytes);
    NNE_TRY(const_tensor(c, tname(c, ti, nm, sizeof nm), &x, &t->v));
    *out = t->v;
    return NNE_OK;
}

static int is_floatish(const tfl_tensor *t) {
    return t->quant || t->dt == NNE_DTYPE_FLOAT || t->dt == NNE_DTYPE_FLOAT16 || t->dt == NNE_DTYPE_DOUBLE ||
           t->dt == NNE_DTYPE_BFLOAT16;
}

/* Scale and zero-point constants of a quantized tensor (per tensor:
 * scalars; per channel: 1-D, with the axis in *axis). */
static nne_status qparams(sg_ctx *c, int ti, int *vs, int *vz, int *axis) {
    tfl_tensor *t = &c->t[ti];
    int n = (int)t->scale.n;
    int per = n > 1;
    nne_tensor s = {.dtype = NNE_DTYPE_FLOAT, .ndim = per, .dims = {n}};
    nne_tensor z = {.dtype = t->dt, .ndim = per, .dims = {n}};
    s.data = nne_aligned_alloc((size_t)n * 4);
    z.data = nne_aligned_alloc((size_t)n * 8);
    if (!s.data || !z.data) {
        nne_aligned_free(s.data);
        nne_aligned_free(z.data);
        return oom();
    }
    for (int k = 0; k < n; k++) {
        ((float *)s.data)[k] = nne_fb_vec_f32(&t->scale, (uint32_t)k);
        int64_t zp = t->zp.n ? nne_fb_vec_i64(&t->zp, (uint32_t)k) : 0;
        switch (t->dt) {
        case NNE_DTYPE_INT8: ((int8_t *)z.data)[k] = (int8_t)zp; break;
        case NNE_DTYPE_UINT8: ((uint8_t *)z.data)[k] = (uint8_t)zp; break;
        case NNE_DTYPE_INT16: ((int16_t *)z.data)[k] = (int16_t)zp; break;
        case NNE_DTYPE_INT32: ((int32_t *)z.data)[k] = (int32_t)zp; break;
        default: ((int64_t *)z.data)[k] = zp; break;
        }
    }
    nne_status st = const_tensor(c, "scale", &s, vs);
    if (st != NNE_OK) {
        nne_aligned_free(z.data);
        return st;
    }
    NNE_TRY(const_tensor(c, "zero_point", &z, vz));
    *axis = per ? t->qdim : 1;
    return NNE_OK;
}

/* The tensor as float32. */
static nne_status tfloat(sg_ctx *c, int ti, int *out) {
    if (ti < 0 || ti >= c->n_t) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "a required input is missing");
    tfl_tensor *t = &c->t[ti];
    if (t->vf >= 0) {
        *out = t->vf;
        return NNE_OK;
    }
    char nm[256];
    if (t->data && t->v < 0) {
        if (t->dt == NNE_DTYPE_FLOAT && !t->quant) {
            NNE_TRY(tval(c, ti, out));
            t->vf = t->v;
            return NNE_OK;
        }
        float *f;
        NNE_TRY(const_floats(c, ti, &f));
        nne_tensor x = {.dtype = NNE_DTYPE_FLOAT, .ndim = t->ndim, .data = f};
        for (int d = 0; d < t->ndim; d++) x.dims[d] = t->dims[d];
        NNE_TRY(const_tensor(c, tname(c, ti, nm, sizeof nm), &x, &t->vf));
        *out = t->vf;
        return NNE_OK;
    }
    int v;
    NNE_TRY(tval(c, ti, &v));
    if (t->dt == NNE_DTYPE_FLOAT && !t->quant) {
        t->vf = v;
    } else if (t->quant && t->dt != NNE_DTYPE_INT64) {
        int vs, vz, axis, ni;
        NNE_TRY(qparams(c, ti, &vs, &vz, &axis));
        int in[3] = {v, vs, vz};
        NNE_TRY(node(c, "DequantizeLinear", 3, in, 1, &t->vf, &ni));
        if (t->scale.n > 1) NNE_TRY(nne_node_set_attr_int(c->g, ni, "axis", axis));
    } else {
        int ni;
        NNE_TRY(node1(c, "Cast", v, UN, &t->vf, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "to", NNE_DTYPE_FLOAT));
    }
    /* an NHWC activation whose NCHW twin exists: its dequantized copy is not
     * that twin, so no memo entry is carried over */
    *out = t->vf;
    return NNE_OK;
}

/* Record the result of an operator for output tensor ti: y is float32 when
 * `fl` (converted here to the tensor's type), else already of its type. */
static nne_status finish(sg_ctx *c, int ti, int y, int fl) {
    if (ti < 0) return NNE_OK;
    if (ti >= c->n_t) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "output tensor index %d out of range", ti);
    tfl_tensor *t = &c->t[ti];
    char nm[256];
    if (t->v >= 0 || t->data)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "writes tensor \"%s\" (index %d), which is already defined",
                       tname(c, ti, nm, sizeof nm), ti);
    if (!fl || (t->dt == NNE_DTYPE_FLOAT && !t->quant)) {
        t->v = y;
        if (fl) t->vf = y;
        return NNE_OK;
    }
    int ni;
    if (t->quant && t->dt != NNE_DTYPE_INT32 && t->dt != NNE_DTYPE_INT64) {
        int vs, vz, axis;
        NNE_TRY(qparams(c, ti, &vs, &vz, &axis));
        int in[3] = {y, vs, vz};
        NNE_TRY(node(c, "QuantizeLinear", 3, in, 1, &t->v, &ni));
        if (t->scale.n > 1) NNE_TRY(nne_node_set_attr_int(c->g, ni, "axis", axis));
        /* consumers dequantize the rounded values, as TFLite's kernels see them */
        return NNE_OK;
    }
    NNE_TRY(node1(c, "Cast", y, UN, &t->v, &ni));
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "to", t->dt));
    t->vf = y;
    return NNE_OK;
}

/* Integer contents of a constant (shapes, axes, permutations). */
static nne_status const_ints(sg_ctx *c, int ti, int64_t *buf, int cap, int *n, const char *what) {
    if (ti < 0 || ti >= c->n_t) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input %s is missing", what);
    tfl_tensor *t = &c->t[ti];
    if (!t->data) return op_fail(c, NNE_ERR_UNSUPPORTED, "input %s must be a constant tensor", what);
    if (t->dt != NNE_DTYPE_INT32 && t->dt != NNE_DTYPE_INT64)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input %s has type %s, expected INT32 or INT64", what,
                       type_name(t->tt));
    int64_t k = numel_of(t);
    if (k < 0 || k > cap) return op_fail(c, NNE_ERR_UNSUPPORTED, "input %s has %lld values (at most %d)", what,
                                         (long long)k, cap);
    for (int64_t i = 0; i < k; i++) {
        if (t->dt == NNE_DTYPE_INT32) {
            int32_t v;
            memcpy(&v, t->data + 4 * i, 4);
            buf[i] = v;
        } else {
            memcpy(&buf[i], t->data + 8 * i, 8);
        }
    }
    *n = (int)k;
    return NNE_OK;
}

/* A runtime integer tensor as int64 (ONNX shape inputs). */
static nne_status as_i64(sg_ctx *c, int ti, int *out) {
    int v, ni;
    NNE_TRY(tval(c, ti, &v));
    if (c->t[ti].dt == NNE_DTYPE_INT64) return *out = v, NNE_OK;
    NNE_TRY(node1(c, "Cast", v, UN, out, &ni));
    return nne_node_set_attr_int(c->g, ni, "to", NNE_DTYPE_INT64);
}

/* Fused activation after an op. */
static nne_status fused(sg_ctx *c, int act, int y, int *out) {
    int ni, lo, hi;
    switch (act) {
    case 0: *out = y; return NNE_OK;
    case 1: return node1(c, "Relu", y, UN, out, &ni);
    case 2: case 3: {
        NNE_TRY(const_f32(c, act == 2 ? -1.0f : 0.0f, &lo));
        NNE_TRY(const_f32(c, act == 2 ? 1.0f : 6.0f, &hi));
        int in[3] = {y, lo, hi};
        return node(c, "Clip", 3, in, 1, out, &ni);
    }
    case 4:
        /* the schema lists TANH, but TFLite's kernels for these ops compute
         * no activation range for it and ignore it (LiteRT agrees): either
         * reading would surprise someone, so the model is refused */
        return op_fail(c, NNE_ERR_UNSUPPORTED,
                       "fused activation TANH is ignored by TFLite's kernels, so its meaning is ambiguous; "
                       "re-export the model with a separate TANH");
    default: return op_fail(c, NNE_ERR_UNSUPPORTED, "fused activation %d is not supported", act);
    }
}

/* ---------------------------------------------------------- operators -- */

static int IN(const opinfo *o, uint32_t k) { return k < o->in.n ? nne_fb_vec_i32(&o->in, k) : -1; }
static int OUT(const opinfo *o, uint32_t k) { return k < o->out.n ? nne_fb_vec_i32(&o->out, k) : -1; }

static nne_status need(sg_ctx *c, const opinfo *o, uint32_t n_in, uint32_t n_out) {
    if (o->in.n < n_in || o->out.n < n_out)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "has %u inputs and %u outputs, expected at least %u and %u", o->in.n,
                       o->out.n, n_in, n_out);
    for (uint32_t k = 0; k < n_in; k++)
        if (IN(o, k) < 0) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input %u is missing (index -1)", k);
    for (uint32_t k = 0; k < n_out; k++)
        if (OUT(o, k) < 0) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "output %u is missing", k);
    return NNE_OK;
}

static int t_rank(sg_ctx *c, int ti) { return ti >= 0 && ti < c->n_t ? c->t[ti].ndim : -1; }

static nne_status pad_attr(sg_ctx *c, int ni, int padding) {
    if (padding != 0 && padding != 1) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "padding %d is not SAME or VALID", padding);
    return nne_node_set_attr_string(c->g, ni, "auto_pad", padding == 0 ? "SAME_UPPER" : "VALID");
}

static nne_status strides_attr(sg_ctx *c, int ni, const char *name, int h, int w) {
    if (h < 1 || w < 1 || h > 65536 || w > 65536)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "%s %dx%d must be positive", name, h, w);
    int64_t s[2] = {h, w};
    return nne_node_set_attr_ints(c->g, ni, name, 2, s);
}

/* CONV_2D and DEPTHWISE_CONV_2D: NHWC input, OHWI / 1HW(C*M) filter. */
static nne_status op_conv(sg_ctx *c, const opinfo *o, int depthwise) {
    NNE_TRY(need(c, o, 2, 1));
    int xi = IN(o, 0), wi = IN(o, 1), bi = IN(o, 2);
    if (t_rank(c, xi) != 4 || t_rank(c, wi) != 4)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input and filter must be 4-D (got rank %d and %d)", t_rank(c, xi),
                       t_rank(c, wi));
    const nne_fb_table *p = &o->opt;
    int padding = nne_fb_i8(p, 0, 0), sw = nne_fb_i32(p, 1, 0), sh = nne_fb_i32(p, 2, 0);
    int act = nne_fb_i8(p, depthwise ? 4 : 3, 0);
    int dw = nne_fb_i32(p, depthwise ? 5 : 4, 1), dh = nne_fb_i32(p, depthwise ? 6 : 5, 1);
    tfl_tensor *wt = &c->t[wi];
    int64_t O = wt->dims[0], KH = wt->dims[1], KW = wt->dims[2], I = wt->dims[3];
    int64_t group = 1;
    int64_t cin = c->t[xi].sig[3];
    int x, xn, w, ni, y;
    NNE_TRY(tfloat(c, xi, &x));
    NNE_TRY(to_nchw(c, x, &xn));
    if (wt->data) {
        float *f, *g;
        NNE_TRY(const_floats(c, wi, &f));
        g = nne_aligned_alloc((size_t)(O * KH * KW * I > 0 ? O * KH * KW * I : 1) * sizeof *g);
        if (!g) {
            nne_aligned_free(f);
            return oom();
        }
        nne_tensor wt2 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .data = g};
        if (depthwise && O != 1) {
            nne_aligned_free(f);
            nne_aligned_free(g);
            return op_fail(c, NNE_ERR_CORRUPT_MODEL, "depthwise filter must be 1xHxWxC, got first dim %lld", (long long)O);
        }
        /* an empty filter has nothing to move (its other dims may still be
         * huge: the loops would walk them) */
        const int64_t moved = numel_of(wt) > 0 ? O : 0;
        if (!depthwise) {
            /* OHWI -> OIHW */
            for (int64_t a = 0; a < moved; a++)
                for (int64_t h = 0; h < KH; h++)
                    for (int64_t q = 0; q < KW; q++)
                        for (int64_t i = 0; i < I; i++)
                            g[((a * I + i) * KH + h) * KW + q] = f[((a * KH + h) * KW + q) * I + i];
            wt2.dims[0] = O, wt2.dims[1] = I, wt2.dims[2] = KH, wt2.dims[3] = KW;
        } else {
            /* 1 x KH x KW x (C*M) -> (C*M) x 1 x KH x KW */
            for (int64_t h = 0; h < KH * moved; h++)
                for (int64_t q = 0; q < KW; q++)
                    for (int64_t i = 0; i < I; i++) g[(i * KH + h) * KW + q] = f[(h * KW + q) * I + i];
            wt2.dims[0] = I, wt2.dims[1] = 1, wt2.dims[2] = KH, wt2.dims[3] = KW;
        }
        nne_aligned_free(f);
        char nm[256];
        NNE_TRY(const_tensor(c, tname(c, wi, nm, sizeof nm), &wt2, &w));
    } else {
        int wf;
        NNE_TRY(tfloat(c, wi, &wf));
        static const int64_t dperm[4] = {3, 0, 1, 2};
        NNE_TRY(transpose(c, wf, 4, depthwise ? dperm : k_to_nchw, &w));
    }
    if (depthwise) {
        int dm = nne_fb_i32(p, 3, 1);
        if (cin < 0) cin = dm > 0 && I % dm == 0 ? I / dm : -1;
        if (cin <= 0 || I % cin)
            return op_fail(c, NNE_ERR_UNSUPPORTED, "input channels unknown or do not divide %lld filter channels",
                           (long long)I);
        group = cin;
    } else if (cin > 0 && I > 0 && cin != I) {
        if (cin % I) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "filter depth %lld does not divide input channels %lld",
                                    (long long)I, (long long)cin);
        group = cin / I;
    }
    int in[3] = {xn, w, -1}, n_in = 2;
    if (bi >= 0) {
        NNE_TRY(tfloat(c, bi, &in[2]));
        n_in = 3;
    }
    NNE_TRY(node(c, "Conv", n_in, in, 1, &y, &ni));
    NNE_TRY(pad_attr(c, ni, padding));
    NNE_TRY(strides_attr(c, ni, "strides", sh, sw));
    NNE_TRY(strides_attr(c, ni, "dilations", dh, dw));
    int64_t ks[2] = {KH, KW};
    NNE_TRY(nne_node_set_attr_ints(c->g, ni, "kernel_shape", 2, ks));
    if (group != 1) NNE_TRY(nne_node_set_attr_int(c->g, ni, "group", group));
    NNE_TRY(fused(c, act, y, &y));
    int yh;
    NNE_TRY(from_nchw(c, y, &yh));
    return finish(c, OUT(o, 0), yh, 1);
}

/* TRANSPOSE_CONV: (output_shape, OHWI weights, NHWC input[, bias]) ->
 * ConvTranspose with explicit pads: TF pads the total
 * s * (in - 1) + k - out as floor(total / 2) before for SAME, none before
 * for VALID; a negative total becomes output_padding. */
static nne_status op_transpose_conv(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 3, 1));
    int si = IN(o, 0), wi = IN(o, 1), xi = IN(o, 2), bi = IN(o, 3);
    if (t_rank(c, xi) != 4 || t_rank(c, wi) != 4)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input and filter must be 4-D");
    const nne_fb_table *p = &o->opt;
    int padding = nne_fb_i8(p, 0, 0), sw = nne_fb_i32(p, 1, 0), sh = nne_fb_i32(p, 2, 0);
    int act = o->version >= 4 ? nne_fb_i8(p, 3, 0) : 0;
    if (padding != 0 && padding != 1) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "padding %d", padding);
    if (sh < 1 || sw < 1 || sh > 65536 || sw > 65536) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "strides %dx%d", sh, sw);
    int64_t os[4];
    int n;
    NNE_TRY(const_ints(c, si, os, 4, &n, "output_shape"));
    if (n != 4) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "output_shape has %d values, expected 4", n);
    tfl_tensor *wt = &c->t[wi], *xt = &c->t[xi];
    int64_t O = wt->dims[0], KH = wt->dims[1], KW = wt->dims[2], I = wt->dims[3];
    int64_t in_h = xt->sig[1], in_w = xt->sig[2];
    if (in_h < 0 || in_w < 0)
        return op_fail(c, NNE_ERR_UNSUPPORTED, "the input's height and width must be fixed (shape_signature has -1)");
    if (os[3] != O) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "output_shape has %lld channels, filter %lld",
                                   (long long)os[3], (long long)O);
    int64_t tot[2] = {(int64_t)sh * (in_h - 1) + KH - os[1], (int64_t)sw * (in_w - 1) + KW - os[2]};
    int64_t pads[4] = {0, 0, 0, 0}, opad[2] = {0, 0};
    for (int d = 0; d < 2; d++) {
        if (tot[d] < 0) {
            opad[d] = -tot[d];
            continue;
        }
        pads[d] = padding == 0 ? tot[d] / 2 : 0;
        pads[d + 2] = tot[d] - pads[d];
    }
    int x, xn, w, y, ni;
    NNE_TRY(tfloat(c, xi, &x));
    NNE_TRY(to_nchw(c, x, &xn));
    if (wt->data) {
        float *f, *g;
        NNE_TRY(const_floats(c, wi, &f));
        g = nne_aligned_alloc((size_t)(O * KH * KW * I > 0 ? O * KH * KW * I : 1) * sizeof *g);
        if (!g) {
            nne_aligned_free(f);
            return oom();
        }
        /* OHWI -> IOHW (ConvTranspose weights are C_in x C_out x kH x kW);
         * an empty filter has nothing to move, however large its other dims */
        for (int64_t a = 0; a < O && numel_of(wt) > 0; a++)
            for (int64_t h = 0; h < KH; h++)
                for (int64_t q = 0; q < KW; q++)
                    for (int64_t i = 0; i < I; i++) g[((i * O + a) * KH + h) * KW + q] = f[((a * KH + h) * KW + q) * I + i];
        nne_aligned_free(f);
        nne_tensor w2 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .dims = {I, O, KH, KW}, .data = g};
        char nm[256];
        NNE_TRY(const_tensor(c, tname(c, wi, nm, sizeof nm), &w2, &w));
    } else {
        int wf;
        static const int64_t perm[4] = {3, 0, 1, 2};
        NNE_TRY(tfloat(c, wi, &wf));
        NNE_TRY(transpose(c, wf, 4, perm, &w));
    }
    int in[3] = {xn, w, -1};
    if (bi >= 0) NNE_TRY(tfloat(c, bi, &in[2]));
    NNE_TRY(node(c, "ConvTranspose", bi >= 0 ? 3 : 2, in, 1, &y, &ni));
    NNE_TRY(strides_attr(c, ni, "strides", sh, sw));
    NNE_TRY(nne_node_set_attr_ints(c->g, ni, "kernel_shape", 2, (int64_t[]){KH, KW}));
    NNE_TRY(nne_node_set_attr_ints(c->g, ni, "pads", 4, pads));
    if (opad[0] || opad[1]) NNE_TRY(nne_node_set_attr_ints(c->g, ni, "output_padding", 2, opad));
    NNE_TRY(fused(c, act, y, &y));
    NNE_TRY(from_nchw(c, y, &y));
    return finish(c, OUT(o, 0), y, 1);
}

static nne_status op_pool(sg_ctx *c, const opinfo *o, const char *onnx_op) {
    NNE_TRY(need(c, o, 1, 1));
    if (t_rank(c, IN(o, 0)) != 4) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input must be 4-D");
    const nne_fb_table *p = &o->opt;
    int padding = nne_fb_i8(p, 0, 0), sw = nne_fb_i32(p, 1, 0), sh = nne_fb_i32(p, 2, 0);
    int fw = nne_fb_i32(p, 3, 0), fh = nne_fb_i32(p, 4, 0), act = nne_fb_i8(p, 5, 0);
    int x, xn, y, ni;
    NNE_TRY(tfloat(c, IN(o, 0), &x));
    NNE_TRY(to_nchw(c, x, &xn));
    NNE_TRY(node1(c, onnx_op, xn, UN, &y, &ni));
    NNE_TRY(pad_attr(c, ni, padding));
    NNE_TRY(strides_attr(c, ni, "strides", sh, sw));
    NNE_TRY(strides_attr(c, ni, "kernel_shape", fh, fw));
    NNE_TRY(fused(c, act, y, &y));
    NNE_TRY(from_nchw(c, y, &y));
    return finish(c, OUT(o, 0), y, 1);
}

static nne_status op_fc(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 2, 1));
    int xi = IN(o, 0), wi = IN(o, 1), bi = IN(o, 2);
    const nne_fb_table *p = &o->opt;
    int act = nne_fb_i8(p, 0, 0), wfmt = nne_fb_i8(p, 1, 0), keep = nne_fb_u8(p, 2, 0);
    if (wfmt != 0) return op_fail(c, NNE_ERR_UNSUPPORTED, "weights_format %d (shuffled) is not supported", wfmt);
    if (t_rank(c, wi) != 2) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "weights must be 2-D");
    int64_t K = c->t[wi].dims[1];
    int x, w, y, ni;
    NNE_TRY(tfloat(c, xi, &x));
    NNE_TRY(tfloat(c, wi, &w));
    int b = -1;
    if (bi >= 0) NNE_TRY(tfloat(c, bi, &b));
    if (!keep) {
        int s, x2;
        int64_t shp[2] = {-1, K};
        NNE_TRY(const_i64(c, 2, shp, 0, &s));
        NNE_TRY(node1(c, "Reshape", x, s, &x2, &ni));
        int in[3] = {x2, w, b};
        NNE_TRY(node(c, "Gemm", b >= 0 ? 3 : 2, in, 1, &y, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "transB", 1));
    } else {
        int wt;
        static const int64_t perm[2] = {1, 0};
        NNE_TRY(transpose(c, w, 2, perm, &wt));
        NNE_TRY(node1(c, "MatMul", x, wt, &y, &ni));
        if (b >= 0) NNE_TRY(node1(c, "Add", y, b, &y, &ni));
    }
    NNE_TRY(fused(c, act, y, &y));
    return finish(c, OUT(o, 0), y, 1);
}

/* 1 when value v is a constant of one element (broadcasts the same in any layout). */
static int scalar_const(sg_ctx *c, int v) {
    const nne_value *val = &c->g->values[v];
    return val->kind == NNE_VAL_CONST && val->init.ndim <= 4 && nne_dims_numel(val->init.ndim, val->init.dims) == 1;
}

/* Layout propagation for elementwise ops: when an operand already exists in
 * NCHW (it came out of a conv or pool), compute there and keep the NHWC
 * result as a transpose of it, so that a chain conv -> activation -> conv
 * needs no transposes in between (those left unread are dropped). */
static int nchw_operands(sg_ctx *c, int *a, int *b) {
    int an = memo_get(c, *a), bn = b ? memo_get(c, *b) : -1;
    if (!b) {
        if (an < 0) return 0;
        *a = an;
        return 1;
    }
    if (an >= 0 && (bn >= 0 || scalar_const(c, *b))) {
        *a = an;
        if (bn >= 0) *b = bn;
        return 1;
    }
    if (bn >= 0 && scalar_const(c, *a)) {
        *b = bn;
        return 1;
    }
    return 0;
}

/* Elementwise binary ops; `fused_slot` >= 0: the options slot of a fused activation. */
static nne_status op_binary(sg_ctx *c, const opinfo *o, const char *onnx_op, int fused_slot) {
    NNE_TRY(need(c, o, 2, 1));
    int oi = OUT(o, 0);
    int fl = is_floatish(&c->t[oi]) || (c->t[oi].dt == NNE_DTYPE_BOOL &&
                                          (is_floatish(&c->t[IN(o, 0)]) || is_floatish(&c->t[IN(o, 1)])));
    int a, b, y, ni;
    if (fl) {
        NNE_TRY(tfloat(c, IN(o, 0), &a));
        NNE_TRY(tfloat(c, IN(o, 1), &b));
    } else {
        NNE_TRY(tval(c, IN(o, 0), &a));
        NNE_TRY(tval(c, IN(o, 1), &b));
    }
    int nchw = fl && c->t[oi].dt != NNE_DTYPE_BOOL && strcmp(onnx_op, "PRelu") && nchw_operands(c, &a, &b);
    NNE_TRY(node1(c, onnx_op, a, b, &y, &ni));
    if (fused_slot >= 0) NNE_TRY(fused(c, nne_fb_i8(&o->opt, fused_slot, 0), y, &y));
    if (nchw) NNE_TRY(from_nchw(c, y, &y));
    return finish(c, oi, y, fl && c->t[oi].dt != NNE_DTYPE_BOOL);
}

static nne_status op_unary(sg_ctx *c, const opinfo *o, const char *onnx_op) {
    NNE_TRY(need(c, o, 1, 1));
    int oi = OUT(o, 0);
    int fl = is_floatish(&c->t[oi]);
    int x, y, ni;
    if (fl) NNE_TRY(tfloat(c, IN(o, 0), &x));
    else NNE_TRY(tval(c, IN(o, 0), &x));
    int nchw = fl && nchw_operands(c, &x, NULL);
    NNE_TRY(node1(c, onnx_op, x, UN, &y, &ni));
    if (!strcmp(onnx_op, "LeakyRelu")) NNE_TRY(nne_node_set_attr_float(c->g, ni, "alpha", nne_fb_f32(&o->opt, 0, 0)));
    if (!strcmp(onnx_op, "Gelu") && nne_fb_u8(&o->opt, 0, 0))
        NNE_TRY(nne_node_set_attr_string(c->g, ni, "approximate", "tanh"));
    if (nchw) NNE_TRY(from_nchw(c, y, &y));
    return finish(c, oi, y, fl);
}

static nne_status op_clip(sg_ctx *c, const opinfo *o, int act) {
    NNE_TRY(need(c, o, 1, 1));
    int x, y;
    NNE_TRY(tfloat(c, IN(o, 0), &x));
    int nchw = nchw_operands(c, &x, NULL);
    NNE_TRY(fused(c, act, x, &y));
    if (nchw) NNE_TRY(from_nchw(c, y, &y));
    return finish(c, OUT(o, 0), y, 1);
}

/* Ops that only move data: run on the stored type when input and output
 * share it and its quantization, else in float. */
static int same_repr(sg_ctx *c, int a, int b) {
    tfl_tensor *x = &c->t[a], *y = &c->t[b];
    if (x->dt != y->dt || x->quant != y->quant) return 0;
    if (!x->quant) return 1;
    if (x->scale.n != 1 || y->scale.n != 1) return 0;
    return nne_fb_vec_f32(&x->scale, 0) == nne_fb_vec_f32(&y->scale, 0) &&
           (x->zp.n ? nne_fb_vec_i64(&x->zp, 0) : 0) == (y->zp.n ? nne_fb_vec_i64(&y->zp, 0) : 0);
}
static nne_status data_in(sg_ctx *c, int xi, int oi, int *x, int *fl) {
    if (xi < 0 || xi >= c->n_t) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "data input is missing");
    *fl = !same_repr(c, xi, oi);
    return *fl ? tfloat(c, xi, x) : tval(c, xi, x);
}

static nne_status op_reshape(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 1, 1));
    int oi = OUT(o, 0), x, fl, s, y, ni;
    NNE_TRY(data_in(c, IN(o, 0), oi, &x, &fl));
    int64_t shp[NNE_MAX_DIMS];
    int n = 0;
    int si = IN(o, 1);
    if (si >= 0 && si < c->n_t && c->t[si].data) {
        NNE_TRY(const_ints(c, si, shp, NNE_MAX_DIMS, &n, "shape"));
        NNE_TRY(const_i64(c, n, shp, 0, &s));
    } else if (si >= 0) {
        NNE_TRY(as_i64(c, si, &s));
    } else {
        nne_fb_vec ns;
        nne_fb_vector(&o->opt, 0, 4, &ns);
        if (c->ld->fb.failed) return fb_err(c->ld);
        if (ns.n > NNE_MAX_DIMS) return op_fail(c, NNE_ERR_UNSUPPORTED, "new_shape has %u dims", ns.n);
        n = (int)ns.n;
        for (int k = 0; k < n; k++) shp[k] = nne_fb_vec_i32(&ns, (uint32_t)k);
        if (!o->opt.vt_len) {
            /* no shape at all: the output tensor's own shape */
            n = c->t[oi].ndim;
            for (int k = 0; k < n; k++) shp[k] = c->t[oi].sig[k];
        }
        NNE_TRY(const_i64(c, n, shp, 0, &s));
    }
    NNE_TRY(node1(c, "Reshape", x, s, &y, &ni));
    for (int k = 0; k < n; k++)
        if (shp[k] == 0) NNE_TRY(nne_node_set_attr_int(c->g, ni, "allowzero", 1));
    return finish(c, oi, y, fl);
}

static nne_status op_transpose(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 2, 1));
    int oi = OUT(o, 0), x, fl, y, n;
    int64_t perm[NNE_MAX_DIMS];
    NNE_TRY(const_ints(c, IN(o, 1), perm, NNE_MAX_DIMS, &n, "perm"));
    NNE_TRY(data_in(c, IN(o, 0), oi, &x, &fl));
    NNE_TRY(transpose(c, x, n, perm, &y));
    return finish(c, oi, y, fl);
}

static nne_status op_squeeze(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 1, 1));
    int oi = OUT(o, 0), x, fl, y, ni, ax;
    NNE_TRY(data_in(c, IN(o, 0), oi, &x, &fl));
    nne_fb_vec sd;
    nne_fb_vector(&o->opt, 0, 4, &sd);
    if (c->ld->fb.failed) return fb_err(c->ld);
    if (sd.n > NNE_MAX_DIMS) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "squeeze_dims has %u entries", sd.n);
    int64_t axes[NNE_MAX_DIMS];
    for (uint32_t k = 0; k < sd.n; k++) axes[k] = nne_fb_vec_i32(&sd, k);
    if (sd.n) {
        NNE_TRY(const_i64(c, (int)sd.n, axes, 0, &ax));
        NNE_TRY(node1(c, "Squeeze", x, ax, &y, &ni));
    } else {
        NNE_TRY(node1(c, "Squeeze", x, UN, &y, &ni));
    }
    return finish(c, oi, y, fl);
}

static nne_status op_expand_dims(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 2, 1));
    int oi = OUT(o, 0), x, fl, y, ni, ax, n;
    int64_t a[1];
    NNE_TRY(const_ints(c, IN(o, 1), a, 1, &n, "axis"));
    if (n != 1) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "axis must hold one value");
    NNE_TRY(data_in(c, IN(o, 0), oi, &x, &fl));
    NNE_TRY(const_i64(c, 1, a, 0, &ax));
    NNE_TRY(node1(c, "Unsqueeze", x, ax, &y, &ni));
    return finish(c, oi, y, fl);
}

static nne_status op_concat(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 1, 1));
    int oi = OUT(o, 0), fl = is_floatish(&c->t[oi]), y, ni;
    if (o->in.n > 4096) return op_fail(c, NNE_ERR_UNSUPPORTED, "%u inputs", o->in.n);
    int *in = nne_calloc(o->in.n, sizeof *in);
    if (!in) return oom();
    nne_status st = NNE_OK;
    for (uint32_t k = 0; k < o->in.n && st == NNE_OK; k++)
        st = fl ? tfloat(c, IN(o, k), &in[k]) : tval(c, IN(o, k), &in[k]);
    if (st == NNE_OK) st = node(c, "Concat", (int)o->in.n, in, 1, &y, &ni);
    nne_free(in);
    NNE_TRY(st);
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "axis", nne_fb_i32(&o->opt, 0, 0)));
    NNE_TRY(fused(c, nne_fb_i8(&o->opt, 1, 0), y, &y));
    return finish(c, oi, y, fl);
}

static nne_status op_reduce(sg_ctx *c, const opinfo *o, const char *onnx_op) {
    NNE_TRY(need(c, o, 2, 1));
    int oi = OUT(o, 0), fl = is_floatish(&c->t[oi]), x, y, ni, ax, n;
    int64_t axes[NNE_MAX_DIMS];
    NNE_TRY(const_ints(c, IN(o, 1), axes, NNE_MAX_DIMS, &n, "axes"));
    NNE_TRY(fl ? tfloat(c, IN(o, 0), &x) : tval(c, IN(o, 0), &x));
    NNE_TRY(const_i64(c, n, axes, 0, &ax));
    NNE_TRY(node1(c, onnx_op, x, ax, &y, &ni));
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "keepdims", nne_fb_u8(&o->opt, 0, 0) ? 1 : 0));
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "noop_with_empty_axes", 1));
    return finish(c, oi, y, fl);
}

static nne_status op_softmax(sg_ctx *c, const opinfo *o, int log) {
    NNE_TRY(need(c, o, 1, 1));
    int x, y, ni;
    NNE_TRY(tfloat(c, IN(o, 0), &x));
    if (!log) {
        float beta = nne_fb_f32(&o->opt, 0, 0.0f);
        if (beta != 1.0f) {
            int b;
            NNE_TRY(const_f32(c, beta, &b));
            NNE_TRY(node1(c, "Mul", x, b, &x, &ni));
        }
    }
    NNE_TRY(node1(c, log ? "LogSoftmax" : "Softmax", x, UN, &y, &ni));
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "axis", -1));
    return finish(c, OUT(o, 0), y, 1);
}

static nne_status op_pad(sg_ctx *c, const opinfo *o, int v2) {
    NNE_TRY(need(c, o, 2, 1));
    int oi = OUT(o, 0), fl = is_floatish(&c->t[oi]), x, y, ni, pv, n;
    int64_t pads[2 * NNE_MAX_DIMS], onnx[2 * NNE_MAX_DIMS];
    NNE_TRY(const_ints(c, IN(o, 1), pads, 2 * NNE_MAX_DIMS, &n, "paddings"));
    int r = n / 2;
    if (n % 2 || r != t_rank(c, IN(o, 0)))
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "paddings has %d values for a rank-%d input", n, t_rank(c, IN(o, 0)));
    for (int d = 0; d < r; d++) {
        onnx[d] = pads[2 * d];
        onnx[r + d] = pads[2 * d + 1];
    }
    NNE_TRY(fl ? tfloat(c, IN(o, 0), &x) : tval(c, IN(o, 0), &x));
    NNE_TRY(const_i64(c, 2 * r, onnx, 0, &pv));
    int in[3] = {x, pv, -1};
    if (v2 && IN(o, 2) >= 0) NNE_TRY(fl ? tfloat(c, IN(o, 2), &in[2]) : tval(c, IN(o, 2), &in[2]));
    if (in[2] >= 0) {
        /* ONNX wants a scalar pad value; TFLite allows a 1-element tensor */
        int ax, sq;
        NNE_TRY(const_i64(c, 1, (int64_t[]){1}, 0, &ax));
        NNE_TRY(node1(c, "Reshape", in[2], ax, &sq, &ni));
        int64_t none = 0;
        NNE_TRY(const_i64(c, 0, &none, 0, &ax));
        NNE_TRY(node1(c, "Reshape", sq, ax, &in[2], &ni));
    }
    NNE_TRY(node(c, "Pad", in[2] >= 0 ? 3 : 2, in, 1, &y, &ni));
    return finish(c, oi, y, fl);
}

static nne_status op_resize(sg_ctx *c, const opinfo *o, int nearest) {
    NNE_TRY(need(c, o, 2, 1));
    if (t_rank(c, IN(o, 0)) != 4) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input must be 4-D");
    int align = nne_fb_u8(&o->opt, nearest ? 0 : 2, 0), half = nne_fb_u8(&o->opt, nearest ? 1 : 3, 0);
    int x, xn, sz, y, ni, n;
    int64_t hw[2];
    NNE_TRY(tfloat(c, IN(o, 0), &x));
    NNE_TRY(to_nchw(c, x, &xn));
    /* full NCHW sizes rather than the `axes` attribute, which other runtimes
     * handle unevenly in exported models */
    int si = IN(o, 1);
    const tfl_tensor *xt = &c->t[IN(o, 0)];
    int64_t N = xt->sig[0], C = xt->sig[3];
    if (si >= 0 && si < c->n_t && c->t[si].data && N >= 0 && C >= 0) {
        NNE_TRY(const_ints(c, si, hw, 2, &n, "size"));
        if (n != 2) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "size must hold 2 values");
        NNE_TRY(const_i64(c, 4, (int64_t[]){N, C, hw[0], hw[1]}, 0, &sz));
    } else {
        int shp, st_, en_, nc, hwv;
        NNE_TRY(as_i64(c, si, &hwv));
        NNE_TRY(node1(c, "Shape", xn, UN, &shp, &ni));
        NNE_TRY(const_i64(c, 1, (int64_t[]){0}, 0, &st_));
        NNE_TRY(const_i64(c, 1, (int64_t[]){2}, 0, &en_));
        int sl[3] = {shp, st_, en_};
        NNE_TRY(node(c, "Slice", 3, sl, 1, &nc, &ni));
        int cc[2] = {nc, hwv};
        NNE_TRY(node(c, "Concat", 2, cc, 1, &sz, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "axis", 0));
    }
    int in[4] = {xn, -1, -1, sz};
    NNE_TRY(node(c, "Resize", 4, in, 1, &y, &ni));
    NNE_TRY(nne_node_set_attr_string(c->g, ni, "mode", nearest ? "nearest" : "linear"));
    /* TF's nearest with half_pixel_centers takes floor((x + 0.5) * in / out):
     * ONNX half_pixel ((x + 0.5) * in / out - 0.5) rounded half up is the same */
    const char *ctm = align ? "align_corners" : half ? "half_pixel" : "asymmetric";
    NNE_TRY(nne_node_set_attr_string(c->g, ni, "coordinate_transformation_mode", ctm));
    if (nearest)
        NNE_TRY(nne_node_set_attr_string(c->g, ni, "nearest_mode", align || half ? "round_prefer_ceil" : "floor"));
    NNE_TRY(from_nchw(c, y, &y));
    return finish(c, OUT(o, 0), y, 1);
}

static nne_status slice_node(sg_ctx *c, int x, int n, const int64_t *st, const int64_t *en, const int64_t *sp,
                             int *y) {
    int a, b, s, ax, ni;
    int64_t axes[NNE_MAX_DIMS];
    for (int d = 0; d < n; d++) axes[d] = d;
    NNE_TRY(const_i64(c, n, st, 0, &a));
    NNE_TRY(const_i64(c, n, en, 0, &b));
    NNE_TRY(const_i64(c, n, axes, 0, &ax));
    NNE_TRY(const_i64(c, n, sp, 0, &s));
    int in[5] = {x, a, b, ax, s};
    return node(c, "Slice", 5, in, 1, y, &ni);
}

static nne_status op_strided_slice(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 4, 1));
    int oi = OUT(o, 0), x, fl, y, nb, ne, ns, ni;
    int64_t b[NNE_MAX_DIMS], e[NNE_MAX_DIMS], s[NNE_MAX_DIMS], sq[NNE_MAX_DIMS];
    NNE_TRY(const_ints(c, IN(o, 1), b, NNE_MAX_DIMS, &nb, "begin"));
    NNE_TRY(const_ints(c, IN(o, 2), e, NNE_MAX_DIMS, &ne, "end"));
    NNE_TRY(const_ints(c, IN(o, 3), s, NNE_MAX_DIMS, &ns, "strides"));
    const nne_fb_table *p = &o->opt;
    int bm = nne_fb_i32(p, 0, 0), em = nne_fb_i32(p, 1, 0), elm = nne_fb_i32(p, 2, 0), nam = nne_fb_i32(p, 3, 0);
    int sam = nne_fb_i32(p, 4, 0), off = nne_fb_u8(p, 5, 0);
    if (nb != ne || nb != ns || nb > t_rank(c, IN(o, 0)))
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "begin/end/strides have %d/%d/%d values for a rank-%d input", nb, ne,
                       ns, t_rank(c, IN(o, 0)));
    if (elm || nam) return op_fail(c, NNE_ERR_UNSUPPORTED, "ellipsis_mask and new_axis_mask are not supported");
    int nsq = 0;
    for (int d = 0; d < nb; d++) {
        if (s[d] == 0) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "stride %d is 0", d);
        if (off) e[d] += b[d];
        if (bm >> d & 1) b[d] = s[d] > 0 ? 0 : INT64_MAX;
        if (em >> d & 1) e[d] = s[d] > 0 ? INT64_MAX : INT64_MIN;
        if (sam >> d & 1) {
            /* one element at begin; the axis is removed */
            e[d] = b[d] == -1 ? INT64_MAX : b[d] + 1;
            s[d] = 1;
            sq[nsq++] = d;
        }
    }
    NNE_TRY(data_in(c, IN(o, 0), oi, &x, &fl));
    NNE_TRY(slice_node(c, x, nb, b, e, s, &y));
    if (nsq) {
        int ax;
        NNE_TRY(const_i64(c, nsq, sq, 0, &ax));
        NNE_TRY(node1(c, "Squeeze", y, ax, &y, &ni));
    }
    return finish(c, oi, y, fl);
}

static nne_status op_slice(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 3, 1));
    int oi = OUT(o, 0), x, fl, y, nb, nz;
    int64_t b[NNE_MAX_DIMS], z[NNE_MAX_DIMS], e[NNE_MAX_DIMS], s[NNE_MAX_DIMS];
    NNE_TRY(const_ints(c, IN(o, 1), b, NNE_MAX_DIMS, &nb, "begin"));
    NNE_TRY(const_ints(c, IN(o, 2), z, NNE_MAX_DIMS, &nz, "size"));
    if (nb != nz) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "begin has %d values, size %d", nb, nz);
    for (int d = 0; d < nb; d++) {
        if (b[d] < 0 || z[d] < -1) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "begin %lld / size %lld", (long long)b[d],
                                                  (long long)z[d]);
        e[d] = z[d] == -1 ? INT64_MAX : b[d] + z[d];
        s[d] = 1;
    }
    NNE_TRY(data_in(c, IN(o, 0), oi, &x, &fl));
    NNE_TRY(slice_node(c, x, nb, b, e, s, &y));
    return finish(c, oi, y, fl);
}

static nne_status op_batch_matmul(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 2, 1));
    int a, b, y, ni;
    NNE_TRY(tfloat(c, IN(o, 0), &a));
    NNE_TRY(tfloat(c, IN(o, 1), &b));
    int adj[2] = {nne_fb_u8(&o->opt, 0, 0), nne_fb_u8(&o->opt, 1, 0)};
    int *v[2] = {&a, &b};
    for (int k = 0; k < 2; k++) {
        if (!adj[k]) continue;
        int r = t_rank(c, IN(o, (uint32_t)k));
        if (r < 2) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "adjoint of a rank-%d input", r);
        int64_t perm[NNE_MAX_DIMS];
        for (int d = 0; d < r; d++) perm[d] = d;
        perm[r - 2] = r - 1, perm[r - 1] = r - 2;
        NNE_TRY(transpose(c, *v[k], r, perm, v[k]));
    }
    NNE_TRY(node1(c, "MatMul", a, b, &y, &ni));
    return finish(c, OUT(o, 0), y, 1);
}

static nne_status op_gather(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 2, 1));
    if (nne_fb_i32(&o->opt, 1, 0) != 0) return op_fail(c, NNE_ERR_UNSUPPORTED, "batch_dims != 0 is not supported");
    int oi = OUT(o, 0), x, fl, idx, y, ni;
    NNE_TRY(data_in(c, IN(o, 0), oi, &x, &fl));
    NNE_TRY(tval(c, IN(o, 1), &idx));
    NNE_TRY(node1(c, "Gather", x, idx, &y, &ni));
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "axis", nne_fb_i32(&o->opt, 0, 0)));
    return finish(c, oi, y, fl);
}

/* Split x along axis into n outputs (sizes: NULL for equal parts). */
static nne_status split_to(sg_ctx *c, const opinfo *o, int xi, int64_t axis, int n, const int64_t *sizes,
                           int squeeze) {
    if (n < 1 || (uint32_t)n > o->out.n || n > 4096)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "splits into %d parts with %u outputs", n, o->out.n);
    int oi = OUT(o, 0), x, fl, ni, sv = -1;
    NNE_TRY(data_in(c, xi, oi, &x, &fl));
    if (sizes) NNE_TRY(const_i64(c, n, sizes, 0, &sv));
    int *outs = nne_calloc((size_t)n, sizeof *outs);
    if (!outs) return oom();
    int in[2] = {x, sv};
    nne_status st = node(c, "Split", sizes ? 2 : 1, in, n, outs, &ni);
    if (st == NNE_OK) st = nne_node_set_attr_int(c->g, ni, "axis", axis);
    if (st == NNE_OK && !sizes) st = nne_node_set_attr_int(c->g, ni, "num_outputs", n);
    int ax = -1;
    if (st == NNE_OK && squeeze) st = const_i64(c, 1, &axis, 0, &ax);
    for (int k = 0; k < n && st == NNE_OK; k++) {
        int y = outs[k];
        if (squeeze) st = node1(c, "Squeeze", y, ax, &y, &ni);
        if (st == NNE_OK) st = finish(c, OUT(o, (uint32_t)k), y, fl);
    }
    nne_free(outs);
    return st;
}

static nne_status op_split(sg_ctx *c, const opinfo *o, int v) {
    int64_t ax[1], sizes[4096];
    int n;
    if (!v) {
        NNE_TRY(need(c, o, 2, 1));
        NNE_TRY(const_ints(c, IN(o, 0), ax, 1, &n, "axis"));
        return split_to(c, o, IN(o, 1), ax[0], nne_fb_i32(&o->opt, 0, 0), NULL, 0);
    }
    NNE_TRY(need(c, o, 3, 1));
    NNE_TRY(const_ints(c, IN(o, 2), ax, 1, &n, "axis"));
    int ns;
    NNE_TRY(const_ints(c, IN(o, 1), sizes, 4096, &ns, "size_splits"));
    int xi = IN(o, 0), r = t_rank(c, xi);
    int64_t a = ax[0] < 0 ? ax[0] + r : ax[0];
    if (a < 0 || a >= r) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "axis %lld out of range", (long long)ax[0]);
    int64_t known = 0;
    int neg = -1;
    for (int k = 0; k < ns; k++) {
        if (sizes[k] == -1 && neg < 0) neg = k;
        else if (sizes[k] < 0) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "size_splits has %lld", (long long)sizes[k]);
        else known += sizes[k];
    }
    if (neg >= 0) {
        int64_t dim = c->t[xi].sig[a];
        if (dim < 0 || dim < known) return op_fail(c, NNE_ERR_UNSUPPORTED, "size_splits -1 with an unknown dim");
        sizes[neg] = dim - known;
    }
    return split_to(c, o, xi, ax[0], ns, sizes, 0);
}

static nne_status op_pack(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 1, 1));
    int oi = OUT(o, 0), fl = is_floatish(&c->t[oi]), y, ni, ax;
    int64_t axis = nne_fb_i32(&o->opt, 1, 0);
    if (o->in.n > 4096) return op_fail(c, NNE_ERR_UNSUPPORTED, "%u inputs", o->in.n);
    int *in = nne_calloc(o->in.n, sizeof *in);
    if (!in) return oom();
    nne_status st = const_i64(c, 1, &axis, 0, &ax);
    for (uint32_t k = 0; k < o->in.n && st == NNE_OK; k++) {
        st = fl ? tfloat(c, IN(o, k), &in[k]) : tval(c, IN(o, k), &in[k]);
        if (st == NNE_OK) st = node1(c, "Unsqueeze", in[k], ax, &in[k], &ni);
    }
    if (st == NNE_OK) st = node(c, "Concat", (int)o->in.n, in, 1, &y, &ni);
    nne_free(in);
    NNE_TRY(st);
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "axis", axis));
    return finish(c, oi, y, fl);
}

static nne_status op_arg(sg_ctx *c, const opinfo *o, const char *onnx_op) {
    NNE_TRY(need(c, o, 2, 1));
    int x, y, ni, n;
    int64_t ax[1];
    NNE_TRY(const_ints(c, IN(o, 1), ax, 1, &n, "axis"));
    NNE_TRY(is_floatish(&c->t[IN(o, 0)]) ? tfloat(c, IN(o, 0), &x) : tval(c, IN(o, 0), &x));
    NNE_TRY(node1(c, onnx_op, x, UN, &y, &ni));
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "axis", ax[0]));
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "keepdims", 0));
    if (c->t[OUT(o, 0)].dt != NNE_DTYPE_INT64) {
        NNE_TRY(node1(c, "Cast", y, UN, &y, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "to", c->t[OUT(o, 0)].dt));
    }
    return finish(c, OUT(o, 0), y, 0);
}

static nne_status op_cast_like(sg_ctx *c, const opinfo *o, const char *onnx_op) {
    NNE_TRY(need(c, o, 1, 1));
    int oi = OUT(o, 0), x, y, ni;
    NNE_TRY(tval(c, IN(o, 0), &x));
    NNE_TRY(node1(c, onnx_op, x, UN, &y, &ni));
    if (!strcmp(onnx_op, "Shape") || c->t[oi].dt != NNE_DTYPE_INT64) {
        NNE_TRY(node1(c, "Cast", y, UN, &y, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "to", c->t[oi].dt));
    }
    return finish(c, oi, y, 0);
}

static nne_status op_quantize(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 1, 1));
    int x;
    NNE_TRY(tfloat(c, IN(o, 0), &x));
    return finish(c, OUT(o, 0), x, 1);
}

static nne_status op_dequantize(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 1, 1));
    int x, ni;
    NNE_TRY(tfloat(c, IN(o, 0), &x));
    /* a node of its own, so the tensor has a value nobody else owns */
    NNE_TRY(node1(c, "Identity", x, UN, &x, &ni));
    return finish(c, OUT(o, 0), x, 1);
}

static nne_status op_space_depth(sg_ctx *c, const opinfo *o, const char *onnx_op) {
    NNE_TRY(need(c, o, 1, 1));
    if (t_rank(c, IN(o, 0)) != 4) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input must be 4-D");
    int bs = nne_fb_i32(&o->opt, 0, 0);
    if (bs < 1) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "block_size %d", bs);
    int x, xn, y, ni;
    NNE_TRY(tfloat(c, IN(o, 0), &x));
    NNE_TRY(to_nchw(c, x, &xn));
    NNE_TRY(node1(c, onnx_op, xn, UN, &y, &ni));
    NNE_TRY(nne_node_set_attr_int(c->g, ni, "blocksize", bs));
    if (!strcmp(onnx_op, "DepthToSpace")) NNE_TRY(nne_node_set_attr_string(c->g, ni, "mode", "DCR"));
    NNE_TRY(from_nchw(c, y, &y));
    return finish(c, OUT(o, 0), y, 1);
}

static nne_status op_select(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 3, 1));
    int oi = OUT(o, 0), fl = is_floatish(&c->t[oi]), cnd, a, b, y, ni;
    NNE_TRY(tval(c, IN(o, 0), &cnd));
    NNE_TRY(fl ? tfloat(c, IN(o, 1), &a) : tval(c, IN(o, 1), &a));
    NNE_TRY(fl ? tfloat(c, IN(o, 2), &b) : tval(c, IN(o, 2), &b));
    int in[3] = {cnd, a, b};
    NNE_TRY(node(c, "Where", 3, in, 1, &y, &ni));
    return finish(c, oi, y, fl);
}

static nne_status op_tile(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 2, 1));
    int oi = OUT(o, 0), x, fl, m, y, ni;
    NNE_TRY(data_in(c, IN(o, 0), oi, &x, &fl));
    NNE_TRY(as_i64(c, IN(o, 1), &m));
    NNE_TRY(node1(c, "Tile", x, m, &y, &ni));
    return finish(c, oi, y, fl);
}

static nne_status import_subgraph(loader *ld, int sgi, nne_graph *parent, const int *args, int n_args,
                                  nne_graph **out);

static nne_status op_if(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 1, 1));
    int then_i = nne_fb_i32(&o->opt, 0, -1), else_i = nne_fb_i32(&o->opt, 1, -1);
    loader *ld = c->ld;
    if (then_i < 0 || else_i < 0 || (uint32_t)then_i >= ld->subgraphs.n || (uint32_t)else_i >= ld->subgraphs.n)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "branch subgraphs %d / %d out of range (the model has %u)", then_i,
                       else_i, ld->subgraphs.n);
    int cnd, ni;
    NNE_TRY(tval(c, IN(o, 0), &cnd));
    int n_args = (int)o->in.n - 1;
    if (n_args > 4096) return op_fail(c, NNE_ERR_UNSUPPORTED, "%d operands", n_args);
    int *args = nne_calloc((size_t)(n_args > 0 ? n_args : 1), sizeof *args);
    if (!args) return oom();
    nne_status st = NNE_OK;
    for (int k = 0; k < n_args && st == NNE_OK; k++) st = tval(c, IN(o, (uint32_t)k + 1), &args[k]);
    int n_out = (int)o->out.n;
    int *outs = nne_calloc((size_t)(n_out > 0 ? n_out : 1), sizeof *outs);
    if (!outs) st = oom();
    if (st == NNE_OK) {
        int in[1] = {cnd};
        st = node(c, "If", 1, in, n_out, outs, &ni);
    }
    const char *names[2] = {"then_branch", "else_branch"};
    int idx[2] = {then_i, else_i};
    for (int k = 0; k < 2 && st == NNE_OK; k++) {
        nne_graph *sub = NULL;
        st = import_subgraph(ld, idx[k], c->g, args, n_args, &sub);
        if (st == NNE_OK && sub->n_outputs != n_out) {
            st = op_fail(c, NNE_ERR_CORRUPT_MODEL, "branch subgraph %d has %d outputs, IF has %d", idx[k],
                         sub->n_outputs, n_out);
            nne_graph_destroy(sub);
        } else if (st == NNE_OK) {
            st = nne_node_set_attr_graph(c->g, ni, names[k], sub);
        }
    }
    for (int k = 0; k < n_out && st == NNE_OK; k++) st = finish(c, OUT(o, (uint32_t)k), outs[k], 0);
    nne_free(args);
    nne_free(outs);
    return st;
}

/* The long tail: ops that map onto one or a few ONNX nodes. */
static nne_status op_misc(sg_ctx *c, const opinfo *o) {
    int oi = o->out.n ? OUT(o, 0) : -1;
    if (oi < 0) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "output 0 is missing");
    int fl = is_floatish(&c->t[oi]), a, b, y, ni, k;
    switch (o->code) {
    case OP_ADD_N: {
        NNE_TRY(need(c, o, 1, 1));
        if (o->in.n > 4096) return op_fail(c, NNE_ERR_UNSUPPORTED, "%u inputs", o->in.n);
        int *in = nne_calloc(o->in.n, sizeof *in);
        if (!in) return oom();
        nne_status st = NNE_OK;
        for (uint32_t q = 0; q < o->in.n && st == NNE_OK; q++) st = fl ? tfloat(c, IN(o, q), &in[q]) : tval(c, IN(o, q), &in[q]);
        if (st == NNE_OK) st = node(c, "Sum", (int)o->in.n, in, 1, &y, &ni);
        nne_free(in);
        NNE_TRY(st);
        return finish(c, oi, y, fl);
    }
    case OP_L2_NORMALIZATION: {
        /* x / sqrt(max(sum(x^2) over the last axis, 1e-6)), TFLite's epsilon */
        NNE_TRY(need(c, o, 1, 1));
        int ax, eps;
        NNE_TRY(tfloat(c, IN(o, 0), &a));
        NNE_TRY(const_i64(c, 1, (int64_t[]){-1}, 0, &ax));
        NNE_TRY(node1(c, "ReduceSumSquare", a, ax, &y, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "keepdims", 1));
        NNE_TRY(const_f32(c, 1e-6f, &eps));
        NNE_TRY(node1(c, "Max", y, eps, &y, &ni));
        NNE_TRY(node1(c, "Sqrt", y, UN, &y, &ni));
        NNE_TRY(node1(c, "Div", a, y, &y, &ni));
        return finish(c, oi, y, 1);
    }
    case OP_LRN: {
        /* TF sums radius r on each side; ONNX divides alpha by size = 2r + 1 */
        NNE_TRY(need(c, o, 1, 1));
        if (t_rank(c, IN(o, 0)) != 4) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "input must be 4-D");
        int r = nne_fb_i32(&o->opt, 0, 0);
        if (r < 0 || r > 65536) return op_fail(c, NNE_ERR_CORRUPT_MODEL, "radius %d", r);
        NNE_TRY(tfloat(c, IN(o, 0), &a));
        NNE_TRY(to_nchw(c, a, &a));
        NNE_TRY(node1(c, "LRN", a, UN, &y, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "size", 2 * r + 1));
        NNE_TRY(nne_node_set_attr_float(c->g, ni, "bias", nne_fb_f32(&o->opt, 1, 0)));
        NNE_TRY(nne_node_set_attr_float(c->g, ni, "alpha", nne_fb_f32(&o->opt, 2, 0) * (float)(2 * r + 1)));
        NNE_TRY(nne_node_set_attr_float(c->g, ni, "beta", nne_fb_f32(&o->opt, 3, 0)));
        NNE_TRY(from_nchw(c, y, &y));
        return finish(c, oi, y, 1);
    }
    case OP_FLOOR_DIV: case OP_FLOOR_MOD: {
        NNE_TRY(need(c, o, 2, 1));
        NNE_TRY(fl ? tfloat(c, IN(o, 0), &a) : tval(c, IN(o, 0), &a));
        NNE_TRY(fl ? tfloat(c, IN(o, 1), &b) : tval(c, IN(o, 1), &b));
        int m;
        if (fl) {
            /* a - b * floor(a / b); ONNX Mod on floats is C fmod only */
            NNE_TRY(node1(c, "Div", a, b, &y, &ni));
            NNE_TRY(node1(c, "Floor", y, UN, &y, &ni));
            if (o->code == OP_FLOOR_MOD) {
                NNE_TRY(node1(c, "Mul", y, b, &m, &ni));
                NNE_TRY(node1(c, "Sub", a, m, &y, &ni));
            }
        } else {
            /* Python-style mod (fmod=0); floor division is then exact: (a - a mod b) / b */
            NNE_TRY(node1(c, "Mod", a, b, &m, &ni));
            NNE_TRY(nne_node_set_attr_int(c->g, ni, "fmod", 0));
            y = m;
            if (o->code == OP_FLOOR_DIV) {
                NNE_TRY(node1(c, "Sub", a, m, &y, &ni));
                NNE_TRY(node1(c, "Div", y, b, &y, &ni));
            }
        }
        return finish(c, oi, y, fl);
    }
    case OP_MIRROR_PAD: {
        NNE_TRY(need(c, o, 2, 1));
        if (nne_fb_i8(&o->opt, 0, 0) != 0)
            return op_fail(c, NNE_ERR_UNSUPPORTED, "mode SYMMETRIC has no ONNX Pad mode (REFLECT is supported)");
        int64_t pads[2 * NNE_MAX_DIMS], onnx[2 * NNE_MAX_DIMS];
        NNE_TRY(const_ints(c, IN(o, 1), pads, 2 * NNE_MAX_DIMS, &k, "paddings"));
        int r = k / 2;
        if (k % 2 || r != t_rank(c, IN(o, 0)))
            return op_fail(c, NNE_ERR_CORRUPT_MODEL, "paddings has %d values for a rank-%d input", k, t_rank(c, IN(o, 0)));
        for (int d = 0; d < r; d++) onnx[d] = pads[2 * d], onnx[r + d] = pads[2 * d + 1];
        NNE_TRY(data_in(c, IN(o, 0), oi, &a, &fl));
        NNE_TRY(const_i64(c, 2 * r, onnx, 0, &b));
        NNE_TRY(node1(c, "Pad", a, b, &y, &ni));
        NNE_TRY(nne_node_set_attr_string(c->g, ni, "mode", "reflect"));
        return finish(c, oi, y, fl);
    }
    case OP_FILL: case OP_BROADCAST_TO: {
        /* FILL(dims, value), BROADCAST_TO(x, shape): both an Expand */
        NNE_TRY(need(c, o, 2, 1));
        int vi = o->code == OP_FILL ? IN(o, 1) : IN(o, 0), si = o->code == OP_FILL ? IN(o, 0) : IN(o, 1);
        NNE_TRY(fl ? tfloat(c, vi, &a) : tval(c, vi, &a));
        NNE_TRY(as_i64(c, si, &b));
        NNE_TRY(node1(c, "Expand", a, b, &y, &ni));
        return finish(c, oi, y, fl);
    }
    case OP_RANGE: {
        NNE_TRY(need(c, o, 3, 1));
        int in[3];
        for (uint32_t q = 0; q < 3; q++) NNE_TRY(fl ? tfloat(c, IN(o, q), &in[q]) : tval(c, IN(o, q), &in[q]));
        NNE_TRY(node(c, "Range", 3, in, 1, &y, &ni));
        return finish(c, oi, y, fl);
    }
    case OP_GATHER_ND: {
        NNE_TRY(need(c, o, 2, 1));
        NNE_TRY(data_in(c, IN(o, 0), oi, &a, &fl));
        NNE_TRY(as_i64(c, IN(o, 1), &b));
        NNE_TRY(node1(c, "GatherND", a, b, &y, &ni));
        return finish(c, oi, y, fl);
    }
    case OP_REVERSE_V2: {
        NNE_TRY(need(c, o, 2, 1));
        int64_t axes[NNE_MAX_DIMS], st[NNE_MAX_DIMS], en[NNE_MAX_DIMS], sp[NNE_MAX_DIMS];
        NNE_TRY(const_ints(c, IN(o, 1), axes, NNE_MAX_DIMS, &k, "axis"));
        NNE_TRY(data_in(c, IN(o, 0), oi, &a, &fl));
        for (int d = 0; d < k; d++) st[d] = -1, en[d] = INT64_MIN, sp[d] = -1;
        int s_, e_, x_, p_;
        NNE_TRY(const_i64(c, k, st, 0, &s_));
        NNE_TRY(const_i64(c, k, en, 0, &e_));
        NNE_TRY(const_i64(c, k, axes, 0, &x_));
        NNE_TRY(const_i64(c, k, sp, 0, &p_));
        int in[5] = {a, s_, e_, x_, p_};
        NNE_TRY(node(c, "Slice", 5, in, 1, &y, &ni));
        return finish(c, oi, y, fl);
    }
    case OP_CUMSUM: {
        NNE_TRY(need(c, o, 2, 1));
        NNE_TRY(fl ? tfloat(c, IN(o, 0), &a) : tval(c, IN(o, 0), &a));
        NNE_TRY(tval(c, IN(o, 1), &b));
        NNE_TRY(node1(c, "CumSum", a, b, &y, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "exclusive", nne_fb_u8(&o->opt, 0, 0) ? 1 : 0));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "reverse", nne_fb_u8(&o->opt, 1, 0) ? 1 : 0));
        return finish(c, oi, y, fl);
    }
    default: return op_fail(c, NNE_ERR_UNSUPPORTED, "no mapping (internal)");
    }
}

/* The next node name of the current operator (see node_base). */
static const char *next_node_name(sg_ctx *c, char *buf, size_t cap) {
    snprintf(buf, cap, "%s%s%d", c->node_base, c->node_base[0] ? "/" : "n", c->node_serial++);
    return buf;
}

/* If(true) { subgraph sgi(args) } in graph g: runs a TFLite subgraph in
 * place, its inputs linked to values args of g. Both branches hold a copy of
 * the subgraph (ONNX If has no single-branch form). outs: n_out fresh values. */
static nne_status call_subgraph(loader *ld, nne_graph *g, int sgi, const int *args, int n_args, int n_out,
                                int *outs, const char *name) {
    nne_tensor t = {.dtype = NNE_DTYPE_BOOL, .ndim = 0};
    t.data = nne_aligned_alloc(1);
    if (!t.data) return oom();
    *(uint8_t *)t.data = 1;
    int tv, ni;
    nne_status st = nne_graph_add_unique_value(g, "true", NNE_VAL_CONST, &tv);
    if (st != NNE_OK) {
        nne_aligned_free(t.data);
        return st;
    }
    g->values[tv].init = t;
    NNE_TRY(nne_graph_add_node(g, "If", "", name, OPSET, &ni));
    NNE_TRY(nne_node_add_input(g, ni, tv));
    for (int k = 0; k < n_out; k++) {
        NNE_TRY(nne_graph_add_unique_value(g, "call", NNE_VAL_NODE, &outs[k]));
        NNE_TRY(nne_node_add_output(g, ni, outs[k]));
    }
    static const char *const branch[2] = {"then_branch", "else_branch"};
    for (int b = 0; b < 2; b++) {
        nne_graph *sub = NULL;
        NNE_TRY(import_subgraph(ld, sgi, g, args, n_args, &sub));
        if (sub->n_outputs != n_out) {
            int n = sub->n_outputs;
            nne_graph_destroy(sub);
            return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d has %d outputs, expected %d", sgi, n, n_out);
        }
        NNE_TRY(nne_node_set_attr_graph(g, ni, branch[b], sub));
    }
    return NNE_OK;
}

/* WHILE(vars) -> ONNX Loop: the first condition is cond(vars), computed
 * before the loop; the body runs body(vars) then cond(new vars) for the next
 * check (TF tests the condition before each iteration, ONNX Loop takes it
 * as an input and from the previous iteration). */
static nne_status op_while(sg_ctx *c, const opinfo *o) {
    NNE_TRY(need(c, o, 1, 1));
    loader *ld = c->ld;
    int cond_i = nne_fb_i32(&o->opt, 0, -1), body_i = nne_fb_i32(&o->opt, 1, -1);
    if (cond_i < 0 || body_i < 0 || (uint32_t)cond_i >= ld->subgraphs.n || (uint32_t)body_i >= ld->subgraphs.n)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "cond/body subgraphs %d / %d out of range (the model has %u)", cond_i,
                       body_i, ld->subgraphs.n);
    int n = (int)o->in.n;
    if ((uint32_t)n != o->out.n || n > 4096)
        return op_fail(c, NNE_ERR_CORRUPT_MODEL, "has %u inputs and %u outputs; WHILE needs as many of each", o->in.n,
                       o->out.n);
    int *vars = nne_calloc((size_t)n * 4 + 4, sizeof *vars);
    if (!vars) return oom();
    int *bin = vars + n, *bout = bin + n + 2, *outs = bout + n + 1;
    nne_status st = NNE_OK;
    for (int k = 0; k < n && st == NNE_OK; k++) st = tval(c, IN(o, (uint32_t)k), &vars[k]);
    int cond0 = -1, ni = -1;
    char nm0[240], nm1[240];
    if (st == NNE_OK) st = call_subgraph(ld, c->g, cond_i, vars, n, 1, &cond0, next_node_name(c, nm0, sizeof nm0));
    nne_graph *body = st == NNE_OK ? nne_graph_create(c->g) : NULL;
    if (st == NNE_OK && !body) st = oom();
    if (st == NNE_OK && !(body->name = nne_strdup("while_body"))) st = oom();
    /* the Loop body: (iteration, condition, vars...) -> (condition, vars...) */
    if (st == NNE_OK) st = nne_graph_add_unique_value(body, "iteration", NNE_VAL_INPUT, &bin[0]);
    if (st == NNE_OK) st = nne_graph_add_unique_value(body, "cond_in", NNE_VAL_INPUT, &bin[1]);
    for (int k = 0; k < n && st == NNE_OK; k++) {
        char nm[256];
        int ti = IN(o, (uint32_t)k);
        st = nne_graph_add_unique_value(body, tname(c, ti, nm, sizeof nm), NNE_VAL_INPUT, &bin[2 + k]);
        if (st == NNE_OK) declare(&body->values[bin[2 + k]], &c->t[ti]);
    }
    if (st == NNE_OK) {
        /* the builder's add_input refuses existing names; these are new and unique */
        body->inputs = nne_calloc((size_t)n + 2, sizeof *body->inputs);
        if (!body->inputs) st = oom();
        else {
            for (int k = 0; k < n + 2; k++) body->inputs[k] = bin[k];
            body->n_inputs = body->cap_inputs = n + 2;
            body->values[bin[0]].dtype = NNE_DTYPE_INT64, body->values[bin[0]].ndim = 0;
            body->values[bin[1]].dtype = NNE_DTYPE_BOOL, body->values[bin[1]].ndim = 0;
        }
    }
    if (st == NNE_OK) st = call_subgraph(ld, body, body_i, bin + 2, n, n, bout + 1, "body");
    if (st == NNE_OK) st = call_subgraph(ld, body, cond_i, bout + 1, n, 1, &bout[0], "cond");
    for (int k = 0; k < n + 1 && st == NNE_OK; k++) st = nne_graph_add_output(body, bout[k]);
    if (st == NNE_OK) {
        int in[2] = {-1, cond0};
        st = nne_graph_add_node(c->g, "Loop", "", next_node_name(c, nm1, sizeof nm1), OPSET, &ni);
        for (int k = 0; k < 2 && st == NNE_OK; k++) st = nne_node_add_input(c->g, ni, in[k]);
        for (int k = 0; k < n && st == NNE_OK; k++) st = nne_node_add_input(c->g, ni, vars[k]);
        for (int k = 0; k < n && st == NNE_OK; k++) {
            st = new_value(c, "while", &outs[k]);
            if (st == NNE_OK) st = nne_node_add_output(c->g, ni, outs[k]);
        }
        if (st == NNE_OK) {
            st = nne_node_set_attr_graph(c->g, ni, "body", body);
            body = NULL;
        }
    }
    nne_graph_destroy(body);
    for (int k = 0; k < n && st == NNE_OK; k++) st = finish(c, OUT(o, (uint32_t)k), outs[k], 0);
    nne_free(vars);
    return st;
}

static nne_status emit_op(sg_ctx *c, const opinfo *o) {
    switch (o->code) {
    case OP_CONV_2D: return op_conv(c, o, 0);
    case OP_DEPTHWISE_CONV_2D: return op_conv(c, o, 1);
    case OP_TRANSPOSE_CONV: return op_transpose_conv(c, o);
    case OP_FULLY_CONNECTED: return op_fc(c, o);
    case OP_AVERAGE_POOL_2D: return op_pool(c, o, "AveragePool");
    case OP_MAX_POOL_2D: return op_pool(c, o, "MaxPool");
    case OP_ADD: return op_binary(c, o, "Add", 0);
    case OP_SUB: return op_binary(c, o, "Sub", 0);
    case OP_MUL: return op_binary(c, o, "Mul", 0);
    case OP_DIV: return op_binary(c, o, "Div", 0);
    case OP_MAXIMUM: return op_binary(c, o, "Max", -1);
    case OP_MINIMUM: return op_binary(c, o, "Min", -1);
    case OP_POW: return op_binary(c, o, "Pow", -1);
    case OP_PRELU: return op_binary(c, o, "PRelu", -1);
    case OP_LESS: return op_binary(c, o, "Less", -1);
    case OP_GREATER: return op_binary(c, o, "Greater", -1);
    case OP_GREATER_EQUAL: return op_binary(c, o, "GreaterOrEqual", -1);
    case OP_LESS_EQUAL: return op_binary(c, o, "LessOrEqual", -1);
    case OP_EQUAL: return op_binary(c, o, "Equal", -1);
    case OP_LOGICAL_AND: return op_binary(c, o, "And", -1);
    case OP_LOGICAL_OR: return op_binary(c, o, "Or", -1);
    case OP_LOGICAL_NOT: return op_unary(c, o, "Not");
    case OP_NOT_EQUAL: {
        NNE_TRY(need(c, o, 2, 1));
        int a, b, y, ni, fl = is_floatish(&c->t[IN(o, 0)]) || is_floatish(&c->t[IN(o, 1)]);
        NNE_TRY(fl ? tfloat(c, IN(o, 0), &a) : tval(c, IN(o, 0), &a));
        NNE_TRY(fl ? tfloat(c, IN(o, 1), &b) : tval(c, IN(o, 1), &b));
        NNE_TRY(node1(c, "Equal", a, b, &y, &ni));
        NNE_TRY(node1(c, "Not", y, UN, &y, &ni));
        return finish(c, OUT(o, 0), y, 0);
    }
    case OP_SQUARED_DIFFERENCE: {
        NNE_TRY(need(c, o, 2, 1));
        int a, b, d, y, ni;
        NNE_TRY(tfloat(c, IN(o, 0), &a));
        NNE_TRY(tfloat(c, IN(o, 1), &b));
        NNE_TRY(node1(c, "Sub", a, b, &d, &ni));
        NNE_TRY(node1(c, "Mul", d, d, &y, &ni));
        return finish(c, OUT(o, 0), y, 1);
    }
    case OP_SQUARE: {
        NNE_TRY(need(c, o, 1, 1));
        int a, y, ni, fl = is_floatish(&c->t[OUT(o, 0)]);
        NNE_TRY(fl ? tfloat(c, IN(o, 0), &a) : tval(c, IN(o, 0), &a));
        NNE_TRY(node1(c, "Mul", a, a, &y, &ni));
        return finish(c, OUT(o, 0), y, fl);
    }
    case OP_RSQRT: {
        NNE_TRY(need(c, o, 1, 1));
        int a, y, ni;
        NNE_TRY(tfloat(c, IN(o, 0), &a));
        NNE_TRY(node1(c, "Sqrt", a, UN, &y, &ni));
        NNE_TRY(node1(c, "Reciprocal", y, UN, &y, &ni));
        return finish(c, OUT(o, 0), y, 1);
    }
    case OP_RELU: return op_clip(c, o, 1);
    case OP_RELU_N1_TO_1: return op_clip(c, o, 2);
    case OP_RELU6: return op_clip(c, o, 3);
    case OP_TANH: return op_unary(c, o, "Tanh");
    case OP_LOGISTIC: return op_unary(c, o, "Sigmoid");
    case OP_HARD_SWISH: return op_unary(c, o, "HardSwish");
    case OP_LEAKY_RELU: return op_unary(c, o, "LeakyRelu");
    case OP_GELU: return op_unary(c, o, "Gelu");
    case OP_ELU: return op_unary(c, o, "Elu");
    case OP_EXP: return op_unary(c, o, "Exp");
    case OP_LOG: return op_unary(c, o, "Log");
    case OP_SQRT: return op_unary(c, o, "Sqrt");
    case OP_ABS: return op_unary(c, o, "Abs");
    case OP_NEG: return op_unary(c, o, "Neg");
    case OP_SIN: return op_unary(c, o, "Sin");
    case OP_COS: return op_unary(c, o, "Cos");
    case OP_FLOOR: return op_unary(c, o, "Floor");
    case OP_CEIL: return op_unary(c, o, "Ceil");
    case OP_RESHAPE: return op_reshape(c, o);
    case OP_TRANSPOSE: return op_transpose(c, o);
    case OP_SQUEEZE: return op_squeeze(c, o);
    case OP_EXPAND_DIMS: return op_expand_dims(c, o);
    case OP_CONCATENATION: return op_concat(c, o);
    case OP_MEAN: return op_reduce(c, o, "ReduceMean");
    case OP_SUM: return op_reduce(c, o, "ReduceSum");
    case OP_REDUCE_MAX: return op_reduce(c, o, "ReduceMax");
    case OP_REDUCE_MIN: return op_reduce(c, o, "ReduceMin");
    case OP_REDUCE_PROD: return op_reduce(c, o, "ReduceProd");
    case OP_SOFTMAX: return op_softmax(c, o, 0);
    case OP_LOG_SOFTMAX: return op_softmax(c, o, 1);
    case OP_PAD: return op_pad(c, o, 0);
    case OP_PADV2: return op_pad(c, o, 1);
    case OP_RESIZE_BILINEAR: return op_resize(c, o, 0);
    case OP_RESIZE_NEAREST_NEIGHBOR: return op_resize(c, o, 1);
    case OP_STRIDED_SLICE: return op_strided_slice(c, o);
    case OP_SLICE: return op_slice(c, o);
    case OP_BATCH_MATMUL: return op_batch_matmul(c, o);
    case OP_GATHER: return op_gather(c, o);
    case OP_SPLIT: return op_split(c, o, 0);
    case OP_SPLIT_V: return op_split(c, o, 1);
    case OP_PACK: return op_pack(c, o);
    case OP_UNPACK: {
        NNE_TRY(need(c, o, 1, 1));
        return split_to(c, o, IN(o, 0), nne_fb_i32(&o->opt, 1, 0), nne_fb_i32(&o->opt, 0, 0), NULL, 1);
    }
    case OP_SHAPE: return op_cast_like(c, o, "Shape");
    case OP_CAST: {
        NNE_TRY(need(c, o, 1, 1));
        int x, y, ni;
        NNE_TRY(tval(c, IN(o, 0), &x));
        NNE_TRY(node1(c, "Cast", x, UN, &y, &ni));
        NNE_TRY(nne_node_set_attr_int(c->g, ni, "to", c->t[OUT(o, 0)].dt));
        return finish(c, OUT(o, 0), y, 0);
    }
    case OP_ARG_MAX: return op_arg(c, o, "ArgMax");
    case OP_ARG_MIN: return op_arg(c, o, "ArgMin");
    case OP_QUANTIZE: return op_quantize(c, o);
    case OP_DEQUANTIZE: return op_dequantize(c, o);
    case OP_SPACE_TO_DEPTH: return op_space_depth(c, o, "SpaceToDepth");
    case OP_DEPTH_TO_SPACE: return op_space_depth(c, o, "DepthToSpace");
    case OP_SELECT: case OP_SELECT_V2: return op_select(c, o);
    case OP_TILE: return op_tile(c, o);
    case OP_IF: return op_if(c, o);
    case OP_WHILE: return op_while(c, o);
    case OP_ADD_N: case OP_L2_NORMALIZATION: case OP_LRN: case OP_FLOOR_DIV: case OP_FLOOR_MOD: case OP_MIRROR_PAD:
    case OP_FILL: case OP_BROADCAST_TO: case OP_RANGE: case OP_GATHER_ND: case OP_REVERSE_V2: case OP_CUMSUM:
        return op_misc(c, o);
    default: return op_fail(c, NNE_ERR_UNSUPPORTED, "no mapping (internal)");
    }
}

/* --------------------------------------------------------- subgraphs -- */

/* Drop nodes whose outputs nobody reads (the NHWC<->NCHW transposes that a
 * memo hit made unnecessary), last first, so chains go too. */
static nne_status drop_dead(nne_graph *g) {
    nne_graph_uses u;
    NNE_TRY(nne_graph_uses_build(g, &u));
    int *cnt = nne_calloc((size_t)g->n_values + 1, sizeof *cnt);
    if (!cnt) {
        nne_graph_uses_free(&u);
        return oom();
    }
    for (int v = 0; v < g->n_values; v++) cnt[v] = nne_uses_count(&u, v) + (g->values[v].is_output ? 1 : 0);
    nne_graph_uses_free(&u);
    int removed = 0;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        nne_node *n = &g->nodes[i];
        if (n->dead) continue;
        int used = 0;
        for (int k = 0; k < n->n_out; k++) used |= cnt[n->out[k]] > 0;
        for (int a = 0; a < n->n_attr; a++) used |= n->attrs[a].g != NULL;
        if (used) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) cnt[n->in[k]]--;
        nne_graph_remove_node(g, i);
        removed++;
    }
    nne_free(cnt);
    return removed ? nne_graph_compact(g) : NNE_OK;
}

static nne_status run_ops(loader *ld, sg_ctx *c, const nne_fb_table *sg) {
    nne_fb_vec ops;
    nne_fb_vector(sg, 3, 4, &ops);
    if (ld->fb.failed) return fb_err(ld);
    int n_unsupported = 0;
    char first[256] = "";
    for (uint32_t i = 0; i < ops.n; i++) {
        nne_fb_table op;
        if (!nne_fb_vec_table(&ops, i, &op)) return fb_err(ld);
        opinfo o = {0};
        uint32_t oc = nne_fb_u32(&op, 0, 0);
        nne_fb_vector(&op, 1, 4, &o.in);
        nne_fb_vector(&op, 2, 4, &o.out);
        nne_fb_table_field(&op, 4, &o.opt);
        if (!o.opt.fb) o.opt.fb = &ld->fb;
        if (ld->fb.failed) return fb_err(ld);
        if (oc >= ld->codes.n)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d operator %u: opcode_index %u of %u", c->sgi, i,
                             oc, ld->codes.n);
        nne_fb_table code;
        if (!nne_fb_vec_table(&ld->codes, oc, &code)) return fb_err(ld);
        int dep = nne_fb_i8(&code, 0, 0), bc = nne_fb_i32(&code, 3, 0);
        o.code = dep > bc ? dep : bc;
        o.version = nne_fb_i32(&code, 2, 1);
        const char *cust;
        uint32_t cust_len;
        nne_fb_string(&code, 1, &cust, &cust_len);
        if (ld->fb.failed) return fb_err(ld);
        for (uint32_t k = 0; k < o.in.n; k++) {
            int32_t t = nne_fb_vec_i32(&o.in, k);
            if (t < -1 || t >= c->n_t)
                return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d operator %u: input %u is tensor %d of %d",
                                 c->sgi, i, k, t, c->n_t);
        }
        for (uint32_t k = 0; k < o.out.n; k++) {
            int32_t t = nne_fb_vec_i32(&o.out, k);
            if (t < -1 || t >= c->n_t)
                return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d operator %u: output %u is tensor %d of %d",
                                 c->sgi, i, k, t, c->n_t);
        }
        char nm[128];
        if (o.code == OP_CUSTOM) snprintf(nm, sizeof nm, "custom op \"%.*s\"", (int)(cust_len > 64 ? 64 : cust_len), cust);
        else if (o.code >= 0 && o.code < N_OP_NAMES) snprintf(nm, sizeof nm, "%s", k_op_names[o.code]);
        else snprintf(nm, sizeof nm, "builtin op %d", o.code);
        c->opname = nm;
        c->opver = o.version;
        c->opi = (int)i;
        int maxv = o.code >= 0 ? max_version(o.code) : 0;
        if (!maxv || o.version < 1 || o.version > maxv) {
            char why[320];
            if (!maxv) snprintf(why, sizeof why, "%s (version %d) is not supported", nm, o.version);
            else snprintf(why, sizeof why, "%s version %d is not supported (nnedge handles versions 1-%d)", nm,
                          o.version, maxv);
            if (!n_unsupported++) snprintf(first, sizeof first, "%.250s", why);
            if (ld->allow_unsupported) continue;
            return nne_error(NNE_ERR_UNSUPPORTED, "tflite: subgraph %d operator %u: %s", c->sgi, i, why);
        }
        int first = o.out.n ? nne_fb_vec_i32(&o.out, 0) : -1;
        if (first >= 0) tname(c, first, c->node_base, sizeof c->node_base);
        else snprintf(c->node_base, sizeof c->node_base, "%s_%u", nm, i);
        NNE_TRY(emit_op(c, &o));
        if (ld->fb.failed) return fb_err(ld);
    }
    if (n_unsupported == 1) return nne_error(NNE_ERR_UNSUPPORTED, "tflite: %s", first);
    if (n_unsupported)
        return nne_error(NNE_ERR_UNSUPPORTED, "tflite: %s (and %d more unsupported operators)", first,
                         n_unsupported - 1);
    return NNE_OK;
}

/* Import subgraph sgi. Main graph: parent NULL, its inputs become graph
 * inputs. A branch: parent set, args[k] are the parent's values its
 * inputs k read (through outer-scope links). */
static nne_status import_subgraph(loader *ld, int sgi, nne_graph *parent, const int *args, int n_args,
                                  nne_graph **out) {
    *out = NULL;
    if (ld->depth >= MAX_SG_DEPTH)
        return nne_error(NNE_ERR_UNSUPPORTED, "tflite: subgraphs nest deeper than %d", MAX_SG_DEPTH);
    if (ld->sg_busy[sgi])
        return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d contains itself (a recursive IF or WHILE)", sgi);
    nne_fb_table sg;
    if (!nne_fb_vec_table(&ld->subgraphs, (uint32_t)sgi, &sg)) return fb_err(ld);
    nne_fb_vec tens, ins, outs;
    nne_fb_vector(&sg, 0, 4, &tens);
    nne_fb_vector(&sg, 1, 4, &ins);
    nne_fb_vector(&sg, 2, 4, &outs);
    if (ld->fb.failed) return fb_err(ld);
    if (tens.n > (uint32_t)INT32_MAX / 2) return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: too many tensors");
    nne_fb_vec ops_v;
    nne_fb_vector(&sg, 3, 4, &ops_v);
    ld->work += (uint64_t)tens.n + ops_v.n;
    if (ld->work > ld->work_cap)
        return nne_error(NNE_ERR_UNSUPPORTED,
                         "tflite: importing subgraph %d takes the model past %llu tensors and operators in all "
                         "(IF branches are imported once per IF that calls them)",
                         sgi, (unsigned long long)ld->work_cap);
    nne_graph *g = nne_graph_create(parent);
    if (!g) return oom();
    sg_ctx c = {.ld = ld, .g = g, .sgi = sgi, .n_t = (int)tens.n, .opname = "", .opi = -1};
    c.t = nne_calloc(tens.n ? tens.n : 1, sizeof *c.t);
    nne_status st = c.t ? NNE_OK : oom();
    ld->depth++;
    ld->sg_busy[sgi] = 1;
    const char *sname;
    uint32_t sname_len;
    nne_fb_string(&sg, 4, &sname, &sname_len);
    char nm[256];
    if (st == NNE_OK) {
        snprintf(nm, sizeof nm, "%.*s", (int)(sname_len > 200 ? 200 : sname_len), sname);
        g->name = nne_strdup(sname_len ? nm : parent ? "branch" : "main");
        if (!g->name) st = oom();
    }
    for (uint32_t i = 0; i < tens.n && st == NNE_OK; i++) {
        nne_fb_table tt;
        if (!nne_fb_vec_table(&tens, i, &tt)) st = fb_err(ld);
        else st = parse_tensor(ld, &c, (int)i, &tt);
    }
    /* inputs */
    if (st == NNE_OK && parent && (int)ins.n != n_args)
        st = nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d has %u inputs, its caller passes %d", sgi, ins.n,
                       n_args);
    for (uint32_t k = 0; k < ins.n && st == NNE_OK; k++) {
        int32_t ti = nne_fb_vec_i32(&ins, k);
        if (ti < 0 || ti >= c.n_t) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d input %u is tensor %d of %d", sgi, k, ti, c.n_t);
            break;
        }
        tfl_tensor *t = &c.t[ti];
        if (t->v >= 0) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d lists tensor %d as an input twice", sgi, ti);
            break;
        }
        if (parent) {
            st = nne_graph_resolve(g, parent->values[args[k]].name, &t->v);
            if (st == NNE_OK && t->v < 0) st = nne_error(NNE_ERR_INTERNAL, "tflite: branch operand not found");
        } else {
            st = nne_graph_add_input(g, tname(&c, ti, nm, sizeof nm), &t->v);
            if (st == NNE_OK) declare(&g->values[t->v], t);
        }
        t->data = NULL; /* an input is fed, even if a buffer is attached */
    }
    /* the main graph's outputs keep their tensor names exactly: reserve them
     * (as forward references) before any temporary value can take one */
    for (uint32_t k = 0; k < outs.n && st == NNE_OK && !parent; k++) {
        int32_t ti = nne_fb_vec_i32(&outs, k);
        if (ti < 0 || ti >= c.n_t) continue; /* reported below */
        tname(&c, ti, nm, sizeof nm);
        if (nne_graph_find(g, nm) < 0 && nne_graph_add_value(g, nm, NNE_VAL_PENDING) < 0) st = oom();
    }
    if (st == NNE_OK) st = run_ops(ld, &c, &sg);
    /* outputs: the value of each output tensor, under the tensor's name */
    for (uint32_t k = 0; k < outs.n && st == NNE_OK; k++) {
        int32_t ti = nne_fb_vec_i32(&outs, k);
        if (ti < 0 || ti >= c.n_t) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d output %u is tensor %d of %d", sgi, k, ti, c.n_t);
            break;
        }
        int v;
        st = tval(&c, ti, &v);
        if (st != NNE_OK) break;
        tname(&c, ti, nm, sizeof nm);
        nne_value *val = &g->values[v];
        int direct = !parent && strcmp(val->name, nm) == 0 && !val->is_output;
        if (parent) direct = val->kind == NNE_VAL_NODE && !val->is_output;
        if (!direct) {
            int w = parent ? -1 : nne_graph_find(g, nm), ni;
            /* the reserved name, unless an earlier output took it (a tensor listed twice) */
            if (w < 0 || g->values[w].kind != NNE_VAL_PENDING) st = new_value(&c, nm, &w);
            if (st == NNE_OK) st = nne_graph_add_node(g, "Identity", "", NULL, OPSET, &ni);
            if (st == NNE_OK) st = nne_node_add_input(g, ni, v);
            if (st == NNE_OK) st = nne_node_add_output(g, ni, w);
            v = w;
        }
        if (st == NNE_OK) {
            declare(&g->values[v], &c.t[ti]);
            st = nne_graph_add_output(g, v);
        }
    }
    if (st == NNE_OK && outs.n == 0)
        st = nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: subgraph %d declares no outputs", sgi);
    if (st == NNE_OK) st = drop_dead(g);
    if (st == NNE_OK) st = nne_graph_topo_sort(g);
    ld->depth--;
    ld->sg_busy[sgi] = 0;
    nne_free(c.t);
    nne_free(c.nchw);
    if (st != NNE_OK) {
        nne_graph_destroy(g);
        return st;
    }
    *out = g;
    return NNE_OK;
}

static nne_status add_meta(nne_model *m, char *key, char *val) {
    nne_kv *kv = nne_realloc(m->meta, (size_t)(m->n_meta + 1) * sizeof *kv);
    if (!kv || !key || !val) {
        if (kv) m->meta = kv;
        nne_free(key);
        nne_free(val);
        return oom();
    }
    m->meta = kv;
    kv[m->n_meta].key = key;
    kv[m->n_meta].value = val;
    m->n_meta++;
    return NNE_OK;
}

/* Quantization of the main graph's inputs and outputs as metadata (what
 * tflite_runtime's get_input_details() reports): key
 * "tflite.quantization.NAME", value "dim=D;scales=s,...;zero_points=z,...". */
static nne_status add_quant_meta(loader *ld) {
    nne_fb_table sg;
    nne_fb_vec tens, io;
    if (!nne_fb_vec_table(&ld->subgraphs, 0, &sg)) return fb_err(ld);
    nne_fb_vector(&sg, 0, 4, &tens);
    for (int side = 1; side <= 2; side++) {
        nne_fb_vector(&sg, side, 4, &io);
        for (uint32_t k = 0; k < io.n && !ld->fb.failed; k++) {
            int32_t ti = nne_fb_vec_i32(&io, k);
            nne_fb_table tt, q;
            if (ti < 0 || (uint32_t)ti >= tens.n || !nne_fb_vec_table(&tens, (uint32_t)ti, &tt)) continue;
            if (!nne_fb_table_field(&tt, 4, &q)) continue;
            nne_fb_vec sc, zp;
            nne_fb_vector(&q, 2, 4, &sc);
            nne_fb_vector(&q, 3, 8, &zp);
            if (!sc.n || sc.n > 65536) continue;
            const char *name;
            uint32_t nl;
            nne_fb_string(&tt, 3, &name, &nl);
            size_t cap = 64 + (size_t)sc.n * 48;
            char *val = nne_malloc(cap), *key = nne_malloc(nl + 32);
            if (val) {
                size_t len = (size_t)snprintf(val, cap, "dim=%d;scales=", nne_fb_i32(&q, 6, 0));
                for (uint32_t i = 0; i < sc.n; i++)
                    len += (size_t)snprintf(val + len, cap - len, "%s%.9g", i ? "," : "",
                                            (double)nne_fb_vec_f32(&sc, i));
                len += (size_t)snprintf(val + len, cap - len, ";zero_points=");
                for (uint32_t i = 0; i < zp.n && i < sc.n; i++)
                    len += (size_t)snprintf(val + len, cap - len, "%s%lld", i ? "," : "",
                                            (long long)nne_fb_vec_i64(&zp, i));
            }
            if (key) snprintf(key, nl + 32, "tflite.quantization.%.*s", (int)nl, name);
            NNE_TRY(add_meta(ld->m, key, val));
        }
    }
    return ld->fb.failed ? fb_err(ld) : NNE_OK;
}

/* SignatureDefs as metadata: key "tflite.signature.<key>", value
 * "subgraph=N;inputs=alias:tensor,...;outputs=alias:tensor,..." with the
 * tensor names of that subgraph. */
static nne_status add_signatures(loader *ld) {
    nne_fb_vec sigs;
    nne_fb_vector(&ld->model, 7, 4, &sigs);
    if (ld->fb.failed) return fb_err(ld);
    if (sigs.n > 1024) return nne_error(NNE_ERR_UNSUPPORTED, "tflite: %u signatures", sigs.n);
    nne_model *m = ld->m;
    for (uint32_t i = 0; i < sigs.n; i++) {
        nne_fb_table s;
        if (!nne_fb_vec_table(&sigs, i, &s)) return fb_err(ld);
        const char *key;
        uint32_t kl;
        nne_fb_string(&s, 2, &key, &kl);
        uint32_t sgi = nne_fb_u32(&s, 4, 0);
        if (ld->fb.failed) return fb_err(ld);
        if (sgi >= ld->subgraphs.n)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: signature %u names subgraph %u of %u", i, sgi,
                             ld->subgraphs.n);
        nne_fb_table sg;
        nne_fb_vec tens;
        if (!nne_fb_vec_table(&ld->subgraphs, sgi, &sg)) return fb_err(ld);
        nne_fb_vector(&sg, 0, 4, &tens);
        size_t cap = 64 + kl, len = 0;
        char *val = nne_malloc(cap);
        if (!val) return oom();
        len = (size_t)snprintf(val, cap, "subgraph=%u", sgi);
        for (int side = 0; side < 2; side++) {
            nne_fb_vec maps;
            nne_fb_vector(&s, side, 4, &maps);
            for (uint32_t k = 0; k < maps.n && !ld->fb.failed; k++) {
                nne_fb_table tm, tt;
                if (!nne_fb_vec_table(&maps, k, &tm)) break;
                const char *alias, *tn = "";
                uint32_t al, tl = 0;
                nne_fb_string(&tm, 0, &alias, &al);
                uint32_t ti = nne_fb_u32(&tm, 1, 0);
                if (ti < tens.n && nne_fb_vec_table(&tens, ti, &tt)) nne_fb_string(&tt, 3, &tn, &tl);
                size_t need_b = len + al + tl + 16;
                if (need_b > cap) {
                    size_t nc = need_b * 2;
                    char *p = nne_realloc(val, nc);
                    if (!p) {
                        nne_free(val);
                        return oom();
                    }
                    val = p, cap = nc;
                }
                len += (size_t)snprintf(val + len, cap - len, "%s%.*s:%.*s", k ? "," : side ? ";outputs=" : ";inputs=",
                                        (int)al, alias, (int)tl, tn);
            }
        }
        if (ld->fb.failed) {
            nne_free(val);
            return fb_err(ld);
        }
        nne_kv *kv = nne_realloc(m->meta, (size_t)(m->n_meta + 1) * sizeof *kv);
        if (!kv) {
            nne_free(val);
            return oom();
        }
        m->meta = kv;
        char *k = nne_malloc(kl + 32);
        if (!k) {
            nne_free(val);
            return oom();
        }
        snprintf(k, kl + 32, "tflite.signature.%.*s", (int)kl, key);
        kv[m->n_meta].key = k;
        kv[m->n_meta].value = val;
        m->n_meta++;
    }
    return NNE_OK;
}

nne_status nne_tflite_import(nne_model *m, const void *data, size_t size, int allow_unsupported) {
    loader ld = {.file = data, .file_len = size, .m = m, .allow_unsupported = allow_unsupported};
    nne_fb_init(&ld.fb, data, size);
    if (!nne_tflite_detect(data, size))
        return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: not a TFLite model (no \"TFL3\" identifier)");
    if (!nne_fb_root(&ld.fb, &ld.model)) return fb_err(&ld);
    uint32_t version = nne_fb_u32(&ld.model, 0, 0);
    nne_fb_vector(&ld.model, 1, 4, &ld.codes);
    nne_fb_vector(&ld.model, 2, 4, &ld.subgraphs);
    nne_fb_vector(&ld.model, 4, 4, &ld.buffers);
    if (ld.fb.failed) return fb_err(&ld);
    if (version != 3)
        return nne_error(version > 3 ? NNE_ERR_UNSUPPORTED : NNE_ERR_CORRUPT_MODEL,
                         "tflite: schema version %u is not supported (nnedge reads version 3)", version);
    if (ld.subgraphs.n == 0) return nne_error(NNE_ERR_CORRUPT_MODEL, "tflite: the model has no subgraphs");
    ld.work_cap = MAX_IMPORT_WORK;
    for (uint32_t i = 0; i < ld.subgraphs.n; i++) {
        nne_fb_table sg;
        nne_fb_vec tv, ov;
        if (!nne_fb_vec_table(&ld.subgraphs, i, &sg)) return fb_err(&ld);
        nne_fb_vector(&sg, 0, 4, &tv);
        nne_fb_vector(&sg, 3, 4, &ov);
        ld.work_cap += 16 * ((uint64_t)tv.n + ov.n);
    }
    if (ld.fb.failed) return fb_err(&ld);
    ld.sg_busy = nne_calloc(ld.subgraphs.n, 1);
    if (!ld.sg_busy) return oom();
    m->ir_version = 9;
    m->opsets = nne_calloc(1, sizeof *m->opsets);
    nne_status st = m->opsets ? NNE_OK : oom();
    if (st == NNE_OK) {
        m->opsets[0].domain = nne_strdup("");
        m->opsets[0].version = OPSET;
        m->n_opsets = 1;
        m->producer = nne_strdup("nnedge tflite import");
        if (!m->opsets[0].domain || !m->producer) st = oom();
    }
    if (st == NNE_OK) {
        const char *desc;
        uint32_t dl;
        if (nne_fb_string(&ld.model, 3, &desc, &dl) && dl) {
            m->doc = nne_strndup(desc, dl);
            if (!m->doc) st = oom();
        }
    }
    if (st == NNE_OK) st = import_subgraph(&ld, 0, NULL, NULL, 0, &m->graph);
    if (st == NNE_OK) st = add_signatures(&ld);
    if (st == NNE_OK) st = add_quant_meta(&ld);
    nne_free(ld.sg_busy);
    if (st != NNE_OK) return st;
    nne_graph *g = m->graph;
    m->feed = nne_calloc((size_t)g->n_inputs + 1, sizeof(int));
    if (!m->feed) return oom();
    for (int i = 0; i < g->n_inputs; i++)
        if (g->values[g->inputs[i]].kind == NNE_VAL_INPUT) m->feed[m->n_feed++] = g->inputs[i];
    return NNE_OK;
}
