/*
 * package.c - what every model-loading verb (run, bench, info, eval,
 * convert) does with a .nne package: the --trust PUB, --revoked FILE and
 * --key DEVICE.sec options, and loading a package through every check (signer, signature,
 * manifest, expiry, segment digests, decryption) before the model is made.
 * A package is recognized by its magic, whatever its file name; --trust with
 * a file that is not a package is refused (nothing unsigned gets through).
 */
#include "cli.h"
#include "cli_pkg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *g_trust_path, *g_key_path, *g_revoked_path;

void cli_pkg_set_revoked(const char *path) { g_revoked_path = path; }

int cli_pkg_option(int argc, char **argv, int *i) {
    const char *a = argv[*i];
    int trust = !strcmp(a, "--trust"), key = !strcmp(a, "--key"), rev = !strcmp(a, "--revoked");
    if (!trust && !key && !rev) return 0;
    const char *v = cli_opt_value(argc, argv, i, trust ? "ROOT.pub (a public signing key)"
                                                 : key ? "DEVICE.sec (a device key)"
                                                       : "FILE (a revocation list, nnedge revoke)");
    if (!v) return -1;
    if (trust) g_trust_path = v;
    else if (key) g_key_path = v;
    else g_revoked_path = v;
    return 1;
}

nne_status cli_pkg_trust_read(const char *trust_path, nne_pkg_trust *trust) {
    nne_status st = nne_pkg_trust_read(trust_path, trust);
    if (st != NNE_OK || !g_revoked_path) return st;
    nne_pkg_revocation r;
    if ((st = nne_pkg_revocation_read(g_revoked_path, &r)) != NNE_OK) return st;
    return nne_pkg_trust_apply_revocation(trust, &r);
}

int cli_pkg_wanted(const char *path) { return g_trust_path || g_key_path || nne_pkg_sniff_file(path); }

nne_status cli_pkg_open_checked(const char *path, const char *trust_path, const char *key_path, int64_t now,
                                nne_pkg **out) {
    *out = NULL;
    nne_pkg_trust trust;
    nne_pkg_key dev;
    nne_status st;
    if (trust_path && (st = cli_pkg_trust_read(trust_path, &trust)) != NNE_OK) return st;
    if (key_path && (st = nne_pkg_key_read(key_path, NNE_KEY_DEVICE_SECRET, &dev)) != NNE_OK) return st;
    nne_pkg *p;
    if ((st = nne_pkg_open(path, &p)) != NNE_OK) return st;
    /* with a key, unlock checks the digests while it decrypts */
    if ((st = nne_pkg_verify_manifest(p, trust_path ? &trust : NULL, now)) == NNE_OK)
        st = key_path ? nne_pkg_unlock(p, dev.sec, dev.pub) : nne_pkg_verify_segments(p);
    memset(&dev, 0, sizeof dev);
    if (st != NNE_OK) {
        nne_pkg_close(p);
        return st;
    }
    *out = p;
    return NNE_OK;
}

nne_status cli_pkg_load_model(const char *path, const nne_model_options *mo, nne_model **m) {
    *m = NULL;
    if (!nne_pkg_sniff_file(path)) {
        /* not a package: say why the file cannot be opened (a FIFO, a directory), if so */
        nne_pkg *np = NULL;
        nne_status ost = nne_pkg_open(path, &np);
        nne_pkg_close(np);
        if (ost == NNE_ERR_IO) return ost;
        return nne_pkg_error(NNE_ERR_INVALID_ARG,
                             "%s: not a .nne package, and --trust/--key apply to packages only (nnedge pack makes one)",
                             path);
    }
    nne_pkg *p;
    nne_status st = cli_pkg_open_checked(path, g_trust_path, g_key_path, (int64_t)time(NULL), &p);
    if (st == NNE_OK) st = nne_pkg_load_model(p, mo, m);
    nne_pkg_close(p); /* the model keeps what it needs */
    if (st != NNE_OK) nne_pkg_error_prefix(path);
    return st;
}

int cli_parse_duration(const char *s, int64_t *out) {
    char *e;
    long long v = strtoll(s, &e, 10);
    if (e == s || v <= 0) return 0;
    long long mul = 1;
    if (*e == 's') mul = 1, e++;
    else if (*e == 'm') mul = 60, e++;
    else if (*e == 'h') mul = 3600, e++;
    else if (*e == 'd') mul = 86400, e++;
    else if (*e == 'w') mul = 7 * 86400, e++;
    else if (*e == 'y') mul = 365 * 86400LL, e++;
    if (*e || v > 100LL * 365 * 86400 / mul) return 0;
    *out = v * mul;
    return 1;
}
