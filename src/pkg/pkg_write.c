/*
 * pkg_write.c - writing a .nne package (the pack side).
 *
 * Steps: fill the manifest (a random package id, the segment table with
 * fixed-width offsets so its size is known up front), lay the segments out
 * from the first 4 KiB boundary after the manifest, encrypt each segment
 * with XChaCha20-Poly1305 under one random content key when recipients are
 * given (the key is sealed to each device: 80 bytes per device), hash each
 * stored segment with its zero padding (BLAKE2b-256), encode the manifest
 * again with the digests, sign header + manifest, and write everything to a
 * temporary file that is fsynced and renamed into place.
 */
#include "pkg/pkg.h"
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void nne_pkg_signed_digest(const uint8_t *base, uint64_t data_offset, uint8_t out[32]);
size_t nne_pkg_segment_ad(const uint8_t package_id[16], int i, const nne_pkg_segment *s, uint8_t *ad, size_t cap);

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return 0;
        b += k;
        n -= (size_t)k;
    }
    return 1;
}

nne_status nne_pkg_write(const char *path, const nne_pkg_build *b) {
    if (sodium_init() < 0) return nne_error(NNE_ERR_INTERNAL, "libsodium failed to initialize");
    if (b->n_segs < 1 || b->n_segs > NNE_PKG_MAX_SEGMENTS)
        return nne_error(NNE_ERR_INVALID_ARG, "pack: %d segments, expected 1..%d", b->n_segs, NNE_PKG_MAX_SEGMENTS);
    int enc = b->n_devices > 0;
    nne_pkg_manifest m = b->man;
    randombytes_buf(m.package_id, sizeof m.package_id);
    nne_pkg_segment *segs = calloc((size_t)b->n_segs, sizeof *segs);
    nne_pkg_recipient *rcp = calloc((size_t)b->n_devices + 1, sizeof *rcp);
    uint8_t *man = NULL, *hdr_and_man = NULL;
    uint8_t ck[32];
    int fd = -1;
    char tmp[4200];
    tmp[0] = 0;
    nne_status st = NNE_OK;
    if (!segs || !rcp) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "pack: out of memory");
        goto done;
    }
    m.segments = segs;
    m.n_segments = b->n_segs;
    m.recipients = rcp;
    m.n_recipients = b->n_devices;
    randombytes_buf(ck, sizeof ck);
    for (int i = 0; i < b->n_devices; i++) {
        crypto_generichash(rcp[i].key_id, 32, b->devices[i].pub, 32, NULL, 0);
        crypto_box_seal(rcp[i].sealed, ck, sizeof ck, b->devices[i].pub);
    }
    for (int i = 0; i < b->n_segs; i++) {
        segs[i].name = (char *)b->segs[i].name;
        segs[i].kind = b->segs[i].kind;
        segs[i].size = b->segs[i].size + (enc ? crypto_aead_xchacha20poly1305_ietf_ABYTES : 0);
        if (enc) randombytes_buf(segs[i].nonce, sizeof segs[i].nonce);
    }
    size_t msize;
    if ((st = nne_pkg_manifest_encode(&m, enc, &man, &msize)) != NNE_OK) goto done;
    free(man);
    man = NULL;
    uint64_t data_off = (NNE_PKG_HEADER_SIZE + msize + NNE_PKG_ALIGN - 1) / NNE_PKG_ALIGN * NNE_PKG_ALIGN;
    uint64_t at = data_off;
    for (int i = 0; i < b->n_segs; i++) {
        segs[i].offset = at;
        at += (segs[i].size + NNE_PKG_ALIGN - 1) / NNE_PKG_ALIGN * NNE_PKG_ALIGN;
    }
    uint64_t file_size = at;
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = nne_error(NNE_ERR_IO, "pack: cannot create %s: %s", tmp, strerror(errno));
        tmp[0] = 0;
        goto done;
    }
    /* segments first (the header and manifest are written last, once the digests are known) */
    static const uint8_t zeros[NNE_PKG_ALIGN];
    for (int i = 0; i < b->n_segs; i++) {
        nne_pkg_segment *s = &segs[i];
        const uint8_t *data = b->segs[i].data;
        uint8_t *cbuf = NULL;
        if (enc) {
            cbuf = malloc((size_t)s->size);
            if (!cbuf) {
                st = nne_error(NNE_ERR_OUT_OF_MEMORY, "pack: cannot allocate %llu bytes for segment \"%s\"",
                               (unsigned long long)s->size, s->name);
                goto done;
            }
            uint8_t ad[24 + 512];
            size_t adn = nne_pkg_segment_ad(m.package_id, i, s, ad, sizeof ad);
            unsigned long long clen;
            crypto_aead_xchacha20poly1305_ietf_encrypt(cbuf, &clen, data, b->segs[i].size, ad, adn, NULL, s->nonce, ck);
            data = cbuf;
        }
        size_t pad = (size_t)((NNE_PKG_ALIGN - s->size % NNE_PKG_ALIGN) % NNE_PKG_ALIGN);
        crypto_generichash_state hs;
        crypto_generichash_init(&hs, NULL, 0, 32);
        crypto_generichash_update(&hs, data, (size_t)s->size);
        crypto_generichash_update(&hs, zeros, pad);
        crypto_generichash_final(&hs, s->digest, 32);
        int ok = lseek(fd, (off_t)s->offset, SEEK_SET) >= 0 && write_all(fd, data, (size_t)s->size) &&
                 write_all(fd, zeros, pad);
        free(cbuf);
        if (!ok) {
            st = nne_error(NNE_ERR_IO, "pack: write error in %s: %s", tmp, strerror(errno));
            goto done;
        }
    }
    size_t msize2;
    if ((st = nne_pkg_manifest_encode(&m, enc, &man, &msize2)) != NNE_OK) goto done;
    if (msize2 != msize) {
        st = nne_error(NNE_ERR_INTERNAL, "pack: manifest size changed (%zu, then %zu)", msize, msize2);
        goto done;
    }
    hdr_and_man = calloc(1, (size_t)data_off);
    if (!hdr_and_man) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "pack: out of memory");
        goto done;
    }
    nne_pkg_header h = {.version = NNE_PKG_FORMAT_VERSION, .header_size = NNE_PKG_HEADER_SIZE, .file_size = file_size,
                        .manifest_offset = NNE_PKG_HEADER_SIZE, .manifest_size = msize, .data_offset = data_off};
    if (enc) h.flags |= NNE_PKG_FLAG_ENCRYPTED;
    if (b->sign) {
        h.flags |= NNE_PKG_FLAG_SIGNED;
        memcpy(h.signer, b->sign->pub, 32);
        if (b->cert) {
            if (memcmp(b->cert->key, b->sign->pub, 32) != 0) {
                st = nne_error(NNE_ERR_INVALID_ARG, "pack: the certificate is for another key than the signing key");
                goto done;
            }
            h.flags |= NNE_PKG_FLAG_CERT;
            memcpy(h.cert_issuer, b->cert->issuer, 32);
            h.cert_not_before = b->cert->not_before;
            h.cert_not_after = b->cert->not_after;
            memcpy(h.cert_signature, b->cert->signature, 64);
            h.n_cosign = (uint32_t)b->cert->n_cosign;
            memcpy(h.cosign_issuer, b->cert->cosign_issuer, sizeof h.cosign_issuer);
            memcpy(h.cosign_signature, b->cert->cosign_signature, sizeof h.cosign_signature);
        }
    }
    nne_pkg_header_encode(&h, hdr_and_man);
    memcpy(hdr_and_man + NNE_PKG_HEADER_SIZE, man, msize);
    if (b->sign) {
        uint8_t dg[32], msg[64];
        nne_pkg_signed_digest(hdr_and_man, data_off, dg);
        memcpy(msg, "nnedge manifest signature v1\0\0\0\0", 32);
        memcpy(msg + 32, dg, 32);
        crypto_sign_detached(hdr_and_man + 88, NULL, msg, sizeof msg, b->sign->sec);
    }
    if (lseek(fd, 0, SEEK_SET) < 0 || !write_all(fd, hdr_and_man, (size_t)data_off) || fsync(fd) != 0) {
        st = nne_error(NNE_ERR_IO, "pack: write error in %s: %s", tmp, strerror(errno));
        goto done;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = nne_error(NNE_ERR_IO, "pack: cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto done;
    }
    tmp[0] = 0;
done:
    sodium_memzero(ck, sizeof ck);
    if (fd >= 0) close(fd);
    if (tmp[0]) unlink(tmp);
    free(man);
    free(hdr_and_man);
    free(segs);
    free(rcp);
    return st;
}
