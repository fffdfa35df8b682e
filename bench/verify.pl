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
#   verify.pl fib-ndjson FILE FROM TO [prefix]  FILE holds the NDJSON stream
#                                    of /fib?from=FROM&to=TO (prefix: only
#                                    the first complete lines, as a client
#                                    that stopped reading has them)
#   verify.pl fib-batch FILE N,N,...  FILE holds the JSON array of a batch
use strict;
use warnings;
use JSON::PP;

my ($what, @args) = @ARGV;
my %check = (
    'fib-json'   => \&fib_json,
    'grpc-fib'   => \&grpc_fib,
    'stats-json' => \&stats_json,
    'fib-ndjson' => \&fib_ndjson,
    'fib-batch'  => \&fib_batch,
);
die "usage: $0 fib-json|grpc-fib|stats-json|fib-ndjson|fib-batch ARGS\n"
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
# digits (F(n) mod 10^15 by iteration, or given as $tail by a caller that
# walks a sequence). Returns undef or what is wrong.
sub check_decimal {
    my ($n, $value, $tail) = @_;
    return "value is not a decimal string" unless $value =~ /^[0-9]+$/;
    if ($n <= 92) {
        my $want = fib_small($n);
        return $value eq "$want" ? undef : "value $value, want $want";
    }
    my $log = $n * log((1 + sqrt 5) / 2) / log(10) - log(sqrt 5) / log(10);
    my $digits = int($log) + 1;
    return "value has " . length($value) . " digits, F($n) has $digits"
        unless length $value == $digits;
    # the first five digits: truncated, not rounded (33954.9 starts 33954)
    my $lead = int(10 ** ($log - int($log) + 4));
    return "value starts " . substr($value, 0, 5) . ", F($n) starts $lead"
        unless substr($value, 0, 5) eq $lead;
    $tail //= fib_mod15($n);
    $tail = sprintf '%015d', $tail;
    return "value ends " . substr($value, -15) . ", F($n) ends $tail"
        unless substr($value, -15) eq $tail;
    return undef;
}

# F(n) mod 10^15.
sub fib_mod15 {
    my ($n) = @_;
    my $mod = 10**15;
    my ($a, $b) = (0, 1);
    ($a, $b) = ($b, ($a + $b) % $mod) for 1 .. $n;
    return $a;
}

# One unary answer (a decoded JSON object) for n; $tail as check_decimal.
sub check_answer {
    my ($j, $n, $tail) = @_;
    return "not a JSON object" unless ref $j eq 'HASH';
    return "\"n\" is " . ($j->{n} // 'missing') . ", want $n"
        unless ($j->{n} // 0) == $n;
    return "no \"value\" for n = $n" unless defined $j->{value};
    if ($n <= 92 && $n > 0) {
        my $want = fib_small($n);
        return "\"x\" is " . ($j->{x} // 'missing') . ", want $want"
            unless defined $j->{x} && $j->{x} == $want;
    }
    my $bad = check_decimal($n, $j->{value}, $tail);
    return defined $bad ? "F($n): $bad" : undef;
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

# A streamed range: one unary answer per line, n = FROM .. TO in order.
# The last 15 digits are walked along (one addition per line), so a long
# range costs one pass.
sub fib_ndjson {
    my ($file, $from, $to, $prefix) = @_;
    my $body = slurp($file);
    my @lines = split /\n/, $body, -1;
    my $last = pop @lines;              # after the final newline: empty
    return "the stream does not end with a newline: ..."
        . short(substr $body, -200) if length $last && !$prefix;
    return "no complete line in the stream" unless @lines;
    my $want = $to - $from + 1;
    return "the stream has " . @lines . " lines, want $want"
        if @lines != $want && !$prefix;
    return "the stream has more than $want lines" if @lines > $want;
    my $mod = 10**15;
    my ($a, $b) = (fib_mod15($from), fib_mod15($from + 1));
    for my $i (0 .. $#lines) {
        my $n = $from + $i;
        # the module's exact layout, read without a JSON parser (JSON::PP
        # takes seconds for a 40 MB stream); anything else is decoded
        my $j = $lines[$i] =~ /^\{"n":(\d+)(?:,"x":(\d+))?,"value":"(\d+)"\}\z/
            ? { n => $1, (defined $2 ? (x => $2) : ()), value => $3 }
            : eval { decode_json($lines[$i]) };
        return "line " . ($i + 1) . " is not JSON: " . short($lines[$i])
            unless defined $j;
        my $bad = check_answer($j, $n, $a);
        return "line " . ($i + 1) . ": $bad" if defined $bad;
        ($a, $b) = ($b, ($a + $b) % $mod);
    }
    return undef;
}

# A batch: the JSON array of the unary answers, in request order.
sub fib_batch {
    my ($file, $list) = @_;
    my @n = split /,/, $list;
    my $body = slurp($file);
    my $j = eval { decode_json($body) };
    return "not a JSON array: " . short($body) unless ref $j eq 'ARRAY';
    return "the array has " . @$j . " answers, want " . @n unless @$j == @n;
    for my $i (0 .. $#n) {
        my $bad = check_answer($j->[$i], $n[$i]);
        return "answer $i: $bad" if defined $bad;
    }
    return undef;
}
