# nginx_signals.t - `nginx -s reload` and `nginx -s quit` with GetFib calls
# in flight: every request already taken is answered in full, as the
# README says, and after a reload new requests are served by the new
# workers. Real nginx (master and worker) with the module, the real
# fibonacci-service with one compute thread, so that a dozen cold F(n)
# near n = 10^6 keep calls in flight while the signal arrives.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();
use FibTest;

my $BIN = $ENV{FIB_BIN_DIR} // 'build/bin';
my $MODULE = "$BIN/../modules/ngx_http_fib_module.so";
my $NGINX = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
plan skip_all => "no module at $MODULE (the sanitized build has none)"
    unless -f $MODULE;
plan skip_all => "no nginx at $NGINX" unless -x $NGINX;

my $IN_FLIGHT = 12;

my $fib = start_fib(stats => '', 'compute-threads' => 1);

my $dir = File::Temp->newdir('nginx-signals.XXXXXX', TMPDIR => 1);
my $port = free_port();
my $conf = "$dir/nginx.conf";
mkdir "$dir/logs";
open my $fh, '>', $conf or die "$conf: $!";
print $fh <<"EOC";
load_module $MODULE;
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log debug;
events { worker_connections 256; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port;
        location = /fib { fib_pass $fib->{target}; fib_timeout 120s; }
    }
}
EOC
close $fh;

my @nginx = ($NGINX, '-p', "$dir/", '-c', $conf);
my $master = fork() // die "fork: $!";
if ($master == 0) {
    open(STDERR, '>>', "$dir/logs/stderr.log");
    exec(@nginx) or POSIX::_exit(127);
}

# nginx answers once its worker accepts
my $deadline = Time::HiRes::time() + 30;
until (my $s = IO::Socket::INET->new("127.0.0.1:$port")) {
    die "nginx did not listen on $port" if Time::HiRes::time() > $deadline;
    Time::HiRes::sleep(0.05);
}

# F(n) has floor(n log10(phi) - log10(sqrt 5)) + 1 digits
sub digits { int($_[0] * 0.20898764024997873 - 0.3494850021680094) + 1 }

sub request {
    my ($n) = @_;
    my $s = IO::Socket::INET->new("127.0.0.1:$port") or die "connect: $!";
    print $s "GET /fib?n=$n HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    return $s;
}

sub response {
    my ($s) = @_;
    local $/;
    my $r = <$s>;
    close $s;
    return $r // '';
}

sub calls_started {
    open my $log, '<', "$dir/logs/error.log" or return 0;
    return scalar grep { /fib: call \S+ attempt 1,/ } <$log>;
}

sub answered {
    my ($socks) = @_;
    my $sel = IO::Select->new(@$socks);
    return scalar(() = $sel->can_read(0));
}

my $batch = 0;

# Send $IN_FLIGHT requests for distinct cold n, wait until the module has
# started every call, signal the master, and check every answer.
sub with_calls_in_flight {
    my ($what, $signal) = @_;
    my @n = map { 900000 + $batch++ * 1000 } 1 .. $IN_FLIGHT;
    my $before = calls_started();
    my @socks = map { request($_) } @n;
    my $until = Time::HiRes::time() + 60;
    while (calls_started() < $before + $IN_FLIGHT) {
        die "$what: the calls did not start" if Time::HiRes::time() > $until;
        Time::HiRes::sleep(0.01);
    }
    my $done = answered(\@socks);
    ok($done < $IN_FLIGHT,
       "$what: sent while $done of $IN_FLIGHT requests were answered");
    is(system(@nginx, '-s', $signal), 0, "nginx -s $signal");
    for my $i (0 .. $#n) {
        my $r = response($socks[$i]);
        like($r, qr{^HTTP/1\.1 200 }, "$what: n=$n[$i] answered 200");
        my ($v) = $r =~ /"value":"(\d+)"/;
        is(length($v // ''), digits($n[$i]),
           "$what: n=$n[$i] has all its digits");
    }
}

with_calls_in_flight('reload', 'reload');
like(response(request(10)), qr/\{"n":10,"x":55,"value":"55"\}/,
     'after reload: a new request is served');

with_calls_in_flight('quit', 'quit');
my $exited = 0;
$deadline = Time::HiRes::time() + 60;
while (Time::HiRes::time() < $deadline) {
    if (waitpid($master, POSIX::WNOHANG()) == $master) {
        $exited = 1;
        last;
    }
    Time::HiRes::sleep(0.05);
}
ok($exited, 'nginx exited after quit');
is($? >> 8, 0, 'nginx exit status 0') if $exited;
kill 'KILL', $master unless $exited;

open my $log, '<', "$dir/logs/error.log";
my @bad = grep { /\[(alert|emerg|crit)\]/ } <$log>;
is(scalar @bad, 0, 'no alert in the error log') or diag(@bad);

is(stop($fib, 'TERM'), 0, 'fibonacci-service exits 0');
done_testing();
