/*
 * fleet.c - `nnedge fleet run|deploy|abort|status` (docs/fleet.md §6).
 *
 *   run     the controller daemon (src/fleet/controller.c)
 *   deploy  copy a package (and check data) into the controller's
 *           --packages DIR, named by content, then send a deploy request on
 *           nnedge/fleet/request and wait for the controller's answer
 *           (accepted/rejected event with our request id); --wait follows the
 *           deployment's events to its end (exit 0 done, 1 aborted)
 *   abort   send an abort request, wait for the answer
 *   status  read the retained nnedge/fleet/status; a table, or --json
 */
#include "cli.h"
#include "fleet/ctl.h"
#include "pkg/pkg.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <mosquitto.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Options every sub-command takes: the broker and credentials. */
static int broker_option(int argc, char **argv, int *i, fleet_broker *b, const char **url, int *bad) {
    const char *a = argv[*i];
    const char *v;
    if (strcmp(a, "--broker") == 0) {
        if (!(v = cli_opt_value(argc, argv, i, "URL"))) return *bad = 1;
        *url = v;
        return 1;
    }
    if (strcmp(a, "--user") == 0) {
        if (!(v = cli_opt_value(argc, argv, i, "NAME"))) return *bad = 1;
        b->user = v;
        return 1;
    }
    if (strcmp(a, "--password-file") == 0) {
        if (!(v = cli_opt_value(argc, argv, i, "FILE"))) return *bad = 1;
        /* read now for an early error; read again by each client's setup */
        char pw[1024], err[512];
        int ok = fleet_read_secret(v, pw, sizeof pw, err, sizeof err);
        sodium_memzero(pw, sizeof pw);
        if (!ok) {
            cli_usage_error("fleet: --password-file %s", err);
            return *bad = 1;
        }
        b->password_file = v;
        return 1;
    }
    if (strcmp(a, "--ca") == 0) {
        if (!(v = cli_opt_value(argc, argv, i, "CA.pem"))) return *bad = 1;
        b->ca = v;
        return 1;
    }
    return 0;
}

static int broker_finish(const char *url, fleet_broker *b, const char *sub) {
    if (!url) return cli_usage_error("fleet %s: --broker URL is required (mqtt://HOST:PORT or mqtts://...)", sub) * 0;
    char err[512];
    if (!fleet_broker_parse_url(url, b, err, sizeof err)) {
        cli_usage_error("fleet %s: %s", sub, err);
        return 0;
    }
    return 1;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (errno || e == s || *e || !(v >= lo && v <= hi)) return 0;
    *out = v;
    return 1;
}

