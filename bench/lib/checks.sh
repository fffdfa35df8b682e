# lib/checks.sh - correct answers before (and after) the load: HTTP 200 and
# the right JSON, or grpc-status 0 and the right reply. A failed check sets
# REASON. Sourced by bench/run; the values are checked by verify.pl.
# shellcheck shell=bash

# GET url into file; fails unless the status is 200.
get_200() {   # url file
    local code
    code=$(curl -sS --max-time 10 -o "$2" -w '%{http_code}' "$1" 2>"$2.err") \
        || why "curl $1: $(cat "$2.err")" || return 1
    [[ $code == 200 ]] || why "$1 answered HTTP $code: $(head -c 300 "$2")"
}

check_fib_json() {   # url n
    local f=$RUN/check.body
    get_200 "$1" "$f" || return 1
    REASON=$(perl "$BENCH/verify.pl" fib-json "$f" "$2" 2>&1) \
        || why "$1: $REASON"
}

# Case 1: exactly the body the module gives for /fib?n=FIB_N.
check_body() {   # url
    local f=$RUN/check.body
    get_200 "$1" "$f" || return 1
    cmp -s "$f" <(printf %s "$fib_body") \
        || why "$1 answered $(head -c 200 "$f"), want $fib_body"
}

# Case 7: STATS_N distinct n, each recorded once, sorted.
check_stats() {   # url
    local f=$RUN/check.body
    get_200 "$1" "$f" || return 1
    REASON=$(perl "$BENCH/verify.pl" stats-json "$f" "$STATS_N" 2>&1) \
        || why "$1: $REASON"
}

# One GetFib(FIB_N) over HTTP/1.1 (http1) or HTTP/2 (h2c): grpc-status 0
# in the trailers and the right reply.
check_grpc() {   # url http1|h2c
    local f=$RUN/check.grpc proto=--http1.1
    [[ $2 == h2c ]] && proto=--http2-prior-knowledge
    curl -sS --max-time 10 "$proto" -D "$f.headers" -o "$f.body" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        --data-binary @"$RUN/getfib.bin" "$1" 2>"$f.err" \
        || why "curl $1: $(cat "$f.err")" || return 1
    REASON=$(perl "$BENCH/verify.pl" grpc-fib "$f.headers" "$f.body" "$FIB_N" 2>&1) \
        || why "$1: $REASON"
}

# Cases 8 and 8s: the whole NDJSON stream of /fib?from=FROM&to=TO, exact.
# The body is kept in FILE when given (8s serves it as a static file).
check_stream() {   # url from to [file]
    local f=${4:-$RUN/check.stream}
    get_200 "$1" "$f" || return 1
    REASON=$(perl "$BENCH/verify.pl" fib-ndjson "$f" "$2" "$3" 2>&1) \
        || why "$1: $REASON"
}

# Case 9b: a batch answers every n of the list, exactly and in order (9u,
# the same n one per request, is checked with check_fib_json).
check_batch() {   # url list
    local f=$RUN/check.body
    get_200 "$1" "$f" || return 1
    REASON=$(perl "$BENCH/verify.pl" fib-batch "$f" "$2" 2>&1) \
        || why "$1: $REASON"
}
