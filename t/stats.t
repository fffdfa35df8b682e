# t/stats.t - GET /stats through fib_stats_pass: the original gateway's keys
# sorted by n plus the added fields; counts checked after a known number of
# requests for an n no other test asks for.
use Test::Nginx::Socket 'no_plan';

no_shuffle();

our $N = 20000 + int rand 10000;

# Reports reach stats-service asynchronously: poll GetStats (with fibctl)
# until n has $count requests, or 15 s have passed.
sub wait_reported {
    my ($n, $count) = @_;
    my $fibctl = "$ENV{FIB_BIN_DIR}/fibctl";
    my $end = time + 15;
    while (time < $end) {
        my $out = `'$fibctl' --target 127.0.0.1:$ENV{TEST_NGINX_STATS_PORT} stats`;
        return if $out =~ /\{"n":$n,"request_count":$count,/;
        select undef, undef, undef, 0.05;
    }
    warn "n=$n did not reach $count requests in stats-service\n";
}

run_tests();

__DATA__

=== TEST 1: three requests for a fresh n, and two others
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request eval
["GET /fib?n=$::N", "GET /fib?n=$::N", "GET /fib?n=$::N", "GET /fib?n=10",
 "GET /fib?n=100"]
--- error_code eval
[200, 200, 200, 200, 200]
--- no_error_log
[error]



=== TEST 2: /stats has them, sorted by n, with every field
--- init
main::wait_reported($::N, 3);
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATS_PORT; }
--- request
GET /stats
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/^\{"total_requests":\d+,"fibonacci_stats":\[.*\{"n":10,.*\{"n":100,.*\{"n":$::N,"request_count":3,"average_time_ms":[0-9.e-]+,"request_count64":3,"min_duration_ns":\d+,"max_duration_ns":\d+,"total_duration_ns":\d+,"cache_hits":2,"cache_misses":1\}.*\],"total_requests64":\d+,"streams":\{"count":\d+,"items":\d+,"total_duration_ns":\d+,"average_time_ms":[0-9.e-]+,"incomplete":\d+\}\}$/s
--- no_error_log
[error]



=== TEST 3: HEAD /stats
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATS_PORT; }
--- request
HEAD /stats
--- response_headers
Content-Type: application/json
--- response_body chomp
--- no_error_log
[error]



=== TEST 4: POST /stats is 405
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATS_PORT; }
--- request
POST /stats
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"error":"method not allowed","code":"UNIMPLEMENTED"}



=== TEST 5: GetStats is retried like GetFib
--- config
location = /stats {
    fib_stats_pass 127.0.0.1:$TEST_NGINX_MOCK_FLAKY_PORT;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /stats
--- response_headers
X-Fib-Attempts: 3
--- response_body_like chomp
^\{"total_requests":\d+,"fibonacci_stats":\[.*\],"total_requests64":\d+\}$
--- error_log
fib: attempt 2 of 4 failed with UNAVAILABLE
--- no_error_log
[error]



=== TEST 6: the stats service down is 503
--- config
location = /stats {
    fib_stats_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT;
    fib_retries 1;
}
--- request
GET /stats
--- error_code: 503
--- response_body_like chomp
"code":"UNAVAILABLE"
--- error_log
fib: Query failed with UNAVAILABLE
