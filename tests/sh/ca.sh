# ca.sh - `bb bottle ca init|show|path` checked with openssl; minted leaves verified by openssl, curl, node and python against BearSSL and OpenSSL servers.
# shellcheck shell=bash source=tests/sh/lib.sh
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null; then
	skip ca "openssl not installed"
	exit 0
fi

export BB_HOME="$T/home"
mkdir -p "$BB_HOME"
CA="$BB_HOME/.bb/ca"

# run ARGS...: `bb bottle ca ARGS`, stdout in $out, stderr in $err, exit code in $rc.
run() {
	"$BB" bottle ca "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}
mode() { stat -c %a "$1"; }

# --- init ---
run init --name "test one"
if [ "$rc" = 0 ] && [ -f "$CA/ca.key" ] && [ -f "$CA/ca.crt" ] && [[ "$out" == *"SHA-256 fingerprint: "* ]]; then
	ok "ca init creates key and certificate under \$BB_HOME/.bb/ca"
else
	fail "ca init creates key and certificate under \$BB_HOME/.bb/ca" "rc=$rc out=$out err=$err"
fi
if [ "$(mode "$CA/ca.key")" = 600 ] && [ "$(mode "$CA/ca.crt")" = 644 ] && [ "$(mode "$CA")" = 700 ]; then
	ok "ca init modes: key 0600, cert 0644, dir 0700"
else
	fail "ca init modes: key 0600, cert 0644, dir 0700" "$(stat -c '%n %a' "$CA" "$CA"/*)"
fi
if [ "$(ls -A "$CA" | wc -l)" = 2 ]; then ok "ca init leaves no temporary files"; else fail "ca init leaves no temporary files" "$(ls -A "$CA")"; fi

# The umask must not loosen (or tighten) what init sets.
( umask 000 && "$BB" bottle ca init --dir "$T/umask0" >/dev/null 2>&1 )
( umask 077 && "$BB" bottle ca init --dir "$T/umask77" >/dev/null 2>&1 )
if [ "$(mode "$T/umask0/ca.key")" = 600 ] && [ "$(mode "$T/umask77/ca.crt")" = 644 ]; then
	ok "ca init modes do not depend on the umask"
else
	fail "ca init modes do not depend on the umask" "$(stat -c '%n %a' "$T"/umask*/*)"
fi

cp "$CA/ca.crt" "$T/first.crt"
run init
if [ "$rc" = 1 ] && [[ "$err" == *"$CA/ca.key exists"* ]] && [[ "$err" == *"--force"* ]] && cmp -s "$CA/ca.crt" "$T/first.crt"; then
	ok "ca init refuses to replace an existing CA (exit 1, names the file)"
else
	fail "ca init refuses to replace an existing CA (exit 1, names the file)" "rc=$rc err=$err"
fi
run init --force --name "test two"
if [ "$rc" = 0 ] && ! cmp -s "$CA/ca.crt" "$T/first.crt" && [ "$(mode "$CA/ca.key")" = 600 ]; then
	ok "ca init --force replaces it"
else
	fail "ca init --force replaces it" "rc=$rc err=$err"
fi

# --- what openssl sees ---
text=$(openssl x509 -in "$CA/ca.crt" -noout -text 2>&1)
want_ok=1
for want in "Version: 3 (0x2)" "Signature Algorithm: ecdsa-with-SHA256" "Issuer: O = bb, CN = bb bottle CA test two" \
	"Subject: O = bb, CN = bb bottle CA test two" "NIST CURVE: P-256" "X509v3 Basic Constraints: critical" \
	"CA:TRUE, pathlen:0" "X509v3 Key Usage: critical" "Certificate Sign, CRL Sign" "X509v3 Subject Key Identifier"; do
	if [[ "$text" != *"$want"* ]]; then
		fail "openssl x509 -text shows the CA fields" "missing '$want'"
		want_ok=0
		break
	fi
done
[ "$want_ok" = 1 ] && ok "openssl x509 -text shows the CA fields"
serial=$(openssl x509 -in "$CA/ca.crt" -noout -serial | cut -d= -f2)
if [ "${#serial}" = 32 ]; then ok "CA serial is 16 bytes"; else fail "CA serial is 16 bytes" "$serial"; fi
# Validity: from an hour ago to ten years on.
nb=$(date -d "$(openssl x509 -in "$CA/ca.crt" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$CA/ca.crt" -noout -enddate | cut -d= -f2)" +%s)
now=$(date +%s)
if [ $((now - nb)) -ge 3590 ] && [ $((now - nb)) -le 3700 ] && [ $(((na - now) / 86400)) -ge 3651 ] && [ $(((na - now) / 86400)) -le 3653 ]; then
	ok "CA validity: now-1h .. now+10y"
else
	fail "CA validity: now-1h .. now+10y" "nb=$nb na=$na now=$now"
fi
check "openssl verify -x509_strict accepts the self-signed CA" openssl verify -x509_strict -CAfile "$CA/ca.crt" "$CA/ca.crt"
check "openssl ec -check accepts the key" openssl ec -in "$CA/ca.key" -check -noout
kpub=$(openssl ec -in "$CA/ca.key" -pubout 2>/dev/null)
cpub=$(openssl x509 -in "$CA/ca.crt" -noout -pubkey)
if [ -n "$kpub" ] && [ "$kpub" = "$cpub" ]; then ok "the key matches the certificate"; else fail "the key matches the certificate" "differs"; fi

# --- show / path ---
run show
if [ "$rc" = 0 ] && [ -z "$err" ] && [ "$out" = "$(cat "$CA/ca.crt")" ] && [ "$(grep -c BEGIN "$T/out")" = 1 ]; then
	ok "ca show prints the certificate PEM and nothing else"
else
	fail "ca show prints the certificate PEM and nothing else" "rc=$rc err=$err"
fi
run path
if [ "$rc" = 0 ] && [ "$out" = "$CA/ca.crt" ]; then ok "ca path"; else fail "ca path" "rc=$rc out=$out"; fi
run show --dir "$T/none"
if [ "$rc" = 1 ] && [ -z "$out" ] && [[ "$err" == *"$T/none/ca.crt"* ]] && [[ "$err" == *"bb bottle ca init"* ]]; then
	ok "ca show without a CA: exit 1, names the file"
else
	fail "ca show without a CA: exit 1, names the file" "rc=$rc out=$out err=$err"
fi
mkdir -p "$T/junk" && echo "not a certificate" >"$T/junk/ca.crt"
run show --dir "$T/junk"
if [ "$rc" != 0 ] && [ -z "$out" ] && [[ "$err" == *"$T/junk/ca.crt"* ]]; then ok "ca show refuses a file that is not a certificate"; else fail "ca show refuses a file that is not a certificate" "rc=$rc err=$err"; fi
run init --dir "$T/other" --name x
run show --dir "$T/other"
if [ "$rc" = 0 ] && [[ "$(printf '%s\n' "$out" | openssl x509 -noout -subject)" == *"bb bottle CA x"* ]]; then ok "ca --dir"; else fail "ca --dir" "rc=$rc err=$err"; fi
# BB_HOME unset falls back to HOME.
out=$(env -u BB_HOME HOME="$T/h2" "$BB" bottle ca path 2>&1)
if [ "$out" = "$T/h2/.bb/ca/ca.crt" ]; then ok "ca dir defaults to \$HOME/.bb/ca"; else fail "ca dir defaults to \$HOME/.bb/ca" "$out"; fi

# --- usage ---
run --help
if [ "$rc" = 0 ] && [[ "$out" == *"usage: bb bottle ca"* ]]; then ok "ca --help"; else fail "ca --help" "rc=$rc"; fi
usage_ok=1
for args in "" "frob" "show extra" "show --force" "show --name x" "init --bogus" "init --dir="; do
	# shellcheck disable=SC2086
	run $args
	if [ "$rc" != 2 ] || [ -n "$out" ]; then
		fail "ca usage errors exit 2" "'$args' gave rc=$rc"
		usage_ok=0
	fi
done
[ "$usage_ok" = 1 ] && ok "ca usage errors exit 2"
run init --dir "$T/badname" --name "$(printf 'a\tb')"
if [ "$rc" = 2 ] && [[ "$err" == *"printable"* ]]; then ok "ca init refuses a bad name"; else fail "ca init refuses a bad name" "rc=$rc err=$err"; fi

# --- leaves (minted by the unit-test program's test-only modes: the same lib/ca as egress) ---
MINT=${UNIT_DIR:-}/test_ca
if [ -z "${UNIT_DIR:-}" ] || [ ! -x "$MINT" ]; then
	skip "ca leaves" "UNIT_DIR/test_ca not built"
	exit 0
fi
if "$MINT" mint "$CA" Bottle.Example.COM "$T/leaf.pem" "$T/leaf.key" 2>"$T/err" &&
	openssl x509 -in "$T/leaf.pem" -out "$T/leaf1.pem" 2>>"$T/err"; then
	ok "mint a leaf"
else
	fail "mint a leaf" "$(cat "$T/err")"
	exit 0
fi
check "openssl verify: leaf chains to the CA for its name (strict, sslserver)" \
	openssl verify -x509_strict -purpose sslserver -verify_hostname bottle.example.com -CAfile "$CA/ca.crt" "$T/leaf1.pem"
if openssl verify -verify_hostname other.example.com -CAfile "$CA/ca.crt" "$T/leaf1.pem" >/dev/null 2>&1; then
	fail "openssl verify: leaf refused for another name" "accepted"
else
	ok "openssl verify: leaf refused for another name"
fi
if openssl verify -CAfile "$T/other/ca.crt" "$T/leaf1.pem" >/dev/null 2>&1; then
	fail "openssl verify: leaf refused under another CA" "accepted"
else
	ok "openssl verify: leaf refused under another CA"
fi
ltext=$(openssl x509 -in "$T/leaf1.pem" -noout -text 2>&1)
want_ok=1
for want in "Issuer: O = bb, CN = bb bottle CA test two" "Subject: CN = bottle.example.com" "DNS:bottle.example.com" \
	"X509v3 Basic Constraints: critical" "CA:FALSE" "X509v3 Key Usage: critical" "Digital Signature" \
	"TLS Web Server Authentication" "X509v3 Authority Key Identifier"; do
	if [[ "$ltext" != *"$want"* ]]; then
		fail "openssl x509 -text shows the leaf fields" "missing '$want'"
		want_ok=0
		break
	fi
done
[ "$want_ok" = 1 ] && ok "openssl x509 -text shows the leaf fields"
ski=$(openssl x509 -in "$CA/ca.crt" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' ')
aki=$(openssl x509 -in "$T/leaf1.pem" -noout -ext authorityKeyIdentifier | tail -n 1 | tr -d ' ' | sed 's/^keyid://')
if [ -n "$ski" ] && [ "$ski" = "$aki" ]; then ok "leaf AKI = CA SKI"; else fail "leaf AKI = CA SKI" "ski=$ski aki=$aki"; fi
nb=$(date -d "$(openssl x509 -in "$T/leaf1.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$T/leaf1.pem" -noout -enddate | cut -d= -f2)" +%s)
now=$(date +%s)
if [ $((now - nb)) -ge 3590 ] && [ $((now - nb)) -le 3700 ] && [ $((na - now)) -ge $((7 * 86400 - 100)) ] && [ $((na - now)) -le $((7 * 86400)) ]; then
	ok "leaf validity: now-1h .. now+7d"
else
	fail "leaf validity: now-1h .. now+7d" "nb=$nb na=$na now=$now"
fi
if "$MINT" mint "$CA" 192.0.2.7 "$T/ip.pem" "$T/ip.key" 2>"$T/err" && openssl x509 -in "$T/ip.pem" -out "$T/ip1.pem" &&
	openssl verify -verify_ip 192.0.2.7 -CAfile "$CA/ca.crt" "$T/ip1.pem" >/dev/null 2>&1 &&
	! openssl verify -verify_ip 192.0.2.8 -CAfile "$CA/ca.crt" "$T/ip1.pem" >/dev/null 2>&1; then
	ok "IPv4 leaf: SAN iPAddress verified by openssl"
else
	fail "IPv4 leaf: SAN iPAddress verified by openssl" "$(cat "$T/err")"
fi
if "$MINT" mint "$CA" '*.example.com' "$T/w.pem" "$T/w.key" 2>"$T/err"; then
	fail "wildcard host refused" "minted"
else
	ok "wildcard host refused"
fi
chmod 644 "$CA/ca.key"
if "$MINT" mint "$CA" a.example.com "$T/x.pem" "$T/x.key" 2>"$T/err"; then
	fail "a group/world-readable CA key is refused" "loaded"
elif grep -q "$CA/ca.key has mode 0644" "$T/err"; then
	ok "a group/world-readable CA key is refused"
else
	fail "a group/world-readable CA key is refused" "$(cat "$T/err")"
fi
chmod 600 "$CA/ca.key"

# --- handshakes ---
# serve_bearssl HOST COUNT: the test program's BearSSL server with HOST's leaf from the cache; sets B_ADDR/B_PORT.
serve_bearssl() {
	local pid
	B_ADDR=$(test_addr)
	B_PORT=$(free_port "$B_ADDR") || return 1
	"$MINT" serve "$CA" "$1" "$B_ADDR" "$B_PORT" "$2" >"$T/serve.log" 2>&1 &
	pid=$!
	on_exit kill_tree "$pid"
	SERVE_PID=$pid
	wait_port "$B_ADDR" "$B_PORT"
}
if ! command -v curl >/dev/null; then
	skip "curl handshakes" "curl not installed"
	exit 0
fi
# Every connection (wait_port's probe too) goes through the leaf cache.
if serve_bearssl bottle.example.com 1000; then
	body=$(curl -sS --max-time 10 --cacert "$CA/ca.crt" --resolve "bottle.example.com:$B_PORT:$B_ADDR" \
		"https://bottle.example.com:$B_PORT/" 2>&1)
	if [ "$body" = "hello bottle.example.com" ]; then
		ok "curl --cacert ca.crt trusts the BearSSL server's minted leaf"
	else
		fail "curl --cacert ca.crt trusts the BearSSL server's minted leaf" "$body"
	fi
	curl -sS --max-time 10 --cacert "$CA/ca.crt" --resolve "wrong.example.com:$B_PORT:$B_ADDR" \
		"https://wrong.example.com:$B_PORT/" >/dev/null 2>&1
	rc=$?
	if [ "$rc" = 60 ] || [ "$rc" = 51 ]; then ok "curl refuses the leaf for another name"; else fail "curl refuses the leaf for another name" "curl exit $rc"; fi
	curl -sS --max-time 10 --resolve "bottle.example.com:$B_PORT:$B_ADDR" "https://bottle.example.com:$B_PORT/" \
		--cacert "$T/other/ca.crt" >/dev/null 2>&1
	rc=$?
	if [ "$rc" = 60 ]; then ok "curl refuses the leaf when trusting another CA"; else fail "curl refuses the leaf when trusting another CA" "curl exit $rc"; fi
	if command -v node >/dev/null; then
		body=$(NODE_EXTRA_CA_CERTS="$CA/ca.crt" node -e '
			const https = require("https");
			https.get({ host: process.argv[1], port: +process.argv[2], servername: "bottle.example.com",
				headers: { host: "bottle.example.com" }, path: "/" }, (r) => {
				let b = ""; r.on("data", (d) => (b += d)); r.on("end", () => process.stdout.write(b));
			}).on("error", (e) => { console.log("error " + e.message); });' "$B_ADDR" "$B_PORT" 2>&1)
		if [ "$body" = "hello bottle.example.com" ]; then ok "node with NODE_EXTRA_CA_CERTS trusts the minted leaf"; else fail "node with NODE_EXTRA_CA_CERTS trusts the minted leaf" "$body"; fi
	else
		skip "node handshake" "node not installed"
	fi
	if command -v python3 >/dev/null; then
		body=$(python3 - "$B_ADDR" "$B_PORT" "$CA/ca.crt" <<'EOF' 2>&1
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[3])
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as s:
    with ctx.wrap_socket(s, server_hostname="bottle.example.com") as t:
        t.sendall(b"GET / HTTP/1.1\r\nHost: bottle.example.com\r\n\r\n")
        data = b""
        while True:
            d = t.recv(4096)
            if not d:
                break
            data += d
print(data.split(b"\r\n\r\n", 1)[1].decode().strip())
EOF
)
		if [ "$body" = "hello bottle.example.com" ]; then ok "python ssl (cafile=ca.crt) trusts the minted leaf"; else fail "python ssl (cafile=ca.crt) trusts the minted leaf" "$body"; fi
	else
		skip "python handshake" "python3 not installed"
	fi
	last=$(tail -n 1 "$T/serve.log")
	if [[ "$last" =~ mints=1\ hits=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 3 ]; then
		ok "the server minted once and then hit the cache"
	else
		fail "the server minted once and then hit the cache" "$(cat "$T/serve.log")"
	fi
else
	fail "BearSSL test server" "$(cat "$T/serve.log")"
fi

# openssl s_server with the minted leaf and key (the chain file carries the CA too).
S_ADDR=$(test_addr)
S_PORT=$(free_port "$S_ADDR")
openssl s_server -www -accept "$S_ADDR:$S_PORT" -cert "$T/leaf.pem" -key "$T/leaf.key" >"$T/s_server.log" 2>&1 </dev/null &
spid=$!
on_exit kill_tree "$spid"
if wait_port "$S_ADDR" "$S_PORT" &&
	curl -sS --max-time 10 --cacert "$CA/ca.crt" --resolve "bottle.example.com:$S_PORT:$S_ADDR" \
		"https://bottle.example.com:$S_PORT/" >"$T/s_out" 2>&1 && grep -q "s_server" "$T/s_out"; then
	ok "curl trusts openssl s_server with the minted leaf and key"
else
	fail "curl trusts openssl s_server with the minted leaf and key" "$(tail -n 3 "$T/s_out" "$T/s_server.log" | tr '\n' ' ')"
fi
