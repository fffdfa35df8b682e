/* metrics.h - a small process-wide Prometheus metrics registry: counters,
 * gauges and histograms, with or without labels, rendered in the text
 * exposition format (version 0.0.4) by metrics_render().
 *
 *   static metric *served;
 *   served = metrics_counter("fib_served_total", "Answers sent.");
 *   metric_inc(served);                           // any thread, lock-free
 *
 *   metric_family *f = metrics_family("rpc_seconds", METRIC_HISTOGRAM,
 *       "Time per call.", "method,code", metrics_latency_buckets, 0);
 *   const char *v[] = {"GetFib", "OK"};
 *   metric_observe_ns(metrics_series(f, v), ns);  // look up once, keep it
 *
 * Updates are relaxed atomic operations on the series, so the hot path
 * takes no lock; creating a family or a series takes the registry's lock
 * (callers keep the series pointer). Series live until the process exits.
 * Label values must come from small fixed sets (method names, status
 * codes): never a request's own data, such as n, which is unbounded.
 *
 * Values that already exist elsewhere (a cache's counters, a queue's
 * length, /proc) are read when scraped, through metrics_func(). */
#ifndef COMMON_METRICS_H
#define COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;

typedef struct metric_family metric_family;
typedef struct metric metric;

/* Upper bounds in seconds for latency histograms: 100 us .. 10 s. */
extern const double metrics_latency_buckets[];
#define METRICS_LATENCY_NBUCKETS 16

/* A family: `labels` is a comma-separated list of label names, or NULL;
 * `buckets` (ascending upper bounds, without +Inf) only for histograms,
 * nbuckets 0 meaning metrics_latency_buckets. Registering a name twice
 * returns the first family (its type and labels must match: abort). */
metric_family *metrics_family(const char *name, metric_type type,
                              const char *help, const char *labels,
                              const double *buckets, size_t nbuckets);

/* The series with these label values (one per label name), created at the
 * first call. */
metric *metrics_series(metric_family *f, const char *const *values);

/* Shorthands for unlabelled series. */
metric *metrics_counter(const char *name, const char *help);
metric *metrics_gauge(const char *name, const char *help);
metric *metrics_histogram(const char *name, const char *help);

void metric_inc(metric *m);
void metric_add(metric *m, uint64_t v);        /* counters and gauges */
void metric_set(metric *m, int64_t v);         /* gauges */
void metric_dec(metric *m);                    /* gauges */
void metric_observe_ns(metric *m, int64_t ns); /* histograms, in seconds */

/* A counter or gauge without labels whose value is fn(ud), read at each
 * scrape (from any thread: fn must be thread-safe). */
void metrics_func(const char *name, metric_type type, const char *help,
                  double (*fn)(void *ud), void *ud);

/* The whole registry in the text format, malloc'd; *len its length. */
char *metrics_render(size_t *len);

/* The current value of a counter or gauge series (for tests). */
int64_t metric_value(const metric *m);

#endif
