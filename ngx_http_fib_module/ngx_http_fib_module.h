
/*
 * ngx_http_fib_module.h - types shared by the files of ngx_http_fib_module:
 * the location configuration, the per-request context, the per-call tag
 * that outlives a request, and the functions each file offers the others.
 */


#ifndef _NGX_HTTP_FIB_MODULE_H_INCLUDED_
#define _NGX_HTTP_FIB_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <protobuf-c/protobuf-c.h>

#include "../common/rpc_status.h"

#include "fibonacci/fib.pb-c.h"


#define NGX_HTTP_FIB_GET_FIB         0
#define NGX_HTTP_FIB_GET_STATS       1
#define NGX_HTTP_FIB_QUERY_STATS     2
#define NGX_HTTP_FIB_GET_FIB_BATCH   3
#define NGX_HTTP_FIB_GET_FIB_RANGE   4
#define NGX_HTTP_FIB_NMETHODS        5

/* the location handlers, by their method: fib_pass, fib_stats_pass */
#define NGX_HTTP_FIB_NHANDLERS       2

/* a client's request id longer than this is replaced by the trace id */
#define NGX_HTTP_FIB_REQUEST_ID_MAX  128

/* "00-" trace-id "-" span-id "-" flags */
#define NGX_HTTP_FIB_TRACEPARENT_LEN 55

/* enough for any double printed with %.17g */
#define NGX_HTTP_FIB_DOUBLE_LEN      32


typedef struct ngx_http_fib_channel_s  ngx_http_fib_channel_t;
typedef struct ngx_http_fib_tag_s      ngx_http_fib_tag_t;
typedef struct ngx_http_fib_call_s     ngx_http_fib_call_t;
typedef struct ngx_http_fib_ctx_s      ngx_http_fib_ctx_t;
typedef struct ngx_http_fib_metrics_s  ngx_http_fib_metrics_t;


/* a walk over the request headers of one name: start zeroed */

typedef struct {
    ngx_list_part_t           *part;
    ngx_uint_t                 i;
} ngx_http_fib_header_iter_t;

/* the runtime hands every completed tag to the callback it was given */
typedef void (*ngx_http_fib_done_pt)(ngx_http_fib_tag_t *tag);

/*
 * answers the request from the unpacked reply; returns what to finalize,
 * or NGX_AGAIN when the request goes on (ngx_http_fib_call_next())
 */
typedef ngx_int_t (*ngx_http_fib_reply_pt)(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ProtobufCMessage *msg);

/*
 * a stream failed after its header was sent: the last words of the answer
 * (an error line), and what to finalize
 */
typedef ngx_int_t (*ngx_http_fib_error_pt)(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, grpc_status_code status, ngx_str_t *details);

/* a call ended UNIMPLEMENTED: another method instead, as reply does */
typedef ngx_int_t (*ngx_http_fib_fallback_pt)(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);


typedef struct {
    ngx_flag_t                 enabled;      /* some location passes */
    ngx_array_t                targets;      /* of passing loc confs */

    ngx_flag_t                 metrics;      /* some location has one */
    ngx_str_t                  metrics_zone_name;
    ngx_shm_zone_t            *metrics_zone;
    ngx_http_fib_metrics_t    *metrics_shm;  /* the counters, in the zone */
} ngx_http_fib_main_conf_t;


/* a fib_ssl_* file: its full name, and its contents read at startup */
typedef struct {
    ngx_str_t                  name;
    ngx_str_t                  pem;          /* NUL-terminated */
} ngx_http_fib_ssl_file_t;


typedef struct {
    ngx_flag_t                 enable;       /* grpcs:// */
    ngx_http_fib_ssl_file_t    trusted;      /* fib_ssl_trusted_certificate */
    ngx_http_fib_ssl_file_t    certificate;
    ngx_http_fib_ssl_file_t    certificate_key;
    ngx_str_t                  name;         /* fib_ssl_name */
    uint32_t                   crc;          /* of all the above */
} ngx_http_fib_ssl_t;


typedef struct {
    ngx_str_t                  target;       /* fib_pass, fib_stats_pass */
    ngx_uint_t                 method;
    ngx_http_fib_channel_t    *channel;      /* set on first use */
    ngx_http_fib_ssl_t         ssl;

    ngx_msec_t                 timeout;
    ngx_uint_t                 retries;
    ngx_msec_t                 backoff_base;
    ngx_msec_t                 backoff_max;

    ngx_uint_t                 batch_max;    /* fib_batch_max */

    size_t                     stream_buffer;   /* fib_stream_buffer */
    ngx_msec_t                 stream_timeout;  /* fib_stream_timeout */

    ngx_str_t                  status_page;  /* fib_status, made at start */
} ngx_http_fib_loc_conf_t;


/*
 * All the gRPC runtime knows of a call: the tag of its batch, on the list
 * of completions it has not handed on yet.
 */
