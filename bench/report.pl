#!/usr/bin/env perl
# report.pl - the figures of one bench/run: a table on stdout and the same
# figures as JSON.
#
#   report.pl RUN_DIR JSON_OUT
#
# Reads, from RUN_DIR: results.jsonl (one line per load-generator run:
# case, workers, run, requests/s, latency percentiles in us, errors),
# status.tsv (case, workers, ok|failed|skipped, reason), titles.tsv (case,
# title), rss.jsonl (RSS samples), gmp.jsonl (GMP alone for the n of the
# cold cases, tools/gmpbench); and $BENCH_META ("key=value ..."). For
# each case it reports the median of the measured runs (warm-up excluded),
# then the ratios and the project's targets. Targets are printed, never
# enforced: this script exits 0 whatever the numbers are.
use strict;
use warnings;
use JSON::PP;
use POSIX qw(strftime);

my ($dir, $out) = @ARGV;
die "usage: $0 RUN_DIR JSON_OUT\n" unless defined $out;

my %meta = map { split /=/, $_, 2 } split ' ', $ENV{BENCH_META} // '';
$meta{$_} += 0 for grep { $meta{$_} =~ /^\d+$/ } keys %meta;
$meta{workers} = [ split /,/, $meta{workers} // '' ];
$meta{date} = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime);
$meta{cpus} = 0 + `nproc`;
chomp(my $host = `uname -n`);
$meta{host} = $host;
$meta{nginx} = (`nginx -v 2>&1` =~ m{nginx/(\S+)})[0] // '?';
$meta{cpu_pinning} = 'none';
chomp($meta{load} = `cat /proc/loadavg`);

sub lines {
    my ($file) = @_;
    open my $fh, '<', "$dir/$file" or return ();
    chomp(my @l = <$fh>);
    return grep { length } @l;
}

