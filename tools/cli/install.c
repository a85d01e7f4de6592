/*
 * install.c - `nnedge install PKG.nne --store DIR --trust ROOT.pub
 * [--revoked FILE] [--key DEVICE.sec] [--json]` and `nnedge install --store DIR
 * --status [--json]`: crash-safe installation with rollback protection.
 * --revoked FILE (a root-signed revocation list, nnedge revoke) is kept as
 * DIR/revoked when its version is above the store's (an older one is
 * refused); every install checks packages against the store's list, so a
 * package signed only by a revoked release key is refused from then on.
 * `install --store DIR --trust ROOT.pub --revoked FILE` with no package
 * only updates the list.
 *
 * The store: DIR/current.nne (the active package), DIR/previous.nne (the last
 * good one), DIR/state (the highest version counter ever accepted, so
 * deleting current.nne does not reopen the door to an old package) and
 * DIR/.lock (one install at a time). Every change is a rename of a file
 * that was fully written and fsynced, followed by an fsync of the directory,
 * so a crash at any point (power loss, kill -9) leaves current.nne either the
 * old package or the new one, each complete.
 *
 * Steps: (1) verify the package fully (trusted signer, signature, manifest,
 * expiry: a frozen package is refused, segment digests: a package mixing
 * another's segments is refused, decryption); (2) refuse a version counter
 * not above the installed one (rollback) and another model id; (3) copy it
 * into DIR/incoming.tmp, fsync, verify the copy again; (4) hard-link
 * current.nne to previous.nne (via previous.tmp + rename); (5) rename
 * incoming.tmp to current.nne; (6) health check: load current.nne and run
 * its golden inputs; on failure rename previous.nne back over current.nne
 * (automatic revert) and exit 2; (7) record the counter in DIR/state.
 * DIR/pending exists from just before (5) until (7) is done: an install
 * killed during its health check leaves it, and the next install first
 * checks current.nne again (and reverts it if it fails) before anything else.
 *
 * `nnedge install --store DIR --revert [--trust ROOT.pub [--key DEVICE.sec]]
 * [--json]` puts previous.nne back as current.nne (the fleet agent's rollback
 * after a failed accuracy or latency check): with --trust, previous.nne is
 * first checked in full again (signer, the store's revocation list, expiry,
 * digests, golden check); then current.nne is replaced by a hard link to it
 * (current.nne.tmp + rename + fsync of the directory) and previous.nne is
 * removed (fsync again). A crash in between leaves both names on the same
 * good package. Refused when there is no previous.nne, and without --trust
 * when the store holds a revocation list (a revoked package must not return).
 * Rollback protection is not weakened: DIR/state keeps the highest counter
 * ever accepted, so after a revert from counter N to M < N the store
 * accepts only counters above N. The package that was reverted (N) cannot
 * come back, nor anything older; a fixed model ships with a new counter.
 * A revert goes back one step only, to a package this store itself accepted
 * and kept (previous.nne is removed by it, so repeated reverts cannot walk
 * further back): whoever can ask for reverts can undo the last install, but
 * never bring in an old package from outside.
 */
#include "cli.h"
#include "cli_pkg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct store {
    const char *dir;
    int dfd;
    char path[4200];
} store;

static const char *sp(store *s, const char *name) {
    snprintf(s->path, sizeof s->path, "%s/%s", s->dir, name);
    return s->path;
}

static int sync_dir(store *s) { return fsync(s->dfd) == 0; }

/* Highest counter recorded in DIR/state (0 when none). */
static uint64_t state_counter(store *s) {
    FILE *f = fopen(sp(s, "state"), "r");
    if (!f) return 0;
    unsigned long long c = 0;
    if (fscanf(f, "counter %llu", &c) != 1) c = 0;
    fclose(f);
    return c;
}

static int write_state(store *s, uint64_t counter, const char *model_id) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/state.tmp", s->dir);
    FILE *f = fopen(tmp, "w");
    if (!f) return 0;
    fprintf(f, "counter %llu\nmodel_id %s\n", (unsigned long long)counter, model_id);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    return ok && rename(tmp, sp(s, "state")) == 0 && sync_dir(s);
}

