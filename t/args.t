# t/args.t - the n argument is checked before any call: missing, empty, not
# a decimal integer, negative or beyond int32 answers 400 INVALID_ARGUMENT.
# The target is a port nothing listens on, so any call would answer 503.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: n missing
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; }
--- request
GET /fib
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"missing query parameter n","code":"INVALID_ARGUMENT"}
--- no_error_log
[warn]
[error]



=== TEST 2: n empty
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; }
--- request
GET /fib?n=
--- error_code: 400
--- response_body chomp
{"error":"n is empty","code":"INVALID_ARGUMENT"}
--- no_error_log
[warn]
[error]



=== TEST 3: n not a number, not an integer, signed with +, padded
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; }
--- request eval
["GET /fib?n=abc", "GET /fib?n=1.5", "GET /fib?n=%2B5", "GET /fib?n=%205",
 "GET /fib?n=10x", "GET /fib?n=-", "GET /fib?n=0x10"]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400]
--- response_body eval
['{"error":"n must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"n must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"n must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"n must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"n must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"n must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"n must be a decimal integer","code":"INVALID_ARGUMENT"}']
--- no_error_log
[warn]
[error]



=== TEST 4: n negative
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; }
--- request eval
["GET /fib?n=-1", "GET /fib?n=-2147483649"]
--- error_code eval
[400, 400]
--- response_body eval
['{"error":"n must be non-negative","code":"INVALID_ARGUMENT"}',
 '{"error":"n must be non-negative","code":"INVALID_ARGUMENT"}']
--- no_error_log
[warn]
[error]



=== TEST 5: n beyond int32 is refused, not wrapped around
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; }
--- request eval
["GET /fib?n=2147483648", "GET /fib?n=4294967306",
 "GET /fib?n=99999999999999999999999999"]
--- error_code eval
[400, 400, 400]
--- response_body eval
['{"error":"n is too large (max 2147483647)","code":"INVALID_ARGUMENT"}',
 '{"error":"n is too large (max 2147483647)","code":"INVALID_ARGUMENT"}',
 '{"error":"n is too large (max 2147483647)","code":"INVALID_ARGUMENT"}']
--- no_error_log
[warn]
[error]



=== TEST 6: HEAD with a bad n answers 400 without a body
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; }
--- request
HEAD /fib?n=abc
--- error_code: 400
--- response_body chomp
--- no_error_log
[warn]
[error]



=== TEST 7: the largest int32 is sent, and the service refuses it
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=2147483647
--- error_code: 400
--- response_body_like chomp
^\{"error":"[^"]+","code":"OUT_OF_RANGE"\}$
--- no_error_log
[warn]
[error]



=== TEST 8: $fib_n holds the parsed n, not found when n is bad
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    add_header X-Fib-N "[$fib_n]" always;
}
--- request eval
["GET /fib?n=007", "GET /fib?n=x"]
--- error_code eval
[200, 400]
--- response_headers eval
["X-Fib-N: [7]", "X-Fib-N: []"]
--- response_body eval
['{"n":7,"x":13,"value":"13"}',
 '{"error":"n must be a decimal integer","code":"INVALID_ARGUMENT"}']



=== TEST 9: n is percent-decoded, as the original's Go gateway reads it
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request eval
["GET /fib?n=%31%30", "GET /fib?x=1&%6E=7", "GET /fib?n=%zz&n=3",
 "GET /fib?n=4;x=1&n=5"]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
['{"n":10,"x":55,"value":"55"}', '{"n":7,"x":13,"value":"13"}',
 '{"n":3,"x":2,"value":"2"}', '{"n":5,"x":5,"value":"5"}']
--- no_error_log
[error]



=== TEST 10: the parameter name is matched exactly: N is not n
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; }
--- request eval
["GET /fib?N=5", "GET /fib?nn=5&xn=5"]
--- error_code eval
[400, 400]
--- response_body eval
['{"error":"missing query parameter n","code":"INVALID_ARGUMENT"}',
 '{"error":"missing query parameter n","code":"INVALID_ARGUMENT"}']
--- no_error_log
[warn]
[error]
