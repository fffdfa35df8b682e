/* sd_notify.h - the systemd readiness protocol, spoken directly.
 *
 * A service with Type=notify tells systemd how it is doing by sending short
 * datagrams ("READY=1", "STATUS=...", "STOPPING=1", "WATCHDOG=1") to the
 * AF_UNIX socket named in $NOTIFY_SOCKET. No libsystemd: a path or an
 * abstract name ("@name") and one sendto() per message, which never
 * blocks: when the reader is behind the message is dropped. Without
 * $NOTIFY_SOCKET (not started by systemd) every call does nothing. */
#ifndef COMMON_SD_NOTIFY_H
#define COMMON_SD_NOTIFY_H

#include <stdint.h>

/* Send one message, a printf format ("STATUS=serving on %s"). Returns 1 if
 * it was sent, 0 if $NOTIFY_SOCKET is not set, -1 on an error (logged once
 * at warn: a lost notification must not stop the daemon). */
int sd_notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How often to send WATCHDOG=1, in ns: half of $WATCHDOG_USEC, or 0 when no
 * watchdog is asked for (unset, not a number, or $WATCHDOG_PID names
 * another process). */
int64_t sd_notify_watchdog_interval(void);

#endif
