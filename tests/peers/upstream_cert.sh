#!/bin/sh
# upstream_cert.sh DIR NAME... - a throwaway CA (DIR/upca.crt, .key) and an ECDSA server certificate for the
# names (DIR/up.crt, DIR/up.key; the first name is the CN), for the HTTPS upstreams tests, the demo and the
# benchmarks start. Exit status: openssl's.
set -e
d=$1
shift
san=""
for n in "$@"; do san="$san${san:+,}DNS:$n"; done
openssl ecparam -name prime256v1 -genkey -noout -out "$d/upca.key" 2>/dev/null
openssl req -x509 -new -key "$d/upca.key" -subj /CN=bb-test-upstream-ca -days 2 -out "$d/upca.crt" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$d/up.key" 2>/dev/null
openssl req -new -key "$d/up.key" -subj "/CN=$1" -out "$d/up.csr" 2>/dev/null
printf 'subjectAltName=%s\n' "$san" >"$d/up.ext"
openssl x509 -req -in "$d/up.csr" -CA "$d/upca.crt" -CAkey "$d/upca.key" -CAcreateserial -days 2 \
	-extfile "$d/up.ext" -out "$d/up.crt" 2>/dev/null