/* ----------------------------------------------------------------- run -- */
static int fleet_run(int argc, char **argv) {
    ctl_options o = {.http = "127.0.0.1:8700", .offline_after_ms = 3000, .overload_weight_pct = 10, .status_ms = 1000};
    const char *url = NULL;
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        long n;
        if (broker_option(argc, argv, &i, &o.broker, &url, &bad)) {
            if (bad) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--packages") == 0) {
            if (!(o.packages = cli_opt_value(argc, argv, &i, "DIR"))) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--http") == 0) {
            if (!(o.http = cli_opt_value(argc, argv, &i, "ADDR:PORT"))) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--public-url") == 0) {
            if (!(o.public_url = cli_opt_value(argc, argv, &i, "URL"))) return EXIT_BAD_INPUT;
            if (strncmp(o.public_url, "http://", 7) && strncmp(o.public_url, "https://", 8))
                return cli_usage_error("fleet run: --public-url must start with http:// or https://");
        } else if (strcmp(a, "--haproxy") == 0) {
            if (!(o.haproxy = cli_opt_value(argc, argv, &i, "SOCKET"))) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--backend") == 0) {
            if (!(o.backend = cli_opt_value(argc, argv, &i, "NAME"))) return EXIT_BAD_INPUT;
            if (!ctl_name_ok(o.backend)) return cli_usage_error("fleet run: --backend: expected [A-Za-z0-9_.:-]{1,64}");
        } else if (strcmp(a, "--state") == 0) {
            if (!(o.state_file = cli_opt_value(argc, argv, &i, "FILE"))) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--offline-after-ms") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 100, 86400000, &n))
                return cli_usage_error("fleet run: --offline-after-ms must be 100..86400000");
            o.offline_after_ms = n;
        } else if (strcmp(a, "--overload-queue") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 1, 1000000000, &n))
                return cli_usage_error("fleet run: --overload-queue must be 1..1000000000");
            o.overload_queue = n;
        } else if (strcmp(a, "--overload-p99-ms") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "MS")) || !parse_double(v, 0.001, 1e9, &o.overload_p99_ms))
                return cli_usage_error("fleet run: --overload-p99-ms must be a number > 0");
        } else if (strcmp(a, "--overload-weight") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "PCT")) || !cli_parse_int(v, 1, 100, &n))
                return cli_usage_error("fleet run: --overload-weight must be 1..100 (percent)");
            o.overload_weight_pct = (int)n;
        } else if (strcmp(a, "--client-id") == 0) {
            if (!(o.client_id = cli_opt_value(argc, argv, &i, "ID"))) return EXIT_BAD_INPUT;
            if (!ctl_name_ok(o.client_id)) return cli_usage_error("fleet run: --client-id: expected [A-Za-z0-9_.:-]{1,64}");
        } else if (strcmp(a, "--quiet") == 0) {
            o.quiet = 1;
        } else {
            return cli_usage_error("fleet run: unknown option %s (nnedge fleet --help)", a);
        }
    }
    if (!broker_finish(url, &o.broker, "run")) return EXIT_BAD_INPUT;
    if (!o.packages) return cli_usage_error("fleet run: --packages DIR is required (the agents download from it)");
    struct stat st;
    if (stat(o.packages, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_usage_error("fleet run: --packages %s is not a directory", o.packages);
    if (!o.haproxy != !o.backend) return cli_usage_error("fleet run: --haproxy SOCKET and --backend NAME go together");
    return ctl_run(&o);
}

/* ------------------------------------------------------------- clients -- */
typedef struct client {
    struct mosquitto *m;
    const char *sub;     /* topic subscribed */
    char request[40];    /* our request id */
    char deployment[40]; /* the deployment followed */
    int answered;        /* 1 accepted, 2 rejected */
    int ended;           /* 1 done, 2 aborted */
    int follow, json;
    char *status;        /* the retained status payload (status) */
    int subscribed;
    int refused;         /* the CONNACK's refusal code */
    int want_ctl;        /* deploy: watch the status for a connected controller */
    int ctl_live;        /* a live status, or a retained one of the last 3 s, was seen */
} client;

static void cl_on_connect(struct mosquitto *m, void *ud, int rc) {
    client *c = ud;
    if (rc != 0) {
        c->refused = rc;
        return;
    }
    mosquitto_subscribe(m, NULL, c->sub, 1);
    /* --wait also watches the retained status: an event lost while the
     * broker was away cannot leave it waiting forever */
    if (c->follow || c->want_ctl) mosquitto_subscribe(m, NULL, "nnedge/fleet/status", 1);
}

/* --wait: the followed deployment's state in a status payload. */
static void follow_status(client *c, const struct mosquitto_message *msg) {
    json_t *s = json_loadb(msg->payload, (size_t)msg->payloadlen, 0, NULL);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(s, "deployments"), i, d) {
        const char *id = json_string_value(json_object_get(d, "id"));
        const char *st = json_string_value(json_object_get(d, "state"));
        if (!id || !st || strcmp(id, c->deployment) != 0) continue;
        if (strcmp(st, "done") == 0 || strcmp(st, "aborted") == 0) {
            const char *r = json_string_value(json_object_get(d, "reason"));
            if (!c->json) printf("%-9s %s %s%s%s (from the status)\n", st, id, st, r ? ": " : "", r ? r : "");
            c->ended = strcmp(st, "done") == 0 ? 1 : 2;
        }
    }
    json_decref(s);
}
static void cl_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted) {
    client *c = ud;
    c->subscribed = 1;
}

