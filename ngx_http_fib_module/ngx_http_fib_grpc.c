
/*
 * ngx_http_fib_grpc.c - the per-process gRPC runtime: grpc_init() in the
 * worker, one completion queue drained by a thread of ours into a list that
 * an eventfd hands to the event loop, and the channels, one per target.
 *
 * Everything here is process-global and allocated with ngx_alloc(), never
 * from a cycle: a single process nginx (master_process off) re-reads its
 * configuration on SIGHUP without calling init_process/exit_process again,
 * and the old cycle, with its pool and connections, goes away.  New targets
 * found in a new configuration get their channels on first use.
 */


#include "ngx_http_fib_module.h"

#include "../common/rpc_limits.h"
#include "../common/rpc_runtime.h"

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>


struct ngx_http_fib_channel_s {
    ngx_http_fib_channel_t    *next;
    grpc_channel              *channel;
    void                      *methods[NGX_HTTP_FIB_NMETHODS];
    ngx_uint_t                 ssl;          /* grpcs:// */
    uint32_t                   crc;          /* of its TLS settings */
    size_t                     len;
    u_char                     target[1];
};


typedef struct {
    grpc_completion_queue     *cq;
    pthread_t                  thread;
    pthread_mutex_t            mutex;
    ngx_http_fib_tag_t        *head;         /* completions, under mutex */
    ngx_http_fib_tag_t        *tail;
    ngx_http_fib_done_pt       done;
    ngx_http_fib_channel_t    *channels;

    /* the eventfd as nginx's event loop sees it; not from any cycle */
    ngx_connection_t           conn;
    ngx_event_t                read;
    ngx_event_t                write;

    unsigned                   ready:1;
} ngx_http_fib_runtime_t;


static void *ngx_http_fib_grpc_thread(void *data);
static void ngx_http_fib_grpc_event_handler(ngx_event_t *ev);
static ngx_http_fib_tag_t *ngx_http_fib_grpc_completed(void);


static ngx_http_fib_runtime_t  ngx_http_fib_rt = {
    .mutex = PTHREAD_MUTEX_INITIALIZER,
    .conn = { .fd = -1 }
};


static const char  *ngx_http_fib_methods[NGX_HTTP_FIB_NMETHODS] = {
    "/fibonacci.Fibonacci/GetFib",
    "/stats.Stats/GetStats",
    "/stats.Stats/Query",
    "/fibonacci.Fibonacci/GetFibBatch",
    "/fibonacci.Fibonacci/GetFibRange"
};


ngx_int_t
ngx_http_fib_grpc_init(ngx_log_t *log, ngx_http_fib_done_pt done)
{
    int                      fd, err;
    sigset_t                 all, saved;
    ngx_connection_t        *c;
    ngx_http_fib_runtime_t  *rt;

    rt = &ngx_http_fib_rt;

    if (rt->ready) {
        return NGX_OK;
    }

    rt->done = done;

    fd = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno, "eventfd() failed");
        return NGX_ERROR;
    }

    c = &rt->conn;
    ngx_memzero(c, sizeof(ngx_connection_t));
    ngx_memzero(&rt->read, sizeof(ngx_event_t));
    ngx_memzero(&rt->write, sizeof(ngx_event_t));

    c->fd = fd;
    c->read = &rt->read;
    c->write = &rt->write;
    c->log = log;

    rt->read.data = c;
    rt->read.handler = ngx_http_fib_grpc_event_handler;
    rt->read.log = log;
    rt->write.data = c;
    rt->write.log = log;

    /* gRPC's threads and ours must never take nginx's signals */

    sigfillset(&all);
    (void) pthread_sigmask(SIG_SETMASK, &all, &saved);

    (void) rpc_runtime_tune();
    grpc_init();

    rt->cq = grpc_completion_queue_create_for_next(NULL);

    err = pthread_create(&rt->thread, NULL, ngx_http_fib_grpc_thread, rt);

    (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);

    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, log, err, "pthread_create() failed");
        grpc_completion_queue_shutdown(rt->cq);
        grpc_completion_queue_destroy(rt->cq);
        grpc_shutdown_blocking();
        (void) close(fd);
        c->fd = -1;
        return NGX_ERROR;
    }

    if (ngx_handle_read_event(&rt->read, 0) != NGX_OK) {
        /* the thread and gRPC are stopped by exit_process */
        rt->ready = 1;
        return NGX_ERROR;
    }

    rt->ready = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "fib: gRPC %s started", grpc_version_string());

    return NGX_OK;
}


