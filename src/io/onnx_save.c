/*
 * onnx_save.c - ONNX export: nne_model (graph IR) -> ModelProto bytes.
 *
 * Writes what the loader keeps: model header (IR version, opsets, producer,
 * domain, model_version, doc, metadata_props), the graph and its subgraphs
 * (nodes in their topological order, initializers, inputs, outputs,
 * value_info, names, doc strings, metadata), and fields the IR holds only as
 * bytes (functions, training info, quantization annotations, attributes of
 * kinds no op reads, non-tensor types), which go back verbatim.
 *
 * Tensor data is written as raw_data from where it lies (the model's mapping
 * or heap), without an intermediate copy. With external data, initializers
 * of at least `external_threshold` bytes go to a side file at offsets aligned
 * to `external_align` (so nne_model_load_file uses them in place), and the
 * TensorProto gets location/offset/length entries. A model whose inline form
 * would pass protobuf's 2 GB limit gets external data automatically.
 */
#include "io/onnx.h"
#include "io/pb_write.h"
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* protobuf messages must stay below 2 GiB; leave room for the graph itself */
#define INLINE_LIMIT ((uint64_t)2 * 1024 * 1024 * 1024 - ((uint64_t)64 << 20))

typedef struct saver {
    int ext_fd;            /* -1: everything inline */
    const char *ext_name;  /* location written into the TensorProtos */
    const char *ext_path;  /* for messages */
    uint64_t ext_off;
    size_t threshold, align;
    int64_t graph_base;    /* file offset of the top-level graph's payload (-1: unknown) */
    int64_t ir_version;
    nne_status st;         /* first error */
} saver;

/* Bytes of the top-level graph's length: fixed, so the graph's payload starts
 * at a known file offset (1 tag byte + 5) and inline tensor data can be
 * placed at offsets aligned for its element type. 5 bytes hold any length
 * below 32 GiB (protobuf's limit is 2 GiB). */
#define GRAPH_LEN_BYTES 5

static const char *anon_prefix = "\x01unused:";

static const char *value_name(const nne_graph *g, int v) {
    if (v < 0) return "";
    const char *n = g->values[v].name;
    return strncmp(n, anon_prefix, strlen(anon_prefix)) == 0 ? "" : n;
}

static void write_kv(pb_writer *w, uint32_t num, int n, const nne_kv *kv) {
    for (int i = 0; i < n; i++) {
        pb_writer e;
        pbw_init(&e);
        pbw_string(&e, 1, kv[i].key);
        pbw_string(&e, 2, kv[i].value);
        pbw_message(w, num, &e);
    }
}

