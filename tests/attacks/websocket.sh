#!/usr/bin/env bash
# websocket.sh - WebSocket through egress (RFC 6455), as the agent would abuse it: a real client (Python's websockets)
# through interception and direct mode; secrets in messages (whole, fragmented and masked, encoded, in a ping) never
# reach the upstream and end the connection with 1008; the injected credential sent back in fragments never reaches
# the agent; upgrades refused where a request would be (no route, a path the route does not allow, h2c, not a GET);
# frames that break the protocol or claim an extension end with a close frame; permessage-deflate is never negotiated.
. "$(dirname "$0")/../sh/lib.sh"
. "$(dirname "$0")/lib_attack.inc"
WSPY=
for p in python3 /usr/bin/python3; do "$p" -c 'import websockets' 2>/dev/null && { WSPY=$p; break; }; done
[ -n "$WSPY" ] || { skip "websocket" "python3-websockets not installed (scripts/setup.sh test)"; exit 0; }
attack_egress_setup
WS_TLS=$(free_port "$A")
WSLOG=$T/ws.log
: >"$WSLOG"
python3 "$TESTS/peers/ws_upstream.py" "$A" "$WS_TLS" "$WSLOG" "$T/up.crt" "$T/up.key" 2>"$T/ws-up.err" &
on_exit "kill_tree $!"
wait_port "$A" "$WS_TLS" || { fail "the WebSocket upstream starts" "$(cat "$T/ws-up.err")"; exit 0; }
GHP="ghp_$(head -c 60 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"

# ws MODE HOST PATH STEP...: the client's JSON answer in $T/ws.out
ws() {
	local mode=$1 host=$2 path=$3
	shift 3
	timeout 40 "$WSPY" "$TESTS/peers/ws_client.py" "$mode" "$A" "$EGP" "$host" "$WS_TLS" "$path" "$CA" "$@" >"$T/ws.out" 2>"$T/ws.err"
}
j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2],{},d); print(v if not isinstance(v,(list,dict)) else json.dumps(v))' "$T/ws.out" "$1" 2>/dev/null; }
# upstream_saw TEXT: a frame payload the upstream received (unmasked) holds TEXT
upstream_saw() {
	python3 - "$WSLOG" "$1" <<'PY'
import json, sys
hit = any(sys.argv[2].encode() in bytes.fromhex(json.loads(l).get("hex", "")) for l in open(sys.argv[1]) if l.strip())
sys.exit(0 if hit else 1)
PY
}
why() { echo "$(cat "$T/ws.out" "$T/ws.err" 2>/dev/null | tail -c 400) | audit: $(tail -n 2 "$AUDIT" | cut -c 1-400)"; }

