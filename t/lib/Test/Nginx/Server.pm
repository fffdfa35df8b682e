package Test::Nginx::Server;

# The nginx side of the project's minimal Test::Nginx::Socket: the settings
# the test files change (port, log level, workers, ...), the server root
# t/servroot, the nginx.conf written for each block, and starting, reloading
# (HUP mode), stopping and valgrind-checking the nginx process.
#
# Used only through Test::Nginx::Socket (see the notes at the top of that
# file).  Written for this project after reading openresty's Test::Nginx;
# no code was taken from it.

use strict;
use warnings;

use Cwd ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use File::Temp ();
use IO::Socket::INET ();
use POSIX qw(WNOHANG SIGQUIT SIGTERM SIGKILL SIGHUP SIGUSR1);
use Time::HiRes qw(sleep time);
use Test::More ();

# ---------------------------------------------------------------------------
# Settings.  Defaults and environment variables follow the real module.

our $ServerAddr   = '127.0.0.1';
our $ServerName   = 'localhost';
our $ServerPort   = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                    || 1984;
our $ClientPort   = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $NginxBinary  = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers      = 1;
our $WorkerConnections = 64;
our $LogLevel     = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcess = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $Daemon       = 'on';
our $Timeout      = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep        = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $UseHup       = $ENV{TEST_NGINX_USE_HUP};
our $UseValgrind  = $ENV{TEST_NGINX_USE_VALGRIND};
our $Verbose      = $ENV{TEST_NGINX_VERBOSE};
our $LoadModules  = $ENV{TEST_NGINX_LOAD_MODULES};
our $NoRootLocation = 0;
our $ConfigPreamble = '';
our @EnvToNginx;

if ($UseValgrind) {
    # nginx stays in the foreground so that valgrind watches it to the end.
    $Daemon = 'off';
}

our $ServRoot = $ENV{TEST_NGINX_SERVROOT}
                || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# State.
our $ConfigVersion = '';    # answered by /ver in HUP mode
our $ChildPid;              # nginx started by us in the foreground (valgrind)
our $ValgrindDir;           # valgrind's per-process logs
our $ErrLogPos = 0;         # how far error_log_data() has read

sub verbose { warn @_ if $Verbose }

sub bail_out {
    stop_nginx('bail out');
    Test::More::BAIL_OUT(join '', @_);
}

# ---------------------------------------------------------------------------
# Helpers.

# A daemonized nginx is not our child: once it exits it may stay a zombie
# until whoever adopted it reaps it, so a zombie counts as gone.
sub is_running {
    my $pid = shift;
    return 0 unless $pid;
    waitpid($pid, WNOHANG) if defined $ChildPid && $pid == $ChildPid;
    return 0 unless kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $stat = <$st> // '';
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

# "1.5", "1.5s" and "500ms" -> seconds.
sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    return $1 if $t =~ /^([\d.]+)s?$/;
    return $t;
}

sub find_binary {
    my $cmd = shift;
    if ($cmd =~ m{/}) {
        return -x $cmd ? $cmd : undef;
    }
    for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/usr/local/sbin') {
        next unless length $dir;
        return "$dir/$cmd" if -f "$dir/$cmd" && -x _;
    }
    return undef;
}

our ($NginxPath, $NginxV);

sub nginx_path {
    $NginxPath //= find_binary($NginxBinary)
        // bail_out("Cannot find the nginx executable \"$NginxBinary\" "
                    . "(set TEST_NGINX_BINARY or PATH)");
    return $NginxPath;
}

# Output of nginx -V, used to leave out temp paths of modules built out.
sub nginx_V {
    $NginxV //= `'${\ nginx_path()}' -V 2>&1`;
    return $NginxV;
}

# A port nobody listens on, for $TEST_NGINX_RAND_PORT_N.
sub random_port {
    my $used = shift;
    for (1 .. 1000) {
        my $port = 1988 + int rand 63000;
        next if $used->{$port};
        my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                      LocalPort => $port, Listen => 1,
                                      ReuseAddr => 1, Proto => 'tcp');
        next unless $s;
        close $s;
        return $port;
    }
    return undef;
}

