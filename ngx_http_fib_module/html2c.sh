#!/bin/sh
# html2c.sh IN OUT - the text file IN as the lines of a C string literal in
# OUT ("...\n" a line), for the module to serve: config.make runs it on
# ngx_http_fib_status.html, so the page is edited as HTML.
set -e
{
    echo "/* made from ${1##*/} by html2c.sh: edit that file instead */"
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$1"
} > "$2.tmp"
mv "$2.tmp" "$2"
