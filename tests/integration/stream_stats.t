# stream_stats.t - GetFibRange streams counted in the stats-service's
# streams aggregate, straight at the daemons and through nginx: a range of
# known length is one stream with to - from + 1 items and leaves the per-n
# counts as they were; GetStats, the gateway's /stats and fibctl show the
# same figures; a cancelled stream counts as incomplete with the items that
# went out; streams made while the stats-service is down (SIGKILL) are
# delivered once it is back, exactly once, and kept in its SQLite file; in
# PostgreSQL, shared by two instances and kept.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec ();
use File::Temp ();
use HTTP::Tiny;
use JSON::PP;
use FibTest;

my $dir = File::Temp->newdir('stream-stats.XXXXXX', TMPDIR => 1);
my $store = "sqlite:$dir/stats.db";
my $stats_port = free_port();
my $stats = start_stats(listen => "127.0.0.1:$stats_port", store => $store);
my $fib = start_fib(stats => $stats->{target});
# nginx with the module, where there is one (the sanitized build has none:
# then the daemons' part runs alone)
my $module = File::Spec->rel2abs(($ENV{FIB_BIN_DIR} // 'build/bin')
                                 . '/../modules/ngx_http_fib_module.so');

sub stats_now {
    my ($rc, $j) = fibctl($stats->{target}, 'stats');
    return $rc == 0 ? $j : undef;
}

# GetStats once its streams count reaches $want (undef after 20 s).
sub wait_streams {
    my ($want) = @_;
    my $j;
    poll_until(20, sub {
        $j = stats_now();
        return $j && ($j->{streams}{count} // 0) >= $want;
    }) or return undef;
    return $j;
}

sub per_n {
    my ($j) = @_;
    return { map { $_->{n} => $_->{request_count64} }
             @{ $j->{fibonacci_stats} // [] } };
}

# Two unary calls: the per-n part the streams must leave alone.
fibctl($fib->{target}, 'getfib', 7) for 1 .. 2;
poll_until(20, sub { (stats_now()->{total_requests64} // 0) == 2 })
    or BAIL_OUT('the two GetFib calls were not counted');
my $before = per_n(stats_now());

# A range straight at fibonacci-service: 21 items, one stream.
my ($rc) = fibctl($fib->{target}, 'range', 0, 20);
is($rc, 0, 'fibctl range 0 20');
my $j = wait_streams(1);
ok($j, 'the stream was counted') or BAIL_OUT('no streams aggregate');
is($j->{streams}{count}, 1, 'streams.count 1');
is($j->{streams}{items}, 21, 'streams.items = to - from + 1');
is($j->{streams}{incomplete}, 0, 'complete');
ok($j->{streams}{total_duration_ns} > 0, 'its duration is reported');
is($j->{streams}{average_time_ms},
   $j->{streams}{total_duration_ns} / 1e6, 'average = total / count');
is($j->{total_requests64}, 2, 'total_requests unchanged');
is_deeply(per_n($j), $before, 'per-n counts unchanged');

my ($count, $items) = (1, 21);

# Through nginx: NDJSON and SSE; each is one stream of its own.
SKIP: {
    skip "no module at $module (the sanitized build)", 12 unless -f $module;
    my $ngx = start_nginx(server => <<"EOC");
location = /fib { fib_pass $fib->{target}; }
location = /stats { fib_stats_pass $stats->{target}; }
EOC
    my $http = HTTP::Tiny->new(timeout => 30);
    my $base = "http://127.0.0.1:$ngx->{port}";
    my $r = $http->get("$base/fib?from=5&to=14");
    is($r->{status}, 200, 'GET /fib?from=5&to=14');
    is(scalar(() = $r->{content} =~ /\n/g), 10, 'ten lines');
    $r = $http->get("$base/fib?from=0&to=3",
                    {headers => {Accept => 'text/event-stream'}});
    is($r->{status}, 200, 'the same as Server-Sent Events');
    is(scalar(() = $r->{content} =~ /^id: /mg), 4, 'four events');
    $j = wait_streams(3);
    is($j->{streams}{count}, 3, 'streams.count 3');
    is($j->{streams}{items}, 35, 'items 21 + 10 + 4');
    is_deeply(per_n($j), $before, 'per-n counts still unchanged');

    # The gateway's /stats shows the same object.
    $r = $http->get("$base/stats");
    is($r->{status}, 200, 'GET /stats');
    my $s = decode_json($r->{content});
    is_deeply($s->{streams}, $j->{streams},
              '/stats "streams" = GetStats streams');
    is($s->{total_requests}, 2, '/stats total_requests unchanged');
    like($r->{content},
         qr/"total_requests64":2,"streams":\{"count":3,"items":35,/,
         '/stats: "streams" after total_requests64');
    $r = $http->get("$base/stats?n=7");
    unlike($r->{content}, qr/streams/, 'a filtered /stats has no streams');
    ($count, $items) = (3, 35);
}

# A client that cancels after 3 items: incomplete, with what went out.
($rc) = fibctl($fib->{target}, 'range', 0, 5000, '--exact',
               '--cancel-after', 3);
$j = wait_streams(++$count);
is($j->{streams}{count}, $count, 'the cancelled stream is counted');
is($j->{streams}{incomplete}, 1, 'as incomplete');
my $sent = $j->{streams}{items} - $items;
ok($sent >= 3 && $sent < 5001, "with the items sent before it ended ($sent)");

# Outage: the stats-service is killed; a stream ends meanwhile; a new
# stats-service on the same file gets it, exactly once.
kill 'KILL', $stats->{pid};
stop($stats);
($rc) = fibctl($fib->{target}, 'range', 100, 109, '--exact');
is($rc, 0, 'a range while the stats-service is down');
$stats = start_stats(listen => "127.0.0.1:$stats_port", store => $store);
$j = wait_streams(++$count);
is($j && $j->{streams}{count}, $count, 'delivered after the restart');
is(stop($fib, 'TERM'), 0, 'fibonacci-service exits 0 (queue flushed)');
$j = stats_now();
is($j->{streams}{count}, $count, 'and counted once');
is($j->{streams}{items}, $items + $sent + 10, 'items: the 10 added once');
is($j->{streams}{incomplete}, 1, 'incomplete kept across SIGKILL');
is_deeply(per_n($j), $before, 'per-n counts kept and unchanged');

# A bad streams record is refused whole, naming the field.
my ($brc, $bad) = fibctl($stats->{target}, 'batch', 'bad', 1, '5:100',
                         '--streams', '1:1:1:2');
is($bad->{code}, 'INVALID_ARGUMENT', 'incomplete > count: INVALID_ARGUMENT');
is($bad->{message}, 'streams.incomplete must be <= count', 'naming it');
($brc, $bad) = fibctl($stats->{target}, 'batch', 'bad', 1, '',
                      '--streams', '0:5:0:0');
is($bad->{message}, 'streams.items and duration_sum must be 0 when count '
   . 'is 0', 'items without streams');
is_deeply(stats_now(), $j, 'nothing of either counted');

# The file keeps it across a clean restart too.
is(stop($stats, 'TERM'), 0, 'stats-service exits 0');
$stats = start_stats(listen => "127.0.0.1:$stats_port", store => $store);
is_deeply(stats_now()->{streams}, $j->{streams}, 'kept in the SQLite file');

# PostgreSQL (the cluster tests/with-postgres started): a stream reported
# to one instance is in the aggregate another instance on the same database
# answers, and still there after both restarted.
SKIP: {
    my $pg = $ENV{STATS_TEST_PG_URL};
    skip 'STATS_TEST_PG_URL is not set (tests/with-postgres sets it)', 4
        unless $pg;
    my $db = "fib_streams_$$";
    system('psql', '-q', '-d', $pg, '-c', "CREATE DATABASE $db") == 0
        or BAIL_OUT("createdb $db failed");
    (my $url = $pg) =~ s{/[^/]*$}{/$db};
    my $one = start_stats(store => $url);
    my $two = start_stats(store => $url);
    $fib = start_fib(stats => $one->{target});
    fibctl($fib->{target}, 'range', 10, 39);
    is(stop($fib, 'TERM'), 0, 'fibonacci-service exits 0 (queue flushed)');
    my ($rc2, $k) = fibctl($two->{target}, 'stats');
    is_deeply([@{$k->{streams}}{qw(count items incomplete)}], [1, 30, 0],
              'PostgreSQL: the other instance shows the stream');
    stop($_, 'TERM') for $one, $two;
    $one = start_stats(store => $url);
    (undef, my $again) = fibctl($one->{target}, 'stats');
    is_deeply($again->{streams}, $k->{streams}, 'PostgreSQL: kept');
    is($again->{total_requests64}, 0, 'PostgreSQL: no per-n request');
    stop($one, 'TERM');
}

done_testing();
