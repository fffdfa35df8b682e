# FibTest.pm - the integration tests' harness: start the real daemons on free
# ports, talk to them through fibctl, stop them, read their JSON logs.
#
#   use FindBin; use lib "$FindBin::Bin/lib"; use FibTest;
#   my $st  = start_stats();                        # waits until SERVING
#   my $fib = start_fib(stats => $st->{target}, 'max-n' => 5000);
#   my ($rc, $j) = fibctl($fib->{target}, 'getfib', 10);   # 0, {x=>55,...}
#   is(stop($fib, 'TERM'), 0);                      # exit status
#   my @lines = log_lines($fib);                    # decoded JSON log lines
#   my $m = metrics($port);    # GET /metrics: {'name{labels}' => value}
#   promtool_check($m->{text});                     # promtool's complaints
#   poll_until(10, sub { ... });   # true once the sub is, false at timeout
#   my $ngx = start_nginx(server => 'location = /fib { fib_pass ...; }');
#                                   # nginx with the module; skips the test
#                                   # where there is none (ASan build)
#   my ($dom, $err) = browser_dom($url);   # headless Chromium's DOM, log
#   my @msgs = browser_console($err);      # its console messages
#
# Binaries come from $ENV{FIB_BIN_DIR} (default build/bin). A daemon is a
# hash: {pid, port, target, log (file holding its stderr), name}.
# start_*(%flags) passes each flag as --name=value. Two keys are special:
#   listen => ADDR   used as given (default 127.0.0.1:<free port>);
#                    undef: no --listen at all (then say port => N)
#   env => {K => V}  extra environment for the daemon (e.g. PORT)
#   fibctl => [ARGS] fibctl flags the health check needs (e.g. --tls-ca F)
#   wait => 0        do not wait for SERVING (a daemon expected to fail)
# stats-service gets --store=memory: unless a store is given (store => ''
# gives no --store at all: the default, a file in the state directory).
# Daemons still running when the test script ends are killed.
package FibTest;

use strict;
use warnings;
use Exporter 'import';
use File::Spec ();
use File::Temp ();
use HTTP::Tiny ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

our @EXPORT = qw(free_port start_stats start_fib stop wait_exit fibctl
                 log_lines metrics promtool_check poll_until start_nginx
                 chromium_cmd browser_dom browser_console);

my $BIN_DIR = $ENV{FIB_BIN_DIR} // 'build/bin';
my $START_TIMEOUT = $ENV{FIB_START_TIMEOUT} // 30;   # seconds (ASan is slow)
my $STOP_TIMEOUT = 60;
my $JSON = JSON::PP->new->allow_nonref;
my $OWNER = $$;          # only this process cleans up, not forked children
my %running;             # pid => daemon

# A TCP port on 127.0.0.1 that was free a moment ago.
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "free_port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub start_stats { return _start('stats-service', @_) }
sub start_fib   { return _start('fibonacci-service', @_) }

sub _start {
    my ($name, %flags) = @_;
    my $env = delete $flags{env} // {};
    my $fibctl_args = delete $flags{fibctl} // [];
    my $wait = delete $flags{wait} // 1;
    # stats-service's default store is a file in the current directory:
    # tests say which store they want, memory: unless they do.
    $flags{store} //= 'memory:' if $name eq 'stats-service';
    delete $flags{store} if $name eq 'stats-service' && $flags{store} eq '';
    my $port = delete $flags{port};
    my $listen = exists $flags{listen} ? delete $flags{listen}
                                       : '127.0.0.1:' . free_port();
    my @args;
    if (defined $listen) {
        push @args, "--listen=$listen";
        ($port) = $listen =~ /:(\d+)$/ or die "$name: no port in '$listen'";
    }
    die "$name: port unknown (give listen or port)" unless defined $port;
    push @args, map { "--$_=$flags{$_}" } sort keys %flags;

    my $log = File::Temp->new(TEMPLATE => "$name.XXXXXX", TMPDIR => 1,
                              SUFFIX => '.log', UNLINK => 1);
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open(STDOUT, '>>', $log->filename) or POSIX::_exit(126);
        open(STDERR, '>>', $log->filename) or POSIX::_exit(126);
        exec("$BIN_DIR/$name", @args) or POSIX::_exit(127);
    }
    my $d = {name => $name, pid => $pid, port => $port,
             target => "127.0.0.1:$port", log => $log->filename,
             args => \@args, logfile => $log, fibctl => $fibctl_args};
    $running{$pid} = $d;
    _wait_serving($d) if $wait;
    return $d;
}

