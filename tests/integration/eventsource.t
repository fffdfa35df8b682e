# eventsource.t - the README's browser EventSource example, run as it
# stands in headless Chromium (one browser) against a real nginx with the
# module and the real daemons: the page, served by the same nginx, holds
# the README's <script> after a small harness that writes what the script
# logs (console.log) into the DOM and notes each event, the message ids and
# the close. The dumped DOM must list F(0) .. F(1000), in order, each value
# equal to the one computed here (Math::BigInt), the ids equal to n, the
# stream closed by the script on the last id with no error event, and
# nginx must have served exactly one GET /fib (no reconnect).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec ();
use File::Temp ();
use Math::BigInt;
use FibTest;

chromium_cmd();                     # skips the test without Chromium
my $module = File::Spec->rel2abs(($ENV{FIB_BIN_DIR} // 'build/bin')
                                 . '/../modules/ngx_http_fib_module.so');
plan skip_all => "no module at $module (the sanitized build has none)"
    unless -f $module;

# The README's example: the <script> block after "In a browser".
my $readme = do {
    local (@ARGV, $/) = ("$FindBin::Bin/../../README.md");
    <>;
};
my ($example) = $readme
    =~ m{^In a browser.*?\n\n((?:    .*\n|\n)*?    </script>\n)}ms;
ok($example, 'the README has the EventSource example')
    or BAIL_OUT('no EventSource example in README.md');
$example =~ s/^    //mg;
my ($to) = $example =~ /const to = (\d+);/;
ok($to, "its range ends at $to");

# The harness runs first: console.log appends a line to #log; the
# EventSource the example makes is watched (opens, errors, message ids,
# close) and the figures put on <body>.
my $harness = <<'EOJ';
<script>
const log = [];
const body = () => document.body.dataset;
console.log = (...args) => {
    const li = document.createElement('li');
    li.textContent = args.map((a) => typeof a === 'object'
                              ? JSON.stringify(a) : String(a)).join(' ');
    document.getElementById('log').appendChild(li);
};
const RealEventSource = window.EventSource;
window.EventSource = function (url) {
    const es = new RealEventSource(url);
    Object.assign(body(), {opens: 0, errors: 0, messages: 0, badIds: 0});
    es.addEventListener('open', () => { body().opens++; });
    es.addEventListener('error', () => { body().errors++; });
    es.addEventListener('message', (e) => {
        body().messages++;
        if (e.lastEventId !== String(JSON.parse(e.data).n)) body().badIds++;
    });
    const close = es.close.bind(es);
    es.close = () => {
        body().closedAfter = body().messages;
        close();
        body().state = es.readyState;
    };
    return es;
};
</script>
EOJ

my $www = File::Temp->newdir('eventsource.XXXXXX', TMPDIR => 1);
open(my $fh, '>', "$www/es.html") or die "$www/es.html: $!";
print $fh "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        . "<title>EventSource</title></head>\n<body><ol id=\"log\"></ol>\n"
        . $harness . $example . "</body></html>\n";
close $fh;
chmod 0755, "$www";                 # nginx's workers may run as nobody
chmod 0644, "$www/es.html";

my $stats = start_stats();
my $fib = start_fib(stats => $stats->{target});
my $ngx = start_nginx(http => 'access_log logs/access.log;', server => <<"EOS");
        location = /fib { fib_pass $fib->{target}; }
        location = /es.html { root $www; }
EOS
my $base = "http://127.0.0.1:$ngx->{port}";

my ($dom, $stderr) = browser_dom("$base/es.html", budget_ms => 5000);

my @lines = $dom =~ m{<li>([^<]*)</li>}g;
is(scalar @lines, $to + 1, "F(0) .. F($to): " . ($to + 1) . ' lines')
    or diag $stderr;
my ($f, $g) = (Math::BigInt->new(0), Math::BigInt->new(1));
my $bad = 0;
for my $n (0 .. $to) {
    my $want = "$n $f";
    if (($lines[$n] // '') ne $want) {
        diag "line $n: got '" . ($lines[$n] // '(none)') . "', want '$want'"
            if $bad++ < 3;
    }
    ($f, $g) = ($g, $f + $g);
}
is($bad, 0, 'each line is "n F(n)", in order, F(n) exact (Math::BigInt)');
like($lines[$to] // '', qr/^$to \d{209}$/, "F($to) has its 209 digits");

my ($attrs) = $dom =~ m{<body\b([^>]*)>};
my %data = ($attrs // '') =~ /data-([a-z-]+)="([^"]*)"/g;
is($data{messages}, $to + 1, 'every message arrived');
is($data{'bad-ids'}, 0, 'each event id is its n (lastEventId)');
is($data{opens}, 1, 'opened once: no reconnect');
is($data{errors}, 0, 'no error event');
is($data{'closed-after'}, $to + 1, 'es.close() on the last id');
is($data{state}, 2, 'then CLOSED');
is_deeply([browser_console($stderr)], [], 'no console message or error')
    or diag $stderr;

# nginx served the page and one stream, whole.
my $access = do {
    local (@ARGV, $/) = ("$ngx->{dir}/logs/access.log");
    <> // '';
};
my @fib = $access =~ m{"GET (/fib\S*) HTTP/1\.1" (\d+)}g;
is_deeply(\@fib, ["/fib?from=0&to=$to", 200], 'one GET /fib, 200')
    or diag $access;

done_testing();
