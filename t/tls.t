# t/tls.t - grpcs:// and the fib_ssl_* directives: TLS and mutual TLS to
# both daemons, the server's name checked (502 and a log line when it does
# not match), bad files refused at startup with the file and line, and
# channels never shared between locations with different TLS settings.
# tests/with-daemons makes the certificates (tests/pki.sh) and starts the
# daemons that require client certificates. fib_timeout is long: under
# valgrind a worker's first TLS handshake takes seconds.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: fib_pass grpcs:// with a client certificate
--- config
fib_timeout 15s;
fib_ssl_trusted_certificate $TEST_NGINX_PKI/ca.pem;
fib_ssl_certificate $TEST_NGINX_PKI/gateway.pem;
fib_ssl_certificate_key $TEST_NGINX_PKI/gateway.key;
location = /fib { fib_pass grpcs://127.0.0.1:$TEST_NGINX_FIB_TLS_PORT; }
--- request
GET /fib?n=10
--- response_body chomp
{"n":10,"x":55,"value":"55"}
--- grep_error_log eval
qr/fib: channel to "[^"]+" created with TLS/
--- grep_error_log_out eval
"fib: channel to \"127.0.0.1:$ENV{TEST_NGINX_FIB_TLS_PORT}\" created with TLS\n"
--- no_error_log
[error]



=== TEST 2: fib_stats_pass grpcs://, the name given by fib_ssl_name
--- config
fib_timeout 15s;
location = /stats {
    fib_ssl_trusted_certificate $TEST_NGINX_PKI/ca.pem;
    fib_ssl_certificate $TEST_NGINX_PKI/gateway.pem;
    fib_ssl_certificate_key $TEST_NGINX_PKI/gateway.key;
    fib_ssl_name localhost;
    fib_stats_pass grpcs://127.0.0.1:$TEST_NGINX_STATS_TLS_PORT;
}
--- request
GET /stats
--- response_body_like: ^\{"total_requests":\d+,"fibonacci_stats":\[
--- no_error_log
[error]



=== TEST 3: the server's certificate lacks the name: 502, logged
--- config
fib_timeout 15s;
location = /fib {
    fib_ssl_trusted_certificate $TEST_NGINX_PKI/ca.pem;
    fib_ssl_certificate $TEST_NGINX_PKI/gateway.pem;
    fib_ssl_certificate_key $TEST_NGINX_PKI/gateway.key;
    fib_ssl_name wrong.example;
    fib_pass grpcs://127.0.0.1:$TEST_NGINX_FIB_TLS_PORT;
}
--- request
GET /fib?n=10
--- error_code: 502
--- response_body_like: ^\{"error":".*Peer name wrong\.example is not in peer certificate.*","code":"UNAVAILABLE"\}$
--- error_log eval
qr/\[error\] .*fib: GetFib failed with UNAVAILABLE ".*Peer name wrong\.example is not in peer certificate.*" after 1 attempt/



=== TEST 4: a server certificate from an untrusted CA: 502
--- config
fib_timeout 15s;
location = /fib {
    fib_ssl_trusted_certificate $TEST_NGINX_PKI/other-ca.pem;
    fib_ssl_certificate $TEST_NGINX_PKI/gateway.pem;
    fib_ssl_certificate_key $TEST_NGINX_PKI/gateway.key;
    fib_pass grpcs://127.0.0.1:$TEST_NGINX_FIB_TLS_PORT;
}
--- request
GET /fib?n=10
--- error_code: 502
--- error_log eval
qr/\[error\] .*fib: GetFib failed with UNAVAILABLE ".*certificate verify failed.*" after 1 attempt/



=== TEST 5: no client certificate for a server that requires one
--- config
fib_timeout 15s;
fib_retries 1;
location = /fib {
    fib_ssl_trusted_certificate $TEST_NGINX_PKI/ca.pem;
    fib_pass grpcs://127.0.0.1:$TEST_NGINX_FIB_TLS_PORT;
}
--- request
GET /fib?n=10
--- error_code: 503
--- response_body_like: "code":"UNAVAILABLE"
--- error_log
fib: GetFib failed with UNAVAILABLE



=== TEST 6: locations with different TLS settings get their own channels
--- config
fib_timeout 15s;
fib_ssl_trusted_certificate $TEST_NGINX_PKI/ca.pem;
fib_ssl_certificate $TEST_NGINX_PKI/gateway.pem;
fib_ssl_certificate_key $TEST_NGINX_PKI/gateway.key;
location = /a { fib_pass grpcs://127.0.0.1:$TEST_NGINX_FIB_TLS_PORT; }
location = /b {
    fib_ssl_name localhost;
    fib_pass grpcs://127.0.0.1:$TEST_NGINX_FIB_TLS_PORT;
}
location = /c { fib_pass grpcs://127.0.0.1:$TEST_NGINX_FIB_TLS_PORT; }
location = /all.html { ssi on; }
--- user_files
>>> all.html
<!--# include virtual="/a?n=11" wait="yes" --><!--# include virtual="/b?n=12" wait="yes" --><!--# include virtual="/c?n=13" -->
--- request
GET /all.html
--- response_body
{"n":11,"x":89,"value":"89"}{"n":12,"x":144,"value":"144"}{"n":13,"x":233,"value":"233"}
--- grep_error_log eval
qr/fib: channel to "[^"]+" created with TLS/
--- grep_error_log_out eval
"fib: channel to \"127.0.0.1:$ENV{TEST_NGINX_FIB_TLS_PORT}\" created with TLS\n" x 2
--- no_error_log
[error]



=== TEST 7: a missing certificate file is refused with the file and line
--- config
fib_ssl_certificate $TEST_NGINX_PKI/nope.pem;
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_ssl_certificate": cannot read "\S*nope\.pem": No such file or directory in \S*nginx\.conf:\d+/



=== TEST 8: an unreadable trusted certificate file (a directory)
--- config
fib_ssl_trusted_certificate $TEST_NGINX_PKI;
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_ssl_trusted_certificate": cannot read "\S+": Is a directory in \S*nginx\.conf:\d+/



=== TEST 9: a key file without a key
--- config
fib_ssl_certificate_key $TEST_NGINX_PKI/gateway.pem;
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_ssl_certificate_key": "\S*gateway\.pem" holds no PEM private key .* in \S*nginx\.conf:\d+/



=== TEST 10: a certificate without its key
--- config
location = /fib {
    fib_ssl_certificate $TEST_NGINX_PKI/gateway.pem;
    fib_pass grpcs://127.0.0.1:1;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*"fib_ssl_certificate" and "fib_ssl_certificate_key" go together/



=== TEST 11: a key that is not the certificate's
--- config
location = /fib {
    fib_ssl_certificate $TEST_NGINX_PKI/gateway.pem;
    fib_ssl_certificate_key $TEST_NGINX_PKI/writer.key;
    fib_pass grpcs://127.0.0.1:1;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*the key in "\S*writer\.key" does not belong to the certificate in "\S*gateway\.pem"/



=== TEST 12: fib_ssl_name takes one name
--- config
fib_ssl_name a b;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "fib_ssl_name" directive in \S*nginx\.conf:\d+/
