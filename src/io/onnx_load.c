/*
 * onnx_load.c - ONNX import: ModelProto bytes -> nne_model (graph IR).
 *
 * Steps: parse the ModelProto header (IR version, opsets), then the graph in
 * two passes: first collect the positions of inputs, initializers, outputs,
 * value_info and nodes, then create values (inputs, initializers), nodes (in
 * file order, resolving names in this graph, then in enclosing graphs for
 * subgraphs), outputs, all through the graph builder (src/ir/graph.h).
 * Nodes are topologically sorted if the file is not.
 * Every length and count comes from untrusted bytes and is checked against
 * what is left in the buffer before anything is allocated.
 */
#include "io/onnx.h"
#include "io/tflite.h"
#include "core/core.h"
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nnedge's ONNX reader assumes a little-endian host"
#endif

#define MAX_GRAPH_DEPTH 32

typedef struct loader {
    const uint8_t *base;
    const char *base_dir;
    nne_model *m;
    int borrow;          /* the buffer is a mapping the model keeps: weights may point into it */
    const nne_region *regions; /* nne_model_load_regions: external data lies here, not in files */
    int32_t n_regions;
    int depth;
    /* first unsupported op */
    int n_unsupported;
    char unsupported[512];
} loader;

static nne_status corrupt(const pb_reader *r, size_t off, const char *what) {
    return nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: offset %zu: %s", off, what);
}
static nne_status pb_err(const pb_reader *r) {
    return nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: offset %zu: %s", r->err_off, r->err);
}

/* Set when an allocation failed where the caller cannot tell that apart
 * from absent data (a string copy: many strings are optional; an outer-scope
 * link: "not found"). nne_model_load_memory checks it once per load, so the
 * failure is reported as OUT_OF_MEMORY, never as a misleading "node without
 * op_type" or "value is used but not produced", and no model loads with a
 * name missing. Per thread, as loads may run concurrently. */
static _Thread_local int t_load_oom;

static char *dup_field(const pb_field *f) {
    char *s = nne_strndup((const char *)f->data, f->len);
    if (!s) t_load_oom = 1;
    return s;
}

/* Append a metadata_props entry (StringStringEntryProto: key 1, value 2). */
static nne_status add_kv(const pb_reader *r0, const pb_field *f, int *n, nne_kv **kv) {
    pb_reader s = pb_sub(r0, f);
    pb_field e;
    const pb_field *k = NULL, *v = NULL;
    pb_field kf, vf;
    while (pb_next(&s, &e)) {
        if (e.wire != PB_LEN) continue;
        if (e.num == 1) kf = e, k = &kf;
        if (e.num == 2) vf = e, v = &vf;
    }
    if (s.err) return pb_err(&s);
    nne_kv *nk = nne_realloc(*kv, (size_t)(*n + 1) * sizeof *nk);
    if (!nk) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    *kv = nk;
    nk[*n].key = k ? dup_field(k) : nne_strdup("");
    nk[*n].value = v ? dup_field(v) : nne_strdup("");
    (*n)++;
    if (!nk[*n - 1].key || !nk[*n - 1].value) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    return NNE_OK;
}

/* Keep a whole field's payload to write it back verbatim. */
static nne_status add_raw(const pb_field *f, int *n, nne_raw_field **raw) {
    nne_raw_field *nr = nne_realloc(*raw, (size_t)(*n + 1) * sizeof *nr);
    if (!nr) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    *raw = nr;
    nr[*n].num = f->num;
    nr[*n].len = f->len;
    nr[*n].data = nne_malloc(f->len);
    if (!nr[*n].data) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    memcpy(nr[*n].data, f->data, f->len);
    (*n)++;
    return NNE_OK;
}

/* Replace *dst with a copy of a string field. */
static nne_status set_str(char **dst, const pb_field *f) {
    nne_free(*dst);
    *dst = dup_field(f);
    return *dst ? NNE_OK : nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
}


/* ------------------------------------------------------------ tensors -- */

typedef struct tensor_fields {
    int64_t dims[NNE_MAX_DIMS];
    int ndim;
    int dims_overflow;
    int dtype;
    const uint8_t *raw;
    size_t raw_len;
    int has_raw;
    int64_t n_typed;     /* elements in float/int32/int64/double/uint64 fields */
    int typed_field;     /* field number of the typed data seen */
    int mixed_typed;
    int n_strings;
    int external;
    const char *location; size_t location_len;
    int64_t ext_offset, ext_length;
    int has_segment;
} tensor_fields;

static int typed_field_wire(int fnum) {
    switch (fnum) {
    case 4: return PB_I32;   /* float_data */
    case 10: return PB_I64;  /* double_data */
    default: return PB_VARINT; /* int32_data, int64_data, uint64_data */
    }
}

static nne_status parse_ext_entry(const pb_reader *r, const pb_field *f, tensor_fields *tf) {
    pb_reader s = pb_sub(r, f);
    pb_field e;
    const uint8_t *k = NULL, *v = NULL;
    size_t kl = 0, vl = 0;
    while (pb_next(&s, &e)) {
        if (e.wire != PB_LEN) continue;
        if (e.num == 1) { k = e.data; kl = e.len; }
        if (e.num == 2) { v = e.data; vl = e.len; }
    }
    if (s.err) return pb_err(&s);
    if (!k) return NNE_OK;
    char num[32];
    if (kl == 8 && memcmp(k, "location", 8) == 0) {
        tf->location = (const char *)v;
        tf->location_len = vl;
    } else if ((kl == 6 && memcmp(k, "offset", 6) == 0) || (kl == 6 && memcmp(k, "length", 6) == 0)) {
        if (!v || vl == 0 || vl >= sizeof num) return corrupt(r, f->off, "bad external data offset/length");
        memcpy(num, v, vl);
        num[vl] = 0;
        char *endp;
        errno = 0;
        long long x = strtoll(num, &endp, 10);
        if (*endp || errno || x < 0) return corrupt(r, f->off, "bad external data offset/length");
        if (k[0] == 'o') tf->ext_offset = x;
        else tf->ext_length = x;
    }
    return NNE_OK;
}

static nne_status scan_tensor(pb_reader *r, tensor_fields *tf, char **name) {
    memset(tf, 0, sizeof *tf);
    tf->ext_length = -1;
    pb_field f;
    while (pb_next(r, &f)) {
        switch (f.num) {
        case 1: /* dims */
            if (f.wire == PB_LEN) {
                pb_packed pk = {f.data, f.data + f.len};
                uint64_t v;
                while (pb_packed_varint(&pk, &v)) {
                    if (tf->ndim >= NNE_MAX_DIMS) { tf->dims_overflow = 1; break; }
                    tf->dims[tf->ndim++] = (int64_t)v;
                }
            } else if (f.wire == PB_VARINT) {
                if (tf->ndim >= NNE_MAX_DIMS) tf->dims_overflow = 1;
                else tf->dims[tf->ndim++] = (int64_t)f.v;
            }
            break;
        case 2: if (f.wire == PB_VARINT) tf->dtype = (int)f.v; break;
        case 3: tf->has_segment = 1; break;
        case 4: case 5: case 7: case 10: case 11: {
            int64_t n;
            int ew = typed_field_wire((int)f.num);
            if (f.wire == PB_LEN) {
                n = pb_packed_count(&f, ew);
                if (n < 0) return corrupt(r, f.off, "malformed packed tensor data");
            } else {
                n = 1;
            }
            if (tf->typed_field && tf->typed_field != (int)f.num) tf->mixed_typed = 1;
            tf->typed_field = (int)f.num;
            tf->n_typed += n;
            break;
        }
        case 6: tf->n_strings++; break;
        case 8:
            if (name && f.wire == PB_LEN) {
                nne_free(*name);
                *name = dup_field(&f);
                if (!*name) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
            }
            break;
        case 9:
            if (f.wire != PB_LEN) return corrupt(r, f.off, "raw_data is not length-delimited");
            tf->raw = f.data;
            tf->raw_len = f.len;
            tf->has_raw = 1;
            break;
        case 13:
            if (f.wire == PB_LEN) NNE_TRY(parse_ext_entry(r, &f, tf));
            break;
        case 14: if (f.wire == PB_VARINT && f.v == 1) tf->external = 1; break;
        default: break;
        }
    }
    if (r->err) return pb_err(r);
    return NNE_OK;
}

