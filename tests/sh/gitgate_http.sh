# gitgate_http.sh - bb git-http (smart HTTP) against real git and curl, with a real sshd upstream: the gate over HTTP and the 400/413 rules.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/gitsshd.inc"

cases=(
	"clone over smart HTTP gives upstream's refs"
	"a clean push over HTTP reaches upstream"
	"a push adding a secret over HTTP is refused, redacted; upstream unchanged"
	"a push adding a base64-wrapped secret over HTTP is refused too"
	"a fetch whose negotiation body is gzip-compressed works"
	"an 8 MB push (chunked request body) lands"
	"POST without Content-Length, or with a bad one, is 400; other transfer codings 501"
	"a body over the cap is 413 (declared length, and chunked as it arrives)"
	"dumb HTTP is 403, an unknown repo 404, GET on an RPC endpoint 405"
	"upstream down: the clone fails closed with the reason"
	"a client stalled inside its request head is dropped after --timeout"
	"options: --max-body is git-http's alone; a bad value, an operand or no --policy is a usage error saying which"
)
command -v curl >/dev/null || skip_all cases "no curl"
gitsshd_start cases

token() { printf 'ghp_%s' "$(head -c 400 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)"; }
out() { tail -n 6 "$1" | tr '\n' ' '; }
up() { git --git-dir="$T/up.git" "$@"; }

git init -q --bare -b main "$T/up.git" && git init -q -b main "$T/seed" &&
	(cd "$T/seed" && echo one >f && git add f && git commit -qm one && git push -q "$T/up.git" main) >"$T/setup.log" 2>&1 ||
	fail_all cases "setting up the upstream: $(tail -n 3 "$T/setup.log")"
write_plan "$T/plan.json" "$HOSTKEY_PUB" app="$T/up.git"
HA=$(test_addr)
HP=$(free_port "$HA") || fail_all cases "no free port"
"$BB" git-http --policy "$T/plan.json" --mirrors "$T/mirrors" --listen "$HA:$HP" --timeout 3 --max-pack 20000000 \
	--log "$T/http.log" 2>>"$T/http.err" &
on_exit kill_tree $!
wait_port "$HA" "$HP" 10 || fail_all cases "git-http did not listen: $(tail -n 5 "$T/http.err")"
URL="http://$HA:$HP/app.git"

# 1. clone
if git clone -q "$URL" "$T/c" >"$T/o" 2>&1 && [ "$(git -C "$T/c" rev-parse HEAD)" = "$(up rev-parse main)" ]; then
	ok "${cases[0]}"
else
	fail "${cases[0]}" "$(out "$T/o")"
fi

# 2. push
(cd "$T/c" && echo two >>f && git commit -qam two) >/dev/null
if git -C "$T/c" push origin main >"$T/o" 2>&1 && [ "$(up rev-parse main)" = "$(git -C "$T/c" rev-parse HEAD)" ]; then
	ok "${cases[1]}"
else
	fail "${cases[1]}" "$(out "$T/o")"
fi

# 3. secret
SECRET=$(token)
before=$(up rev-parse main)
(cd "$T/c" && printf 'token: %s\n' "$SECRET" >ci.yml && git add ci.yml && git commit -qm ci) >/dev/null
git -C "$T/c" push origin main >"$T/o" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "main -> main (secret found)" "$T/o" && grep -q "ci.yml:1 github-pat" "$T/o" &&
	! grep -qF "$SECRET" "$T/o" && [ "$(up rev-parse main)" = "$before" ]; then
	ok "${cases[2]}"
else
	fail "${cases[2]}" "exit $rc: $(out "$T/o")"
fi
git -C "$T/c" reset -q --hard HEAD~1

# 3b. the same through the decoders: the token base64-wrapped
SECRET2=$(token)
(cd "$T/c" && printf 'token: %s\n' "$SECRET2" | base64 -w0 >ci.b64 && git add ci.b64 && git commit -qm ci2) >/dev/null
git -C "$T/c" push origin main >"$T/o" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "main -> main (secret found)" "$T/o" && grep -q "ci.b64:1 github-pat" "$T/o" &&
	[ "$(up rev-parse main)" = "$before" ]; then
	ok "${cases[3]}"
