/* metrics_http.c - serve the registry (metrics.h) as GET /metrics over
 * HTTP with libmicrohttpd, on a thread of its own (metrics_http.h). */
#include "metrics_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "metrics_process.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
    struct MHD_Daemon *daemon;
    int                port;
};

static enum MHD_Result send_text(struct MHD_Connection *conn,
                                 unsigned int status, const char *type,
                                 char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body,
                                 MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **state) {
    (void)cls; (void)version; (void)upload_data;
    if (*state == NULL) {           /* headers only so far: wait for body */
        *state = conn;
        return MHD_YES;
    }
    *upload_data_size = 0;          /* a body is read and ignored */
    if (strcmp(url, "/metrics") != 0) {
        char *b = xstrdup("{\"error\":\"not found: try /metrics\"}\n");
        return send_text(conn, MHD_HTTP_NOT_FOUND, "application/json", b,
                         strlen(b));
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        char *b = xstrdup("{\"error\":\"method not allowed\"}\n");
        return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                         "application/json", b, strlen(b));
    }
    size_t len;
    char *body = metrics_render(&len);
    return send_text(conn, MHD_HTTP_OK, CONTENT_TYPE, body, len);
}

/* "host:port", "[v6]:port" or ":port" (every address) into a socket
 * address; 0 or -1. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss,
                      socklen_t *sslen) {
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon[1] == '\0') return -1;
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof(host)) return -1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) return -1;

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res) != 0)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

metrics_http *metrics_http_start(const char *addr) {
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (parse_addr(addr, &ss, &sslen) != 0) {
        log_msg(LOG_ERROR, "metrics_failed", "--metrics-listen %s: not "
                "host:port with a known host and a port 0..65535", addr);
        return NULL;
    }
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL,
        on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_END);
    if (d == NULL) {
        log_msg(LOG_ERROR, "metrics_failed", "cannot serve metrics on %s",
                addr);
        return NULL;
    }
    metrics_http *h = xcalloc(1, sizeof(*h));
    h->daemon = d;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    log_line l;
    if (log_begin(&l, LOG_INFO, "metrics_listening")) {
        log_str(&l, "listen", addr);
        log_int(&l, "port", h->port);
        log_end(&l);
    }
    return h;
}

int metrics_http_serve(const char *addr, metrics_http **out) {
    *out = NULL;
    if (addr == NULL || addr[0] == '\0') return 0;
    metrics_process_register();
    *out = metrics_http_start(addr);
    return *out != NULL ? 0 : -1;
}

int metrics_http_port(const metrics_http *h) {
    return h->port;
}

void metrics_http_stop(metrics_http *h) {
    if (h == NULL) return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
