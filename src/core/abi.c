/*
 * abi.c - what keeps the public API stable across library versions:
 * nne_version() and the reading of growable option structs.
 *
 * An option struct starts with struct_size, the sizeof the caller compiled
 * with (nnedge.h, "Option structs"). nne_options_read() starts from the
 * library's defaults and copies only the caller's bytes, so a caller built
 * against an older header (smaller struct) gets defaults for the fields it
 * does not know, and a caller built against a newer header (larger struct)
 * is accepted when every byte this library does not know is zero, i.e. the
 * newer options were left at their defaults. This is the rule Linux uses for
 * its extensible syscall structs (copy_struct_from_user: openat2, clone3).
 */
#include "core/core.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define NNE_STR_(x) #x
#define NNE_STR(x) NNE_STR_(x)

const char *nne_version(void) {
    return NNE_STR(NNE_VERSION_MAJOR) "." NNE_STR(NNE_VERSION_MINOR) "." NNE_STR(NNE_VERSION_PATCH);
}

int32_t nne_version_number(void) { return NNE_VERSION_NUMBER; }

/* A caller's struct_size covers a field only when it covers the field's last
 * byte. If a struct ended in padding, an old caller's struct_size would cover
 * that padding, and a field added there later would be read from the old
 * caller's uninitialized bytes. So every option struct must end exactly at
 * the end of its last field. When you add a field: name it here; if the
 * assert fails, add an explicit padding member before the new field. */
#define NNE_END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
static_assert(sizeof(nne_model_options) == NNE_END_OF(nne_model_options, max_memory_bytes),
              "nne_model_options: name its last field here; the struct must not end in padding");
static_assert(sizeof(nne_session_options) == NNE_END_OF(nne_session_options, cancel_user),
              "nne_session_options: name its last field here; the struct must not end in padding");
static_assert(sizeof(nne_save_options) == NNE_END_OF(nne_save_options, external_align),
              "nne_save_options: name its last field here; the struct must not end in padding");
static_assert(sizeof(nne_train_options) == NNE_END_OF(nne_train_options, output),
              "nne_train_options: name its last field here; the struct must not end in padding");
static_assert(sizeof(nne_prune_options) == NNE_END_OF(nne_prune_options, structured),
              "nne_prune_options: name its last field here; the struct must not end in padding");
static_assert(sizeof(nne_context_options) == NNE_END_OF(nne_context_options, memory_limit_bytes),
              "nne_context_options: name its last field here; the struct must not end in padding");
static_assert(sizeof(nne_quant_options) == NNE_END_OF(nne_quant_options, keep_float),
              "nne_quant_options: name its last field here; the struct must not end in padding");

nne_status nne_options_read(void *dst, size_t dst_size, const void *src, const char *what) {
    if (!src) return NNE_OK; /* NULL: all defaults, already in dst */
    uint32_t size;
    memcpy(&size, src, sizeof size);
    if (size < sizeof(uint32_t))
        return nne_error(NNE_ERR_INVALID_ARG,
                         "%s: struct_size is %u; start from %s_default(), which sets it", what, (unsigned)size, what);
    if (size > dst_size) {
        /* a newer header: the options this library does not know must be unset */
        const unsigned char *extra = (const unsigned char *)src + dst_size;
        for (size_t i = 0; i < size - dst_size; i++)
            if (extra[i])
                return nne_error(NNE_ERR_UNSUPPORTED,
                                 "%s: the caller's struct (%u bytes) sets an option at byte %zu, past the %zu "
                                 "bytes this library (nnedge %s) knows; it needs a newer libnnedge",
                                 what, (unsigned)size, dst_size + i, dst_size, nne_version());
        size = (uint32_t)dst_size;
    }
    /* copy the caller's fields over the defaults, then record our own size */
    memcpy(dst, src, size);
    memcpy(dst, &(uint32_t){(uint32_t)dst_size}, sizeof(uint32_t));
    return NNE_OK;
}
