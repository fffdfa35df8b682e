-- report.lua - wrk done() hook shared by every bench/ wrk script.
--
-- Prints one line "BENCH_RESULT {json}" with the figures bench/run keeps:
-- requests, duration, requests/s, latency percentiles in microseconds
-- (p50, p75, p90, p99, p99.9) and wrk's error counters. errors.status counts
-- responses with HTTP status >= 400 ("Non-2xx or 3xx responses").

function done(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format(
        'BENCH_RESULT {"requests":%d,"duration_s":%.6f,"rps":%.2f,' ..
        '"bytes":%d,"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,' ..
        '"p999_us":%d,"max_us":%d,"mean_us":%.2f,' ..
        '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,' ..
        '"timeout":%d}}\n',
        summary.requests, secs, summary.requests / secs, summary.bytes,
        latency:percentile(50), latency:percentile(75),
        latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max, latency.mean,
        e.connect, e.read, e.write, e.status, e.timeout))
end
