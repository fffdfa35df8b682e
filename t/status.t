# t/status.t - fib_status: the page, with the locations it reads filled
# in (defaults and given), its headers (HTML, a Content-Security-Policy that
# allows nothing from elsewhere), HEAD, other methods; directive errors
# naming the file and line. The page in a browser: tests/integration/
# status_page.t.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: the page, reading /metrics and /stats by default
--- config
location = /status { fib_status; }
--- request
GET /status
--- response_headers_like
Content-Type: text/html; charset=utf-8
Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'
--- response_body_like chomp
^<!DOCTYPE html>\n<html lang="en" data-metrics="/metrics" data-stats="/stats" data-service="">\n
--- no_error_log
[error]



=== TEST 2: the locations given
--- config
location = /s {
    fib_status metrics=/m/x stats=/api/stats service_metrics=/fib-m_1.~;
}
--- request
GET /s
--- response_body_like chomp
data-metrics="/m/x" data-stats="/api/stats" data-service="/fib-m_1.~"



=== TEST 3: HEAD, and other methods
--- config
location = /status { fib_status; }
--- request eval
["HEAD /status", "POST /status\r\nx"]
--- error_code eval
[200, 405]
--- response_headers eval
["Content-Type: text/html; charset=utf-8", "Allow: GET, HEAD"]



=== TEST 4: a parameter it does not know
--- config
location = /status { fib_status metric=/m; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "metric=\/m" in \S*nginx\.conf:\d+/



=== TEST 5: a location that could break out of the page
--- config
location = /status { fib_status 'stats=/a"><script>'; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "stats=\/a"><script>": a path on this server .* in \S*nginx\.conf:\d+/



=== TEST 6: not a path
--- config
location = /status { fib_status metrics=http://elsewhere/m; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "metrics=http:\/\/elsewhere\/m": a path on this server/



=== TEST 7: fib_status and another content handler
--- config
location = /s {
    fib_metrics;
    fib_status;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_status" directive conflicts with another content handler in this location in \S*nginx\.conf:\d+/