else
	fail "${cases[3]}" "exit $rc: $(out "$T/o")"
fi
git -C "$T/c" reset -q --hard HEAD~1

# 4. many local commits make negotiation bodies over 1 KiB, which git gzips
{
	for i in $(seq 1 300); do
		printf 'commit refs/heads/main\ncommitter t <t@bb.invalid> %d +0000\ndata 8\nlocal %2d\n' $((1700000000 + i)) $((i % 100))
		[ "$i" -eq 1 ] && printf 'from %s\n' "$(git -C "$T/c" rev-parse HEAD)"
		printf 'M 644 inline n%d\ndata 4\n%03d\n\n' "$i" $((i % 1000))
	done
} | git -C "$T/c" fast-import --quiet >"$T/o" 2>&1 || fail "fast-import" "$(out "$T/o")"
(cd "$T/seed" && git pull -q "$T/up.git" main && echo three >>f && git commit -qam three && git push -q "$T/up.git" main) >/dev/null 2>&1
# (protocol v0: its stateless requests repeat every have, so the body passes 1 KiB; v2 is ready after one round)
if GIT_TRACE_CURL=1 GIT_TRACE_CURL_NO_DATA=1 git -C "$T/c" -c protocol.version=0 fetch origin >"$T/o" 2>&1 &&
	grep -q "Send header: Content-Encoding: gzip" "$T/o" &&
	[ "$(git -C "$T/c" rev-parse origin/main)" = "$(up rev-parse main)" ]; then
	ok "${cases[4]}"
else
	fail "${cases[4]}" "$(grep -c 'Content-Encoding: gzip' "$T/o") gzip requests; $(grep -v '=> Send\|<= Recv\|== Info' "$T/o" | tail -n 4 | tr '\n' ' ')"
fi
git -C "$T/c" reset -q --hard origin/main

# 5. a pack over git's 1 MiB post buffer goes chunked
head -c 8000000 /dev/urandom >"$T/c/big.bin"
(cd "$T/c" && git add big.bin && git commit -qm big) >/dev/null
if GIT_TRACE_CURL=1 GIT_TRACE_CURL_NO_DATA=1 git -C "$T/c" push origin main >"$T/o" 2>&1 &&
	grep -q "Send header: Transfer-Encoding: chunked" "$T/o" && [ "$(up rev-parse main)" = "$(git -C "$T/c" rev-parse HEAD)" ]; then
	ok "${cases[5]}"
else
	fail "${cases[5]}" "$(grep -v '=> Send\|<= Recv\|== Info' "$T/o" | tail -n 4 | tr '\n' ' ')"
fi

# status CURL-ARGS...: the HTTP status of one request
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@"; }
RPC="$URL/git-upload-pack"
CT='Content-Type: application/x-git-upload-pack-request'

# 6. framing
s1=$(printf '0000' | status -X POST "$RPC" -H "$CT" -H 'Content-Length:' --data-binary @-)
s2=$(status -X POST "$RPC" -H "$CT" -H 'Content-Length: 4x' --data-binary 0000)
s3=$(status -X POST "$RPC" -H "$CT" -H 'Content-Length: 4' -H 'Content-Length: 4' --data-binary 0000)
# A POST with no body framing at all, sent raw (curl always adds one).
s4=$(exec 3<>"/dev/tcp/$HA/$HP" && printf 'POST /app.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n' "$CT" >&3 &&
	timeout 10 head -n 1 <&3 | cut -d' ' -f2)
s5=$(status -X POST "$RPC" -H "$CT" -H 'Transfer-Encoding: gzip, chunked' --data-binary 0000)
s6=$(printf '0000' | status -X POST "$RPC" -H "$CT" --data-binary @-)
if [ "$s1$s2$s3$s4$s5$s6" = "400400400400501200" ]; then
	ok "${cases[6]}"
else
	fail "${cases[6]}" "empty CL $s1, bad CL $s2, two CL $s3, none $s4, gzip TE $s5, valid $s6"
fi

