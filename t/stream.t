# t/stream.t - GET /fib?from=A&to=B streamed over GetFibRange: NDJSON and
# Server-Sent Events checked line by line against Math::BigInt, Last-Event-ID,
# HEAD, HTTP/2, bad ranges, errors before the first message (the unary
# statuses) and after it (a last error line or event), a stream resumed
# after UNAVAILABLE with no gap and no duplicate, fib_timeout per message
# and fib_stream_timeout, the $fib_stream_* variables (the access log is
# written into the error log to be checked), a slow reader (the worker's
# memory stays bounded while the client reads nothing) and a client that
# goes away (the daemon logs the cancel).  The failures come from the
# "ranges" mock (tests/node/mock.js), chosen by `to`.
use Test::Nginx::Socket 'no_plan';
use Math::BigInt;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes ();

no_shuffle();

my @F = (Math::BigInt->new(0), Math::BigInt->new(1));
push @F, $F[-1] + $F[-2] while @F <= 1100;

my $valgrind = $ENV{TEST_NGINX_USE_VALGRIND};
my $patience = $valgrind ? 60 : 15;     # seconds, for events awaited

# The unary body of n, as the module writes it.
sub item {
    my ($n) = @_;
    my $v = $F[$n]->bstr;
    return $n <= 92 ? qq({"n":$n,"x":$v,"value":"$v"})
                    : qq({"n":$n,"value":"$v"});
}

sub ndjson { return join '', map { item($_) . "\n" } $_[0] .. $_[1] }

sub sse {
    return join '', map { "id: $_\ndata: " . item($_) . "\n\n" }
                    $_[0] .. $_[1];
}

# F(n) by fast doubling: independent of the module's and daemon's sums.
sub fib_big {
    my ($n) = @_;
    my ($a, $b) = (Math::BigInt->new(0), Math::BigInt->new(1));
    for my $bit (split //, sprintf('%b', $n)) {
        my $c = $a * ($b * 2 - $a);
        my $d = $a * $a + $b * $b;
        ($a, $b) = $bit ? ($d, $c + $d) : ($c, $d);
    }
    return $a;
}

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) {
        return $1 if /^VmRSS:\s+(\d+)/;
    }
    return undef;
}

# A connection to nginx, which may still be starting (under valgrind).
sub connect_nginx {
    my ($rcvbuf) = @_;
    my $deadline = time + $patience;
    for (;;) {
        my $s = IO::Socket::INET->new(Proto => 'tcp', Timeout => $patience)
            or die "socket: $!";
        setsockopt($s, SOL_SOCKET, SO_RCVBUF, $rcvbuf) if $rcvbuf;
        return $s if $s->connect(Socket::pack_sockaddr_in(
            $ENV{TEST_NGINX_SERVER_PORT}, Socket::inet_aton('127.0.0.1')));
        die "connect: $!" if time > $deadline;
        Time::HiRes::sleep(0.1);
    }
}

# Sends an HTTP/1.0 GET, returns the socket and the response header.
sub get_stream {
    my ($uri, $rcvbuf) = @_;
    my $s = connect_nginx($rcvbuf);
    print $s "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $head = '';
    while ($head !~ /\r\n\r\n/) {
        my $n = sysread($s, $head, 1, length $head);
        die "no response header" unless $n;
    }
    return ($s, $head);
}

# The worker's RSS once it stops changing (nothing else runs in it).
sub settled_rss {
    my ($pid) = @_;
    my ($last, $same) = (-1, 0);
    my $deadline = time + $patience;
    while (time < $deadline) {
        my $rss = rss_kb($pid) // return undef;
        $same = $rss == $last ? $same + 1 : 0;
        return $rss if $same >= 10;
        $last = $rss;
        Time::HiRes::sleep(0.1);
    }
    return $last;
}

