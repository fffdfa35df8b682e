#!/usr/bin/env perl
# h2load.pl - turns one h2load run into the "BENCH_RESULT {json}" line that
# bench/wrk/report.lua prints for wrk, so both tools report alike.
#
#   h2load.pl OUTPUT LOGFILE
#
# OUTPUT is h2load's stdout; LOGFILE its --log-file (one line per request:
# start time, HTTP status, latency in microseconds), from which the latency
# percentiles are taken (h2load itself prints only min/max/mean/sd).
# errors.status counts non-2xx responses; failed/errored/timeout are
# h2load's own counters.
use strict;
use warnings;

my ($out, $log) = @ARGV;
die "usage: $0 OUTPUT LOGFILE\n" unless defined $log;

open my $fh, '<', $out or die "$out: $!\n";
my $text = do { local $/; <$fh> };
close $fh;

my ($secs, $unit) = $text =~ /^finished in ([\d.]+)(s|ms|us),/m
    or die "$out: no 'finished in' line; did h2load run?\n";
$secs /= $unit eq 'ms' ? 1e3 : $unit eq 'us' ? 1e6 : 1;
my ($total, $done, $ok, $failed, $errored, $timeout) = $text =~
    /^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m
    or die "$out: no 'requests:' line\n";
my ($s2, $s3, $s4, $s5) =
    $text =~ /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m
    or die "$out: no 'status codes:' line\n";
my ($bytes) = $text =~ /^traffic: .*? \((\d+)\) total/m;

my @lat;
open $fh, '<', $log or die "$log: $!\n";
while (<$fh>) {
    my (undef, undef, $us) = split /\t/;
    push @lat, $us + 0 if defined $us;
}
close $fh;
@lat = sort { $a <=> $b } @lat;

# Nearest-rank percentile, as wrk's HdrHistogram reports them.
sub pct {
    my ($p) = @_;
    return 0 unless @lat;
    my $i = int($p / 100 * @lat + 0.999999) - 1;
    $i = 0 if $i < 0;
    $i = $#lat if $i > $#lat;
    return $lat[$i];
}
my $mean = 0;
$mean += $_ for @lat;
$mean = @lat ? $mean / @lat : 0;

printf 'BENCH_RESULT {"requests":%d,"duration_s":%.6f,"rps":%.2f,'
    . '"bytes":%d,"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,'
    . '"p999_us":%d,"max_us":%d,"mean_us":%.2f,'
    . '"errors":{"failed":%d,"errored":%d,"timeout":%d,"status":%d}}' . "\n",
    $done, $secs, $secs > 0 ? $ok / $secs : 0, $bytes // 0,
    pct(50), pct(75), pct(90), pct(99), pct(99.9), pct(100), $mean,
    $failed, $errored, $timeout, $s3 + $s4 + $s5;
