package Test::Nginx::Client;

# The client side of the project's minimal Test::Nginx::Socket: turns the
# request sections of a block into raw HTTP/1.x requests, sends them over a
# plain TCP socket and parses the responses (Content-Length, chunked, HEAD,
# pipelined).
#
# Used only through Test::Nginx::Socket (see the notes at the top of that
# file).  Written for this project after reading openresty's Test::Nginx;
# no code was taken from it.

use strict;
use warnings;

use Errno qw(EAGAIN EWOULDBLOCK EINTR EINPROGRESS);
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use POSIX qw(WNOHANG);
use Socket qw(SHUT_WR);
use Time::HiRes qw(sleep);
use Test::More ();

use Test::Nginx::Server ();

*expand_env = \&Test::Nginx::Server::expand_env;
*bail_out   = \&Test::Nginx::Server::bail_out;

# ---------------------------------------------------------------------------
# Building requests.

# --- more_headers text -> ("Key: value\r\n"..., is_chunked).
sub parse_more_headers {
    my ($text) = @_;
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $text // '') {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# "METHOD [URL [VERSION]]\nbody" -> raw request.  Host and Connection are
# added unless given in more_headers; a body gets a Content-Length (and is
# trimmed) unless the request is chunked or sets its own length.
sub build_request {
    my ($name, $text, $more, $conn) = @_;
    my ($hdrs, $chunked) = parse_more_headers($more);

    my ($line, $body) = split /\n/, $text, 2;
    $line //= '';
    my ($method, $url, $ver) =
        $line =~ /^\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?\s*$/
        or bail_out("$name - Request line is not valid. Should be "
                    . "'meth [url [version]]' but got \"$line\".");
    $url //= '/';
    $ver //= 'HTTP/1.1';
    $body //= '';

    my $extra = '';
    $extra .= "Host: $Test::Nginx::Server::ServerName\r\n"
        if $hdrs !~ /^Host:/mi;
    $extra .= "Connection: $conn\r\n" if $hdrs !~ /^Connection/mi;

    my $len = '';
    if (!$chunked && $body ne '' && $hdrs !~ /^Content-Length:/mi) {
        $body =~ s/^\s+|\s+$//g;
        $len = 'Content-Length: ' . length($body) . "\r\n";
    }

    my $head = "$method $url $ver\r\n$extra$hdrs$len\r\n";
    return ($head, $body, length($line) + 1);
}

# Like build_request, for a request given as packets: the packets keep
# their boundaries (moved by what was added to the head) and delays.
sub build_packets {
    my ($name, $packets, $more, $conn) = @_;
    my @values = map { ref $_ eq 'HASH' ? $_->{value} : $_ } @$packets;
    my ($head, $body, $line_len) =
        build_request($name, join('', @values), $more, $conn);
    my $raw = $head . $body;

    # a boundary inside the request line stays put; one in the body moves
    # by the length of the added headers.
    my $shift = length($head) - $line_len;
    my ($offset, $prev, @out) = (0, 0);
    for my $i (0 .. $#values) {
        $offset += length $values[$i];
        my $end = $i == $#values ? length $raw
                : $offset < $line_len ? $offset
                : $offset + $shift;
        $end = length $raw if $end > length $raw;
        $end = $prev if $end < $prev;
        my %pkt = ref $packets->[$i] eq 'HASH' ? %{ $packets->[$i] } : ();
        $pkt{value} = substr $raw, $prev, $end - $prev;
        push @out, \%pkt;
        $prev = $end;
    }
    return \@out;
}

# The block's requests: a list of requests, each a list of packets
# ({ value => bytes, delay_before => seconds }).
sub requests_from_block {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [[ map { { value => $_ } } ref $raw eq 'ARRAY' ? @$raw : $raw ]];
    }

    my $more = $block->more_headers // '';
    my $more_for = sub {
        my $i = shift;
        return $more unless ref $more eq 'ARRAY';
        return $more->[$i]
            // bail_out("$name - --- more_headers lacks data for request $i");
    };

    if (my $reqs = $block->pipelined_requests) {
        ref $reqs eq 'ARRAY'
            or bail_out("$name - invalid entries in --- pipelined_requests");
        my $raw = '';
        for my $i (0 .. $#$reqs) {
            my $text = expand_env($reqs->[$i], $name, $rand_ports);
            my ($head, $body) = build_request($name, $text, $more_for->($i),
                                   $i == $#$reqs ? 'close' : 'keep-alive');
            $raw .= $head . $body;
        }
        return [[ { value => $raw } ]];
    }

    my $request = $block->request;
    defined $request or bail_out("$name - request empty");
    if (!ref $request) {
        1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//s;
        my ($head, $body) = build_request($name, $request, $more_for->(0),
                                          'close');
        return [[ { value => $head . $body } ]];
    }
    ref $request eq 'ARRAY'
        or bail_out("$name - invalid --- request: MUST be string or array "
                    . "of requests");

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        if (ref $one eq 'ARRAY') {
            push @list, build_packets($name, $one, $more_for->($i), 'close');
        } else {
            my ($head, $body) = build_request($name, $one, $more_for->($i),
                                              'close');
            push @list, [ { value => $head . $body } ];
        }
    }
    return \@list;
}

