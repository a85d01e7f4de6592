/*
 * pkg_write.c - writing a .nne package (the pack side).
 *
 * Steps: fill the manifest (a random package id, the segment table with
 * fixed-width offsets so its size is known up front), lay the segments out
 * from the first 4 KiB boundary after the manifest, encrypt each segment
 * with XChaCha20-Poly1305 under one random content key when recipients are
 * given (the key is sealed to each device: 84 bytes per device, a 4-byte
 * key hint and the 80-byte sealed box), hash each stored segment with its
 * zero padding (BLAKE2b-256), encode the manifest again with the digests,
 * sign header + manifest, and write everything to a temporary file that is
 * fsynced and renamed into place. Co-signing (nne_pkg_cosign) rewrites only
 * the header: the signed digest does not cover the signature slots.
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
        uint8_t id[32];
        crypto_generichash(id, 32, b->devices[i].pub, 32, NULL, 0);
        memcpy(rcp[i].hint, id, NNE_PKG_HINT_SIZE);
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
        h.n_sigs = 1;
        memcpy(h.sigs[0].signer, b->sign->pub, 32);
        if (b->cert) {
            if (memcmp(b->cert->key, b->sign->pub, 32) != 0) {
                st = nne_error(NNE_ERR_INVALID_ARG, "pack: the certificate is for another key than the signing key");
                goto done;
            }
            h.sigs[0].has_cert = 1;
            h.sigs[0].cert = *b->cert;
        }
    }
    nne_pkg_header_encode(&h, hdr_and_man);
    memcpy(hdr_and_man + NNE_PKG_HEADER_SIZE, man, msize);
    if (b->sign) {
        uint8_t msg[64];
        nne_pkg_signed_message(hdr_and_man, data_off, msg);
        crypto_sign_detached(h.sigs[0].signature, NULL, msg, sizeof msg, b->sign->sec);
        nne_pkg_header_encode(&h, hdr_and_man);
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

nne_status nne_pkg_cosign(const char *in, const char *out, const nne_pkg_key *sign, const nne_pkg_cert *cert) {
    if (sodium_init() < 0) return nne_error(NNE_ERR_INTERNAL, "libsodium failed to initialize");
    if (cert && memcmp(cert->key, sign->pub, 32) != 0)
        return nne_error(NNE_ERR_INVALID_ARG, "sign: the certificate is for another key than the signing key");
    nne_pkg *p;
    NNE_PKG_TRY(nne_pkg_open(in, &p));
    /* what is signed must be intact: every signature present, the manifest, every segment digest */
    nne_status st = nne_pkg_verify_manifest(p, NULL, -1);
    if (st == NNE_OK) st = nne_pkg_verify_segments(p);
    nne_pkg_header h = *nne_pkg_get_header(p);
    const uint8_t *base = NULL;
    size_t size = (size_t)h.file_size;
    if (st == NNE_OK && h.n_sigs >= NNE_PKG_MAX_SIGS)
        st = nne_error(NNE_ERR_INVALID_ARG, "sign: the package already has %d signatures (the most it can hold)",
                       NNE_PKG_MAX_SIGS);
    for (uint32_t k = 0; st == NNE_OK && k < h.n_sigs; k++)
        if (!memcmp(h.sigs[k].signer, sign->pub, 32)) st = nne_error(NNE_ERR_INVALID_ARG, "sign: already signed by this key");
    uint8_t *hdr = NULL;
    int fd = -1;
    char tmp[4200];
    tmp[0] = 0;
    if (st != NNE_OK) goto done;
    base = nne_pkg_base(p);
    nne_pkg_sig *s = &h.sigs[h.n_sigs++];
    memset(s, 0, sizeof *s);
    memcpy(s->signer, sign->pub, 32);
    if (cert) {
        s->has_cert = 1;
        s->cert = *cert;
    }
    uint8_t msg[64];
    nne_pkg_signed_message(base, h.data_offset, msg); /* the same digest the others signed */
    crypto_sign_detached(s->signature, NULL, msg, sizeof msg, sign->sec);
    if (!(hdr = malloc(NNE_PKG_HEADER_SIZE))) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "sign: out of memory");
        goto done;
    }
    nne_pkg_header_encode(&h, hdr);
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", out, (int)getpid());
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = nne_error(NNE_ERR_IO, "sign: cannot create %s: %s", tmp, strerror(errno));
        tmp[0] = 0;
        goto done;
    }
    if (!write_all(fd, hdr, NNE_PKG_HEADER_SIZE) ||
        !write_all(fd, base + NNE_PKG_HEADER_SIZE, size - NNE_PKG_HEADER_SIZE) || fsync(fd) != 0) {
        st = nne_error(NNE_ERR_IO, "sign: write error in %s: %s", tmp, strerror(errno));
        goto done;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, out) != 0) {
        st = nne_error(NNE_ERR_IO, "sign: cannot rename %s to %s: %s", tmp, out, strerror(errno));
        goto done;
    }
    tmp[0] = 0;
done:
    if (fd >= 0) close(fd);
    if (tmp[0]) unlink(tmp);
    free(hdr);
    nne_pkg_close(p);
    return st;
}
