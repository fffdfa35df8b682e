# run_conf.t - the run config (conf/nginx.conf with conf/nginx/fib-gateway.conf,
# what `./build.sh run` starts), on free ports instead of 3002/3003/5001/5002:
# the gateway answers HTTP/1.1 on the first port and cleartext HTTP/2 with
# prior knowledge on the second, as the README's curl examples show.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Cwd ();
use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use FibTest;

my $ROOT = "$FindBin::Bin/../..";
my $BIN = $ENV{FIB_BIN_DIR} // 'build/bin';
my $MODULES = "$BIN/../modules";
my $NGINX = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
plan skip_all => "no module in $MODULES (the sanitized build has none)"
    unless -f "$MODULES/ngx_http_fib_module.so";
plan skip_all => 'no curl' unless system('curl --version >/dev/null') == 0;

my $st = start_stats();
my $fib = start_fib(stats => $st->{target});

# The run config, with its ports replaced; the prefix holds modules/ and run/
my $dir = File::Temp->newdir('run-conf.XXXXXX', TMPDIR => 1);
my ($h1, $h2) = (free_port(), free_port());
mkdir "$dir/$_" for qw(conf conf/nginx run);
symlink(Cwd::abs_path($MODULES), "$dir/modules") or die "symlink: $!";
for my $f ('nginx.conf', 'nginx/fib-gateway.conf') {
    open my $in, '<', "$ROOT/conf/$f" or die "$f: $!";
    local $/;
    my $text = <$in>;
    ok($text =~ s/listen 3002;/listen 127.0.0.1:$h1;/, "$f: 3002 replaced")
        if $f =~ /gateway/;
    ok($text =~ s/listen 3003 http2;/listen 127.0.0.1:$h2 http2;/,
       "$f: 3003 http2 replaced") if $f =~ /gateway/;
    $text =~ s/127\.0\.0\.1:5001/$fib->{target}/g;
    $text =~ s/127\.0\.0\.1:5002/$st->{target}/g;
    $text =~ s/worker_processes auto;/worker_processes 1;/;
    open my $out, '>', "$dir/conf/$f" or die "$f: $!";
    print $out $text;
}

my $nginx = fork() // die "fork: $!";
if ($nginx == 0) {
    open(STDOUT, '>', "$dir/run/access.log");
    open(STDERR, '>', "$dir/run/error.log");
    exec($NGINX, '-p', "$dir/", '-c', "$dir/conf/nginx.conf")
        or POSIX::_exit(127);
}
my $deadline = Time::HiRes::time() + 30;
until (IO::Socket::INET->new("127.0.0.1:$h1")
       && IO::Socket::INET->new("127.0.0.1:$h2")) {
    if (Time::HiRes::time() > $deadline
        || waitpid($nginx, POSIX::WNOHANG()) == $nginx) {
        BAIL_OUT("nginx did not start:\n" . `cat $dir/run/error.log`);
    }
    Time::HiRes::sleep(0.05);
}

# curl's output: the body, then the HTTP version it spoke
sub curl {
    my @args = @_;
    my $out = `curl -s --max-time 10 -w '\\n%{http_version}' @args`;
    return split /\n/, $out, 2;
}

my ($body, $ver) = curl("'http://127.0.0.1:$h1/fib?n=10'");
is($body, '{"n":10,"x":55,"value":"55"}', 'HTTP/1.1 port: /fib?n=10');
is($ver, '1.1', 'HTTP/1.1 port speaks HTTP/1.1');

# The access log: one JSON object per request, with the request id the
# calls carried (the client's X-Request-ID, else the trace id)
($body) = curl("-H 'X-Request-ID: run-conf-1' 'http://127.0.0.1:$h1/fib?n=11'");
is($body, '{"n":11,"x":89,"value":"89"}', '/fib?n=11 with an X-Request-ID');
my %logged;
$deadline = Time::HiRes::time() + 10;
while (keys %logged < 2 && Time::HiRes::time() < $deadline) {
    open my $log, '<', "$dir/run/access.log" or die "access.log: $!";
    for (<$log>) {
        my $l = eval { JSON::PP->new->decode($_) } or next;
        $logged{$1} = $l if $l->{request} =~ m{^GET /fib\?n=(1[01]) };
    }
    Time::HiRes::sleep(0.05) if keys %logged < 2;
}
like($logged{10}{trace_id} // '', qr/^[0-9a-f]{32}$/,
     'access log: a trace id');
is($logged{10}{request_id}, $logged{10}{trace_id},
   'access log: without X-Request-ID the request id is the trace id');
is($logged{11}{request_id}, 'run-conf-1',
   "access log: the client's X-Request-ID");
is($logged{11}{fib_n}, '11', 'access log: fib_n');

($body, $ver) = curl('--http2-prior-knowledge',
                     "'http://127.0.0.1:$h2/fib?n=10'");
is($body, '{"n":10,"x":55,"value":"55"}', 'HTTP/2 port: /fib?n=10');
is($ver, '2', 'HTTP/2 port speaks HTTP/2 to a client with prior knowledge');

($body, $ver) = curl('--http2-prior-knowledge',
                     "'http://127.0.0.1:$h2/fib?n=100'");
is($body, '{"n":100,"value":"354224848179261915075"}',
   'HTTP/2 port: /fib?n=100');

($body, $ver) = curl('--http2-prior-knowledge',
                     "'http://127.0.0.1:$h2/stats'");
like($body, qr/^\{"total_requests":\d+,"fibonacci_stats":\[/,
     'HTTP/2 port: /stats');

# A table of 2000 more n (four of the module's pages), then /stats over
# both ports and to a client reading at 200 kB/s over HTTP/2 (the next page
# waits for the stream's window): every answer is GetStats's table.
my @recs = map { "$_:" . (1000 * ($_ % 7 + 1)) . ':hit' } 500000 .. 501999;
my ($rc, $j) = fibctl($st->{target}, 'batch', 'run-conf-t', 1,
                      join(',', @recs));
is($rc, 0, 'fibctl batch: 2000 n recorded');
# the four /fib calls above reach stats-service in fibonacci-service's next
# delivery (it lingers 100 ms): wait for them, or the table still changes
poll_until(15, sub {
    ($rc, $j) = fibctl($st->{target}, 'stats');
    ($j->{total_requests64} // 0) >= 2004 });
is($j->{total_requests64}, 2004, 'stats-service: the 4 /fib calls and the '
   . '2000 records');
my $want = JSON::PP->new->canonical->encode($j->{fibonacci_stats});
for my $how (["'http://127.0.0.1:$h1/stats'", 'HTTP/1.1'],
             ["--http2-prior-knowledge 'http://127.0.0.1:$h2/stats'",
              'HTTP/2'],
             ["--http2-prior-knowledge --limit-rate 200k "
              . "'http://127.0.0.1:$h2/stats'", 'HTTP/2, a slow reader']) {
    ($body, $ver) = curl($how->[0]);
    my $got = eval { JSON::PP->new->decode($body) };
    is(JSON::PP->new->canonical->encode($got->{fibonacci_stats} // []), $want,
       "$how->[1]: /stats is GetStats's table of "
       . scalar(@{$j->{fibonacci_stats}}) . ' entries');
}

kill 'QUIT', $nginx;
waitpid($nginx, 0);
is($? >> 8, 0, 'nginx exits 0 on QUIT');
is(stop($fib, 'TERM'), 0, 'fibonacci-service exits 0');
is(stop($st, 'TERM'), 0, 'stats-service exits 0');
done_testing();
