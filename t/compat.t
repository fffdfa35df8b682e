# t/compat.t - any server of the original contract will do: one that sends
# only x (left off when zero) and refuses n > 92 with INVALID_ARGUMENT, and
# whose stats have no 64-bit fields and whole-millisecond averages.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: value is derived from x
--- main_config
load_module $TEST_NGINX_FIB_MODULE;
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
--- main_config
load_module $TEST_NGINX_FIB_MODULE;
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT; }
--- request
GET /fib?n=0
--- response_body chomp
{"n":0,"x":0,"value":"0"}



=== TEST 3: n > 92 refused with INVALID_ARGUMENT is 400 with its message
--- main_config
load_module $TEST_NGINX_FIB_MODULE;
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



=== TEST 4: original stats: no 64-bit fields, taken from the 32-bit ones
--- main_config
load_module $TEST_NGINX_FIB_MODULE;
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT; }
--- request
GET /stats
--- response_body_like chomp
^\{"total_requests":(\d+),"fibonacci_stats":\[(\{"n":\d+,"request_count":(\d+),"average_time_ms":\d+,"request_count64":\3,"min_duration_ns":0,"max_duration_ns":0,"total_duration_ns":0,"cache_hits":0,"cache_misses":0\},?)*\],"total_requests64":\1\}$
--- no_error_log
[error]