# 7. caps: 1 MiB for upload-pack, declared and chunked. A valid want, then haves the gate does not
# know (it answers nothing and keeps reading) past the cap.
want=$(git ls-remote "$URL" refs/heads/main | cut -f1)
{
	printf '0032want %s\n0000' "$want"
	for i in $(seq 1 25000); do printf '0032have %040d\n' "$i"; done
} >"$T/big"
s1=$(status -X POST "$RPC" -H "$CT" --data-binary @"$T/big")
s2=$(status -X POST "$RPC" -H "$CT" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big")
# The gzip bomb: small on the wire, over the cap inflated.
gzip -c "$T/big" >"$T/big.gz"
s3=$(status -X POST "$RPC" -H "$CT" -H 'Content-Encoding: gzip' --data-binary @"$T/big.gz")
if [ "$s1$s2$s3" = "413413413" ]; then
	ok "${cases[7]}"
else
	fail "${cases[7]}" "declared $s1, chunked $s2, gzip $s3"
fi

# 8. routing
s1=$(status "$URL/info/refs")
s2=$(status "http://$HA:$HP/nope.git/info/refs?service=git-upload-pack")
s3=$(status "$RPC")
s4=$(status "$URL/HEAD")
if [ "$s1$s2$s3$s4" = "403404405404" ]; then
	ok "${cases[8]}"
else
	fail "${cases[8]}" "dumb $s1, unknown repo $s2, GET rpc $s3, other path $s4"
fi

# 10. stalled inside the head
start=$(date +%s%N)
if exec 7<>"/dev/tcp/$HA/$HP"; then
	printf 'GET /app.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n' >&7
	timeout 15 cat <&7 >/dev/null
	rc=$?
	exec 7<&-
	ms=$((($(date +%s%N) - start) / 1000000))
	if [ "$rc" -eq 0 ] && [ "$ms" -ge 2800 ] && [ "$ms" -lt 8000 ]; then ok "${cases[10]}"; else fail "${cases[10]}" "closed after $ms ms (exit $rc)"; fi
else
	fail "${cases[10]}" "cannot connect"
fi

# 9. upstream down
gitsshd_stop
if ! git clone -q "$URL" "$T/c-down" >"$T/o" 2>&1 && grep -q "remote error: bb git-gate: cannot refresh 'app' from upstream.*fail closed" "$T/o"; then
	ok "${cases[9]}"
else
	fail "${cases[9]}" "$(out "$T/o")"
fi
# 11. the options both gates share (lib/gitgate_daemon) and git-http's own; each refusal exits 2 before listening
usage_err() { # EXPECTED-MESSAGE APPLET ARGS...
	local want=$1
	shift
	"$BB" "$@" >"$T/u.out" 2>"$T/u.err"
	[ $? -eq 2 ] && grep -qF "bb $1: $want" "$T/u.err" && grep -q "^usage: bb $1 " "$T/u.err" && [ ! -s "$T/u.out" ]
}
bad=""
usage_err "--max-body: '0' is not a positive number" git-http -p x -m y --max-body 0 || bad+=" http-max-body-0"
usage_err "unknown option '--max-body'" git-gate -p x -m y --max-body 5 || bad+=" gate-max-body"
usage_err "--timeout: '0' is not a number from 1 to 86400" git-http -p x -m y -t 0 || bad+=" timeout-0"
usage_err "unexpected argument 'extra'" git-gate -p x -m y extra || bad+=" operand"
usage_err "--policy and --mirrors are required" git-http -m y || bad+=" no-policy"
"$BB" git-http --help >"$T/u.out" 2>&1 && grep -q -- "--max-body BYTES" "$T/u.out" || bad+=" help"
if [ -z "$bad" ]; then ok "${cases[11]}"; else fail "${cases[11]}" "wrong:$bad ($(head -n 1 "$T/u.err"))"; fi

if grep -qF -e "$SECRET" -e "$SECRET2" "$T/http.log" "$T/http.err" || grep -q Sanitizer "$T/http.err"; then
	fail "log check" "a secret or a sanitizer report in git-http's output: $(grep -m1 -A3 Sanitizer "$T/http.err" | tr '\n' ' ')"
fi