static void cl_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
    client *c = ud;
    if (msg->payloadlen <= 0 || msg->payloadlen > (1 << 24)) return;
    if (strcmp(msg->topic, "nnedge/fleet/status") == 0) {
        if (c->want_ctl && !c->ctl_live) {
            /* the controller publishes its status only while connected (and
             * subscribed): a live one, or a fresh retained one, says it is there */
            int64_t t = 0;
            json_t *s = json_loadb(msg->payload, (size_t)msg->payloadlen, 0, NULL);
            if (s && ctl_json_int(s, "time_ms", 0, INT64_MAX, &t) == 1 && llabs(fleet_now_ms() - t) < 3000) c->ctl_live = 1;
            if (!msg->retain) c->ctl_live = 1;
            json_decref(s);
        }
        if (c->follow) {
            if (c->answered == 1 && !c->ended) follow_status(c, msg);
            return;
        }
        if (!c->status && (c->status = malloc((size_t)msg->payloadlen + 1))) {
            memcpy(c->status, msg->payload, (size_t)msg->payloadlen);
            c->status[msg->payloadlen] = 0;
        }
        return;
    }
    json_t *e = json_loadb(msg->payload, (size_t)msg->payloadlen, 0, NULL);
    const char *kind = NULL, *req = NULL, *dep = NULL, *text = NULL;
    if (!json_is_object(e) || ctl_json_str(e, "kind", 32, &kind) != 1) {
        json_decref(e);
        return;
    }
    ctl_json_str(e, "request", 64, &req);
    ctl_json_str(e, "deployment", 39, &dep);
    ctl_json_str(e, "text", 4096, &text);
    if (!c->answered && req && strcmp(req, c->request) == 0) {
        if (strcmp(kind, "accepted") == 0) {
            c->answered = 1;
            if (dep) snprintf(c->deployment, sizeof c->deployment, "%s", dep);
        } else if (strcmp(kind, "rejected") == 0) {
            c->answered = 2;
        }
        if (text && c->answered == 2) fprintf(stderr, "nnedge: fleet: %s\n", text);
    }
    if (c->answered == 1 && c->follow && dep && strcmp(dep, c->deployment) == 0) {
        if (c->json) {
            fwrite(msg->payload, 1, (size_t)msg->payloadlen, stdout);
            fputc('\n', stdout);
        } else if (text) {
            printf("%-9s %s\n", kind, text);
        }
        fflush(stdout);
        if (strcmp(kind, "done") == 0) c->ended = 1;
        if (strcmp(kind, "aborted") == 0) c->ended = 2;
    }
    json_decref(e);
}

/* Connect and subscribe to `sub`; 0 with a message on error. With
 * wait_s > 0 a broker that cannot be reached (down, restarting) is retried
 * with backoff (0.25 s doubling to 2 s) for up to wait_s seconds; a broker
 * that refuses us (credentials, ACL) fails at once. */
