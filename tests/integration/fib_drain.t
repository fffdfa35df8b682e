# fib_drain.t - SIGTERM: calls in flight finish, the stats queue is flushed
# to the stats-service, the exit status is 0; the flush wait is bounded by
# --drain-timeout when the stats-service is unreachable.
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

# CPU time (clock ticks, user + system) a process has used so far.
sub cpu_ticks {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/stat") or return 0;
    my ($after_comm) = (scalar <$fh>) =~ /\) (.*)/;
    my @f = split ' ', $after_comm;
    return $f[11] + $f[12];                # utime, stime (fields 14, 15)
}

# A call in flight when SIGTERM arrives still gets its answer. F(1.9e7)
# takes most of a second to compute, and its 3970765 digits still fit gRPC's
# default 4 MiB message limit.
my $stats = start_stats();
my $fib = start_fib(stats => $stats->{target}, 'max-n' => 20000000,
                    'log-level' => 'debug');
my $tmp = File::Temp->new(SUFFIX => '.json');
my $out = $tmp->filename;
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
    open(STDOUT, '>', $out) or die;
    exec("$bin_dir/fibctl", '--target', $fib->{target}, '--timeout', '60s',
         'getfib', 19000000, '--exact') or POSIX::_exit(127);
}
# SIGTERM only once the daemon is computing: a fixed sleep raced the call's
# arrival on a loaded machine, and a call that comes after SIGTERM is
# rightly refused.
my $ticks0 = cpu_ticks($fib->{pid});
my $until = time() + 20;
sleep 0.01 while cpu_ticks($fib->{pid}) < $ticks0 + 5 && time() < $until;
kill 'TERM', $fib->{pid};
sleep 0.1;
my ($hrc, $health) = fibctl($fib->{target}, '--timeout=1s', 'health',
                            'fibonacci.Fibonacci');
is($health->{status} // $health->{code}, 'NOT_SERVING',
   'draining: health turns NOT_SERVING at once (--drain-grace)');
is(stop($fib, 'TERM'), 0, 'SIGTERM with a call in flight: exit 0');
waitpid($pid, 0);
is($? >> 8, 0, 'the call in flight was answered');
open(my $fh, '<', $out) or die;
my $reply = JSON::PP::decode_json(scalar <$fh> // '{}');
is(length($reply->{value} // ''), 3970765, 'F(1.9e7) has 3970765 digits');
my @events = map { $_->{event} } log_lines($fib);
my ($stopping) = grep { $events[$_] eq 'stopping' } 0 .. $#events;
my ($answered) = grep { $events[$_] eq 'getfib' } 0 .. $#events;
ok(defined $stopping && defined $answered && $stopping < $answered,
   'the call was still in flight when SIGTERM arrived');

# Everything answered before SIGTERM reaches the stats-service.
$fib = start_fib(stats => $stats->{target}, 'stats-batch' => 10);
my ($rc, $j) = fibctl($stats->{target}, 'stats');
my $before = $j->{total_requests64} // 0;
fibctl($fib->{target}, 'getfib', $_ % 90) for 1 .. 50;
is(stop($fib, 'TERM'), 0, 'exit 0');
($rc, $j) = fibctl($stats->{target}, 'stats');
is(($j->{total_requests64} // 0) - $before, 50, 'queue flushed before exit');
my ($stopped) = grep { $_->{event} eq 'stopped' } log_lines($fib);
is($stopped->{stats_undelivered}, 0, 'log: nothing left undelivered');

# No stats-service at all: the flush gives up after --drain-timeout.
my $dead = '127.0.0.1:' . free_port();
$fib = start_fib(stats => $dead, 'drain-timeout' => '1s', 'drain-grace' => '0s');
fibctl($fib->{target}, 'getfib', 10) for 1 .. 3;
my $t0 = time;
is(stop($fib, 'TERM'), 0, 'unreachable stats-service: exit 0');
my $took = time - $t0;
ok($took < 4, "bounded drain ($took s)");
($stopped) = grep { $_->{event} eq 'stopped' } log_lines($fib);
is($stopped->{stats_undelivered}, 3, 'log: three records undelivered');
stop($stats, 'TERM');

done_testing();
