#!/usr/bin/env bash
# build.sh - build, test, run and benchmark the Fibonacci gateway.
#
#   ./build.sh            install missing Debian packages, build everything
#   ./build.sh test       build, then run every test (unit, ASan, integration,
#                         Test::Nginx, benchmark smoke)
#   ./build.sh run        build, then run stats-service (5002),
#                         fibonacci-service (5001) and nginx (3002) in the
#                         foreground; Ctrl-C stops all three
#   ./build.sh bench      build, then run the benchmarks (bench/run)
#   ./build.sh module     build only the nginx module
#   ./build.sh clean
#
# Everything is built out of tree into build/ (BUILD=... to change it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}
cd "$ROOT"

# Debian packages the project needs, to build, to test and to run.
PACKAGES=(
    build-essential pkg-config
    libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev
    libgmp-dev uthash-dev libjansson-dev check libmicrohttpd-dev
    libsqlite3-dev libpq-dev postgresql-15
    nginx nginx-dev systemd
    nghttp2-client wrk valgrind curl procps openssl libssl-dev prometheus
    chromium
    libtest-base-perl libtest-longstring-perl libtext-diff-perl
    liblist-moreutils-perl libwww-perl libipc-run-perl liburi-perl
    nodejs npm
    debhelper adduser podman mmdebstrap runc docker-compose
)

log() { printf '\n==> %s\n' "$*" >&2; }

install_deps() {
    # SKIP_DEPS=1: the caller installed what it needs (the Dockerfile does)
    [[ ${SKIP_DEPS:-0} == 1 ]] && return 0
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        # node may come from elsewhere (nodesource); any working node will do
        if [[ $p == nodejs || $p == npm ]] && command -v "${p/nodejs/node}" \
                >/dev/null 2>&1; then
            continue
        fi
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}"
}

build_daemons() {
    log "building daemons into $BUILD"
    make -s -j"$JOBS" BUILD="$BUILD" all
}

build_asan() {
    log "building daemons with AddressSanitizer + UBSan into $BUILD/asan"
    make -s -j"$JOBS" BUILD="$BUILD/asan" SAN=1 all unit-build
}

# The nginx module, against the installed Debian nginx (nginx-dev).
build_module() {
    log "building ngx_http_fib_module against $(nginx -v 2>&1)"
    local src=$BUILD/nginx-src
    if [[ ! -x $src/configure || /usr/share/nginx/src/configure -nt $src/configure ]]; then
        rm -rf "$src"
        mkdir -p "$BUILD"
        cp -a /usr/share/nginx/src "$src"
    fi
    (
        cd "$src"
        # shellcheck disable=SC1091
        source ./conf_flags
        if [[ ! -f objs/Makefile || $ROOT/config -nt objs/Makefile
              || $ROOT/config.make -nt objs/Makefile ]]; then
            ./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$ROOT" \
                >"$BUILD/nginx-configure.log" 2>&1 \
                || { cat "$BUILD/nginx-configure.log"; exit 1; }
        fi
        make -s -j"$JOBS" -f objs/Makefile modules
    )
    mkdir -p "$BUILD/modules"
    # a new file, renamed into place: a running nginx keeps the old mapping
    cp "$src/objs/ngx_http_fib_module.so" "$BUILD/modules/.fib.so.tmp"
    mv -f "$BUILD/modules/.fib.so.tmp" "$BUILD/modules/ngx_http_fib_module.so"
}

build_all() {
    install_deps
    build_daemons
    if [[ -f $ROOT/config ]]; then build_module; fi
}

case "${1:-build}" in
    build)  build_all ;;
    module) install_deps; build_module ;;
    test)   build_all; build_asan; exec "$ROOT/tests/run" "$BUILD" ;;
    run)    build_all; exec "$ROOT/conf/run" "$BUILD" ;;
    bench)  build_all; exec "$ROOT/bench/run" "$BUILD" ;;
    clean)  rm -rf "$BUILD" ;;
    *)      sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