static int cl_open(client *c, fleet_broker *b, const char *sub, const char *verb, long wait_s) {
    mosquitto_lib_init();
    char cid[64], err[512];
    unsigned char r[6];
    randombytes_buf(r, sizeof r);
    snprintf(cid, sizeof cid, "nnedge-fleet-%s-%02x%02x%02x%02x%02x%02x", verb, r[0], r[1], r[2], r[3], r[4], r[5]);
    c->sub = sub;
    c->m = mosquitto_new(cid, true, c);
    if (!c->m || !ctl_broker_setup(c->m, b, err, sizeof err)) {
        cli_usage_error("fleet %s: %s", verb, c->m ? err : "mosquitto_new failed");
        return 0;
    }
    mosquitto_connect_callback_set(c->m, cl_on_connect);
    mosquitto_subscribe_callback_set(c->m, cl_on_subscribe);
    mosquitto_message_callback_set(c->m, cl_on_message);
    int64_t give_up = fleet_mono_ms() + (int64_t)wait_s * 1000, backoff = 250;
    int said = 0;
    for (int first = 1;; first = 0) {
        int rc = MOSQ_ERR_SUCCESS;
        char why[600] = "";
        if (first ? !ctl_broker_connect(c->m, b, 30, err, sizeof err) : mosquitto_reconnect(c->m) != MOSQ_ERR_SUCCESS) {
            if (first) snprintf(why, sizeof why, "%s", err);
            else snprintf(why, sizeof why, "cannot connect to the broker %s:%d: %s", b->host, b->port, strerror(errno));
        } else {
            int64_t end = fleet_mono_ms() + 5000;
            while (!c->subscribed && !c->refused && fleet_mono_ms() < end)
                if ((rc = mosquitto_loop(c->m, 100, 1)) != MOSQ_ERR_SUCCESS) break;
            if (c->refused) {
                cli_usage_error("fleet %s: the broker %s:%d refused the connection: %s", verb, b->host, b->port,
                                mosquitto_connack_string(c->refused));
                return 0;
            }
            if (c->subscribed) return 1;
            if (rc != MOSQ_ERR_SUCCESS)
                snprintf(why, sizeof why, "the connection to the broker %s:%d failed: %s", b->host, b->port,
                         rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            else {
                cli_usage_error("fleet %s: the broker %s:%d did not confirm the subscription (credentials or ACL?)",
                                verb, b->host, b->port);
                return 0;
            }
        }
        if (fleet_mono_ms() + backoff > give_up) {
            cli_usage_error("fleet %s: %s%s", verb, why, wait_s > 0 ? " (gave up waiting for it)" : "");
            return 0;
        }
        if (!said) {
            fprintf(stderr, "nnedge fleet %s: %s; retrying for up to %ld s\n", verb, why, wait_s);
            said = 1;
        }
        usleep((useconds_t)backoff * 1000);
        backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
    }
}

static void cl_close(client *c) {
    if (c->m) {
        mosquitto_disconnect(c->m);
        mosquitto_destroy(c->m);
    }
    mosquitto_lib_cleanup();
    free(c->status);
}

/* Publish a request (its "request" id is set here) and wait for the
 * controller's answer; with c->follow, then for the deployment's end.
 * Returns the exit code. */
static int cl_request(client *c, json_t *req, long answer_s, const char *verb) {
    unsigned char r[8];
    randombytes_buf(r, sizeof r);
    snprintf(c->request, sizeof c->request, "r-");
    sodium_bin2hex(c->request + 2, sizeof c->request - 2, r, sizeof r);
    json_object_set_new(req, "v", json_integer(1));
    json_object_set_new(req, "request", json_string(c->request));
    /* a request the controller sees only after we gave up waiting is refused */
    json_object_set_new(req, "expires_ms", json_integer(fleet_now_ms() + answer_s * 1000));
    char *txt = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!txt) return EXIT_INTERNAL;
    int rc = mosquitto_publish(c->m, NULL, "nnedge/fleet/request", (int)strlen(txt), txt, 1, false);
    free(txt);
    if (rc != MOSQ_ERR_SUCCESS) {
        cli_usage_error("fleet %s: publish: %s", verb, mosquitto_strerror(rc));
        return EXIT_INTERNAL;
    }
    int64_t end = fleet_mono_ms() + answer_s * 1000;
    while (!c->answered && fleet_mono_ms() < end)
        if (mosquitto_loop(c->m, 100, 1) != MOSQ_ERR_SUCCESS) break;
    if (!c->answered) {
        cli_usage_error("fleet %s: no answer from the controller in %ld s (is `nnedge fleet run` running?)", verb,
                        answer_s);
        return EXIT_INTERNAL;
    }
    if (c->answered == 2) return EXIT_BAD_INPUT;
    if (!c->follow) {
        if (c->deployment[0]) printf(c->json ? "{\"deployment\":\"%s\"}\n" : "%s\n", c->deployment);
        return EXIT_OK;
    }
    while (!c->ended) {
        rc = mosquitto_loop(c->m, 200, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            usleep(250000);
            mosquitto_reconnect(c->m); /* resubscribes in cl_on_connect */
        }
    }
    return c->ended == 1 ? EXIT_OK : EXIT_INTERNAL;
}

/* Copy src to dir/name (tmp + fsync + rename) unless a file of that name
 * with the same size is there already (names carry the content hash). */
