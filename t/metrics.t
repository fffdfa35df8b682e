# t/metrics.t - fib_metrics: the shared counters after a known set of
# requests, exact, with two workers; HEAD and other methods; the zone named
# by fib_metrics_zone (each block names its own, so counts start from zero
# in HUP mode too); counters kept across a reload (in HUP mode, where the
# blocks are reloads of one nginx; otherwise each block starts from zero);
# directive errors.
use Test::Nginx::Socket 'no_plan';

workers(2);
no_shuffle();      # TEST 4 follows TEST 3

# One lookahead per expected line of the page.
sub page_has {
    my $re = join '', map { "(?=.*^\Q$_\E\$)" } @_;
    return qr/(?sm)\A$re/;
}

our $FIB = 'grpc_type="unary",grpc_service="fibonacci.Fibonacci",'
         . 'grpc_method="GetFib"';
our $STATS = 'grpc_type="unary",grpc_service="stats.Stats",'
           . 'grpc_method="GetStats"';
our $QUERY = 'grpc_type="unary",grpc_service="stats.Stats",'
           . 'grpc_method="Query"';
our $BATCH = 'grpc_type="unary",grpc_service="fibonacci.Fibonacci",'
           . 'grpc_method="GetFibBatch"';

run_tests();

__DATA__

=== TEST 1: exact counts after known requests
Batches (GET and POST) are GetFibBatch calls; /stats is a Query, and on a
server of the original contract a Query answered UNIMPLEMENTED, then
GetStats.
--- http_config
fib_metrics_zone t_metrics_1;
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /flaky { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_FLAKY_PORT; }
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATS_PORT; }
location = /ostats { fib_stats_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT; }
location = /metrics { fib_metrics; }
--- more_headers
Content-Type: application/json
--- request eval
["GET /fib?n=10", "GET /fib?n=10", "GET /fib?n=abc", "GET /flaky?n=10",
 "GET /fib?n=1,5,10", "POST /fib\r\n{\"n\":[2,3]}",
 "GET /stats?n=10", "GET /ostats", "GET /metrics"]
--- error_code eval
[200, 200, 400, 200, 200, 200, 200, 200, 200]
--- response_headers eval
["", "", "", "", "", "", "", "",
 "Content-Type: text/plain; version=0.0.4; charset=utf-8"]
--- response_body_like eval
[qr/"x":55/, qr/"x":55/, qr/"code":"INVALID_ARGUMENT"/, qr/"x":55/,
 qr/^\[\{"n":1,/, qr/^\[\{"n":2,/,
 qr/^\{"total_requests"/, qr/^\{"total_requests"/,
 main::page_has(
    "# TYPE grpc_client_started_total counter",
    "grpc_client_started_total{$main::FIB} 5",
    "grpc_client_handled_total{$main::FIB,grpc_code=\"OK\"} 3",
    "grpc_client_handled_total{$main::FIB,grpc_code=\"UNAVAILABLE\"} 2",
    "grpc_client_handling_seconds_count{$main::FIB} 5",
    "grpc_client_handling_seconds_bucket{$main::FIB,le=\"+Inf\"} 5",
    "grpc_client_started_total{$main::BATCH} 2",
    "grpc_client_handled_total{$main::BATCH,grpc_code=\"OK\"} 2",
    "grpc_client_handling_seconds_count{$main::BATCH} 2",
    "grpc_client_started_total{$main::QUERY} 2",
    "grpc_client_handled_total{$main::QUERY,grpc_code=\"OK\"} 1",
    "grpc_client_handled_total{$main::QUERY,grpc_code=\"UNIMPLEMENTED\"} 1",
    "grpc_client_started_total{$main::STATS} 1",
    "grpc_client_handled_total{$main::STATS,grpc_code=\"OK\"} 1",
    'fib_http_responses_total{handler="fib_pass",code="200"} 5',
    'fib_http_responses_total{handler="fib_pass",code="400"} 1',
    'fib_http_responses_total{handler="fib_stats_pass",code="200"} 2',
    'fib_http_request_duration_seconds_count{handler="fib_pass"} 6',
    'fib_retries_total{handler="fib_pass"} 2',
    'fib_retries_total{handler="fib_stats_pass"} 0',
    'fib_requests_in_flight{handler="fib_pass"} 0')]
--- no_error_log
[error]



=== TEST 2: HEAD answers the headers; other methods 405
--- http_config
fib_metrics_zone t_metrics_2;
--- config
location = /metrics { fib_metrics; }
--- request eval
["HEAD /metrics", "POST /metrics\r\nhello"]
--- error_code eval
[200, 405]
--- response_headers eval
["Content-Type: text/plain; version=0.0.4; charset=utf-8", "Allow: GET, HEAD"]
--- response_body_like eval
[qr/^$/, qr/405 Not Allowed/]



=== TEST 3: before a reload
--- http_config
fib_metrics_zone t_metrics_reload;
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /metrics { fib_metrics; }
--- request eval
["GET /fib?n=3", "GET /fib?n=4", "GET /metrics"]
--- response_body_like eval
[qr/"x":2/, qr/"x":3/,
 main::page_has('fib_http_responses_total{handler="fib_pass",code="200"} 2')]



=== TEST 4: after it (HUP mode), or in a new nginx
--- http_config
fib_metrics_zone t_metrics_reload;
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /metrics { fib_metrics; }
--- request eval
["GET /fib?n=5", "GET /metrics"]
--- response_body_like eval
[qr/"x":5/,
 main::page_has('fib_http_responses_total{handler="fib_pass",code="200"} '
                . ($ENV{TEST_NGINX_USE_HUP} ? 3 : 1))]



=== TEST 5: fib_metrics and another content handler
--- config
location = /m {
    fib_pass 127.0.0.1:1;
    fib_metrics;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_metrics" directive conflicts with another content handler in this location in \S*nginx\.conf:\d+/



=== TEST 6: fib_metrics_zone belongs to the http block
--- config
location = /m {
    fib_metrics_zone x;
    fib_metrics;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_metrics_zone" directive is not allowed here in \S*nginx\.conf:\d+/
