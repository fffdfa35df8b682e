# t/retry.t - transient failures (UNAVAILABLE, DEADLINE_EXCEEDED of one
# attempt) are retried with backoff, logged at warn with the attempt number;
# fib_retries and fib_timeout bound them; a backend that is down is 503.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: the flaky backend answers the third attempt
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_FLAKY_PORT;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /fib?n=10
--- response_headers
X-Fib-Attempts: 3
--- response_body chomp
{"n":10,"x":55,"value":"55"}
--- grep_error_log eval
qr/fib: attempt \d of 4 failed with UNAVAILABLE/
--- grep_error_log_out
fib: attempt 1 of 4 failed with UNAVAILABLE
fib: attempt 2 of 4 failed with UNAVAILABLE
--- no_error_log
[error]



=== TEST 2: each request is a new x-request-id, so each needs 3 attempts
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_FLAKY_PORT;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request eval
["GET /fib?n=11", "GET /fib?n=11"]
--- response_headers eval
["X-Fib-Attempts: 3", "X-Fib-Attempts: 3"]
--- response_body eval
['{"n":11,"x":89,"value":"89"}', '{"n":11,"x":89,"value":"89"}']
--- no_error_log
[error]



=== TEST 3: a client X-Request-ID is passed on: the second request is clean
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_FLAKY_PORT;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- more_headers eval
"X-Request-ID: retry-t-$$-" . time()
--- request eval
["GET /fib?n=12", "GET /fib?n=12"]
--- response_headers eval
["X-Fib-Attempts: 3", "X-Fib-Attempts: 1"]
--- response_body eval
['{"n":12,"x":144,"value":"144"}', '{"n":12,"x":144,"value":"144"}']
--- no_error_log
[error]



=== TEST 4: fib_retries 1 gives up after two attempts with 503
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_FLAKY_PORT;
    fib_retries 1;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /fib?n=10
--- error_code: 503
--- response_headers
X-Fib-Attempts: 2
--- response_body chomp
{"error":"mock: transient failure","code":"UNAVAILABLE"}
--- error_log
fib: attempt 1 of 2 failed with UNAVAILABLE
fib: GetFib failed with UNAVAILABLE "mock: transient failure" after 2 attempts



=== TEST 5: fib_retries 0 makes one attempt
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    fib_retries 0;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /fib?n=2
--- error_code: 503
--- response_headers
X-Fib-Attempts: 1
--- response_body chomp
{"error":"mock: unavailable","code":"UNAVAILABLE"}
--- no_error_log
[warn]



=== TEST 6: always UNAVAILABLE: 4 attempts, then 503
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    fib_retry_backoff 10ms 40ms;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /fib?n=2
--- error_code: 503
--- response_headers
X-Fib-Attempts: 4
--- response_body chomp
{"error":"mock: unavailable","code":"UNAVAILABLE"}
--- grep_error_log eval
qr/fib: attempt \d of 4 failed with UNAVAILABLE "mock: unavailable"/
--- grep_error_log_out
fib: attempt 1 of 4 failed with UNAVAILABLE "mock: unavailable"
fib: attempt 2 of 4 failed with UNAVAILABLE "mock: unavailable"
fib: attempt 3 of 4 failed with UNAVAILABLE "mock: unavailable"
--- error_log
fib: GetFib failed with UNAVAILABLE "mock: unavailable" after 4 attempts



=== TEST 7: DEADLINE_EXCEEDED from the server is retried, then 504
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    fib_retry_backoff 10ms 40ms;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /fib?n=3
--- error_code: 504
--- response_headers
X-Fib-Attempts: 4
--- response_body chomp
{"error":"mock: deadline exceeded","code":"DEADLINE_EXCEEDED"}
--- error_log
fib: attempt 3 of 4 failed with DEADLINE_EXCEEDED
fib: GetFib failed with DEADLINE_EXCEEDED "mock: deadline exceeded" after 4 attempts



=== TEST 8: a backend that is down is 503 after the retries
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /fib?n=10
--- error_code: 503
--- response_headers
X-Fib-Attempts: 4
--- response_body_like chomp
^\{"error":"[^"]+","code":"UNAVAILABLE"\}$
--- error_log
fib: attempt 1 of 4 failed with UNAVAILABLE
fib: attempt 3 of 4 failed with UNAVAILABLE
after 4 attempts



=== TEST 9: no retry is scheduled past fib_timeout
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    fib_timeout 8s;
    fib_retry_backoff 20s 40s;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /fib?n=2
--- error_code: 503
--- response_headers
X-Fib-Attempts: 1
--- response_body chomp
{"error":"mock: unavailable","code":"UNAVAILABLE"}
--- no_error_log
[warn]



=== TEST 10: non-transient failures are not retried
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request eval
["GET /fib?n=1", "GET /fib?n=5", "GET /fib?n=6"]
--- error_code eval
[502, 502, 400]
--- response_headers eval
["X-Fib-Attempts: 1", "X-Fib-Attempts: 1", "X-Fib-Attempts: 1"]
--- no_error_log
[warn]
