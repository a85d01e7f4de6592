/*
 * npy.c - NumPy .npy files (format versions 1.0, 2.0, 3.0): little-endian,
 * C-order arrays of f4 f8 f2 i1 u1 i2 u2 i4 u4 i8 u8 and bool.
 * The header is a Python dict literal; we parse exactly the three keys numpy
 * writes ('descr', 'fortran_order', 'shape') and check the data size against
 * the file before allocating.
 */
#include "core/core.h"
#include "core/file.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *code;
    nne_dtype dt;
} k_descr[] = {
    {"f4", NNE_DTYPE_FLOAT}, {"f8", NNE_DTYPE_DOUBLE}, {"f2", NNE_DTYPE_FLOAT16}, {"i1", NNE_DTYPE_INT8},
    {"u1", NNE_DTYPE_UINT8}, {"i2", NNE_DTYPE_INT16},  {"u2", NNE_DTYPE_UINT16},  {"i4", NNE_DTYPE_INT32},
    {"u4", NNE_DTYPE_UINT32}, {"i8", NNE_DTYPE_INT64}, {"u8", NNE_DTYPE_UINT64},  {"b1", NNE_DTYPE_BOOL},
};

static const char *skip_ws(const char *p, const char *e) {
    while (p < e && isspace((unsigned char)*p)) p++;
    return p;
}

/* Find the value that follows key 'name': in the header dict. */
static const char *find_key(const char *h, const char *e, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = h; p + nl + 2 <= e; p++) {
        if ((*p == '\'' || *p == '"') && (size_t)(e - p) > nl + 1 && memcmp(p + 1, name, nl) == 0 && p[nl + 1] == *p) {
            const char *q = skip_ws(p + nl + 2, e);
            if (q < e && *q == ':') return skip_ws(q + 1, e);
        }
    }
    return NULL;
}

nne_status nne_npy_read_memory(const void *buf, size_t size, nne_tensor *out) {
    const uint8_t *b = buf;
    memset(out, 0, sizeof *out);
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return nne_error(NNE_ERR_INVALID_ARG, "npy: not a .npy file (bad magic at offset 0)");
    int major = b[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)b[8] | ((size_t)b[9] << 8);
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return nne_error(NNE_ERR_INVALID_ARG, "npy: truncated header");
        hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
        hoff = 12;
    } else {
        return nne_error(NNE_ERR_UNSUPPORTED, "npy: format version %d.%d is not supported (1.0-3.0)", major, b[7]);
    }
    if (hlen > size - hoff) return nne_error(NNE_ERR_INVALID_ARG, "npy: truncated header (%zu bytes declared)", hlen);
    const char *h = (const char *)b + hoff, *e = h + hlen;
    /* descr */
    const char *d = find_key(h, e, "descr");
    if (!d || d >= e || (*d != '\'' && *d != '"')) return nne_error(NNE_ERR_INVALID_ARG, "npy: header has no 'descr'");
    char q = *d++;
    const char *dend = memchr(d, q, (size_t)(e - d));
    if (!dend) return nne_error(NNE_ERR_INVALID_ARG, "npy: malformed 'descr'");
    size_t dl = (size_t)(dend - d);
    char code[16];
    if (dl < 2 || dl > 3) return nne_error(NNE_ERR_UNSUPPORTED, "npy: dtype '%.*s' is not supported", (int)(dl > 16 ? 16 : dl), d);
    const char *c = d;
    if (dl == 3) {
        if (*c == '>' && !(c[1] == 'i' || c[1] == 'u' || c[1] == 'b') )
            return nne_error(NNE_ERR_UNSUPPORTED, "npy: big-endian data ('%.3s') is not supported", d);
        if (*c == '>' && c[2] != '1')
            return nne_error(NNE_ERR_UNSUPPORTED, "npy: big-endian data ('%.3s') is not supported", d);
        if (*c != '<' && *c != '|' && *c != '=' && *c != '>')
            return nne_error(NNE_ERR_UNSUPPORTED, "npy: dtype '%.3s' is not supported", d);
        c++;
    }
    memcpy(code, c, 2);
    code[2] = 0;
    if (strcmp(code, "?1") == 0 || (code[0] == '?' && dl == 2)) strcpy(code, "b1");
    if (dl == 3 && c[0] == '?') strcpy(code, "b1");
    nne_dtype dt = NNE_DTYPE_UNDEFINED;
    for (size_t i = 0; i < NNE_ARRAY_LEN(k_descr); i++)
        if (strcmp(k_descr[i].code, code) == 0) dt = k_descr[i].dt;
    if (dt == NNE_DTYPE_UNDEFINED) return nne_error(NNE_ERR_UNSUPPORTED, "npy: dtype '%.*s' is not supported", (int)dl, d);
    /* fortran_order */
    const char *fo = find_key(h, e, "fortran_order");
    if (!fo) return nne_error(NNE_ERR_INVALID_ARG, "npy: header has no 'fortran_order'");
    if ((size_t)(e - fo) >= 4 && memcmp(fo, "True", 4) == 0)
        return nne_error(NNE_ERR_UNSUPPORTED, "npy: Fortran-order arrays are not supported; save with C order");
    if ((size_t)(e - fo) < 5 || memcmp(fo, "False", 5) != 0)
        return nne_error(NNE_ERR_INVALID_ARG, "npy: malformed 'fortran_order'");
    /* shape */
    const char *sp = find_key(h, e, "shape");
    if (!sp || sp >= e || *sp != '(') return nne_error(NNE_ERR_INVALID_ARG, "npy: header has no 'shape' tuple");
    sp++;
    int nd = 0;
    for (;;) {
        sp = skip_ws(sp, e);
        if (sp >= e) return nne_error(NNE_ERR_INVALID_ARG, "npy: unterminated 'shape'");
        if (*sp == ')') break;
        if (!isdigit((unsigned char)*sp)) return nne_error(NNE_ERR_INVALID_ARG, "npy: malformed 'shape'");
        int64_t v = 0;
        while (sp < e && isdigit((unsigned char)*sp)) {
            if (v > (INT64_MAX - 9) / 10) return nne_error(NNE_ERR_INVALID_ARG, "npy: dimension too large");
            v = v * 10 + (*sp++ - '0');
        }
        if (nd >= NNE_MAX_DIMS) return nne_error(NNE_ERR_UNSUPPORTED, "npy: more than %d dims", NNE_MAX_DIMS);
        out->dims[nd++] = v;
        sp = skip_ws(sp, e);
        if (sp < e && *sp == ',') sp++;
    }
    out->ndim = nd;
    out->dtype = dt;
    size_t nbytes;
    if (nne_shape_check("npy", dt, nd, out->dims, &nbytes) != NNE_OK) return NNE_ERR_INVALID_ARG;
    size_t avail = size - hoff - hlen;
    if (avail < nbytes)
        return nne_error(NNE_ERR_INVALID_ARG, "npy: truncated data: %zu bytes present, %zu expected for the shape",
                         avail, nbytes);
    out->data = nne_aligned_alloc(nbytes ? nbytes : 1);
    if (!out->data) return nne_error(NNE_ERR_OUT_OF_MEMORY, "npy: cannot allocate %zu bytes", nbytes);
    memcpy(out->data, b + hoff + hlen, nbytes);
    if (dt == NNE_DTYPE_BOOL)
        for (size_t i = 0; i < nbytes; i++) ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
    return NNE_OK;
}

