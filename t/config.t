# t/config.t - the directives: targets in every accepted form, and bad
# arguments refused at startup with the file and line, as nginx does.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: a target with no port
--- config
location = /fib { fib_pass localhost; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid target "localhost" in "fib_pass": the port is missing .* in \S*nginx\.conf:\d+/



=== TEST 2: a bad port
--- config
location = /fib { fib_pass 127.0.0.1:99999; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid target "127\.0\.0\.1:99999" in "fib_pass": the port is not a number from 1 to 65535 in \S*nginx\.conf:\d+/



=== TEST 3: fib_pass twice in a location
--- config
location = /fib {
    fib_pass 127.0.0.1:1;
    fib_pass 127.0.0.1:2;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_pass" directive is duplicate in \S*nginx\.conf:\d+/



=== TEST 4: fib_pass and fib_stats_pass in one location
--- config
location = /fib {
    fib_pass 127.0.0.1:1;
    fib_stats_pass 127.0.0.1:2;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_stats_pass" directive conflicts with another content handler in this location in \S*nginx\.conf:\d+/



=== TEST 5: fib_pass is for locations only
--- config
fib_pass 127.0.0.1:1;
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_pass" directive is not allowed here in \S*nginx\.conf:\d+/



=== TEST 6: fib_timeout that is not a time
--- config
fib_timeout soon;
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_timeout" directive invalid value in \S*nginx\.conf:\d+/



=== TEST 7: fib_timeout 0
--- config
location = /fib {
    fib_pass 127.0.0.1:1;
    fib_timeout 0;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_timeout" must be greater than zero in \S*nginx\.conf:\d+/



=== TEST 8: fib_retries negative
--- config
fib_retries -1;
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_retries" directive invalid number in \S*nginx\.conf:\d+/



=== TEST 9: fib_retries above 100
--- config
fib_retries 1000;
--- must_die
--- error_log eval
qr/\[emerg\] .*value must be between 0 and 100 in \S*nginx\.conf:\d+/



=== TEST 10: fib_retry_backoff with a maximum below the base
--- config
fib_retry_backoff 2s 1s;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid maximum delay "1s" in "fib_retry_backoff", it must be a time not less than "2s" in \S*nginx\.conf:\d+/



=== TEST 11: fib_retry_backoff 0
--- config
fib_retry_backoff 0;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid base delay "0" in "fib_retry_backoff" in \S*nginx\.conf:\d+/



=== TEST 12: a target with spaces
--- config
location = /fib { fib_pass "127.0.0.1:1 "; }
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid target "127\.0\.0\.1:1 " in "fib_pass": it contains spaces/



=== TEST 13: a dns:/// URI target
--- config
location = /fib { fib_pass dns:///127.0.0.1:$TEST_NGINX_FIB_PORT; }
--- request
GET /fib?n=10
--- response_body chomp
{"n":10,"x":55,"value":"55"}
--- no_error_log
[error]



=== TEST 14: an ipv4: list with a dead address: round robin skips it
Every request is answered by the live address at the first attempt.
--- config
location = /fib {
    fib_pass ipv4:127.0.0.1:$TEST_NGINX_DOWN_PORT,127.0.0.1:$TEST_NGINX_FIB_PORT;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request eval
[map { "GET /fib?n=20" } 1 .. 6]
--- error_code eval
[map { 200 } 1 .. 6]
--- response_headers eval
[map { "X-Fib-Attempts: 1" } 1 .. 6]
--- response_body eval
[map { '{"n":20,"x":6765,"value":"6765"}' } 1 .. 6]
--- no_error_log
[warn]
[error]



=== TEST 15: an ipv4: list of two live addresses is balanced round robin
After a first call has connected both, four calls one after another
alternate: both backends answer (ours with F(93), the original refusing 93).
--- config
location = /fib {
    fib_pass ipv4:127.0.0.1:$TEST_NGINX_FIB_PORT,127.0.0.1:$TEST_NGINX_MOCK_ORIGINAL_PORT;
}
location = /rr.html { ssi on; }
--- user_files eval
">>> rr.html\n" . ('<!--# include virtual="/fib?n=93" wait="yes" -->' x 4)
--- request eval
["GET /fib?n=93", "GET /rr.html"]
--- error_code_like eval
[qr/^(200|400)$/, qr/^200$/]
--- response_body_like eval
[qr/"(value|error)"/,
 qr/^(?=.*"value":"12200160415121876738")(?=.*"error":"n too large \(max 92\)")/s]



=== TEST 16: a unix: target
--- config
location = /fib { fib_pass unix:/nonexistent/fib.sock; fib_retries 0; }
--- request
GET /fib?n=10
--- error_code: 503
--- response_body_like chomp
"code":"UNAVAILABLE"



=== TEST 17: settings inherited from http into a location
--- http_config
fib_timeout 10s;
fib_retries 2;
fib_retry_backoff 10ms;
--- config
location = /fib {
    fib_pass 127.0.0.1:$TEST_NGINX_MOCK_FLAKY_PORT;
    add_header X-Fib-Attempts $fib_attempts always;
}
--- request
GET /fib?n=10
--- response_headers
X-Fib-Attempts: 3
--- error_log
fib: attempt 2 of 3 failed with UNAVAILABLE
