# shellcheck shell=bash
# tools/wait-healthy.sh - sourced by conf/run, tests/with-daemons and
# bench/lib/procs.sh: the one "wait until a daemon answers health".
#
#   wait_healthy FIBCTL HOST:PORT PID SECONDS [FIBCTL_FLAGS...]
#
# Asks grpc.health.v1.Health/Check on HOST:PORT (with the fibctl binary
# FIBCTL) every 0.1 s. Returns 0 once the daemon answers SERVING, 1 as soon
# as process PID has exited (it will never answer), 2 when SECONDS have
# passed. FIBCTL_FLAGS go to fibctl (--tls-ca ... for a daemon that serves
# TLS). Without an executable FIBCTL, a TCP connect counts as an answer.
# The caller says what went wrong: each has its own logs to show.

wait_healthy() {
    local fibctl=$1 target=$2 pid=$3 deadline=$((SECONDS + $4))
    shift 4
    while :; do
        if [[ -n $fibctl && -x $fibctl ]]; then
            # "SERVING" in quotes: NOT_SERVING is not an answer
            "$fibctl" --target "$target" "$@" --timeout 1s health \
                2>/dev/null |
                grep -q '"SERVING"' && return 0
        elif (exec 3<>"/dev/tcp/${target%:*}/${target##*:}") 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 2
        sleep 0.1
    done
}
