# fib_range.t - GetFibRange and GetFibBatch straight at fibonacci-service:
# values checked against an independent computation (Math::BigInt), order,
# n in every message, every limit with its status and message, cancellation
# (the daemon logs it and stops), a slow reader (the daemon pauses: what it
# sent ahead stays bounded by gRPC's flow control windows), a batch counted
# per n by a real stats-service, and the same methods through a client that
# grpc-js built from the current protos (tests/node/contract-client.js).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use Math::BigInt;
use Time::HiRes qw(sleep time);
use FibTest;

my $BIN = $ENV{FIB_BIN_DIR} // 'build/bin';
my $NODE_DIR = "$FindBin::Bin/../node";
my $json = JSON::PP->new;

# F(0) .. F(max) by additions on big integers, independently of GMP.
my @F = (Math::BigInt->new(0), Math::BigInt->new(1));
push @F, $F[-1] + $F[-2] while @F <= 2100;

# Run a command; (exit code, decoded JSON lines).
sub lines_of {
    my (@cmd) = @_;
    open(my $fh, '-|', @cmd) or die "$cmd[0]: $!";
    my @out;
    while (my $l = <$fh>) {
        my $j = eval { $json->decode($l) };
        push @out, $j // {unparsed => $l};
    }
    close $fh;
    return ($? >> 8, @out);
}

sub range_of {
    my ($t, @args) = @_;
    return lines_of("$BIN/fibctl", '--target', $t, 'range', @args);
}

