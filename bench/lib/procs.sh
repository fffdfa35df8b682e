# lib/procs.sh - the processes bench/run starts: free ports, start-up with
# a readiness wait, stop with escalation, clean-up on exit. Sourced by
# bench/run; uses its RUN, BIN and say.
# shellcheck shell=bash

declare -A PID=()          # name -> pid of every process started here

# Stop a started process with SIGNAL; after 10 s with TERM, after 3 s more
# with KILL (its children too: nginx workers must not outlive a master).
stop() {   # name [signal]
    local name=$1 sig=${2:-TERM} pid=${PID[$1]:-} i kids
    [[ -n $pid ]] || return 0
    unset "PID[$name]"
    kids=$(pgrep -P "$pid" || true)
    kill -"$sig" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 130; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        ((i == 100)) && kill -TERM "$pid" 2>/dev/null
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name (pid $pid) did not stop; killing it"
        # shellcheck disable=SC2086
        kill -KILL "$pid" $kids 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? name
    trap - EXIT INT TERM
    for name in "${!PID[@]}"; do
        case $name in nginx-*) stop "$name" QUIT ;; esac
    done
    for name in "${!PID[@]}"; do stop "$name"; done
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        say "run directory kept: $RUN"
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}

# Free TCP ports on 127.0.0.1, all different: bind to port 0 and let go.
# shellcheck source=../../tools/test-helpers.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/test-helpers.sh"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# shellcheck source=../../tools/wait-healthy.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/wait-healthy.sh"

# Wait until a started process answers on its port: health SERVING for the
# daemons (tools/wait-healthy.sh), a TCP connect for nginx. Fails, with
# the end of the process's log, if it exits or is slow.
wait_ready() {   # name port kind
    local name=$1 port=$2 kind=$3 rc=0 fibctl= tls=()
    [[ $kind == grpc ]] && fibctl=$BIN/fibctl
    # the -tls daemons want a client certificate (TLS_READY_ARGS)
    [[ $name == *-tls ]] && tls=("${TLS_READY_ARGS[@]}")
    wait_healthy "$fibctl" "127.0.0.1:$port" "${PID[$name]}" 10 "${tls[@]}" \
        || rc=$?
    case $rc in
        0) return 0 ;;
        1) say "$name exited during start-up; its log:" ;;
        *) say "$name did not answer on port $port within 10 s; its log:" ;;
    esac
    tail -n 20 "$RUN/$name.log" >&2
    return 1
}

start_daemon() {   # name port command...
    local name=$1 port=$2
    shift 2
    "$@" >"$RUN/$name.log" 2>&1 &
    PID[$name]=$!
    wait_ready "$name" "$port" grpc
}

# The fibonacci-service flag that turns stats reporting off.
stats_off_flags() {
    if "$BIN/fibonacci-service" --help 2>&1 | grep -q -- '--stats-disable'; then
        echo --stats-disable
    else
        echo --stats=
    fi
}
