/*
 * mqtt.c - broker URLs, connection options (TLS, client certificate, user
 * and password file), topic names and JSON payloads of docs/fleet.md, shared
 * by the agent and the controller (libmosquitto, jansson).
 */
#include "fleet/fleet.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t fleet_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fleet_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fleet_id_ok(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void fleet_topic(char *buf, size_t cap, const char *kind, const char *id, const char *sub) {
    if (sub) snprintf(buf, cap, "nnedge/%s/%s/%s", kind, id, sub);
    else snprintf(buf, cap, "nnedge/%s/%s", kind, id);
}

/* host[:port] after the scheme; host may be [v6]. */
static int parse_hostport(const char *s, char *host, size_t host_cap, int *port, int def_port, char *err,
                          size_t err_cap, const char *url) {
    const char *end = s + strcspn(s, "/?#");
    const char *colon = NULL, *h0 = s, *h1;
    if (*s == '[') {
        const char *rb = memchr(s, ']', (size_t)(end - s));
        if (!rb) { snprintf(err, err_cap, "%s: unclosed '[' in the host", url); return 0; }
        h0 = s + 1;
        h1 = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') { snprintf(err, err_cap, "%s: expected ':PORT' after ']'", url); return 0; }
            colon = rb + 1;
        }
    } else {
        colon = memchr(s, ':', (size_t)(end - s));
        h1 = colon ? colon : end;
    }
    size_t hn = (size_t)(h1 - h0);
    if (hn == 0 || hn >= host_cap) { snprintf(err, err_cap, "%s: no host, or a host over %zu bytes", url, host_cap - 1); return 0; }
    memcpy(host, h0, hn);
    host[hn] = 0;
    *port = def_port;
    if (colon) {
        char *e;
        errno = 0;
        long p = strtol(colon + 1, &e, 10);
        if (e == colon + 1 || e != end || errno || p < 1 || p > 65535) {
            snprintf(err, err_cap, "%s: the port must be 1..65535", url);
            return 0;
        }
        *port = (int)p;
    }
    if (*end && strcmp(end, "/") != 0) { snprintf(err, err_cap, "%s: nothing may follow host:port", url); return 0; }
    return 1;
}

int fleet_broker_parse_url(const char *url, fleet_broker *b, char *err, size_t err_cap) {
    const char *rest;
    if (!strncmp(url, "mqtt://", 7)) b->tls = 0, rest = url + 7;
    else if (!strncmp(url, "mqtts://", 8)) b->tls = 1, rest = url + 8;
    else {
        snprintf(err, err_cap, "--broker %s: expected mqtt://HOST:PORT or mqtts://HOST:PORT", url);
        return 0;
    }
    return parse_hostport(rest, b->host, sizeof b->host, &b->port, b->tls ? 8883 : 1883, err, err_cap, url);
}

int fleet_read_secret(const char *path, char *out, size_t cap, char *err, size_t err_cap) {
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, err_cap, "%s: %s", path, strerror(errno)); return 0; }
    int ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    if (!ok) { snprintf(err, err_cap, "%s: empty", path); return 0; }
    size_t n = strlen(out);
    if (n == cap - 1 && out[n - 1] != '\n') { snprintf(err, err_cap, "%s: the first line is over %zu bytes", path, cap - 2); return 0; }
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = 0;
    if (!n) { snprintf(err, err_cap, "%s: the first line is empty", path); return 0; }
    return 1;
}

int fleet_mqtt_configure(struct mosquitto *m, const fleet_broker *b, char *err, size_t err_cap) {
    int rc;
    if (b->tls || b->ca) {
        rc = mosquitto_tls_set(m, b->ca, b->ca ? NULL : "/etc/ssl/certs", b->cert, b->key, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, err_cap, "TLS setup (--ca %s, --cert %s): %s", b->ca ? b->ca : "(system)",
                     b->cert ? b->cert : "(none)", mosquitto_strerror(rc));
            return 0;
        }
    }
    if (b->password_file || b->user) {
        char pw[1024] = "";
        if (b->password_file && !fleet_read_secret(b->password_file, pw, sizeof pw, err, err_cap)) return 0;
        rc = mosquitto_username_pw_set(m, b->user, b->password_file ? pw : NULL);
        memset(pw, 0, sizeof pw);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, err_cap, "user/password: %s", mosquitto_strerror(rc));
            return 0;
        }
    }
    return 1;
}

int fleet_json_publish(struct mosquitto *m, const char *topic, json_t *j, int qos, int retain, int *mid) {
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s) return MOSQ_ERR_NOMEM;
    int rc = mosquitto_publish(m, mid, topic, (int)strlen(s), s, qos, retain != 0);
    free(s);
    return rc;
}

json_t *fleet_json_parse_msg(const void *payload, int len, char *err, size_t err_cap) {
    json_error_t je;
    if (len <= 0) { snprintf(err, err_cap, "empty payload"); return NULL; }
    json_t *j = json_loadb(payload, (size_t)len, JSON_REJECT_DUPLICATES, &je);
    if (!j) { snprintf(err, err_cap, "not JSON: %s (at byte %d)", je.text, je.position); return NULL; }
    json_t *v = json_object_get(j, "v");
    if (!json_is_object(j) || !json_is_integer(v) || json_integer_value(v) != 1) {
        snprintf(err, err_cap, "expected a JSON object with \"v\": 1");
        json_decref(j);
        return NULL;
    }
    return j;
}