# A client that reads 64k of 0..20000 (42 MB) and then nothing: the
# worker must not take the stream in; then the rest, complete, in order.
sub slow_reader {
    my $to = $valgrind ? 3000 : 20000;
    my ($s, $head) = get_stream("/fib?from=0&to=$to", 16384);
    Test::More::like($head, qr{^HTTP/1\.\d 200}, 'slow reader: 200');
    my ($pid) = $head =~ /X-Worker-Pid: (\d+)/;
    my $daemon = $ENV{TEST_NGINX_FIB_PID};
    my $before = rss_kb($pid);
    my $daemon_before = rss_kb($daemon);

    my $body = '';
    sysread($s, $body, 65536 - length $body, length $body)
        while length $body < 65536;

    my $rss = settled_rss($pid);
    my $growth;

    my $daemon_rss = settled_rss($daemon);

    if (!$valgrind) {
        $growth = ($rss - $before) / 1024;
        Test::More::cmp_ok($growth, '<', 8,
            sprintf('slow reader: the worker grew %.1f MiB while the client '
                    . 'read nothing (of a 42 MB stream)', $growth));
    }

    # gRPC flow control paused the daemon too (its cache may grow a little)
    $growth = ($daemon_rss - $daemon_before) / 1024;
    Test::More::cmp_ok($growth, '<', 8,
        sprintf('slow reader: fibonacci-service grew %.1f MiB meanwhile',
                $growth));

    1 while sysread($s, $body, 1 << 20, length $body);
    close $s;

    my @lines = split /\n/, $body;
    my $ok = @lines == $to + 1;
    for my $n (0 .. $#lines) {
        if ($lines[$n] !~ /^\{"n":$n,(?:"x":\d+,)?"value":"\d+"\}$/) {
            $ok = 0;
            last;
        }
    }
    Test::More::ok($ok, "slow reader: " . scalar(@lines)
                        . " lines, n from 0 to $to in order");
    my ($last) = $lines[-1] =~ /"value":"(\d+)"/;
    Test::More::is($last, fib_big($to)->bstr, "slow reader: F($to)");
}

# A client that goes away mid-stream: the daemon logs the cancel.
sub abort_reader {
    my $log = $ENV{TEST_NGINX_FIB_LOG};
    my $start = -s $log;
    my ($s, $head) = get_stream("/fib?from=1&to=100000", 16384);
    my $buf;
    sysread($s, $buf, 65536);
    close $s;

    my $deadline = time + $patience;
    my $seen = '';
    while (time < $deadline) {
        open my $fh, '<', $log or die "$log: $!";
        seek $fh, $start, 0;
        local $/;
        $seen = <$fh> // '';
        close $fh;
        last if $seen =~ /cancelled GetFibRange at n=\d+ of 100000/;
        Time::HiRes::sleep(0.05);
    }
    Test::More::like($seen, qr/cancelled GetFibRange at n=\d+ of 100000/,
                     'abort: fibonacci-service logged the cancel');
}

# The same stream over HTTP/2 (curl), NDJSON and SSE.
sub http2 {
    close connect_nginx();      # nginx is up: both its listeners are
    my $sock = "/tmp/fib-stream-h2-$ENV{TEST_NGINX_SERVER_PORT}.sock";
    my $out = `curl -sS --http2-prior-knowledge --unix-socket $sock -w '%{http_version}' 'http://localhost/fib?from=0&to=120'`;
    Test::More::is($out, ndjson(0, 120) . '2', 'HTTP/2: NDJSON');
    $out = `curl -sS --http2-prior-knowledge --unix-socket $sock -H 'Accept: text/event-stream' -H 'Last-Event-ID: 100' 'http://localhost/fib?from=0&to=120'`;
    Test::More::is($out, sse(101, 120), 'HTTP/2: SSE after Last-Event-ID');
}

no warnings 'once';
$main::ndjson = \&ndjson;
$main::sse = \&sse;
$main::slow_reader = \&slow_reader;
$main::abort_reader = \&abort_reader;
$main::http2 = \&http2;

run_tests();

__DATA__

