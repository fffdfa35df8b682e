/* sd_notify.c - one datagram per message to $NOTIFY_SOCKET. */
#include "sd_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define MSG_MAX 512

/* Fill `sa` from $NOTIFY_SOCKET; returns the address length, 0 if unset, -1
 * if it is not a usable AF_UNIX name. */
static socklen_t notify_addr(struct sockaddr_un *sa) {
    const char *path = getenv("NOTIFY_SOCKET");
    size_t len;

    if (path == NULL || path[0] == '\0') return 0;
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa->sun_path))
        return (socklen_t)-1;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, len);
    if (path[0] == '@') sa->sun_path[0] = '\0';   /* abstract namespace */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

int sd_notify_send(const char *fmt, ...) {
    static bool warned;
    struct sockaddr_un sa;
    char msg[MSG_MAX];
    va_list ap;
    socklen_t salen = notify_addr(&sa);
    int fd, n, err = 0;

    if (salen == 0) return 0;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if ((size_t)n >= sizeof(msg)) n = sizeof(msg) - 1;
    if (salen == (socklen_t)-1) {
        err = EINVAL;
    } else if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
        err = errno;
    } else {
        /* never wait for a reader that is behind: drop the message */
        if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT,
                   (struct sockaddr *)&sa, salen) < 0)
            err = errno;
        close(fd);
    }
    if (err == 0) return 1;
    if (!warned) {
        warned = true;
        log_msg(LOG_WARN, "sd_notify_failed", "NOTIFY_SOCKET %s: %s",
                getenv("NOTIFY_SOCKET"), strerror(err));
    }
    return -1;
}

int64_t sd_notify_watchdog_interval(void) {
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end;
    long long v;

    if (usec == NULL || usec[0] == '\0') return 0;
    if (pid != NULL && pid[0] != '\0' &&
        strtoll(pid, NULL, 10) != (long long)getpid())
        return 0;
    errno = 0;
    v = strtoll(usec, &end, 10);
    if (*end != '\0' || errno != 0 || v <= 0) return 0;
    return v * 1000 / 2;
}