/* The location of tf's external data as a C string in loc (4097 bytes). */
static nne_status external_location(const char *base_dir, const tensor_fields *tf, const char *tname, char *loc) {
    if (!base_dir)
        return nne_error(NNE_ERR_IO, "onnx: tensor \"%s\" uses external data but the model was loaded from memory",
                         tname);
    if (!tf->location || tf->location_len == 0 || tf->location_len > 4096 ||
        memchr(tf->location, 0, tf->location_len))
        return nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: tensor \"%s\": external data has no valid location", tname);
    memcpy(loc, tf->location, tf->location_len);
    loc[tf->location_len] = 0;
    if (strchr(loc, '\\'))
        return nne_error(NNE_ERR_CORRUPT_MODEL,
                         "onnx: tensor \"%s\": external data location \"%s\" leaves the model's directory", tname, loc);
    return NNE_OK;
}

/* Check [offset, +nbytes) of tf against a file of fsize bytes. */
static nne_status external_range(const tensor_fields *tf, const char *tname, const char *loc, size_t nbytes,
                                 uint64_t fsize) {
    uint64_t off = (uint64_t)tf->ext_offset;
    if (tf->ext_length >= 0 && (uint64_t)tf->ext_length != nbytes)
        return nne_error(NNE_ERR_CORRUPT_MODEL,
                         "onnx: tensor \"%s\": external data length %lld does not match its shape (%zu bytes)", tname,
                         (long long)tf->ext_length, nbytes);
    if (off > fsize || nbytes > fsize - off)
        return nne_error(NNE_ERR_CORRUPT_MODEL,
                         "onnx: tensor \"%s\": external data [%llu, +%zu) is past the end of %s (%llu bytes)", tname,
                         (unsigned long long)off, nbytes, loc, (unsigned long long)fsize);
    return NNE_OK;
}

/* External data through a mapping the model keeps (one per file): *src
 * points at the tensor's bytes inside it. */
static nne_status external_mapped(loader *ld, const tensor_fields *tf, const char *tname, size_t nbytes,
                                  const uint8_t **src) {
    char loc[4097];
    if (ld->regions) {
        /* a caller-lent region (a package segment): matched by exact name, never a file */
        if (!tf->location || tf->location_len == 0 || tf->location_len > 4096 ||
            memchr(tf->location, 0, tf->location_len))
            return nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: tensor \"%s\": external data has no valid location", tname);
        memcpy(loc, tf->location, tf->location_len);
        loc[tf->location_len] = 0;
        for (int32_t i = 0; i < ld->n_regions; i++)
            if (ld->regions[i].name && strcmp(ld->regions[i].name, loc) == 0) {
                NNE_TRY(external_range(tf, tname, loc, nbytes, ld->regions[i].size));
                *src = (const uint8_t *)ld->regions[i].data + tf->ext_offset;
                return NNE_OK;
            }
        return nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: tensor \"%s\": external data \"%s\" is not one of the model's regions",
                         tname, loc);
    }
    NNE_TRY(external_location(ld->base_dir, tf, tname, loc));
    nne_model *m = ld->m;
    nne_mapping *mp = NULL;
    for (int i = 0; i < m->n_maps; i++)
        if (m->maps[i].name && strcmp(m->maps[i].name, loc) == 0) mp = &m->maps[i];
    if (!mp) {
        int fd;
        uint64_t fsize;
        NNE_TRY(nne_file_open_beneath(ld->base_dir, loc, "external data file", &fd, &fsize));
        nne_mapping *nm = nne_realloc(m->maps, (size_t)(m->n_maps + 1) * sizeof *nm);
        if (!nm) {
            close(fd);
            return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        }
        m->maps = nm;
        mp = &m->maps[m->n_maps];
        memset(mp, 0, sizeof *mp);
        mp->name = nne_strdup(loc);
        nne_status st = mp->name ? nne_file_map(fd, fsize, loc, &mp->addr)
                                 : nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        close(fd);
        if (st != NNE_OK) {
            nne_free(mp->name);
            return st;
        }
        mp->size = fsize;
        m->n_maps++;
    }
    NNE_TRY(external_range(tf, tname, loc, nbytes, mp->size));
    *src = (const uint8_t *)mp->addr + tf->ext_offset;
    return NNE_OK;
}

/* Read nbytes of external data into *dst (no model to keep a mapping: a
 * tensor parsed on its own). *dst is allocated only once the file is known to
 * hold the bytes (a few bytes of model must not make us allocate what its
 * shape claims). The caller frees *dst, also on failure. */
static nne_status read_external(const char *base_dir, const tensor_fields *tf, const char *tname, void **dst,
                                size_t nbytes) {
    char loc[4097];
    NNE_TRY(external_location(base_dir, tf, tname, loc));
    int fd;
    uint64_t fsize;
    NNE_TRY(nne_file_open_beneath(base_dir, loc, "external data file", &fd, &fsize));
    nne_status rc = external_range(tf, tname, loc, nbytes, fsize);
    uint64_t off = (uint64_t)tf->ext_offset;
    if (rc != NNE_OK) {
    } else if (!(*dst = nne_aligned_alloc(nbytes))) {
        rc = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: tensor \"%s\": cannot allocate %zu bytes", tname, nbytes);
    } else {
        size_t done = 0;
        while (done < nbytes) {
            ssize_t k = pread(fd, (char *)*dst + done, nbytes - done, (off_t)(off + done));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                rc = nne_error(NNE_ERR_IO, "onnx: tensor \"%s\": read error in %s", tname, loc);
                break;
            }
            done += (size_t)k;
        }
    }
    close(fd);
    return rc;
}