nne_status nne_npy_read_file(const char *path, nne_tensor *out) {
    memset(out, 0, sizeof *out);
    /* nne_file_read_all refuses FIFOs, devices and directories (no blocking open) */
    void *buf;
    size_t sz;
    nne_status st = nne_file_read_all(path, ".npy file", &buf, &sz);
    if (st != NNE_OK) return st;
    st = nne_npy_read_memory(buf, sz, out);
    nne_free(buf);
    if (st != NNE_OK) nne_error_prefix("%s", path);
    return st;
}

static const char *descr_of(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: return "<f4";
    case NNE_DTYPE_DOUBLE: return "<f8";
    case NNE_DTYPE_FLOAT16: return "<f2";
    case NNE_DTYPE_INT8: return "|i1";
    case NNE_DTYPE_UINT8: return "|u1";
    case NNE_DTYPE_INT16: return "<i2";
    case NNE_DTYPE_UINT16: return "<u2";
    case NNE_DTYPE_INT32: return "<i4";
    case NNE_DTYPE_UINT32: return "<u4";
    case NNE_DTYPE_INT64: return "<i8";
    case NNE_DTYPE_UINT64: return "<u8";
    case NNE_DTYPE_BOOL: return "|b1";
    default: return NULL;
    }
}

nne_status nne_npy_write_file(const char *path, const nne_tensor *t) {
    const char *descr = descr_of(t->dtype);
    if (!descr) return nne_error(NNE_ERR_UNSUPPORTED, "npy: cannot write dtype %s", nne_dtype_name(t->dtype));
    size_t nb;
    if (nne_shape_check("npy", t->dtype, t->ndim, t->dims, &nb) != NNE_OK) return NNE_ERR_INVALID_ARG;
    if (nb && !t->data) return nne_error(NNE_ERR_INVALID_ARG, "npy: tensor to write has no data");
    char hdr[1024];
    int off = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->ndim; i++)
        off += snprintf(hdr + off, sizeof hdr - (size_t)off, "%lld,%s", (long long)t->dims[i],
                        i + 1 < t->ndim ? " " : "");
    off += snprintf(hdr + off, sizeof hdr - (size_t)off, "), }");
    /* pad with spaces so that magic + len + header + '\n' is a multiple of 64 */
    int total = 10 + off + 1;
    int pad = (64 - total % 64) % 64;
    if (off + pad + 1 >= (int)sizeof hdr) return nne_error(NNE_ERR_INTERNAL, "npy: header too long");
    memset(hdr + off, ' ', (size_t)pad);
    off += pad;
    hdr[off++] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f) return nne_error(NNE_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(off & 0xff), (uint8_t)(off >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)off, f) == (size_t)off &&
             (nb == 0 || fwrite(t->data, 1, nb, f) == nb);
    ok = (fclose(f) == 0) && ok;
    if (!ok) return nne_error(NNE_ERR_IO, "write error on %s", path);
    return NNE_OK;
}