static int copy_into(const char *src, const char *dir, const char *name, char *err, size_t cap) {
    char dst[4200], tmp[4300];
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    struct stat ss, ds;
    if (stat(src, &ss) != 0) {
        snprintf(err, cap, "%s: %s", src, strerror(errno));
        return 0;
    }
    if (lstat(dst, &ds) == 0 && S_ISREG(ds.st_mode) && ds.st_size == ss.st_size) return 1;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, cap, "%s: %s", dir, strerror(errno));
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", dir, name, (int)getpid());
    int in = open(src, O_RDONLY | O_CLOEXEC), out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = in >= 0 && out >= 0;
    char buf[1 << 15];
    while (ok) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        for (ssize_t off = 0; ok && off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) ok = 0;
            else off += w;
        }
    }
    if (ok && fsync(out) != 0) ok = 0;
    int e = errno;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    if (ok && rename(tmp, dst) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        snprintf(err, cap, "copy %.200s to %.300s: %s", src, dst, strerror(e));
    }
    return ok;
}

/* A file-name-safe copy of s: [A-Za-z0-9._-], others become '_'. */
static void safe_part(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (; *s && n + 1 < cap && n < 64; s++) {
        char c = *s;
        out[n++] = ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                    c == '_' || c == '-')
                       ? c
                       : '_';
    }
    out[n] = 0;
    if (n == 0 || out[0] == '.') out[0] = '_';
    if (n == 0) out[1] = 0;
}

/* Copy a check-data file into DIR/data/<hash16>-<name>; rel gets the path below DIR. */
static int copy_data(const char *src, const char *dir, char *rel, size_t cap, const char *verb) {
    char hex[65], err[600], name[200], base[80], sub[4200];
    uint64_t bytes;
    if (!ctl_file_blake2b(src, hex, &bytes)) {
        cli_usage_error("fleet %s: %s: %s", verb, src, strerror(errno));
        return 0;
    }
    char *tmp = strdup(src);
    if (!tmp) return 0;
    safe_part(basename(tmp), base, sizeof base);
    free(tmp);
    snprintf(name, sizeof name, "%.16s-%s", hex, base);
    snprintf(sub, sizeof sub, "%s/data", dir);
    if (!copy_into(src, sub, name, err, sizeof err)) {
        cli_usage_error("fleet %s: %s", verb, err);
        return 0;
    }
    snprintf(rel, cap, "data/%s", name);
    return 1;
}

