# t/fib.t - GET /fib?n=N through fib_pass against the real fibonacci-service:
# the JSON body, x only while F(n) fits int64, the exact value always, HEAD,
# 415 for a POST that is not a JSON batch (t/batch.t), and 405 for every
# other method.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: n=10
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=10
--- response_headers
Content-Type: application/json
--- response_body chomp
{"n":10,"x":55,"value":"55"}
--- no_error_log
[error]
[warn]



=== TEST 2: n=0 keeps x, which proto3 leaves off the wire
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=0
--- response_body chomp
{"n":0,"x":0,"value":"0"}
--- no_error_log
[error]



=== TEST 3: n=92, the largest F(n) that fits int64
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=92
--- response_body chomp
{"n":92,"x":7540113804746346429,"value":"7540113804746346429"}
--- no_error_log
[error]



=== TEST 4: n=93 has no x, only the exact value
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=93
--- response_body chomp
{"n":93,"value":"12200160415121876738"}
--- no_error_log
[error]



=== TEST 5: n=100
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=100
--- response_body chomp
{"n":100,"value":"354224848179261915075"}
--- no_error_log
[error]



=== TEST 6: n=10000, 2090 digits
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=10000
--- response_body_like chomp
^\{"n":10000,"value":"33644764876431783266\d{2050}66073310059947366875"\}$
--- no_error_log
[error]



=== TEST 7: other query arguments are ignored
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?a=1&n=20&b=2
--- response_body chomp
{"n":20,"x":6765,"value":"6765"}
--- no_error_log
[error]



=== TEST 8: HEAD answers the headers of GET and no body
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
HEAD /fib?n=10
--- response_headers
Content-Type: application/json
Content-Length: 28
--- response_body chomp
--- no_error_log
[error]



=== TEST 9: a POST that is not JSON is refused with 415, the body discarded
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
POST /fib?n=10
n=10
--- error_code: 415
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"a POST body must be application/json: {\"n\":[...]}","code":"INVALID_ARGUMENT"}
--- no_error_log
[error]



=== TEST 10: DELETE is refused with 405
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
DELETE /fib?n=10
--- error_code: 405
--- response_headers
Allow: GET, HEAD, POST
--- response_body chomp
{"error":"method not allowed","code":"UNIMPLEMENTED"}



=== TEST 11: several locations share one target, one channel
--- config
location = /a { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /b { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /both.html { ssi on; }
--- user_files
>>> both.html
<!--# include virtual="/a?n=11" wait="yes" --><!--# include virtual="/b?n=12" -->
--- request
GET /both.html
--- response_body
{"n":11,"x":89,"value":"89"}{"n":12,"x":144,"value":"144"}
--- grep_error_log eval
qr/fib: channel to "[^"]+" created/
--- grep_error_log_out eval
"fib: channel to \"127.0.0.1:$ENV{TEST_NGINX_FIB_PORT}\" created\n"
--- no_error_log
[error]