/* Append bytes to the external data file at the next aligned offset. */
static int ext_append(saver *sv, const void *p, size_t n, uint64_t *off) {
    static const uint8_t zeros[4096];
    uint64_t pad = (sv->align - sv->ext_off % sv->align) % sv->align;
    while (pad) {
        size_t k = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
        ssize_t r = write(sv->ext_fd, zeros, k);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        pad -= (uint64_t)r;
        sv->ext_off += (uint64_t)r;
    }
    *off = sv->ext_off;
    const uint8_t *b = p;
    while (n) {
        ssize_t r = write(sv->ext_fd, b, n > (1u << 30) ? (1u << 30) : n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        b += r;
        n -= (size_t)r;
        sv->ext_off += (uint64_t)r;
    }
    return 1;
}

static int goes_external(const saver *sv, size_t nbytes) {
    return sv->ext_fd >= 0 && nbytes >= sv->threshold && nbytes > 0;
}

/* TensorProto. may_externalize: initializers only (attribute tensors stay
 * inline). pad: extra bytes in the data_type varint, to align raw_data. */
static void write_tensor(saver *sv, pb_writer *w, const nne_tensor *t, const void *bytes, const char *name,
                         int may_externalize, int pad) {
    pbw_packed_int64(w, 1, t->dims, (size_t)t->ndim);
    pbw_varint_padded(w, 2, (uint64_t)t->dtype, pad);
    if (name) pbw_string(w, 8, name);
    size_t nbytes = nne_tensor_nbytes(t);
    if (may_externalize && goes_external(sv, nbytes)) {
        uint64_t off;
        if (!ext_append(sv, bytes, nbytes, &off)) {
            if (sv->st == NNE_OK)
                sv->st = nne_error(NNE_ERR_IO, "onnx: cannot write external data file %s: %s", sv->ext_path,
                                   strerror(errno));
            return;
        }
        char num[32];
        const char *keys[3] = {"location", "offset", "length"};
        for (int k = 0; k < 3; k++) {
            pb_writer e;
            pbw_init(&e);
            pbw_string(&e, 1, keys[k]);
            if (k == 0) pbw_string(&e, 2, sv->ext_name);
            else {
                snprintf(num, sizeof num, "%llu", (unsigned long long)(k == 1 ? off : (uint64_t)nbytes));
                pbw_string(&e, 2, num);
            }
            pbw_message(w, 13, &e);
        }
        pbw_varint(w, 14, 1); /* data_location = EXTERNAL */
        return;
    }
    pbw_bytes_ref(w, 9, nbytes ? bytes : "", nbytes);
}

/* TypeProto of a value, or nothing when the value has no declared type. */
static void write_type(pb_writer *w, uint32_t num, const nne_value *v) {
    if (v->type_raw) {
        pbw_bytes(w, num, v->type_raw, v->type_raw_len);
        return;
    }
    if (v->dtype == NNE_DTYPE_UNDEFINED && v->ndim < 0) return;
    pb_writer tt, ty;
    pbw_init(&tt);
    pbw_varint(&tt, 1, (uint64_t)v->dtype);
    if (v->ndim >= 0) {
        pb_writer sh;
        pbw_init(&sh);
        for (int d = 0; d < v->ndim; d++) {
            pb_writer dm;
            pbw_init(&dm);
            if (v->dims[d] >= 0) pbw_varint(&dm, 1, (uint64_t)v->dims[d]);
            else if (v->dim_names[d]) pbw_string(&dm, 2, v->dim_names[d]);
            pbw_message(&sh, 1, &dm);
        }
        pbw_message(&tt, 2, &sh);
    }
    pbw_init(&ty);
    pbw_message(&ty, 1, &tt);
    pbw_message(w, num, &ty);
}

static void write_value_info(pb_writer *w, uint32_t num, const nne_value *v) {
    pb_writer vi;
    pbw_init(&vi);
    pbw_string(&vi, 1, v->name);
    write_type(&vi, 2, v);
    pbw_string(&vi, 3, v->doc);
    pbw_message(w, num, &vi);
}

static void write_graph(saver *sv, pb_writer *w, const nne_graph *g, int top);

static void write_attr(saver *sv, pb_writer *w, const nne_attr *a) {
    if (a->raw) { /* kinds the IR keeps as bytes */
        pbw_bytes(w, 5, a->raw, a->raw_len);
        return;
    }
    /* Every payload the loader kept is written, whatever `type` says: a
     * file may hold a value of another kind than its type (the loader keeps
     * both), and a round trip must not lose it. */
    pb_writer at;
    pbw_init(&at);
    pbw_string(&at, 1, a->name);
    uint32_t fbits;
    memcpy(&fbits, &a->f, 4);
    if (a->type == NNE_ATTR_FLOAT || fbits) pbw_float(&at, 2, a->f);
    if (a->type == NNE_ATTR_INT || a->i) pbw_varint(&at, 3, (uint64_t)a->i);
    if (a->s) pbw_bytes(&at, 4, a->s, a->slen);
    if (a->t) {
        pb_writer t;
        pbw_init(&t);
        write_tensor(sv, &t, a->t, a->t->data, NULL, 0, 0);
        pbw_message(&at, 5, &t);
    }
    if (a->g) {
        pb_writer gw;
        pbw_init(&gw);
        write_graph(sv, &gw, a->g, 0);
        pbw_message(&at, 6, &gw);
    }
    if (a->floats && a->n) pbw_packed_float(&at, 7, a->floats, (size_t)a->n);
    if (a->ints && a->n) pbw_packed_int64(&at, 8, a->ints, (size_t)a->n);
    if (a->strings)
        for (int i = 0; i < a->n; i++) pbw_string(&at, 9, a->strings[i]);
    pbw_string(&at, 13, a->doc);
    pbw_varint(&at, 20, (uint64_t)a->type);
    pbw_message(w, 5, &at);
}

static void write_node(saver *sv, pb_writer *w, const nne_graph *g, const nne_node *n) {
    pb_writer nw;
    pbw_init(&nw);
    for (int k = 0; k < n->n_in; k++) pbw_string(&nw, 1, value_name(g, n->in[k]));
    for (int k = 0; k < n->n_out; k++) pbw_string(&nw, 2, value_name(g, n->out[k]));
    if (n->name && n->name[0]) pbw_string(&nw, 3, n->name);
    pbw_string(&nw, 4, n->op_type);
    for (int a = 0; a < n->n_attr; a++) write_attr(sv, &nw, &n->attrs[a]);
    pbw_string(&nw, 6, n->doc);
    if (n->domain && n->domain[0]) pbw_string(&nw, 7, n->domain);
    write_kv(&nw, 9, n->n_meta, n->meta);
    pbw_message(w, 1, &nw);
}

/* Padding (extra data_type varint bytes) that puts an inline initializer's
 * raw_data at a file offset aligned for its element type, so a loader can
 * use it in place. The tensor is appended to the top-level graph's payload
 * (w, whose offset in the file is sv->graph_base) as field 5. */
static int align_pad(saver *sv, const pb_writer *w, const nne_value *val) {
    size_t es = nne_dtype_size(val->init.dtype), nbytes = nne_tensor_nbytes(&val->init);
    if (sv->graph_base < 0 || es < 2 || nbytes == 0 || goes_external(sv, nbytes)) return 0;
    pb_writer t; /* the tensor without padding, to measure its header */
    pbw_init(&t);
    write_tensor(sv, &t, &val->init, nne_value_init_bytes(val), val->name, 1, 0);
    uint64_t head = t.size - nbytes;
    pbw_free(&t);
    for (int pad = 0; pad < 9; pad++) {
        uint64_t msg = head + (uint64_t)pad + nbytes;
        uint64_t off = (uint64_t)sv->graph_base + w->size + 1 + (uint64_t)pbw_varint_len(msg) + head + (uint64_t)pad;
        if (off % es == 0) return pad;
    }
    return 0;
}

static void write_graph(saver *sv, pb_writer *w, const nne_graph *g, int top) {
    for (int i = 0; i < g->n_nodes; i++) write_node(sv, w, g, &g->nodes[i]);
    pbw_string(w, 2, g->name ? g->name : "");
    for (int v = 0; v < g->n_values; v++) {
        const nne_value *val = &g->values[v];
        if (val->kind != NNE_VAL_CONST) continue;
        int pad = top ? align_pad(sv, w, val) : 0;
        pb_writer t;
        pbw_init(&t);
        write_tensor(sv, &t, &val->init, nne_value_init_bytes(val), val->name, 1, pad);
        pbw_message(w, 5, &t);
    }
    pbw_string(w, 10, g->doc);
    for (int i = 0; i < g->n_inputs; i++) write_value_info(w, 11, &g->values[g->inputs[i]]);
    if (sv->ir_version < 4) {
        /* IR < 4: every initializer must also be a graph input; passes may
         * have made initializers (folded constants): list those. Initializers
         * read from the file stay as the file had them (round trip). */
        uint8_t *listed = nne_calloc((size_t)g->n_values + 1, 1);
        if (!listed) {
            w->oom = 1;
        } else {
            for (int i = 0; i < g->n_inputs; i++) listed[g->inputs[i]] = 1;
            for (int v = 0; v < g->n_values; v++) {
                const nne_value *val = &g->values[v];
                if (val->kind != NNE_VAL_CONST || listed[v] || val->init_from_file) continue;
                nne_value typed = *val; /* its type is the tensor's */
                typed.dtype = val->init.dtype;
                typed.ndim = val->init.ndim;
                memcpy(typed.dims, val->init.dims, sizeof typed.dims);
                memset(typed.dim_names, 0, sizeof typed.dim_names);
                typed.type_raw = NULL;
                write_value_info(w, 11, &typed);
            }
            nne_free(listed);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) write_value_info(w, 12, &g->values[g->outputs[i]]);
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].in_value_info) write_value_info(w, 13, &g->values[v]);
    for (int i = 0; i < g->n_raw; i++) pbw_bytes(w, g->raw[i].num, g->raw[i].data, g->raw[i].len);
    write_kv(w, 16, g->n_meta, g->meta);
}