# Poll health until SERVING; die with the daemon's log if it exits or the
# wait times out.
sub _wait_serving {
    my ($d) = @_;
    my $deadline = Time::HiRes::time() + $START_TIMEOUT;
    while (Time::HiRes::time() < $deadline) {
        if (waitpid($d->{pid}, POSIX::WNOHANG()) == $d->{pid}) {
            delete $running{$d->{pid}};
            die "$d->{name} @{$d->{args}} exited with status " . _status($?)
              . " before serving; its log:\n" . _slurp($d->{log});
        }
        my ($rc, $j) = fibctl($d->{target}, @{$d->{fibctl}}, '--timeout=1s',
                              'health');
        return if $rc == 0 && ($j->{status} // '') eq 'SERVING';
        Time::HiRes::sleep(0.05);
    }
    kill 'KILL', $d->{pid};
    waitpid($d->{pid}, 0);
    delete $running{$d->{pid}};
    die "$d->{name} @{$d->{args}} not SERVING after ${START_TIMEOUT}s; its log:\n"
      . _slurp($d->{log});
}

# Send a signal (default TERM) and wait for the exit. Returns the exit
# status, or 128 + signal number if a signal ended it. A daemon that has not
# exited after 60 s is killed (and the result is 128 + 9).
sub stop {
    my ($d, $sig) = @_;
    return $d->{status} if defined $d->{status};
    kill($sig // 'TERM', $d->{pid});
    my $deadline = Time::HiRes::time() + $STOP_TIMEOUT;
    while (waitpid($d->{pid}, POSIX::WNOHANG()) == 0) {
        if (Time::HiRes::time() > $deadline) {
            kill 'KILL', $d->{pid};
            waitpid($d->{pid}, 0);
            last;
        }
        Time::HiRes::sleep(0.02);
    }
    delete $running{$d->{pid}};
    return $d->{status} = _status($?);
}

# Wait (up to 60 s) for a daemon to exit on its own; returns its status as
# stop() does, or undef if it is still running.
sub wait_exit {
    my ($d) = @_;
    return $d->{status} if defined $d->{status};
    my $deadline = Time::HiRes::time() + $STOP_TIMEOUT;
    while (waitpid($d->{pid}, POSIX::WNOHANG()) == 0) {
        return undef if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.02);
    }
    delete $running{$d->{pid}};
    return $d->{status} = _status($?);
}

sub _status {
    my ($st) = @_;
    return POSIX::WIFSIGNALED($st) ? 128 + POSIX::WTERMSIG($st) : $st >> 8;
}

# Run fibctl against a target: fibctl --target TARGET ARGS. Returns the exit
# code and its decoded JSON line (undef if stdout was not JSON, e.g. after a
# usage error; fibctl's stderr goes to ours).
sub fibctl {
    my ($target, @args) = @_;
    open(my $fh, '-|', "$BIN_DIR/fibctl", '--target', $target, @args)
        or die "fibctl: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my $rc = $? == -1 ? 127 : _status($?);
    my $json = eval { $JSON->decode($out) };
    return ($rc, $json);
}

# The daemon's log lines that are JSON objects, decoded (other lines, such as
# gRPC's own messages, are skipped).
sub log_lines {
    my ($d) = @_;
    my @lines;
    for my $line (split /\n/, _slurp($d->{log})) {
        my $j = eval { $JSON->decode($line) };
        push @lines, $j if ref $j eq 'HASH';
    }
    return @lines;
}

# GET http://127.0.0.1:PORT/metrics (or another path) and parse the text
# format: {status, type (Content-Type), text, value => {'name{labels}' =>
# number}} with series named exactly as the text writes them.
sub metrics {
    my ($port, $path) = @_;
    my $r = HTTP::Tiny->new(timeout => 10)
        ->get("http://127.0.0.1:$port" . ($path // '/metrics'));
    my %v;
    for (split /\n/, $r->{content} // '') {
        next if /^#/ || !/\S/;
        my ($series, $val) = /^(\S+(?:\{.*\})?)\s+(\S+)$/ or next;
        $v{$series} = $val + 0;
    }
    return {status => $r->{status}, type => $r->{headers}{'content-type'},
            text => $r->{content} // '', value => \%v};
}

# Run `promtool check metrics` on a scrape's text: '' when it reports
# nothing, else what it said (and its exit status).
sub promtool_check {
    my ($text) = @_;
    my $in = File::Temp->new(TEMPLATE => 'scrape.XXXXXX', TMPDIR => 1);
    print $in $text;
    close $in;
    my $out = `promtool check metrics <'${\$in->filename}' 2>&1`;
    return $? == 0 ? $out : "exit " . ($? >> 8) . ": $out";
}

# Call CODE every 20 ms until it returns true (then true), or SECONDS pass
# (then false): waiting for an event a test cannot be told of.
sub poll_until {
    my ($secs, $code) = @_;
    my $end = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $end) {
        return 1 if $code->();
        Time::HiRes::sleep(0.02);
    }
    return $code->() ? 1 : 0;
}

# A real nginx (master and `workers` workers, default 1) with the module,
# listening on a free port of 127.0.0.1 for the server block whose body is
# `server`; `http` adds to the http block, `log_level` sets the error log's
# (default warn). Without the module next to FIB_BIN_DIR (the sanitized
# build has none) or without nginx, the whole test is skipped. Returns
# {pid, port, dir (its prefix: logs/ holds its logs), cmd (nginx -p -c, to
# add -s reload)}; nginx is stopped (QUIT) when the test ends.
my @nginxes;
sub start_nginx {
    my (%o) = @_;
    my $bin = File::Spec->rel2abs($BIN_DIR);
    my $module = "$bin/../modules/ngx_http_fib_module.so";
    my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
    Test::More::plan(skip_all => "no module at $module (the sanitized "
                                 . "build has none)") unless -f $module;
    Test::More::plan(skip_all => "no nginx at $nginx") unless -x $nginx;
    my $dir = File::Temp->newdir('nginx.XXXXXX', TMPDIR => 1);
    my $port = free_port();
    mkdir "$dir/logs";
    my $workers = $o{workers} // 1;
    my $level = $o{log_level} // 'warn';
    my $http = $o{http} // 'access_log off;';
    my $server = $o{server} // '';
    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!";
    print $fh <<"EOC";
load_module $module;
daemon off;
master_process on;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/logs/error.log $level;
events { worker_connections 256; }
http {
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    $http
    server {
        listen 127.0.0.1:$port;
        $server
    }
}
EOC
    close $fh;
    my @cmd = ($nginx, '-p', "$dir/", '-c', "$dir/nginx.conf");
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>>', "$dir/logs/stderr.log");
        exec(@cmd) or POSIX::_exit(127);
    }
    my $n = {pid => $pid, port => $port, dir => $dir, cmd => \@cmd};
    push @nginxes, $n;
    my $deadline = Time::HiRes::time() + $START_TIMEOUT;
    until (IO::Socket::INET->new("127.0.0.1:$port")) {
        die "nginx did not listen on $port; its log:\n"
            . _slurp("$dir/logs/error.log") . _slurp("$dir/logs/stderr.log")
            if Time::HiRes::time() > $deadline
               || waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.05);
    }
    return $n;
}

# Headless Chromium (Debian's chromium, or $CHROMIUM_BINARY): the command
# with a throwaway profile and the browser's log (console messages too) on
# stderr, then `extra` flags; budget_ms is --virtual-time-budget (timers
# run at once; fetches are real and pause virtual time while pending).
# browser_dom() loads the URL once and returns the DOM after the budget and
# the browser's stderr; timeout (default 120 s) ends a browser that hangs.
# Without chromium the whole test is skipped.
our $CHROMIUM = $ENV{CHROMIUM_BINARY} // '/usr/bin/chromium';
my @profiles;           # each browser's profile, removed at exit
sub chromium_cmd {
    my (%o) = @_;
    Test::More::plan(skip_all => "no Chromium at $CHROMIUM")
        unless -x $CHROMIUM;
    my $profile = File::Temp->newdir('chromium.XXXXXX', TMPDIR => 1);
    push @profiles, $profile;
    return ($CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
            '--no-first-run', "--user-data-dir=$profile",
            '--enable-logging=stderr', '--v=0',
            '--virtual-time-budget=' . ($o{budget_ms} // 7000),
            @{ $o{extra} // [] });
}
sub browser_dom {
    my ($url, %o) = @_;
    my @cmd = ('timeout', $o{timeout} // 120, chromium_cmd(%o), '--dump-dom',
               $url);
    my $err = File::Temp->new(TEMPLATE => 'chromium-err.XXXXXX', TMPDIR => 1);
    open(my $fh, '-|', join(' ', map { "'$_'" } @cmd) . " 2>'$err'")
        or die "chromium: $!";
    my $dom = do { local $/; <$fh> // '' };
    close $fh;
    return ($dom, _slurp("$err"));
}

# The console messages and page errors in a browser's stderr.
sub browser_console {
    my ($stderr) = @_;
    return grep { /:CONSOLE\(|Uncaught|Refused to/ } split /\n/, $stderr;
}

sub _slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or return '';
    local $/;
    return scalar(<$fh>) // '';
}

END {
    if ($$ == $OWNER) {
        my $saved = $?;
        for my $n (@nginxes) {
            kill 'QUIT', $n->{pid};
            waitpid($n->{pid}, 0);
        }
        for my $d (values %running) {
            kill 'KILL', $d->{pid};
            waitpid($d->{pid}, 0);
        }
        $? = $saved;
    }
}

1;
