/* rpc_runtime.h - settings of the libraries under gRPC C core that every
 * process of the project (daemons, fibctl, the nginx module) makes once,
 * before grpc_init(). */
#ifndef COMMON_RPC_RUNTIME_H
#define COMMON_RPC_RUNTIME_H

/* Turns abseil's Mutex deadlock detection off, if this abseil has the
 * switch. Debian builds abseil without NDEBUG, which leaves the detection
 * (a debugging aid: a lock-order graph updated on every Mutex::Lock) on in
 * production; it is 7% of fibonacci-service's instructions per GetFib and
 * 2% of the gateway's. Returns 1 if it was turned off, 0 if this abseil
 * has no such switch (nothing to do). */
int rpc_runtime_tune(void);

#endif