# Replaces $TEST_NGINX_XXX with the environment's value; a missing variable
# is a fatal error as in the real module.  $rand_ports keeps the
# $TEST_NGINX_RAND_PORT_N choices of one block.
sub expand_env {
    my ($text, $name, $rand_ports) = @_;
    return $text unless defined $text && !ref $text;
    $rand_ports //= {};
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $rand_ports->{$var} //= random_port(
                { $ServerPort => 1, map { $_ => 1 } values %$rand_ports })
                // bail_out("$name - no free port for $var");
            $rand_ports->{$var};
        } else {
            defined $ENV{$var}
                or bail_out("$name - No environment $var defined.\n");
            $ENV{$var};
        }
    }ge;
    return $text;
}

# ---------------------------------------------------------------------------
# Server root and configuration.

# Fresh t/servroot (conf/ html/ logs/).  In HUP mode the running nginx keeps
# its pid file, so only files are removed and directories stay.
sub setup_server_root {
    my ($keep_pid) = @_;

    if (-d $ServRoot) {
        remove_tree($ConfDir, glob("$ServRoot/*_temp"),
                    glob("$ServRoot/*_cache"));
        if ($keep_pid) {
            for my $f (grep { -f } glob("$LogDir/* $HtmlDir/*")) {
                next if $f eq $PidFile;
                unlink $f or warn "cannot remove $f: $!\n";
            }
            remove_tree(grep { -d } glob("$HtmlDir/*"));
        } else {
            remove_tree($HtmlDir, $LogDir, "$ServRoot/cache");
        }
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        make_path($dir) or bail_out("Failed to mkdir $dir: $!");
    }

    write_file("$HtmlDir/index.html", '<html><head><title>It works!</title>'
               . '</head><body>It works!</body></html>');
}

sub write_file {
    my ($path, $data) = @_;
    if ($path =~ m{^(.*)/} && !-d $1) {
        make_path($1) or bail_out("Cannot create directory $1: $!");
    }
    open my $out, '>', $path or bail_out("Cannot open $path for writing: $!");
    binmode $out;
    print $out $data;
    close $out;
}

# --- user_files: ">>> name [date]" lines, each followed by the file's
# content; relative names are put under html/.  An eval'd array of
# [name, content, date] is accepted too.
sub write_user_files {
    my ($block, $rand_ports) = @_;
    my $files = $block->user_files;
    return unless defined $files;
    my $name = $block->name;

    my @files;
    if (ref $files eq 'ARRAY') {
        @files = @$files;
    } elsif (ref $files) {
        bail_out("$name - user_files must be text or an ARRAY");
    } else {
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @files, [$1, '', $2];
            } elsif (@files) {
                $files[-1][1] .= $line;
            }
        }
    }

    for my $f (@files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        write_file($path, expand_env($body // '', $name, $rand_ports));
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("$name - cannot set the date of $path");
        }
    }
}