=== TEST 1: NDJSON: one unary body a line, past int64 (x left out)
--- http_config
log_format stream 'access: items=$fib_stream_items bytes=$fib_stream_bytes resumed=$fib_stream_resumed status=$fib_grpc_status';
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    access_log logs/error.log stream;
}
--- request
GET /fib?from=0&to=100
--- response_headers
Content-Type: application/x-ndjson
!Content-Length
--- response_body eval
$main::ndjson->(0, 100)
--- error_log eval
my $len = length $main::ndjson->(0, 100);
qr/access: items=101 bytes=$len resumed=0 status=OK/
--- no_error_log
[error]
[warn]



=== TEST 2: HTTP/1.1 chunked
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?from=7&to=7
--- response_headers
Transfer-Encoding: chunked
--- response_body eval
$main::ndjson->(7, 7)
--- no_error_log
[error]



=== TEST 3: Server-Sent Events
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?from=88&to=96
--- more_headers
Accept: text/event-stream
--- response_headers
Content-Type: text/event-stream
Cache-Control: no-cache
--- response_body eval
$main::sse->(88, 96)
--- no_error_log
[error]



=== TEST 4: Last-Event-ID resumes after that n
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?from=88&to=96
--- more_headers
Accept: text/event-stream
Last-Event-ID: 92
--- response_body eval
$main::sse->(93, 96)
--- no_error_log
[error]



=== TEST 5: Last-Event-ID of the last n: 204, so an EventSource stops
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?from=88&to=96
--- more_headers
Accept: text/event-stream
Last-Event-ID: 96
--- error_code: 204
--- response_body
--- no_error_log
[error]



=== TEST 6: a bad Last-Event-ID is 400
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?from=0&to=5
--- more_headers
Last-Event-ID: five
--- error_code: 400
--- response_body chomp
{"error":"Last-Event-ID must be a decimal integer","code":"INVALID_ARGUMENT"}



=== TEST 7: HEAD: the header only
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
HEAD /fib?from=0&to=50
--- response_headers
Content-Type: application/x-ndjson
--- response_body
--- no_error_log
[error]



=== TEST 8: HTTP/2 (curl), NDJSON and SSE
--- http_config eval
"server {
    listen unix:/tmp/fib-stream-h2-$ENV{TEST_NGINX_SERVER_PORT}.sock http2;
    location = /fib { fib_pass 127.0.0.1:$ENV{TEST_NGINX_FIB_PORT}; }
}"
--- config
location = /t { return 200 "ok\n"; }
--- init
$main::http2->();
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]



=== TEST 9: bad ranges are 400 before any call
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT; }
--- request eval
["GET /fib?from=5&to=4", "GET /fib?from=-1&to=4", "GET /fib?from=0&to=x",
 "GET /fib?from=0", "GET /fib?to=3", "GET /fib?n=1&from=0&to=3",
 "GET /fib?from=0&to=2147483648"]
--- error_code eval
[400, 400, 400, 400, 400, 400, 400]
--- response_body eval
['{"error":"from must not be greater than to","code":"INVALID_ARGUMENT"}',
 '{"error":"from must be non-negative","code":"INVALID_ARGUMENT"}',
 '{"error":"to must be a decimal integer","code":"INVALID_ARGUMENT"}',
 '{"error":"a range needs both from and to","code":"INVALID_ARGUMENT"}',
 '{"error":"a range needs both from and to","code":"INVALID_ARGUMENT"}',
 '{"error":"n cannot be given with from and to","code":"INVALID_ARGUMENT"}',
 '{"error":"to is too large (max 2147483647)","code":"INVALID_ARGUMENT"}']
--- no_error_log
[error]



=== TEST 10: the daemon's limits, before the first message: unary statuses
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request eval
["GET /fib?from=0&to=2000000", "GET /fib?from=0&to=100000"]
--- error_code eval
[400, 400]
--- response_body_like eval
[qr/^\{"error":"to must be at most \d+ \(got 2000000\)","code":"OUT_OF_RANGE"\}$/,
 qr/^\{"error":"[^"]*at most 100000 items[^"]*","code":"OUT_OF_RANGE"\}$/]



