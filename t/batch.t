# t/batch.t - batches through fib_pass against the real fibonacci-service
# (GetFibBatch): GET /fib?n=1,5,10 and POST /fib {"n":[...]} answer a JSON
# array of the unary answers in request order, values checked against
# Math::BigInt; a bad n is named in a 400; fib_batch_max; bad JSON; the
# body limits (client_max_body_size through an error_page, and
# client_body_buffer_size); HEAD; a backend without GetFibBatch.
use Test::Nginx::Socket 'no_plan';
use Math::BigInt;

my @F = (Math::BigInt->new(0), Math::BigInt->new(1));
push @F, $F[-1] + $F[-2] while @F <= 1000;

# The unary body of n, as the module writes it.
sub item {
    my ($n) = @_;
    my $v = $F[$n]->bstr;
    return $n <= 92 ? qq({"n":$n,"x":$v,"value":"$v"})
                    : qq({"n":$n,"value":"$v"});
}

sub batch { return '[' . join(',', map { item($_) } @_) . ']' }

no warnings 'once';
$main::batch = \&batch;

run_tests();

__DATA__

=== TEST 1: GET with a list of n: an array in request order
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=1,5,10
--- response_headers
Content-Type: application/json
--- response_body eval
$main::batch->(1, 5, 10)
--- no_error_log
[error]
[warn]



=== TEST 2: duplicates, zero, large n, order kept
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=1000,0,93,92,1000,%32
--- response_body eval
$main::batch->(1000, 0, 93, 92, 1000, 2)
--- no_error_log
[error]



=== TEST 3: POST a JSON body
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- more_headers
Content-Type: application/json
--- request
POST /fib
{"n": [1, 5, 10, 500]}
--- response_body eval
$main::batch->(1, 5, 10, 500)
--- no_error_log
[error]



=== TEST 4: POST with a charset, and an empty list
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- more_headers
Content-Type: application/json; charset=utf-8
--- request
POST /fib
{"n":[]}
--- response_body chomp
[]
--- no_error_log
[error]



=== TEST 5: a bad n in the list is named
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request eval
["GET /fib?n=1,abc,3", "GET /fib?n=1,-2", "GET /fib?n=4,", "GET /fib?n=1,2147483648"]
--- error_code eval
[400, 400, 400, 400]
--- response_body eval
['{"error":"n[1] \"abc\" must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"n[1] \"-2\" must be non-negative","code":"INVALID_ARGUMENT"}',
 '{"error":"n[1] \"\" must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"n[1] \"2147483648\" is too large (max 2147483647)","code":"INVALID_ARGUMENT"}']
--- no_error_log
[error]



=== TEST 6: fib_batch_max bounds GET and POST
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; fib_batch_max 3; }
--- more_headers
Content-Type: application/json
--- request eval
["GET /fib?n=1,2,3", "GET /fib?n=1,2,3,4", "POST /fib\r\n{\"n\":[1,2,3,4]}"]
--- error_code eval
[200, 400, 400]
--- response_body eval
[$main::batch->(1, 2, 3),
 '{"error":"too many n: 4, at most 3 (fib_batch_max)","code":"INVALID_ARGUMENT"}',
 '{"error":"too many n: 4, at most 3 (fib_batch_max)","code":"INVALID_ARGUMENT"}']
--- no_error_log
[error]



=== TEST 7: bodies that are not {"n":[integers]}
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- more_headers
Content-Type: application/json
--- request eval
["POST /fib\r\n{\"n\":[1,2", "POST /fib\r\n[1,2]", "POST /fib\r\n{\"n\":[1,\"2\"]}",
 "POST /fib\r\n{\"n\":[1,2.5]}", "POST /fib\r\n{\"n\":[-1]}",
 "POST /fib\r\n{\"n\":[1],\"n\":[2]}", "POST /fib\r\n"]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400]
--- response_body_like eval
['^\{"error":"invalid JSON body: .* at line 1 column \d+","code":"INVALID_ARGUMENT"\}$',
 '^\{"error":"the body must be an object with an array \\\\"n\\\\": \{\\\\"n\\\\":\[1,5,10\]\}","code":"INVALID_ARGUMENT"\}$',
 '^\{"error":"n\[1\] must be an integer, not a string","code":"INVALID_ARGUMENT"\}$',
 '^\{"error":"n\[1\] must be an integer, not a fraction","code":"INVALID_ARGUMENT"\}$',
 '^\{"error":"n\[0\] = -1 must be between 0 and 2147483647","code":"INVALID_ARGUMENT"\}$',
 '^\{"error":"invalid JSON body: duplicate object key .*","code":"INVALID_ARGUMENT"\}$',
 '^\{"error":"invalid JSON body: .*","code":"INVALID_ARGUMENT"\}$']
--- no_error_log
[error]



=== TEST 8: a POST that is not JSON: 415
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- request
POST /fib
n=1,2
--- error_code: 415
--- response_body chomp
{"error":"a POST body must be application/json: {\"n\":[...]}","code":"INVALID_ARGUMENT"}



=== TEST 9: client_max_body_size: nginx's 413, made JSON by an error_page
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    client_max_body_size 16;
    error_page 413 = @too_large;
}
location @too_large {
    default_type application/json;
    return 413 '{"error":"request body too large","code":"INVALID_ARGUMENT"}';
}
--- more_headers
Content-Type: application/json
--- request
POST /fib
{"n":[1,2,3,4,5,6,7,8,9]}
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":"request body too large","code":"INVALID_ARGUMENT"}



=== TEST 10: a body beyond client_body_buffer_size is refused, not read from disk
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    client_body_buffer_size 16;
}
--- more_headers
Content-Type: application/json
--- request
POST /fib
{"n":[1,2,3,4,5,6,7,8,9]}
--- error_code: 413
--- response_body chomp
{"error":"request body larger than client_body_buffer_size","code":"INVALID_ARGUMENT"}



=== TEST 11: HEAD answers the headers only
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
HEAD /fib?n=1,2
--- response_headers
Content-Type: application/json
Content-Length: 53
--- response_body chomp
--- no_error_log
[error]



=== TEST 12: the service refuses an n: its status and message
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=1,2147483647
--- error_code: 400
--- response_body_like chomp
^\{"error":"n\[1\] = 2147483647: n must be between 0 and \d+","code":"OUT_OF_RANGE"\}$



=== TEST 13: a backend of the original contract has no GetFibBatch: 502
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT; }
--- request
GET /fib?n=1,2
--- error_code: 502
--- response_body_like chomp
^\{"error":".*","code":"UNIMPLEMENTED"\}$
--- error_log
fib: GetFibBatch failed with UNIMPLEMENTED



=== TEST 14: fib_batch_max out of bounds is a configuration error
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; fib_batch_max 0; }
--- must_die
--- error_log eval
qr/\[emerg\] .*value must be between 1 and 1000000 in \S*nginx\.conf:\d+/
