package Test::Nginx::Socket;

# The project's own minimal Test::Nginx::Socket.
#
# It is found only through PERL5LIB=t/lib and is meant for machines where
# openresty's Test::Nginx (https://github.com/openresty/test-nginx) is not
# installed; where the real module is installed, put it first in @INC and
# use it instead.  It implements the subset of the real module that this
# project's t/*.t use, with the same section names, nginx.conf layout,
# environment variables, test names and pass/fail semantics:
#
#   functions   plan (from Test::Base), blocks, run_tests, repeat_each,
#               no_shuffle, no_long_string, log_level, worker_connections,
#               workers, master_on, master_off, master_process_enabled,
#               timeout, server_port, server_port_for_client, server_addr,
#               server_name, server_root, html_dir, env_to_nginx,
#               no_root_location, use_hup, config_preamble, is_str,
#               bail_out, add_block_preprocessor
#   nginx       main_config, post_main_config, http_config, config,
#               user_files, log_level, must_die, timeout, wait
#   requests    request (text, or eval: a string or an array of requests,
#               each a string or an array of packets), pipelined_requests
#               (eval array), more_headers (text or eval array),
#               raw_request (text or eval array of packets),
#               raw_request_middle_delay, shutdown, abort, ignore_response
#   checks      error_code, error_code_like, response_headers (Name: value,
#               !Name for an absent header), response_headers_like,
#               raw_response_headers_like/_unlike, response_body (text or
#               eval qr//), response_body_like, response_body_unlike,
#               error_log, no_error_log (one pattern a line, or eval qr// or
#               an array), grep_error_log + grep_error_log_out
#   perl        init (code run once before the block's requests)
#   Test::Base  ONLY, SKIP, LAST; no_check_leak and other sections of the
#               real module are accepted and ignored
#   environment TEST_NGINX_BINARY (else nginx in PATH or /usr/sbin),
#               TEST_NGINX_SERVER_PORT / TEST_NGINX_PORT (default 1984),
#               TEST_NGINX_CLIENT_PORT, TEST_NGINX_SERVROOT, TEST_NGINX_SLEEP,
#               TEST_NGINX_TIMEOUT, TEST_NGINX_LOG_LEVEL,
#               TEST_NGINX_MASTER_PROCESS, TEST_NGINX_NO_SHUFFLE,
#               TEST_NGINX_LOAD_MODULES, TEST_NGINX_NO_CLEAN,
#               TEST_NGINX_VERBOSE, and $TEST_NGINX_* expansion in the config
#               sections, user_files, pipelined_requests, response_body and
#               grep_error_log_out ($TEST_NGINX_RAND_PORT_N picks free ports)
#   modes       TEST_NGINX_USE_HUP=1: one nginx (master on) reloaded with HUP
#               for each block; TEST_NGINX_USE_VALGRIND=1 (or valgrind
#               options): nginx runs in the foreground under memcheck
#               (./valgrind.suppress is used if present) and each nginx
#               process that valgrind reports errors or leaks for fails one
#               test when it exits (at the end of the block; at the end of
#               the file in HUP mode).  Leaks whose whole stack is inside
#               the nginx executable and libc (nginx never frees its cycle
#               at exit) are only shown.  Under valgrind set
#               TEST_NGINX_TIMEOUT higher: everything is many times slower.
#
# nginx runs from t/servroot (conf/ html/ logs/) with
# "-p t/servroot/ -c conf/nginx.conf" and is restarted for every block;
# error_log checks see only what the block (and each repetition) wrote.
#
# Written for this project after reading openresty's Test::Nginx; no code
# was taken from it.  Not implemented: HTTP/2 and HTTP/3, stap, check-leak
# and benchmark modes, tcp/udp mock servers, access_log checks,
# response_body_filters, skip_nginx/todo sections, shutdown_error_log.

use strict;
use warnings;

use Test::Base -base;

use List::Util qw(shuffle);
use Test::LongString;
use Time::HiRes qw(sleep);

use Test::Nginx::Server;
use Test::Nginx::Client;

our @EXPORT = qw(
    run_tests repeat_each no_shuffle no_long_string log_level
    worker_connections workers master_on master_off master_process_enabled
    timeout server_port server_port_for_client server_addr server_name
    server_root html_dir env_to_nginx no_root_location use_hup
    config_preamble is_str bail_out add_block_preprocessor
);

our $RepeatEach   = 1;
our $NoShuffle    = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoLongString = 0;
our @BlockPreprocessors;
our $PrevConfig;
our $FirstTime = 1;

# Shorter names for the server-side settings and helpers.
BEGIN { *S:: = \%Test::Nginx::Server:: }

# ---------------------------------------------------------------------------
# Settings for the test files.

sub setting {
    my ($ref, @arg) = @_;
    return $$ref unless @arg;
    $$ref = $arg[0];
}