for mode in mitm direct; do
	: >"$WSLOG"
	ws $mode api.test /ws send:echo:hello-$mode recv bin:00ff10 recv ping:p1 close
	if [ "$(j status)" = 101 ] && [ "$(j 'recv[0]')" = "hello-$mode" ] && [ "$(j 'recv[1]')" = "hex:00ff10" ] &&
		[ "$(j 'recv[2]')" = pong ] && [ "$(j close_code)" = 1000 ] && grep -q '"upgrade": "/ws"' "$WSLOG"; then
		ok "$mode: a real client upgrades, text, binary and ping pass both ways, the close handshake ends with 1000"
	else
		fail "$mode websocket echo" "$(why)"
	fi
	if grep -qF "\"authorization\": \"Bearer $TOKEN\"" "$WSLOG"; then
		ok "$mode: the upgrade request carries the injected credential"
	else
		fail "$mode upgrade credential" "$(head -n 1 "$WSLOG")"
	fi
	# websockets offers permessage-deflate by default: egress strips the offer, so the payloads stay readable.
	if grep -q '"extensions": null' "$WSLOG" && [ "$(j extensions)" = "[]" ]; then
		ok "$mode: the permessage-deflate offer never reaches the upstream; no extension is negotiated"
	else
		fail "$mode extensions" "$(head -n 1 "$WSLOG"); client: $(j extensions)"
	fi
	if audit_has '"rule":"websocket"' 'closed; agent to upstream 2 messages in 4 frames'; then
		ok "$mode: the audit has a line at the upgrade and one at the close with frame and byte counts"
	else
		fail "$mode audit" "$(grep websocket "$AUDIT" | tail -n 2)"
	fi

	# The credential sent back: in one frame, and in seven fragments cut inside the token.
	ws $mode api.test /ws send:auth:1 recv send:auth:7 recv close
	if [ "$(j status)" = 101 ] && [ "$(j 'recv[0]')" != None ] && [ "$(j 'recv[1]')" != None ] &&
		! grep -qF -- "$TOKEN" "$T/ws.out" && grep -q 'reflected: Bearer' "$T/ws.out" &&
		audit_has '"rule":"scrub"' 'occurrences'; then
		ok "$mode: the injected credential the upstream sends back (whole, or split over 7 fragments) is scrubbed"
	else
		fail "$mode reflected credential" "$(why)"
	fi

	# Secrets toward the upstream: the message never leaves, the agent gets 1008 naming the rule.
	n=0
	for case in "whole|send:please keep $GHP safe" \
		"fragmented (masked, split inside the secret)|frags:keep ${GHP:0:10}|${GHP:10:13}|${GHP:23} safe" \
		"base64 encoded|send:$(printf 'the key is %s' "$GHP" | base64 -w0)" \
		"in a ping|ping:$GHP"; do
		n=$((n + 1))
		name=${case%%|*}
		step=${case#*|}
		: >"$WSLOG"
		ws $mode api.test /ws send:echo:before "$step" recv
		if [ "$(j close_code)" = 1008 ] && j close_reason | grep -q github-pat && ! upstream_saw "$GHP" &&
			! upstream_saw "${GHP:10:13}" && upstream_saw before && tail -n 1 "$AUDIT" | grep -q '"rule":"dlp"'; then
			ok "$mode: a secret in a message ($name) never reaches the upstream; the agent gets close 1008 (rule dlp)"
		else
			fail "$mode dlp $name" "$(why)"
		fi
	done
done

# The upstream ends it: with a close frame (passed on), or by dropping the connection (egress closes with 1001).
ws mitm api.test /ws send:close recv
if [ "$(j close_code)" = 1000 ] && [ "$(j close_reason)" = bye ]; then
	ok "the upstream's close frame reaches the agent (1000, its reason)"
else
	fail "upstream close" "$(why)"
fi
ws mitm api.test /ws send:drop recv
if [ "$(j close_code)" = 1001 ] && tail -n 1 "$AUDIT" | grep -q 'the upstream ended the connection'; then
	ok "an upstream that drops the connection: the agent still gets a close frame (1001)"
else
	fail "upstream drop" "$(why)"
fi

# Upgrades are requests: refused where a request would be.
ws mitm other.test /ws send:echo:x
if [ "$(j status)" = 403 ] && logged other.test no-route; then
	ok "an upgrade to a host no route allows: 403 at CONNECT"
else
	fail "upgrade no route (mitm)" "$(why)"
fi
: >"$WSLOG"
ws direct other.test /ws send:echo:x
if [ "$(j status)" = 403 ] && [ "$(grep -c '"upgrade"' "$WSLOG")" = 0 ]; then
	ok "an upgrade to a host no route allows: 403 in direct mode, nothing reaches an upstream"
else
	fail "upgrade no route (direct)" "$(why)"
fi
: >"$WSLOG"
ws mitm paths.test /ws/upgrade send:echo:x
if [ "$(j status)" = 403 ] && logged /ws/upgrade path-allowlist && [ ! -s "$WSLOG" ]; then
	ok "an upgrade on a path the route does not allow: 403 (path-allowlist), the upstream never sees it"
else
	fail "upgrade path not allowed" "$(why)"
fi
line=$(raw_send "GET /ws HTTP/1.1\r\nHost: api.test:$WS_TLS\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
[ "$(status_of "$line")" = 501 ] && ok "h2c is still refused (501)" || fail "h2c" "$line"
line=$(raw_send "POST /ws HTTP/1.1\r\nHost: api.test:$WS_TLS\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n")
[ "$(status_of "$line")" = 400 ] && ok "a WebSocket upgrade that is not a GET: 400" || fail "upgrade POST" "$line"

# Frames that break the protocol end with a close frame, and reach no upstream.
rawcase() { # NAME HEX CODE
	: >"$WSLOG"
	ws raw api.test /ws "raw:$2"
	if [ "$(j status)" = 101 ] && [ "$(j close_code)" = "$3" ] && ! grep -q '"frame": [0-7],' "$WSLOG"; then
		ok "$1: close $3, nothing passed on"
	else
		fail "$1" "$(why); upstream: $(grep -c '"frame": [0-7],' "$WSLOG") data frames"
	fi
}
rawcase "an unmasked frame from the agent" "8103616263" 1002
rawcase "a frame claiming a compressed payload (RSV1, no extension negotiated)" "c183000000006162" 1002
rawcase "a ping longer than 125 bytes" "89fe0080$(printf '00%.0s' {1..132})" 1002
rawcase "a continuation with no message" "8083000000006162" 1002
rawcase "a message larger than egress holds (16 MiB)" "82ff000000000100000100000000" 1009

# One budget for the messages every connection holds (--ws-memory): while one agent connection holds most of it,
# another's message finds no room and ends with 1013 (try again later), not an egress that grows without bound;
# once the first is done the budget is whole again.
EGW=$(free_port "$A")
BB_EGRESS_TOKEN_0=$TOKEN SSL_CERT_FILE=$T/upca.crt "$BB" egress --policy "$T/policy.json" --listen "$A:$EGW" \
	--hosts "$T/hosts" --log "$T/audit-w.log" --ws-memory 1 2>"$T/egress-w.err" &
EGW_PID=$!
on_exit "kill_tree $EGW_PID"
if wait_port "$A" "$EGW"; then
	frame() { printf '81ff%016x00000000' "$1"; } # a masked text frame of N bytes (mask key 0: the payload as sent)
	closef=88820000000003e8
	wsw() { # OUT STEP...: a raw client through the budgeted egress
		local o=$1
		shift
		timeout 90 "$WSPY" "$TESTS/peers/ws_client.py" raw "$A" "$EGW" api.test "$WS_TLS" /ws "$CA" "$@" >"$T/$o.out" 2>"$T/$o.err"
	}
	jw() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$T/$1.out" "$2" 2>/dev/null; }
	: >"$WSLOG"
	wsw a "raw:$(frame 900001)" zeros:900000 "touch:$T/a-held" "waitfile:$T/b-done" zeros:1 "raw:$closef" &
	a_pid=$!
	# Wait until egress has read all of A's held bytes: its side of the connection has nothing left queued.
	held=0
	for _ in $(seq 600); do
		if [ -e "$T/a-held" ] && [ -n "$(ss -tnH state established "( sport = :$EGW )")" ] &&
			! ss -tnH state established "( sport = :$EGW )" | awk '$1 != 0 { bad = 1 } END { exit !bad }'; then
			held=1
			break
		fi
		sleep 0.05
	done
	wsw b "raw:$(frame 300000)" zeros:300000 "raw:$closef"
	touch "$T/b-done"
	wait "$a_pid"
	wsw c "raw:$(frame 300000)" zeros:300000 "raw:$closef"
	if [ "$held" = 1 ] && [ "$(jw b close_code)" = 1013 ] && [ "$(jw a close_code)" = 1000 ] &&
		[ "$(jw c close_code)" = 1000 ] && grep '"rule":"memory"' "$T/audit-w.log" | grep -q 'WebSocket memory full' &&
		awk 'length > 1800000' "$WSLOG" | grep -q '"frame": 1'; then
		ok "one WebSocket budget for all connections (--ws-memory): a second message finds no room (1013), the first passes, then the budget is free again"
	else
		fail "websocket memory budget" "held=$held a: $(cat "$T/a.out" "$T/a.err" | tail -c 300) b: $(cat "$T/b.out" "$T/b.err" | tail -c 300) c: $(cat "$T/c.out" | tail -c 200) audit: $(tail -n 3 "$T/audit-w.log" | cut -c 1-300)"
	fi
else
	fail "egress --ws-memory starts" "$(cat "$T/egress-w.err")"
fi