static nne_status decode_typed(const pb_reader *r, int fnum, nne_tensor *t, int64_t n) {
    /* Second pass: decode each typed-field element into t. */
    pb_reader s = *r;
    pb_field f;
    int64_t i = 0;
    while (pb_next(&s, &f)) {
        if ((int)f.num != fnum) continue;
        int ew = typed_field_wire(fnum);
        pb_packed pk;
        uint8_t one[10];
        if (f.wire == PB_LEN) {
            pk.p = f.data;
            pk.end = f.data + f.len;
        } else {
            /* a single unpacked element: re-decode its value */
            if (ew == PB_I32) memcpy(one, &(uint32_t){(uint32_t)f.v}, 4), pk.p = one, pk.end = one + 4;
            else if (ew == PB_I64) memcpy(one, &f.v, 8), pk.p = one, pk.end = one + 8;
            else {
                uint64_t v = f.v;
                int k = 0;
                do { one[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>= 7; } while (v);
                pk.p = one;
                pk.end = one + k;
            }
        }
        for (; i < n;) {
            uint64_t v;
            uint32_t v32;
            if (ew == PB_I32) {
                if (!pb_packed_fixed32(&pk, &v32)) break;
                float fl;
                memcpy(&fl, &v32, 4);
                if (t->dtype == NNE_DTYPE_FLOAT) ((float *)t->data)[i] = fl;
                else nne_tensor_set_f64(t, i, fl);
            } else if (ew == PB_I64) {
                if (!pb_packed_fixed64(&pk, &v)) break;
                double d;
                memcpy(&d, &v, 8);
                nne_tensor_set_f64(t, i, d);
            } else {
                if (!pb_packed_varint(&pk, &v)) break;
                switch (t->dtype) {
                case NNE_DTYPE_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
                case NNE_DTYPE_UINT64: ((uint64_t *)t->data)[i] = v; break;
                case NNE_DTYPE_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
                case NNE_DTYPE_INT32: ((int32_t *)t->data)[i] = (int32_t)(uint32_t)v; break;
                case NNE_DTYPE_INT16: ((int16_t *)t->data)[i] = (int16_t)(uint16_t)v; break;
                case NNE_DTYPE_UINT16: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16:
                    ((uint16_t *)t->data)[i] = (uint16_t)v; break;
                case NNE_DTYPE_INT8: ((int8_t *)t->data)[i] = (int8_t)(uint8_t)v; break;
                case NNE_DTYPE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
                case NNE_DTYPE_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
                default: nne_tensor_set_f64(t, i, (double)(int64_t)v); break;
                }
            }
            i++;
        }
    }
    if (i != n) return corrupt(r, pb_offset(r), "tensor data shorter than its element count");
    return NNE_OK;
}

/* Parse the TensorProto in reader r (a sub-message window). With a loader
 * (ld != NULL) and `place` != NULL, the bytes may stay where they lie: raw or
 * external bytes aligned for the dtype are used in place (place->borrowed);
 * unaligned ones are left for nne_model_weights_ready (out->data NULL,
 * place->src set). Otherwise out->data is an aligned copy. */
typedef struct tensor_place {
    int borrowed;        /* out->data points into a model mapping */
    const void *in_place;/* that pointer (also when out->data is cleared) */
    const void *src;     /* unaligned bytes in a model mapping (out->data NULL) */
} tensor_place;

static nne_status tensor_from_reader(loader *ld, const pb_reader *r0, const char *base_dir, nne_tensor *out,
                                     char **name, tensor_place *place) {
    pb_reader r = *r0;
    if (place) memset(place, 0, sizeof *place);
    tensor_fields tf;
    memset(out, 0, sizeof *out);
    char *nm = NULL;
    nne_status st = scan_tensor(&r, &tf, &nm);
    const char *tn = nm ? nm : "(unnamed)";
    if (st != NNE_OK) goto fail;
    if (tf.dims_overflow) {
        st = nne_error(NNE_ERR_UNSUPPORTED, "onnx: tensor \"%s\" has more than %d dims", tn, NNE_MAX_DIMS);
        goto fail;
    }
    if (tf.has_segment) {
        st = nne_error(NNE_ERR_UNSUPPORTED, "onnx: tensor \"%s\" uses segments", tn);
        goto fail;
    }
    out->dtype = (nne_dtype)tf.dtype;
    out->ndim = tf.ndim;
    memcpy(out->dims, tf.dims, sizeof tf.dims);
    size_t es = nne_dtype_size(out->dtype);
    if (!es) {
        st = nne_error(tf.dtype > 0 && tf.dtype <= 26 ? NNE_ERR_UNSUPPORTED : NNE_ERR_CORRUPT_MODEL,
                       "onnx: tensor \"%s\" has element type %s (%d), which nnedge does not support", tn,
                       nne_dtype_name(out->dtype), tf.dtype);
        goto fail;
    }
    int64_t n;
    size_t nbytes;
    if (!nne_dims_nbytes(tf.ndim, tf.dims, es, &nbytes, &n)) {
        st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: tensor \"%s\" has invalid dims (negative or overflowing)", tn);
        goto fail;
    }
    /* Validate the data size before allocating anything. */
    if (tf.external) {
        /* checked against the file size in read_external */
    } else if (tf.has_raw) {
        if (tf.raw_len != nbytes) {
            char b[128];
            st = nne_error(NNE_ERR_CORRUPT_MODEL,
                           "onnx: tensor \"%s\" (%s, %s) holds %zu raw bytes, expected %zu", tn,
                           nne_dtype_name(out->dtype), nne_dims_str(out->ndim, out->dims, b, sizeof b), tf.raw_len,
                           nbytes);
            goto fail;
        }
    } else if (tf.mixed_typed || tf.n_typed != n) {
        char b[128];
        st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: tensor \"%s\" (%s, %s) holds %lld elements, expected %lld", tn,
                       nne_dtype_name(out->dtype), nne_dims_str(out->ndim, out->dims, b, sizeof b),
                       (long long)tf.n_typed, (long long)n);
        goto fail;
    }
    const uint8_t *src = NULL; /* bytes that may be used where they lie */
    if (tf.external && ld && nbytes) {
        if ((st = external_mapped(ld, &tf, tn, nbytes, &src)) != NNE_OK) goto fail;
    } else if (!tf.external && tf.has_raw && ld && ld->borrow && nbytes) {
        src = tf.raw;
    }
    if (src && place) {
        if ((uintptr_t)src % es == 0) {
            out->data = (void *)src;
            place->borrowed = 1;
            place->in_place = src;
        } else {
            place->src = src;
        }
    } else if (src) {
        out->data = nne_aligned_alloc(nbytes);
        if (!out->data) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: tensor \"%s\": cannot allocate %zu bytes", tn, nbytes);
            goto fail;
        }
        memcpy(out->data, src, nbytes);
    } else if (tf.external) {
        st = read_external(base_dir, &tf, tn, &out->data, nbytes);
    } else {
        out->data = nne_aligned_alloc(nbytes);
        if (!out->data) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: tensor \"%s\": cannot allocate %zu bytes", tn, nbytes);
            goto fail;
        }
        if (tf.has_raw) memcpy(out->data, tf.raw, nbytes);
        else if (n > 0) st = decode_typed(r0, tf.typed_field, out, n);
    }
    if (st != NNE_OK) goto fail;
    if (name) *name = nm;
    else nne_free(nm);
    return NNE_OK;
fail:
    if (!(place && place->borrowed)) nne_aligned_free(out->data);
    if (place) memset(place, 0, sizeof *place);
    out->data = NULL;
    nne_free(nm);
    return st;
}

nne_status nne_onnx_tensor_parse(const void *buf, size_t len, const char *base_dir, nne_tensor *out,
                                 char **name) {
    pb_reader r;
    pb_init(&r, buf, len);
    return tensor_from_reader(NULL, &r, base_dir, out, name, NULL);
}

/* --------------------------------------------------------- value info -- */