static int fleet_deploy(int argc, char **argv) {
    fleet_broker b = {0};
    const char *url = NULL, *pkg = NULL, *group = NULL, *dir = NULL, *data = NULL, *labels = NULL;
    long canary = 1, rate = 1, timeout_s = 300, answer_s = 10;
    double thr = 0, min_top1 = -1, max_p50 = -1;
    int wait = 0, json = 0, bad = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (broker_option(argc, argv, &i, &b, &url, &bad)) {
            if (bad) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--group") == 0) {
            if (!(group = cli_opt_value(argc, argv, &i, "G"))) return EXIT_BAD_INPUT;
            if (!ctl_name_ok(group)) return cli_usage_error("fleet deploy: --group: expected [A-Za-z0-9_.:-]{1,64}");
        } else if (strcmp(a, "--packages") == 0) {
            if (!(dir = cli_opt_value(argc, argv, &i, "DIR"))) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--canary") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 1, 100000, &canary))
                return cli_usage_error("fleet deploy: --canary must be 1..100000");
        } else if (strcmp(a, "--rate") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 1, 100000, &rate))
                return cli_usage_error("fleet deploy: --rate must be 1..100000");
        } else if (strcmp(a, "--timeout-s") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 1, 604800, &timeout_s))
                return cli_usage_error("fleet deploy: --timeout-s must be 1..604800");
        } else if (strcmp(a, "--answer-timeout-s") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 1, 3600, &answer_s))
                return cli_usage_error("fleet deploy: --answer-timeout-s must be 1..3600");
        } else if (strcmp(a, "--abort-threshold") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "F")) || !parse_double(v, 0, 1, &thr))
                return cli_usage_error("fleet deploy: --abort-threshold must be a fraction 0..1");
        } else if (strcmp(a, "--min-top1") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "F")) || !parse_double(v, 0, 1, &min_top1))
                return cli_usage_error("fleet deploy: --min-top1 must be 0..1");
        } else if (strcmp(a, "--max-p50-ms") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "MS")) || !parse_double(v, 0, 1e9, &max_p50))
                return cli_usage_error("fleet deploy: --max-p50-ms must be a number >= 0");
        } else if (strcmp(a, "--check-data") == 0) {
            if (!(data = cli_opt_value(argc, argv, &i, "X.npy"))) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--check-labels") == 0) {
            if (!(labels = cli_opt_value(argc, argv, &i, "Y.npy"))) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--wait") == 0) {
            wait = 1;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (a[0] == '-') {
            return cli_usage_error("fleet deploy: unknown option %s (nnedge fleet --help)", a);
        } else if (!pkg) {
            pkg = a;
        } else {
            return cli_usage_error("fleet deploy: one package only (%s and %s)", pkg, a);
        }
    }
    if (!pkg) return cli_usage_error("fleet deploy: which package? (nnedge fleet deploy PKG.nne --group G ...)");
    if (!group) return cli_usage_error("fleet deploy: --group G is required");
    if (!dir) return cli_usage_error("fleet deploy: --packages DIR is required (the controller's --packages)");
    if (!data != !labels) return cli_usage_error("fleet deploy: --check-data and --check-labels go together");
    if (!data && (min_top1 >= 0 || max_p50 >= 0))
        return cli_usage_error("fleet deploy: --min-top1/--max-p50-ms need --check-data and --check-labels");
    if (!broker_finish(url, &b, "deploy")) return EXIT_BAD_INPUT;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_usage_error("fleet deploy: --packages %s is not a directory", dir);
    if (sodium_init() < 0) return cli_usage_error("fleet deploy: libsodium failed to initialize");
    /* name, version and counter from the package's manifest (its signature
     * is the agents' business: they verify against their trust roots) */
    nne_pkg *p = NULL;
    nne_status s = nne_pkg_open(pkg, &p);
    if (s == NNE_OK) s = nne_pkg_verify_manifest(p, NULL, -1);
    if (s != NNE_OK) {
        nne_pkg_close(p);
        return cli_fail(s, pkg);
    }
    const nne_pkg_manifest *man = nne_pkg_get_manifest(p);
    char name[129], version[65];
    snprintf(name, sizeof name, "%s", man->model_id ? man->model_id : "");
    snprintf(version, sizeof version, "%s", man->semver ? man->semver : "");
    uint64_t counter = man->counter;
    nne_pkg_close(p);
    if (!name[0] || !version[0] || strlen(name) > 128 || strlen(version) > 64)
        return cli_usage_error("fleet deploy: %s: the manifest needs a name (<= 128 bytes) and a version (<= 64)", pkg);
    char hex[65];
    uint64_t bytes;
    if (!ctl_file_blake2b(pkg, hex, &bytes)) return cli_usage_error("fleet deploy: %s: %s", pkg, strerror(errno));
    char fname[256], sname[80], sver[80], err[600], sub[4200], rel[300], drel[300] = "", lrel[300] = "";
    safe_part(name, sname, sizeof sname);
    safe_part(version, sver, sizeof sver);
    snprintf(fname, sizeof fname, "%s-%s-%.16s.nne", sname, sver, hex);
    snprintf(sub, sizeof sub, "%s/packages", dir);
    if (!copy_into(pkg, sub, fname, err, sizeof err)) return cli_usage_error("fleet deploy: %s", err);
    snprintf(rel, sizeof rel, "packages/%s", fname);
    if (data && (!copy_data(data, dir, drel, sizeof drel, "deploy") || !copy_data(labels, dir, lrel, sizeof lrel, "deploy")))
        return EXIT_BAD_INPUT;

    json_t *req = json_object();
    json_object_set_new(req, "op", json_string("deploy"));
    json_object_set_new(req, "group", json_string(group));
    json_t *pk = json_object();
    json_object_set_new(pk, "file", json_string(rel));
    json_object_set_new(pk, "name", json_string(name));
    json_object_set_new(pk, "version", json_string(version));
    json_object_set_new(pk, "counter", json_integer((json_int_t)counter));
    json_object_set_new(pk, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(pk, "blake2b", json_string(hex));
    json_object_set_new(req, "package", pk);
    if (data) {
        json_t *k = json_object();
        json_object_set_new(k, "data", json_string(drel));
        json_object_set_new(k, "labels", json_string(lrel));
        if (min_top1 >= 0) json_object_set_new(k, "min_top1", json_real(min_top1));
        if (max_p50 >= 0) json_object_set_new(k, "max_p50_ms", json_real(max_p50));
        json_object_set_new(req, "check", k);
    }
    json_object_set_new(req, "canary", json_integer(canary));
    json_object_set_new(req, "rate", json_integer(rate));
    json_object_set_new(req, "abort_threshold", json_real(thr));
    json_object_set_new(req, "timeout_s", json_integer(timeout_s));
    if (!json_object_get(req, "package")) { /* an allocation failed on the way */
        json_decref(req);
        return EXIT_INTERNAL;
    }
    client c = {.follow = wait, .json = json, .want_ctl = 1};
    int rc;
    if (cl_open(&c, &b, "nnedge/fleet/event", "deploy", timeout_s)) {
        /* Right after a broker restart the controller may not have
         * reconnected and subscribed yet (the broker would drop the request):
         * wait up to --answer-timeout-s for a sign of it first. */
        int64_t end = fleet_mono_ms() + answer_s * 1000;
        while (!c.ctl_live && fleet_mono_ms() < end)
            if (mosquitto_loop(c.m, 100, 1) != MOSQ_ERR_SUCCESS) break;
        rc = cl_request(&c, req, answer_s, "deploy");
    } else {
        json_decref(req);
        rc = EXIT_BAD_INPUT;
    }
    cl_close(&c);
    return rc;
}

