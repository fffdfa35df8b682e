# lib/nginx.sh - an nginx instance per configuration, with its own prefix
# directory under the run directory (never /etc/nginx). Sourced by
# bench/run; uses its NGINX, MODULE, RUN and PID.
# shellcheck shell=bash

# Write PREFIX/nginx.conf: the common part, then the server blocks given.
nginx_conf() {   # prefix workers load_module(0/1) servers
    local prefix=$1 workers=$2 load=$3 servers=$4
    mkdir -p "$prefix/tmp" "$prefix/html"
    {
        ((load)) && echo "load_module $MODULE;"
        cat <<CONF
daemon off;
worker_processes $workers;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    default_type application/json;
    client_body_temp_path $prefix/tmp/client_body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;

$servers
}
CONF
    } >"$prefix/nginx.conf"
}

start_nginx() {   # name prefix port...
    local name=$1 prefix=$2 port
    shift 2
    if ! "$NGINX" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
            -t -q >"$RUN/$name.log" 2>&1; then
        say "$name: nginx rejects the generated config:"
        cat "$RUN/$name.log" >&2
        return 1
    fi
    "$NGINX" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
        >>"$RUN/$name.log" 2>&1 &
    PID[$name]=$!
    for port; do
        wait_ready "$name" "$port" tcp || { tail -n 20 "$prefix/error.log" >&2; return 1; }
    done
}

# Escape a string for a single-quoted nginx config parameter.
nginx_quote() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\'/\\\'}
    s=${s//$'\n'/\\n}
    printf "'%s'" "$s"
}