static nne_status write_model(saver *sv, const nne_model *m, pb_writer *w) {
    pbw_init(w);
    /* the graph first (protobuf fields may come in any order), with a fixed
     * length size, so its payload starts at offset 1 + GRAPH_LEN_BYTES */
    sv->graph_base = 1 + GRAPH_LEN_BYTES;
    sv->ir_version = m->ir_version;
    pb_writer gw;
    pbw_init(&gw);
    write_graph(sv, &gw, m->graph, 1);
    pbw_message_fixed_len(w, 7, &gw, GRAPH_LEN_BYTES);
    pbw_varint(w, 1, (uint64_t)m->ir_version);
    pbw_string(w, 2, m->producer);
    pbw_string(w, 3, m->producer_version);
    pbw_string(w, 4, m->domain);
    if (m->model_version) pbw_varint(w, 5, (uint64_t)m->model_version);
    pbw_string(w, 6, m->doc);
    for (int i = 0; i < m->n_opsets; i++) {
        pb_writer o;
        pbw_init(&o);
        pbw_string(&o, 1, m->opsets[i].domain);
        pbw_varint(&o, 2, (uint64_t)m->opsets[i].version);
        pbw_message(w, 8, &o);
    }
    write_kv(w, 14, m->n_meta, m->meta);
    for (int i = 0; i < m->n_raw; i++) pbw_bytes(w, m->raw[i].num, m->raw[i].data, m->raw[i].len);
    if (sv->st != NNE_OK) return sv->st;
    if (!pbw_ok(w)) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory while writing the model");
    return NNE_OK;
}

