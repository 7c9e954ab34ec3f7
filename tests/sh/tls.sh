# tls.sh - `bb probe tls` against openssl s_server: verification against a test CA, refusals, default trust, usage.
# shellcheck shell=bash source=tests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null; then
	skip tls "openssl not installed"
	exit 0
fi

# Test PKI, made now: an EC P-256 CA, a server certificate it signs for
# upstream.bb.test, and an unrelated self-signed certificate for the same name.
pki() {
	cd "$T" || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
		-subj "/CN=bb test CA" -days 2 \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr \
		-subj /CN=upstream.bb.test &&
	printf '%s\n' subjectAltName=DNS:upstream.bb.test basicConstraints=critical,CA:FALSE \
		keyUsage=critical,digitalSignature extendedKeyUsage=serverAuth >srv.ext &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out srv.pem -extfile srv.ext &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self.key -out self.pem \
		-subj /CN=upstream.bb.test -days 2 -addext subjectAltName=DNS:upstream.bb.test
}
if ! out=$(pki 2>&1); then
	fail "tls test PKI" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
	exit 0
fi

# serve NAME CERT KEY [S_SERVER_OPTS...]: start s_server -www on a fresh address; sets ADDR_NAME and PORT_NAME.
ADDR_good='' PORT_good='' ADDR_self='' PORT_self='' ADDR_tls13='' PORT_tls13=''
serve() {
	local name=$1 cert=$2 key=$3 addr port pid
	shift 3
	addr=$(test_addr)
	port=$(free_port "$addr") || return 1
	openssl s_server -www -accept "$addr:$port" -cert "$cert" -key "$key" "$@" >"$T/$name.log" 2>&1 </dev/null &
	pid=$!
	on_exit kill_tree "$pid"
	wait_port "$addr" "$port" || return 1
	printf -v "ADDR_$name" '%s' "$addr"
	printf -v "PORT_$name" '%s' "$port"
}
# tls13 speaks only TLS 1.3, which BearSSL lacks: it must answer with a protocol_version alert.
if ! serve good "$T/srv.pem" "$T/srv.key" || ! serve self "$T/self.pem" "$T/self.key" ||
	! serve tls13 "$T/srv.pem" "$T/srv.key" -tls1_3; then
	fail "tls s_server" "s_server did not start: $(tail -n 3 "$T"/*.log | tr '\n' ' ')"
	exit 0
fi
good_url="https://upstream.bb.test:$PORT_good/" good_resolve="upstream.bb.test:$PORT_good:$ADDR_good"
self_url="https://upstream.bb.test:$PORT_self/" self_resolve="upstream.bb.test:$PORT_self:$ADDR_self"

# The trust defaults must not leak in from the environment running the tests.
unset SSL_CERT_FILE SSL_CERT_DIR

