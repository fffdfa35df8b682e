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

# Case 8 and 8s: whole streams (or the same bytes as a static file), one
# after another on one connection at a time, each read by curl into
# /dev/null, for the round's seconds (at least one). One BENCH_RESULT line
# as wrk's, "requests" being streams, plus MB/s and items/s; a transfer
# that is not HTTP 200 or not the expected size is an error.
measure_stream() {   # case workers url bytes items
    local id=$1 workers=$2 url=$3 bytes=$4 items=$5
    local out=$RUN/stream-$id-w$workers-$ROUND.txt secs
    secs=$(round_secs)
    CPU_BEFORE=$(cpu_ticks)
    perl - "$url" "$bytes" "$items" "$secs" >"$out" 2>&1 <<'PERL' \
        || { tail -n 5 "$out" >&2; why "the stream reader failed"; return 1; }
use strict; use warnings; use Time::HiRes qw(time);
my ($url, $bytes, $items, $secs) = @ARGV;
my (@t, $bad, $got) = ();
my $end = time + $secs;
do {
    my $w = `curl -sS --max-time 120 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' '$url'`;
    my ($code, $size, $tt) = split ' ', $w // '';
    if (($code // '') ne '200' || ($size // -1) != $bytes) {
        $bad++;
        print STDERR "transfer: HTTP ", $code // '?', ", ", $size // '?',
            " bytes (want 200, $bytes)\n";
    } else {
        push @t, $tt * 1e6;
    }
} while (time < $end && !$bad);
my $n = @t;
my $sum = 0; $sum += $_ for @t;
my @s = sort { $a <=> $b } @t;
my $p = sub { $n ? $s[int(($n - 1) * $_[0])] : 0 };
printf 'BENCH_RESULT {"requests":%d,"duration_s":%.6f,"rps":%.4f,'
    . '"bytes":%d,"mb_s":%.3f,"items_s":%.1f,"p50_us":%d,"p75_us":%d,'
    . '"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,'
    . '"errors":{"connect":0,"read":0,"write":0,"status":%d,"timeout":0}}' . "\n",
    $n, $sum / 1e6, $n ? $n / ($sum / 1e6) : 0, $n * $bytes,
    $sum ? $n * $bytes / $sum : 0, $sum ? $n * $items * 1e6 / $sum : 0,
    $p->(0.5), $p->(0.75), $p->(0.9), $p->(0.99), $p->(0.999),
    $n ? $s[-1] : 0, $n ? $sum / $n : 0, $bad // 0;
PERL
    keep_result "$id" "$workers" "$ROUND" "$out"
}

# Case 10: a client reads PATH at RATE bytes/s for SECS seconds
# (slowread.pl), then leaves; RSS of the given processes before, and every
# second while it reads. One JSON line per process into slow.jsonl; what
# was read must be a correct start of the stream.
slow_reader() {   # port path from to rate secs pid:label...
    local port=$1 path=$2 from=$3 to=$4 rate=$5 secs=$6 reader i p kb got
    shift 6
    local -A base=() max=()
    for p; do
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/${p%%:*}/status" 2>/dev/null) \
            || { why "process ${p#*:} is gone"; return 1; }
        base[$p]=$kb max[$p]=$kb
    done
    perl "$BENCH/slowread.pl" 127.0.0.1 "$port" "$path" "$rate" "$secs" \
        "$RUN/slow.body" >"$RUN/slow.out" 2>&1 &
    reader=$!
    for ((i = 0; i < secs; i++)); do
        sleep 1      # a sample a second: there is no event to wait for
        for p; do
            kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/${p%%:*}/status" 2>/dev/null) || continue
            ((kb > max[$p])) && max[$p]=$kb
        done
    done
    wait "$reader" || { why "slow reader: $(head -c 300 "$RUN/slow.out")"; return 1; }
    read -r code got <"$RUN/slow.out"
    [[ $code == 200 ]] || { why "slow reader: HTTP $code"; return 1; }
    REASON=$(perl "$BENCH/verify.pl" fib-ndjson "$RUN/slow.body" "$from" "$to" \
        prefix 2>&1) || { why "slow reader got a wrong stream: $REASON"; return 1; }
    for p; do
        printf '{"process":"%s","pid":%d,"before_kb":%d,"max_kb":%d,"growth_kb":%d,"secs":%d,"rate":%d,"bytes_read":%d}\n' \
            "${p#*:}" "${p%%:*}" "${base[$p]}" "${max[$p]}" \
            $((max[$p] - base[$p])) "$secs" "$rate" "$got" >>"$RUN/slow.jsonl"
    done
}
