# shellcheck shell=bash
# tools/test-helpers.sh - sourced by the test and benchmark scripts
# (bench/, tests/containers, tests/debian): the one way they take free
# ports and wait for an event.
#
#   free_ports COUNT      prints COUNT ports of 127.0.0.1, free a moment ago
#                         (all bound at once, so they differ)
#   free_port             prints one
#   wait_for SECONDS CMD  runs CMD every 0.1 s until it succeeds (0), or
#                         returns 1 when SECONDS have passed

free_ports() {   # count
    perl -MIO::Socket::INET -e '
        my @s = map { IO::Socket::INET->new(Listen => 1, ReuseAddr => 1,
            LocalAddr => "127.0.0.1", LocalPort => 0) or die "bind: $!" }
            1 .. $ARGV[0];
        print join(" ", map { $_->sockport } @s), "\n";' "$1"
}

free_port() { free_ports 1; }

wait_for() {   # seconds command...
    local until=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < until)) || return 1
        sleep 0.1
    done
}
