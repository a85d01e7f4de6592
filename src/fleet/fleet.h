/*
 * fleet.h - code shared by `nnedge agent` (build/nnedge-agent, started by
 * `nnedge agent`) and `nnedge fleet` (the controller): broker URLs and
 * connection options (libmosquitto), the topics and JSON payloads of
 * docs/fleet.md (jansson), HTTP requests and downloads (libcurl: in the
 * nnedge command only, never in the agent's own process), and a small
 * loopback HTTP/1.1 client (the agent's: no libcurl, see agent.c).
 *
 * Every function that can fail returns 0 and writes one line into err
 * (err_cap bytes); 1 on success. Nothing here keeps a pointer to the
 * caller's memory past the call unless it says so.
 */
#ifndef NNE_FLEET_H
#define NNE_FLEET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct mosquitto;

/* ------------------------------------------------------------ broker -- */

/* Where and how to connect (fleet_broker_parse_url fills host/port/tls;
 * the caller sets the rest; NULL means not given). */
typedef struct fleet_broker {
    char host[256];
    int port;                  /* 1883 (mqtt://) or 8883 (mqtts://) when the URL has none */
    int tls;                   /* mqtts:// or --ca given */
    const char *ca;            /* --ca CA.pem: the broker's CA (mqtts without it: /etc/ssl/certs) */
    const char *cert, *key;    /* --cert/--key: client certificate, optional, together */
    const char *user;          /* --user (the agent: defaults to its node id) */
    const char *password_file; /* --password-file: the first line is the password */
    int keepalive_s;           /* MQTT keepalive, seconds */
} fleet_broker;

/* "mqtt://host[:port]" or "mqtts://host[:port]" (host: a name, an IPv4
 * address or [IPv6]). */
int fleet_broker_parse_url(const char *url, fleet_broker *b, char *err, size_t err_cap);
/* Apply TLS and credentials to a handle made by mosquitto_new (before
 * mosquitto_connect). Reads the password file. */
int fleet_mqtt_configure(struct mosquitto *m, const fleet_broker *b, char *err, size_t err_cap);
/* The first line of a file (a password, a token), without its line end;
 * refused when empty or over cap-1 bytes. */
int fleet_read_secret(const char *path, char *out, size_t cap, char *err, size_t err_cap);
/* A node id: [A-Za-z0-9_-]{1,64} (docs/fleet.md section 2). */
int fleet_id_ok(const char *id);
/* Wall-clock and monotonic milliseconds. */
int64_t fleet_now_ms(void);
int64_t fleet_mono_ms(void);

/* Topics: fleet_topic(buf, cap, "node", id, "birth") = "nnedge/node/<id>/birth";
 * kind "cmd" with sub NULL = "nnedge/cmd/<id>". */
void fleet_topic(char *buf, size_t cap, const char *kind, const char *id, const char *sub);

/* Publish j (compact JSON) on topic; returns the libmosquitto status
 * (MOSQ_ERR_SUCCESS = 0). mid may be NULL. Thread-safe as libmosquitto is. */
int fleet_json_publish(struct mosquitto *m, const char *topic, json_t *j, int qos, int retain, int *mid);
/* Parse a payload as one JSON object carrying "v": 1; NULL (err set) otherwise. */
json_t *fleet_json_parse_msg(const void *payload, int len, char *err, size_t err_cap);

/* ------------------------------------------------ HTTP (libcurl) -- */
/* For the nnedge command (controller, `nnedge agent --fetch`). */

/* A response body (malloc'd, NUL-terminated; free p). */
typedef struct fleet_buf {
    char *p;
    size_t n, cap;
} fleet_buf;
void fleet_buf_free(fleet_buf *b);

/* Call once, before any thread makes a request. */
int fleet_http_global_init(char *err, size_t err_cap);
/* method "GET" or "POST" (body, may be NULL); bearer (may be NULL) goes
 * into "Authorization: Bearer"; at most max_bytes of response are kept
 * (more is an error); *status = the HTTP status. http:// and https:// only,
 * no redirects. ca: a CA file for https (NULL: the system's). */
