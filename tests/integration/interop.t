# interop.t - wire compatibility with the ORIGINAL Go system, both ways.
# A node client built from the original protos (tests/node/original) talks
# to our real fibonacci-service and stats-service; and our fibonacci-service
# reports to an original-style stats server (the "original" node mock, which
# answers RecordBatch with UNIMPLEMENTED) and must fall back to RecordNo
# without losing or doubling a record.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use IO::Select;
use POSIX ();
use File::Temp ();
use FibTest;

my $NODE_DIR = "$FindBin::Bin/../node";
my $CLIENT   = "$NODE_DIR/interop-client.js";
my $MOCK     = "$NODE_DIR/mock.js";
my $F92      = '7540113804746346429';
my $WAIT     = 15;      # seconds: bound on every wait for asynchronous stats

my $json = JSON::PP->new;
my $tmp  = File::Temp::tempdir('interop.XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub node_deps {
    return 1 if -d "$NODE_DIR/node_modules/\@grpc/grpc-js"
             && -d "$NODE_DIR/node_modules/\@grpc/proto-loader";
    diag('installing tests/node dependencies (npm ci)');
    system("cd '$NODE_DIR' && { npm ci --no-audit --no-fund --loglevel=error"
         . " || npm install --no-audit --no-fund --loglevel=error; }"
         . " >'$tmp/npm.log' 2>&1") == 0
        or diag(`tail -n 20 '$tmp/npm.log'`);
    return -d "$NODE_DIR/node_modules/\@grpc/grpc-js";
}

if (system('node --version >/dev/null 2>&1') != 0) {
    BAIL_OUT('node is not on PATH: interop tests need it');
}
node_deps() or BAIL_OUT('tests/node dependencies could not be installed');

# The original-proto client: (exit code, decoded JSON line or undef).
sub client {
    my ($target, @args) = @_;
    open(my $fh, '-|', 'timeout', '30', 'node', $CLIENT, '--timeout', '5000',
         $target, @args) or die "cannot run node $CLIENT: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    my $rc = $? == -1 ? -1 : $? >> 8;
    my $j = eval { $json->decode($out) };
    diag("interop-client @args: unparseable output '$out'") if !$j;
    return ($rc, $j);
}

# --- the original mock stats server ----------------------------------------

my ($mock_pid, $mock_fh, $mock_log) = (undef, undef, "$tmp/mock.log");

sub start_mock {
    $mock_pid = open($mock_fh, '-|') // die "fork: $!";
    if (!$mock_pid) {
        open(STDERR, '>', $mock_log) or POSIX::_exit(127);
        $ENV{MOCK_VERBOSE} = 1;
        exec('node', $MOCK) or POSIX::_exit(127);
    }
    my $sel = IO::Select->new($mock_fh);
    my $line = $sel->can_read($WAIT) ? readline($mock_fh) : undef;
    my $ports = $line && eval { $json->decode($line) };
    $ports or die "mock.js printed no ports within ${WAIT}s:\n"
                . `tail -n 20 '$mock_log'`;
    return $ports;
}

sub stop_mock {
    return if !$mock_pid;
    kill 'TERM', $mock_pid;
    for (1 .. 50) {
        last if waitpid($mock_pid, POSIX::WNOHANG()) == $mock_pid;
        select(undef, undef, undef, 0.1);
    }
    if (kill 0, $mock_pid) {
        kill 'KILL', $mock_pid;
        waitpid($mock_pid, 0);
    }
    $mock_pid = undef;
}
END { stop_mock() }

# Poll GetStats on TARGET (original proto) until DONE->(stats) holds or the
# bound passes; returns the last stats seen.
sub wait_stats {
    my ($target, $done) = @_;
    my $deadline = time + $WAIT;
    my $last;
    while (1) {
        my ($rc, $j) = client($target, 'stats');
        $last = $j if $rc == 0;
        return $last if $last && $done->($last);
        return $last if time >= $deadline;
        select(undef, undef, undef, 0.2);
    }
}

