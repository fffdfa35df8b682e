# t/errors.t - upstream failures map to HTTP statuses with a JSON body that
# names the gRPC status: 400 for the service's range errors, 502 for
# INTERNAL, unparseable replies and anything else; logged at error.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: INTERNAL is 502
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Fib-Status $fib_grpc_status always;
}
--- request
GET /fib?n=1
--- error_code: 502
--- response_headers
Content-Type: application/json
X-Fib-Status: INTERNAL
--- response_body chomp
{"error":"mock internal error","code":"INTERNAL"}
--- error_log
fib: GetFib failed with INTERNAL "mock internal error" after 1 attempt
--- no_error_log
[warn]



=== TEST 2: a reply that does not parse is 502, and INTERNAL in the variable
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Fib-Status $fib_grpc_status always;
}
--- request
GET /fib?n=4
--- error_code: 502
--- response_headers
X-Fib-Status: INTERNAL
--- response_body chomp
{"error":"unparseable reply from the Fibonacci service","code":"INTERNAL"}
--- error_log
does not parse as FibonacciResponse



=== TEST 3: RESOURCE_EXHAUSTED is 502
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT; }
--- request
GET /fib?n=5
--- error_code: 502
--- response_body chomp
{"error":"mock: resource exhausted","code":"RESOURCE_EXHAUSTED"}
--- error_log
[error]



=== TEST 4: OUT_OF_RANGE from the service is 400 with its message
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT; }
--- request
GET /fib?n=6
--- error_code: 400
--- response_body chomp
{"error":"n out of range","code":"OUT_OF_RANGE"}
--- no_error_log
[error]
[warn]



=== TEST 5: n above the real service's maximum is 400 OUT_OF_RANGE
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=1000001
--- error_code: 400
--- response_body_like chomp
^\{"error":"[^"]*1000000[^"]*","code":"OUT_OF_RANGE"\}$
--- no_error_log
[error]
[warn]



=== TEST 6: the errors backend answers other n like the original
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT; }
--- request
GET /fib?n=10
--- response_body chomp
{"n":10,"x":55,"value":"55"}
--- no_error_log
[error]



=== TEST 7: GetStats failing with INTERNAL is 502 on /stats
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT; }
--- request
GET /stats
--- error_code: 502
--- response_body_like chomp
^\{"error":"[^"]*","code":"INTERNAL"\}$
--- error_log
fib: GetStats failed with INTERNAL



=== TEST 8: lines logged on completion name the request they are about
Two subrequests (SSI) in flight at once: each failure is logged with its own.
--- config
location = /page {
    default_type text/html;
    ssi on;
    return 200 '<!--# include virtual="/one?n=1" --><!--# include virtual="/five?n=5" -->';
}
location /one { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT; }
location /five { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT; }
--- request
GET /page
--- error_log eval
[qr/GetFib failed with INTERNAL "mock internal error".*subrequest: "\/one"/,
 qr/GetFib failed with RESOURCE_EXHAUSTED .*subrequest: "\/five"/]