# ---------------------------------------------------------------------------
# Sending.

our $ConnectFailures = 0;

sub connect_server {
    my ($name, $timeout) = @_;
    my ($host, $port) = ($Test::Nginx::Server::ServerAddr,
                         $Test::Nginx::Server::ClientPort);
    my $max = $ConnectFailures ? 20 : 50;
    my $s = $Test::Nginx::Server::Sleep;

    for my $try (1 .. $max) {
        my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                         Proto => 'tcp', Timeout => $timeout);
        return $sock if $sock;
        my $err = "$!";

        my $child = $Test::Nginx::Server::ChildPid;
        if (defined $child && waitpid($child, WNOHANG) != 0) {
            Test::More->builder->no_ending(1);
            Test::More::fail("$name - Can't connect to $host:$port: $err "
                             . "(aborted): nginx exited\n");
            undef $Test::Nginx::Server::ChildPid;
            return;
        }

        my $wait = ($s + $s * $try) * $try / 2;
        $wait = 1 if $wait > 1;
        warn "$name - Can't connect to $host:$port: $err\n" if $wait >= 0.6;
        sleep $wait;
    }

    my $msg = "$name - Can't connect to $host:$port: $! (aborted)\n";
    bail_out($msg) if ++$ConnectFailures >= 3;
    Test::More->builder->no_ending(1);
    Test::More::fail($msg);
    return;
}

# Sends one request (a list of packets) and reads until the server closes
# the connection or nothing arrives for $timeout seconds.  On a timeout the
# test fails unless the block has --- abort.  Returns the raw response.
sub send_request {
    my ($block, $packets, $timeout) = @_;
    my $name = $block->name;
    my $sock = connect_server($name, $timeout) or return '';
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @queue = map { { %$_ } } @$packets;
    my $middle_delay = $block->raw_request_middle_delay;
    my ($resp, $writing, $first) = ('', 1, 1);
    my $sel = IO::Select->new($sock);

    while (1) {
        if ($writing && @queue && $queue[0]{value} eq '') {
            shift @queue;
            if (!@queue) {
                $writing = 0;
                if (defined(my $how = $block->shutdown)) {
                    shutdown($sock, $how =~ /^\s*$/ ? SHUT_WR : $how);
                }
                next;
            }
            my $delay = $queue[0]{delay_before} // $middle_delay;
            sleep $delay if $delay;
        }
        $writing = 0 if !@queue;

        $! = 0;
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            next if $!{EINTR};
            close $sock;
            if (!defined $block->abort) {
                Test::More->builder->no_ending(1);
                Test::More::fail("ERROR: client socket timed out - $name\n");
            }
            return $resp;
        }

        if ($w && @$w) {
            my $n = syswrite $sock, $queue[0]{value};
            if (defined $n) {
                substr($queue[0]{value}, 0, $n) = '';
            } elsif (!$!{EAGAIN} && !$!{EWOULDBLOCK}) {
                warn "write failed: $!\n";
                $resp = "write failed: $!" if $resp eq '';
                $writing = 0;
                @queue = ();
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $buf, 65536;
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK};
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }
    close $sock;
    return $resp;
}

# ---------------------------------------------------------------------------
# Parsing responses.

# raw bytes -> (HTTP::Response or undef, raw header text, bytes after the
# response).  Chunked bodies are decoded; a Content-Length body is cut to
# its length and the rest returned (pipelining).  A broken chunked body
# fails the test.
sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /^(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        $code = undef;
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);
    my $left;

    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    if (defined $te && $te eq 'chunked') {
        my $body = $res->content // '';
        my $decoded = '';
        pos($body) = 0;
        while (1) {
            if ($body =~ /\G0[ \t]*\r\n(?:[^\r\n]+\r\n)*\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }
            if ($body =~ /\G[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n/gc) {
                my $size = hex $1;
                my $start = pos $body;
                if (length($body) - $start < $size + 2
                    || substr($body, $start + $size, 2) ne "\r\n")
                {
                    return chunk_error($name, $res, $raw_headers,
                        "invalid chunked data received (not enough octets "
                        . "for the data section or no CRLF)");
                }
                $decoded .= substr $body, $start, $size;
                pos($body) = $start + $size + 2;
                next;
            }
            return chunk_error($name, $res, $raw_headers,
                $body =~ /\G(.+)/gcs ? "invalid chunked body received: $1"
                                     : "no last chunk found - $body");
        }
        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        my $body = $res->content // '';
        if (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        } elsif (length $body < $len && !$head_req) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($body) . "\n";
        }
    }
    return ($res, $raw_headers, $left);
}

sub chunk_error {
    my ($name, $res, $raw_headers, $msg) = @_;
    Test::More->builder->no_ending(1);
    Test::More::fail("$name - $msg");
    return;
}

1;
