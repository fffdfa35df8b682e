# metrics.t - both daemons' --metrics-listen: GET /metrics after known
# calls has the exact gRPC server counts per method and code, the cache's
# counters and the compute histogram, the process metrics; promtool finds
# nothing to say about either daemon's output; other paths and methods are
# refused; a bad address stops the daemon at start.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use FibTest;

my $GETFIB = 'grpc_type="unary",grpc_service="fibonacci.Fibonacci",'
           . 'grpc_method="GetFib"';
my $RANGE = 'grpc_type="server_stream",grpc_service="fibonacci.Fibonacci",'
          . 'grpc_method="GetFibRange"';
my $BATCH = 'grpc_type="unary",grpc_service="fibonacci.Fibonacci",'
          . 'grpc_method="GetFibBatch"';
my $GETSTATS = 'grpc_type="unary",grpc_service="stats.Stats",'
             . 'grpc_method="GetStats"';

my $sm = free_port();
my $stats = start_stats('metrics-listen' => "127.0.0.1:$sm");
my $fm = free_port();
my $fib = start_fib(stats => $stats->{target},
                    'metrics-listen' => "127.0.0.1:$fm");
my $t = $fib->{target};

# Before any call: the families are there, at zero.
my $m = metrics($fm);
is($m->{status}, 200, 'fibonacci-service: /metrics 200');
like($m->{type}, qr{^text/plain; version=0\.0\.4}, 'text format 0.0.4');
is($m->{value}{"grpc_server_started_total{$GETFIB}"}, 0,
   'no GetFib started yet');
is($m->{value}{fib_cache_entries}, 0, 'cache empty');

fibctl($t, 'getfib', 10) for 1 .. 3;              # OK, table
fibctl($t, 'getfib', 1000, '--exact') for 1 .. 2; # a miss, then a hit
fibctl($t, 'getfib', 1500, '--exact');            # another miss
fibctl($t, 'getfib', -1);                         # INVALID_ARGUMENT
fibctl($t, 'getfib', 2000000);                    # OUT_OF_RANGE (max-n)
fibctl($t, 'raw', '/fibonacci.Fibonacci/Nope', '080a');  # UNIMPLEMENTED
fibctl($t, 'range', 1, 5);                        # a stream of 5, OK
fibctl($t, 'range', 5, 1);                        # INVALID_ARGUMENT
fibctl($t, 'getbatch', '1,2,3');                  # one message, OK

$m = metrics($fm);
my $v = $m->{value};
is($v->{"grpc_server_started_total{$GETFIB}"}, 8, 'GetFib: 8 started');
is($v->{"grpc_server_handled_total{$GETFIB,grpc_code=\"OK\"}"}, 6,
   'GetFib: 6 OK');
is($v->{"grpc_server_handled_total{$GETFIB,grpc_code=\"INVALID_ARGUMENT\"}"},
   1, 'GetFib: 1 INVALID_ARGUMENT');
is($v->{"grpc_server_handled_total{$GETFIB,grpc_code=\"OUT_OF_RANGE\"}"}, 1,
   'GetFib: 1 OUT_OF_RANGE');
is($v->{"grpc_server_handling_seconds_count{$GETFIB}"}, 8,
   'GetFib: 8 timed');
is($v->{"grpc_server_handling_seconds_bucket{$GETFIB,le=\"+Inf\"}"}, 8,
   'GetFib: +Inf bucket holds all 8');
ok($v->{"grpc_server_handling_seconds_sum{$GETFIB}"} > 0, 'GetFib: time > 0');
is($v->{"grpc_server_msg_sent_total{$GETFIB}"}, 6,
   'GetFib: 6 messages sent (the OK replies)');
is($v->{"grpc_server_started_total{$RANGE}"}, 2, 'GetFibRange: 2 started');
is($v->{"grpc_server_handled_total{$RANGE,grpc_code=\"OK\"}"}, 1,
   'GetFibRange: 1 OK');
