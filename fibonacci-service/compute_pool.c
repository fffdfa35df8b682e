/* compute_pool.c - threads running queued jobs: a ring buffer of jobs under
 * one mutex, a condition variable for the idle threads. */
#include "compute_pool.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

#define COMPUTE_NICE 10

typedef struct {
    compute_job_fn fn;
    void          *arg;
} job;

struct compute_pool {
    pthread_mutex_t lock;
    pthread_cond_t  ready;      /* a job was queued, or stopping */
    job            *ring;
    size_t          cap, head, len;
    size_t          limit;      /* queue_max: new work beyond it refused */
    bool            stopping;
    int             nthreads;
    pthread_t      *threads;
};

static void *pool_main(void *arg) {
    compute_pool *p = arg;
    /* below the server threads: when the cores are all computing, a cheap
     * call still gets one at once (raising one's nice needs no privilege) */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), COMPUTE_NICE) != 0)
        log_msg(LOG_WARN, "compute_pool", "setpriority: %s", strerror(errno));
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->len == 0 && !p->stopping)
            pthread_cond_wait(&p->ready, &p->lock);
        if (p->len == 0) break;             /* stopping, queue drained */
        job j = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        pthread_mutex_unlock(&p->lock);
        j.fn(j.arg);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

compute_pool *compute_pool_start(int threads, size_t queue_max) {
    compute_pool *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->ready, NULL);
    p->cap = queue_max ? queue_max : 1;
    p->limit = p->cap;
    p->ring = xcalloc(p->cap, sizeof(*p->ring));
    p->threads = xcalloc((size_t)(threads > 0 ? threads : 1),
                         sizeof(*p->threads));

    /* threads inherit the mask main set with signals_block() */
    for (int i = 0; i < (threads > 0 ? threads : 1); i++) {
        int err = pthread_create(&p->threads[i], NULL, pool_main, p);
        if (err != 0) {
            log_msg(LOG_ERROR, "compute_pool", "pthread_create: %s",
                    strerror(err));
            compute_pool_stop(p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
}

/* Append a job; lock held, room made. */
static void push(compute_pool *p, compute_job_fn fn, void *arg) {
    p->ring[(p->head + p->len) % p->cap] = (job){fn, arg};
    p->len++;
    pthread_cond_signal(&p->ready);
}

bool compute_pool_submit(compute_pool *p, compute_job_fn fn, void *arg) {
    pthread_mutex_lock(&p->lock);
    bool ok = !p->stopping && p->len < p->limit;
    if (ok) push(p, fn, arg);
    pthread_mutex_unlock(&p->lock);
    return ok;
}

bool compute_pool_continue(compute_pool *p, compute_job_fn fn, void *arg) {
    pthread_mutex_lock(&p->lock);
    bool ok = !p->stopping;
    if (ok && p->len == p->cap) {       /* grow, unwrapping the ring */
        job *ring = xcalloc(p->cap * 2, sizeof(*ring));
        for (size_t i = 0; i < p->len; i++)
            ring[i] = p->ring[(p->head + i) % p->cap];
        free(p->ring);
        p->ring = ring;
        p->head = 0;
        p->cap *= 2;
    }
    if (ok) push(p, fn, arg);
    pthread_mutex_unlock(&p->lock);
    return ok;
}

size_t compute_pool_waiting(compute_pool *p) {
    pthread_mutex_lock(&p->lock);
    size_t n = p->len;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void compute_pool_stop(compute_pool *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p->ring);
    free(p);
}