sub repeat_each            { setting(\$RepeatEach, @_) }
sub log_level              { setting(\$S::LogLevel, @_) }
sub worker_connections     { setting(\$S::WorkerConnections, @_) }
sub workers                { setting(\$S::Workers, @_) }
sub timeout                { setting(\$S::Timeout, @_) }
sub server_addr            { setting(\$S::ServerAddr, @_) }
sub server_name            { setting(\$S::ServerName, @_) }
sub server_port_for_client { setting(\$S::ClientPort, @_) }
sub server_port {
    return $S::ServerPort unless @_;
    $S::ServerPort = $S::ClientPort = shift;
}
sub no_shuffle ()          { $NoShuffle = 1 }
sub no_long_string ()      { $NoLongString = 1 }
sub no_root_location ()    { $S::NoRootLocation = 1 }
sub use_hup ()             { $S::UseHup = 1 }
sub master_on ()           { $S::MasterProcess = 'on' }
sub master_off ()          { $S::MasterProcess = 'off' }
sub master_process_enabled {
    return $S::MasterProcess unless @_;
    $S::MasterProcess = $_[0] ? 'on' : 'off';
}
sub config_preamble ($)    { $S::ConfigPreamble = shift }
sub server_root ()         { $S::ServRoot }
sub html_dir ()            { $S::HtmlDir }
sub bail_out               { S::bail_out(@_) }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub env_to_nginx {
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @S::EnvToNginx, $v;
    }
}

sub is_str {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc)
        if ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return is_string($got, $expected, $desc);
}

# ---------------------------------------------------------------------------
# Running the blocks.

sub run_tests () {
    srand($$ ^ time);
    my $v = S::nginx_V();
    $v =~ m{nginx[^/]*/\d+\.\d+\.\d+}
        or bail_out("Failed to get the version of nginx: $v");
    $ENV{TEST_NGINX_SERVER_PORT} //= $S::ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
    }
}

sub run_block {
    my ($block) = @_;
    return if defined $block->SKIP;

    my $name = $block->name;
    my $first_time = $FirstTime;
    $FirstTime = 0;
    my $rand_ports = {};
    my $config = S::expand_env($block->config, $name, $rand_ports);
    my $must_die = $block->must_die;

    # nginx that must fail to start runs plainly, without HUP or valgrind.
    local $S::UseHup      = defined $must_die ? undef : $S::UseHup;
    local $S::UseValgrind = defined $must_die ? undef : $S::UseValgrind;
    local $S::Daemon      = defined $must_die ? 'on'  : $S::Daemon;

    if (!defined $config) {
        defined $PrevConfig
            or bail_out("$name - No '--- config' section specified and "
                        . "could not get previous one.");
        goto REQUEST;    # keep the running nginx
    }
    $PrevConfig = $config;
    $S::ConfigVersion = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 10
        if $S::UseHup;

    my $pid = S::pid_from_file();
    if ($pid && S::is_running($pid)) {
        if ($S::UseHup && !$first_time) {
            S::setup_server_root(1);
            S::write_user_files($block, $rand_ports);
            S::write_config($block, $config, $rand_ports);
            goto REQUEST if S::reload_nginx($name, $pid);
        }
    }
    S::stop_nginx($name);
    S::check_valgrind($name);

    S::setup_server_root(0);
    S::write_user_files($block, $rand_ports);
    S::write_config($block, $config, $rand_ports);

    if (defined $must_die) {
        run_must_die($block, $must_die);
        return;
    }

    my ($status, $stderr);
    for my $try (1 .. 5) {    # nginx itself tries bind() for 2 seconds
        ($status, $stderr) = S::start_nginx($name);
        last if $status == 0 || $stderr !~ /Address already in use/;
        sleep 0.1;
    }
    if ($status != 0) {
        bail_out("$name - Cannot start nginx using command \""
                 . join(' ', S::nginx_command()) . "\" (status code $status)"
                 . ($stderr ne '' ? ":\n$stderr" : '.'));
    }
    sleep $S::Sleep;

REQUEST:
    # --- init: Perl code run once before the block's requests
    if (defined(my $init = $block->init)) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    $S::ErrLogPos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        S::write_user_files($block, $rand_ports) if $i > 0;
        run_requests($block, $i, $rand_ports);
    }

    if ($S::UseValgrind && !$S::UseHup) {
        S::stop_nginx($name);
        S::check_valgrind($name);
    }
}

