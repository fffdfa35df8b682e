# tls.t - TLS and mutual TLS on the daemons' hops, --record-allow, sender
# validation, rotation, the half-closed call and the limits.
#
# A throwaway PKI is made with the openssl command line (tests/pki.sh). One
# stats-service requires client certificates and lets only
# "fibonacci-service" record; one fibonacci-service serves TLS and reports
# to it over mutual TLS.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Copy qw(copy);
use File::Temp ();
use JSON::PP ();
use Time::HiRes ();
use FibTest;

my $WAIT = 15;      # seconds: bound on every wait for an asynchronous event
my $pki = File::Temp::tempdir('tls.XXXXXX', TMPDIR => 1, CLEANUP => 1);
system("$FindBin::Bin/../pki.sh", $pki) == 0 or BAIL_OUT('tests/pki.sh failed');

my $NODE_DIR = "$FindBin::Bin/../node";
my @CA = ("--tls-ca=$pki/ca.pem");
sub as { my ($who) = @_; return ("--tls-cert=$pki/$who.pem", "--tls-key=$pki/$who.key") }

# The stats-service's files are copies, so that rotation can replace them.
copy("$pki/server.$_", "$pki/stats.$_") or die for qw(pem key);

my $st = start_stats(
    'tls-cert' => "$pki/stats.pem", 'tls-key' => "$pki/stats.key",
    'tls-client-ca' => "$pki/ca.pem", 'record-allow' => 'fibonacci-service',
    'log-level' => 'debug',
    fibctl => [@CA, as('writer')]);
my $stats = $st->{target};    # 127.0.0.1: the certificate has the IP too

my $fib = start_fib(
    stats => $stats, 'tls-cert' => "$pki/server.pem",
    'tls-key' => "$pki/server.key",
    'stats-tls-ca' => "$pki/ca.pem", 'stats-tls-cert' => "$pki/writer.pem",
    'stats-tls-key' => "$pki/writer.key",
    fibctl => [@CA]);
my $fibt = $fib->{target};

my @stats_name;    # after rotation: --tls-name=rotated.test
sub stats_total {
    my ($rc, $j) = fibctl($stats, @CA, @stats_name, as('writer'), 'stats');
    return $rc == 0 ? $j->{total_requests64} // 0 : -1;
}

sub wait_total {
    my ($want) = @_;
    my $deadline = Time::HiRes::time() + $WAIT;
    my $got;
    while (($got = stats_total()) != $want && Time::HiRes::time() < $deadline) {
        Time::HiRes::sleep(0.05);
    }
    return $got;
}

