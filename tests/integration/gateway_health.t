# gateway_health.t - nginx with the module in front of fibonacci-service
# replicas: the module's channels use gRPC client-side health checking, so
# a replica that turns NOT_SERVING (SIGTERM, --drain-grace) gets no new
# calls while it still accepts them; a lone replica that comes back is used
# by every worker within 0.5 s of answering SERVING; `fib_health;` answers
# 200 {"status":"SERVING"} or 503; and under wrk load one replica is sent
# SIGTERM, another SIGKILL, both are restarted, and no request fails.
#
# Starts its own nginx (2 workers, the module from $FIB_MODULE or
# build/modules) and daemons from $FIB_BIN_DIR.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Cwd qw(abs_path);
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(time sleep);
use FibTest;

my $module = abs_path($ENV{FIB_MODULE} // 'build/modules/ngx_http_fib_module.so');
my $nginx_bin = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
plan skip_all => "no module at $module (./build.sh module)" unless -f ($module // '');
plan skip_all => 'wrk is missing' unless grep { -x "$_/wrk" } split /:/, $ENV{PATH};

my $dir = File::Temp->newdir();
my $http = free_port();
my @fib_ports = map { free_port() } 1 .. 4;      # three replicas, one lone
my $lone = pop @fib_ports;
my $targets = join(',', map { "127.0.0.1:$_" } @fib_ports);

# --- nginx ------------------------------------------------------------------
open(my $conf, '>', "$dir/nginx.conf") or die;
print $conf <<CONF;
load_module $module;
worker_processes 2;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$http reuseport;
        fib_timeout 5s;
        # no retries: a call routed to a replica that is going away fails
        location = /once { fib_pass ipv4:$targets; fib_retries 0; }
        location = /fib { fib_pass ipv4:$targets; fib_retry_backoff 20ms 200ms; }
        location = /lone { fib_pass 127.0.0.1:$lone; fib_retries 0; }
        location = /health { fib_health; }
    }
}
CONF
close $conf;
my $nginx = fork() // die;
if ($nginx == 0) {
    open(STDERR, '>>', "$dir/nginx.stderr");
    exec($nginx_bin, '-p', $dir, '-c', "$dir/nginx.conf") or POSIX::_exit(127);
}
END { if ($nginx) { kill 'QUIT', $nginx; waitpid($nginx, 0) } }

