# lib/cases.sh - which cases run, their outcome (status.tsv) and the
# interleaved measuring rounds. Sourced by bench/run.
# shellcheck shell=bash

# What went wrong in the last failed step (check or run), for status.
REASON=
why() { REASON=$*; return 1; }

want() { [[ $CASES == *" $1 "* ]]; }

status() {   # case workers status reason
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$STATUS"
    say "case $1 (workers $2): $3${4:+ - $4}"
}

skip() {   # case workers reason
    want "$1" && status "$1" "$2" skipped "$3"
    return 0
}

# Cases that answered correctly, as "case|workers|measure|check".
READY=()

# Check one case's answers; if right, queue it for measuring. check and
# measure are command lines (strings) run in this shell.
ready_case() {   # case workers check measure
    local id=$1 workers=$2
    want "$id" || return 0
    say "case $id (workers $workers): ${TITLE[$id]}: checking answers"
    REASON=
    if eval "$3"; then
        READY+=("$id|$workers|$4|$3")
    else
        status "$id" "$workers" failed "wrong answer: $REASON"
    fi
    return 0
}

# Measure the queued cases in rounds: a warm-up round, then run 1 of every
# case, run 2 of every case, ... Interleaving spreads the machine's
# background noise evenly over the cases, which keeps the ratios fair.
measure_ready() {   # label (for RSS samples)
    local rounds=() r entry id workers cmd check
    local -A bad=()
    ((WARMUP > 0)) && rounds+=(warmup)
    for ((r = 1; r <= RUNS; r++)); do rounds+=("$r"); done
    rss_sample "before load $1"
    for ROUND in "${rounds[@]}"; do
        for entry in "${READY[@]}"; do
            IFS='|' read -r id workers cmd check <<<"$entry"
            [[ -z ${bad[$id]:-} ]] || continue
            say "case $id (workers $workers): run $ROUND ($(round_secs) s)"
            REASON=
            if ! eval "$cmd"; then
                bad[$id]=1
                status "$id" "$workers" failed "$REASON"
            fi
        done
        rss_sample "after round $ROUND $1"
    done
    # The load generators see HTTP status only (a gRPC error is a 200 with
    # a grpc-status trailer): check the answers again after the load.
    for entry in "${READY[@]}"; do
        IFS='|' read -r id workers cmd check <<<"$entry"
        [[ -z ${bad[$id]:-} ]] || continue
        REASON=
        if eval "$check"; then
            status "$id" "$workers" ok ""
        else
            status "$id" "$workers" failed "wrong answer after the load: $REASON"
        fi
    done
    READY=()
}