/* Copy a file to DIR/name, fsynced. */
static int copy_in(store *s, const char *src_path, const char *name) {
    int in = open(src_path, O_RDONLY | O_CLOEXEC);
    if (in < 0) return 0;
    int out = open(sp(s, name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return 0;
    }
    static char buf[1 << 20];
    int ok = 1;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { ok = 0; break; }
        if (n == 0) break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { ok = 0; break; }
            done += w;
        }
        if (!ok) break;
    }
    ok = ok && fsync(out) == 0;
    close(in);
    ok &= close(out) == 0;
    return ok;
}

/* Replace `to` by a hard link to `from`, atomically (link to a temp name, rename). */
static int link_over(store *s, const char *from, const char *to) {
    char a[4200], t[4200], b[4200];
    snprintf(a, sizeof a, "%s/%s", s->dir, from);
    snprintf(t, sizeof t, "%s/%s.tmp", s->dir, to);
    snprintf(b, sizeof b, "%s/%s", s->dir, to);
    unlink(t);
    return link(a, t) == 0 && rename(t, b) == 0 && sync_dir(s);
}

/* Full check of a package file + its golden health check. */
static nne_status check_pkg(const char *path, const char *trust, const char *key, nne_pkg **out, int *golden) {
    nne_pkg *p;
    *golden = 0;
    nne_status st = cli_pkg_open_checked(path, trust, key, (int64_t)time(NULL), &p);
    if (st != NNE_OK) return st;
    nne_model *m = NULL;
    if ((st = nne_pkg_load_model(p, NULL, &m)) == NNE_OK) st = nne_pkg_golden_check(p, m, golden);
    nne_model_destroy(m);
    if (st != NNE_OK) {
        nne_pkg_close(p);
        return st;
    }
    *out = p;
    return NNE_OK;
}

/* Manifest of a store file (no signature check), NULL when unreadable. */
static nne_pkg *open_manifest(store *s, const char *name) {
    nne_pkg *p = NULL;
    if (nne_pkg_open(sp(s, name), &p) != NNE_OK) return NULL;
    if (nne_pkg_verify_manifest(p, NULL, -1) != NNE_OK) {
        nne_pkg_close(p);
        return NULL;
    }
    return p;
}

