#!/usr/bin/env perl
# slowread.pl - a client that reads an HTTP response at a fixed rate, for
# case 10 (curl 7.88's --limit-rate lets megabytes through in seconds).
#
#   slowread.pl HOST PORT PATH RATE SECS OUT
#
# Sends GET PATH over HTTP/1.1, then reads at most RATE bytes per second
# (a read every 100 ms, of what the rate allows so far) for SECS seconds
# or until the response ends, and leaves. Writes the body, de-chunked (a
# chunk cut off by the end is kept as far as it came), to OUT; prints
# "status BYTES_READ" on stdout. Exit 1 if the connection or the status
# line fails.
use strict;
use warnings;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(time sleep);

my ($host, $port, $path, $rate, $secs, $out) = @ARGV;
die "usage: $0 HOST PORT PATH RATE SECS OUT\n" unless defined $out;
my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
    Proto => 'tcp') or die "connect $host:$port: $!\n";
# a small receive buffer, so that the kernel does not read ahead for us
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 16384);
print $s "GET $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n";

my ($raw, $got, $start) = ('', 0, time);
while (time - $start < $secs) {
    my $allowed = int($rate * (time - $start)) - $got;
    if ($allowed > 0) {
        my $n = sysread($s, my $buf, $allowed);
        die "read: $!\n" unless defined $n;
        last if $n == 0;
        $raw .= $buf;
        $got += $n;
    }
    sleep 0.1;
}
close $s;

my ($head, $body) = split /\r\n\r\n/, $raw, 2;
die "no response header in $got bytes\n" unless defined $body;
my ($status) = $head =~ m{^HTTP/1\.1 (\d+)} or die "bad status line\n";
if ($head =~ /^transfer-encoding:\s*chunked/mi) {
    my $plain = '';
    while ($body =~ s/^([0-9a-fA-F]+)\r\n//) {
        my $len = hex $1;
        last if $len == 0;
        $plain .= substr $body, 0, $len;
        last if length $body < $len + 2;
        substr($body, 0, $len + 2) = '';
    }
    $body = $plain;
}
open my $fh, '>:raw', $out or die "$out: $!\n";
print $fh $body;
close $fh;
print "$status $got\n";