is($v->{"grpc_server_handled_total{$RANGE,grpc_code=\"INVALID_ARGUMENT\"}"},
   1, 'GetFibRange: 1 INVALID_ARGUMENT');
is($v->{"grpc_server_handling_seconds_count{$RANGE}"}, 2,
   'GetFibRange: 2 timed');
is($v->{"grpc_server_msg_sent_total{$RANGE}"}, 5,
   'GetFibRange: 5 messages streamed');
is($v->{"grpc_server_started_total{$BATCH}"}, 1, 'GetFibBatch: 1 started');
is($v->{"grpc_server_handled_total{$BATCH,grpc_code=\"OK\"}"}, 1,
   'GetFibBatch: 1 OK');
is($v->{"grpc_server_msg_sent_total{$BATCH}"}, 1, 'GetFibBatch: 1 message');
my $unknown = 'grpc_type="unary",grpc_service="unknown",grpc_method="unknown"';
is($v->{"grpc_server_handled_total{$unknown,grpc_code=\"UNIMPLEMENTED\"}"}, 1,
   'an unknown method counts as unknown, not by its name');
ok(!(grep { /Nope/ } keys %$v), 'no label made of the client\'s method');
is($v->{fib_cache_misses_total}, 2, 'cache: 2 misses (1000, 1500)');
is($v->{fib_cache_hits_total}, 1, 'cache: 1 hit (1000 again)');
is($v->{fib_cache_computations_total}, 2, 'cache: 2 computations');
is($v->{fib_cache_entries}, 2, 'cache: 2 entries');
ok($v->{fib_cache_bytes} > 0, 'cache: bytes counted');
is($v->{fib_cache_evictions_total}, 0, 'cache: no evictions');
is($v->{fib_compute_seconds_count}, 2, 'compute: 2 timed');
ok(!(grep { /\bn="/ } keys %$v), 'no per-n label');
for my $p (qw(process_resident_memory_bytes process_open_fds
              process_start_time_seconds)) {
    ok($v->{$p} > 0, "$p > 0");
}
ok(defined $v->{process_cpu_seconds_total}, 'process_cpu_seconds_total');
ok(abs($v->{process_start_time_seconds} - time) < 600,
   'start time is about now');
is(promtool_check($m->{text}), '', 'promtool: fibonacci-service clean');

# stats-service: the GetStats calls made here, exactly.
fibctl($stats->{target}, 'stats') for 1 .. 4;
$m = metrics($sm);
$v = $m->{value};
is($m->{status}, 200, 'stats-service: /metrics 200');
is($v->{"grpc_server_started_total{$GETSTATS}"}, 4, 'GetStats: 4 started');
is($v->{"grpc_server_handled_total{$GETSTATS,grpc_code=\"OK\"}"}, 4,
   'GetStats: 4 OK');
ok($v->{process_resident_memory_bytes} > 0, 'stats-service: process metrics');
is(promtool_check($m->{text}), '', 'promtool: stats-service clean');

# Only GET /metrics.
my $r = HTTP::Tiny->new->get("http://127.0.0.1:$fm/");
is($r->{status}, 404, 'other paths: 404');
like($r->{content}, qr/^\{"error":/, '... with a JSON body');
$r = HTTP::Tiny->new->post("http://127.0.0.1:$fm/metrics");
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{allow}, 'GET, HEAD', '... Allow: GET, HEAD');

is(stop($fib, 'TERM'), 0, 'fibonacci-service: exit 0');
is(stop($stats, 'TERM'), 0, 'stats-service: exit 0');

# A bad address, or one in use, stops the daemon at start, saying why.
my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Proto => 'tcp', Listen => 1) or die $!;
for my $bad ('nonsense', '127.0.0.1:99999', '127.0.0.1:' . $busy->sockport) {
    my $s = start_stats('metrics-listen' => $bad, wait => 0);
    isnt(wait_exit($s), 0, "--metrics-listen $bad: the daemon fails");
    ok((grep { $_->{event} eq 'metrics_failed' } log_lines($s)),
       "--metrics-listen $bad: metrics_failed logged");
}

done_testing();