static int fleet_abort(int argc, char **argv) {
    fleet_broker b = {0};
    const char *url = NULL, *id = NULL;
    long answer_s = 10;
    int bad = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (broker_option(argc, argv, &i, &b, &url, &bad)) {
            if (bad) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--answer-timeout-s") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 1, 3600, &answer_s))
                return cli_usage_error("fleet abort: --answer-timeout-s must be 1..3600");
        } else if (a[0] == '-') {
            return cli_usage_error("fleet abort: unknown option %s (nnedge fleet --help)", a);
        } else if (!id) {
            id = a;
        } else {
            return cli_usage_error("fleet abort: one deployment only");
        }
    }
    if (!id || !ctl_name_ok(id) || strlen(id) > 31)
        return cli_usage_error("fleet abort: which deployment? (nnedge fleet abort d-N --broker URL)");
    if (!broker_finish(url, &b, "abort")) return EXIT_BAD_INPUT;
    json_t *req = json_object();
    json_object_set_new(req, "op", json_string("abort"));
    json_object_set_new(req, "deployment", json_string(id));
    client c = {0};
    int rc = cl_open(&c, &b, "nnedge/fleet/event", "abort", 0) ? cl_request(&c, req, answer_s, "abort")
                                                             : (json_decref(req), EXIT_BAD_INPUT);
    cl_close(&c);
    return rc;
}

static const char *jstr(const json_t *o, const char *k, const char *dflt) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