=== TEST 11: a backend that is down: 503 after the retries
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_DOWN_PORT;
    fib_retries 1;
    fib_retry_backoff 10ms;
}
--- request
GET /fib?from=0&to=10
--- error_code: 503
--- response_body_like chomp
^\{"error":"[^"]*","code":"UNAVAILABLE"\}$



=== TEST 12: UNAVAILABLE after 3 messages, twice: resumed, complete, in order
--- http_config
log_format stream 'access: items=$fib_stream_items resumed=$fib_stream_resumed status=$fib_grpc_status';
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_RANGES_PORT;
    fib_retry_backoff 10ms;
    access_log logs/error.log stream;
}
--- request
GET /fib?from=990&to=1001
--- response_body eval
$main::ndjson->(990, 1001)
--- grep_error_log eval
qr/fib: attempt \d of 4 failed with UNAVAILABLE "[^"]*" after \d+ items, resuming at n=\d+|access: .*/
--- grep_error_log_out
fib: attempt 1 of 4 failed with UNAVAILABLE "mock: failure after 3 messages" after 3 items, resuming at n=993
fib: attempt 1 of 4 failed with UNAVAILABLE "mock: failure after 3 messages" after 6 items, resuming at n=996
access: items=12 resumed=2 status=OK
--- no_error_log
[error]



=== TEST 13: the same over SSE
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_RANGES_PORT;
    fib_retry_backoff 10ms;
}
--- request
GET /fib?from=995&to=1001
--- more_headers
Accept: text/event-stream
--- response_body eval
$main::sse->(995, 1001)
--- no_error_log
[error]



=== TEST 14: UNAVAILABLE before the first message: retried as a unary call
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_RANGES_PORT;
    fib_retry_backoff 10ms;
}
--- request
GET /fib?from=1000&to=1004
--- response_body eval
$main::ndjson->(1000, 1004)
--- error_log
fib: attempt 1 of 4 failed with UNAVAILABLE "mock: failure after 0 messages", retrying in
--- no_error_log
[error]



=== TEST 15: INTERNAL after 3 messages: a last error line, logged
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_RANGES_PORT; }
--- request
GET /fib?from=10&to=1002
--- response_body eval
$main::ndjson->(10, 12)
. qq({"error":"mock: failure after 3 messages","code":"INTERNAL"}\n)
--- error_log
fib: GetFibRange failed with INTERNAL "mock: failure after 3 messages" after 1 attempt and 3 items, ending the stream with an error



=== TEST 16: the same over SSE: an error event
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_RANGES_PORT; }
--- request
GET /fib?from=10&to=1002
--- more_headers
Accept: text/event-stream
--- response_body eval
$main::sse->(10, 12)
. qq(event: error\ndata: {"error":"mock: failure after 3 messages","code":"INTERNAL"}\n\n)



=== TEST 17: UNAVAILABLE with no progress: fib_retries 1 gives up
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_RANGES_PORT;
    fib_retries 1;
    fib_retry_backoff 10ms;
}
--- request
GET /fib?from=0&to=1003
--- response_body eval
$main::ndjson->(0, 2)
. qq({"error":"mock: failure after 0 messages","code":"UNAVAILABLE"}\n)
--- error_log
resuming at n=3
fib: GetFibRange failed with UNAVAILABLE "mock: failure after 0 messages" after 2 attempts and 3 items, ending the stream with an error



=== TEST 18: a stream that stops: fib_timeout bounds the wait for each message
--- config eval
"location = /fib {
    fib_pass 127.0.0.1:$ENV{TEST_NGINX_MOCK_RANGES_PORT};
    fib_timeout " . ($ENV{TEST_NGINX_USE_VALGRIND} ? '10s' : '1s') . ";
}"
--- request
GET /fib?from=0&to=1005
--- response_body eval
$main::ndjson->(0, 2)
. qq({"error":"fib_timeout expired","code":"DEADLINE_EXCEEDED"}\n)
--- error_log
fib: GetFibRange failed with DEADLINE_EXCEEDED "fib_timeout expired"
--- timeout: 60



