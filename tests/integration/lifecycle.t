# lifecycle.t - both daemons speak systemd's notify protocol and drain in two
# steps. The test listens on its own $NOTIFY_SOCKET (a datagram socket, as
# systemd does) and checks the messages and their order: READY=1 with a
# STATUS= line once serving, WATCHDOG=1 pings while $WATCHDOG_USEC is set,
# STOPPING=1 on SIGTERM. A grpc.health.v1.Health/Watch stream, watched from
# outside with fibctl, sees SERVING, then NOT_SERVING at once on SIGTERM
# while calls are still answered for --drain-grace, then its end
# (UNAVAILABLE) when the server stops accepting. A second SIGTERM cuts the
# grace short.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp ();
use IO::Select ();
use IO::Socket::UNIX ();
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time);
use FibTest;

my $bin_dir = $ENV{FIB_BIN_DIR} // 'build/bin';
my $dir = File::Temp->newdir();
my $GRACE = 2;              # seconds of --drain-grace

# The next datagram on the notify socket, or undef after `wait` seconds.
sub next_msg {
    my ($sock, $wait) = @_;
    return undef unless IO::Select->new($sock)->can_read($wait);
    my $buf;
    defined $sock->recv($buf, 4096) or return undef;
    return $buf;
}

# Start `fibctl watch` against the target; returns the pipe.
sub watch {
    my ($target, @service) = @_;
    open(my $fh, '-|', "$bin_dir/fibctl", '--target', $target,
         '--timeout', '60s', 'watch', @service) or die "fibctl: $!";
    return $fh;
}

sub line_of {
    my ($fh) = @_;
    my $line = <$fh>;
    return undef unless defined $line;
    return eval { JSON::PP::decode_json($line) } // {raw => $line};
}

for my $case (['stats-service', \&start_stats, 'stats.Stats', ['stats']],
              ['fibonacci-service', \&start_fib, 'fibonacci.Fibonacci',
               ['getfib', 10]]) {
    my ($name, $start, $service, $call) = @$case;
    my $path = "$dir/$name.notify";
    my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
        or die "notify socket: $!";
    my %extra = $name eq 'fibonacci-service' ? (stats => '') : ();
    my $d = $start->(%extra, 'drain-grace' => "${GRACE}s",
                     env => {NOTIFY_SOCKET => $path, WATCHDOG_USEC => 600000});
    my @msgs;

    my $ready = next_msg($sock, 10);
    push @msgs, $ready if defined $ready;
    like($ready // '', qr/\AREADY=1\nSTATUS=serving gRPC on 127\.0\.0\.1:$d->{port}\b/,
         "$name: READY=1 with a STATUS line first");
    my $pings = 0;
    while ($pings < 3) {
        my $m = next_msg($sock, 5) // last;
        push @msgs, $m;
        $pings++ if $m eq 'WATCHDOG=1';
    }
    is($pings, 3, "$name: WATCHDOG=1 pings while WATCHDOG_USEC is set");

    my $w = watch($d->{target}, $service);
    my $other = watch($d->{target});
    is(line_of($w)->{status}, 'SERVING', "$name: Watch streams SERVING");
    is(line_of($other)->{status}, 'SERVING', "$name: Watch of '' too");

    while (defined(my $m = next_msg($sock, 0))) { push @msgs, $m }
    my $t0 = time;
    kill 'TERM', $d->{pid};
    # read as systemd does: the socket's queue is short (10 datagrams)
    while (defined(my $m = next_msg($sock, 5))) {
        push @msgs, $m;
        last if $m =~ /^STOPPING=1/;
    }
    is(line_of($w)->{status}, 'NOT_SERVING',
       "$name: Watch sees NOT_SERVING on SIGTERM");
    my $seen = time - $t0;
    ok($seen < $GRACE, sprintf("$name: ... at once (%.3f s)", $seen));
    is(line_of($other)->{status}, 'NOT_SERVING', "$name: on every stream");
    my ($rc, $j) = fibctl($d->{target}, 'health', $service);
    is($j->{status}, 'NOT_SERVING', "$name: Check says NOT_SERVING too");
    ($rc, $j) = fibctl($d->{target}, @$call);
    is($rc, 0, "$name: calls are still answered during the grace");
    ok(time - $t0 < $GRACE, "$name: ... (that call was inside the grace)");

    while (defined(my $m = next_msg($sock, 0))) { push @msgs, $m }
    my $end = line_of($w);
    my $ended = time - $t0;
    is($end->{code}, 'UNAVAILABLE', "$name: the stream ends UNAVAILABLE "
       . "once the server stops accepting");
    ok($ended >= $GRACE * 0.95, sprintf("$name: ... after the grace (%.3f s)", $ended));
    close $w;
    close $other;
    is(stop($d), 0, "$name: exit 0");

    while (defined(my $m = next_msg($sock, 0.5))) { push @msgs, $m }
    my @kinds = map { /\A(\w+)=/ ? $1 : $_ } @msgs;
    my ($stopping) = grep { $kinds[$_] eq 'STOPPING' } 0 .. $#kinds;
    ok(defined $stopping, "$name: STOPPING=1 sent");
    like($msgs[$stopping] // '', qr/\ASTOPPING=1\nSTATUS=SIGTERM: NOT_SERVING/,
         "$name: ... with a STATUS line");
    is($kinds[0], 'READY', "$name: READY=1 came first");
    ok(!grep({ $kinds[$_] eq 'READY' } 1 .. $#kinds), "$name: READY=1 once");
    ok(!grep({ $kinds[$_] =~ /^(READY|STOPPING)$/ && $_ > $stopping }
             0 .. $#kinds) && $stopping > 3,
       "$name: order READY, WATCHDOG..., STOPPING (@kinds[0 .. $stopping])");
    ok(grep({ $_ eq "STATUS=draining calls in flight" } @msgs),
       "$name: STATUS when the grace ends");
    close $sock;
}

# A second SIGTERM cuts a long grace short; without NOTIFY_SOCKET nothing
# is sent and nothing fails.
my $d = start_stats('drain-grace' => '60s');
kill 'TERM', $d->{pid};
my ($rc, $j);
for (1 .. 100) {    # until the first signal has turned health NOT_SERVING
    ($rc, $j) = fibctl($d->{target}, 'health');
    last if ($j->{status} // '') eq 'NOT_SERVING';
}
is($j->{status}, 'NOT_SERVING', 'draining with a 60 s grace');
my $t0 = time;
is(stop($d, 'TERM'), 0, 'second SIGTERM: exit 0');
ok(time - $t0 < 30, sprintf('... without waiting out the grace (%.1f s)', time - $t0));
my @lines = log_lines($d);
ok((grep { $_->{event} eq 'drain_grace_cut' } @lines), 'log: drain_grace_cut');

done_testing();