sub count_of {
    my ($stats, $n) = @_;
    for my $s (@{ $stats->{fibonacci_stats} // [] }) {
        return $s->{request_count} if $s->{n} == $n;
    }
    return 0;
}

sub stat_of {
    my ($stats, $n) = @_;
    my ($s) = grep { $_->{n} == $n } @{ $stats->{fibonacci_stats} // [] };
    return $s;
}

# --- an original client against our fibonacci-service ---------------------

my $stats = start_stats();
my $fib   = start_fib(stats => $stats->{target});
my $t     = $fib->{target};

{
    my ($rc, $j) = client($t, 'getfib', 10);
    is($rc, 0, 'original client: GetFib 10 succeeds');
    is($j->{x}, '55', 'original client: F(10) = 55');

    ($rc, $j) = client($t, 'getfib', 0);
    is($rc, 0, 'original client: GetFib 0 succeeds');
    ok(!defined $j->{x} || $j->{x} eq '0', 'original client: F(0) is 0/absent')
        or diag explain $j;

    ($rc, $j) = client($t, 'getfib', 92);
    is($rc, 0, 'original client: GetFib 92 succeeds');
    is($j->{x}, $F92, 'original client: F(92) exact as int64');

    for my $case ([93, 'n=93'], [-1, 'n=-1']) {
        my ($n, $name) = @$case;
        ($rc, $j) = client($t, 'getfib', $n);
        is($rc, 1, "original client: $name fails");
        is($j->{code}, 'INVALID_ARGUMENT', "original client: $name is "
           . 'INVALID_ARGUMENT') or diag explain $j;
        ok(!exists $j->{x}, "original client: $name carries no number");
        like($j->{message} // '', qr/\S/, "original client: $name has a "
             . 'message');
    }

    ($rc, $j) = client($t, 'getfib', 1000);
    is($rc, 1, 'original client: n=1000 is an error (it cannot read value)');
    ok(defined $j->{code} && !exists $j->{x},
       'original client: n=1000 answers a status, no number')
        or diag explain $j;
}

# Our fibonacci-service reports what the original client asked for.
{
    my $s = wait_stats($stats->{target},
        sub { count_of($_[0], 10) >= 1 && count_of($_[0], 92) >= 1 });
    is(count_of($s, 10), 1, 'stats-service counted GetFib 10 once');
    is(count_of($s, 92), 1, 'stats-service counted GetFib 92 once');
}

# --- an original client against our stats-service -------------------------

{
    my $st = start_stats();
    my $s  = $st->{target};
    my @records = ([10, 1_500_000], [10, 2_500_000], [3, 1_000],
                   [92, 9_000_000_000_000]);
    for my $r (@records) {
        my ($rc, $j) = client($s, 'record', @$r);
        is($rc, 0, "original client: RecordNo n=$r->[0] succeeds");
        ok($j && $j->{success}, "original client: RecordNo n=$r->[0] success")
            or diag explain $j;
    }
    my ($rc, $j) = client($s, 'stats');
    is($rc, 0, 'original client: GetStats succeeds');
    is($j->{total_requests}, 4, 'original client: total_requests = 4');
    is_deeply([map { $_->{n} } @{ $j->{fibonacci_stats} }], [3, 10, 92],
              'original client: one entry per n, sorted by n');
    is(count_of($j, 10), 2, 'original client: n=10 counted twice');
    is(count_of($j, 3), 1, 'original client: n=3 counted once');
    my %avg = map { $_->{n} => $_->{average_time_ms} } @{ $j->{fibonacci_stats} };
    ok(abs($avg{10} - 2.0) < 1e-9, 'original client: average_time_ms for '
       . "n=10 is 2.0 ms (got $avg{10})");
    ok(abs($avg{3} - 0.001) < 1e-12, 'original client: average_time_ms for '
       . "n=3 is 0.001 ms (got $avg{3})");
    ok(abs($avg{92} - 9_000_000) < 1e-3, 'original client: average_time_ms '
       . "for n=92 is 9e6 ms (got $avg{92})");

    ($rc, $j) = client($s, 'record', 5, -1);
    is($rc, 1, 'original client: RecordNo with a negative duration fails');
    is($j->{code}, 'INVALID_ARGUMENT', 'negative duration: INVALID_ARGUMENT');
    ($rc, $j) = client($s, 'stats');
    is($j->{total_requests}, 4, 'a refused record is not counted');
    stop($st, 'TERM');
}

# --- our fibonacci-service against an original stats server ----------------

{
    my $ports = start_mock();
    my $mock  = "127.0.0.1:$ports->{original}";
    my $fm    = start_fib(stats => $mock);
    my %want  = (10 => 3, 20 => 2, 92 => 1);
    for my $n (sort keys %want) {
        for (1 .. $want{$n}) {
            my ($rc, $j) = client($fm->{target}, 'getfib', $n);
            is($rc, 0, "GetFib $n via a service reporting to the original "
               . 'stats server');
        }
    }
    my $s = wait_stats($mock, sub {
        my $st = shift;
        !grep { count_of($st, $_) < $want{$_} } keys %want;
    });
    ok($s, 'the original stats server answers GetStats') or diag explain $s;
    for my $n (sort keys %want) {
        is(count_of($s, $n), $want{$n},
           "original stats server received n=$n exactly $want{$n} time(s) "
           . '(RecordNo fallback)');
    }
    is($s->{total_requests}, 6, 'original stats server: total 6, none doubled');
    my $avg = stat_of($s, 10) ? stat_of($s, 10)->{average_time_ms} : undef;
    ok(defined $avg && $avg == int($avg),
       'original stats server: whole-millisecond average, as the Go system');

    # Nothing else arrives later (no duplicate deliveries after a retry).
    select(undef, undef, undef, 1.0);
    my ($rc, $later) = client($mock, 'stats');
    is($later->{total_requests}, 6, 'no late duplicates reach the original '
       . 'stats server');

    open(my $lf, '<', $mock_log) or die "$mock_log: $!";
    my @lines = <$lf>;
    my $record_calls = grep { /^mock original RecordNo / } @lines;
    is($record_calls, 6, 'the mock saw exactly 6 RecordNo calls')
        or diag(`tail -n 20 '$mock_log'`);

    is(stop($fm, 'TERM'), 0, 'fibonacci-service stops cleanly after fallback');
    stop_mock();
}

is(stop($fib, 'TERM'), 0, 'fibonacci-service exits 0 on SIGTERM');
is(stop($stats, 'TERM'), 0, 'stats-service exits 0 on SIGTERM');

done_testing();