my %title = map { split /\t/, $_, 2 } lines('titles.tsv');
my (@order, %case);   # key "case|workers"
for (lines('status.tsv')) {
    my ($c, $w, $st, $why) = split /\t/, $_, 4;
    my $k = "$c|$w";
    push @order, $k unless $case{$k};
    my $e = $case{$k} //= { case => $c, workers => $w,
        title => $title{$c} // $c, runs => [] };
    # a later "failed" (e.g. a second check) wins over "ok"
    next if ($e->{status} // '') eq 'failed';
    $e->{status} = $st;
    $e->{reason} = $why if length($why // '');
}
# Table order: by nginx worker count (case 5, without nginx, after the
# first group), then by case.
my @case_order = qw(1 1b 2 3 3m 3t 4 5 6c 6w 6m 7 8 8s 9b 9u 10 soak);
my %rank = map { $case_order[$_] => $_ } 0 .. $#case_order;
@order = sort {
    my ($x, $y) = map { my ($c, $w) = split /\|/; [ $w eq '-' ? 1.5 : $w,
        $rank{$c} // 99 ] } $a, $b;
    $x->[0] <=> $y->[0] or $x->[1] <=> $y->[1]
} @order;

for (lines('results.jsonl')) {
    my $r = decode_json($_);
    my $e = $case{"$r->{case}|$r->{workers}"} or next;
    next if $r->{run} eq 'warmup';
    push @{ $e->{runs} }, $r;
}

my @metrics = qw(rps p50_us p75_us p90_us p99_us p999_us max_us mean_us
    mb_s items_s);
sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}
# CPU microseconds per request, per kind of process, in each run.
my @kinds = qw(nginx fibonacci-service stats-service);
my $tck = $meta{clk_tck} || 100;
for my $e (values %case) {
    for my $r (@{ $e->{runs} }) {
        next unless $r->{cpu_after} && $r->{requests};
        my %us = map { $_ => 0 } @kinds;
        for my $p (keys %{ $r->{cpu_after} }) {
            my ($kind) = grep { index($p, $_) == 0 } @kinds;
            next unless $kind;
            my $d = $r->{cpu_after}{$p} - ($r->{cpu_before}{$p} // 0);
            $us{$kind} += $d * 1e6 / $tck / $r->{requests};
        }
        $r->{cpu_us_per_request} = \%us;
        $r->{"cpu_$_"} = $us{$_} for @kinds;
    }
}
push @metrics, map { "cpu_$_" } @kinds;

for my $e (values %case) {
    next unless @{ $e->{runs} };
    $e->{median} = { map {
        my $m = $_;
        ($m => median(map { $_->{$m} } @{ $e->{runs} }))
    } @metrics };
}

sub fig { my ($c, $w, $m) = @_; my $e = $case{"$c|$w"};
    return $e && $e->{median} && ($e->{status} // '') eq 'ok'
        ? $e->{median}{$m} : undef }

# ---------------------------------------------------------------- ratios

my @workers = @{ $meta{workers} };
my (%ratios, @targets);
for my $w (@workers) {
    for ([ '3/1', 3, 1 ], [ '3/2', 3, 2 ], [ '4/3', 4, 3 ],
         [ '3t/3', '3t', 3 ], [ '3m/3', '3m', 3 ]) {
        my ($name, $a, $b) = @$_;
        my ($x, $y) = (fig($a, $w, 'rps'), fig($b, $w, 'rps'));
        $ratios{$w}{$name} = defined $x && defined $y && $y > 0
            ? 0 + sprintf('%.3f', $x / $y) : undef;
    }
}

sub target {
    my ($name, $w, $value, $want, $ok) = @_;
    push @targets, { target => $name, workers => $w, value => $value,
        want => $want, met => defined $value ? ($ok ? JSON::PP::true
            : JSON::PP::false) : undef };
}
for my $w (@workers) {
    my $r = $ratios{$w};
    target('case 3 >= case 2 (ratio 3/2)', $w, $r->{'3/2'}, '>= 1.0',
        defined $r->{'3/2'} && $r->{'3/2'} >= 1.0);
    my $rps3 = fig(3, $w, 'rps');
    target("case 3 req/s at $meta{connections} connections (5x Go gateway's 13,400)",
        $w, defined $rps3 ? 0 + sprintf('%.0f', $rps3) : undef, '>= 67000',
        defined $rps3 && $rps3 >= 67000);
    target('stats reporting cost (ratio 4/3)', $w, $r->{'4/3'}, '<= 1.05',
        defined $r->{'4/3'} && $r->{'4/3'} <= 1.05);
    target('metrics on vs off (ratio 3m/3)', $w, $r->{'3m/3'}, '>= 0.97',
        defined $r->{'3m/3'} && $r->{'3m/3'} >= 0.97);
    target('TLS on both hops vs plaintext (ratio 3t/3)', $w, $r->{'3t/3'},
        '>= 0.85', defined $r->{'3t/3'} && $r->{'3t/3'} >= 0.85);
    my $p99 = fig(3, $w, 'p99_us');
    target('case 3 p99 latency (ms)', $w,
        defined $p99 ? 0 + sprintf('%.3f', $p99 / 1000) : undef, '< 2',
        defined $p99 && $p99 < 2000);
    # warm big n within 2x of (case 3's latency + the transfer of the big
    # body, taken as nginx's own extra latency for a static file of that
    # size: 1b - 1), compared at p50.
    my ($w6, $l3, $l1, $l1b) = map { fig($_, $w, 'p50_us') } qw(6w 3 1 1b);
    my ($v, $lim);
    if (defined $w6 && defined $l3 && defined $l1 && defined $l1b) {
        my $transfer = $l1b - $l1 > 0 ? $l1b - $l1 : 0;
        $lim = 2 * ($l3 + $transfer);
        $v = 0 + sprintf('%.3f', $w6 / ($l3 + $transfer));
    }
    target('warm big n p50 / (case 3 p50 + transfer)', $w, $v, '<= 2.0',
        defined $v && $v <= 2.0);
}
# Streams (case 8 against the same bytes from a static file, 8s) and
# batches (one batch of B n, 9b, against B unary requests, 9u: numbers
# answered per second).
my (@streams, @batches);
for my $w (@workers) {
    my ($s, $c) = (fig(8, $w, 'mb_s'), fig('8s', $w, 'mb_s'));
    if (defined $s || defined $c) {
        my $r = defined $s && defined $c && $c > 0
            ? 0 + sprintf('%.3f', $s / $c) : undef;
        push @streams, { workers => $w, mb_s => $s,
            items_s => fig(8, $w, 'items_s'), static_mb_s => $c, ratio => $r };
        target('stream MB/s / static file MB/s (ratio 8/8s)', $w, $r,
            '>= 0.3', defined $r && $r >= 0.3);
    }
    my ($b, $u) = (fig('9b', $w, 'rps'), fig('9u', $w, 'rps'));
    if (defined $b || defined $u) {
        my $k = $meta{batch_size} || 100;
        my $nb = defined $b ? $b * $k : undef;
        my $r = defined $nb && $u ? 0 + sprintf('%.3f', $nb / $u) : undef;
        push @batches, { workers => $w, batch_size => $k,
            batch_numbers_s => $nb, unary_numbers_s => $u, ratio => $r };
        target("numbers/s, batches of $k / unary (ratio 9b/9u)", $w, $r,
            '>= 5', defined $r && $r >= 5);
    }
}
# Case 10: RSS growth while a slow client reads the stream.
my @slow = map { decode_json($_) } lines('slow.jsonl');
target("RSS growth (kB) under a slow reader: $_->{process}", 1,
    $_->{growth_kb}, '< 8192', $_->{growth_kb} < 8192) for @slow;

# Cold big n: fibonacci-service CPU per cold request against GMP alone
# (mpz_fib_ui + mpz_get_str) for the same n, measured in the same run.
my %gmp;
for (lines('gmp.jsonl')) {
    my $g = eval { decode_json($_) } or next;
    push @{ $gmp{$g->{case}} }, $g;
}
my %gmp_us = map { $_ => median(map { $_->{cpu_us} } @{ $gmp{$_} }) }
    keys %gmp;
my @cold;
for my $w (@workers) {
    for my $c (qw(6c 6m)) {
        my $cpu = fig($c, $w, 'cpu_fibonacci-service');
        my $anchor = $gmp_us{$c};
        next unless defined $cpu || defined $anchor;
        my $ratio = defined $cpu && $anchor ? 0 + sprintf('%.3f', $cpu / $anchor)
            : undef;
        push @cold, { case => $c, workers => $w, n => $gmp{$c}[0]{n},
            fibonacci_service_us => $cpu, gmp_alone_us => $anchor,
            ratio => $ratio };
        target("cold big n ($c, n = $gmp{$c}[0]{n}..): CPU / GMP alone", $w,
            $ratio, '<= 1.3', defined $ratio && $ratio <= 1.3);
    }
}

my $rps5 = fig(5, '-', 'rps');
target("case 5 req/s (3x Go service's 21,700)", '-',
    defined $rps5 ? 0 + sprintf('%.0f', $rps5) : undef, '>= 65000',
    defined $rps5 && $rps5 >= 65000);

# ---------------------------------------------------------------- RSS

my @rss = map { decode_json($_) } lines('rss.jsonl');
my (%proc, @procs);
for my $s (@rss) {
    my $p = $proc{"$s->{process}|$s->{pid}"} //= do {
        push @procs, "$s->{process}|$s->{pid}";
        { process => $s->{process}, pid => $s->{pid}, samples => [] } };
    push @{ $p->{samples} }, $s;
}
my $soak;
if ($meta{soak}) {
    for my $k (@procs) {
        my $p = $proc{$k};
        my ($a) = grep { $_->{point} eq 'soak after warm-up' } @{ $p->{samples} };
        my ($b) = grep { $_->{point} =~ /^soak after \d+/ } @{ $p->{samples} };
        next unless $a && $b;
        push @$soak, { process => $p->{process}, pid => $p->{pid},
            after_warmup_kb => $a->{rss_kb}, after_soak_kb => $b->{rss_kb},
            growth_kb => $b->{rss_kb} - $a->{rss_kb} };
    }
    for my $s (@{ $soak // [] }) {
        target("RSS growth (kB) over the soak: $s->{process}",
            1, $s->{growth_kb}, '<= 1024 (noise)', $s->{growth_kb} <= 1024);
    }
}

# ---------------------------------------------------------------- cache

# Cache hits and misses the fibonacci-service reported (stats.json, from
# GetStats): case 6c's n (> big_n) should all miss, case 6w's (big_n) hit.
my $cache;
if (open my $fh, '<', "$dir/stats.json") {
    my $s = eval { decode_json(do { local $/; <$fh> }) };
    if ($s && ref $s->{fibonacci_stats} eq 'ARRAY') {
        $cache = { cold => { hits => 0, misses => 0, n => 0 },
                   warm => { hits => 0, misses => 0 } };
        for my $e (@{ $s->{fibonacci_stats} }) {
            my $k = $e->{n} > $meta{big_n} ? 'cold'
                : $e->{n} == $meta{big_n} ? 'warm' : next;
            $cache->{$k}{hits} += $e->{cache_hits} // 0;
            $cache->{$k}{misses} += $e->{cache_misses} // 0;
            $cache->{$k}{n}++ if $k eq 'cold';
        }
    }
}

# ---------------------------------------------------------------- print

sub num {
    my ($v, $fmt) = @_;
    return '-' unless defined $v;
    my $s = sprintf $fmt, $v;
    1 while $s =~ s/^(\d+)(\d{3})/$1,$2/;
    return $s;
}
sub ms { defined $_[0] ? sprintf('%.3f', $_[0] / 1000) : '-' }

printf "\nFibonacci gateway benchmark, %s, %s (%d CPUs, load %s), nginx %s, "
    . "commit %s%s\n", $meta{date}, $meta{host}, $meta{cpus},
    (split ' ', $meta{load})[0], $meta{nginx}, $meta{commit} // '?',
    $meta{smoke} ? ', SMOKE RUN (figures not meaningful)' : '';
printf "HTTP cases: wrk -t%d -c%d -d%ds --timeout %ds after a %ds warm-up; case 5: h2load "
    . "-c%d -m%d -t1 -D%d; %d run(s) per case, medians shown.\n"
    . "No CPU pinning: load generator, nginx and daemons share the cores.\n\n",
    @meta{qw(threads connections duration timeout warmup h2_clients h2_streams
    duration runs)};
print "w = nginx worker_processes (- = no nginx)\n";
printf "%-4s %-3s %12s %9s %9s %9s %5s  %s\n",
    'case', 'w', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'runs', 'what';
for my $k (@order) {
    my $e = $case{$k};
    my $m = $e->{median} // {};
    if ($e->{status} ne 'ok') {
        printf "%-4s %-3s %12s  %s: %s\n", $e->{case}, $e->{workers},
            uc $e->{status}, $e->{title}, $e->{reason} // '';
        next;
    }
    printf "%-4s %-3s %12s %9s %9s %9s %5d  %s\n", $e->{case}, $e->{workers},
        num($m->{rps}, $m->{rps} < 10 ? '%.2f' : '%.0f'), ms($m->{p50_us}), ms($m->{p99_us}),
        ms($m->{p999_us}), scalar @{ $e->{runs} }, $e->{title};
}

print "\nCPU time per request in microseconds (user + system, median of "
    . "the runs; the load generator not included)\n";
printf "%-4s %-3s %12s %18s %14s %10s\n", 'case', 'w', 'nginx',
    'fibonacci-service', 'stats-service', 'total';
for my $k (@order) {
    my $m = $case{$k}{median} or next;
    next unless defined $m->{cpu_nginx};
    my $t = 0;
    $t += $m->{"cpu_$_"} for @kinds;
    printf "%-4s %-3s %12.1f %18.1f %14.1f %10.1f\n", $case{$k}{case},
        $case{$k}{workers}, (map { $m->{"cpu_$_"} } @kinds), $t;
}

if (@cold) {
    print "\ncold big n: fibonacci-service CPU per cold request (us) against "
        . "GMP alone for the same n (tools/gmpbench, median of its runs)\n";
    printf "  %-4s %-3s %10s %14s %12s %8s\n", 'case', 'w', 'first n',
        'daemon', 'GMP alone', 'ratio';
    printf "  %-4s %-3s %10s %14s %12s %8s\n", $_->{case}, $_->{workers},
        num($_->{n}, '%d'), num($_->{fibonacci_service_us}, '%.1f'),
        num($_->{gmp_alone_us}, '%.1f'),
        defined $_->{ratio} ? sprintf('%.2f', $_->{ratio}) : '-' for @cold;
}

if (@streams) {
    print "\nstream /fib?from=0&to=$meta{stream_to} read whole (case 8) against "
        . "nginx serving the same bytes from a file (8s), medians\n";
    printf "  %-3s %12s %12s %14s %8s\n", 'w', 'MB/s', 'items/s',
        'static MB/s', '8/8s';
    printf "  %-3s %12s %12s %14s %8s\n", $_->{workers}, num($_->{mb_s}, '%.1f'),
        num($_->{items_s}, '%.0f'), num($_->{static_mb_s}, '%.1f'),
        defined $_->{ratio} ? sprintf('%.3f', $_->{ratio}) : '-' for @streams;
}
if (@batches) {
    print "\nnumbers answered per second: one batch of $batches[0]{batch_size} n "
        . "(9b) against the same n one per request (9u), medians\n";
    printf "  %-3s %14s %14s %8s\n", 'w', 'batch', 'unary', '9b/9u';
    printf "  %-3s %14s %14s %8s\n", $_->{workers},
        num($_->{batch_numbers_s}, '%.0f'), num($_->{unary_numbers_s}, '%.0f'),
        defined $_->{ratio} ? sprintf('%.2f', $_->{ratio}) : '-' for @batches;
}
if (@slow) {
    printf "\nRSS (kB) while one client reads the stream at %d bytes/s for "
        . "%d s (case 10; it read %s bytes)\n", $slow[0]{rate}, $slow[0]{secs},
        num($slow[0]{bytes_read}, '%d');
    printf "  %-36s %8s %10s %10s %10s\n", 'process', 'pid', 'before',
        'max', 'growth';
    printf "  %-36s %8d %10s %10s %+10d\n", $_->{process}, $_->{pid},
        num($_->{before_kb}, '%d'), num($_->{max_kb}, '%d'),
        $_->{growth_kb} for @slow;
}

print "\nratios of throughput (req/s)\n";
for my $w (@workers) {
    printf "  workers %s: %s\n", $w, join '   ', map {
        "$_ = " . (defined $ratios{$w}{$_} ? sprintf('%.2f', $ratios{$w}{$_})
            : '-') } '3/1', '3/2', '4/3', '3t/3', '3m/3';
}

print "\ntargets (shown, never enforced)\n";
for my $t (@targets) {
    printf "  %-58s w%-2s %12s  want %-16s %s\n", $t->{target}, $t->{workers},
        defined $t->{value} ? $t->{value} : '-', $t->{want},
        !defined $t->{met} ? 'n/a' : $t->{met} ? 'met' : 'NOT MET';
}

print "\nRSS in kB (VmRSS) at the first and last sample, and the largest\n";
printf "  %-36s %8s %10s %10s %10s\n", 'process', 'pid', 'first', 'last', 'max';
for my $k (@procs) {
    my $p = $proc{$k};
    my @s = @{ $p->{samples} };
    my $max = 0;
    $max = $_->{rss_kb} > $max ? $_->{rss_kb} : $max for @s;
    $p->{first_kb} = $s[0]{rss_kb};
    $p->{last_kb} = $s[-1]{rss_kb};
    $p->{max_kb} = $max;
    printf "  %-36s %8d %10s %10s %10s\n", $p->{process}, $p->{pid},
        num($s[0]{rss_kb}, '%d'), num($s[-1]{rss_kb}, '%d'), num($max, '%d');
}
if ($cache) {
    printf "\ncache, as fibonacci-service reported it: 6c (n > %d, %d distinct "
        . "n): %d misses, %d hits (want no hits); 6w (n = %d): %d hits, "
        . "%d misses\n", $meta{big_n}, $cache->{cold}{n},
        $cache->{cold}{misses}, $cache->{cold}{hits}, $meta{big_n},
        $cache->{warm}{hits}, $cache->{warm}{misses};
}
if ($soak) {
    print "\nsoak: RSS after warm-up vs after $meta{soak} requests (kB)\n";
    printf "  %-36s %10s %10s %+10d\n", $_->{process}, num($_->{after_warmup_kb}, '%d'),
        num($_->{after_soak_kb}, '%d'), $_->{growth_kb} for @$soak;
}
print "\n";

my $json = {
    meta    => \%meta,
    cases   => [ map { +{ %{ $case{$_} } } } @order ],
    ratios  => \%ratios,
    targets => \@targets,
    rss     => [ map { +{ %{ $proc{$_} } } } @procs ],
    ($soak ? (soak => $soak) : ()),
    ($cache ? (cache => $cache) : ()),
    (@cold ? (cold_big_n => \@cold) : ()),
    (@streams ? (streams => \@streams) : ()),
    (@batches ? (batches => \@batches) : ()),
    (@slow ? (slow_reader => \@slow) : ()),
};
open my $fh, '>', $out or die "$out: $!\n";
print $fh JSON::PP->new->canonical->pretty->encode($json);
close $fh;