static void print_status(const json_t *s) {
    int64_t now = fleet_now_ms();
    json_t *nodes = json_object_get(s, "nodes"), *deps = json_object_get(s, "deployments"), *x;
    size_t i;
    printf("%-20s %-12s %-8s %-5s %-8s %-6s %-28s %-9s %s\n", "NODE", "GROUP", "STATUS", "SERVE", "HAPROXY", "WEIGHT",
           "MODEL", "SEEN", "LOAD");
    json_array_foreach(nodes, i, x) {
        char model[96] = "-", seen[24] = "-", load[96] = "-";
        json_t *cur = json_object_get(x, "current"), *l = json_object_get(x, "load");
        if (json_is_object(cur))
            snprintf(model, sizeof model, "%s %s (%lld)", jstr(cur, "name", "?"), jstr(cur, "version", "?"),
                     (long long)json_integer_value(json_object_get(cur, "counter")));
        json_t *ls = json_object_get(x, "last_seen_ms");
        if (json_is_integer(ls)) snprintf(seen, sizeof seen, "%.1fs ago", (double)(now - json_integer_value(ls)) / 1000);
        if (json_is_object(l)) {
            json_t *p99 = json_object_get(l, "p99_ms");
            snprintf(load, sizeof load, "load1 %.2f queue %lld p99 %s", json_number_value(json_object_get(l, "load1")),
                     (long long)json_integer_value(json_object_get(l, "queue")), json_is_number(p99) ? "" : "-");
            if (json_is_number(p99))
                snprintf(load + strlen(load), sizeof load - strlen(load), "%.2f ms", json_number_value(p99));
        }
        printf("%-20s %-12s %-8s %-5s %-8s %-6lld %-28s %-9s %s\n", jstr(x, "id", "?"), jstr(x, "group", ""),
               jstr(x, "status", "?"), jstr(x, "serve", "-"), jstr(x, "haproxy", "-"),
               (long long)json_integer_value(json_object_get(x, "weight")), model, seen, load);
    }
    if (json_array_size(deps)) printf("\n%-8s %-12s %-28s %-8s %s\n", "DEPLOY", "GROUP", "PACKAGE", "STATE", "NODES");
    json_array_foreach(deps, i, x) {
        char pk[96] = "-", ns[1024] = "";
        json_t *p = json_object_get(x, "package"), *nn = json_object_get(x, "nodes"), *rb = json_object_get(x, "rollback");
        if (json_is_object(p))
            snprintf(pk, sizeof pk, "%s %s (%lld)", jstr(p, "name", "?"), jstr(p, "version", "?"),
                     (long long)json_integer_value(json_object_get(p, "counter")));
        const char *k;
        json_t *v;
        json_object_foreach(nn, k, v) {
            size_t len = strlen(ns);
            const char *r = jstr(rb, k, NULL);
            snprintf(ns + len, sizeof ns - len, "%s%s=%s%s%s", len ? " " : "", k, json_string_value(v) ? json_string_value(v) : "?",
                     r ? ",rollback:" : "", r ? r : "");
        }
        printf("%-8s %-12s %-28s %-8s %s\n", jstr(x, "id", "?"), jstr(x, "group", ""), pk, jstr(x, "state", "?"), ns);
        if (json_is_string(json_object_get(x, "reason"))) printf("         reason: %s\n", jstr(x, "reason", ""));
    }
}

static int fleet_status(int argc, char **argv) {
    fleet_broker b = {0};
    const char *url = NULL;
    int json = 0, bad = 0;
    long wait_s = 3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (broker_option(argc, argv, &i, &b, &url, &bad)) {
            if (bad) return EXIT_BAD_INPUT;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--answer-timeout-s") == 0) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 1, 3600, &wait_s))
                return cli_usage_error("fleet status: --answer-timeout-s must be 1..3600");
        } else {
            return cli_usage_error("fleet status: unknown option %s (nnedge fleet --help)", a);
        }
    }
    if (!broker_finish(url, &b, "status")) return EXIT_BAD_INPUT;
    client c = {0};
    int rc = EXIT_BAD_INPUT;
    if (cl_open(&c, &b, "nnedge/fleet/status", "status", 0)) {
        int64_t end = fleet_mono_ms() + wait_s * 1000;
        while (!c.status && fleet_mono_ms() < end)
            if (mosquitto_loop(c.m, 100, 1) != MOSQ_ERR_SUCCESS) break;
        json_t *s = c.status ? json_loads(c.status, 0, NULL) : NULL;
        if (!c.status) {
            cli_usage_error("fleet status: no status retained on the broker in %ld s (is `nnedge fleet run` running?)",
                            wait_s);
            rc = EXIT_INTERNAL;
        } else if (!json_is_object(s)) {
            cli_usage_error("fleet status: the retained status is not a JSON object");
            rc = EXIT_INTERNAL;
        } else {
            if (json) printf("%s\n", c.status);
            else print_status(s);
            rc = EXIT_OK;
        }
        json_decref(s);
    }
    cl_close(&c);
    return rc;
}

int cli_fleet(int argc, char **argv) {
    if (argc < 2) return cli_usage_error("fleet: which one? run, deploy, abort or status (nnedge fleet --help)");
    const char *sub = argv[1];
    if (strcmp(sub, "run") == 0) return fleet_run(argc - 2, argv + 2);
    if (strcmp(sub, "deploy") == 0) return fleet_deploy(argc - 2, argv + 2);
    if (strcmp(sub, "abort") == 0) return fleet_abort(argc - 2, argv + 2);
    if (strcmp(sub, "status") == 0) return fleet_status(argc - 2, argv + 2);
    return cli_usage_error("fleet: unknown sub-command %s (run, deploy, abort, status)", sub);
}