int fleet_http_request(const char *method, const char *url, const char *bearer, const char *body, const char *ca,
                       long timeout_ms, size_t max_bytes, fleet_buf *out, long *status, char *err, size_t err_cap);
/* Download url (http://, https://, or file:// copied) into path (created
 * 0600, fsynced): refused when it has more than max_bytes. *bytes = its
 * size, hex = the BLAKE2b-256 of the file (64 hex digits + NUL). */
int fleet_http_download(const char *url, const char *path, uint64_t max_bytes, const char *ca, long timeout_ms,
                        uint64_t *bytes, char hex[65], char *err, size_t err_cap);
/* BLAKE2b-256 of a whole file as 64 hex digits (libsodium). */
int fleet_blake2b_file(const char *path, char hex[65], char *err, size_t err_cap);

/* ------------------------------------- loopback HTTP/1.1 (no libcurl) -- */

/* An http://host:port base URL, parsed once. */
typedef struct fleet_httpc {
    char host[256];
    int port;
    char base_path[256]; /* "" or "/prefix" */
} fleet_httpc;
int fleet_httpc_parse(const char *url, fleet_httpc *h, char *err, size_t err_cap);
/* One request (Connection: close) to h's base URL + path; body may be NULL.
 * The response body is read up to max_bytes (more is an error), handling
 * Content-Length, chunked and read-to-close bodies. */
int fleet_httpc_request(const fleet_httpc *h, const char *method, const char *path, const char *bearer,
                        const char *body, long timeout_ms, size_t max_bytes, fleet_buf *out, long *status, char *err,
                        size_t err_cap);

/* ------------------------------------------------ server /metrics -- */

#define FLEET_PROM_BUCKETS 20
#define FLEET_PROM_SERIES 32
/* One (model, version) series of the server's /metrics. */
typedef struct fleet_prom_series {
    char model[128];
    long long version;
    double requests, success, failures, memory;
    double cum[FLEET_PROM_BUCKETS];   /* nnedge_request_duration_seconds_bucket, cumulative counts */
    double bound[FLEET_PROM_BUCKETS]; /* their upper bounds, seconds (+Inf last) */
    int nb;
} fleet_prom_series;
typedef struct fleet_prom {
    fleet_prom_series s[FLEET_PROM_SERIES];
    int n;
    double queue, rss; /* nnedge_queue_length, nnedge_process_resident_memory_bytes */
    int have_queue, have_rss;
} fleet_prom;
/* Parse the text (modified: lines are cut in place) into out. */
void fleet_prom_parse(char *text, fleet_prom *out);
/* Quantile q of a cumulative histogram (counts cum over upper bounds in
 * seconds), in ms, linear within the bucket as Prometheus'
 * histogram_quantile; NAN when empty. */
double fleet_quantile_ms(const double *cum, const double *bound, int nb, double q);

/* Parse one HTTP/1.x response held whole in buf[0..n) (NUL at buf[n]):
 * status, then the body (Content-Length, chunked, or the rest) decoded in
 * place at buf[0..*body_n), NUL-terminated; refused over max_bytes. */
int fleet_http_parse_response(char *buf, size_t n, size_t max_bytes, long *status, size_t *body_n, char *err,
                              size_t err_cap);

/* -------------------------------------------------------------- agent -- */

typedef struct fleet_agent_config {
    fleet_broker broker;
    const char *id, *group;
    const char *store;           /* the crash-safe store (nnedge install --store) */
    const char *serve_repo;      /* the server's repository */
    const char *serve_url;       /* http://127.0.0.1:8001 */
    const char *admin_token_file;
    const char *trust, *key, *revoked;
    const char *haproxy_server;  /* the node's server name in HAProxy's backend (default: id) */
    int heartbeat_ms;
    const char *nnedge;          /* the nnedge command the steps run in child processes */
} fleet_agent_config;

/* Parse `nnedge agent` options (argv[0] is skipped) into c; 0 with err set on
 * a bad option. */
int fleet_agent_parse(int argc, char **argv, fleet_agent_config *c, char *err, size_t err_cap);
/* Run until SIGTERM/SIGINT; returns the process exit status. */
int fleet_agent_run(const fleet_agent_config *c);

#endif
