/* Unit tests of the .npy reader/writer: round trip, truncation, bad headers. */
#include "nnedge.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t mk(uint8_t *buf, const char *hdr, const void *data, size_t n) {
    size_t hl = strlen(hdr);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)hl;
    buf[9] = 0;
    memcpy(buf + 10, hdr, hl);
    memcpy(buf + 10 + hl, data, n);
    return 10 + hl + n;
}

void unit_npy(void) {
    uint8_t buf[512];
    float vals[6] = {1, 2, 3, 4, 5, 6};
    nne_tensor t;
    size_t n = mk(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", vals, sizeof vals);
    CHECK(nne_npy_read_memory(buf, n, &t) == NNE_OK && t.ndim == 2 && t.dims[0] == 2 && t.dims[1] == 3 &&
          t.dtype == NNE_DTYPE_FLOAT && ((float *)t.data)[5] == 6);
    nne_tensor_free_data(&t);
    CHECK(nne_npy_read_memory(buf, n - 1, &t) == NNE_ERR_INVALID_ARG); /* truncated data */
    CHECK(strstr(nne_last_error(), "truncated") != NULL);
    CHECK(nne_npy_read_memory(buf, 9, &t) != NNE_OK);
    n = mk(buf, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", vals, sizeof vals);
    CHECK(nne_npy_read_memory(buf, n, &t) == NNE_ERR_UNSUPPORTED);
    n = mk(buf, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", vals, 8);
    CHECK(nne_npy_read_memory(buf, n, &t) == NNE_ERR_UNSUPPORTED);
    n = mk(buf, "{'descr': '<i8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }\n", vals, 8);
    CHECK(nne_npy_read_memory(buf, n, &t) != NNE_OK);
    n = mk(buf, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }\n", vals, 1);
    CHECK(nne_npy_read_memory(buf, n, &t) == NNE_OK && t.ndim == 0 && t.dtype == NNE_DTYPE_UINT8);
    nne_tensor_free_data(&t);
    n = mk(buf, "{'descr': '|b1', 'fortran_order': False, 'shape': (0, 4), }\n", vals, 0);
    CHECK(nne_npy_read_memory(buf, n, &t) == NNE_OK && t.dims[0] == 0 && t.dtype == NNE_DTYPE_BOOL);
    nne_tensor_free_data(&t);
    /* round trip through a file, every dtype */
    const nne_dtype dts[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16, NNE_DTYPE_INT8,
                             NNE_DTYPE_UINT8, NNE_DTYPE_INT16, NNE_DTYPE_UINT16, NNE_DTYPE_INT32,
                             NNE_DTYPE_UINT32, NNE_DTYPE_INT64, NNE_DTYPE_UINT64, NNE_DTYPE_BOOL};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        uint8_t data[64];
        for (int i = 0; i < 64; i++) data[i] = (uint8_t)(dts[k] == NNE_DTYPE_BOOL ? i & 1 : i * 7);
        nne_tensor w = {.dtype = dts[k], .ndim = 3, .dims = {2, 1, 3}, .data = data};
        char path[] = "/tmp/nne_unit_npy_XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) close(fd);
        CHECK(nne_npy_write_file(path, &w) == NNE_OK);
        nne_tensor r;
        CHECK(nne_npy_read_file(path, &r) == NNE_OK && r.dtype == w.dtype && r.ndim == 3 && r.dims[2] == 3 &&
              memcmp(r.data, data, nne_tensor_nbytes(&w)) == 0);
        nne_tensor_free_data(&r);
        unlink(path);
    }
    CHECK(nne_npy_read_file("/nonexistent/x.npy", &t) == NNE_ERR_IO);
    /* half conversions */
    CHECK(nne_f16_to_f32(nne_f32_to_f16(1.5f)) == 1.5f);
    CHECK(nne_f16_to_f32(nne_f32_to_f16(65504.f)) == 65504.f);
    CHECK(nne_f16_to_f32(0x0001) > 5.9e-8f && nne_f16_to_f32(0x0001) < 6.0e-8f);
    CHECK(nne_f32_to_f16(6.0e-8f) == 0x0001);
    CHECK(nne_f32_to_f16(1e6f) == 0x7c00);
    CHECK(nne_bf16_to_f32(nne_f32_to_bf16(3.0f)) == 3.0f);
}
