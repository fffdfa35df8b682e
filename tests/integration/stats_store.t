# stats_store.t - stats-service's stores with the real engines: a SQLite
# file in the state directory that survives SIGKILL, PostgreSQL (the
# throwaway cluster tests/with-postgres started: $STATS_TEST_PG_URL) shared
# by two instances, UNAVAILABLE while the database is down and recovery
# after, --max-tracked, and bad or unreachable stores at start. Under load
# from fibonacci-service (h2load), the recorded total must equal the
# requests answered, exactly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp ();
use POSIX ();
use Time::HiRes qw(sleep time);
use FibTest;

my $bin_dir = $ENV{FIB_BIN_DIR} // 'build/bin';
my $pg = $ENV{STATS_TEST_PG_URL}
    or BAIL_OUT('STATS_TEST_PG_URL is not set: run under tests/with-postgres');

# A fresh database per use, so runs and stages don't see each other's rows.
my $dbn = 0;
sub fresh_db {
    my $name = "fib_it_" . $$ . "_" . $dbn++;
    system('psql', '-q', '-d', $pg, '-c', "CREATE DATABASE $name") == 0
        or die "createdb $name failed";
    (my $url = $pg) =~ s{/[^/]*$}{/$name};
    return $url;
}

sub pg_ctl {
    my @args = @_;
    my $cmd = "$ENV{TEST_PG_CTL} @args -D $ENV{TEST_PG_DIR} -w >/dev/null 2>&1";
    return system($cmd) == 0;
}

