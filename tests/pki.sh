#!/usr/bin/env bash
# tests/pki.sh DIR - a throwaway PKI for the TLS tests, made with the openssl
# command line at test time (nothing secret is committed). In DIR:
#   ca.pem              the test CA every daemon and nginx trust
#   server.{pem,key}    CN=localhost, DNS:localhost, IP:127.0.0.1 (servers)
#   rotated.{pem,key}   CN=rotated, DNS:rotated.test, IP:127.0.0.1 (rotation)
#   writer.{pem,key}    CN=fibonacci-service, DNS:fibonacci-service
#   gateway.{pem,key}   CN=nginx-gateway, DNS:nginx-gateway
#   intruder.{pem,key}  CN=intruder, DNS:intruder (trusted CA, not listed)
#   noname.{pem,key}    O=nobody: no CN, no DNS name (trusted CA)
#   expired.{pem,key}   CN=fibonacci-service, valid in 2020 only
#   untrusted.{pem,key} CN=fibonacci-service from another, untrusted CA
# EC P-256 keys; certificates valid for two days from now unless stated.
set -euo pipefail
dir=${1:?usage: tests/pki.sh DIR}
mkdir -p "$dir"
cd "$dir"

ossl() { openssl "$@" 2>/dev/null || { echo "pki.sh: openssl $1 failed" >&2; exit 1; }; }

# ca NAME SUBJECT: a self-signed CA
ca() {
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.pem" -days 2 -subj "$2" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign
}

# leaf NAME SUBJECT SAN [CA]: a key and a certificate signed by CA
leaf() {
    local issuer=${4:-ca} ext
    ext=$(mktemp)
    ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.csr" -subj "$2"
    { echo "basicConstraints=CA:FALSE"
      [[ -n $3 ]] && echo "subjectAltName=$3"; } >"$ext"
    ossl x509 -req -in "$1.csr" -CA "$issuer.pem" -CAkey "$issuer.key" \
        -CAcreateserial -days 2 -extfile "$ext" -out "$1.pem"
    rm -f "$1.csr" "$ext"
}

ca ca "/CN=fib-gateway test CA"
leaf server "/CN=localhost" "DNS:localhost,IP:127.0.0.1"
leaf rotated "/CN=rotated" "DNS:rotated.test,IP:127.0.0.1"
leaf writer "/CN=fibonacci-service" "DNS:fibonacci-service"
leaf gateway "/CN=nginx-gateway" "DNS:nginx-gateway"
leaf intruder "/CN=intruder" "DNS:intruder"
leaf noname "/O=nobody" ""

# expired: `openssl ca` sets explicit dates in the past
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout expired.key -out expired.csr -subj "/CN=fibonacci-service"
: >index.txt
echo 1000 >serial
cat >ca.cnf <<CNF
[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
CNF
ossl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -notext \
    -in expired.csr -out expired.pem \
    -startdate 20200101000000Z -enddate 20200102000000Z
rm -f expired.csr ./*.pem.old 1000.pem

ca other-ca "/CN=some other CA"
leaf untrusted "/CN=fibonacci-service" "DNS:fibonacci-service" other-ca
chmod 600 ./*.key