/* Parse a TypeProto into v's declared type. */
static nne_status parse_type(const pb_reader *r0, const pb_field *tf, nne_value *v) {
    pb_reader r = pb_sub(r0, tf);
    pb_field f;
    /* A value declared more than once (an output listed twice, an output
     * with value_info) keeps one kind: a later tensor type may refine a
     * tensor type without a shape, anything else after a first declaration is
     * ignored (the writer writes the one type the value holds). */
    if (v->type_raw) return NNE_OK;
    if (v->dtype != NNE_DTYPE_UNDEFINED || v->ndim >= 0) {
        pb_reader k = r;
        while (pb_next(&k, &f))
            if (f.wire == PB_LEN && f.num != 1 && (f.num == 4 || f.num == 5 || f.num == 8 || f.num == 9)) return NNE_OK;
        if (k.err) return pb_err(&k);
    }
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN) continue;
        if (f.num == 4) v->vtype = NNE_VT_SEQUENCE;
        else if (f.num == 5) v->vtype = NNE_VT_MAP;
        else if (f.num == 9) v->vtype = NNE_VT_OPTIONAL;
        else if (f.num == 8) v->vtype = NNE_VT_SPARSE;
        if (f.num != 1) continue;
        v->vtype = NNE_VT_TENSOR;
        pb_reader t = pb_sub(&r, &f);
        pb_field g;
        while (pb_next(&t, &g)) {
            if (g.num == 1 && g.wire == PB_VARINT) v->dtype = (nne_dtype)(int)g.v;
            if (g.num != 2 || g.wire != PB_LEN) continue;
            v->ndim = 0;
            pb_reader sh = pb_sub(&t, &g);
            pb_field d;
            while (pb_next(&sh, &d)) {
                if (d.num != 1 || d.wire != PB_LEN) continue;
                if (v->ndim >= NNE_MAX_DIMS)
                    return nne_error(NNE_ERR_UNSUPPORTED, "onnx: value \"%s\" has more than %d dims", v->name,
                                     NNE_MAX_DIMS);
                int k = v->ndim++;
                v->dims[k] = -1;
                pb_reader dr = pb_sub(&sh, &d);
                pb_field e;
                while (pb_next(&dr, &e)) {
                    if (e.num == 1 && e.wire == PB_VARINT) v->dims[k] = (int64_t)e.v;
                    if (e.num == 2 && e.wire == PB_LEN) {
                        nne_free(v->dim_names[k]);
                        v->dim_names[k] = dup_field(&e);
                    }
                }
                if (dr.err) return pb_err(&dr);
            }
            if (sh.err) return pb_err(&sh);
        }
        if (t.err) return pb_err(&t);
    }
    if (r.err) return pb_err(&r);
    if (v->vtype != NNE_VT_TENSOR && !v->type_raw) {
        /* the IR keeps only the kind; the writer writes these types back as read */
        v->type_raw = nne_malloc(tf->len);
        if (!v->type_raw) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        memcpy(v->type_raw, tf->data, tf->len);
        v->type_raw_len = tf->len;
    }
    return NNE_OK;
}

/* ValueInfoProto -> (name, type) applied to value idx (created if create). */
static nne_status value_info_name(const pb_reader *r0, const pb_field *vf, pb_field *name_f, pb_field *type_f,
                                  int *has_type, pb_field *doc_f) {
    pb_reader r = pb_sub(r0, vf);
    pb_field f;
    int has_name = 0;
    *has_type = 0;
    doc_f->data = NULL;
    while (pb_next(&r, &f)) {
        if (f.num == 1 && f.wire == PB_LEN) *name_f = f, has_name = 1;
        if (f.num == 2 && f.wire == PB_LEN) *type_f = f, *has_type = 1;
        if (f.num == 3 && f.wire == PB_LEN) *doc_f = f;
    }
    if (r.err) return pb_err(&r);
    if (!has_name) return corrupt(r0, vf->off, "graph input/output without a name");
    return NNE_OK;
}

/* --------------------------------------------------------------- graph -- */

static nne_status parse_graph(loader *ld, const pb_reader *r0, const pb_field *gf, nne_graph *parent,
                              nne_graph **out);