/*
 * The calls in flight must have been cancelled (ngx_http_fib_call_abort_all):
 * their completions, the last ones, are handed to the callback here.
 */

void
ngx_http_fib_grpc_exit(ngx_log_t *log)
{
    sigset_t                 all, saved;
    ngx_http_fib_tag_t      *tag, *next;
    ngx_http_fib_channel_t  *ch, *nch;
    ngx_http_fib_runtime_t  *rt;

    rt = &ngx_http_fib_rt;

    if (!rt->ready) {
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, log, 0, "fib: gRPC shutdown");

    grpc_completion_queue_shutdown(rt->cq);
    (void) pthread_join(rt->thread, NULL);

    for (tag = ngx_http_fib_grpc_completed(); tag; tag = next) {
        next = tag->next;
        rt->done(tag);
    }

    for (ch = rt->channels; ch; ch = nch) {
        nch = ch->next;
        grpc_channel_destroy(ch->channel);
        ngx_free(ch);
    }

    rt->channels = NULL;

    grpc_completion_queue_destroy(rt->cq);
    rt->cq = NULL;

    if (close(rt->conn.fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "close() eventfd failed");
    }

    rt->conn.fd = -1;

    sigfillset(&all);
    (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
    grpc_shutdown_blocking();
    (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);

    rt->ready = 0;
}


/*
 * The completion queue thread: it only moves finished tags to the list
 * and wakes the event loop when the list stops being empty.
 */

static void *
ngx_http_fib_grpc_thread(void *data)
{
    ngx_http_fib_runtime_t *rt = data;

    int                  wake;
    uint64_t             one;
    grpc_event           ev;
    ngx_http_fib_tag_t  *tag;

    one = 1;

    (void) pthread_setname_np(pthread_self(), "fib-cq");

    for ( ;; ) {
        ev = grpc_completion_queue_next(rt->cq,
                                        gpr_inf_future(GPR_CLOCK_REALTIME),
                                        NULL);

        if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            break;
        }

        if (ev.type != GRPC_OP_COMPLETE) {
            continue;
        }

        tag = ev.tag;
        tag->success = ev.success;
        tag->next = NULL;

        pthread_mutex_lock(&rt->mutex);

        wake = (rt->head == NULL);

        if (rt->tail) {
            rt->tail->next = tag;

        } else {
            rt->head = tag;
        }

        rt->tail = tag;

        pthread_mutex_unlock(&rt->mutex);

        if (wake) {
            while (write(rt->conn.fd, &one, sizeof(one)) == -1
                   && errno == EINTR)
            {
                /* retry */
            }
        }
    }

    return NULL;
}


static ngx_http_fib_tag_t *
ngx_http_fib_grpc_completed(void)
{
    ngx_http_fib_tag_t      *list;
    ngx_http_fib_runtime_t  *rt;

    rt = &ngx_http_fib_rt;

    pthread_mutex_lock(&rt->mutex);

    list = rt->head;
    rt->head = NULL;
    rt->tail = NULL;

    pthread_mutex_unlock(&rt->mutex);

    return list;
}


static void
ngx_http_fib_grpc_event_handler(ngx_event_t *ev)
{
    uint64_t             n;
    ngx_http_fib_tag_t  *tag, *next;

    /* the cycle that set the log may be gone after a reconfiguration */

    ev->log = ngx_cycle->log;
    ngx_http_fib_rt.conn.log = ngx_cycle->log;

    if (read(ngx_http_fib_rt.conn.fd, &n, sizeof(n)) == -1
        && ngx_errno != NGX_EAGAIN)
    {
        ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_errno,
                      "read() eventfd failed");
    }

    /* a tag read before its read() is handled now, any later one wakes us */

    for (tag = ngx_http_fib_grpc_completed(); tag; tag = next) {
        next = tag->next;
        ngx_http_fib_rt.done(tag);
    }
}