# nginx.conf for one block, laid out like the real module's.
sub write_config {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $main_config = expand_env($block->main_config // '', $name, $rand_ports);
    my $post_main   = expand_env($block->post_main_config // '', $name,
                                 $rand_ports);
    my $http_config = expand_env($block->http_config // '', $name,
                                 $rand_ports);
    my $server_name = $block->server_name // $ServerName;
    my $log_level   = $block->log_level // $LogLevel;
    my $master      = $UseHup ? 'on' : $MasterProcess;

    if ($LoadModules) {
        $main_config = join(' ', map { "load_module $_;" }
                                 grep { length } split /\s+/, $LoadModules)
                       . " $main_config";
    }

    my $env = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" }
                           qw(LD_PRELOAD LD_LIBRARY_PATH ASAN_OPTIONS),
                           @EnvToNginx;

    my $temp_paths = '';
    for my $m (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if nginx_V() =~ /--without-http_${m}_module/;
        next if $http_config =~ /\b${m}_temp_path\b/;
        $temp_paths .= " ${m}_temp_path $ServRoot/${m}_temp;";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $hup_server = !$UseHup ? '' : <<"_EOC_";
    server {
        listen          $ServerPort;
        server_name     'Test-Nginx';

        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
_EOC_

    my $user = $> == 0 ? "user root;\n" : '';

    write_file($ConfFile, <<"_EOC_");
worker_processes  $Workers;
daemon $Daemon;
master_process $master;
error_log $ErrLogFile $log_level;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;$temp_paths

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort;
        server_name     '$server_name';
        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
$hup_server}

$post_main

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
}
$user
_EOC_
}

# ---------------------------------------------------------------------------
# Processes.

sub pid_from_file {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return undef unless defined $pid && $pid =~ /^\s*(\d+)/;
    return $1;
}

# QUIT (graceful), then TERM, then KILL; waits until the process is gone.
sub kill_process {
    my ($pid, $name) = @_;
    return unless is_running($pid);

    verbose("$name - sending QUIT to $pid\n");
    kill SIGQUIT, $pid;
    my $deadline = time + $Timeout + ($UseValgrind ? 10 : 0);
    sleep 0.02 while is_running($pid) && time < $deadline;

    for (1 .. 20) {
        return unless is_running($pid);
        kill SIGTERM, $pid;
        sleep 0.1;
    }

    warn "$name - killing nginx $pid with SIGKILL\n";
    kill SIGKILL, $pid;
    sleep 0.05 while is_running($pid) && time < $deadline + 5;
}

sub stop_nginx {
    my ($name) = @_;
    my $pid = pid_from_file();
    $pid = $ChildPid if !$pid && $ChildPid;
    kill_process($pid, $name) if $pid;
    if (defined $ChildPid) {
        kill_process($ChildPid, $name);
        waitpid($ChildPid, 0);
        undef $ChildPid;
    }
    unlink $PidFile if -f $PidFile && !is_running(pid_from_file());
}

sub nginx_command {
    my @cmd = (nginx_path(), '-e', $ErrLogFile, '-p', "$ServRoot/",
               '-c', $ConfFile);
    if ($UseValgrind) {
        $ValgrindDir //= File::Temp::tempdir('nginx-valgrind-XXXXXX',
                                             TMPDIR => 1, CLEANUP => 1);
        my @opts;
        if ($UseValgrind =~ /^\d+$/) {
            @opts = ('--num-callers=100', '-q', '--tool=memcheck',
                     '--leak-check=full', '--show-possibly-lost=no',
                     '--gen-suppressions=all');
            push @opts, '--suppressions=valgrind.suppress'
                if -f 'valgrind.suppress';
        } else {
            @opts = ('-q', split ' ', $UseValgrind);
        }
        unshift @cmd, 'valgrind', @opts,
                      "--log-file=$ValgrindDir/valgrind.%p.log";
    }
    return @cmd;
}

# Starts nginx for a block.  Returns (exit status, stderr) when nginx ran as
# a daemon (status 0 = started); in valgrind mode nginx runs in the
# foreground as our child and (0, '') is returned at once.
sub start_nginx {
    my ($name) = @_;
    my @cmd = nginx_command();
    verbose("$name - starting: @cmd\n");

    if ($UseValgrind) {
        warn "$name\n";
        my $pid = fork // bail_out("$name - fork failed: $!");
        if ($pid == 0) {
            setpgrp(0, 0);
            open STDOUT, '>', '/dev/null';
            open STDERR, '>>', "$ValgrindDir/nginx-stderr.txt";
            exec @cmd or POSIX::_exit(127);
        }
        $ChildPid = $pid;
        sleep $Sleep;
        return (0, '');
    }

    my $errfile = File::Temp->new;
    my $pid = fork // bail_out("$name - fork failed: $!");
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $errfile->filename;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $status = $?;
    my $stderr = do { local $/; open my $in, '<', $errfile->filename; <$in> };
    $stderr //= '';
    print STDERR $stderr;    # as the real module, which leaves it alone
    return ($status, $stderr);
}