/* Bytes of initializer data in g and its subgraphs (to decide on external data). */
static uint64_t init_bytes(const nne_graph *g) {
    uint64_t n = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == NNE_VAL_CONST) n += nne_tensor_nbytes(&g->values[v].init);
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++) {
            const nne_attr *at = &g->nodes[i].attrs[a];
            if (at->g) n += init_bytes(at->g);
            if (at->t) n += nne_tensor_nbytes(at->t);
        }
    return n;
}

static nne_status check_ext_name(const char *name) {
    if (!name[0] || name[0] == '/' || strchr(name, '\\'))
        return nne_error(NNE_ERR_INVALID_ARG, "external data name \"%s\" must be a relative file name", name);
    for (const char *p = name; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == name || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
            return nne_error(NNE_ERR_INVALID_ARG, "external data name \"%s\" leaves the model's directory", name);
    return NNE_OK;
}

/* Create "<final>.tmp-XXXXXX" for writing: the files are renamed over their
 * final names only once complete, so a failed write leaves the old files, and
 * writing over the model's own (memory-mapped) file or external data cannot
 * truncate pages the model still reads. */
static nne_status open_temp(const char *final, char **tmp, int *fd) {
    size_t n = strlen(final) + 12;
    *tmp = nne_malloc(n);
    if (!*tmp) return nne_error(NNE_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(*tmp, n, "%s.tmp-XXXXXX", final);
    *fd = mkostemp(*tmp, O_CLOEXEC);
    if (*fd < 0) {
        nne_status st = nne_error(NNE_ERR_IO, "cannot create %s: %s", *tmp, strerror(errno));
        nne_free(*tmp);
        *tmp = NULL;
        return st;
    }
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(*fd, 0666 & ~um);
    return NNE_OK;
}

nne_status nne_model_save_file(const nne_model *m, const char *path, const nne_save_options *opt) {
    if (!m || !path) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_save_file: NULL argument");
    nne_save_options o = nne_save_options_default();
    nne_status ost = nne_options_read(&o, sizeof o, opt, "nne_save_options");
    if (ost != NNE_OK) return ost;
    if (!o.external_threshold) o.external_threshold = 1024;
    if (!o.external_align) o.external_align = 64;
    if (o.external_align & (o.external_align - 1))
        return nne_error(NNE_ERR_INVALID_ARG, "external data alignment %zu is not a power of two", o.external_align);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *auto_name = NULL;
    if (!o.external_data && init_bytes(m->graph) > INLINE_LIMIT) {
        /* protobuf cannot hold it inline: external data it is */
        size_t n = strlen(base) + 6;
        auto_name = nne_malloc(n);
        if (!auto_name) return nne_error(NNE_ERR_OUT_OF_MEMORY, "out of memory");
        snprintf(auto_name, n, "%s.data", base);
        o.external_data = auto_name;
    }
    saver sv = {.ext_fd = -1, .threshold = o.external_threshold, .align = o.external_align};
    nne_status st = NNE_OK;
    char *ext_path = NULL, *ext_tmp = NULL, *tmp = NULL;
    pb_writer w;
    pbw_init(&w);
    int fd = -1;
    if (o.external_data) {
        if ((st = check_ext_name(o.external_data)) != NNE_OK) goto done;
        size_t n = (size_t)(base - path) + strlen(o.external_data) + 1;
        ext_path = nne_malloc(n);
        if (!ext_path) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "out of memory");
            goto done;
        }
        snprintf(ext_path, n, "%.*s%s", (int)(base - path), path, o.external_data);
        if ((st = open_temp(ext_path, &ext_tmp, &sv.ext_fd)) != NNE_OK) goto done;
        sv.ext_name = o.external_data;
        sv.ext_path = ext_path;
    }
    if ((st = write_model(&sv, m, &w)) != NNE_OK) goto done;
    if (w.size > INLINE_LIMIT + ((uint64_t)64 << 20)) {
        st = nne_error(NNE_ERR_UNSUPPORTED,
                       "onnx: the model would be %llu bytes, over protobuf's 2 GB limit; use external data",
                       (unsigned long long)w.size);
        goto done;
    }
    if ((st = open_temp(path, &tmp, &fd)) != NNE_OK) goto done;
    if (pbw_write_fd(&w, fd) != 0) {
        st = nne_error(NNE_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
done:
    if (fd >= 0 && close(fd) != 0 && st == NNE_OK) st = nne_error(NNE_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    if (sv.ext_fd >= 0 && close(sv.ext_fd) != 0 && st == NNE_OK)
        st = nne_error(NNE_ERR_IO, "cannot write %s: %s", ext_path, strerror(errno));
    /* external data first: the model file that names it appears last */
    if (st == NNE_OK && ext_tmp && rename(ext_tmp, ext_path) != 0)
        st = nne_error(NNE_ERR_IO, "cannot rename %s to %s: %s", ext_tmp, ext_path, strerror(errno));
    if (st == NNE_OK && tmp && rename(tmp, path) != 0)
        st = nne_error(NNE_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st != NNE_OK) {
        if (ext_tmp) unlink(ext_tmp);
        if (tmp) unlink(tmp);
    }
    nne_free(ext_tmp);
    nne_free(tmp);
    pbw_free(&w);
    nne_free(ext_path);
    nne_free(auto_name);
    return st;
}

nne_status nne_model_save_memory(const nne_model *m, void **data, size_t *size) {
    if (!m || !data || !size) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_save_memory: NULL argument");
    *data = NULL;
    *size = 0;
    saver sv = {.ext_fd = -1};
    pb_writer w;
    nne_status st = write_model(&sv, m, &w);
    if (st == NNE_OK && w.size > INLINE_LIMIT + ((uint64_t)64 << 20))
        st = nne_error(NNE_ERR_UNSUPPORTED,
                       "onnx: the model would be %llu bytes, over protobuf's 2 GB limit; write it to a file with "
                       "external data", (unsigned long long)w.size);
    if (st == NNE_OK) {
        uint8_t *b = nne_malloc((size_t)w.size);
        if (!b) st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: cannot allocate %llu bytes for the model",
                               (unsigned long long)w.size);
        else {
            pbw_flatten(&w, b);
            *data = b;
            *size = (size_t)w.size;
        }
    }
    pbw_free(&w);
    return st;
}

void nne_buffer_free(void *data) { nne_free(data); }