ngx_http_fib_channel_t *
ngx_http_fib_channel_get(ngx_str_t *target, ngx_http_fib_ssl_t *ssl,
    ngx_log_t *log)
{
    sigset_t                   all, saved;
    ngx_uint_t                 i, n;
    grpc_arg                   arg[9 + RPC_LIMITS_NARGS];
    rpc_limits                 limits = RPC_LIMITS_CLIENT;
    grpc_channel_args          args;
    ngx_http_fib_channel_t    *ch;
    grpc_channel_credentials  *creds;

    /* locations share a channel only if their TLS settings are the same */

    for (ch = ngx_http_fib_rt.channels; ch; ch = ch->next) {
        if (ch->len == target->len
            && ngx_strncmp(ch->target, target->data, target->len) == 0
            && ch->ssl == (ngx_uint_t) ssl->enable
            && ch->crc == ssl->crc)
        {
            return ch;
        }
    }

    ch = ngx_alloc(sizeof(ngx_http_fib_channel_t) + target->len, log);
    if (ch == NULL) {
        return NULL;
    }

    ch->len = target->len;
    ngx_memcpy(ch->target, target->data, target->len);
    ch->target[target->len] = '\0';
    ch->ssl = ssl->enable;
    ch->crc = ssl->crc;

    arg[0].type = GRPC_ARG_STRING;
    arg[0].key = GRPC_ARG_LB_POLICY_NAME;
    arg[0].value.string = "round_robin";

    /*
     * A restarted backend is found again within 0.3 s (plus 20% jitter):
     * every worker reconnects on that schedule.  Reconnecting to a backend
     * that is down costs a refused connect() on this schedule.
     */

    arg[1].type = GRPC_ARG_INTEGER;
    arg[1].key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    arg[1].value.integer = 100;

    arg[2].type = GRPC_ARG_INTEGER;
    arg[2].key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    arg[2].value.integer = 300;

    /* the module retries itself, with nginx timers: no retry filter */

    arg[3].type = GRPC_ARG_INTEGER;
    arg[3].key = GRPC_ARG_ENABLE_RETRIES;
    arg[3].value.integer = 0;

    /*
     * Flow control without bandwidth probing: a stream's window stays at
     * 64k, so a streamed range the module stops reading (its client is
     * slow) holds at most 64k here, in flight, and the backend's pending
     * send, and then pauses the backend.  With BDP probing on, gRPC grows
     * the window to megabytes whatever the reader does.
     */

    arg[4].type = GRPC_ARG_INTEGER;
    arg[4].key = GRPC_ARG_HTTP2_BDP_PROBE;
    arg[4].value.integer = 0;

    arg[5].type = GRPC_ARG_INTEGER;
    arg[5].key = GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES;
    arg[5].value.integer = 65536;

    n = 6;

    /*
     * The minimal filter stack: no client deadline filter (fib_timeout is
     * enforced with nginx timers, which cancel the call), no idle filter
     * (channels live as long as the worker).  Message size limits still
     * apply: rpc_limits sets them explicitly.  bench/instructions: 85,054
     * -> 69,561 instructions per /fib call in nginx.
     */

    arg[n].type = GRPC_ARG_INTEGER;
    arg[n].key = GRPC_ARG_MINIMAL_STACK;
    arg[n].value.integer = 1;
    n++;

    if (ssl->enable && ssl->name.len) {
        arg[n].type = GRPC_ARG_STRING;
        arg[n].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        arg[n].value.string = (char *) ssl->name.data;
        n++;
    }

    /*
     * Client-side health checking: each backend's grpc.health.v1.Health/
     * Watch stream ("" = the whole server) decides whether round robin
     * picks it, so a backend that turns NOT_SERVING (draining) gets no new
     * calls while it still accepts them.  A backend without Watch
     * (UNIMPLEMENTED) is used as if healthy.
     */

    arg[n].type = GRPC_ARG_STRING;
    arg[n].key = GRPC_ARG_SERVICE_CONFIG;
    arg[n].value.string = "{\"loadBalancingConfig\":[{\"round_robin\":{}}],"
                          "\"healthCheckConfig\":{\"serviceName\":\"\"}}";

    n++;

    /* message sizes and keepalive: common/rpc_limits.h */

    n += rpc_limits_args(&limits, &arg[n]);

    args.num_args = n;
    args.args = arg;

    sigfillset(&all);
    (void) pthread_sigmask(SIG_SETMASK, &all, &saved);

    creds = ngx_http_fib_ssl_credentials(ssl, log);
    ch->channel = creds ? grpc_channel_create((char *) ch->target, creds,
                                              &args)
                        : NULL;
    if (creds) {
        grpc_channel_credentials_release(creds);
    }

    if (ch->channel == NULL) {
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        ngx_free(ch);
        return NULL;
    }

    for (i = 0; i < NGX_HTTP_FIB_NMETHODS; i++) {
        ch->methods[i] = grpc_channel_register_call(ch->channel,
                                                    ngx_http_fib_methods[i],
                                                    NULL, NULL);
    }

    (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);

    ch->next = ngx_http_fib_rt.channels;
    ngx_http_fib_rt.channels = ch;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                   "fib: channel to \"%s\" created%s", ch->target,
                   ch->ssl ? " with TLS" : "");

    return ch;
}


