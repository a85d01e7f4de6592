/*
 * file.h - opening untrusted files safely: regular files only, never a
 * blocking open (FIFO), never a path that escapes a directory through "..",
 * an absolute name or a symlink. Used by the ONNX loader (model file and
 * external data) and the .npy reader.
 */
#ifndef NNE_CORE_FILE_H
#define NNE_CORE_FILE_H

#include "nnedge.h"
#include <stddef.h>
#include <stdint.h>

/* Open `path` read-only with O_NONBLOCK|O_CLOEXEC (a FIFO cannot block the
 * open), fstat it and refuse anything but a regular file. `what` names the
 * file in messages ("model", ".npy file"). On success *fd is open (close it)
 * and *size is the file size in bytes. Errors: NNE_ERR_IO. */
nne_status nne_file_open(const char *path, const char *what, int *fd, uint64_t *size);

/* Open `rel`, a relative path, beneath directory `dir`: no absolute path, no
 * "..", no symlink (file or directory) that resolves outside `dir`, no magic
 * /proc links. Uses openat2(RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS) where the
 * kernel has it; otherwise opens and checks the real path of the opened fd
 * against the real path of `dir`. Regular files only, as nne_file_open.
 * Errors: NNE_ERR_CORRUPT_MODEL for a path that leaves `dir` (the file
 * names it), NNE_ERR_IO otherwise. */
nne_status nne_file_open_beneath(const char *dir, const char *rel, const char *what, int *fd, uint64_t *size);

/* Map `size` bytes of an open regular file read-only (MAP_PRIVATE); size 0
 * gives a non-NULL pointer to an empty buffer that must not be unmapped
 * (nne_file_unmap handles it). */
nne_status nne_file_map(int fd, uint64_t size, const char *path, void **addr);
void nne_file_unmap(void *addr, uint64_t size);

/* Read a whole regular file into *buf (nne_malloc'd; free with nne_free). */
nne_status nne_file_read_all(const char *path, const char *what, void **buf, size_t *size);

#endif