static nne_status parse_attr(loader *ld, const pb_reader *r0, const pb_field *af, nne_graph *g, nne_attr *a) {
    pb_reader r = pb_sub(r0, af);
    pb_field f;
    int seen_type = 0;
    memset(a, 0, sizeof *a);
    /* first pass: scalars, counts */
    int64_t n_floats = 0, n_ints = 0, n_strings = 0;
    while (pb_next(&r, &f)) {
        switch (f.num) {
        case 1: if (f.wire == PB_LEN && !a->name) a->name = dup_field(&f); break;
        case 20: if (f.wire == PB_VARINT) a->type = (int)f.v, seen_type = 1; break;
        case 2: if (f.wire == PB_I32) { uint32_t u = (uint32_t)f.v; memcpy(&a->f, &u, 4); } break;
        case 3: if (f.wire == PB_VARINT) a->i = (int64_t)f.v; break;
        case 4:
            if (f.wire == PB_LEN) {
                nne_free(a->s);
                a->s = dup_field(&f);
                a->slen = f.len;
                if (!a->s) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
            }
            break;
        case 7: {
            int64_t k = f.wire == PB_LEN ? pb_packed_count(&f, PB_I32) : 1;
            if (k < 0) return corrupt(&r, f.off, "malformed packed floats attribute");
            n_floats += k;
            break;
        }
        case 8: {
            int64_t k = f.wire == PB_LEN ? pb_packed_count(&f, PB_VARINT) : 1;
            if (k < 0) return corrupt(&r, f.off, "malformed packed ints attribute");
            n_ints += k;
            break;
        }
        case 9: n_strings++; break;
        case 13: if (f.wire == PB_LEN) NNE_TRY(set_str(&a->doc, &f)); break;
        case 21: return nne_error(NNE_ERR_UNSUPPORTED, "onnx: attribute references (ref_attr_name) are only valid in functions");
        default: break;
        }
    }
    if (r.err) return pb_err(&r);
    if (!a->name) return corrupt(r0, af->off, "attribute without a name");
    if (n_floats > INT32_MAX || n_ints > INT32_MAX || n_strings > INT32_MAX)
        return corrupt(r0, af->off, "attribute list too long");
    /* One count (a->n) serves the one list an attribute holds; a file with two
     * kinds of lists would make nne_attr_ints() & co. read past the shorter. */
    if ((n_floats != 0) + (n_ints != 0) + (n_strings != 0) > 1)
        return corrupt(r0, af->off, "attribute holds more than one kind of list (floats, ints, strings)");
    /* set before filling, so nne_attr_free releases a partly filled list */
    a->n = (int)(n_floats + n_ints + n_strings);
    if (n_floats) {
        a->floats = nne_calloc((size_t)n_floats, sizeof(float));
        if (!a->floats) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    }
    if (n_ints) {
        a->ints = nne_calloc((size_t)n_ints, sizeof(int64_t));
        if (!a->ints) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    }
    if (n_strings) {
        a->strings = nne_calloc((size_t)n_strings, sizeof(char *));
        if (!a->strings) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    }
    int nf = 0, ni = 0, ns = 0;
    int has_t = 0, has_g = 0;
    r = pb_sub(r0, af);
    while (pb_next(&r, &f)) {
        if (f.num == 7) {
            if (f.wire == PB_LEN) {
                pb_packed pk = {f.data, f.data + f.len};
                uint32_t u;
                while (nf < n_floats && pb_packed_fixed32(&pk, &u)) memcpy(&a->floats[nf++], &u, 4);
            } else if (f.wire == PB_I32 && nf < n_floats) {
                uint32_t u = (uint32_t)f.v;
                memcpy(&a->floats[nf++], &u, 4);
            }
        } else if (f.num == 8) {
            if (f.wire == PB_LEN) {
                pb_packed pk = {f.data, f.data + f.len};
                uint64_t u;
                while (ni < n_ints && pb_packed_varint(&pk, &u)) a->ints[ni++] = (int64_t)u;
            } else if (f.wire == PB_VARINT && ni < n_ints) {
                a->ints[ni++] = (int64_t)f.v;
            }
        } else if (f.num == 9 && ns < n_strings) {
            if (f.wire != PB_LEN) return corrupt(&r, f.off, "strings attribute element is not bytes");
            a->strings[ns] = dup_field(&f);
            if (!a->strings[ns++]) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        } else if (f.num == 5 && f.wire == PB_LEN && !has_t) {
            a->t = nne_calloc(1, sizeof *a->t);
            if (!a->t) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
            pb_reader tr = pb_sub(&r, &f);
            nne_status st = tensor_from_reader(ld, &tr, ld->base_dir, a->t, NULL, NULL);
            if (st != NNE_OK) {
                nne_error_prefix("attribute \"%s\"", a->name);
                return st;
            }
            has_t = 1;
        } else if (f.num == 6 && f.wire == PB_LEN && !has_g) {
            NNE_TRY(parse_graph(ld, &r, &f, g, &a->g));
            has_g = 1;
        } else if (f.num == 10 || f.num == 11 || f.num == 22 || f.num == 23 || f.num == 14 || f.num == 15) {
            if (!seen_type)
                a->type = f.num == 10 ? NNE_ATTR_TENSORS : f.num == 11 ? NNE_ATTR_GRAPHS
                          : f.num == 22 ? NNE_ATTR_SPARSE_TENSOR : f.num == 23 ? NNE_ATTR_SPARSE_TENSORS
                          : f.num == 14 ? NNE_ATTR_TYPE_PROTO : NNE_ATTR_TYPE_PROTOS;
            seen_type = 1;
        }
    }
    if (r.err) return pb_err(&r);
    if (!seen_type || a->type == NNE_ATTR_UNDEFINED) { /* IR < 0.0.2 files omit the type */
        a->type = has_g ? NNE_ATTR_GRAPH : has_t ? NNE_ATTR_TENSOR : n_floats ? NNE_ATTR_FLOATS : n_ints ? NNE_ATTR_INTS
                  : n_strings ? NNE_ATTR_STRINGS : a->s ? NNE_ATTR_STRING : a->f != 0 ? NNE_ATTR_FLOAT : NNE_ATTR_INT;
    }
    if ((a->type == NNE_ATTR_TENSOR && !has_t) || (a->type == NNE_ATTR_GRAPH && !has_g))
        return corrupt(r0, af->off, "tensor/graph attribute without a value");
    if (a->type >= NNE_ATTR_TENSORS) {
        /* kinds no op reads from the IR: keep the bytes for the writer */
        a->raw = nne_malloc(af->len);
        if (!a->raw) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        memcpy(a->raw, af->data, af->len);
        a->raw_len = af->len;
    }
    return NNE_OK;
}

static nne_status parse_node(loader *ld, const pb_reader *r0, const pb_field *nf, nne_graph *g) {
    pb_reader r = pb_sub(r0, nf);
    pb_field f;
    char *name = NULL, *op_type = NULL, *domain = NULL, *doc = NULL;
    int n_meta = 0;
    nne_kv *meta = NULL;
    nne_status st = NNE_OK;
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN) continue;
        char **dst = f.num == 3 ? &name : f.num == 4 ? &op_type : f.num == 7 ? &domain : f.num == 6 ? &doc : NULL;
        if (f.num == 9 && st == NNE_OK) st = add_kv(&r, &f, &n_meta, &meta); /* metadata_props */
        if (!dst) continue;
        nne_free(*dst);
        if (!(*dst = dup_field(&f))) st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    }
    if (st == NNE_OK && r.err) st = pb_err(&r);
    if (st == NNE_OK && !op_type) st = corrupt(r0, nf->off, "node without op_type");
    int node_idx = -1;
    if (st == NNE_OK) {
        int64_t ops = nne_model_opset_for(ld->m, domain ? domain : "");
        st = nne_graph_add_node(g, op_type, domain, name, ops < 0 ? 1 : ops > INT32_MAX ? INT32_MAX : (int)ops,
                                &node_idx);
    }
    nne_free(name);
    nne_free(op_type);
    nne_free(domain);
    if (st == NNE_OK) { /* kept for the writer: the node owns them now */
        g->nodes[node_idx].doc = doc;
        g->nodes[node_idx].n_meta = n_meta;
        g->nodes[node_idx].meta = meta;
    } else {
        nne_free(doc);
        nne_kv_free(n_meta, meta);
    }
    if (st != NNE_OK) return st;
    r = pb_sub(r0, nf);
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN || f.num != 5) continue;
        nne_attr *a;
        NNE_TRY(nne_node_add_attr(g, node_idx, &a));
        if ((st = parse_attr(ld, &r, &f, g, a)) != NNE_OK) {
            nne_node *n = &g->nodes[node_idx];
            nne_error_prefix("node \"%s\" (%s)", n->name, n->op_type);
            return st;
        }
    }
    nne_node *n = &g->nodes[node_idx];
    /* inputs and outputs, after attributes (subgraphs may add OUTER values) */
    r = pb_sub(r0, nf);
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN || (f.num != 1 && f.num != 2)) continue;
        char *nm = dup_field(&f);
        if (!nm) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        int idx = -1;
        if (nm[0]) {
            idx = nne_graph_find(g, nm);
            if (f.num == 1) {
                if (idx < 0 && (st = nne_graph_resolve(g, nm, &idx)) != NNE_OK) {
                    nne_free(nm);
                    return st;
                }
                if (idx < 0) idx = nne_graph_add_value(g, nm, NNE_VAL_PENDING);
            } else {
                if (idx >= 0 && g->values[idx].kind != NNE_VAL_PENDING) {
                    st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: node \"%s\" (%s): output \"%s\" is already defined",
                                   n->name, n->op_type, nm);
                    nne_free(nm);
                    return st;
                }
                if (idx < 0) idx = nne_graph_add_value(g, nm, NNE_VAL_NODE);
            }
            if (idx < 0) {
                nne_free(nm);
                return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
            }
        }
        nne_free(nm);
        if (f.num == 1) st = nne_node_add_input(g, node_idx, idx);
        else st = nne_node_add_output(g, node_idx, idx); /* idx -1: an omitted optional output */
        if (st != NNE_OK) return st;
    }
    if (r.err) return pb_err(&r);
    if (!n->op) {
        if (!ld->n_unsupported)
            snprintf(ld->unsupported, sizeof ld->unsupported, "op %s%s%s (opset %d) at node \"%s\"", n->domain,
                     n->domain[0] ? ":" : "", n->op_type, n->opset, n->name);
        ld->n_unsupported++;
    }
    return NNE_OK;
}

