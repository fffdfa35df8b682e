# trace.t - one request followed by one id from nginx's access log through
# both daemons' logs: nginx logs $fib_trace_id and $fib_span_id, and the
# fibonacci-service (getfib) and stats-service (query) debug lines of
# that call carry the same trace_id and, as span_id, the span nginx made
# for the attempt. With the client's traceparent the trace is the client's;
# without one nginx starts it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET ();
use Time::HiRes ();
use FibTest;

my $stats = start_stats('log-level' => 'debug');
my $fib = start_fib(stats => '', 'log-level' => 'debug');

my $ngx = start_nginx(log_level => 'info', http => <<"EOH", server => <<"EOS");
    log_format trace '\$request_uri trace=\$fib_trace_id span=\$fib_span_id';
    access_log logs/access.log trace;
EOH
        location = /fib { fib_pass $fib->{target}; }
        location = /stats { fib_stats_pass $stats->{target}; }
EOS
my $port = $ngx->{port};
my $dir = $ngx->{dir};

# GET, read to EOF (nginx logs before it closes); the status.
sub get {
    my ($path, @headers) = @_;
    my $s = IO::Socket::INET->new("127.0.0.1:$port") or die "connect: $!";
    print $s "GET $path HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
           . join('', map { "$_\r\n" } @headers) . "\r\n";
    local $/;
    my $r = <$s> // '';
    return $r =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
}

# The access log line of a request URI: (trace, span).
sub access {
    my ($uri) = @_;
    open my $log, '<', "$dir/logs/access.log" or return;
    for (<$log>) {
        return ($1, $2) if /^\Q$uri\E trace=(\S+) span=(\S+)$/;
    }
    return;
}

# The daemon's debug line of this event with this trace id; the daemons
# log after answering, so wait for it.
sub daemon_line {
    my ($d, $event, $trace) = @_;
    my $until = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $until) {
        my ($l) = grep { ($_->{event} // '') eq $event
                         && ($_->{trace_id} // '') eq $trace } log_lines($d);
        return $l if $l;
        Time::HiRes::sleep(0.02);
    }
    return undef;
}

my $T = '4bf92f3577b34da6a3ce929d0e0e4736';
my $P = '00f067aa0ba902b7';

is(get('/fib?n=10', "traceparent: 00-$T-$P-01"), 200, 'traced GET /fib');
my ($trace, $span) = access('/fib?n=10');
is($trace, $T, 'access log: the client\'s trace id');
like($span, qr/^[0-9a-f]{16}$/, 'access log: a span id');
isnt($span, $P, '... of our own, not the client\'s');
my $l = daemon_line($fib, 'getfib', $T);
ok($l, 'fibonacci-service logged the call with the trace id');
is($l->{span_id}, $span, '... and nginx\'s span id');
is($l->{n}, 10, '... for n = 10');

is(get('/fib?n=11'), 200, 'GET /fib without traceparent');
($trace, $span) = access('/fib?n=11');
like($trace, qr/^[0-9a-f]{32}$/, 'access log: a new trace id');
$l = daemon_line($fib, 'getfib', $trace);
ok($l, 'fibonacci-service logged it with that trace id');
is($l->{span_id}, $span, '... and span id');

is(get('/stats', "traceparent: 00-$T-$P-00"), 200, 'traced GET /stats');
($trace, $span) = access('/stats');
is($trace, $T, 'access log: /stats in the client\'s trace');
$l = daemon_line($stats, 'query', $T);
ok($l, 'stats-service logged Query with the trace id');
is($l->{span_id}, $span, '... and nginx\'s span id');

done_testing();
