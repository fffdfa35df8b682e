/* metrics_process.h - the standard process_* metrics (CPU, memory, file
 * descriptors, start time) of Prometheus's client libraries, for Linux. */
#ifndef COMMON_METRICS_PROCESS_H
#define COMMON_METRICS_PROCESS_H

/* Add them to the registry (metrics.h); once per process. */
void metrics_process_register(void);

#endif
