# prometheus.t - a real Prometheus (Debian's prometheus) scrapes the
# gateway's fib_metrics location and both daemons' --metrics-listen every
# half second, from a scrape config written here on free ports; its HTTP
# API says every target is up, and rate() of a request counter of each is
# above zero while requests flow. Every wait polls the API for the event.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp ();
use HTTP::Tiny ();
use JSON::PP ();
use POSIX ();
use FibTest;

my $PROMETHEUS = $ENV{PROMETHEUS_BINARY} // '/usr/bin/prometheus';
plan skip_all => "no Prometheus at $PROMETHEUS" unless -x $PROMETHEUS;
my $WAIT = 60;                  # seconds, at most, for each event

my $sm = free_port();
my $stats = start_stats('metrics-listen' => "127.0.0.1:$sm");
my $fm = free_port();
my $fib = start_fib(stats => $stats->{target},
                    'metrics-listen' => "127.0.0.1:$fm");
my $ngx = start_nginx(workers => 2, server => <<"EOS");
        location = /fib { fib_pass $fib->{target}; }
        location = /metrics { fib_metrics; }
EOS
my $gw = "127.0.0.1:$ngx->{port}";

# The scrape config, as in the README, on this run's ports.
my $dir = File::Temp->newdir('prometheus.XXXXXX', TMPDIR => 1);
my $pp = free_port();
open my $fh, '>', "$dir/prometheus.yml" or die $!;
print $fh <<"EOC";
global:
  scrape_interval: 500ms
  scrape_timeout: 500ms
scrape_configs:
  - job_name: fib-gateway
    metrics_path: /metrics
    static_configs:
      - targets: ['$gw']
  - job_name: fib-daemons
    static_configs:
      - targets: ['127.0.0.1:$fm', '127.0.0.1:$sm']
EOC
close $fh;

my $prom = fork() // die "fork: $!";
if ($prom == 0) {
    open(STDOUT, '>>', "$dir/prometheus.log");
    open(STDERR, '>>', "$dir/prometheus.log");
    exec($PROMETHEUS, "--config.file=$dir/prometheus.yml",
         "--storage.tsdb.path=$dir/data", "--web.listen-address=127.0.0.1:$pp",
         '--log.level=warn') or POSIX::_exit(127);
}
END { if ($prom) { kill 'TERM', $prom; waitpid($prom, 0) } }

my $http = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new;

sub api {
    my ($path, %q) = @_;
    my $r = $http->get("http://127.0.0.1:$pp$path"
                       . (%q ? '?' . $http->www_form_urlencode(\%q) : ''));
    return $r->{success} ? eval { $json->decode($r->{content}) } : undef;
}

# A few requests through the gateway, so that every counter moves.
sub traffic {
    $http->get("http://$gw/fib?n=" . int(rand 90)) for 1 .. 5;
}

ok(poll_until($WAIT, sub { ($http->get("http://127.0.0.1:$pp/-/ready")
                            ->{status}) == 200 }),
   'Prometheus is ready')
    or BAIL_OUT("Prometheus did not start:\n"
                . `cat $dir/prometheus.log`);

my $targets;
ok(poll_until($WAIT, sub {
       traffic();
       my $t = api('/api/v1/targets');
       $targets = $t ? $t->{data}{activeTargets} : [];
       return @$targets == 3 && !grep { $_->{health} ne 'up' } @$targets;
   }), 'every target is up')
    or diag explain $targets;
is_deeply([sort map { $_->{scrapeUrl} } @$targets],
          [sort map { "http://$_/metrics" } $gw, "127.0.0.1:$fm",
                                                 "127.0.0.1:$sm"],
          'the gateway and both daemons are scraped');

# rate() over the last 3 s of each process's request counter.
for my $q (
    'rate(fib_http_responses_total{job="fib-gateway",handler="fib_pass",'
        . 'code="200"}[3s])',
    'rate(grpc_client_handled_total{job="fib-gateway",grpc_method="GetFib",'
        . 'grpc_code="OK"}[3s])',
    "rate(grpc_server_handled_total{instance=\"127.0.0.1:$fm\","
        . 'grpc_method="GetFib",grpc_code="OK"}[3s])',
    "rate(grpc_server_handled_total{instance=\"127.0.0.1:$sm\","
        . 'grpc_method="RecordBatch",grpc_code="OK"}[3s])',
) {
    my $got;
    ok(poll_until($WAIT, sub {
           traffic();
           my $r = api('/api/v1/query', query => $q);
           my $res = $r && $r->{status} eq 'success' ? $r->{data}{result} : [];
           $got = @$res ? $res->[0]{value}[1] : 'no sample';
           return @$res == 1 && $got > 0;
       }), "$q > 0") or diag "last: $got";
}

done_testing();
