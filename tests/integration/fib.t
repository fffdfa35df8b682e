# fib.t - fibonacci-service answers: values for small and large n, every
# error status with its message, raw garbage, health, the per-request debug
# log line with x-request-id, and its flags.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use FibTest;

my $F1000 = '4346655768693745643568852767504062580256466051737178040248172908953655'
          . '5417949051890403879840079255169295922593080322634775209689623239873322'
          . '471161642996440906533187938298969649928516003704476137795166849228875';

my $fib = start_fib(stats => '', 'max-n' => 5000, 'log-level' => 'debug');
my $t = $fib->{target};

sub getfib_ok {
    my ($n, $x, $value, @exact) = @_;
    my ($rc, $j) = fibctl($t, 'getfib', $n, @exact);
    is($rc, 0, "getfib $n @exact exits 0");
    is($j->{x}, $x, "getfib $n: x") if defined $x;
    ok(!exists $j->{x}, "getfib $n: x unset") if !defined $x;
    is($j->{value}, $value, "getfib $n: value");
}

getfib_ok(0, undef, '0');                    # x is 0: proto3 leaves it out
getfib_ok(1, 1, '1');
getfib_ok(10, 55, '55');
getfib_ok(92, 7540113804746346429, '7540113804746346429');
getfib_ok(92, 7540113804746346429, '7540113804746346429', '--exact');
getfib_ok(93, undef, '12200160415121876738', '--exact');
getfib_ok(1000, undef, $F1000, '--exact');
getfib_ok(1000, undef, $F1000, '--exact');  # now from the cache

{
    my ($rc, $j) = fibctl($t, 'getfib', 5000, '--exact');
    is($rc, 0, 'n = max-n is answered');
    is(length $j->{value}, 1045, 'F(5000) has 1045 digits');
}