# probe ARGS...: run `bb probe tls`, leaving stdout in $out, stderr in $err, the exit code in $rc.
probe() {
	"$BB" probe tls "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# The -www page is s_server's status page; its cipher list heading is a stable marker.
marker='Ciphers supported in s_server binary'

probe "$good_url" --ca "$T/ca.pem" --resolve "$good_resolve"
if [ "$rc" -eq 0 ] && [[ "$out" == "HTTP/1.0 200 ok"* ]] && [[ "$out" == *"$marker"* ]]; then
	ok "handshake and GET with --ca and --resolve"
else
	fail "handshake and GET with --ca and --resolve" "rc=$rc out=$(head -c 200 <<<"$out") err=$err"
fi

probe "$self_url" --ca "$T/ca.pem" --resolve "$self_resolve"
if [ "$rc" -eq 1 ] && [[ "$err" == *"not trusted"* ]] && [[ "$err" == *upstream.bb.test* ]] && [ -z "$out" ]; then
	ok "self-signed server refused as not trusted"
else
	fail "self-signed server refused as not trusted" "rc=$rc err=$err"
fi

probe "https://other.bb.test:$PORT_good/" --ca "$T/ca.pem" --resolve "other.bb.test:$PORT_good:$ADDR_good"
if [ "$rc" -eq 1 ] && [[ "$err" == *"does not match other.bb.test"* ]] && [ -z "$out" ]; then
	ok "name mismatch refused naming the name"
else
	fail "name mismatch refused naming the name" "rc=$rc err=$err"
fi

SSL_CERT_FILE=$T/ca.pem probe "$good_url" --resolve "$good_resolve"
if [ "$rc" -eq 0 ] && [[ "$out" == *"$marker"* ]]; then
	ok "SSL_CERT_FILE is the default trust"
else
	fail "SSL_CERT_FILE is the default trust" "rc=$rc err=$err"
fi

mkdir "$T/cadir" && cp "$T/ca.pem" "$T/cadir/" && echo "not a certificate" >"$T/cadir/README"
SSL_CERT_DIR=$T/cadir probe "$good_url" --resolve "$good_resolve"
if [ "$rc" -eq 0 ] && [[ "$out" == *"$marker"* ]]; then
	ok "SSL_CERT_DIR is the default trust"
else
	fail "SSL_CERT_DIR is the default trust" "rc=$rc err=$err"
fi

# The test CA is in no system bundle, so the default trust must refuse it.
SSL_CERT_FILE=$T/self.pem probe "$good_url" --resolve "$good_resolve"
if [ "$rc" -eq 1 ] && [[ "$err" == *"not trusted"* ]]; then
	ok "SSL_CERT_FILE without the test CA refuses"
else
	fail "SSL_CERT_FILE without the test CA refuses" "rc=$rc err=$err"
fi

probe "https://upstream.bb.test:$PORT_tls13/" --ca "$T/ca.pem" --resolve "upstream.bb.test:$PORT_tls13:$ADDR_tls13"
if [ "$rc" -eq 1 ] && [[ "$err" == *"server sent fatal alert 70 (protocol_version)"* ]]; then
	ok "server's fatal alert is reported"
else
	fail "server's fatal alert is reported" "rc=$rc err=$err"
fi

# A peer that accepts the connection and never answers: the handshake must give up.
if command -v python3 >/dev/null; then
	silent_addr=$(test_addr) silent_port=$(free_port "$silent_addr")
	python3 -c 'import socket, sys, time
s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(4); time.sleep(60)' \
		"$silent_addr" "$silent_port" &
	on_exit kill_tree $!
	if wait_port "$silent_addr" "$silent_port"; then
		SECONDS=0
		probe "https://upstream.bb.test:$silent_port/" --ca "$T/ca.pem" --timeout 1 \
			--resolve "upstream.bb.test:$silent_port:$silent_addr"
		if [ "$rc" -eq 111 ] && [[ "$err" == *"timed out"* ]] && [ "$SECONDS" -le 5 ]; then
			ok "silent server times out"
		else
			fail "silent server times out" "rc=$rc after ${SECONDS}s err=$err"
		fi
	else
		fail "silent server times out" "listener did not start"
	fi
else
	skip "silent server times out" "python3 not installed"
fi

probe "$good_url" --ca "$T/ca.key" --resolve "$good_resolve"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] && [[ "$err" == *"no certificate found in $T/ca.key"* ]]; then
	ok "--ca file without a certificate is a clear error"
else
	fail "--ca file without a certificate is a clear error" "rc=$rc err=$err"
fi

{ cat "$T/ca.pem"; printf -- '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' \
	"$(head -c 300 /dev/urandom | base64 -w 64)"; } >"$T/bad.pem"
probe "$good_url" --ca "$T/bad.pem" --resolve "$good_resolve"
if [ "$rc" -eq 1 ] && [[ "$err" == *"certificate 2 in $T/bad.pem is not valid X.509"* ]]; then
	ok "--ca file with a broken certificate names it"
else
	fail "--ca file with a broken certificate names it" "rc=$rc err=$err"
fi

probe "$good_url" --ca "$T/missing.pem" --resolve "$good_resolve"
if [ "$rc" -eq 111 ] && [[ "$err" == *"$T/missing.pem"* ]]; then
	ok "--ca file missing is a system error"
else
	fail "--ca file missing is a system error" "rc=$rc err=$err"
fi

probe "http://upstream.bb.test:$PORT_good/" --ca "$T/ca.pem"
if [ "$rc" -eq 2 ] && [[ "$err" == *"not an https:// URL"* ]]; then
	ok "non-https URL is a usage error"
else
	fail "non-https URL is a usage error" "rc=$rc err=$err"
fi

probe "$good_url" --ca "$T/ca.pem" --resolve "upstream.bb.test:$PORT_good:not-an-address"
if [ "$rc" -eq 2 ]; then ok "bad --resolve is a usage error"; else fail "bad --resolve is a usage error" "rc=$rc err=$err"; fi

closed_port=$(free_port "$ADDR_good")
probe "https://upstream.bb.test:$closed_port/" --ca "$T/ca.pem" --resolve "upstream.bb.test:$closed_port:$ADDR_good"
if [ "$rc" -eq 111 ] && [[ "$err" == *"refused"* ]]; then
	ok "connection refused is a system error"
else
	fail "connection refused is a system error" "rc=$rc err=$err"
fi

probe --help
if [ "$rc" -eq 0 ] && [[ "$out" == "usage: bb probe tls URL"* ]]; then
	ok "probe tls --help"
else
	fail "probe tls --help" "rc=$rc out=$out err=$err"
fi
