/*
 * file.c - safe opening of files named by users or by model files.
 *
 * Every file nnedge reads is opened with O_NONBLOCK (opening a FIFO for
 * reading would otherwise wait for a writer forever) and O_CLOEXEC, then
 * fstat'ed: only regular files are read (a FIFO, /dev/zero or a directory is
 * refused with a message instead of a hang or an endless read).
 *
 * External data named by a model is untrusted: its location must stay inside
 * the model's directory. A textual check of ".." is not enough, because a
 * symlink inside the directory (a file `link.bin -> /etc/passwd`, or a
 * directory `etc -> /etc`) leads out of it. With openat2() the kernel does the
 * resolution under RESOLVE_BENEATH; where openat2 is missing (Linux < 5.6, or
 * a seccomp filter returning ENOSYS/EPERM) the opened fd's real path
 * (/proc/self/fd) is compared with the directory's real path instead.
 */
#include "core/file.h"
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
/* -DNNE_NO_OPENAT2 builds the fallback alone (to test it) */
#if defined(__linux__) && __has_include(<linux/openat2.h>) && !defined(NNE_NO_OPENAT2)
#include <linux/openat2.h>
#define NNE_HAVE_OPENAT2 1
#endif

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* fstat fd and accept only a regular file; closes fd on failure. */
static nne_status check_regular(int fd, const char *path, const char *what, uint64_t *size) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return nne_error(NNE_ERR_IO, "cannot stat %s %s: %s", what, path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return nne_error(NNE_ERR_IO, "%s %s is %s, not a regular file", what, path, kind_of(st.st_mode));
    }
    if (st.st_size < 0) {
        close(fd);
        return nne_error(NNE_ERR_IO, "%s %s has a negative size", what, path);
    }
    *size = (uint64_t)st.st_size;
    return NNE_OK;
}

nne_status nne_file_open(const char *path, const char *what, int *fd, uint64_t *size) {
    *fd = -1;
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (f < 0) return nne_error(NNE_ERR_IO, "cannot open %s %s: %s", what, path, strerror(errno));
    nne_status st = check_regular(f, path, what, size);
    if (st != NNE_OK) return st;
    *fd = f;
    return NNE_OK;
}

/* 1 when `real` is `dir` or lies below it (both canonical absolute paths). */
static int path_below(const char *dir, const char *real) {
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/') return real[0] == '/';
    return strncmp(dir, real, n) == 0 && (real[n] == '/' || real[n] == 0);
}

/* Fallback without openat2: open, then compare the fd's real path with dir's. */
static int open_checked(int dfd, const char *dir, const char *rel, int *escaped) {
    *escaped = 0;
    int f = openat(dfd, rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (f < 0) return -1;
    char link[64], real[PATH_MAX + 1];
    snprintf(link, sizeof link, "/proc/self/fd/%d", f);
    ssize_t k = readlink(link, real, PATH_MAX);
    char *rdir = realpath(dir, NULL);
    int ok = k > 0 && rdir;
    if (ok) {
        real[k] = 0;
        ok = path_below(rdir, real);
        if (!ok) *escaped = 1;
    }
    free(rdir);
    if (!ok) {
        close(f);
        if (!*escaped) errno = EACCES;
        return -1;
    }
    return f;
}

nne_status nne_file_open_beneath(const char *dir, const char *rel, const char *what, int *fd, uint64_t *size) {
    *fd = -1;
    if (!rel[0] || rel[0] == '/')
        return nne_error(NNE_ERR_CORRUPT_MODEL, "%s \"%s\" is not a relative path inside %s", what, rel, dir);
    /* ".." as a whole path component, anywhere */
    for (const char *p = rel; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == rel || p[-1] == '/') && (p[2] == 0 || p[2] == '/'))
            return nne_error(NNE_ERR_CORRUPT_MODEL, "%s \"%s\" leaves the model's directory %s", what, rel, dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return nne_error(NNE_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
    int f = -1, escaped = 0, tried = 0;
#ifdef NNE_HAVE_OPENAT2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long r = syscall(SYS_openat2, dfd, rel, &how, sizeof how);
    if (r >= 0) {
        f = (int)r;
        tried = 1;
    } else if (errno != ENOSYS && errno != EPERM && errno != EINVAL) {
        tried = 1;
        if (errno == EXDEV || errno == ELOOP) escaped = 1;
    }
#endif
    if (!tried) f = open_checked(dfd, dir, rel, &escaped);
    int e = errno;
    close(dfd);
    if (f < 0) {
        if (escaped)
            return nne_error(NNE_ERR_CORRUPT_MODEL,
                             "%s \"%s\" resolves outside the model's directory %s (symlink?); refused", what, rel, dir);
        return nne_error(NNE_ERR_IO, "cannot open %s %s/%s: %s", what, dir, rel, strerror(e));
    }
    char full[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", dir, rel);
    nne_status st = check_regular(f, full, what, size);
    if (st != NNE_OK) return st;
    *fd = f;
    return NNE_OK;
}

static uint8_t g_empty_file[64];

nne_status nne_file_map(int fd, uint64_t size, const char *path, void **addr) {
    *addr = NULL;
    if (size == 0) {
        *addr = g_empty_file;
        return NNE_OK;
    }
    if (size > (uint64_t)SIZE_MAX) return nne_error(NNE_ERR_IO, "cannot map %s: too large", path);
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return nne_error(NNE_ERR_IO, "cannot map %s: %s", path, strerror(errno));
    *addr = p;
    return NNE_OK;
}

void nne_file_unmap(void *addr, uint64_t size) {
    if (addr && addr != (void *)g_empty_file && size) munmap(addr, (size_t)size);
}

nne_status nne_file_read_all(const char *path, const char *what, void **buf, size_t *size) {
    *buf = NULL;
    *size = 0;
    int fd;
    uint64_t sz;
    nne_status st = nne_file_open(path, what, &fd, &sz);
    if (st != NNE_OK) return st;
    if (sz > (uint64_t)SIZE_MAX - 1) {
        close(fd);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "%s %s is too large (%llu bytes)", what, path,
                         (unsigned long long)sz);
    }
    uint8_t *b = nne_malloc((size_t)sz);
    if (!b) {
        close(fd);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes for %s %s", (unsigned long long)sz,
                         what, path);
    }
    size_t done = 0;
    while (done < (size_t)sz) {
        ssize_t k = pread(fd, b + done, (size_t)sz - done, (off_t)done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            close(fd);
            nne_free(b);
            return nne_error(NNE_ERR_IO, "short read on %s %s", what, path);
        }
        done += (size_t)k;
    }
    close(fd);
    *buf = b;
    *size = done;
    return NNE_OK;
}
