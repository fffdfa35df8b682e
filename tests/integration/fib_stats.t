# fib_stats.t - fibonacci-service reports every OK answer to a real
# stats-service: counted once, with cache results; records made while the
# stats-service is down are delivered after it comes back on the same port;
# an original stats-service (RecordNo only) still gets every record (but
# no streams: RecordNo cannot carry them).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use FibTest;

# Poll GetStats until total_requests64 reaches $want (or $secs pass).
sub wait_total {
    my ($target, $want, $secs) = @_;
    my $end = time + ($secs // 15);
    my $j;
    while (time < $end) {
        (undef, $j) = fibctl($target, 'stats');
        # An original stats-service has no total_requests64 (0 on the wire).
        my $total = $j ? ($j->{total_requests64} || $j->{total_requests} || 0) : 0;
        return $j if $total >= $want;
        sleep 0.1;
    }
    return $j;
}

# Poll the daemon's log until a line with this event appears.
sub wait_log {
    my ($d, $event, $secs) = @_;
    my $end = time + ($secs // 15);
    while (time < $end) {
        my ($line) = grep { $_->{event} eq $event } log_lines($d);
        return $line if $line;
        sleep 0.05;
    }
    return undef;
}

sub per_n {
    my ($j) = @_;
    return { map { $_->{n} => $_ } @{ $j->{fibonacci_stats} // [] } };
}

# The target from STATS_SERVICE_URL, as the original service took it.
my $stats_port = free_port();
my $stats = start_stats(listen => "127.0.0.1:$stats_port");
my $fib = start_fib(env => {STATS_SERVICE_URL => $stats->{target}});
my $t = $fib->{target};

fibctl($t, 'getfib', 10) for 1 .. 3;
fibctl($t, 'getfib', 1000, '--exact') for 1 .. 2;
fibctl($t, 'getfib', 93);                 # errors are not reported
fibctl($t, 'getfib', -1);

my $j = wait_total($stats->{target}, 5);
is($j->{total_requests64}, 5, 'five OK answers recorded');
is($j->{total_requests}, 5, 'total_requests too');
my $by = per_n($j);
is_deeply([sort { $a <=> $b } keys %$by], [10, 1000], 'only n = 10 and 1000');
is($by->{10}{request_count64}, 3, 'n = 10: three');
is($by->{10}{cache_hits} // 0, 0, 'n = 10: no cache hits (bypass)');
is($by->{10}{cache_misses} // 0, 0, 'n = 10: no cache misses (bypass)');
is($by->{1000}{request_count64}, 2, 'n = 1000: two');
is($by->{1000}{cache_misses}, 1, 'n = 1000: one miss');
is($by->{1000}{cache_hits}, 1, 'n = 1000: one hit');
ok($by->{1000}{min_duration_ns} > 0, 'durations are reported');
ok($by->{1000}{max_duration_ns} >= $by->{1000}{min_duration_ns}, 'max >= min');
# stopping flushes the queue: once it has exited, nothing more can come
is(stop($fib, 'TERM'), 0, 'fibonacci-service exits 0');
(undef, $j) = fibctl($stats->{target}, 'stats');
is($j->{total_requests64}, 5, 'nothing counted twice');

# The stats-service dies; answers go on; records wait in the queue.
$fib = start_fib(stats => $stats->{target});
$t = $fib->{target};
kill 'KILL', $stats->{pid};
waitpid($stats->{pid}, 0);
for (1 .. 4) {
    my ($rc, $r) = fibctl($t, 'getfib', 20);
    is($r->{x}, 6765, 'answers while the stats-service is down');
}
ok(wait_log($fib, 'stats_retry'), 'the sender fails and backs off');
$stats = start_stats(listen => "127.0.0.1:$stats_port");
$j = wait_total($stats->{target}, 4, 20);
is($j->{total_requests64}, 4, 'records made during the outage delivered');
is(per_n($j)->{20}{request_count64}, 4, 'all four for n = 20');
is(stop($fib, 'TERM'), 0, 'fibonacci-service exits 0');
(undef, $j) = fibctl($stats->{target}, 'stats');
is($j->{total_requests64}, 4, 'and only once');

my @lines = log_lines($fib);
ok((grep { $_->{event} eq 'stats_retry' && $_->{level} eq 'warn' } @lines),
   'log: warned about retries');
ok((grep { $_->{event} eq 'stats_resumed' && $_->{level} eq 'info' } @lines),
   'log: delivery resumed');
stop($stats, 'TERM');

# Waiting records are folded per n: 30 requests for one n hold one entry
# and are never dropped. A full queue (--stats-queue distinct n) drops the
# records of new n, counts them and warns; what it holds is delivered once
# the stats-service is there.
{
    my $port = free_port();
    $fib = start_fib(stats => "127.0.0.1:$port", 'stats-queue' => 5);
    fibctl($fib->{target}, 'getfib', 50) for 1 .. 30;
    fibctl($fib->{target}, 'getfib', $_) for 1 .. 12;
    my $end = time + 10;
    my $warn;
    while (!$warn && time < $end) {
        ($warn) = grep { $_->{event} eq 'stats_dropped' } log_lines($fib);
        sleep 0.1;
    }
    ok($warn && $warn->{level} eq 'warn', 'log: warned about dropped records');
    $stats = start_stats(listen => "127.0.0.1:$port");
    wait_total($stats->{target}, 35, 20);
    is(stop($fib, 'TERM'), 0, 'exit 0 (after flushing the rest)');
    # Warnings are rate-limited; the last one, at exit, has the final count.
    my @warns = grep { $_->{event} eq 'stats_dropped' } log_lines($fib);
    my $dropped = @warns ? $warns[-1]{dropped_total} : 0;
    # n=50 holds one entry (or two: one taken by the first, failing,
    # delivery); 1..12 get the rest of the five.
    ok($dropped >= 6 && $dropped <= 8, "dropped $dropped of 12 new n");
    (undef, $j) = fibctl($stats->{target}, 'stats');
    is($j->{total_requests64}, 42 - $dropped, 'all the others delivered');
    is(per_n($j)->{50}{request_count64}, 30, 'all 30 for the one n');
    my @ns = sort { $a <=> $b } grep { $_ != 50 } keys %{ per_n($j) };
    is_deeply(\@ns, [1 .. 12 - $dropped], 'the first new n were kept');
    stop($stats, 'TERM');
}

# Reporting off: the stats-service hears nothing.
$stats = start_stats();
$fib = start_fib(stats => $stats->{target}, 'stats-disable' => 'true');
fibctl($fib->{target}, 'getfib', 10) for 1 .. 3;
is(stop($fib, 'TERM'), 0, '--stats-disable: exit 0');
(undef, $j) = fibctl($stats->{target}, 'stats');
is($j->{total_requests64} // 0, 0, '--stats-disable: nothing reported');
stop($stats, 'TERM');

# An original stats-service answers RecordBatch with UNIMPLEMENTED: the
# sender falls back to RecordNo per record.
SKIP: {
    my $mock_js = "$FindBin::Bin/../node/mock.js";
    skip 'node or tests/node not available', 5
        unless -e $mock_js && -d "$FindBin::Bin/../node/node_modules"
            && system('node --version >/dev/null 2>&1') == 0;
    my $pid = open(my $mock, '-|', 'node', $mock_js) or die "node: $!";
    my $ports = JSON::PP::decode_json(scalar <$mock>);
    my $orig = "127.0.0.1:$ports->{original}";
    $fib = start_fib(stats => $orig);
    fibctl($fib->{target}, 'getfib', 7) for 1 .. 3;
    fibctl($fib->{target}, 'getfib', 8);
    $j = wait_total($orig, 4);
    is($j->{total_requests}, 4, 'original stats-service: all records');
    is(per_n($j)->{7}{request_count}, 3, 'original stats-service: per n');
    # RecordNo has no place for streams: not counted, and said so
    fibctl($fib->{target}, 'range', 0, 4);
    my $unsent = wait_log($fib, 'stats_streams_unsent');
    like($unsent && $unsent->{msg}, qr/1 streams not counted/,
         'log: the stream could not be sent as RecordNo');
    is(stop($fib, 'TERM'), 0, 'exit 0');
    (undef, $j) = fibctl($orig, 'stats');
    is($j->{total_requests}, 4, 'original stats-service: the range is no '
       . 'request of any n');
    kill 'TERM', $pid;
    close $mock;
}

done_testing();
