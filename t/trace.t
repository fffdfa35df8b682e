# t/trace.t - W3C trace context: the client's traceparent gives the trace
# id and its tracestate is passed on; without one (or with one that does
# not parse) a new trace is started; every attempt is a span of its own;
# $fib_trace_id, $fib_span_id and $fib_request_id (the x-request-id sent:
# the client's X-Request-ID, else the trace id). The errors mock echoes, in
# its error message, the metadata each call came with (n=7 INTERNAL, n=8
# UNAVAILABLE).
use Test::Nginx::Socket 'no_plan';

our $T = '0af7651916cd43dd8448eb211c80319c';
our $P = 'b7ad6b7169203331';

run_tests();

__DATA__

=== TEST 1: the client's trace is continued, with a span of our own
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Trace "$fib_trace_id $fib_span_id" always;
}
--- more_headers eval
"traceparent: 00-$main::T-$main::P-01\r\ntracestate: congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
--- request
GET /fib?n=7
--- error_code: 502
--- response_headers_like eval
"X-Trace: $main::T (?!$main::P)[0-9a-f]{16}"
--- response_body_like eval
qr/^\{"error":"echo traceparent=00-$main::T-(?!$main::P)[0-9a-f]{16}-01 tracestate=congo=t61rcWkgMzE,rojo=00f067aa0ba902b7 x-request-id=$main::T","code":"INTERNAL"\}$/



=== TEST 2: no traceparent: a new trace, no tracestate; it is the request id
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Trace-Id "$fib_trace_id $fib_request_id" always;
}
--- more_headers
tracestate: congo=t61rcWkgMzE
--- request
GET /fib?n=7
--- error_code: 502
--- response_headers_like
X-Trace-Id: ([0-9a-f]{32}) \1$
--- response_body_like eval
qr/^\{"error":"echo traceparent=00-([0-9a-f]{32})-[0-9a-f]{16}-01 tracestate=- x-request-id=\1","code":"INTERNAL"\}$/



=== TEST 3: each retry is a span of its own in the same trace
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    fib_retries 2;
    fib_retry_backoff 1ms 2ms;
    add_header X-Span $fib_span_id always;
}
--- more_headers eval
"traceparent: 00-$main::T-$main::P-01"
--- request
GET /fib?n=8
--- error_code: 503
--- grep_error_log eval
qr/traceparent=00-[0-9a-f]{32}-[0-9a-f]{16}-01/
--- grep_error_log_out eval
qr/\Atraceparent=00-$main::T-([0-9a-f]{16})-01\ntraceparent=00-$main::T-(?!\1)([0-9a-f]{16})-01\ntraceparent=00-$main::T-(?!\1|\2)([0-9a-f]{16})-01\n\z/
--- response_headers_like
X-Span: [0-9a-f]{16}



=== TEST 4: traceparents that do not parse start a new trace
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Trace-Id $fib_trace_id always;
}
--- request eval
["GET /fib?n=7", "GET /fib?n=7", "GET /fib?n=7", "GET /fib?n=7"]
--- more_headers eval
["traceparent: 00-00000000000000000000000000000000-$main::P-01",
 "traceparent: 00-$main::T-0000000000000000-01",
 "traceparent: ff-$main::T-$main::P-01",
 "traceparent: 00-\U$main::T\E-$main::P-01"]
--- error_code eval
[502, 502, 502, 502]
--- response_headers_like eval
["X-Trace-Id: (?!$main::T)[0-9a-f]{32}", "X-Trace-Id: (?!$main::T)[0-9a-f]{32}",
 "X-Trace-Id: (?!$main::T)[0-9a-f]{32}", "X-Trace-Id: (?!$main::T)[0-9a-f]{32}"]
--- error_log
invalid traceparent



=== TEST 5: a request refused before any call has a trace id, no span
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    add_header X-Trace "$fib_trace_id/$fib_span_id" always;
}
--- more_headers eval
"traceparent: 00-$main::T-$main::P-00"
--- request
GET /fib?n=abc
--- error_code: 400
--- response_headers_like eval
"X-Trace: $main::T/"



=== TEST 6: the real fibonacci-service answers a traced call
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    add_header X-Trace-Id $fib_trace_id always;
}
--- more_headers eval
"traceparent: 00-$main::T-$main::P-00"
--- request
GET /fib?n=10
--- response_body chomp
{"n":10,"x":55,"value":"55"}
--- response_headers eval
"X-Trace-Id: $main::T"
--- no_error_log
[error]



=== TEST 7: the client's X-Request-ID is sent and is $fib_request_id
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Ids "$fib_trace_id $fib_request_id" always;
}
--- more_headers eval
"traceparent: 00-$main::T-$main::P-01\r\nX-Request-ID: order-42"
--- request
GET /fib?n=7
--- error_code: 502
--- response_headers eval
"X-Ids: $main::T order-42"
--- response_body_like eval
qr/ x-request-id=order-42","code":"INTERNAL"\}$/



=== TEST 8: an X-Request-ID longer than 128 bytes gives way to the trace id
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_ERRORS_PORT;
    add_header X-Request-Id $fib_request_id always;
}
--- more_headers eval
"traceparent: 00-$main::T-$main::P-01\r\nX-Request-ID: " . ("r" x 129)
--- request
GET /fib?n=7
--- error_code: 502
--- response_headers eval
"X-Request-Id: $main::T"
--- response_body_like eval
qr/x-request-id=$main::T","code":"INTERNAL"\}$/