static nne_status parse_graph(loader *ld, const pb_reader *r0, const pb_field *gf, nne_graph *parent,
                              nne_graph **out) {
    if (++ld->depth > MAX_GRAPH_DEPTH) {
        ld->depth--;
        return corrupt(r0, gf->off, "subgraphs nested too deeply");
    }
    nne_graph *g = nne_graph_create(parent);
    nne_status st = NNE_OK;
    if (!g) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        goto fail;
    }
    pb_reader r = pb_sub(r0, gf);
    pb_field f;
    /* pass 1: name, inputs, initializers */
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN) continue;
        if (f.num == 2 && !g->name) g->name = dup_field(&f);
        if (f.num == 10) st = set_str(&g->doc, &f);
        if (f.num == 16) st = add_kv(&r, &f, &g->n_meta, &g->meta);
        if (f.num == 14) st = add_raw(&f, &g->n_raw, &g->raw);
        if (st != NNE_OK) goto fail;
        if (f.num == 15) {
            st = nne_error(NNE_ERR_UNSUPPORTED, "onnx: sparse initializers are not supported");
            goto fail;
        }
    }
    if (r.err) {
        st = pb_err(&r);
        goto fail;
    }
    r = pb_sub(r0, gf);
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN || f.num != 11) continue;
        pb_field nmf, tyf, docf;
        int has_type;
        if ((st = value_info_name(&r, &f, &nmf, &tyf, &has_type, &docf)) != NNE_OK) goto fail;
        char *nm = dup_field(&nmf);
        if (!nm) { st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory"); goto fail; }
        int idx = nne_graph_find(g, nm);
        if (idx >= 0) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: graph input \"%s\" is listed twice", nm);
            nne_free(nm);
            goto fail;
        }
        st = nne_graph_add_input(g, nm, &idx);
        nne_free(nm);
        if (st != NNE_OK) goto fail;
        if (has_type && (st = parse_type(&r, &tyf, &g->values[idx])) != NNE_OK) goto fail;
        if (docf.data && (st = set_str(&g->values[idx].doc, &docf)) != NNE_OK) goto fail;
    }
    r = pb_sub(r0, gf);
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN || f.num != 5) continue;
        nne_tensor t;
        char *nm = NULL;
        tensor_place pl;
        pb_reader tr = pb_sub(&r, &f);
        if ((st = tensor_from_reader(ld, &tr, ld->base_dir, &t, &nm, &pl)) != NNE_OK) goto fail;
        if (pl.borrowed || pl.src) t.data = NULL; /* not ours to free on the error paths below */
        if (!nm || !nm[0]) {
            nne_aligned_free(t.data);
            nne_free(nm);
            st = corrupt(&r, f.off, "initializer without a name");
            goto fail;
        }
        int idx = nne_graph_find(g, nm);
        if (idx >= 0 && g->values[idx].kind != NNE_VAL_INPUT) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: initializer \"%s\" is defined twice", nm);
            nne_aligned_free(t.data);
            nne_free(nm);
            goto fail;
        }
        st = nne_graph_add_initializer(g, nm, &t, &idx); /* takes t.data */
        nne_free(nm);
        if (st != NNE_OK) goto fail;
        if (pl.borrowed) g->values[idx].init.data = (void *)pl.in_place;
        g->values[idx].init_borrowed = pl.borrowed;
        g->values[idx].init_src = pl.src;
        g->values[idx].init_from_file = 1;
    }
    if (r.err) { st = pb_err(&r); goto fail; }
    /* pass 2: nodes */
    r = pb_sub(r0, gf);
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN || f.num != 1) continue;
        if ((st = parse_node(ld, &r, &f, g)) != NNE_OK) goto fail;
    }
    if (r.err) { st = pb_err(&r); goto fail; }
    /* outputs and value_info */
    r = pb_sub(r0, gf);
    while (pb_next(&r, &f)) {
        if (f.wire != PB_LEN || (f.num != 12 && f.num != 13)) continue;
        pb_field nmf, tyf, docf;
        int has_type;
        if ((st = value_info_name(&r, &f, &nmf, &tyf, &has_type, &docf)) != NNE_OK) goto fail;
        char *nm = dup_field(&nmf);
        if (!nm) { st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory"); goto fail; }
        int idx = nne_graph_find(g, nm);
        if (idx < 0 && f.num == 12 && (st = nne_graph_resolve(g, nm, &idx)) != NNE_OK) {
            nne_free(nm);
            goto fail;
        }
        if (idx < 0 && f.num == 12) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: graph output \"%s\" is not produced by any node", nm);
            nne_free(nm);
            goto fail;
        }
        nne_free(nm);
        if (idx < 0) continue; /* value_info for an unknown value: ignore */
        nne_value *v = &g->values[idx];
        if (f.num == 13 && v->kind != NNE_VAL_INPUT && v->kind != NNE_VAL_OUTER) v->in_value_info = 1;
        if (docf.data && !v->doc && (st = set_str(&v->doc, &docf)) != NNE_OK) goto fail;
        if (has_type && v->kind != NNE_VAL_INPUT) {
            /* keep the first declaration; inputs were typed already */
            if (v->ndim < 0 && (st = parse_type(&r, &tyf, v)) != NNE_OK) goto fail;
        }
        if (f.num == 12 && (st = nne_graph_add_output(g, idx)) != NNE_OK) goto fail;
    }
    if (r.err) { st = pb_err(&r); goto fail; }
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].kind == NNE_VAL_PENDING) {
            /* maybe defined in an enclosing graph after all */
            st = nne_error(NNE_ERR_CORRUPT_MODEL,
                           "onnx: value \"%s\" is used but not produced by any node, initializer or input",
                           g->values[i].name);
            goto fail;
        }
    for (int i = 0; i < g->n_values; i++) {
        /* an initializer's data is the truth; a file declaring another type
         * for it contradicts itself (ONNX Runtime refuses such files too) */
        const nne_value *v = &g->values[i];
        if (v->kind == NNE_VAL_CONST && ((v->dtype != NNE_DTYPE_UNDEFINED && v->dtype != v->init.dtype) ||
                                         (v->ndim >= 0 && v->ndim != v->init.ndim))) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL,
                           "onnx: initializer \"%s\" holds %s of rank %d but is declared %s of rank %d", v->name,
                           nne_dtype_name(v->init.dtype), v->init.ndim, nne_dtype_name(v->dtype), v->ndim);
            goto fail;
        }
    }
    if ((st = nne_graph_topo_sort(g)) != NNE_OK) {
        nne_error_prefix("onnx");
        goto fail;
    }
    ld->depth--;
    *out = g;
    return NNE_OK;
fail:
    ld->depth--;
    nne_graph_destroy(g);
    return st;
}

/* --------------------------------------------------------------- model -- */

void nne_model_destroy(nne_model *m) {
    if (!m) return;
    nne_model_wcache_free(m);
    nne_graph_destroy(m->graph);
    for (int i = 0; i < m->n_opsets; i++) nne_free(m->opsets[i].domain);
    nne_free(m->opsets);
    nne_free(m->feed);
    nne_free(m->producer);
    nne_free(m->producer_version);
    nne_free(m->domain);
    nne_free(m->doc);
    nne_kv_free(m->n_meta, m->meta);
    nne_raw_free(m->n_raw, m->raw);
    /* the graph's weights may point into these: unmap last */
    for (int i = 0; i < m->n_maps; i++) {
        nne_file_unmap(m->maps[i].addr, m->maps[i].size);
        nne_free(m->maps[i].name);
    }
    nne_free(m->maps);
    void (*release)(void *) = m->release;
    void *release_user = m->release_user;
    nne_budget *b = m->budget;
    nne_free(m); /* charged to b too: b goes last */
    nne_free(b);
    /* the caller's regions (nne_model_load_regions): nothing points into them now */
    if (release) release(release_user);
}

