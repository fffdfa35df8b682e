# status_page.t - fib_status in a real browser: after known requests through
# nginx, headless Chromium (Debian's chromium) loads the page, which
# refreshes itself from fib_metrics, /stats and fibonacci-service's
# /metrics (proxied by nginx); the rendered DOM has the figures it should
# (responses by status, the top n, the cache hit ratio, the stats queue,
# latency percentiles, rates), the browser logged no console message, and
# a screenshot is kept (build/status-page.png). Also: the page asks for
# nothing outside the server (its Content-Security-Policy says so, and its
# HTML names no other host), and HEAD/405.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec ();
use HTTP::Tiny ();
use JSON::PP ();
use FibTest;

my @chromium = chromium_cmd();     # skips the test without Chromium
my $SHOT = File::Spec->rel2abs(($ENV{FIB_BIN_DIR} // 'build/bin')
                               . '/../status-page.png');

my $stats = start_stats();
my $fm = free_port();
my $fib = start_fib(stats => $stats->{target},
                    'metrics-listen' => "127.0.0.1:$fm");
my $ngx = start_nginx(workers => 2, server => <<"EOS");
        location = /fib { fib_pass $fib->{target}; }
        location = /stats { fib_stats_pass $stats->{target}; }
        location = /metrics { fib_metrics; }
        location = /fib-metrics { proxy_pass http://127.0.0.1:$fm/metrics; }
        location = /status { fib_status service_metrics=/fib-metrics; }
EOS
my $base = "http://127.0.0.1:$ngx->{port}";
my $http = HTTP::Tiny->new(timeout => 10);

# Known requests: 6 x n=10, 3 x n=11, 2 x n=1000 (a cache miss, then a
# hit), 2 refused (400).
my %want = (10 => 6, 11 => 3, 1000 => 2);
for my $n (sort keys %want) {
    is($http->get("$base/fib?n=$n")->{status}, 200, "GET /fib?n=$n")
        for 1 .. $want{$n};
}
is($http->get("$base/fib?n=abc")->{status}, 400, 'n=abc: 400') for 1 .. 2;
ok(poll_until(30, sub {
       my $r = $http->get("$base/stats");
       $r->{success}
           && (JSON::PP->new->decode($r->{content})->{total_requests64} // 0)
              == 11;
   }), 'the 11 requests reached stats-service');

my $r = $http->get("$base/status");
is($r->{status}, 200, 'GET /status: 200');
like($r->{headers}{'content-type'}, qr{^text/html; charset=utf-8}, 'HTML');
like($r->{headers}{'content-security-policy'}, qr/default-src 'none'/,
     'CSP: nothing from elsewhere');
unlike($r->{content}, qr{(?:src|href)\s*=\s*["']?(?:https?:)?//}i,
       'no external script, style or font');
like($r->{content},
     qr{data-metrics="/metrics" data-stats="/stats" data-service="/fib-m},
     'the locations it reads');
is($http->request('HEAD', "$base/status")->{status}, 200, 'HEAD: 200');
$r = $http->post("$base/status");
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{allow}, 'GET, HEAD', '... Allow: GET, HEAD');

# The browser: the DOM after the page has refreshed itself a few times
# (virtual time runs the 2 s timers at once; the fetches are real).
my ($dom, $stderr) = browser_dom("$base/status");

sub text {          # the text of the element with this id
    my ($id) = @_;
    return $dom =~ m{id="\Q$id\E"[^>]*>([^<]*)<} ? $1 : undef;
}
sub row {           # the cells of the table row with this id
    my ($id) = @_;
    my ($tr) = $dom =~ m{<tr id="\Q$id\E">(.*?)</tr>}s or return [];
    return [$tr =~ m{<td>([^<]*)</td>}g];
}

my ($updates) = $dom =~ /<body data-updates="(\d+)"/;
cmp_ok($updates // 0, '>=', 2, 'the page refreshed itself (twice or more)');
is(text('error'), '', 'the page shows no error');
isnt(text('updated'), 'never', 'an update time is shown');
is_deeply(row('code-200'), [200, 11],
          'responses: 11 x 200 (of fib_pass: not /stats, which it reads)');
is_deeply(row('code-400'), [400, 2], 'responses: 2 x 400');
my @top = $dom =~ m{<tr id="top-(\d+)">}g;
is_deeply(\@top, [10, 11, 1000], 'top n by requests: 10, 11, 1000');
is(row('top-10')->[1], 6, 'n=10: 6 requests');
is(row('top-1000')->[1], 2, 'n=1000: 2 requests');
is(text('total'), 'total requests: 11', 'the total');
is(text('cache-ratio'), '50.0%', 'cache hit ratio 50% (1 hit, 1 miss)');
is(text('cache-counts'), '1 hits, 1 misses (n &gt; 92)', 'the cache counts');
is(text('queue'), '0', 'the stats queue is empty');
like(text('inflight'), qr/^\d+$/, 'requests in flight: a number');
like(text($_), qr/^\d+(\.\d+)? ms$/, "latency $_ shown") for qw(p50 p90 p99);
like(text('latency-over'), qr/13 requests$/, 'the latency of all 13');
like(text("rate-$_"), qr/^\d+(\.\d+)?$/, "rate $_: a number")
    for qw(total 2xx 4xx 5xx retries);
like($dom, qr{<polyline points="[\d., ]+">}, 'the charts are drawn');
is_deeply([browser_console($stderr)], [], 'no console message')
    or diag $stderr;

# The screenshot, kept as an artifact.
unlink $SHOT;
system(join(' ', map { "'$_'" } @chromium, '--hide-scrollbars',
            '--window-size=1200,800', "--screenshot=$SHOT", "$base/status")
       . " >/dev/null 2>&1");
ok(-s $SHOT && -s $SHOT > 10000, "screenshot kept: $SHOT")
    or diag "chromium made no screenshot";
my $sig = '';
if (open(my $png, '<:raw', $SHOT)) { read($png, $sig, 8) }
is($sig // '', "\x89PNG\r\n\x1a\n", '... a PNG');

done_testing();