sub total {
    my ($target) = @_;
    my ($rc, $j) = fibctl($target, 'stats');
    return $rc == 0 ? ($j->{total_requests64} // 0) : -1;
}

# Poll until the total reaches $want (or $secs pass); the total seen last.
sub wait_total {
    my ($target, $want, $secs) = @_;
    my $end = time + ($secs // 30);
    my $t = total($target);
    while ($t != $want && time < $end) {
        sleep 0.1;
        $t = total($target);
    }
    return $t;
}

# Run stats-service expecting it to fail at start: (exit code, its output).
sub start_fails {
    my @args = @_;
    my $out = `$bin_dir/stats-service --listen=127.0.0.1:0 @args 2>&1`;
    return ($? >> 8, $out);
}

# gRPC load on fibonacci-service with h2load, in the background: GetFib for
# n in 0..49 round robin would need one file per n, so one n per run.
my $load_dir = File::Temp->newdir();
sub start_load {
    my ($target, $n, $requests) = @_;
    my $body = "$load_dir/getfib-$n.bin";
    my $msg = pack('C', 0x08) . pack('C', $n);     # GetFibRequest{n}, n < 128
    open my $fh, '>', $body or die $!;
    print $fh pack('CN', 0, length $msg) . $msg;
    close $fh;
    my $out = "$load_dir/h2load-$n.txt";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        # -n, not -D: h2load -D leaves the calls in flight at its end
        # uncounted, though the service answered them.
        exec('h2load', '-n', $requests, '-c', 4, '-m', 8, '-t', 1,
             '-d', $body, '-H', 'content-type: application/grpc',
             '-H', 'te: trailers', "http://$target/fibonacci.Fibonacci/GetFib")
            or POSIX::_exit(127);
    }
    return {pid => $pid, out => $out};
}

# Wait for the load to end; the requests answered 2xx (every GetFib of a
# valid n is OK, so 2xx = answered).
sub finish_load {
    my ($l) = @_;
    waitpid($l->{pid}, 0);
    open my $fh, '<', $l->{out} or die $!;
    my $text = do { local $/; <$fh> };
    my ($ok) = $text =~ /status codes: (\d+) 2xx/ or die "h2load: $text";
    return $ok;
}

# --- bad or unreachable stores at start --------------------------------------
{
    my ($rc, $out) = start_fails('--store=redis://localhost:6379');
    is($rc, 1, 'unknown store kind: exit 1');
    like($out, qr/store \\"redis:\/\/localhost:6379\\": not a store URL/,
         'the error names the URL');
    ($rc, $out) = start_fails('--store=sqlite:/nonexistent/dir/stats.db');
    is($rc, 1, 'sqlite file that cannot be created: exit 1');
    like($out, qr/sqlite:\/nonexistent\/dir\/stats\.db.*unable to open/,
         'the error names the file');
    my $port = free_port();
    ($rc, $out) = start_fails(
        "--store=postgresql://fib:hunter2\@127.0.0.1:$port/stats");
    is($rc, 1, 'unreachable PostgreSQL: exit 1');
    like($out, qr/postgresql:\/\/fib:\*\*\*\@127\.0\.0\.1:$port\/stats.*cannot connect/,
         'the error names the database');
    unlike($out, qr/hunter2/, 'and not its password');
}

# --- the default store: stats.db in the state directory, kept on SIGKILL -----
{
    my $dir = File::Temp->newdir();
    my $port = free_port();
    my $st = start_stats(listen => "127.0.0.1:$port", store => '',
                         'state-dir' => "$dir");
    fibctl($st->{target}, 'record', 7, 100) for 1 .. 3;
    fibctl($st->{target}, 'batch', 'it-sender', 1, '7:10,8:20');
    ok(-f "$dir/stats.db", 'stats.db created in --state-dir');
    kill 'KILL', $st->{pid};
    is(stop($st), 128 + 9, 'SIGKILLed');
    $st = start_stats(listen => "127.0.0.1:$port", store => '',
                      'state-dir' => "$dir");
    is(total($st->{target}), 5, 'every acknowledged record survives SIGKILL');
    my ($rc, $j) = fibctl($st->{target}, 'batch', 'it-sender', 1, '7:10,8:20');
    ok($j->{duplicate}, 'and so does the batch dedup state');
    stop($st);

    my $dir2 = File::Temp->newdir();
    $st = start_stats(store => '', env => {STATE_DIRECTORY => "$dir2"});
    fibctl($st->{target}, 'record', 1, 1);
    ok(-f "$dir2/stats.db", 'without --state-dir: $STATE_DIRECTORY');
    my ($started) = grep { $_->{event} eq 'started' } log_lines($st);
    is($started->{store}, "sqlite:$dir2/stats.db", 'started line names the store');
    stop($st);
}

# --- --max-tracked -------------------------------------------------------------
{
    my $st = start_stats('max-tracked' => 2);
    my ($rc, $j);
    ($rc) = fibctl($st->{target}, 'record', $_, 1) for 1, 2;
    ($rc, $j) = fibctl($st->{target}, 'record', 3, 1);
    is($rc, 1, 'a third n past --max-tracked=2 fails');
    is($j->{code}, 'RESOURCE_EXHAUSTED', 'RESOURCE_EXHAUSTED');
    like($j->{message}, qr/--max-tracked/, 'the message says why');
    ($rc) = fibctl($st->{target}, 'record', 2, 1);
    is($rc, 0, 'known n still count');
    is(total($st->{target}), 3, 'nothing else counted');
    stop($st);
    my ($stopped) = grep { $_->{event} eq 'stopped' } log_lines($st);
    is($stopped->{refused}, 1, 'the stopped line counts the refused record');
}

# --- SIGKILL of stats-service (SQLite) under load, then restart ---------------
{
    my $dir = File::Temp->newdir();
    my $port = free_port();
    my @flags = (listen => "127.0.0.1:$port", store => "sqlite:$dir/s.db");
    my $st = start_stats(@flags);
    my $fib = start_fib(stats => $st->{target});
    my $load = start_load($fib->{target}, 30, 60000);
    wait_until_total_above($st->{target}, 1000);
    kill 'KILL', $st->{pid};
    stop($st);
    sleep 0.5;                          # an outage with the load going on
    $st = start_stats(@flags);
    my $answered = finish_load($load);
    cmp_ok($answered, '>', 10000, "load answered $answered requests");
    is(wait_total($st->{target}, $answered), $answered,
       'SIGKILL under load: recorded total == requests answered');
    stop($fib);
    stop($st);
}

# --- a long outage under load: the aggregated queue holds -----------------
# --stats-queue=4 distinct n is plenty: every request is for one n. After
# the restart, how long delivery took to resume is printed (the sender's
# backoff is capped at 250 ms; test_stats_sender checks the schedule).
{
    my $dir = File::Temp->newdir();
    my $port = free_port();
    my @flags = (listen => "127.0.0.1:$port", store => "sqlite:$dir/s.db");
    my $st = start_stats(@flags);
    my $fib = start_fib(stats => $st->{target}, 'stats-queue' => 4);
    my $load = start_load($fib->{target}, 60, 150000);
    wait_until_total_above($st->{target}, 1000);
    stop($st, 'TERM');
    sleep 5;                            # the outage, with the load going on
    $st = start_stats(@flags);
    my $up = time;
    my $before = total($st->{target});
    sleep 0.01 while total($st->{target}) == $before && time < $up + 10;
    diag(sprintf('delivery resumed %.0f ms after stats-service was SERVING',
                 (time - $up) * 1000));
    my $answered = finish_load($load);
    is(wait_total($st->{target}, $answered), $answered,
       "5 s outage under load ($answered answered): nothing lost or doubled");
    stop($fib);
    my ($stopped) = grep { $_->{event} eq 'stopped' } log_lines($fib);
    is($stopped->{stats_dropped}, 0, 'fibonacci-service dropped nothing');
    my @refused = grep { $_->{event} eq 'stats_rejected' } log_lines($fib);
    is(scalar @refused, 0, 'and no batch was given up')
        or diag explain \@refused;
    stop($st);
}

sub wait_until_total_above {
    my ($target, $min) = @_;
    my $end = time + 30;
    sleep 0.05 while total($target) <= $min && time < $end;
}

# --- PostgreSQL: two instances on one database, and a database restart ------
{
    my $url = fresh_db();
    my $a = start_stats(store => $url);
    my $b = start_stats(store => $url);
    my $fib = start_fib(stats => "ipv4:$a->{target},$b->{target}");
    my $load = start_load($fib->{target}, 40, 60000);
    wait_until_total_above($a->{target}, 1000);
    ok(pg_ctl('restart', '-m', 'fast'), 'PostgreSQL restarted mid-load');
    my $answered = finish_load($load);
    cmp_ok($answered, '>', 10000, "load answered $answered requests");
    is(wait_total($a->{target}, $answered), $answered,
       'instance A: total == requests answered, across the restart');
    is(total($b->{target}), $answered, 'instance B: the same total');
    my ($failed) = grep { $_->{event} eq 'store_failed' } log_lines($a), log_lines($b);
    ok($failed, 'the restart was seen (store_failed logged)');
    stop($fib);

    # Down: UNAVAILABLE, nothing kept; back: recorded again.
    ok(pg_ctl('stop', '-m', 'fast'), 'PostgreSQL stopped');
    my ($rc, $j) = fibctl($a->{target}, 'record', 5, 1);
    is($j->{code}, 'UNAVAILABLE', 'database down: RecordNo is UNAVAILABLE');
    ($rc, $j) = fibctl($a->{target}, 'stats');
    is($j->{code}, 'UNAVAILABLE', 'and GetStats too');
    ok(pg_ctl('start', '-o', "'$ENV{TEST_PG_OPTS}'", '-l', $ENV{TEST_PG_LOG}),
       'PostgreSQL started again');
    ($rc) = fibctl($a->{target}, 'record', 5, 1);
    is($rc, 0, 'back: RecordNo works again');
    is(total($b->{target}), $answered + 1, 'exactly once, seen by both');
    stop($a);
    stop($b);
}

done_testing();