ngx_uint_t
ngx_http_fib_channel_ssl(ngx_http_fib_channel_t *ch)
{
    return ch->ssl;
}


/* the channel's state, never waiting; an idle channel starts connecting */

grpc_connectivity_state
ngx_http_fib_channel_state(ngx_http_fib_channel_t *ch)
{
    sigset_t                 all, saved;
    grpc_connectivity_state  state;

    sigfillset(&all);
    (void) pthread_sigmask(SIG_SETMASK, &all, &saved);

    state = grpc_channel_check_connectivity_state(ch->channel, 1);

    (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);

    return state;
}


grpc_call *
ngx_http_fib_channel_call(ngx_http_fib_channel_t *ch, ngx_uint_t method,
    ngx_msec_t timeout)
{
    /* a GPR_TIMESPAN deadline is relative to now */

    return grpc_channel_create_registered_call(ch->channel, NULL,
                                   GRPC_PROPAGATE_DEFAULTS,
                                   ngx_http_fib_rt.cq, ch->methods[method],
                                   gpr_time_from_millis(timeout, GPR_TIMESPAN),
                                   NULL);
}


/*
 * host:port, [v6]:port, unix:/path, or a URI with a scheme gRPC resolves
 * (dns:///name:port, ipv4:a:p,b:p, ipv6:..., unix-abstract:...).
 */

ngx_int_t
ngx_http_fib_target_valid(ngx_str_t *target, char **err)
{
    u_char      *p, *last, *colon;
    ngx_int_t    port;
    ngx_uint_t   i;

    static ngx_str_t  schemes[] = {
        ngx_string("unix:"),
        ngx_string("unix-abstract:"),
        ngx_string("dns:"),
        ngx_string("ipv4:"),
        ngx_string("ipv6:")
    };

    if (target->len == 0) {
        *err = "the target is empty";
        return NGX_ERROR;
    }

    last = target->data + target->len;

    for (p = target->data; p < last; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"') {
            *err = "it contains spaces, quotes or control characters";
            return NGX_ERROR;
        }
    }

    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (target->len >= schemes[i].len
            && ngx_strncmp(target->data, schemes[i].data, schemes[i].len)
               == 0)
        {
            if (target->len == schemes[i].len) {
                *err = "nothing follows the scheme";
                return NGX_ERROR;
            }

            return NGX_OK;
        }
    }

    if (ngx_strlcasestrn(target->data, last, (u_char *) "://", 3 - 1)) {
        return NGX_OK;
    }

    colon = NULL;

    for (p = target->data; p < last; p++) {
        if (*p == ':') {
            colon = p;
        }
    }

    if (colon == NULL) {
        *err = "the port is missing (host:port, unix:/path or a gRPC URI)";
        return NGX_ERROR;
    }

    if (colon == target->data) {
        *err = "the host is missing";
        return NGX_ERROR;
    }

    if (target->data[0] == '[' && colon[-1] != ']') {
        *err = "an IPv6 address must be written as [address]:port";
        return NGX_ERROR;
    }

    port = ngx_atoi(colon + 1, last - colon - 1);

    if (port < 1 || port > 65535) {
        *err = "the port is not a number from 1 to 65535";
        return NGX_ERROR;
    }

    return NGX_OK;
}
