/* metrics.c - the metrics registry and its text rendering (metrics.h).
 *
 * Families are kept in registration order, series in creation order, so a
 * scrape lists them in a stable order. Each family finds its series by the
 * joined label values in a uthash table. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include <uthash.h>

#define METRICS_MAX_LABELS 8

const double metrics_latency_buckets[METRICS_LATENCY_NBUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

struct metric {
    metric_family    *family;
    char             *key;          /* label values joined by '\x1f' */
    char            **values;
    atomic_int_fast64_t value;      /* counter or gauge */
    atomic_uint_fast64_t count;     /* histogram: observations */
    atomic_uint_fast64_t sum_ns;    /* histogram: their sum */
    metric           *next;         /* creation order */
    UT_hash_handle    hh;
    atomic_uint_fast64_t buckets[]; /* histogram: per bucket, not
                                       cumulative */
};

struct metric_family {
    char          *name;
    char          *help;
    metric_type    type;
    size_t         nlabels;
    char          *labels[METRICS_MAX_LABELS];
    size_t         nbuckets;
    double        *bounds;          /* seconds */
    int64_t       *bounds_ns;
    double       (*fn)(void *ud);   /* metrics_func(): no series */
    void          *ud;
    metric        *series, *last;
    metric        *by_key;          /* uthash */
    metric_family *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static metric_family *families, *families_last;

static metric_family *find_family(const char *name) {
    for (metric_family *f = families; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

static void add_family(metric_family *f) {
    if (families_last) families_last->next = f;
    else families = f;
    families_last = f;
}

metric_family *metrics_family(const char *name, metric_type type,
                              const char *help, const char *labels,
                              const double *buckets, size_t nbuckets) {
    pthread_mutex_lock(&lock);
    metric_family *f = find_family(name);
    if (f != NULL) {
        pthread_mutex_unlock(&lock);
        if (f->type != type || f->fn != NULL) {
            log_msg(LOG_ERROR, "metrics_conflict",
                    "metric %s registered twice with different types", name);
            abort();
        }
        return f;
    }
    f = xcalloc(1, sizeof(*f));
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    f->type = type;
    if (labels != NULL && *labels) {
        char *copy = xstrdup(labels), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            if (f->nlabels == METRICS_MAX_LABELS) abort();
            f->labels[f->nlabels++] = xstrdup(t);
        }
        free(copy);
    }
    if (type == METRIC_HISTOGRAM) {
        if (nbuckets == 0) {
            buckets = metrics_latency_buckets;
            nbuckets = METRICS_LATENCY_NBUCKETS;
        }
        f->nbuckets = nbuckets;
        f->bounds = xmalloc(nbuckets * sizeof(*f->bounds));
        f->bounds_ns = xmalloc(nbuckets * sizeof(*f->bounds_ns));
        for (size_t i = 0; i < nbuckets; i++) {
            f->bounds[i] = buckets[i];
            f->bounds_ns[i] = (int64_t)llround(buckets[i] * 1e9);
        }
    }
    add_family(f);
    pthread_mutex_unlock(&lock);
    return f;
}

metric *metrics_series(metric_family *f, const char *const *values) {
    char key[512];
    size_t len = 0;
    for (size_t i = 0; i < f->nlabels; i++) {
        int n = snprintf(key + len, sizeof(key) - len, "%s%s",
                         i ? "\x1f" : "", values[i]);
        if (n < 0 || (size_t)n >= sizeof(key) - len) abort();
        len += (size_t)n;
    }
    key[len] = '\0';

    pthread_mutex_lock(&lock);
    metric *m = NULL;
    HASH_FIND(hh, f->by_key, key, len, m);
    if (m == NULL) {
        size_t nb = f->type == METRIC_HISTOGRAM ? f->nbuckets : 0;
        m = xcalloc(1, sizeof(*m) + nb * sizeof(m->buckets[0]));
        m->family = f;
        m->key = xstrdup(key);
        m->values = xcalloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
        for (size_t i = 0; i < f->nlabels; i++)
            m->values[i] = xstrdup(values[i]);
        HASH_ADD_KEYPTR(hh, f->by_key, m->key, len, m);
        if (f->last) f->last->next = m;
        else f->series = m;
        f->last = m;
    }
    pthread_mutex_unlock(&lock);
    return m;
}

static metric *unlabelled(const char *name, metric_type type,
                          const char *help) {
    return metrics_series(metrics_family(name, type, help, NULL, NULL, 0),
                          NULL);
}

metric *metrics_counter(const char *name, const char *help) {
    return unlabelled(name, METRIC_COUNTER, help);
}

metric *metrics_gauge(const char *name, const char *help) {
    return unlabelled(name, METRIC_GAUGE, help);
}

metric *metrics_histogram(const char *name, const char *help) {
    return unlabelled(name, METRIC_HISTOGRAM, help);
}

void metric_inc(metric *m) {
    atomic_fetch_add_explicit(&m->value, 1, memory_order_relaxed);
}

void metric_dec(metric *m) {
    atomic_fetch_sub_explicit(&m->value, 1, memory_order_relaxed);
}

void metric_add(metric *m, uint64_t v) {
    atomic_fetch_add_explicit(&m->value, (int64_t)v, memory_order_relaxed);
}

void metric_set(metric *m, int64_t v) {
    atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

int64_t metric_value(const metric *m) {
    return atomic_load_explicit(&m->value, memory_order_relaxed);
}

void metric_observe_ns(metric *m, int64_t ns) {
    const metric_family *f = m->family;
    size_t i = 0;
    if (ns < 0) ns = 0;
    while (i < f->nbuckets && ns > f->bounds_ns[i]) i++;
    if (i < f->nbuckets)
        atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_ns, (uint64_t)ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

void metrics_func(const char *name, metric_type type, const char *help,
                  double (*fn)(void *ud), void *ud) {
    pthread_mutex_lock(&lock);
    if (find_family(name) != NULL) {
        log_msg(LOG_ERROR, "metrics_conflict", "metric %s registered twice",
                name);
        abort();
    }
    metric_family *f = xcalloc(1, sizeof(*f));
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    f->type = type;
    f->fn = fn;
    f->ud = ud;
    add_family(f);
    pthread_mutex_unlock(&lock);
}

/* --- rendering ------------------------------------------------------------ */

typedef struct {
    char  *buf;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->buf = xrealloc(b->buf, b->cap);
    }
}

/* A label value or help text, escaped as the format asks: backslash and
 * newline always, the double quote in label values. */
static void sb_escaped(sbuf *b, const char *s, bool quote) {
    for (; *s; s++) {
        if (*s == '\\') sb_printf(b, "\\\\");
        else if (*s == '\n') sb_printf(b, "\\n");
        else if (*s == '"' && quote) sb_printf(b, "\\\"");
        else sb_printf(b, "%c", *s);
    }
}

/* {a="x",b="y"} with an optional extra label (le), or nothing. */
static void sb_labels(sbuf *b, const metric *m, const char *le) {
    const metric_family *f = m->family;
    if (f->nlabels == 0 && le == NULL) return;
    sb_printf(b, "{");
    for (size_t i = 0; i < f->nlabels; i++) {
        sb_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        sb_escaped(b, m->values[i], true);
        sb_printf(b, "\"");
    }
    if (le) sb_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    sb_printf(b, "}");
}

static const char *type_name(metric_type t) {
    return t == METRIC_COUNTER ? "counter"
         : t == METRIC_GAUGE   ? "gauge" : "histogram";
}

static void render_histogram(sbuf *b, const metric *m) {
    const metric_family *f = m->family;
    uint64_t cum = 0;
    char le[32];
    /* count first: a scrape racing an observation never shows a bucket
     * above the count */
    uint64_t count = atomic_load_explicit(&m->count, memory_order_relaxed);
    uint64_t sum = atomic_load_explicit(&m->sum_ns, memory_order_relaxed);
    for (size_t i = 0; i < f->nbuckets; i++) {
        cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        if (cum > count) cum = count;
        snprintf(le, sizeof(le), "%g", f->bounds[i]);
        sb_printf(b, "%s_bucket", f->name);
        sb_labels(b, m, le);
        sb_printf(b, " %llu\n", (unsigned long long)cum);
    }
    sb_printf(b, "%s_bucket", f->name);
    sb_labels(b, m, "+Inf");
    sb_printf(b, " %llu\n", (unsigned long long)count);
    sb_printf(b, "%s_sum", f->name);
    sb_labels(b, m, NULL);
    sb_printf(b, " %.9f\n", (double)sum / 1e9);
    sb_printf(b, "%s_count", f->name);
    sb_labels(b, m, NULL);
    sb_printf(b, " %llu\n", (unsigned long long)count);
}

static void render_family(sbuf *b, const metric_family *f) {
    if (f->fn == NULL && f->series == NULL) return;
    sb_printf(b, "# HELP %s ", f->name);
    sb_escaped(b, f->help, false);
    sb_printf(b, "\n# TYPE %s %s\n", f->name, type_name(f->type));
    if (f->fn != NULL) {
        double v = f->fn(f->ud);
        if (v == floor(v) && fabs(v) < 9e15)
            sb_printf(b, "%s %.0f\n", f->name, v);
        else
            sb_printf(b, "%s %.6f\n", f->name, v);
        return;
    }
    for (const metric *m = f->series; m; m = m->next) {
        if (f->type == METRIC_HISTOGRAM) {
            render_histogram(b, m);
            continue;
        }
        sb_printf(b, "%s", f->name);
        sb_labels(b, m, NULL);
        sb_printf(b, " %lld\n", (long long)metric_value(m));
    }
}

char *metrics_render(size_t *len) {
    sbuf b = {xmalloc(4096), 0, 4096};
    b.buf[0] = '\0';
    pthread_mutex_lock(&lock);
    for (const metric_family *f = families; f; f = f->next)
        render_family(&b, f);
    pthread_mutex_unlock(&lock);
    *len = b.len;
    return b.buf;
}
