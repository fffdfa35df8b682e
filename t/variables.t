# t/variables.t - $fib_n, $fib_grpc_status, $fib_attempts, $fib_upstream_time
# for access logs, shown here through add_header; empty (not found) when no
# call was made.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: a call that succeeds at once
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    add_header X-Fib "n=$fib_n status=$fib_grpc_status attempts=$fib_attempts time=$fib_upstream_time" always;
}
--- request
GET /fib?n=10
--- response_headers_like
X-Fib: n=10 status=OK attempts=1 time=\d+\.\d{3}
--- response_body chomp
{"n":10,"x":55,"value":"55"}



=== TEST 2: retries counted, backoff delays in the time
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_FLAKY_PORT;
    fib_retry_backoff 100ms 100ms;
    add_header X-Fib "n=$fib_n status=$fib_grpc_status attempts=$fib_attempts time=$fib_upstream_time" always;
}
--- request
GET /fib?n=3
--- response_headers_like
X-Fib: n=3 status=OK attempts=3 time=(0\.(1\d|[2-9]\d)\d|[1-9]\.\d\d\d)
--- response_body chomp
{"n":3,"x":2,"value":"2"}



=== TEST 3: the last status of a failed call
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Fib "n=$fib_n status=$fib_grpc_status attempts=$fib_attempts" always;
}
--- request
GET /fib?n=1
--- error_code: 502
--- response_headers
X-Fib: n=1 status=INTERNAL attempts=1



=== TEST 4: no call, nothing but n
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    add_header X-Fib "n=$fib_n status=$fib_grpc_status attempts=$fib_attempts time=$fib_upstream_time" always;
}
--- request
GET /fib?n=-5
--- error_code: 400
--- response_headers
X-Fib: n= status= attempts= time=



=== TEST 5: /stats has no n
--- config
location = /stats {
    fib_stats_pass 127.0.0.1:$TEST_NGINX_STATS_PORT;
    add_header X-Fib "n=$fib_n status=$fib_grpc_status attempts=$fib_attempts" always;
}
--- request
GET /stats
--- response_headers
X-Fib: n= status=OK attempts=1



=== TEST 6: the variables in an access log format
--- http_config
log_format fib '$request $status n=$fib_n grpc=$fib_grpc_status '
               'attempts=$fib_attempts time=$fib_upstream_time';
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    access_log logs/fib.log fib;
}
location = /fib.log { alias logs/fib.log; }
--- request eval
["GET /fib?n=12", "GET /fib.log"]
--- response_body_like eval
[qr/^\{"n":12,"x":144,"value":"144"\}$/,
 qr{GET /fib\?n=12 HTTP/1\.1 200 n=12 grpc=OK attempts=1 time=\d+\.\d{3}\n$}]
--- no_error_log
[error]
