/* metrics_process.c - the standard process metrics, read from /proc at each
 * scrape as Prometheus's own client libraries do: CPU time, resident and
 * virtual memory, open and maximum file descriptors, start time. */
#include "metrics_process.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics.h"

/* Fields of /proc/self/stat after the command name: utime (14), stime
 * (15), starttime (22), vsize (23), rss (24), counted from 1. */
typedef struct {
    double utime, stime;        /* clock ticks */
    double starttime;           /* ticks since boot */
    double vsize;               /* bytes */
    double rss;                 /* pages */
} proc_stat;

static int read_stat(proc_stat *ps) {
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: skip to the last ) */
    char *p = strrchr(buf, ')');
    if (p == NULL) return -1;
    unsigned long ut, st, vs;
    unsigned long long start;
    long rss;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu "
               "%*d %*d %*d %*d %*d %*d %llu %lu %ld",
               &ut, &st, &start, &vs, &rss) != 5)
        return -1;
    *ps = (proc_stat){(double)ut, (double)st, (double)start, (double)vs,
                      (double)rss};
    return 0;
}

static double cpu_seconds(void *ud) {
    (void)ud;
    proc_stat ps;
    if (read_stat(&ps) != 0) return 0;
    return (ps.utime + ps.stime) / (double)sysconf(_SC_CLK_TCK);
}

static double resident_bytes(void *ud) {
    (void)ud;
    proc_stat ps;
    if (read_stat(&ps) != 0) return 0;
    return ps.rss * (double)sysconf(_SC_PAGESIZE);
}

static double virtual_bytes(void *ud) {
    (void)ud;
    proc_stat ps;
    return read_stat(&ps) == 0 ? ps.vsize : 0;
}

static double open_fds(void *ud) {
    (void)ud;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return 0;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;               /* the descriptor opendir() holds */
}

static double max_fds(void *ud) {
    (void)ud;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    return rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur;
}

/* Boot time (btime in /proc/stat) plus the start tick: seconds since the
 * epoch. Computed once: neither changes. */
static double start_time;

static double start_seconds(void *ud) {
    (void)ud;
    return start_time;
}

static double boot_time(void) {
    char line[256];
    double btime = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %lf", &btime) == 1) break;
    fclose(f);
    return btime;
}

void metrics_process_register(void) {
    proc_stat ps;
    if (read_stat(&ps) == 0)
        start_time = boot_time() + ps.starttime / (double)sysconf(_SC_CLK_TCK);
    metrics_func("process_cpu_seconds_total", METRIC_COUNTER,
                 "Total user and system CPU time spent in seconds.",
                 cpu_seconds, NULL);
    metrics_func("process_resident_memory_bytes", METRIC_GAUGE,
                 "Resident memory size in bytes.", resident_bytes, NULL);
    metrics_func("process_virtual_memory_bytes", METRIC_GAUGE,
                 "Virtual memory size in bytes.", virtual_bytes, NULL);
    metrics_func("process_open_fds", METRIC_GAUGE,
                 "Number of open file descriptors.", open_fds, NULL);
    metrics_func("process_max_fds", METRIC_GAUGE,
                 "Maximum number of open file descriptors.", max_fds, NULL);
    metrics_func("process_start_time_seconds", METRIC_GAUGE,
                 "Start time of the process since unix epoch in seconds.",
                 start_seconds, NULL);
}