/* Where the bytes come from: `map` (may be NULL) is the mapping the buffer
 * lies in (the model takes it over on success, and then weights may point
 * into it); `regions` (nne_model_load_regions) are caller-lent memory the
 * buffer and the external data lie in, used in place. */
typedef struct load_src {
    nne_mapping *map;
    const nne_region *regions;
    int32_t n_regions;
} load_src;

static nne_status load_memory(const void *data, size_t size, const char *base_dir, const nne_model_options *opt,
                              const load_src *src, nne_model **out);

/* Loading runs under a budget of its own, kept by the model: it measures the
 * model's memory (nne_model_memory_bytes) and enforces max_memory_bytes.
 * (Mapped model and external data files are not allocations: not counted.) */
static nne_status load_budgeted(const void *data, size_t size, const char *base_dir, const nne_model_options *opt,
                                const load_src *src, nne_model **out) {
    *out = NULL;
    /* the caller's options, of whatever size it was built with (abi.c) */
    nne_model_options o = nne_model_options_default();
    nne_status ost = nne_options_read(&o, sizeof o, opt, "nne_model_options");
    if (ost != NNE_OK) return ost;
    nne_budget *b = nne_calloc(1, sizeof *b);
    if (!b) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    b->limit = o.max_memory_bytes != SIZE_MAX ? o.max_memory_bytes : 0;
    nne_budget *prev = nne_budget_enter(b);
    nne_status st = load_memory(data, size, base_dir, &o, src, out);
    nne_budget_leave(prev);
    if (st != NNE_OK) {
        if (b->refused) {
            nne_error_prefix("memory limit of %zu bytes for the model reached (%zu bytes in use, %zu more requested; "
                             "the model option max_memory_bytes, nnedge --max-memory)",
                             b->limit, b->refused_used, b->refused_bytes);
            st = NNE_ERR_OUT_OF_MEMORY;
        }
        nne_free(b);
        return st;
    }
    (*out)->budget = b;
    return NNE_OK;
}

size_t nne_model_memory_bytes(const nne_model *m) { return m && m->budget ? nne_budget_used(m->budget) : 0; }

static nne_status load_memory(const void *data, size_t size, const char *base_dir, const nne_model_options *opt,
                              const load_src *src, nne_model **out) {
    nne_mapping *map = src ? src->map : NULL;
    nne_model *m = nne_model_new();
    if (!m) return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    t_load_oom = 0;
    if (map) {
        m->maps = nne_malloc(sizeof *m->maps);
        if (!m->maps) {
            nne_free(m);
            return nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        }
        m->maps[0] = *map;
        m->n_maps = 1;
    }
    if (nne_tflite_detect(data, size)) {
        /* a TFLite FlatBuffer: its own importer fills the model (tflite_load.c) */
        nne_status ts = nne_tflite_import(m, data, size, opt->allow_unsupported);
        if (ts == NNE_OK && t_load_oom) ts = nne_error(NNE_ERR_OUT_OF_MEMORY, "tflite: out of memory");
        if (ts == NNE_OK && nne_validate_enabled()) ts = nne_graph_validate(m->graph);
        if (ts != NNE_OK) {
            if (map) m->maps[0].addr = NULL;
            nne_model_destroy(m);
            return ts;
        }
        if (map) {
            /* the importer copied every weight: the file's mapping is not needed */
            nne_file_unmap(m->maps[0].addr, m->maps[0].size);
            m->n_maps = 0;
        }
        *out = m;
        return NNE_OK;
    }
    loader ld = {.base = data, .base_dir = base_dir, .m = m, .borrow = map != NULL || (src && src->regions),
                 .regions = src ? src->regions : NULL, .n_regions = src ? src->n_regions : 0};
    pb_reader r;
    pb_init(&r, data, size);
    pb_field f, graph_f;
    int has_graph = 0, n_ops = 0;
    nne_status st = NNE_OK;
    while (pb_next(&r, &f)) {
        if (f.num == 1 && f.wire == PB_VARINT) m->ir_version = (int64_t)f.v;
        else if (f.num == 7 && f.wire == PB_LEN) graph_f = f, has_graph = 1;
        else if (f.num == 8 && f.wire == PB_LEN) n_ops++;
        else if (f.num == 2 && f.wire == PB_LEN) st = set_str(&m->producer, &f);
        else if (f.num == 3 && f.wire == PB_LEN) st = set_str(&m->producer_version, &f);
        else if (f.num == 4 && f.wire == PB_LEN) st = set_str(&m->domain, &f);
        else if (f.num == 5 && f.wire == PB_VARINT) m->model_version = (int64_t)f.v;
        else if (f.num == 6 && f.wire == PB_LEN) st = set_str(&m->doc, &f);
        else if (f.num == 14 && f.wire == PB_LEN) st = add_kv(&r, &f, &m->n_meta, &m->meta);
        else if ((f.num == 20 || f.num == 25 || f.num == 26) && f.wire == PB_LEN) st = add_raw(&f, &m->n_raw, &m->raw);
        if (st != NNE_OK) goto fail;
    }
    if (r.err) {
        st = pb_err(&r);
        goto fail;
    }
    if (!has_graph) {
        st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: not an ONNX model: no graph found in %zu bytes", size);
        goto fail;
    }
    if (m->ir_version < 1 || m->ir_version > 13) {
        st = nne_error(m->ir_version > 13 ? NNE_ERR_UNSUPPORTED : NNE_ERR_CORRUPT_MODEL,
                       "onnx: IR version %lld is not supported (nnedge reads 1-13)", (long long)m->ir_version);
        goto fail;
    }
    m->opsets = nne_calloc((size_t)n_ops + 1, sizeof *m->opsets);
    if (!m->opsets) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        goto fail;
    }
    pb_init(&r, data, size);
    while (pb_next(&r, &f)) {
        if (f.num != 8 || f.wire != PB_LEN) continue;
        pb_reader s = pb_sub(&r, &f);
        pb_field e;
        nne_opset_id *o = &m->opsets[m->n_opsets++];
        while (pb_next(&s, &e)) {
            if (e.num == 1 && e.wire == PB_LEN && !o->domain) o->domain = dup_field(&e);
            if (e.num == 2 && e.wire == PB_VARINT) o->version = (int64_t)e.v;
        }
        if (s.err) {
            st = pb_err(&s);
            goto fail;
        }
        if (!o->domain) o->domain = nne_strdup("");
        if (!o->domain) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
            goto fail;
        }
    }
    int64_t main_opset = nne_model_opset_for(m, "");
    for (int i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain;
        if ((!d[0] || !strcmp(d, "ai.onnx")) && m->opsets[i].version < 1) {
            /* ops have no version 0: nothing could be chosen for its nodes */
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: opset import of ai.onnx has version %lld, expected 1-28",
                           (long long)m->opsets[i].version);
            goto fail;
        }
    }
    if (main_opset > 28) {
        st = nne_error(NNE_ERR_UNSUPPORTED, "onnx: opset %lld is newer than nnedge supports (1-28)",
                       (long long)main_opset);
        goto fail;
    }
    if ((st = parse_graph(&ld, &r, &graph_f, NULL, &m->graph)) != NNE_OK) goto fail;
    if (ld.n_unsupported && !opt->allow_unsupported) {
        if (ld.n_unsupported > 1)
            st = nne_error(NNE_ERR_UNSUPPORTED, "onnx: unsupported %s (and %d more unsupported nodes)", ld.unsupported,
                           ld.n_unsupported - 1);
        else
            st = nne_error(NNE_ERR_UNSUPPORTED, "onnx: unsupported %s", ld.unsupported);
        goto fail;
    }
    nne_graph *g = m->graph;
    if (g->n_outputs == 0) {
        st = nne_error(NNE_ERR_CORRUPT_MODEL, "onnx: the graph declares no outputs; a model must have at least one");
        goto fail;
    }
    m->feed = nne_calloc((size_t)g->n_inputs + 1, sizeof(int));
    if (!m->feed) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
        goto fail;
    }
    for (int i = 0; i < g->n_inputs; i++)
        if (g->values[g->inputs[i]].kind == NNE_VAL_INPUT) m->feed[m->n_feed++] = g->inputs[i];
    if (t_load_oom) {
        st = NNE_ERR_OUT_OF_MEMORY;
        goto fail;
    }
    /* debug builds check the builder's invariants on every loaded graph */
    if (nne_validate_enabled() && (st = nne_graph_validate(g)) != NNE_OK) goto fail;
    *out = m;
    return NNE_OK;
