# lib/figures.sh - what one load-generator run yields: wrk or h2load
# results (one JSON line per run in results.jsonl), CPU time and RSS of the
# processes. Sourced by bench/run.
# shellcheck shell=bash

# Every started process worth watching, one "pid label" a line: the
# daemons, and each nginx's workers (the master does no work).
watched() {
    local name w
    for name in "${!PID[@]}"; do
        if [[ $name == nginx-* ]]; then
            for w in $(pgrep -P "${PID[$name]}" || true); do
                echo "$w $name worker"
            done
        else
            echo "${PID[$name]} $name"
        fi
    done
}

# One RSS (VmRSS) sample of every watched process, into rss.jsonl.
rss_sample() {   # point
    local label pid kb
    while read -r pid label; do
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        if [[ -n $kb ]]; then
            printf '{"point":"%s","process":"%s","pid":%d,"rss_kb":%d}\n' \
                "$1" "$label" "$pid" "$kb" >>"$RSS"
        fi
    done < <(watched)
}

# CPU time (user + system, clock ticks) every watched process has used so
# far, as a JSON object {"label pid": ticks}. The difference over one run
# tells where that case's CPU went.
cpu_ticks() {
    local label pid t out=
    while read -r pid label; do
        t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true)
        out+="\"$label $pid\":${t:-0},"
    done < <(watched)
    printf '{%s}' "${out%,}"
}
CPU_BEFORE='{}'

# Keep one BENCH_RESULT line, tagged with case/workers/run, after checking
# that the load generator saw no errors at all.
keep_result() {   # case workers run output
    local id=$1 workers=$2 run=$3 out=$4 line errs
    line=$(grep -m1 '^BENCH_RESULT ' "$out") \
        || { tail -n 20 "$out" >&2; why "no result from the load generator (see above)"; return 1; }
    line=${line#BENCH_RESULT \{}
    printf '{"case":"%s","workers":"%s","run":"%s","cpu_before":%s,"cpu_after":%s,%s\n' \
        "$id" "$workers" "$run" "$CPU_BEFORE" "$(cpu_ticks)" "$line" >>"$RESULTS"
    errs=$(perl -MJSON::PP -ne '
        my $e = decode_json($_)->{errors};
        print join(", ", map { "$e->{$_} " . ($_ eq "status"
            ? "non-2xx responses" : "$_ errors") } grep { $e->{$_} } sort keys %$e)' \
        <<<"{$line")
    [[ -z $errs ]] || why "$errs in run $run"
}

# The current round: "warmup" (unmeasured, BENCH_WARMUP seconds) or the
# number of a measured run (BENCH_DURATION seconds).
ROUND=

round_secs() { if [[ $ROUND == warmup ]]; then echo "$WARMUP"; else echo "$DURATION"; fi; }

# One wrk run against URL with a script from bench/wrk. The cold walks
# (walk.lua) start at their case's next unused n.
measure_wrk() {   # case workers url script [script args...]
    local id=$1 workers=$2 url=$3 script=$4
    local out=$RUN/wrk-$id-w$workers-$ROUND.txt
    local conns=${CASE_CONNS[$id]:-$CONNS}
    shift 4
    if [[ $script == walk.lua ]]; then
        set -- "$1" "${COLD_NEXT[$id]}" "$THREADS"
    fi
    CPU_BEFORE=$(cpu_ticks)
    BENCH_WRK_DIR=$BENCH/wrk wrk -t"$THREADS" -c"$conns" -d"$(round_secs)s" \
        --timeout "${TIMEOUT}s" --latency -s "$BENCH/wrk/$script" "$url" ${1+--} "$@" \
        >"$out" 2>&1 || { tail -n 20 "$out" >&2; why "wrk failed"; return 1; }
    keep_result "$id" "$workers" "$ROUND" "$out" || return 1
    if [[ $script == walk.lua ]]; then
        # past every n this run may have asked for, requests in flight too
        cold_advance "$id" $(($(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' \
            "$out") + 2 * conns + THREADS))
    fi
    return 0
}

# Move a cold walk on by COUNT n, back to its first n when its range ends.
cold_advance() {   # case count
    local id=$1
    COLD_NEXT[$id]=$((COLD_NEXT[$id] + $2))
    ((COLD_NEXT[$id] + 2 * CONNS < COLD_LAST[$id])) \
        || COLD_NEXT[$id]=${COLD_FIRST[$id]}
}

# Check a cold walk's next n through URL, and use it up.
check_cold() {   # case url
    local n=${COLD_NEXT[$1]}
    check_fib_json "$2?n=$n" "$n" && cold_advance "$1" 1
}

# GMP alone (tools/gmpbench) for the n that cases 6c and 6m ask, measured
# once before any load, BENCH_RUNS times each; into gmp.jsonl.
gmp_alone() {
    local r c count
    [[ -x $BIN/gmpbench ]] || { say "no $BIN/gmpbench: GMP alone not measured"; return 0; }
    for c in 6c 6m; do
        want $c || continue
        count=$((smoke ? 5 : 200))
        [[ $c == 6m ]] && count=$((smoke ? 1 : 10))
        say "GMP alone for case $c's n (${COLD_FIRST[$c]}.., $count values, $RUNS runs)"
        for ((r = 1; r <= RUNS; r++)); do
            "$BIN/gmpbench" "${COLD_FIRST[$c]}" "$count" \
                | sed "s/^{/{\"case\":\"$c\",/" >>"$RUN/gmp.jsonl" \
                || say "gmpbench failed"
        done
    done
}

# One h2load run of gRPC unary calls (GetFib, FIB_N) at 127.0.0.1:PORT.
measure_h2load() {   # case workers port
    local id=$1 workers=$2 port=$3
    local out=$RUN/h2load-$id-w$workers-$ROUND
    CPU_BEFORE=$(cpu_ticks)
    h2load -c "$H2_CLIENTS" -m "$H2_STREAMS" -t 1 -D "$(round_secs)" \
        -d "$RUN/getfib.bin" -H 'content-type: application/grpc' \
        -H 'te: trailers' --log-file "$out.log" \
        "http://127.0.0.1:$port/fibonacci.Fibonacci/GetFib" \
        >"$out.txt" 2>&1 || { tail -n 20 "$out.txt" >&2; why "h2load failed"; return 1; }
    perl "$BENCH/h2load.pl" "$out.txt" "$out.log" >>"$out.txt" \
        || { why "cannot read h2load's output"; return 1; }
    rm -f "$out.log"
    keep_result "$id" "$workers" "$ROUND" "$out.txt"
}