# Sends USR1 (reopen logs) and HUP (reload) to the running master and waits
# until the new configuration answers /ver with $ConfigVersion.
sub reload_nginx {
    my ($name, $pid) = @_;
    kill SIGUSR1, $pid or return 0;
    sleep $Sleep;
    kill SIGHUP, $pid or return 0;
    sleep $Sleep * 3;

    my $ok = 0;
    for my $try (1 .. 200) {
        my $ver = http_get_ver();
        if (defined $ver && $ver eq $ConfigVersion) {
            return 1 if ++$ok >= 20;
            next;
        }
        $ok = 0;
        my $wait = ($Sleep + $Sleep * $try) * $try / 2;
        sleep($wait > 1 ? 1 : $wait);
    }
    Test::More->builder->no_ending(1);
    Test::More::fail("$name - failed to reload configuration after 200 "
                     . "failed test requests");
    return 1;
}

sub http_get_ver {
    my $s = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                  PeerPort => $ServerPort,
                                  Proto => 'tcp', Timeout => 2) or return;
    print $s "GET /ver HTTP/1.0\r\nHost: Test-Nginx\r\n\r\n";
    local $/;
    my $resp = <$s>;
    close $s;
    return unless defined $resp && $resp =~ /\r\n\r\n(.*)\z/s;
    return $1;
}

# ---------------------------------------------------------------------------
# Logs.

# Lines of the error log written since the last call (since the start of
# the block: the runner resets $ErrLogPos).
sub error_log_data {
    sleep $Sleep * 3;    # let nginx finish its log-phase lines
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogPos, 0 if $ErrLogPos > 0;
    my @lines = <$in>;
    $ErrLogPos = tell $in;
    close $in;
    return \@lines;
}

# Valgrind runs with -q, so all it logs is errors and leaks not covered by
# ./valgrind.suppress.  Its log -> list of reports, each
# { head => first line, text => whole report, frames => [stack lines] }.
sub valgrind_reports {
    my ($text) = @_;
    my (@reports, $cur);
    for my $line (split /\n/, $text) {
        next unless $line =~ /^==\d+== (.*)/;    # skips suppression blocks
        my $body = $1;
        if ($body !~ /\S/) {
            undef $cur;
        } elsif ($body =~ /^\s+(?:at|by) 0x[0-9A-Fa-f]+: (.*)/) {
            push @{ $cur->{frames} }, $1 if $cur;
            $cur->{text} .= "$line\n" if $cur;
        } elsif ($cur) {
            $cur->{text} .= "$line\n";
        } else {
            $cur = { head => $body, text => "$line\n", frames => [] };
            push @reports, $cur;
        }
    }
    return @reports;
}

# A leak whose whole stack lies in the nginx executable and the system
# libraries it links is nginx's own memory, which nginx never frees at
# exit by design; such leaks are shown but do not fail.  Every other report
# (invalid reads and writes, uninitialised values, bad frees, leaks through
# a module or another library) fails.
sub valgrind_report_fails {
    my ($r) = @_;
    return 1 unless $r->{head} =~ /\bare (?:definitely|indirectly|possibly) lost\b/;
    my $nginx = quotemeta nginx_path();
    my $system = qr{ \(in\ (?: $nginx
                             | \S*/(?:vgpreload_\S+|ld-linux\S*|lib(?:c|m|crypt
                                 |crypto|ssl|pcre\S*|z)\.so[.\d]*) ) \)$ }x;
    return 1 if grep { $_ !~ $system } @{ $r->{frames} };
    return 0;
}

# Turns what valgrind wrote about the nginx processes that have exited
# since the last call into failed tests (one per process log).
sub check_valgrind {
    my ($name) = @_;
    return unless $UseValgrind && defined $ValgrindDir;
    for my $log (sort glob("$ValgrindDir/valgrind.*.log")) {
        open my $in, '<', $log or next;
        my $text = do { local $/; <$in> } // '';
        close $in;
        unlink $log;

        my @reports = valgrind_reports($text);
        my @bad = grep { valgrind_report_fails($_) } @reports;
        if (!@bad) {
            warn "$name - valgrind: nginx's own exit-time allocation: "
                 . "$_->{head}\n" for @reports;
            next;
        }
        Test::More->builder->no_ending(1);
        Test::More::fail("$name - valgrind reports " . scalar(@bad)
                         . " problem(s), the first: $bad[0]{head}");
        Test::More::diag(join "\n", map { $_->{text} } @bad);
    }
}

1;
