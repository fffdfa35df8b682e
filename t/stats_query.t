# t/stats_query.t - /stats built page by page from stats.Stats/Query, and
# its query parameters (n, from, to, by, order, limit, top, page) and their
# errors. A stats-service of its own (memory:) holds a known table: n from
# 1000 to 1699, n requests 1 + n % 3 times, each taking 1000 * (n % 97 + 1)
# ns, all cache hits, and three streams, so every expected body is computed
# here. 700 entries are two of the module's 512-entry pages.
use Test::Nginx::Socket 'no_plan';
use lib 'tests/integration/lib';
use FibTest;

no_shuffle();

our $STATS = start_stats();
$ENV{TEST_NGINX_STATSQ_PORT} = $STATS->{port};

our (%count, %dur, $total);
my @recs;
for my $n (1000 .. 1699) {
    $count{$n} = 1 + $n % 3;
    $dur{$n} = 1000 * ($n % 97 + 1);
    $total += $count{$n};
    push @recs, ("$n:$dur{$n}:hit") x $count{$n};
}
my ($rc, $j) = fibctl($STATS->{target}, 'batch', 'stats-query-t', 1,
                      join(',', @recs));
die "fibctl batch failed\n" unless $rc == 0 && $j->{recorded} == $total;
# and three streams (GetFibRange calls): 1003 items, 4.5 ms, one cancelled
($rc, $j) = fibctl($STATS->{target}, 'batch', 'stats-query-t', 2, '',
                   '--streams', '3:1003:4500000:1');
die "fibctl batch --streams failed\n"
    unless $rc == 0 && $j->{streams_recorded} == 3;

# One entry as the module writes it.
sub entry {
    my ($n) = @_;
    my ($c, $d) = ($count{$n}, $dur{$n});
    my $avg = sprintf('%.15g', $d / 1e6);
    return qq({"n":$n,"request_count":$c,"average_time_ms":$avg,)
         . qq("request_count64":$c,"min_duration_ns":$d,"max_duration_ns":$d,)
         . qq("total_duration_ns":@{[$c * $d]},"cache_hits":$c,"cache_misses":0});
}

sub entries { return join(',', map { entry($_) } @_) }

sub filtered {
    my ($matched, $token, $next, @ns) = @_;
    return qq({"total_requests":$total,"total_requests64":$total,)
         . qq("matched":$matched,"fibonacci_stats":[) . entries(@ns)
         . qq(],"next_page_token":"$token")
         . ($next ? qq(,"next":"$next") : '') . '}';
}

# stats-service's own answer to the same question, for the page token and
# for the order of ties
sub query {
    my ($rc, $j) = fibctl($STATS->{target}, 'query', @_);
    die "fibctl query @_ failed\n" unless $rc == 0;
    return $j;
}

our $TOKEN = query('from=1100', 'to=1699', 'limit=300')->{next_page_token};
die "no page token from stats-service\n" unless length $TOKEN;
our @TOP = map { $_->{n} }
           @{query('top=5', 'by=count', 'desc')->{fibonacci_stats}};

run_tests();

__DATA__

=== TEST 1: the whole table, in two pages, as the original shaped it
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATSQ_PORT; }
--- request
GET /stats
--- response_headers
Content-Type: application/json
Transfer-Encoding: chunked
!Content-Length
--- response_body eval
qq({"total_requests":$::total,"fibonacci_stats":[)
. main::entries(1000 .. 1699) . qq(],"total_requests64":$::total,)
. qq("streams":{"count":3,"items":1003,"total_duration_ns":4500000,)
. qq("average_time_ms":1.5,"incomplete":1}})
--- no_error_log
[error]
[warn]



=== TEST 2: HTTP/1.0: the same bytes, without chunks
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATSQ_PORT; }
--- request
GET /stats HTTP/1.0
--- response_headers
!Transfer-Encoding
--- response_body eval
qq({"total_requests":$::total,"fibonacci_stats":[)
. main::entries(1000 .. 1699) . qq(],"total_requests64":$::total,)
. qq("streams":{"count":3,"items":1003,"total_duration_ns":4500000,)
. qq("average_time_ms":1.5,"incomplete":1}})
--- no_error_log
[error]



=== TEST 3: HEAD: the headers only
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATSQ_PORT; }
--- request
HEAD /stats?n=1000
--- response_headers
Content-Type: application/json
--- response_body chomp
--- no_error_log
[error]



=== TEST 4: a list of n, one not recorded
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATSQ_PORT; }
--- request
GET /stats?n=1005,1001,5
--- response_body eval
main::filtered(2, '', '', 1001, 1005)
--- no_error_log
[error]



=== TEST 5: a range cut by limit: matched, the token and the next link
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATSQ_PORT; }
--- request
GET /stats?from=1100&to=1699&limit=300
--- response_body eval
main::filtered(600, $::TOKEN,
               "/stats?from=1100&to=1699&limit=300&page=$::TOKEN",
               1100 .. 1399)
--- no_error_log
[error]



=== TEST 6: the next page: the rest, each entry once
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATSQ_PORT; }
--- request eval
"GET /stats?from=1100&to=1699&limit=300&page=$::TOKEN"
--- response_body eval
main::filtered(600, '', '', 1400 .. 1699)
--- no_error_log
[error]



=== TEST 7: the top 5 by count
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATSQ_PORT; }
--- request
GET /stats?top=5&by=count
--- response_body eval
main::filtered(700, '', '', @::TOP)
--- no_error_log
[error]



=== TEST 8: bad parameters are 400 with what is wrong
--- config
location = /stats { fib_stats_pass 127.0.0.1:$TEST_NGINX_STATSQ_PORT; }
--- request eval
["GET /stats?n=abc", "GET /stats?n=1,,2", "GET /stats?n=2147483648",
 "GET /stats?from=5&to=1", "GET /stats?from=-1", "GET /stats?limit=0",
 "GET /stats?limit=10001", "GET /stats?top=0", "GET /stats?by=x",
 "GET /stats?order=up", "GET /stats?top=3&limit=3",
 "GET /stats?top=3&page=1.0.0.5", "GET /stats?page=bogus"]
--- error_code eval
[(400) x 13]
--- response_body eval
[map { qq({"error":"$_","code":"INVALID_ARGUMENT"}) }
 ("n must be a comma-separated list of integers from 0 to 2147483647")
 x 3,
 "from must not be greater than to",
 "from must be an integer from 0 to 2147483647",
 "limit must be an integer from 1 to 10000",
 "limit must be an integer from 1 to 10000",
 "top must be an integer from 1 to 10000",
 "by must be n, count or avg",
 "order must be asc or desc",
 "top and limit do not go together",
 "top answers one page: no page",
 'page_token \"bogus\" is not one this query handed out']
--- no_error_log
[error]



=== TEST 9: a stats server of the original contract has no Query
--- config
location = /stats {
    fib_stats_pass 127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT;
}
--- request
GET /stats?n=7
--- error_code: 502
--- response_body_like chomp
^\{"error":".*","code":"UNIMPLEMENTED"\}$
