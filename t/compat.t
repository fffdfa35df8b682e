# t/compat.t - any server of the original contract will do: one that sends
# only x (left off when zero) and refuses n > 92 with INVALID_ARGUMENT, and
# whose stats have no 64-bit fields and whole-millisecond averages.
use Test::Nginx::Socket 'no_plan';

# two reports for n=7 on the original stats server, 3 ms and 5 ms
for my $ns (3000000, 5000000) {
    system("'$ENV{FIB_BIN_DIR}/fibctl' --target "
           . "127.0.0.1:$ENV{TEST_NGINX_MOCK_ORIGINAL_PORT} record 7 $ns "
           . ">/dev/null") == 0
        or die "fibctl record failed\n";
}

run_tests();

__DATA__

=== TEST 1: value is derived from x
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT; }
--- request eval
["GET /fib?n=10", "GET /fib?n=1", "GET /fib?n=92"]
--- response_body eval
['{"n":10,"x":55,"value":"55"}', '{"n":1,"x":1,"value":"1"}',
 '{"n":92,"x":7540113804746346429,"value":"7540113804746346429"}']
--- no_error_log
[error]



=== TEST 2: x absent is 0
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT; }
--- request
GET /fib?n=0
--- response_body chomp
{"n":0,"x":0,"value":"0"}



=== TEST 3: n > 92 refused with INVALID_ARGUMENT is 400 with its message
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT;
    add_header X-Fib-Status $fib_grpc_status always;
}
--- request
GET /fib?n=93
--- error_code: 400
--- response_headers
X-Fib-Status: INVALID_ARGUMENT
--- response_body chomp
{"error":"n too large (max 92)","code":"INVALID_ARGUMENT"}
--- no_error_log
[error]
[warn]



=== TEST 4: original stats: 64-bit counts from the 32-bit ones, no others
The fields that server never sends are left out, not made up as zeros.
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT; }
--- request
GET /stats
--- response_body chomp
{"total_requests":2,"fibonacci_stats":[{"n":7,"request_count":2,"average_time_ms":4,"request_count64":2}],"total_requests64":2}
--- no_error_log
[error]
