#!/usr/bin/env perl
# verify.pl - checks that a benchmarked endpoint gives correct answers, so
# that no case measures errors. Exit 0 when the answer is right; otherwise
# print what is wrong on stderr and exit 1. The expected Fibonacci values
# are computed here, independently of the service:
#
#   verify.pl fib-json FILE N        FILE holds the HTTP body of /fib?n=N
#   verify.pl grpc-fib HEADERS BODY N   curl's header dump (with trailers)
#                                    and body of a GetFib(n=N) call
#   verify.pl stats-json FILE COUNT  FILE holds /stats with COUNT distinct n,
#                                    each recorded once
use strict;
use warnings;
use JSON::PP;

my ($what, @args) = @ARGV;
my %check = (
    'fib-json'   => \&fib_json,
    'grpc-fib'   => \&grpc_fib,
    'stats-json' => \&stats_json,
);
die "usage: $0 fib-json|grpc-fib|stats-json ARGS\n"
    unless defined $what && $check{$what};
my $err = $check{$what}->(@args);
if (defined $err) {
    print STDERR "$err\n";
    exit 1;
}
exit 0;

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!\n";
    local $/;
    my $s = <$fh>;
    return defined $s ? $s : '';
}

sub short {
    my ($s) = @_;
    return length $s > 200 ? substr($s, 0, 200) . '...' : $s;
}

# F(n) exactly when it fits in int64 (n <= 92).
sub fib_small {
    my ($n) = @_;
    my ($a, $b) = (0, 1);
    ($a, $b) = ($b, $a + $b) for 1 .. $n;
    return $a;
}

# Checks a decimal string against F(n) without big integers: its number of
# digits (from Binet's formula), its leading digits (same) and its last 15
# digits (F(n) mod 10^15 by iteration). Returns undef or what is wrong.
sub check_decimal {
    my ($n, $value) = @_;
    return "value is not a decimal string" unless $value =~ /^[0-9]+$/;
    if ($n <= 92) {
        my $want = fib_small($n);
        return $value eq "$want" ? undef : "value $value, want $want";
    }
    my $log = $n * log((1 + sqrt 5) / 2) / log(10) - log(sqrt 5) / log(10);
    my $digits = int($log) + 1;
    return "value has " . length($value) . " digits, F($n) has $digits"
        unless length $value == $digits;
    my $lead = sprintf '%.6f', 10 ** ($log - int $log);
    $lead =~ s/\.//;
    $lead = substr $lead, 0, 5;
    return "value starts " . substr($value, 0, 5) . ", F($n) starts $lead"
        unless substr($value, 0, 5) eq $lead;
    my $mod = 10**15;
    my ($a, $b) = (0, 1);
    ($a, $b) = ($b, ($a + $b) % $mod) for 1 .. $n;
    my $tail = sprintf '%015d', $a;
    return "value ends " . substr($value, -15) . ", F($n) ends $tail"
        unless substr($value, -15) eq $tail;
    return undef;
}

# The JSON object in FILE, or (undef, what is wrong).
sub json_file {
    my ($file) = @_;
    my $body = slurp($file);
    my $j = eval { decode_json($body) };
    return ref $j eq 'HASH' ? ($j) : (undef, "not a JSON object: " . short($body));
}

sub fib_json {
    my ($file, $n) = @_;
    my ($j, $err) = json_file($file);
    return $err unless $j;
    return "no \"value\" in " . short(encode_json($j))
        unless defined $j->{value};
    return "\"n\" is " . ($j->{n} // 'missing') . ", want $n"
        if exists $j->{n} && $j->{n} != $n;
    if ($n <= 92 && $n > 0) {
        my $want = fib_small($n);
        return "\"x\" is " . ($j->{x} // 'missing') . ", want $want"
            unless defined $j->{x} && $j->{x} == $want;
    }
    my $bad = check_decimal($n, $j->{value});
    return defined $bad ? "F($n): $bad" : undef;
}

sub varint {
    my ($buf, $pos) = @_;
    my ($v, $shift) = (0, 0);
    while ($$pos < length $$buf) {
        my $byte = ord substr $$buf, $$pos++, 1;
        $v |= ($byte & 0x7f) << $shift;
        return $v unless $byte & 0x80;
        $shift += 7;
    }
    return undef;
}

sub grpc_fib {
    my ($headers, $bodyfile, $n) = @_;
    my $h = slurp($headers);
    my ($status) = $h =~ /^grpc-status:\s*(\d+)/mi;
    return "no grpc-status in the response headers or trailers"
        unless defined $status;
    if ($status != 0) {
        my ($msg) = $h =~ /^grpc-message:\s*([^\r\n]*)/mi;
        return "grpc-status $status" . (defined $msg ? " ($msg)" : '');
    }
    my $body = slurp($bodyfile);
    return "reply is not one gRPC message: " . unpack('H*', $body)
        unless length $body >= 5;
    my ($flag, $len) = unpack 'C N', $body;
    return "reply frame is compressed or cut: " . unpack('H*', $body)
        unless $flag == 0 && length $body == 5 + $len;
    my $msg = substr $body, 5;
    my ($pos, $x, $value, $rn) = (0);
    while ($pos < length $msg) {
        my $key = varint(\$msg, \$pos);
        return "bad protobuf: " . unpack('H*', $msg) unless defined $key;
        if ($key == (1 << 3 | 0)) {
            $x = varint(\$msg, \$pos);
        } elsif ($key == (3 << 3 | 0)) {        # n, added to the contract
            $rn = varint(\$msg, \$pos);
        } elsif ($key == (2 << 3 | 2)) {
            my $l = varint(\$msg, \$pos);
            $value = substr $msg, $pos, $l;
            $pos += $l;
        } else {
            return "unexpected field in reply: " . unpack('H*', $msg);
        }
    }
    my $want = fib_small($n);
    return "n is $rn, want $n" if defined $rn && $rn != $n;
    return "x is " . ($x // 'missing') . ", want $want"
        unless ($x // 0) == $want;
    return "value is $value, want $want"
        if defined $value && $value ne "$want";
    return undef;
}

sub stats_json {
    my ($file, $count) = @_;
    my ($j, $err) = json_file($file);
    return $err unless $j;
    my $list = $j->{fibonacci_stats};
    return "no fibonacci_stats array" unless ref $list eq 'ARRAY';
    return "fibonacci_stats has " . @$list . " entries, want $count"
        unless @$list == $count;
    my $total = $j->{total_requests64} // $j->{total_requests} // 0;
    return "total_requests is $total, want $count" unless $total == $count;
    for my $i (1 .. $#$list) {
        return "fibonacci_stats not sorted by n at index $i"
            unless $list->[$i]{n} > $list->[$i - 1]{n};
    }
    return undef;
}