/* --revert: previous.nne back as current.nne (see the top of this file). */
static int install_revert(store *s, const char *trust, const char *key, int json) {
    struct stat sb;
    if (stat(s->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return cli_usage_error("install: store %s does not exist", s->dir);
    s->dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dfd < 0) return cli_usage_error("install: cannot open store %s: %s", s->dir, strerror(errno));
    int lfd = open(sp(s, ".lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        close(s->dfd);
        if (lfd >= 0) close(lfd);
        return cli_usage_error("install: store %s is locked by another install", s->dir);
    }
    int rc = EXIT_BAD_INPUT;
    nne_pkg *prev = NULL, *cur = NULL;
    if (access(sp(s, "previous.nne"), F_OK) != 0) {
        rc = cli_usage_error("install: --revert: store %s has no previous package to go back to", s->dir);
        goto done;
    }
    if (!trust && access(sp(s, "revoked"), F_OK) == 0) {
        rc = cli_usage_error("install: --revert: store %s holds a revocation list; give --trust ROOT.pub so that "
                             "previous.nne is checked against it", s->dir);
        goto done;
    }
    if (trust) {
        /* the whole check again, against the store's revocation list */
        static char rev_path[4200];
        snprintf(rev_path, sizeof rev_path, "%s/revoked", s->dir);
        cli_pkg_set_revoked(access(rev_path, F_OK) == 0 ? rev_path : NULL);
        int golden = 0;
        char prev_path[4200];
        snprintf(prev_path, sizeof prev_path, "%s/previous.nne", s->dir);
        nne_status st = check_pkg(prev_path, trust, key, &prev, &golden);
        if (st != NNE_OK) {
            rc = cli_fail(st, "install: --revert: previous.nne");
            goto done;
        }
    } else if (!(prev = open_manifest(s, "previous.nne"))) {
        rc = cli_usage_error("install: --revert: previous.nne is unreadable: %s", nne_last_error());
        goto done;
    }
    const nne_pkg_manifest *pm = nne_pkg_get_manifest(prev);
    cur = open_manifest(s, "current.nne");
    const nne_pkg_manifest *cm = cur ? nne_pkg_get_manifest(cur) : NULL;
    if (cm && strcmp(cm->model_id, pm->model_id) != 0) {
        rc = cli_usage_error("install: --revert: previous.nne holds model \"%s\", current.nne \"%s\"", pm->model_id,
                             cm->model_id);
        goto done;
    }
    if (!link_over(s, "previous.nne", "current.nne")) {
        rc = cli_usage_error("install: --revert: cannot put previous.nne back: %s", strerror(errno));
        goto done;
    }
    /* one step back only; an interrupted install's unchecked package is gone */
    if (unlink(sp(s, "previous.nne")) != 0 || (unlink(sp(s, "pending")) != 0 && errno != ENOENT) || !sync_dir(s)) {
        rc = cli_usage_error("install: --revert: cannot remove previous.nne: %s", strerror(errno));
        goto done;
    }
    uint64_t hc = state_counter(s);
    if (json) {
        printf("{\"reverted\": ");
        json_str(stdout, pm->model_id);
        printf(", \"version\": ");
        json_str(stdout, pm->semver);
        printf(", \"counter\": %llu, \"from\": ", (unsigned long long)pm->counter);
        if (cm) json_str(stdout, cm->semver);
        else printf("null");
        printf(", \"highest_counter\": %llu}\n", (unsigned long long)hc);
    } else {
        printf("reverted %s to %s (counter %llu)%s%s in %s; only counters above %llu install from now on\n", pm->model_id,
               pm->semver, (unsigned long long)pm->counter, cm ? " from " : "", cm ? cm->semver : "", s->dir,
               (unsigned long long)hc);
    }
    rc = EXIT_OK;
done:
    nne_pkg_close(prev);
    nne_pkg_close(cur);
    flock(lfd, LOCK_UN);
    close(lfd);
    close(s->dfd);
    return rc;
}

static void print_entry(store *s, const char *name, int json) {
    nne_pkg *p = NULL;
    nne_status st = nne_pkg_open(sp(s, name), &p);
    if (st == NNE_OK) st = nne_pkg_verify_manifest(p, NULL, -1);
    const nne_pkg_manifest *m = st == NNE_OK ? nne_pkg_get_manifest(p) : NULL;
    struct stat sb;
    int exists = stat(sp(s, name), &sb) == 0;
    if (json) {
        if (!exists) printf("null");
        else if (!m) {
            printf("{\"error\": ");
            json_str(stdout, nne_last_error());
            printf("}");
        } else {
            char hx[65];
            const nne_pkg_header *ph = nne_pkg_get_header(p);
            if (ph->n_sigs) nne_pkg_hex(ph->sigs[0].signer, 32, hx);
            else hx[0] = 0;
            printf("{\"model_id\": ");
            json_str(stdout, m->model_id);
            printf(", \"version\": ");
            json_str(stdout, m->semver);
            printf(", \"counter\": %llu, \"created\": %lld, \"not_after\": %lld, \"signer\": \"%s\", \"encrypted\": %s}",
                   (unsigned long long)m->counter, (long long)m->created, (long long)m->not_after, hx,
                   nne_pkg_is_encrypted(p) ? "true" : "false");
        }
    } else {
        if (!exists) printf("%-9s none\n", name);
        else if (!m) printf("%-9s unreadable: %s\n", name, nne_last_error());
        else printf("%-9s %s %s (counter %llu)%s\n", name, m->model_id, m->semver, (unsigned long long)m->counter,
                    nne_pkg_is_encrypted(p) ? ", encrypted" : "");
    }
    nne_pkg_close(p);
}

int cli_install(int argc, char **argv) {
    const char *path = NULL, *dir = NULL, *trust = NULL, *key = NULL, *revoked = NULL;
    int json = 0, status = 0, revert = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--store")) {
            if (!(dir = cli_opt_value(argc, argv, &i, "DIR"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--trust")) {
            if (!(trust = cli_opt_value(argc, argv, &i, "ROOT.pub"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--key")) {
            if (!(key = cli_opt_value(argc, argv, &i, "DEVICE.sec"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--revoked")) {
            if (!(revoked = cli_opt_value(argc, argv, &i, "FILE (a revocation list)"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--status")) {
            status = 1;
        } else if (!strcmp(a, "--revert")) {
            revert = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("install: unknown option %s", a);
        } else if (!path) {
            path = a;
        } else {
            return cli_usage_error("install: more than one package (%s and %s)", path, a);
        }
    }
    if (!dir || !dir[0]) return cli_usage_error("install: --store DIR is required");
    if (strlen(dir) > 4000) return cli_usage_error("install: --store path too long");
    store s = {.dir = dir, .dfd = -1};
    if (status) {
        if (path || revert) return cli_usage_error("install: --status takes no package and no --revert");
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return cli_usage_error("install: store %s does not exist", dir);
        uint64_t hc = state_counter(&s);
        if (json) {
            printf("{\"store\": ");
            json_str(stdout, dir);
            printf(", \"current\": ");
            print_entry(&s, "current.nne", 1);
            printf(", \"previous\": ");
            print_entry(&s, "previous.nne", 1);
            printf(", \"highest_counter\": %llu}\n", (unsigned long long)hc);
        } else {
            printf("store %s\n", dir);
            print_entry(&s, "current.nne", 0);
            print_entry(&s, "previous.nne", 0);
            printf("highest counter accepted: %llu\n", (unsigned long long)hc);
        }
        return EXIT_OK;
    }
    if (revert) {
        if (path || revoked) return cli_usage_error("install: --revert takes no package and no --revoked");
        return install_revert(&s, trust, key, json);
    }
    if (!path && !revoked) return cli_usage_error("install: PKG.nne is required (or --status, --revert, or --revoked FILE)");
    if (!trust) return cli_usage_error("install: --trust ROOT.pub is required");
    /* revocation lists: the store keeps the newest it accepted (DIR/revoked);
     * an older one is refused, so a revoked key cannot come back */
    uint64_t stored_rev = 0, given_rev = 0;
    int store_rev = 0;
    {
        nne_pkg_trust t0;
        nne_pkg_revocation r;
        nne_status rs = nne_pkg_trust_read(trust, &t0);
        if (rs != NNE_OK) return cli_fail(rs, NULL);
        if (access(sp(&s, "revoked"), F_OK) == 0) {
            if ((rs = nne_pkg_revocation_read(sp(&s, "revoked"), &r)) != NNE_OK ||
                (rs = nne_pkg_trust_apply_revocation(&t0, &r)) != NNE_OK)
                return cli_fail(rs, "install: the store's revocation list");
            stored_rev = r.version;
            store_rev = 1;
        }
        if (revoked) {
            if ((rs = nne_pkg_revocation_read(revoked, &r)) != NNE_OK || (rs = nne_pkg_trust_apply_revocation(&t0, &r)) != NNE_OK)
                return cli_fail(rs, NULL);
            given_rev = r.version;
            if (given_rev < stored_rev)
                return cli_usage_error("install: revocation list %s has version %llu, older than the store's %llu (refused)",
                                       revoked, (unsigned long long)given_rev, (unsigned long long)stored_rev);
        }
    }
    static char rev_path[4200];
    snprintf(rev_path, sizeof rev_path, "%s/revoked", dir);
    cli_pkg_set_revoked(given_rev > stored_rev ? revoked : store_rev ? rev_path : NULL);
    /* (1) the package itself, before the store is touched */
    nne_pkg *p = NULL;
    int golden = 0;
    nne_status st = NNE_OK;
    uint64_t new_counter = 0;
    char new_id[512] = "", new_ver[128] = "";
    if (path) {
        st = cli_pkg_open_checked(path, trust, key, (int64_t)time(NULL), &p);
        if (st != NNE_OK) return cli_fail(st, path);
        if (nne_pkg_is_encrypted(p) && !key) {
            nne_pkg_close(p);
            return cli_usage_error("install: %s is encrypted; give --key DEVICE.sec (the health check runs the model)", path);
        }
        const nne_pkg_manifest *nm = nne_pkg_get_manifest(p);
        new_counter = nm->counter;
        snprintf(new_id, sizeof new_id, "%s", nm->model_id);
        snprintf(new_ver, sizeof new_ver, "%s", nm->semver);
        nne_pkg_close(p);
        p = NULL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return cli_usage_error("install: cannot create store %s: %s", dir, strerror(errno));
    s.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s.dfd < 0) return cli_usage_error("install: cannot open store %s: %s", dir, strerror(errno));
    int lfd = open(sp(&s, ".lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        close(s.dfd);
        if (lfd >= 0) close(lfd);
        return cli_usage_error("install: store %s is locked by another install", dir);
    }
    int rc = EXIT_BAD_INPUT;
    /* leftovers of an install that was interrupted */
    unlink(sp(&s, "incoming.tmp"));
    unlink(sp(&s, "previous.nne.tmp"));
    unlink(sp(&s, "current.nne.tmp"));
    unlink(sp(&s, "state.tmp"));
    unlink(sp(&s, "revoked.tmp"));
    /* a newer revocation list: kept in the store before anything is checked against it */
    if (given_rev > stored_rev) {
        char tmpr[4200];
        snprintf(tmpr, sizeof tmpr, "%s/revoked.tmp", dir);
        if (!copy_in(&s, revoked, "revoked.tmp") || rename(tmpr, rev_path) != 0 || !sync_dir(&s)) {
            rc = cli_usage_error("install: cannot write %s: %s", rev_path, strerror(errno));
            goto done;
        }
        cli_pkg_set_revoked(rev_path);
    }
    if (!path) {
        printf("store %s: revocation list version %llu%s\n", dir, (unsigned long long)(given_rev > stored_rev ? given_rev : stored_rev),
               given_rev > stored_rev ? " installed" : " already held");
        rc = EXIT_OK;
        goto done;
    }
    /* an install killed between the switch and the end of its health check */
    if (access(sp(&s, "pending"), F_OK) == 0) {
        int g0;
        nne_pkg *cp = NULL;
        nne_status cst = check_pkg(sp(&s, "current.nne"), trust, key, &cp, &g0);
        nne_pkg_close(cp);
        if (cst != NNE_OK) {
            if (access(sp(&s, "previous.nne"), F_OK) != 0) {
                unlink(sp(&s, "current.nne")); /* the interrupted install was the first */
            } else if (!link_over(&s, "previous.nne", "current.nne")) {
                rc = cli_usage_error("install: cannot revert the unchecked package of an interrupted install: %s",
                                     strerror(errno));
                goto done;
            }
        }
        unlink(sp(&s, "pending"));
        sync_dir(&s);
    }
    /* (2) rollback: the highest of the recorded counter and the active package's */
    uint64_t installed = state_counter(&s);
    int have_current = access(sp(&s, "current.nne"), F_OK) == 0;
    char cur_ver[128] = "";
    if (have_current) {
        nne_pkg *c = NULL;
        if (nne_pkg_open(sp(&s, "current.nne"), &c) == NNE_OK && nne_pkg_verify_manifest(c, NULL, -1) == NNE_OK) {
            const nne_pkg_manifest *cm = nne_pkg_get_manifest(c);
            if (cm->counter > installed) installed = cm->counter;
            snprintf(cur_ver, sizeof cur_ver, "%s", cm->semver);
            if (strcmp(cm->model_id, new_id) != 0) {
                rc = cli_usage_error("install: the store holds model \"%s\", the package is \"%s\"", cm->model_id, new_id);
                nne_pkg_close(c);
                goto done;
            }
        }
        nne_pkg_close(c);
    }
    if (new_counter <= installed) {
        rc = cli_usage_error("install: rollback refused: %s has version counter %llu, not above the installed %llu%s%s%s",
                             path, (unsigned long long)new_counter, (unsigned long long)installed,
                             cur_ver[0] ? " (" : "", cur_ver, cur_ver[0] ? ")" : "");
        goto done;
    }
    /* (3) copy into the store and check the copy */
    if (!copy_in(&s, path, "incoming.tmp")) {
        rc = cli_usage_error("install: cannot write %s: %s", sp(&s, "incoming.tmp"), strerror(errno));
        unlink(sp(&s, "incoming.tmp"));
        goto done;
    }
    st = cli_pkg_open_checked(sp(&s, "incoming.tmp"), trust, key, (int64_t)time(NULL), &p);
    if (st == NNE_OK) {
        const nne_pkg_manifest *im = nne_pkg_get_manifest(p);
        if (im->counter != new_counter || strcmp(im->model_id, new_id) != 0)
            st = nne_pkg_error(NNE_ERR_INVALID_ARG, "install: %s changed while it was being installed", path);
    }
    nne_pkg_close(p);
    p = NULL;
    if (st != NNE_OK) {
        unlink(sp(&s, "incoming.tmp"));
        rc = cli_fail(st, "install: the copy in the store");
        goto done;
    }
    /* (4) keep the active package as the last good one */
    if (have_current && !link_over(&s, "current.nne", "previous.nne")) {
        rc = cli_usage_error("install: cannot keep current.nne as previous.nne: %s", strerror(errno));
        goto done;
    }
    /* (5) switch, marked pending until the health check and the state are done */
    int pfd = open(sp(&s, "pending"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (pfd < 0 || fsync(pfd) != 0 || !sync_dir(&s)) {
        if (pfd >= 0) close(pfd);
        rc = cli_usage_error("install: cannot write %s: %s", sp(&s, "pending"), strerror(errno));
        goto done;
    }
    close(pfd);
    char inc[4200];
    snprintf(inc, sizeof inc, "%s/incoming.tmp", dir);
    if (rename(inc, sp(&s, "current.nne")) != 0 || !sync_dir(&s)) {
        rc = cli_usage_error("install: cannot activate the package: %s", strerror(errno));
        goto done;
    }
    /* (6) health check of the package as installed; revert on failure */
    st = check_pkg(sp(&s, "current.nne"), trust, key, &p, &golden);
    nne_pkg_close(p);
    p = NULL;
    if (st != NNE_OK) {
        char why[1200];
        snprintf(why, sizeof why, "%s", nne_last_error());
        int reverted = have_current && link_over(&s, "previous.nne", "current.nne");
        if (!have_current) {
            unlink(sp(&s, "current.nne"));
            sync_dir(&s);
        }
        if (reverted || !have_current) unlink(sp(&s, "pending")), sync_dir(&s);
        rc = cli_usage_error("install: health check of %s failed (%s); %s", new_ver, why,
                             reverted ? "reverted to the previous package" : have_current ? "REVERT FAILED" : "removed it");
        goto done;
    }
    /* (7) remember the counter */
    if (!write_state(&s, new_counter, new_id)) {
        rc = cli_usage_error("install: cannot write %s: %s", sp(&s, "state"), strerror(errno));
        goto done;
    }
    unlink(sp(&s, "pending"));
    sync_dir(&s);
    if (json) {
        printf("{\"installed\": ");
        json_str(stdout, new_id);
        printf(", \"version\": ");
        json_str(stdout, new_ver);
        printf(", \"counter\": %llu, \"previous\": ", (unsigned long long)new_counter);
        if (cur_ver[0]) json_str(stdout, cur_ver);
        else printf("null");
        printf(", \"golden\": \"%s\"}\n", golden ? "passed" : "none");
    } else {
        printf("installed %s %s (counter %llu) into %s%s%s%s; golden check %s\n", new_id, new_ver,
               (unsigned long long)new_counter, dir, cur_ver[0] ? ", previous " : "", cur_ver, "",
               golden ? "passed" : "none (the package has no golden data)");
    }
    rc = EXIT_OK;
done:
    flock(lfd, LOCK_UN);
    close(lfd);
    close(s.dfd);
    return rc;
}