=== TEST 19: fib_stream_timeout bounds the whole stream
--- config eval
"location = /fib {
    fib_pass 127.0.0.1:$ENV{TEST_NGINX_MOCK_RANGES_PORT};
    fib_timeout 60s;
    fib_stream_timeout " . ($ENV{TEST_NGINX_USE_VALGRIND} ? '10s' : '1s') . ";
}"

--- request
GET /fib?from=0&to=1005
--- response_body eval
$main::ndjson->(0, 2)
. qq({"error":"fib_stream_timeout expired","code":"DEADLINE_EXCEEDED"}\n)
--- error_log
fib: GetFibRange failed with DEADLINE_EXCEEDED "fib_stream_timeout expired"
--- timeout: 60



=== TEST 20: a message out of order ends the stream with an error
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_RANGES_PORT; }
--- request
GET /fib?from=0&to=1006
--- response_body eval
$main::ndjson->(0, 2)
. qq({"error":"the stream is out of order","code":"INTERNAL"}\n)
--- error_log
fib: GetFibRange sent n=4 where n=3 was due



=== TEST 21: a slow reader: the worker's memory stays bounded
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    add_header X-Worker-Pid $pid;
}
--- init
$main::slow_reader->();
--- request
GET /fib?from=0&to=3
--- response_body eval
$main::ndjson->(0, 3)
--- no_error_log
[error]
--- timeout: 120



=== TEST 22: a client that goes away cancels the stream
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- init
$main::abort_reader->();
--- request
GET /fib?from=0&to=1
--- response_body eval
$main::ndjson->(0, 1)
--- error_log
fib: request closed, cancelling its gRPC call
--- no_error_log
[error]



=== TEST 23: fib_stream_timeout 0
--- config
location = /fib {
    fib_pass 127.0.0.1:1;
    fib_stream_timeout 0;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_stream_timeout" must be greater than zero in \S*nginx\.conf:\d+/



=== TEST 24: fib_stream_buffer of one byte: one message at a time, same bytes
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT;
    fib_stream_buffer 1;
}
--- request
GET /fib?from=0&to=1000
--- response_body eval
$main::ndjson->(0, 1000)
--- no_error_log
[error]



=== TEST 25: metrics: a stream is one GetFibRange call (one per attempt), each item a message received; HEAD cancels
--- http_config
fib_metrics_zone t_stream_metrics;
--- config
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /flaky {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_RANGES_PORT;
    fib_retry_backoff 10ms;
}
location = /metrics { fib_metrics; }
--- request eval
["GET /fib?from=0&to=9", "HEAD /fib?from=0&to=9",
 "GET /flaky?from=990&to=1001", "GET /metrics"]
--- response_body_like eval
[qr/^\{"n":0,/, qr/^$/, qr/^\{"n":990,/,
 qr/(?sm)\A(?=.*^\Qgrpc_client_started_total{grpc_type="server_stream",grpc_service="fibonacci.Fibonacci",grpc_method="GetFibRange"} 5\E$)(?=.*^\Qgrpc_client_msg_received_total{grpc_type="server_stream",grpc_service="fibonacci.Fibonacci",grpc_method="GetFibRange"} 23\E$)(?=.*^\Qgrpc_client_handled_total{grpc_type="server_stream",grpc_service="fibonacci.Fibonacci",grpc_method="GetFibRange",grpc_code="OK"} 2\E$)(?=.*^\Qgrpc_client_handled_total{grpc_type="server_stream",grpc_service="fibonacci.Fibonacci",grpc_method="GetFibRange",grpc_code="CANCELLED"} 1\E$)(?=.*^\Qgrpc_client_handled_total{grpc_type="server_stream",grpc_service="fibonacci.Fibonacci",grpc_method="GetFibRange",grpc_code="UNAVAILABLE"} 2\E$)(?=.*^\Qfib_retries_total{handler="fib_pass"} 2\E$)(?=.*^\Qfib_http_responses_total{handler="fib_pass",code="200"} 3\E$)/]
--- no_error_log
[error]
