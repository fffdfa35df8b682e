# t/health.t - fib_health: 200 {"status":"SERVING"} when the worker's
# channel to every fib_pass/fib_stats_pass target is READY (a backend that
# answers SERVING to gRPC health checking), 503 naming the first target that
# is not; GET and HEAD only; a location has one content handler.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: every target has a SERVING backend
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATS_PORT; }
location = /health { fib_health; }
--- request eval
["GET /fib?n=1", "GET /stats", "GET /health"]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json"]
--- response_body_like eval
[qr/^\{"n":1,/, qr/^\{"total_requests"/, qr/^\{"status":"SERVING"\}$/]
--- no_error_log
[error]



=== TEST 2: a target with nothing listening
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /down { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; fib_retries 0; }
location = /health { fib_health; }
--- request eval
["GET /fib?n=1", "GET /down?n=1", "GET /health"]
--- error_code eval
[200, 503, 503]
--- response_body_like eval
[qr/^\{"n":1,/, qr/"code":"UNAVAILABLE"/,
 qr/^\{"status":"NOT_SERVING","target":"127\.0\.0\.1:\d+","state":"(TRANSIENT_FAILURE|CONNECTING)"\}$/]



=== TEST 3: a backend without Health/Watch (the original contract) counts as healthy
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT; }
location = /health { fib_health; }
--- request eval
["GET /fib?n=10", "GET /health"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"x":55/, qr/^\{"status":"SERVING"\}$/]



=== TEST 4: HEAD
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /health { fib_health; }
--- request eval
["GET /fib?n=1", "HEAD /health"]
--- error_code eval
[200, 200]
--- response_body eval
[qr/./, ""]
--- response_body_like eval
[qr/"n":1/, qr/^$/]



=== TEST 5: other methods are refused
--- config
location = /health { fib_health; }
--- request
POST /health
hello
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body chomp
{"error":"method not allowed","code":"UNIMPLEMENTED"}



=== TEST 6: fib_health and fib_pass in one location
--- config
location = /health { fib_pass 127.0.0.1:1; fib_health; }
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_health" directive conflicts with another content handler in this location in \S*nginx\.conf:\d+/



=== TEST 7: fib_health takes no arguments
--- config
location = /health { fib_health 127.0.0.1:1; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "fib_health" directive in \S*nginx\.conf:\d+/