# GET path on a new connection: (status, body).
sub get {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$http", Timeout => 10)
        or return (0, "connect: $!");
    print $s "GET $path HTTP/1.0\r\nHost: x\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    my ($status) = $res =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $res =~ /\r\n\r\n(.*)\z/s;
    return ($status // 0, $body // '');
}

sub until_true {    # until_true SECONDS, CODE: poll the event, give up after
    my ($secs, $code) = @_;
    my $end = time + $secs;
    while (time < $end) { return 1 if $code->(); sleep 0.02 }
    return 0;
}

sub getfib_count {  # calls a debug-logging replica has answered so far
    my ($d) = @_;
    return scalar grep { $_->{event} eq 'getfib' } log_lines($d);
}

my %flags = (stats => '', 'log-level' => 'debug', 'drain-grace' => '3s');
my @fib = map { start_fib(%flags, listen => "127.0.0.1:$_") } @fib_ports;
ok(until_true(10, sub { (get('/fib?n=10'))[0] == 200 }), 'nginx answers');

# --- fib_health ------------------------------------------------------------------
# /lone's replica is not running yet: its target is not READY
my ($st, $body) = get('/health');
is($st, 503, 'fib_health: 503 while a target has no backend');
like($body, qr/\A\{"status":"NOT_SERVING","target":"127\.0\.0\.1:$lone","state":"(?:CONNECTING|TRANSIENT_FAILURE|IDLE)"\}\z/,
     "fib_health: names the target ($body)");
my $l = start_fib(%flags, listen => "127.0.0.1:$lone");
ok(until_true(5, sub { (get('/health'))[1] eq '{"status":"SERVING"}' }),
   'fib_health: 200 {"status":"SERVING"} once every target has a backend');

# --- a replica that turns NOT_SERVING gets no new calls ------------------------
my $all_ok = 1;
for (1 .. 30) { $all_ok &&= (get('/once?n=10'))[0] == 200 }
ok($all_ok, '30 calls without retries, all answered');
ok(getfib_count($fib[0]) > 0, 'replica 1 had its share');
kill 'TERM', $fib[0]{pid};
my ($rc, $j);
ok(until_true(2, sub {
    ($rc, $j) = fibctl($fib[0]{target}, 'health');
    ($j->{status} // '') eq 'NOT_SERVING' }), 'replica 1: NOT_SERVING (grace 3 s)');
my $t0 = time;
# nginx's health watches learn it at once; from then on no call goes there
my $before;
my $quiet = until_true(2, sub {
    $before = getfib_count($fib[0]);
    for (1 .. 10) { $all_ok &&= (get('/once?n=10'))[0] == 200 }
    getfib_count($fib[0]) == $before });
ok($quiet, 'replica 1 gets no new calls while NOT_SERVING');
$before = getfib_count($fib[0]);
for (1 .. 30) { $all_ok &&= (get('/once?n=10'))[0] == 200 }
is(getfib_count($fib[0]), $before, '... 30 more calls, none to replica 1');
ok(time - $t0 < 3, sprintf('... all inside its grace (%.2f s), while it still accepts calls', time - $t0));
ok($all_ok, 'no call failed, without retries');
is(stop($fib[0]), 0, 'replica 1 drained and exited 0');
$fib[0] = start_fib(%flags, listen => "127.0.0.1:$fib_ports[0]");

# --- recovery: a lone replica that restarts is used within 0.5 s -----------------
is(stop($l, 'KILL'), 137, 'the lone replica: SIGKILL');
ok(until_true(5, sub { (get('/lone?n=10'))[0] == 503 }), '/lone: 503 while it is down');
($st) = get('/health');
is($st, 503, 'fib_health: 503 while it is down');
$l = start_fib(%flags, listen => "127.0.0.1:$lone");   # returns once SERVING
my $serving = time;
my $settle = $serving + 0.5 - time;
sleep $settle if $settle > 0;    # the promise: usable 0.5 s after SERVING
my @bad;
for (1 .. 40) {                  # new connections: both workers
    my ($s) = get('/lone?n=10');
    push @bad, $s if $s != 200;
}
ok(!@bad, '0.5 s after it answers SERVING, 40 calls without retries on new '
   . 'connections all succeed' . (@bad ? " (got @bad)" : ''));

# --- under load: SIGTERM one, SIGKILL another, restart both: nothing fails --------
{
    my $wrk_out = "$dir/wrk.txt";
    my $wrk = fork() // die;
    if ($wrk == 0) {
        open(STDOUT, '>', $wrk_out);
        exec('wrk', '-t1', '-c8', '-d12s', "http://127.0.0.1:$http/fib?n=30")
            or POSIX::_exit(127);
    }
    ok(until_true(5, sub { getfib_count($fib[2]) > 200 }), 'load flows');
    kill 'TERM', $fib[0]{pid};
    is(stop($fib[0]), 0, 'replica 1: SIGTERM under load, drained, exit 0');
    is(stop($fib[1], 'KILL'), 137, 'replica 2: SIGKILL under load');
    $fib[0] = start_fib(%flags, listen => "127.0.0.1:$fib_ports[0]");
    $fib[1] = start_fib(%flags, listen => "127.0.0.1:$fib_ports[1]");
    ok(until_true(5, sub { getfib_count($fib[1]) > 0 }), 'the restarted replicas get calls again');
    ok(kill(0, $wrk), 'wrk was still running');
    waitpid($wrk, 0);
    open(my $w, '<', $wrk_out) or die;
    my $report = do { local $/; <$w> };
    diag($report);
    my ($requests) = $report =~ /(\d+) requests in/;
    ok(($requests // 0) > 500, "wrk made requests (" . ($requests // 0) . ")");
    unlike($report, qr/Non-2xx|Socket errors/, 'no failed request')
        or diag(`grep -E 'fib: .*(failed|error)' $dir/error.log | tail -20`);
}

done_testing();