struct ngx_http_fib_tag_s {
    ngx_http_fib_tag_t        *next;
    int                        success;
};


/*
 * One gRPC call and everything gRPC writes into while it runs.  Allocated
 * with ngx_alloc(): a completion may arrive after the request is gone, so
 * the request only borrows it (ctx == NULL once detached).
 */
struct ngx_http_fib_call_s {
    ngx_http_fib_tag_t         tag;
    ngx_queue_t                queue;        /* every live call */
    ngx_http_fib_ctx_t        *ctx;

    grpc_call                 *call;         /* an attempt in flight */
    int                        success;
    grpc_status_code           status;
    grpc_slice                 details;
    grpc_metadata_array        initial_md;
    grpc_metadata_array        trailing_md;
    grpc_byte_buffer          *send;
    grpc_byte_buffer          *recv;
    grpc_metadata              md[3];        /* x-request-id, traceparent,
                                                tracestate */
    size_t                     nmd;
    u_char                     traceparent[NGX_HTTP_FIB_TRACEPARENT_LEN];

    unsigned                   pending:1;    /* a batch in flight */
    unsigned                   reading:1;    /* stream: messages left */

    size_t                     msg_len;
    size_t                     id_len;
    u_char                     data[1];      /* message, request id, then
                                                tracestate */
};


struct ngx_http_fib_ctx_s {
    ngx_http_request_t        *request;
    ngx_http_fib_loc_conf_t   *conf;
    ngx_http_fib_call_t       *call;
    ngx_http_fib_reply_pt      reply;
    ngx_http_fib_fallback_pt   fallback;
    ngx_http_fib_error_pt      error;
    const ProtobufCMessageDescriptor  *reply_type;
    ngx_pool_t                *reply_pool;   /* unpacked replies; r->pool */
    void                      *data;         /* the content handler's */
    ProtobufCMessage          *stream_req;   /* asked again on a resume */
    ngx_uint_t                 method;       /* NGX_HTTP_FIB_GET_FIB, ... */

    int32_t                    n;
    int32_t                   *batch;        /* the n of a batch */
    ngx_uint_t                 nbatch;
    ngx_uint_t                 attempts;
    grpc_status_code           status;

    ngx_msec_t                 start;
    ngx_msec_t                 deadline;
    ngx_msec_t                 stream_deadline;
    ngx_msec_t                 upstream_time;

    ngx_uint_t                 stream_items;   /* sent to the client */
    off_t                      stream_bytes;
    ngx_uint_t                 stream_resumed; /* resumed mid-stream */

    ngx_event_t                deadline_ev;
    ngx_event_t                retry_ev;

    u_char                     trace_id[32];   /* hex */
    u_char                     span_id[16];    /* the last attempt's */
    u_char                     trace_flags[2];
    ngx_str_t                  tracestate;     /* passed on as it came */
    ngx_str_t                  request_id;     /* sent as x-request-id */

    int64_t                    metrics_start;  /* monotonic ns */
    int64_t                    attempt_start;  /* 0: none in flight */
    ngx_uint_t                 attempt_method; /* of that attempt */

    unsigned                   has_n:1;
    unsigned                   has_status:1;
    unsigned                   timed_out:1;
    unsigned                   ssl_failed:1;  /* TLS handshake failed */
    unsigned                   metered:1;     /* in fib_requests_in_flight */
    unsigned                   traced:1;      /* trace_id is set */
    unsigned                   has_span:1;    /* an attempt was made */
    unsigned                   stream:1;      /* a server streaming call */
    unsigned                   stream_timed_out:1;
};


/* ngx_http_fib_grpc.c: the per-process gRPC runtime */
ngx_int_t ngx_http_fib_grpc_init(ngx_log_t *log, ngx_http_fib_done_pt done);
void ngx_http_fib_grpc_exit(ngx_log_t *log);
ngx_http_fib_channel_t *ngx_http_fib_channel_get(ngx_str_t *target,
    ngx_http_fib_ssl_t *ssl, ngx_log_t *log);
ngx_uint_t ngx_http_fib_channel_ssl(ngx_http_fib_channel_t *ch);
grpc_call *ngx_http_fib_channel_call(ngx_http_fib_channel_t *ch,
    ngx_uint_t method, ngx_msec_t timeout);
grpc_connectivity_state ngx_http_fib_channel_state(ngx_http_fib_channel_t *ch);
ngx_int_t ngx_http_fib_target_valid(ngx_str_t *target, char **err);

/* ngx_http_fib_ssl.c: TLS to the backends */
char *ngx_http_fib_ssl_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_fib_ssl_merge(ngx_conf_t *cf, ngx_http_fib_ssl_t *conf,
    ngx_http_fib_ssl_t *prev);
grpc_channel_credentials *ngx_http_fib_ssl_credentials(
    ngx_http_fib_ssl_t *ssl, ngx_log_t *log);