sub getfib_err {
    my ($name, $code, $re, @args) = @_;
    my ($rc, $j) = fibctl($t, @args);
    is($rc, 1, "$name: exit 1");
    is($j->{code}, $code, "$name: $code");
    like($j->{message} // '', $re, "$name: message");
}

getfib_err('n = -1', 'INVALID_ARGUMENT', qr/between 0 and 5000/, 'getfib', -1);
getfib_err('n = -2147483648', 'INVALID_ARGUMENT', qr/between 0 and 5000/,
           'getfib', -2147483648);
getfib_err('n = max + 1', 'OUT_OF_RANGE', qr/between 0 and 5000/,
           'getfib', 5001, '--exact');
getfib_err('n = 2147483647', 'OUT_OF_RANGE', qr/between 0 and 5000/,
           'getfib', 2147483647);
getfib_err('93 without exact', 'INVALID_ARGUMENT',
           qr/too large for int64 \(max 92\).*exact/, 'getfib', 93);
getfib_err('garbage bytes', 'INVALID_ARGUMENT', qr/invalid request/,
           'raw', '/fibonacci.Fibonacci/GetFib', 'ffffffff');
getfib_err('truncated field', 'INVALID_ARGUMENT', qr/invalid request/,
           'raw', '/fibonacci.Fibonacci/GetFib', '0a05');
getfib_err('unknown method', 'UNIMPLEMENTED', qr/./,
           'raw', '/fibonacci.Fibonacci/Nope', '080a');

{
    # A hand-made request: field 1 (n) = 10.
    my ($rc, $j) = fibctl($t, 'raw', '/fibonacci.Fibonacci/GetFib', '080a');
    is($rc, 0, 'raw GetFib n=10');
    is($j->{reply}, '083712023535180a', 'raw reply: x=55, value="55", n=10');
    ($rc, $j) = fibctl($t, 'raw', '/fibonacci.Fibonacci/GetFib', '');
    is($rc, 0, 'empty request means n = 0');
    is($j->{reply}, '120130', 'raw reply: value="0"');
}

{
    my ($rc, $j) = fibctl($t, 'health', 'fibonacci.Fibonacci');
    is($j->{status}, 'SERVING', 'health fibonacci.Fibonacci SERVING');
    ($rc, $j) = fibctl($t, 'health', '');
    is($j->{status}, 'SERVING', 'health "" SERVING');
}

{
    my ($rc) = fibctl($t, '--request-id', 'req-abc-123', 'getfib', 10);
    is($rc, 0, 'getfib with a request id');
    fibctl($t, '--request-id', 'req-big-1', 'getfib', 2000, '--exact');
    fibctl($t, '--request-id', 'req-big-2', 'getfib', 2000, '--exact');
    fibctl($t, '--request-id', 'req-bad', 'getfib', 93);
    my %by_id = map { ($_->{request_id} // '') => $_ }
                grep { ($_->{event} // '') eq 'getfib' } log_lines($fib);
    my $l = $by_id{'req-abc-123'};
    ok($l, 'debug log has the getfib line with the x-request-id');
    is($l->{n}, 10, 'log: n');
    is($l->{cache}, 'bypass', 'log: small n bypasses the cache');
    is($l->{status}, 'OK', 'log: status');
    like($l->{peer} // '', qr/127\.0\.0\.1/, 'log: peer');
    ok(defined $l->{duration_us} && $l->{duration_us} >= 0, 'log: duration_us');
    is($by_id{'req-big-1'}{cache}, 'miss', 'first F(2000): cache miss');
    is($by_id{'req-big-2'}{cache}, 'hit', 'second F(2000): cache hit');
    is($by_id{'req-bad'}{status}, 'INVALID_ARGUMENT', 'errors are logged too');
}

is(stop($fib, 'TERM'), 0, 'SIGTERM: exit 0');
my @lines = log_lines($fib);
ok((grep { $_->{event} eq 'started' } @lines), 'log: started');
ok((grep { $_->{event} eq 'stopping' } @lines), 'log: stopping');
my ($stopped) = grep { $_->{event} eq 'stopped' } @lines;
ok($stopped, 'log: stopped');
# Misses: 93, 1000, 5000, 2000 once each; hits: the second 1000 and 2000.
is($stopped->{cache_misses}, 4, 'log: cache misses counted');
is($stopped->{cache_hits}, 2, 'log: cache hits counted');
is($stopped->{cache_entries}, 4, 'log: four values cached');

# At the default level there is no per-request line.
$fib = start_fib(stats => '');
fibctl($fib->{target}, 'getfib', 10);
is(stop($fib, 'TERM'), 0, 'info level: exit 0');
ok(!(grep { $_->{event} eq 'getfib' } log_lines($fib)),
   'info level: no getfib lines');

# PORT=N, as the original service took it: every address, port N.
{
    my $port = free_port();
    my $d = start_fib(listen => undef, port => $port, env => {PORT => $port},
                      stats => '');
    my ($rc, $j) = fibctl("127.0.0.1:$port", 'getfib', 10);
    is($j->{x}, 55, 'PORT=N: serves on port N');
    my ($started) = grep { $_->{event} eq 'started' } log_lines($d);
    is($started->{listen}, "0.0.0.0:$port", 'PORT=N: listens on 0.0.0.0');
    is(stop($d, 'TERM'), 0, 'PORT=N: exit 0');
}

# Flags.
my $bin = ($ENV{FIB_BIN_DIR} // 'build/bin') . '/fibonacci-service';
like(`$bin --version 2>&1`, qr/\d+\.\d+/, '--version');
is($? >> 8, 0, '--version exits 0');
like(`$bin --help 2>&1`, qr/--max-n/, '--help lists the flags');
`$bin --max-n -1 2>&1`;
is($? >> 8, 2, 'a bad flag value exits 2');
`$bin --no-such-flag 2>&1`;
is($? >> 8, 2, 'an unknown flag exits 2');
`$bin --log-level loud 2>&1`;
is($? >> 8, 2, 'an unknown log level exits 2');

{
    # --walk K: K calls on one channel (bench/instructions' cold load);
    # F(100), F(101), F(102) have 21 digits each
    my $w = start_fib(stats => '', 'max-n' => 5000);
    my $t = $w->{target};
    my ($rc, $j) = fibctl($t, 'getfib', 100, '--exact', '--walk', 3);
    is($rc, 0, 'getfib --walk 3 exits 0');
    is_deeply($j, { calls => 3, digits => 63 }, 'getfib --walk: calls, digits');
    ($rc, $j) = fibctl($t, 'getfib', 4999, '--exact', '--walk', 3);
    is($rc, 1, 'a walk past max-n exits 1');
    is($j->{code}, 'OUT_OF_RANGE', 'a walk past max-n: its error');
}


done_testing();