# --- must_die: nginx must refuse to start (must_die holding a number: with
# that exit code).  error_log patterns are looked for in the error log and
# in what nginx printed on stderr.
sub run_must_die {
    my ($block, $must_die) = @_;
    my $name = $block->name;
    $S::ErrLogPos = 0;

    for my $i (0 .. $RepeatEach - 1) {
        my ($status, $stderr) = S::start_nginx($name);
        my $code = $status >> 8;
        if ($status & 127) {
            Test::More::fail("$name - nginx died of signal " . ($status & 127));
        } elsif ($must_die =~ /^\s*(\d+)\s*$/) {
            Test::More::is($1, $code, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        my $lines = S::error_log_data();
        my %seen = map { /\[\w+\] (?:\d+#\d+: )?(.*)/ ? ($1 => 1) : () }
                   @$lines;
        for my $l (split /^/, $stderr) {
            push @$lines, $l
                unless $l =~ /\[\w+\] (.*)/ && $seen{$1};
        }
        check_error_log($block, $i, $lines);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            # the daemon writes its pid file after its parent has exited
            for (1 .. 50) {
                last if -f $S::PidFile;
                sleep $S::Sleep;
            }
            S::stop_nginx($name);
        }
    }
}

# Sends the block's requests (one repetition) and checks the responses
# and the error log.
sub run_requests {
    my ($block, $rep, $rand_ports) = @_;
    my $name = $block->name;
    my $reqs = Test::Nginx::Client::requests_from_block($block, $rand_ports);
    @$reqs or bail_out("$name - request empty");

    my $timeout = S::parse_time($block->timeout) // $S::Timeout;
    my $pipelined = $block->pipelined_requests;
    my $need_array = $pipelined ? 1 : @$reqs > 1;
    my $req_idx = 0;

    for my $req (@$reqs) {
        my $raw = Test::Nginx::Client::send_request($block, $req, $timeout);
        my $head_req = join('', map { $_->{value} } @$req) =~ /^\s*HEAD\s+/;
        my $left_to_parse = $pipelined ? scalar @$pipelined : 0;

        while (1) {
            my ($res, $raw_headers, $left) =
                Test::Nginx::Client::parse_response($name, $raw // '',
                                                    $head_req);
            if ($left_to_parse) {
                $raw = $left;
                $left_to_parse--;
            } elsif (defined $left && $left ne '') {
                (my $shown = $left) =~ s/([\0-\037\200-\377])/
                                         sprintf('\x{%02x}', ord $1)/ge;
                warn "WARNING: $name - unexpected extra bytes after last "
                     . "chunk in response: \"$shown\"\n";
            }

            check_response($block, $res, $raw_headers, $rep, $req_idx,
                           $need_array)
                unless defined $block->ignore_response;

            if ($left_to_parse || $req_idx < @$reqs - 1) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $rep);
            }
            $req_idx++;
            last unless $left_to_parse;
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, $rep);
}

# ---------------------------------------------------------------------------
# Checks.

# The expected value for request $idx: an array section when the block
# sends several requests (anything else is an error in the test file).
sub indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value eq 'ARRAY') {
        return $value->[$need_array ? $idx : 0];
    }
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.") if $need_array;
    return $value;
}

# "Name: value" and "!Name" lines -> [name, value or undef] pairs; as in
# the real module a name given twice is checked once, with its last value.
sub parse_header_lines {
    my ($text) = @_;
    my (%value, @names);
    for my $line (split /\n/, $text // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my ($key, $val) = $line =~ s/^!\s*// ? ($line, undef)
                                              : split /\s*:\s*/, $line, 2;
        push @names, $key unless exists $value{$key};
        $value{$key} = $val;
    }
    return map { [$_, $value{$_}] } @names;
}

sub expand_ports {
    my ($s) = @_;
    $s =~ s/\$ServerPortForClient\b/$S::ClientPort/g;
    $s =~ s/\$ServerPort\b/$S::ServerPort/g;
    return $s;
}

