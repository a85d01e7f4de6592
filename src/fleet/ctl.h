/*
 * ctl.h - the fleet controller's modules (`nnedge fleet`, docs/fleet.md §6):
 *   ctl_mqtt.c    the broker connection (on fleet.h's fleet_broker); name
 *                 checks; small JSON field readers (jansson)
 *   haproxy.c     HAProxy runtime API client (admin unix socket)
 *   pkgserve.c    GET-only file server for --packages DIR (libmicrohttpd)
 *   controller.c  the daemon: node registry, HAProxy state, deployments
 * Built into the nnedge command only. Node ids and the clocks are the
 * agent's (mqtt.c, fleet.h); the broker connection here is the controller's.
 */
#ifndef NNE_FLEET_CTL_H
#define NNE_FLEET_CTL_H

#include "fleet/fleet.h" /* node ids (fleet_id_ok) and the clocks (fleet_now_ms, fleet_mono_ms) */

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct mosquitto;

/* ------------------------------------------------------------ broker -- */
/* The broker is a fleet_broker (fleet.h: fleet_broker_parse_url, and the
 * password file read when a client is set up). */
/* Credentials and TLS on a new client (fleet_mqtt_configure), MQTT 3.1.1;
 * 0 with a message on error. */
int ctl_broker_setup(struct mosquitto *m, const fleet_broker *b, char *err, size_t cap);
/* Connect (blocking, keepalive in seconds); 0 with a message on error. */
int ctl_broker_connect(struct mosquitto *m, const fleet_broker *b, int keepalive, char *err, size_t cap);

/* A node id: fleet_id_ok (fleet.h). A group, deployment id, HAProxy backend or server name:
 * [A-Za-z0-9_.:-]{1,64}, not starting with '.' (safe in a HAProxy command
 * and in a file name). */
int ctl_name_ok(const char *s);

/* JSON field readers: each returns 1 when the field is present with the
 * right type and range, 0 when absent or null, -1 when present but wrong. */
int ctl_json_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out);
int ctl_json_num(const json_t *o, const char *key, double lo, double hi, double *out);
int ctl_json_str(const json_t *o, const char *key, size_t max_len, const char **out);

/* BLAKE2b-256 of a file as 64 hex characters, and its size in bytes. 0 on error. */
int ctl_file_blake2b(const char *path, char hex[65], uint64_t *bytes);

/* ----------------------------------------------------------- haproxy -- */
/* Send one command to HAProxy's stats socket (`level admin`) and read the
 * whole answer (HAProxy closes after one command). 0 on a socket error
 * (message in out); 1 with the answer in out (truncated to cap). */
int hap_command(const char *socket_path, const char *cmd, char *out, size_t cap, int timeout_ms);
/* `set server B/S state ready|drain|maint`; 1 when HAProxy accepted it,
 * else 0 with its answer or the socket error in err (*sock_err set to 1
 * for a socket error: HAProxy unreachable or silent). */
int hap_set_state(const char *socket_path, const char *backend, const char *server, const char *state, char *err,
                  size_t cap, int *sock_err);
/* `set server B/S weight N%` (percent of the configured weight). */
int hap_set_weight_pct(const char *socket_path, const char *backend, const char *server, int pct, char *err,
                       size_t cap, int *sock_err);

/* --------------------------------------------------------- pkgserve -- */
typedef struct pkgsrv pkgsrv;
/* Serve the regular files under dir over HTTP GET/HEAD at addr ("HOST:PORT",
 * port 0 picks one): URL path /a/b.nne is dir/a/b.nne. Names are checked
 * component by component ([A-Za-z0-9._-], no leading '.'), every directory
 * and the file are opened with O_NOFOLLOW below dir (no symlink is
 * followed), anything else is 404. NULL with a message on error. */
pkgsrv *pkgsrv_start(const char *dir, const char *addr, char *err, size_t cap);
int pkgsrv_port(const pkgsrv *s);
void pkgsrv_stop(pkgsrv *s);

/* ------------------------------------------------------- controller -- */
typedef struct ctl_options {
    fleet_broker broker;
    const char *packages;     /* --packages DIR */
    const char *http;         /* --http ADDR:PORT (default 127.0.0.1:8700) */
    const char *public_url;   /* --public-url URL: what agents fetch from */
    const char *haproxy;      /* --haproxy SOCKET */
    const char *backend;      /* --backend NAME */
    const char *state_file;   /* --state FILE */
    long offline_after_ms;    /* default 3000 */
    long overload_queue;      /* 0: off */
    double overload_p99_ms;   /* 0: off */
    int overload_weight_pct;  /* weight while overloaded (default 10) */
    long status_ms;           /* status period (default 1000) */
    int quiet;                /* no timeline on stdout */
    const char *client_id;    /* --client-id (default nnedge-fleet-controller) */
} ctl_options;

/* Run the controller until SIGINT/SIGTERM. Returns an exit code. */
int ctl_run(const ctl_options *o);

/* For tests/fuzz/fuzz_fleet.c: a controller without broker or HAProxy;
 * each message is handled, then the timers run and the status is built. */
typedef struct ctl ctl;
ctl *ctl_fuzz_create(const ctl_options *o);
void ctl_fuzz_message(ctl *c, const char *topic, const void *payload, int len, int retained);
/* Load o->state_file (as `fleet run` does at start); 0 when it is refused. */
int ctl_fuzz_load(ctl *c);
void ctl_fuzz_destroy(ctl *c);

#endif