ngx_uint_t ngx_http_fib_ssl_failed(grpc_slice details);
extern ngx_uint_t  ngx_http_fib_ssl_kind_cert;
extern ngx_uint_t  ngx_http_fib_ssl_kind_key;

/* ngx_http_fib_call.c: one call with retries, timers and cancellation */
ngx_int_t ngx_http_fib_call_begin(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, const ProtobufCMessage *msg,
    const ProtobufCMessageDescriptor *reply_type,
    ngx_http_fib_reply_pt reply);
ngx_int_t ngx_http_fib_call_next(ngx_http_fib_ctx_t *ctx, ngx_uint_t method,
    const ProtobufCMessage *msg, const ProtobufCMessageDescriptor *reply_type,
    ngx_http_fib_reply_pt reply);
void ngx_http_fib_call_pause(ngx_http_fib_ctx_t *ctx);
ngx_int_t ngx_http_fib_call_read(ngx_http_fib_ctx_t *ctx);
ngx_int_t ngx_http_fib_reply_pool(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
ngx_int_t ngx_http_fib_client_wait(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_client_timedout(ngx_http_fib_ctx_t *ctx, char *what);
void ngx_http_fib_call_end(ngx_http_fib_ctx_t *ctx, ngx_int_t rc);
void ngx_http_fib_call_done(ngx_http_fib_tag_t *tag);
void ngx_http_fib_call_abort_all(void);

/* ngx_http_fib_handler.c, ngx_http_fib_stats.c: content handlers */
ngx_int_t ngx_http_fib_request_init(ngx_http_request_t *r,
    ngx_http_fib_ctx_t **ctxp);
ngx_int_t ngx_http_fib_query_arg(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value);
ngx_http_fib_ctx_t *ngx_http_fib_ctx_create(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_header(ngx_http_request_t *r, char *key, char *value);
ngx_table_elt_t *ngx_http_fib_header_in(ngx_http_request_t *r, char *name,
    ngx_http_fib_header_iter_t *it);
ngx_int_t ngx_http_fib_get_only(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_parse_int(u_char *p, size_t len, int32_t *n,
    ngx_str_t *err);
size_t ngx_http_fib_item_size(Fibonacci__FibonacciResponse *resp);
u_char *ngx_http_fib_item_write(ngx_http_request_t *r, u_char *p, int32_t n,
    Fibonacci__FibonacciResponse *resp);
ngx_int_t ngx_http_fib_bad_value(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_fib_stats_handler(ngx_http_request_t *r);

/* ngx_http_fib_batch.c: GET /fib?n=1,2,3 and POST /fib {"n":[1,2,3]} */
ngx_int_t ngx_http_fib_batch_get(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_str_t *list);
ngx_int_t ngx_http_fib_batch_post(ngx_http_request_t *r);

/* ngx_http_fib_stream.c: GET /fib?from=A&to=B, NDJSON or SSE */
ngx_int_t ngx_http_fib_stream(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);

/* ngx_http_fib_health.c: the fib_health content handler */
ngx_int_t ngx_http_fib_health_handler(ngx_http_request_t *r);

/* ngx_http_fib_status.c: the fib_status page */
char *ngx_http_fib_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* ngx_http_fib_metrics.c: the shared counters and fib_metrics */
char *ngx_http_fib_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_fib_metrics_postconfiguration(ngx_conf_t *cf);
void ngx_http_fib_metrics_request(ngx_http_fib_ctx_t *ctx);
void ngx_http_fib_metrics_attempt(ngx_http_fib_ctx_t *ctx);
void ngx_http_fib_metrics_message(ngx_http_fib_ctx_t *ctx);
void ngx_http_fib_metrics_attempt_done(ngx_http_fib_ctx_t *ctx,
    grpc_status_code status);

/* ngx_http_fib_trace.c: W3C trace context */
ngx_int_t ngx_http_fib_trace_init(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
void ngx_http_fib_trace_attempt(ngx_http_fib_ctx_t *ctx, u_char *buf);
ngx_int_t ngx_http_fib_trace_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

/* ngx_http_fib_json.c: JSON responses */
ngx_int_t ngx_http_fib_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b);
ngx_int_t ngx_http_fib_send(ngx_http_request_t *r, ngx_uint_t status,
    char *type, ngx_buf_t *b);
ngx_int_t ngx_http_fib_send_error(ngx_http_request_t *r, ngx_uint_t status,
    grpc_status_code code, ngx_str_t *message);
ngx_int_t ngx_http_fib_bad_request(ngx_http_request_t *r, ngx_str_t *err);
ngx_uint_t ngx_http_fib_http_status(grpc_status_code code);
u_char *ngx_http_fib_json_double(u_char *p, double d);

/* ngx_http_fib_variables.c */
ngx_int_t ngx_http_fib_add_variables(ngx_conf_t *cf);


extern ngx_module_t  ngx_http_fib_module;


#endif /* _NGX_HTTP_FIB_MODULE_H_INCLUDED_ */
