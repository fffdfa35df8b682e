/* rpc_internal.h - the server's private structures, shared by rpc_server.c
 * (lifecycle and worker threads) and rpc_call.c (the per-call API used by
 * handlers). Not part of the public contract. */
#ifndef COMMON_RPC_INTERNAL_H
#define COMMON_RPC_INTERNAL_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "rpc_metrics.h"
#include "rpc_server.h"

#define RPC_REQUEST_ID_MAX 128
#define RPC_METHOD_NAME_MAX 256
#define RPC_PEER_NAMES_MAX 16       /* certificate names kept per call */
#define RPC_PEER_NAMES_BYTES 1024

typedef struct rpc_worker rpc_worker;
typedef struct rpc_watch rpc_watch;
typedef struct rpc_stream rpc_stream;

typedef struct {
    char       *name;
    void       *handle;      /* from grpc_server_register_method */
    rpc_handler fn;
    void       *ud;
    bool        streaming;   /* for the grpc_type label */
    rpc_metrics *metrics;    /* made at start */
} rpc_method;

/* What a completion-queue tag points at. */
typedef enum { TAG_CALL, TAG_SHUTDOWN, TAG_WATCH, TAG_STREAM } rpc_tag_kind;

/* The tag of a Health/Watch stream's batch (rpc_health.c). */
typedef struct {
    rpc_tag_kind kind;              /* TAG_WATCH */
    rpc_watch   *watch;
} rpc_watch_tag;

typedef enum {
    CALL_IDLE,       /* nothing posted (shutting down) */
    CALL_WAITING,    /* a request is posted for the next call */
    CALL_FINISHING   /* the reply batch is in flight */
} rpc_call_state;

/* One reusable call slot. Each worker owns a fixed set of them; a slot is
 * only ever touched by its worker's thread, so no locking is needed. */
struct rpc_call {
    rpc_tag_kind        kind;       /* TAG_CALL; first, read through the tag */
    rpc_call_state      state;
    rpc_worker         *worker;
    const rpc_method   *method;     /* NULL: the generic (unknown method)
                                       slot */
    grpc_call          *call;
    gpr_timespec        deadline;
    grpc_metadata_array md;
    grpc_call_details   details;    /* generic slot only */
    grpc_byte_buffer   *payload;
    grpc_slice          payload_slice;
    bool                have_slice;
    grpc_slice          status_details;
    int                 cancelled;  /* RECV_CLOSE_ON_SERVER's answer */
    bool                answered;
    char               *peer;       /* gpr_malloc'd, fetched on demand */
    bool                have_names; /* peer_names[] fetched */
    size_t              npeer_names;
    const char         *peer_names[RPC_PEER_NAMES_MAX];
    char                peer_names_buf[RPC_PEER_NAMES_BYTES];
    int64_t             start_ns;
    char                request_id[RPC_REQUEST_ID_MAX + 1];
    bool                has_request_id;
    char                trace_id[33];   /* from traceparent metadata */
    char                span_id[17];    /* the caller's span of this call */
    bool                has_trace;
    const char         *method_name; /* the method's, or generic_name */
    rpc_metrics        *metrics;    /* the method's, or the server's
                                       "unknown" */
    bool                deferred;   /* slot: its handler deferred the call */
    bool                detached;   /* a call rpc_call_defer() moved out of
                                       its slot, heap-allocated */
    char                generic_name[RPC_METHOD_NAME_MAX];
};

struct rpc_worker {
    rpc_server            *server;
    grpc_completion_queue *cq;
    pthread_t              thread;
    bool                   started;
    rpc_call              *calls;
    size_t                 ncalls;
};

/* TLS of a server: the files, and what was last loaded from them. The
 * certificate config fetcher runs on gRPC's threads, hence the lock. */
typedef struct {
    rpc_tls_files   files;          /* strdup'd names */
    pthread_mutex_t lock;
    grpc_ssl_server_certificate_config *pending;  /* next fetch returns it */
    rpc_tls_stamp   loaded;         /* the files' stamp when last read */
    rpc_tls_stamp   failed;         /* ... when they last failed to load */
    bool            force;          /* reload even if the stamp is equal */
} rpc_server_tls;

struct rpc_server {
    char           *listen;
    rpc_server_tls *tls;            /* NULL: plaintext */
    rpc_limits      limits;
    int             nthreads;
    int             port;
    grpc_server    *server;
    rpc_method     *methods;
    size_t          nmethods;
    rpc_metrics    *unknown_metrics; /* calls to methods we do not have */
    char          **services;
    size_t          nservices;
    rpc_worker     *workers;
    atomic_bool     serving;        /* health: SERVING vs NOT_SERVING */
    atomic_bool     stopping;       /* no new requests are posted */
    bool            started, shut_down;
    rpc_tag_kind    shutdown_tag;   /* TAG_SHUTDOWN */
    pthread_mutex_t lock;           /* guards shutdown_done, ndeferred */
    pthread_cond_t  cond;
    bool            shutdown_done;
    size_t          ndeferred;      /* detached calls not yet finished */
    pthread_mutex_t watch_lock;     /* guards the Watch streams */
    rpc_watch      *watches;
};

/* rpc_server_tls.c: the credentials to listen with (TLS or plaintext), and
 * freeing the TLS state. */
grpc_server_credentials *rpc_server_credentials(rpc_server *s);
void rpc_server_tls_free(rpc_server_tls *t);

/* rpc_call.c: finish a call with one batch; `msg` may be NULL. */
void rpc_call_send(rpc_call *c, grpc_status_code code, const char *details,
                   grpc_byte_buffer *msg);

/* rpc_server.c: release a call's gRPC resources, and free a detached call
 * once it is over. */
void rpc_call_release(rpc_call *c);
void rpc_call_detached_done(rpc_call *c);
/* The tag of a server stream's batch (rpc_stream.c). */
typedef struct {
    rpc_tag_kind kind;              /* TAG_STREAM */
    rpc_stream  *stream;
} rpc_stream_tag;

/* rpc_stream.c: a stream's batch completed. */
void rpc_stream_event(rpc_stream_tag *tag, bool ok);

/* rpc_health.c: register Check and Watch; a Watch batch completed; the
 * serving status changed (tell every watcher); the server is stopping (end
 * every stream). */
void rpc_health_register(rpc_server *s);
void rpc_health_event(rpc_watch_tag *tag, bool ok);
void rpc_health_changed(rpc_server *s);
void rpc_health_end(rpc_server *s);
/* rpc_server.c: mark a registered method as server-streaming. */
void rpc_server_method_streaming(rpc_server *s, const char *method);

#endif
