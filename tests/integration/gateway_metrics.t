# gateway_metrics.t - fib_metrics in a real nginx with two workers: after
# requests that both workers served (seen by the X-Pid header), every
# counter is exact; after `nginx -s reload` the counters go on from there;
# promtool finds nothing to say about the page. Requests are read to EOF
# (Connection: close): nginx runs the log phase, where responses are
# counted, before it closes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET ();
use Time::HiRes ();
use FibTest;

my $stats = start_stats();
my $fib = start_fib(stats => $stats->{target});
my $down = free_port();

my $ngx = start_nginx(workers => 2, server => <<"EOS");
        add_header X-Pid \$pid always;
        location = /fib { fib_pass $fib->{target}; }
        location = /stats { fib_stats_pass $stats->{target}; }
        location = /down {
            fib_pass 127.0.0.1:$down;
            fib_retries 2;
            fib_retry_backoff 1ms 2ms;
        }
        location = /metrics { fib_metrics; }
EOS
my $port = $ngx->{port};
my @nginx = @{$ngx->{cmd}};

# One request on its own connection, read to EOF: (status, pid, body).
sub get {
    my ($path, $method) = @_;
    my $s = IO::Socket::INET->new("127.0.0.1:$port") or die "connect: $!";
    print $s ($method // 'GET') . " $path HTTP/1.1\r\nHost: t\r\n"
           . "Connection: close\r\nContent-Length: 0\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    close $s;
    my ($status) = $r =~ m{^HTTP/1\.1 (\d+)};
    my ($pid) = $r =~ m{\r\nX-Pid: (\d+)\r\n}i;
    my (undef, $body) = split /\r\n\r\n/, $r, 2;
    return ($status // 0, $pid // 0, $body // '');
}

sub scrape {
    my ($status, undef, $body) = get('/metrics');
    is($status, 200, 'GET /metrics: 200');
    my %v;
    for (split /\n/, $body) {
        next if /^#/;
        my ($k, $val) = /^(\S+)\s+(\S+)$/ or next;
        $v{$k} = $val + 0;
    }
    return (\%v, $body);
}

my $FIB = 'grpc_type="unary",grpc_service="fibonacci.Fibonacci",'
        . 'grpc_method="GetFib"';
my $QUERY = 'grpc_type="unary",grpc_service="stats.Stats",'
          . 'grpc_method="Query"';

# GET /fib until both workers have answered (and at least 20 times).
my %pids;
my $ok = 0;
while ((keys %pids < 2 || $ok < 20) && $ok < 5000) {
    my ($st, $pid) = get('/fib?n=' . ($ok % 90));
    die "GET /fib: $st" unless $st == 200;
    $pids{$pid}++;
    $ok++;
}
is(scalar keys %pids, 2, "both workers answered ($ok requests)");
is((get('/fib?n=abc'))[0], 400, 'n=abc: 400') for 1 .. 3;
is((get('/fib?n=1', 'PUT'))[0], 405, 'PUT: 405');
is((get('/stats'))[0], 200, '/stats: 200') for 1 .. 2;
is((get('/down?n=1'))[0], 503, 'nothing listening: 503') for 1 .. 2;

my ($v, $text) = scrape();
is($v->{"grpc_client_started_total{$FIB}"}, $ok + 6,
   'GetFib started: every OK one, and 3 attempts to /down twice');
is($v->{"grpc_client_handled_total{$FIB,grpc_code=\"OK\"}"}, $ok,
   'GetFib handled OK');
is($v->{"grpc_client_handled_total{$FIB,grpc_code=\"UNAVAILABLE\"}"}, 6,
   'GetFib handled UNAVAILABLE: 6 attempts');
is($v->{"grpc_client_handling_seconds_count{$FIB}"}, $ok + 6,
   'GetFib attempts timed');
is($v->{"grpc_client_started_total{$QUERY}"}, 2, '/stats: 2 Query started');
is($v->{"grpc_client_handled_total{$QUERY,grpc_code=\"OK\"}"}, 2,
   '/stats: 2 Query handled OK');
is($v->{'fib_http_responses_total{handler="fib_pass",code="200"}'}, $ok,
   'fib_pass 200s');
is($v->{'fib_http_responses_total{handler="fib_pass",code="400"}'}, 3,
   'fib_pass 400s');
is($v->{'fib_http_responses_total{handler="fib_pass",code="405"}'}, 1,
   'fib_pass 405s');
is($v->{'fib_http_responses_total{handler="fib_pass",code="503"}'}, 2,
   'fib_pass 503s');
is($v->{'fib_http_responses_total{handler="fib_stats_pass",code="200"}'}, 2,
   'fib_stats_pass 200s');
is($v->{'fib_http_request_duration_seconds_count{handler="fib_pass"}'},
   $ok + 5, 'request durations: all but the 405 (refused before any work)');
is($v->{'fib_retries_total{handler="fib_pass"}'}, 4, 'retries: 2 per /down');
is($v->{'fib_requests_in_flight{handler="fib_pass"}'}, 0, 'nothing in flight');
ok(!(grep { /\bn="/ } keys %$v), 'no per-n label');
is(promtool_check($text), '', 'promtool: the gateway\'s page is clean');

# Reload: new workers, the same zone.
is(system("@nginx -s reload 2>/dev/null"), 0, 'nginx -s reload');
my %old = %pids;
my $more = 0;
my $until = Time::HiRes::time() + 30;
for (;;) {
    my ($st, $pid) = get('/fib?n=7');
    $more++ if $st == 200;
    last if $st == 200 && !$old{$pid};
    die 'no new worker after the reload' if Time::HiRes::time() > $until;
}
ok($more >= 1, "a new worker answered ($more requests since the reload)");
($v) = scrape();
is($v->{'fib_http_responses_total{handler="fib_pass",code="200"}'},
   $ok + $more, 'after the reload the 200s go on from before');
is($v->{"grpc_client_handled_total{$FIB,grpc_code=\"OK\"}"}, $ok + $more,
   'after the reload GetFib OK goes on from before');
is($v->{'fib_retries_total{handler="fib_pass"}'}, 4, 'retries kept');

done_testing();
