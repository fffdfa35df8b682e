/* metrics_http.h - GET /metrics over HTTP for Prometheus, served by
 * libmicrohttpd on a thread of its own (started after signals_block(), so it
 * takes no signals). Other paths answer 404, other methods 405, with a
 * JSON body. */
#ifndef COMMON_METRICS_HTTP_H
#define COMMON_METRICS_HTTP_H

typedef struct metrics_http metrics_http;

/* Listen on "host:port", "[v6addr]:port" or ":port" (every address). NULL
 * after logging why (a bad address, a port in use). */
metrics_http *metrics_http_start(const char *addr);

/* What a daemon's --metrics-listen does: with an address, add the process
 * metrics (metrics_process.h) and start serving into *out; without one
 * (NULL or ""), *out = NULL. 0, or -1 after logging why. */
int metrics_http_serve(const char *addr, metrics_http **out);

/* The port bound (useful with port 0). */
int metrics_http_port(const metrics_http *h);

/* Stop serving and free; NULL is a no-op. */
void metrics_http_stop(metrics_http *h);

#endif