sub check_response {
    my ($block, $res, $raw_headers, $rep, $idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';

    if (defined $block->error_code_like) {
        my $want = indexed($name, $block->error_code_like, $idx, $need_array);
        Test::More::like($code, qr/$want/sm, "$name - status code ok");
    } else {
        my $want = defined $block->error_code
                   ? indexed($name, $block->error_code, $idx, $need_array)
                   : 200;
        Test::More::is($code, $want, "$name - status code ok");
    }

    for my $kind (qw(like unlike)) {
        my $pat = $block->${\ "raw_response_headers_$kind"};
        next unless defined $pat;
        $pat = indexed($name, $pat, $idx, $need_array);
        my $cmp = $kind eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($raw_headers // '', qr/$pat/s, "$name - raw resp headers $kind");
    }

    if (defined $block->response_headers) {
        my $spec = indexed($name, $block->response_headers, $idx, $need_array);
        for my $pair (parse_header_lines($spec)) {
            my ($key, $val) = @$pair;
            if (!defined $val) {
                Test::More::unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }
            my $got = $res ? $res->header($key) : undef;
            Test::More::is($got // '', expand_ports($val),
                           "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $spec = indexed($name, $block->response_headers_like, $idx,
                           $need_array);
        for my $pair (parse_header_lines($spec)) {
            my ($key, $val) = @$pair;
            my $got = $res ? $res->header($key) : undef;
            Test::More::like($got // '', qr/^$val$/,
                             "$name - header $key like ok");
        }
    }

    my $content = $res ? $res->content : undef;
    if (defined $block->response_body) {
        my $want = indexed($name, $block->response_body, $idx, $need_array);
        my $desc = "(repeated req $rep, req $idx)";
        if (ref $want) {
            Test::More::like($content, $want,
                             "$name - response_body - like $desc");
        } else {
            $want = S::expand_env(expand_ports($want), $name) if defined $want;
            my $is = $NoLongString ? \&Test::More::is : \&is_string;
            $is->($content, $want,
                  "$name - response_body - response is expected $desc");
        }
    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $kind = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = indexed($name, $block->${\ "response_body_$kind"}, $idx,
                          $need_array);
        $pat = expand_ports($pat) unless ref $pat;
        (my $summary = $content // '') =~ s/^\s+|\s+$//g;
        $summary =~ s/\n/ /g;
        $summary =~ s/\s{2,}/ /g;
        my $cmp = $kind eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($content, qr/$pat/s,
               "$name - response_body_$kind - response is expected ($summary)");
    }
}

sub fmt_str {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# Section text -> list of patterns: one a line, or an eval'd qr// or array.
sub patterns {
    my ($pats) = @_;
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';
    chomp $pats;
    return [split /\n+/, $pats];
}

sub line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

# error_log / no_error_log / grep_error_log checks on the lines the error
# log got since the last check ($lines given by must_die).
sub check_error_log {
    my ($block, $rep, $lines) = @_;
    my $name = $block->name;
    my $log = sub { $lines //= S::error_log_data() };
    my %quiet;    # log levels the test expects, not to be warned about

    my $grep = $block->grep_error_log;
    if (defined $grep) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $want = $block->grep_error_log_out;
        defined $want
            or bail_out("$name - No --- grep_error_log_out defined but "
                        . "--- grep_error_log is defined");
        $want = $want->[$rep] if ref $want eq 'ARRAY';
        $want = S::expand_env($want, $name);

        my $got = '';
        for my $line (@{ $log->() }) {
            my $m;
            if (ref $grep) {
                $m = $& if $line =~ $grep;
            } elsif (index($line, $grep) >= 0) {
                $m = $grep;
            }
            $got .= "$m\n" if defined $m && $m !~ /\n/;
        }
        my $desc = "$name - grep_error_log_out (req $rep)";
        if (ref $want eq 'Regexp') {
            Test::More::like($got, $want, $desc);
        } else {
            is_str($got, $want, $desc);
        }
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next unless defined $pats;
        $pats = patterns($pats);
        for my $p (@$pats) {
            $quiet{$_} = 1 for "$p" =~ /\[(alert|crit|emerg)/g;
        }

        if ($section eq 'error_log') {
            for my $line (@{ $log->() }) {
                for my $p (@$pats) {
                    next unless defined $p && line_matches($line, $p);
                    Test::More::pass("$name - pattern \"$p\" matches a line "
                                     . "in error.log (req $rep)");
                    undef $p;
                }
            }
            for my $p (grep { defined } @$pats) {
                Test::More::fail("$name - pattern \"$p\" should match a "
                                 . "line in error.log (req $rep)");
            }
            next;
        }

        my %found;
        my @log = @{ $log->() };
        for my $i (0 .. $#log) {
            for my $p (@$pats) {
                next unless line_matches($log[$i], $p);
                $found{$p} = 1;
                my $more = join '', @log[$i + 1 .. ($i + 9 < $#log ? $i + 9
                                                                    : $#log)];
                Test::More::fail("$name - pattern \"" . fmt_str($p)
                    . "\" should not match any line in error.log but matches "
                    . "line \"" . fmt_str($log[$i]) . "\" (req $rep)\n$more");
            }
        }
        for my $p (grep { !$found{$_} } @$pats) {
            Test::More::pass("$name - pattern \"" . fmt_str($p)
                             . "\" does not match a line in error.log "
                             . "(req $rep)");
        }
    }

    for my $line (@{ $log->() }) {
        if ($line =~ /\[(alert|crit|emerg)\]/ && !$quiet{$1}) {
            warn "WARNING: $name - " . fmt_str($line) . "\n";
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            Test::More->builder->no_ending(1);
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

END {
    if (!$ENV{TEST_NGINX_NO_CLEAN} || $S::UseValgrind) {
        local $?;
        S::stop_nginx('END');
        S::check_valgrind('END');
    }
}

1;