sub wait_log {
    my ($d, $event, $secs) = @_;
    my $end = time + ($secs // 15);
    while (time < $end) {
        my @l = grep { ($_->{event} // '') eq $event } log_lines($d);
        return $l[-1] if @l;
        sleep 0.05;
    }
    return undef;
}

# Every item: n in order from..to, value F(n), x F(n) for n <= 92.
sub check_items {
    my ($name, $from, $to, @items) = @_;
    is(scalar @items, $to - $from + 1, "$name: one message per n");
    my $bad = 0;
    for my $i (0 .. $#items) {
        my ($it, $n) = ($items[$i], $from + $i);
        my $want = $F[$n]->bstr;
        my $x_ok = $n <= 92 && $n > 0 ? ($it->{x} // '') eq $want
                                       : !exists $it->{x};
        next if ($it->{n} // -1) == $n && ($it->{value} // '') eq $want
                && $x_ok;
        diag("$name: item $i is " . $json->encode($it) . ", want n=$n");
        last if ++$bad > 3;
    }
    is($bad, 0, "$name: every n and value is right");
}

my $stats = start_stats();
my $fib = start_fib(stats => $stats->{target}, 'max-n' => 5000,
                    'max-range' => 3000, 'max-batch' => 20,
                    'log-level' => 'debug');
my $t = $fib->{target};

# --- values ---------------------------------------------------------------

{
    my ($rc, @items) = range_of($t, 0, 92);
    is($rc, 0, 'range 0..92 exits 0');
    check_items('range 0..92', 0, 92, @items);
    ($rc, @items) = range_of($t, 90, 2100, '--exact');
    is($rc, 0, 'range 90..2100 exact exits 0');
    check_items('range 90..2100', 90, 2100, @items);
    ($rc, @items) = range_of($t, 7, 7);
    check_items('range 7..7', 7, 7, @items);
}

# --- limits -----------------------------------------------------------------

sub refused {
    my ($name, $code, $re, @args) = @_;
    my ($rc, @l) = range_of($t, @args);
    is($rc, 1, "$name: exit 1");
    is($l[-1]{code}, $code, "$name: $code");
    like($l[-1]{message} // '', $re, "$name: the message says why");
    is(scalar(grep { exists $_->{n} } @l), 0, "$name: no item sent");
}
refused('from > to', 'INVALID_ARGUMENT', qr/from <= to.*from=5 to=3/, 5, 3);
refused('negative from', 'INVALID_ARGUMENT', qr/non-negative/, -1, 3);
refused('to > max-n', 'OUT_OF_RANGE', qr/at most 5000 \(got 5001\)/,
        4000, 5001, '--exact');
refused('more than max-range', 'OUT_OF_RANGE',
        qr/at most 3000 items \(got 3001/, 0, 3000, '--exact');
refused('to > 92 without exact', 'INVALID_ARGUMENT', qr/max 92.*exact/,
        0, 93);

{
    my ($rc, $j) = fibctl($t, 'getbatch', '1,5,10,5,0,100', '--exact');
    is($rc, 0, 'getbatch exits 0');
    is_deeply([map { $_->{n} } @{ $j->{results} }], [1, 5, 10, 5, 0, 100],
              'batch: results in request order, duplicates kept');
    is_deeply([map { $_->{value} } @{ $j->{results} }],
              [map { $F[$_]->bstr } 1, 5, 10, 5, 0, 100], 'batch: values');
    is($j->{results}[2]{x}, 55, 'batch: x for small n');
    ok(!exists $j->{results}[5]{x}, 'batch: no x above 92');

    ($rc, $j) = fibctl($t, 'getbatch', join(',', 1 .. 21));
    is($j->{code}, 'INVALID_ARGUMENT', 'batch over max-batch: INVALID_ARGUMENT');
    like($j->{message}, qr/at most 20 n \(got 21\)/, 'batch: says the bound');
    ($rc, $j) = fibctl($t, 'getbatch', '1,2,-3');
    is($j->{code}, 'INVALID_ARGUMENT', 'batch with n < 0: INVALID_ARGUMENT');
    like($j->{message}, qr/n\[2\] = -3/, 'batch: names the bad n');
    ($rc, $j) = fibctl($t, 'getbatch', '1,5001', '--exact');
    is($j->{code}, 'OUT_OF_RANGE', 'batch with n > max-n: OUT_OF_RANGE');
    like($j->{message}, qr/n\[1\] = 5001.*5000/, 'batch: names it and the max');
    ($rc, $j) = fibctl($t, 'getbatch', '93');
    is($j->{code}, 'INVALID_ARGUMENT', 'batch: 93 without exact refused');
    ($rc, $j) = fibctl($t, 'getfib', 10);
    is($j->{n}, 10, 'GetFib answers its n too');
}

# --- stats: a batch counts each n -----------------------------------------

{
    fibctl($t, 'getbatch', '7,7,8,1001', '--exact');
    my $end = time + 15;
    my %by;
    while (time < $end) {
        my (undef, $j) = fibctl($stats->{target}, 'stats');
        %by = map { $_->{n} => $_->{request_count64} }
              @{ $j->{fibonacci_stats} // [] };
        last if ($by{7} // 0) >= 2 && $by{8} && $by{1001};
        sleep 0.1;
    }
    is($by{7}, 2, 'stats: batch n=7 counted twice');
    is($by{8}, 1, 'stats: batch n=8 counted once');
    is($by{1001}, 1, 'stats: batch n=1001 counted once');
}

# --- cancellation and backpressure -------------------------------------------

{
    my ($rc, @items) = range_of($t, 2000, 4999, '--exact',
                                '--cancel-after', 5);
    is(scalar @items, 5, 'a client that cancels after 5 items got 5');
    my $l = wait_log($fib, 'getfibrange_cancelled');
    ok($l, 'the daemon logs the cancellation');
    my ($r) = grep { ($_->{status} // '') eq 'CANCELLED' }
              grep { ($_->{event} // '') eq 'getfibrange' } log_lines($fib);
    ok($r && $r->{sent} < 3000, 'and stopped before the end of the range '
       . '(sent ' . ($r ? $r->{sent} : '?') . ' of 3000)');
}

{
    # 30 items read in 3 s from 20000 on (about 4 kB each, 80000 to come):
    # without backpressure the daemon would send hundreds of MB meanwhile.
    # With it, it is ahead of the reader only by what gRPC's flow control
    # windows hold (a few MB).
    my $big = start_fib(stats => '', 'log-level' => 'debug',
                        'max-n' => 100000);
    my $t0 = time;
    my ($rc, @items) = lines_of("$BIN/fibctl", '--target', $big->{target},
                                'range', 20000, 99999, '--exact',
                                '--read-delay', 100, '--cancel-after', 30);
    my $secs = time - $t0;
    is(scalar @items, 30, 'slow reader: read 30 items');
    my $r = wait_log($big, 'getfibrange');
    is($r && $r->{status}, 'CANCELLED', 'slow reader: the stream ended '
       . 'CANCELLED, before its end');
    my $ahead = $r ? $r->{sent} - 30 : -1;
    # F(n) has floor(n log10(phi) - log10(sqrt 5)) + 1 digits
    my $bytes = 0;
    $bytes += int(($_) * 0.20898764 - 0.349485) + 1 + 8
        for 20030 .. 20030 + ($ahead < 0 ? 0 : $ahead);
    diag(sprintf('slow reader: %.1f s; the daemon was %d items (%.1f MB) '
                 . 'ahead of the reader', $secs, $ahead, $bytes / 1e6));
    ok($ahead >= 0 && $bytes < 16e6, 'slow reader: the daemon paused, '
       . 'less than 16 MB ahead');
    is(stop($big, 'TERM'), 0, 'slow reader: daemon exits 0');
}

# --- another implementation: grpc-js from the current protos --------------

SKIP: {
    skip 'node or tests/node/node_modules missing', 8
        if system('node --version >/dev/null 2>&1') != 0
        || !-d "$NODE_DIR/node_modules/\@grpc/grpc-js";
    my $client = "$NODE_DIR/contract-client.js";
    my ($rc, @items) = lines_of('node', $client, $t, 'range', 88, 300,
                                '--exact');
    is($rc, 0, 'grpc-js: GetFibRange 88..300 exits 0');
    check_items('grpc-js range 88..300', 88, 300, @items);
    ($rc, my $b) = lines_of('node', $client, $t, 'batch', '3,1000,3',
                            '--exact');
    is($rc, 0, 'grpc-js: GetFibBatch exits 0');
    is_deeply([map { $_->{value} } @{ $b->{results} }],
              [map { $F[$_]->bstr } 3, 1000, 3], 'grpc-js: batch values');
    ($rc, @items) = lines_of('node', $client, $t, 'range', 10, 1);
    is($rc, 1, 'grpc-js: from > to fails');
    is($items[-1]{code}, 'INVALID_ARGUMENT', 'grpc-js: INVALID_ARGUMENT');
    ($rc, my $g) = lines_of('node', $client, $t, 'getfib', 12);
    is_deeply($g, {n => 12, x => '144', value => '144'},
              'grpc-js: GetFib carries n');
}

is(stop($fib, 'TERM'), 0, 'fibonacci-service exits 0');
is(stop($stats, 'TERM'), 0, 'stats-service exits 0');

done_testing();