sub has_log {
    my ($d, $event, $field, $re) = @_;
    return grep { ($_->{event} // '') eq $event
                  && (!$field || ($_->{$field} // '') =~ $re) } log_lines($d);
}

# --- TLS on each hop ---------------------------------------------------------

my ($rc, $j) = fibctl($fibt, @CA, 'getfib', 10);
is($rc, 0, 'GetFib over TLS');
is($j->{value}, '55', 'GetFib over TLS answers F(10)');

($rc, $j) = fibctl($fibt, 'getfib', 10);
is($j->{code}, 'UNAVAILABLE', 'a plaintext client cannot talk to a TLS server');

($rc, $j) = fibctl($fibt, "--tls-ca=$pki/other-ca.pem", 'getfib', 10);
is($j->{code}, 'UNAVAILABLE', 'a client that does not trust the server refuses it');

($rc, $j) = fibctl("127.0.0.1:$fib->{port}", @CA, '--tls-name=rotated.test',
                   'getfib', 10);
is($j->{code}, 'UNAVAILABLE', 'a server certificate without the expected name is refused');

is(wait_total(1), 1, 'fibonacci-service reported the call to stats-service over mutual TLS');
ok(has_log($fib, 'stats_sender', 'tls', qr/1/), 'the sender says it uses TLS');

# --- mutual TLS: who may connect ---------------------------------------------

($rc, $j) = fibctl($stats, @CA, 'stats');
is($j->{code}, 'UNAVAILABLE', 'no client certificate: the handshake is refused');
($rc, $j) = fibctl($stats, @CA, as('untrusted'), 'stats');
is($j->{code}, 'UNAVAILABLE', 'a client certificate from an untrusted CA is refused');
($rc, $j) = fibctl($stats, @CA, as('expired'), 'stats');
is($j->{code}, 'UNAVAILABLE', 'an expired client certificate is refused');
($rc, $j) = fibctl($stats, @CA, as('intruder'), 'stats');
is($rc, 0, 'GetStats stays readable by any authenticated client');

# --- --record-allow ------------------------------------------------------------

($rc, $j) = fibctl($stats, @CA, as('intruder'), 'record', 7, 1000);
is($j->{code}, 'PERMISSION_DENIED', 'RecordNo from an unlisted certificate');
like($j->{message}, qr/intruder/, 'the message names the certificate');
($rc, $j) = fibctl($stats, @CA, as('intruder'), 'batch', 'x', 1, '7:1000');
is($j->{code}, 'PERMISSION_DENIED', 'RecordBatch from an unlisted certificate');
($rc, $j) = fibctl($stats, @CA, as('noname'), 'batch', 'x', 1, '7:1000');
is($j->{code}, 'UNAUTHENTICATED', 'a certificate naming nobody is not an identity');
ok(has_log($st, 'record_refused', 'identity', qr/^intruder$/),
   'refusals are logged with the peer identity');
is(stats_total(), 1, 'refused writers recorded nothing');

SKIP: {
    skip 'node is not on PATH', 2 if system('node --version >/dev/null 2>&1') != 0;
    -d "$NODE_DIR/node_modules/\@grpc/grpc-js"
        or BAIL_OUT('tests/node dependencies are missing: npm ci in tests/node');
    my $out = `timeout 30 node $NODE_DIR/interop-client.js --tls-ca $pki/ca.pem --tls-cert $pki/intruder.pem --tls-key $pki/intruder.key --tls-name localhost $stats record 7 1000`;
    my $r = eval { JSON::PP->new->decode($out) } // {};
    is($r->{code}, 'PERMISSION_DENIED',
       'the grpc-js client with an unlisted certificate gets PERMISSION_DENIED');
    $out = `timeout 30 node $NODE_DIR/interop-client.js --tls-ca $pki/ca.pem --tls-cert $pki/writer.pem --tls-key $pki/writer.key --tls-name localhost $stats record 7 1000`;
    $r = eval { JSON::PP->new->decode($out) } // {};
    is($r->{success}, JSON::PP::true, 'the grpc-js client with a listed certificate records');
}
my $base = stats_total();

# --- sender names and the dedup key ------------------------------------------

($rc, $j) = fibctl($stats, @CA, as('writer'), 'raw', '/stats.Stats/RecordBatch',
                   '0a03610062' . '1001' . '1a0408071064');   # sender "a\0b"
is($j->{code}, 'INVALID_ARGUMENT', 'a sender with a NUL byte is refused');
like($j->{message}, qr/NUL/, '... saying why');
($rc, $j) = fibctl($stats, @CA, as('writer'), 'batch', "a\tb", 1, '7:1000');
is($j->{code}, 'INVALID_ARGUMENT', 'a sender with a control character is refused');
($rc, $j) = fibctl($stats, @CA, as('writer'), 'batch', 'x' x 129, 1, '7:1000');
is($j->{code}, 'INVALID_ARGUMENT', 'a sender longer than 128 bytes is refused');
($rc, $j) = fibctl($stats, @CA, as('writer'), 'batch', 'a', 1, '7:1000');
is($j->{recorded}, 1, 'the prefix "a" of "a\0b" is a sender of its own, not a duplicate');
is(stats_total(), $base + 1, 'invalid senders recorded nothing');

# --- the half-closed call ----------------------------------------------------

($rc, $j) = fibctl($fibt, @CA, 'raw', '/fibonacci.Fibonacci/GetFib', 'none');
is($j->{code}, 'INVALID_ARGUMENT', 'GetFib without a request message is an error');
($rc, $j) = fibctl($stats, @CA, as('writer'), 'raw', '/stats.Stats/RecordNo', 'none');
is($j->{code}, 'INVALID_ARGUMENT', 'RecordNo without a request message is an error');
is(stats_total(), $base + 1, '... and records nothing for n = 0');
($rc, $j) = fibctl($fibt, @CA, 'raw', '/fibonacci.Fibonacci/GetFib', '');
is($rc, 0, 'an empty message (n = 0) is still a request');

# --- rotation ----------------------------------------------------------------

# A new certificate for stats-service, for another name: written to new
# files, then moved over the old ones (what a rotation tool does).
copy("$pki/rotated.key", "$pki/stats.key.new") or die;
copy("$pki/rotated.pem", "$pki/stats.pem.new") or die;
rename("$pki/stats.key.new", "$pki/stats.key") or die;
rename("$pki/stats.pem.new", "$pki/stats.pem") or die;

($rc, $j) = fibctl("127.0.0.1:$st->{port}", @CA, as('writer'),
                   '--tls-name=rotated.test', 'stats');
is($rc, 0, 'a new connection gets the new certificate');
ok(has_log($st, 'tls_reloaded', 'subject', qr/CN\s*=\s*rotated/),
   'the reload is logged with the new subject');
($rc, $j) = fibctl($stats, @CA, as('writer'), '--tls-name=localhost', 'stats');
is($j->{code}, 'UNAVAILABLE', 'the old certificate (DNS:localhost) is no longer served');
($stats, @stats_name) = ("127.0.0.1:$st->{port}", '--tls-name=rotated.test');

my $before = stats_total();
($rc, $j) = fibctl($fibt, @CA, 'getfib', 11);
is(wait_total($before + 1), $before + 1,
   "the sender's open connection keeps working with the old certificate");

# Files that do not load (a half-written certificate): logged, and the
# certificate loaded last stays in use.
open(my $half, '>', "$pki/stats.pem.new") or die;
print $half "-----BEGIN CERTIFICATE-----\nMIIB\n";
close $half;
rename("$pki/stats.pem.new", "$pki/stats.pem") or die;
($rc, $j) = fibctl($stats, @CA, @stats_name, as('writer'), 'stats');
is($rc, 0, 'a certificate file that does not load: the last good one is served');
ok(has_log($st, 'tls_load_failed', 'msg', qr/stats\.pem/),
   '... and the failure is logged, naming the file');
copy("$pki/rotated.pem", "$pki/stats.pem.new") or die;
rename("$pki/stats.pem.new", "$pki/stats.pem") or die;

kill 'HUP', $st->{pid};
my $deadline = Time::HiRes::time() + $WAIT;
Time::HiRes::sleep(0.05) until has_log($st, 'tls_reload_requested')
                               || Time::HiRes::time() > $deadline;
ok(has_log($st, 'tls_reload_requested'), 'SIGHUP asks for a reload, logged');

# The sender's own client certificate, rotated: it reads it before its next
# delivery and logs the change.
system('touch', '-d', '+2 seconds', "$pki/writer.pem") == 0 or die;
($rc, $j) = fibctl($fibt, @CA, 'getfib', 12);
$deadline = Time::HiRes::time() + $WAIT;
Time::HiRes::sleep(0.05) until has_log($fib, 'stats_tls_reloaded')
                               || Time::HiRes::time() > $deadline;
ok(has_log($fib, 'stats_tls_reloaded'), 'the sender picks up new client certificate files');

# SIGHUP: the sender reads its files again before its next delivery.
kill 'HUP', $fib->{pid};
$deadline = Time::HiRes::time() + $WAIT;
Time::HiRes::sleep(0.05) until has_log($fib, 'tls_reload_requested')
                               || Time::HiRes::time() > $deadline;
($rc, $j) = fibctl($fibt, @CA, 'getfib', 13);
$deadline = Time::HiRes::time() + $WAIT;
Time::HiRes::sleep(0.05) until has_log($fib, 'stats_tls_reloaded') >= 2
                               || Time::HiRes::time() > $deadline;
is(scalar(has_log($fib, 'stats_tls_reloaded')), 2,
   'SIGHUP makes the sender read its TLS files again');

my $text = do { local (@ARGV, $/) = ($st->{log}); <> } . do { local (@ARGV, $/) = ($fib->{log}); <> };
unlike($text, qr/PRIVATE KEY|BEGIN CERT/, 'no key or certificate in the logs');

is(stop($fib), 0, 'fibonacci-service exits 0');
is(stop($st), 0, 'stats-service exits 0');

# --- limits ------------------------------------------------------------------

my $small = start_stats('max-request' => '1k', 'max-reply' => '64k');
($rc, $j) = fibctl($small->{target}, 'raw', '/stats.Stats/RecordBatch',
                   '0a0161' . ('2200' x 600));      # 1203 bytes
is($j->{code}, 'RESOURCE_EXHAUSTED', 'a request over --max-request is refused');
($rc, $j) = fibctl($small->{target}, 'batch', 'b', 1, '7:1000');
is($rc, 0, 'a request under it is served');
is(stop($small), 0);

my $tiny = start_fib(stats => '', 'max-reply' => '1k');
($rc, $j) = fibctl($tiny->{target}, 'getfib', 5000, '--exact');
is($j->{code}, 'RESOURCE_EXHAUSTED', 'a reply over --max-reply fails');
($rc, $j) = fibctl($tiny->{target}, 'getfib', 100, '--exact');
is($rc, 0, 'a reply under it is sent');
ok(has_log($tiny, 'rpc_server_listening', 'max_streams', qr/^256$/),
   'the default concurrent stream limit is stated in the log');
is(stop($tiny), 0);

# --- bad TLS options are refused at startup ----------------------------------

my $bad = start_stats('tls-cert' => "$pki/nope.pem", 'tls-key' => "$pki/server.key",
                      wait => 0);
is(wait_exit($bad), 1, 'a missing certificate file: exit 1');
ok(has_log($bad, 'tls_load_failed', 'msg', qr/nope\.pem/), '... naming the file');
$bad = start_stats('tls-cert' => "$pki/server.pem", 'tls-key' => "$pki/writer.key",
                   wait => 0);
is(wait_exit($bad), 1, 'a key that does not match the certificate: exit 1');
$bad = start_stats('record-allow' => 'x', wait => 0);
is(wait_exit($bad), 2, '--record-allow without --tls-client-ca: usage error');
$bad = start_fib('stats-tls-cert' => "$pki/writer.pem", wait => 0);
is(wait_exit($bad), 2, '--stats-tls-cert without --stats-tls-ca: usage error');

done_testing();
