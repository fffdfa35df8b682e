# t/concurrency.t - one worker holds many calls at once without blocking:
# 500 SSI subrequests against a backend that answers each after 200 ms
# finish within the client's 15 s timeout (one after another takes 100 s;
# the margin is for valgrind on a busy machine),
# and other locations are served while calls are in flight.
use Test::Nginx::Socket 'no_plan';

our $Page = join '', map {
    '<!--# include virtual="/slow/fib?n=' . ($_ % 90 + 1) . '" -->'
} 0 .. 499;

our $Want = join '', map {
    my ($a, $b) = (0, 1);
    ($a, $b) = ($b, $a + $b) for 1 .. $_ % 90 + 1;
    '{"n":' . ($_ % 90 + 1) . ',"x":' . $a . ',"value":"' . $a . '"}'
} 0 .. 499;

our $Mixed = '<!--# include virtual="/slow/fib?n=10" -->' . join '', map {
    '<!--# include virtual="/fib?n=' . $_ . '" wait="yes" -->'
} 1 .. 20;

run_tests();

__DATA__

=== TEST 1: 500 concurrent calls on one worker
--- config
location = /many.html { ssi on; }
location /slow/ { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_SLOW_PORT; }
--- user_files eval
">>> many.html\n$::Page"
--- request
GET /many.html
--- timeout: 15
--- response_body eval
$::Want
--- no_error_log
[error]
[warn]



=== TEST 2: other locations answer while slow calls are in flight
--- config
location = /many.html { ssi on; }
location /slow/ { fib_pass 127.0.0.1:$TEST_NGINX_MOCK_SLOW_PORT; }
location = /fib { fib_pass 127.0.0.1:$TEST_NGINX_FIB_PORT; }
location = /mixed.html { ssi on; }
--- user_files eval
">>> mixed.html\n$::Mixed"
--- request
GET /mixed.html
--- timeout: 15
--- response_body_like chomp
^\{"n":10,"x":55,"value":"55"\}\{"n":1,"x":1,"value":"1"\}.*\{"n":20,"x":6765,"value":"6765"\}$
--- no_error_log
[error]
