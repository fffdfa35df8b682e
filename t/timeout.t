# t/timeout.t - fib_timeout bounds a request, retries included (504), and a
# client that goes away cancels its gRPC call.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: the slow backend answers within the default 5s
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_SLOW_PORT;
    add_header X-Fib-Time $fib_upstream_time always;
}
--- request
GET /fib?n=10
--- response_headers_like
X-Fib-Time: (0\.(19\d|[2-9]\d\d)|[1-4]\.\d\d\d)
--- response_body chomp
{"n":10,"x":55,"value":"55"}
--- no_error_log
[error]



=== TEST 2: a backend slower than fib_timeout is 504, not retried
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_SLOW_PORT;
    fib_timeout 100ms;
    add_header X-Fib-Attempts $fib_attempts always;
    add_header X-Fib-Status $fib_grpc_status always;
}
--- request
GET /fib?n=10
--- error_code: 504
--- response_headers
X-Fib-Attempts: 1
X-Fib-Status: DEADLINE_EXCEEDED
--- response_body_like chomp
^\{"error":"[^"]+","code":"DEADLINE_EXCEEDED"\}$
--- error_log
fib: GetFib failed with DEADLINE_EXCEEDED
--- no_error_log
[warn]



=== TEST 3: fib_timeout is inherited from the server level
--- config
fib_timeout 50ms;
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_SLOW_PORT; }
--- request
GET /fib?n=10
--- error_code: 504
--- response_body_like chomp
"code":"DEADLINE_EXCEEDED"



=== TEST 4: a client that goes away cancels the call
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_SLOW_PORT;
    fib_timeout 60s;
}
--- request
GET /fib?n=10000
--- timeout: 5
--- abort
--- ignore_response
--- wait: 0.3
--- error_log
client prematurely closed connection
fib: request closed, cancelling its gRPC call
--- no_error_log
[error]



=== TEST 5: /stats has the same deadline
--- config
location = /stats {
    fib_stats_pass 127.0.0.1:$TEST_NGINX_MOCK_SLOW_PORT;
    fib_timeout 100ms;
}
--- request
GET /stats
--- error_code: 504
--- response_body_like chomp
"code":"DEADLINE_EXCEEDED"