fail:
    if (t_load_oom) st = nne_error(NNE_ERR_OUT_OF_MEMORY, "onnx: out of memory");
    if (map) m->maps[0].addr = NULL; /* the caller still owns the model file's mapping */
    nne_model_destroy(m);
    return st;
}

nne_status nne_model_load_memory(const void *data, size_t size, const char *base_dir,
                                 const nne_model_options *opt, nne_model **out) {
    if (!out || (!data && size)) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_load_memory: NULL argument");
    return load_budgeted(data ? data : "", size, base_dir, opt, NULL, out);
}

nne_status nne_model_load_file(const char *path, const nne_model_options *opt, nne_model **out) {
    if (!path || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_load_file: NULL argument");
    *out = NULL;
    int fd;
    uint64_t size;
    NNE_TRY(nne_file_open(path, "model", &fd, &size));
    /* Map the file and keep the mapping for the model's lifetime: aligned
     * weights are used where they lie, so a large model is neither read nor
     * held twice (pages come from the page cache, shared and clean). */
    nne_mapping map = {0};
    nne_status rc = nne_file_map(fd, size, path, &map.addr);
    close(fd);
    if (rc != NNE_OK) return rc;
    map.size = size;
    /* base dir = dirname(path) */
    char *dir = nne_strdup(path);
    if (!dir) {
        nne_file_unmap(map.addr, map.size);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else strcpy(dir, ".");
    if (!dir[0]) strcpy(dir, "/");
    load_src src = {.map = &map};
    rc = load_budgeted(map.addr, (size_t)size, dir, opt, &src, out);
    if (rc != NNE_OK) {
        nne_error_prefix("%s", path);
        nne_file_unmap(map.addr, map.size);
    }
    nne_free(dir);
    return rc;
}

nne_status nne_model_load_regions(const void *data, size_t size, int32_t n_regions, const nne_region *regions,
                                  void (*release)(void *user), void *release_user, const nne_model_options *opt,
                                  nne_model **out) {
    if (!out || !data || n_regions < 0 || (n_regions && !regions))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_load_regions: NULL argument");
    *out = NULL;
    for (int32_t i = 0; i < n_regions; i++)
        if (!regions[i].name || (!regions[i].data && regions[i].size))
            return nne_error(NNE_ERR_INVALID_ARG, "nne_model_load_regions: region %d has no name or no data", i);
    /* a non-NULL array even for no regions: external data then fails instead of reading files */
    static const nne_region none = {0};
    load_src src = {.regions = n_regions ? regions : &none, .n_regions = n_regions};
    nne_status st = load_budgeted(data, size, NULL, opt, &src, out);
    if (st != NNE_OK) return st;
    (*out)->release = release;
    (*out)->release_user = release_user;
    return NNE_OK;
}

int32_t nne_model_num_inputs(const nne_model *m) { return m ? m->n_feed : 0; }
int32_t nne_model_num_outputs(const nne_model *m) { return m ? m->graph->n_outputs : 0; }

static void fill_info(const nne_value *v, nne_value_info *out) {
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->dtype = v->kind == NNE_VAL_CONST ? v->init.dtype : v->dtype;
    out->ndim = v->kind == NNE_VAL_CONST ? v->init.ndim : v->ndim;
    for (int d = 0; d < out->ndim && d < NNE_MAX_DIMS; d++) {
        out->dims[d] = v->kind == NNE_VAL_CONST ? v->init.dims[d] : v->dims[d];
        out->dim_names[d] = v->kind == NNE_VAL_CONST ? NULL : v->dim_names[d];
    }
}

nne_status nne_model_input_info(const nne_model *m, int32_t i, nne_value_info *out) {
    if (!m || !out || i < 0 || i >= m->n_feed)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_input_info: index %d out of range", (int)i);
    fill_info(&m->graph->values[m->feed[i]], out);
    return NNE_OK;
}

nne_status nne_model_output_info(const nne_model *m, int32_t i, nne_value_info *out) {
    if (!m || !out || i < 0 || i >= m->graph->n_outputs)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_output_info: index %d out of range", (int)i);
    fill_info(&m->graph->values[m->graph->outputs[i]], out);
    return NNE_OK;
}

nne_status nne_model_set_input_shape(nne_model *m, const char *name, int32_t ndim, const int64_t *dims) {
    if (!m || !name || (ndim && !dims) || ndim < 0 || ndim > NNE_MAX_DIMS)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_set_input_shape: bad argument");
    if (__atomic_load_n(&m->shared, __ATOMIC_ACQUIRE)) /* frozen once a session was made on it */
        return nne_error(NNE_ERR_INVALID_ARG,
                         "nne_model_set_input_shape: sessions were created on this model; change shapes before");
    nne_value *v = NULL;
    for (int i = 0; i < m->n_feed; i++)
        if (strcmp(m->graph->values[m->feed[i]].name, name) == 0) v = &m->graph->values[m->feed[i]];
    if (!v) return nne_error(NNE_ERR_INVALID_ARG, "the model has no input named \"%s\"", name);
    if (v->ndim >= 0 && v->ndim != ndim)
        return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\" has rank %d, got %d dims", name, (int)v->ndim, (int)ndim);
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 0) return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": dim %d is negative", name, d);
        if (v->ndim >= 0 && v->dims[d] >= 0 && v->dims[d] != dims[d])
            return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": dim %d is fixed to %lld in the model, got %lld", name,
                             d, (long long)v->dims[d], (long long)dims[d]);
    }
    for (int d = 0; d < ndim; d++) {
        v->dims[d] = dims[d];
        nne_free(v->dim_names[d]);
        v->dim_names[d] = NULL;
    }
    v->ndim = ndim;
    return NNE_OK;
}
