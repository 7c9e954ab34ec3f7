#!/usr/bin/env bash
# supervise.sh - bb supervise under curl (raw MCP / JSON-RPC errors) and the official MCP TypeScript SDK, with bb bottle proposals|approve|reject.
. "$(dirname "$0")/lib.sh"

ADDR=$(test_addr)
Q=$T/queue
P=$T/plan.json
LOG=$T/supervise.log
TIMEOUT=6

write_plan() {
	cat >"$1" <<'EOF'
{"schema":"bb.plan/1","bottle":{"name":"dev","file":"x","extends_chain":["dev"]},
 "egress":{"routes":[{"host":"api.example.com","origin":"manifest",
   "auth":{"scheme":"Bearer","token_slot":"BB_EGRESS_TOKEN_0","token_ref":"EXAMPLE_TOKEN"},
   "path_allowlist":["/v1/"],"matches":[],"dlp":{"outbound":["token_patterns","known_secrets"],"inbound":["naive_injection_detection"]},
   "git_fetch":false,"tls_passthrough":false,"ssrf_ip_allowlist":[],"roles":[]}],
   "token_slots":[{"slot":"BB_EGRESS_TOKEN_0","ref":"EXAMPLE_TOKEN","source":"host_env","present":true}]},
 "supervise":{"enabled":true},"dns":{"allow":["api.example.com"]}}
EOF
}

# start_sup PORT POLICY QUEUE LOG [ARGS...]: a supervise in the background (pid in $SUP_PID), killed at exit.
start_sup() {
	local port=$1 policy=$2 queue=$3 log=$4
	shift 4
	"$BB" supervise --policy "$policy" --queue "$queue" --listen "$ADDR:$port" --log "$log" "$@" &
	SUP_PID=$!
	on_exit "kill_tree $SUP_PID"
	wait_port "$ADDR" "$port" 10
}

HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')

# post PORT SESSION BODY [CURL ARGS...]: POST a JSON-RPC body; prints the body then " [STATUS]".
# CT and ACCEPT replace the Content-Type and Accept headers.
post() {
	local port=$1 sid=$2 body=$3
	shift 3
	curl -s -m 30 -w ' [%{http_code}]' -H "Content-Type: ${CT:-application/json}" \
		-H "Accept: ${ACCEPT:-application/json, text/event-stream}" ${sid:+-H "Mcp-Session-Id: $sid"} "$@" \
		--data-binary "$body" "http://$ADDR:$port/"
}

# init PORT: a session id after initialize + initialized.
init() {
	local sid
	sid=$(curl -s -m 10 -D - -o /dev/null "${HDRS[@]}" --data-binary \
		'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
		"http://$ADDR:$1/" | tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
	post "$1" "$sid" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
	printf '%s\n' "$sid"
}

# expect NAME OUTPUT STATUS PATTERN: OUTPUT ends with [STATUS] and matches the extended regex PATTERN.
expect() {
	if [[ "$2" == *"[$3]" ]] && printf '%s' "$2" | grep -Eq -- "$4"; then ok "$1"; else fail "$1" "got: ${2:0:300}"; fi
}

# --- command line ----------------------------------------------------------------------------------
out=$("$BB" supervise 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"--policy FILE is required"* ]] && ok usage_needs_policy || fail usage_needs_policy "rc=$rc $out"
"$BB" supervise --help | grep -q 'BB_SUPERVISE_RESPONSE_TIMEOUT_SECONDS' && ok help || fail help "no usage"
write_plan "$P"
out=$(BB_SUPERVISE_RESPONSE_TIMEOUT_SECONDS=-1 "$BB" supervise --policy "$P" --queue "$Q" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"want a positive number"* ]] && ok bad_timeout_env || fail bad_timeout_env "rc=$rc $out"
echo '{"schema":"bb.plan/1","egress":{"routes":[{"host":5}]}}' >"$T/bad.json"
out=$("$BB" supervise --policy "$T/bad.json" --queue "$Q" --listen "$ADDR:1" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"host"* ]] && ok bad_policy_refused || fail bad_policy_refused "rc=$rc $out"

# --- the main server ---------------------------------------------------------------------------------
PORT=$(free_port "$ADDR")
if ! BB_SUPERVISE_RESPONSE_TIMEOUT_SECONDS=$TIMEOUT start_sup "$PORT" "$P" "$Q" "$LOG"; then
	fail supervise_starts "$(tail -3 "$LOG")"
	exit 1
fi
ok supervise_starts
[ "$(stat -c %a "$Q")" = 700 ] && ok queue_dir_created_0700 || fail queue_dir_created_0700 "$(stat -c %a "$Q")"
grep -q '"event":"start".*"timeout_s":"6".*"protocol":"2025-11-25"' "$LOG" && ok start_logged || fail start_logged "$(head -2 "$LOG")"

# --- raw protocol with curl --------------------------------------------------------------------------
out=$(curl -s -m 10 -D "$T/h" "${HDRS[@]}" -w ' [%{http_code}]' --data-binary \
	'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
	"http://$ADDR:$PORT/")
expect initialize_keeps_client_version "$out" 200 '"protocolVersion":"2025-03-26".*"serverInfo":\{"name":"bb-supervise"'
grep -Eqi '^mcp-session-id: [0-9a-f]{32}' "$T/h" && ok session_id_header || fail session_id_header "$(cat "$T/h")"
out=$(post "$PORT" "" '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2099-01-01","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}')
expect initialize_unknown_version_gets_latest "$out" 200 '"protocolVersion":"2025-11-25"'
out=$(post "$PORT" "" '{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"capabilities":{}}}')
expect initialize_bad_params_32602 "$out" 200 '"id":3,"error":\{"code":-32602'

SID=$(init "$PORT")
[[ "$SID" =~ ^[0-9a-f]{32}$ ]] && ok curl_session || fail curl_session "sid '$SID'"
out=$(post "$PORT" "$SID" '{"jsonrpc":"2.0","method":"notifications/initialized"}')
[ "$out" = " [202]" ] && ok notification_202_no_body || fail notification_202_no_body "$out"
out=$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":5,"result":{}}')
[ "$out" = " [202]" ] && ok response_202 || fail response_202 "$out"
expect ping "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":"p1","method":"ping"}')" 200 '^\{"jsonrpc":"2.0","id":"p1","result":\{\}\}'
expect parse_error_32700 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,')" 400 '"id":null,"error":\{"code":-32700'
expect bad_utf8_32700 "$(post "$PORT" "$SID" $'{"jsonrpc":"2.0","id":1,"method":"p\xff"}')" 400 '"code":-32700'
expect escaped_nul_32700 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping\u0000x"}')" 400 '"code":-32700'
expect invalid_version_32600 "$(post "$PORT" "$SID" '{"jsonrpc":"1.0","id":9,"method":"ping"}')" 400 '"id":9,"error":\{"code":-32600'
expect null_id_32600 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":null,"method":"ping"}')" 400 '"code":-32600'
expect fraction_id_32600 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1.5,"method":"ping"}')" 400 '"code":-32600'
expect batch_32600 "$(post "$PORT" "$SID" '[{"jsonrpc":"2.0","id":1,"method":"ping"}]')" 400 '"code":-32600,"message":"Invalid Request: batches'
expect not_object_32600 "$(post "$PORT" "$SID" '"ping"')" 400 '"code":-32600'
expect params_array_32600 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}')" 400 '"code":-32600'
expect unknown_method_32601 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":7,"method":"resources/list"}')" 200 '"id":7,"error":\{"code":-32601'
expect tools_call_no_name_32602 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{}}')" 200 '"id":8,"error":\{"code":-32602'
expect tools_call_args_not_object_32602 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"ask-operator","arguments":[]}}')" 200 '"code":-32602'
expect unknown_tool_32602 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"sudo"}}')" 200 '"code":-32602,"message":"Unknown tool: sudo"'
expect bad_tool_args_is_error "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"cred-block","arguments":{"host":"x.example.com","scheme":"Basic","reason":"r"}}}')" 200 '"isError":true'
expect missing_session_400 "$(post "$PORT" "" '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 400 'Mcp-Session-Id header is required'
expect unknown_session_404 "$(post "$PORT" 0123456789abcdef0123456789abcdef '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 404 'Session not found'
expect initialize_with_session_400 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}')" 400 '"code":-32600'
expect wrong_content_type_415 "$(CT=text/plain post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 415 'Content-Type'
expect wrong_charset_415 "$(CT='application/json; charset=latin1' post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 415 'Content-Type'
expect two_content_types_415 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'Content-type: text/plain')" 415 'Content-Type'
out=$(CT='application/json; charset=UTF-8' post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}')
expect charset_utf8_ok "$out" 200 '"result":\{\}'
expect accept_without_sse_406 "$(ACCEPT=application/json post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 406 'Accept'
expect accept_without_json_406 "$(ACCEPT=text/event-stream post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 406 'Accept'
expect accept_wildcard_ok "$(ACCEPT='*/*' post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 200 '"result"'
expect bad_protocol_version_400 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'MCP-Protocol-Version: 2024-01-01')" 400 'MCP-Protocol-Version'
expect good_protocol_version "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'MCP-Protocol-Version: 2025-06-18')" 200 '"result"'
expect foreign_origin_403 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'Origin: http://evil.example')" 403 'Origin'
expect own_origin_ok "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Origin: http://$ADDR:$PORT")" 200 '"result"'
expect wrong_path_404 "$(curl -s -m 5 -w ' [%{http_code}]' "${HDRS[@]}" -H "Mcp-Session-Id: $SID" --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}' "http://$ADDR:$PORT/other")" 404 'Not Found'
expect mcp_path_ok "$(curl -s -m 5 -w ' [%{http_code}]' "${HDRS[@]}" -H "Mcp-Session-Id: $SID" --data-binary '{"jsonrpc":"2.0","id":1,"method":"ping"}' "http://$ADDR:$PORT/mcp")" 200 '"result"'
out=$(curl -s -m 5 -D "$T/h" -w ' [%{http_code}]' -H 'Accept: text/event-stream' -H "Mcp-Session-Id: $SID" "http://$ADDR:$PORT/")
expect get_sse_405 "$out" 405 'Method Not Allowed'
grep -qi '^Allow: POST, DELETE' "$T/h" && ok get_405_allow_header || fail get_405_allow_header "$(cat "$T/h")"
expect put_405 "$(curl -s -m 5 -w ' [%{http_code}]' -X PUT -d x "http://$ADDR:$PORT/")" 405 'Method Not Allowed'
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T/big"
expect body_over_1mib_413 "$(post "$PORT" "$SID" "@$T/big")" 413 'larger than 1 MiB'
out=$(curl -s -m 5 -w ' [%{http_code}]' "${HDRS[@]}" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" -d '{}' "http://$ADDR:$PORT/")
expect head_over_16k_431 "$out" 431 'head'
out=$(printf '{"jsonrpc":"2.0","id":"c","method":"ping"}' | curl -s -m 5 -w ' [%{http_code}]' "${HDRS[@]}" -H "Mcp-Session-Id: $SID" \
	-H 'Transfer-Encoding: chunked' --data-binary @- "http://$ADDR:$PORT/")
expect chunked_body "$out" 200 '"id":"c","result":\{\}'
out=$(curl -s -m 5 -w ' [%{http_code}]' "${HDRS[@]}" -H "Mcp-Session-Id: $SID" -H 'Expect: 100-continue' \
	--data-binary '{"jsonrpc":"2.0","id":"e","method":"ping"}' "http://$ADDR:$PORT/")
expect expect_100_continue "$out" 200 '"id":"e"'
# Two requests on one connection (keep-alive), then a smuggling shape refused.
out=$(curl -s -m 5 "${HDRS[@]}" -H "Mcp-Session-Id: $SID" --data-binary '{"jsonrpc":"2.0","id":"k","method":"ping"}' \
	"http://$ADDR:$PORT/" --next "${HDRS[@]}" -H "Mcp-Session-Id: $SID" --data-binary '{"jsonrpc":"2.0","id":"l","method":"ping"}' \
	"http://$ADDR:$PORT/" -v 2>&1)
[[ "$out" == *'"id":"k"'*'Re-using existing connection'*'"id":"l"'* ]] && ok keep_alive || fail keep_alive "${out:0:300}"
out=$(printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!' |
	timeout 5 bash -c "exec 3<>/dev/tcp/$ADDR/$PORT; cat >&3; cat <&3")
[[ "$out" == "HTTP/1.1 400"* ]] && ok duplicate_content_length_400 || fail duplicate_content_length_400 "${out:0:200}"
out=$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":11,"method":"tools/list"}')
n=$(printf '%s' "$out" | grep -o '"name":"[a-z-]*"' | sort -u | tr '\n' ' ')
[ "$n" = '"name":"ask-operator" "name":"capability-block" "name":"cred-block" "name":"dlp-block" "name":"egress-block" "name":"list-egress-routes" "name":"proposal-status" ' ] &&
	ok curl_tools_list || fail curl_tools_list "$n"
out=$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"list-egress-routes","arguments":{}}}')
expect curl_list_egress_routes "$out" 200 '"routes":\[\{"host":"api.example.com","credential":"Bearer","path_allowlist":\["/v1/"\]'
expect delete_session "$(curl -s -m 5 -w ' [%{http_code}]' -X DELETE -H "Mcp-Session-Id: $SID" "http://$ADDR:$PORT/")" 200 ''
expect deleted_session_404 "$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 404 'Session not found'
expect delete_unknown_404 "$(curl -s -m 5 -w ' [%{http_code}]' -X DELETE -H "Mcp-Session-Id: $SID" "http://$ADDR:$PORT/")" 404 ''
kill -0 "$SUP_PID" 2>/dev/null && ok survives_bad_requests || fail survives_bad_requests "supervise died"

# list-egress-routes says what the plan says: a match without methods is not one with [], a route without
# path_allowlist is not one with [] (the answer leaves out what the plan left out).
cat >"$T/lists.json" <<'EOF'
{"schema":"bb.plan/1","egress":{"routes":[
 {"host":"b.example.com","matches":[{"paths":[{"type":"exact","value":"/a"},{"value":"/b/"}],"methods":[]},{"paths":[]}],"git_fetch":true},
 {"host":"c.example.com","path_allowlist":[]}]},"supervise":{"enabled":true},"dns":{"allow":[]}}
EOF
LPORT=$(free_port "$ADDR")
if start_sup "$LPORT" "$T/lists.json" "$T/lq" "$T/lists.log"; then
	out=$(post "$LPORT" "$(init "$LPORT")" '{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"list-egress-routes","arguments":{}}}')
	expect list_routes_absent_lists_stay_absent "$out" 200 \
		'"routes":\[\{"host":"b.example.com","credential":null,"matches":\[\{"paths":\["/a","/b/"\],"methods":\[\]\},\{"paths":\[\]\}\],"git_fetch":true\},\{"host":"c.example.com","credential":null,"path_allowlist":\[\],"matches":\[\],"git_fetch":false\}\]'
	[[ "$out" == *'b.example.com [any-method exact:/a,/b/] [any-method any-path]'* ]] && ok list_routes_text ||
		fail list_routes_text "${out:0:400}"
else
	fail list_routes_absent_lists_stay_absent "$(tail -3 "$T/lists.log")"
fi

# --- the MCP TypeScript SDK ----------------------------------------------------------------------------
NPM_CACHE=${BB_NPM_CACHE:-$TESTS/../build/npm}
SDK=$NPM_CACHE/node_modules/@modelcontextprotocol/sdk
sdk_reason=""
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	sdk_reason="node and npm are not installed (apt-get install nodejs npm)"
elif [ ! -f "$SDK/package.json" ]; then
	mkdir -p "$NPM_CACHE"
	if ! (flock 9 && { [ -f "$SDK/package.json" ] || timeout 300 npm install --prefix "$NPM_CACHE" --no-audit --no-fund \
		--loglevel=error @modelcontextprotocol/sdk >"$T/npm.log" 2>&1; }) 9>"$NPM_CACHE/.lock"; then
		sdk_reason="npm install @modelcontextprotocol/sdk failed: $(tail -2 "$T/npm.log" | tr '\n' ' ')"
	fi
fi
if [ -n "$sdk_reason" ]; then
	skip sdk_client "$sdk_reason"
else
	SDK="$SDK" BB="$BB" URL="http://$ADDR:$PORT/" QUEUE="$Q" POLICY="$P" TIMEOUT=$TIMEOUT \
		timeout 180 node "$TESTS/peers/mcp_client.cjs" 2>"$T/node.err" | grep -E '^(ok|not ok) - '
	[ "${PIPESTATUS[0]}" -eq 0 ] && ok sdk_client_exit || fail sdk_client_exit "$(tail -5 "$T/node.err" | tr '\n' ' ')"
	# The cancellation is a notification: the server may log it just after the client has exited.
	for _ in $(seq 100); do grep -q '"event":"cancelled"' "$LOG" && break; sleep 0.05; done
	grep -q '"event":"cancelled"' "$LOG" && ok sdk_cancel_logged || fail sdk_cancel_logged "no cancelled event"
	grep -q '"event":"apply".*"host":"api.github.com","result":"ok"' "$LOG" && ok apply_audited || fail apply_audited "no apply event"
	grep -q '"event":"decision".*"status":"rejected","note":"no"' "$LOG" && ok decision_audited || fail decision_audited "no decision event"
fi
perm=$(stat -c %a "$Q"/*.json | sort -u | tr '\n' ' ')
[ "$perm" = "600 " ] && ok proposal_files_0600 || fail proposal_files_0600 "modes: $perm"
ls "$Q" | grep -q tmp && fail no_temp_files_left "$(ls "$Q")" || ok no_temp_files_left

# --- a curl-filed proposal approved while it waits; the pending path without the SDK ------------------------
SID=$(init "$PORT")
post "$PORT" "$SID" '{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"pypi.org","methods":["GET"],"reason":"pip install"}}}' >"$T/call.out" &
cpid=$!
id=""
for _ in $(seq 100); do
	id=$("$BB" bottle proposals --dir "$Q" | awk '$3 == "egress-block" && /pypi.org/ {print $1}')
	[ -n "$id" ] && break
	sleep 0.05
done
"$BB" bottle approve "$id" --dir "$Q" --note "ok pypi" >"$T/approve.out"
wait $cpid
expect curl_approved_while_waiting "$(cat "$T/call.out")" 200 'status: approved\\nnotes: ok pypi.*"applied":\{"at":"[^"]*","result":"ok","detail":"added route pypi.org'
grep -q "^approved $id (egress-block: pypi.org GET any-path)" "$T/approve.out" && ok approve_output || fail approve_output "$(cat "$T/approve.out")"
out=$("$BB" bottle approve "$id" --dir "$Q" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"already approved"* ]] && ok approve_twice_refused || fail approve_twice_refused "rc=$rc $out"
out=$("$BB" bottle reject 0123456789abcdef01234567 --dir "$Q" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"no proposal"* ]] && ok decide_unknown_id || fail decide_unknown_id "rc=$rc $out"
out=$("$BB" bottle reject ../../etc/passwd --dir "$Q" 2>&1); rc=$?
[ $rc -eq 2 ] && ok decide_bad_id_usage || fail decide_bad_id_usage "rc=$rc $out"
t0=$(date +%s%N)
out=$(post "$PORT" "$SID" '{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"name":"capability-block","arguments":{"capability":"docker socket","reason":"build images"}}}')
ms=$((($(date +%s%N) - t0) / 1000000))
expect curl_pending_after_timeout "$out" 200 'status: pending\\nnotes: operator response timed out after 6s; proposal remains queued.*"isError":false'
[ "$ms" -ge 5900 ] && [ "$ms" -lt 9000 ] && ok pending_took_the_timeout || fail pending_took_the_timeout "${ms} ms"

# --- bb bottle proposals ----------------------------------------------------------------------------------
out=$("$BB" bottle proposals --dir "$Q")
[[ "$out" == *"capability-block"*"pending"*"docker socket"*"reason: build images"* ]] && [[ "$out" != *"pypi.org"* ]] &&
	ok proposals_lists_pending || fail proposals_lists_pending "$out"
out=$("$BB" bottle proposals --dir "$Q" --all)
[[ "$out" == *"pypi.org"*"note: ok pypi"*"applied: added route pypi.org"* ]] && ok proposals_all || fail proposals_all "$out"
"$BB" bottle proposals --dir "$Q" --all --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert all(p["schema"] == "bb.proposal/1" for p in d), d
assert [p["created"] for p in d] == sorted(p["created"] for p in d)
assert any(p["status"] == "pending" and p["tool"] == "capability-block" for p in d)
' && ok proposals_json || fail proposals_json "bad json"
mkdir -p "$T/home/.bb/state/dev/supervise" "$T/home/.bb/state/other-42/supervise"
cp "$Q/$id.json" "$T/home/.bb/state/dev/supervise/"
pend=$("$BB" bottle proposals --dir "$Q" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
cp "$Q/$pend.json" "$T/home/.bb/state/other-42/supervise/"
out=$(BB_HOME=$T/home "$BB" bottle proposals)
[[ "$out" == *"$pend"* ]] && ok proposals_every_bottle || fail proposals_every_bottle "$out"
out=$(BB_HOME=$T/home "$BB" bottle proposals dev)
[ "$out" = "no pending proposals" ] && ok proposals_one_bottle || fail proposals_one_bottle "$out"
BB_HOME=$T/home "$BB" bottle reject "$pend" --note "not here" >/dev/null &&
	grep -q '"status":"rejected"' "$T/home/.bb/state/other-42/supervise/$pend.json" && ok decide_finds_the_bottle ||
	fail decide_finds_the_bottle "not rejected"
out=$(BB_HOME=$T/home "$BB" bottle proposals Bad_Name 2>&1); rc=$?
[ $rc -eq 2 ] && ok proposals_bad_bottle_name || fail proposals_bad_bottle_name "rc=$rc $out"
"$BB" bottle --help | grep -q 'proposals' && ok bottle_help_lists_proposals || fail bottle_help_lists_proposals "no"

# --- egress really reloads: --egress-pid-file with a running bb egress -------------------------------------------
P2=$T/plan2.json Q2=$T/queue2 LOG2=$T/supervise2.log ELOG=$T/egress.log
write_plan "$P2"
EPORT=$(free_port "$ADDR")
BB_EGRESS_TOKEN_0=egress-test-token-value "$BB" egress --policy "$P2" --listen "$ADDR:$EPORT" --log "$ELOG" --ca "$T/noca" --loaded "$T/egress.loaded" &
epid=$!
on_exit "kill_tree $epid"
echo "$epid" >"$T/egress.pid"
if wait_port "$ADDR" "$EPORT" 10; then
	PORT2=$(free_port "$ADDR")
	start_sup "$PORT2" "$P2" "$Q2" "$LOG2" --egress-pid-file "$T/egress.pid" --egress-loaded "$T/egress.loaded" --response-timeout 20
	SID2=$(init "$PORT2")
	post "$PORT2" "$SID2" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"registry.npmjs.org","reason":"npm ci"}}}' >"$T/call2.out" &
	cpid=$!
	for _ in $(seq 100); do
		id=$("$BB" bottle proposals --dir "$Q2" | awk '/registry.npmjs.org/ {print $1}')
		[ -n "$id" ] && break
		sleep 0.05
	done
	"$BB" bottle approve "$id" --dir "$Q2" >/dev/null
	wait $cpid
	expect pidfile_reload_answer "$(cat "$T/call2.out")" 200 "SIGHUP sent to egress \\(pid $epid\\); egress loaded it"
	# The answer came once egress held the new policy (--egress-loaded), not merely once it was signalled.
	grep -q '"event":"reload","result":"ok","routes":"2"' "$ELOG" && ok answer_after_egress_loaded ||
		fail answer_after_egress_loaded "answered before egress reloaded: $(grep reload "$ELOG" | tail -2)"
	for _ in $(seq 60); do grep -q '"event":"reload","result":"ok","routes":"2"' "$ELOG" && break; sleep 0.05; done
	grep -q '"event":"reload","result":"ok","routes":"2"' "$ELOG" && ok egress_reloaded_new_route ||
		fail egress_reloaded_new_route "$(grep reload "$ELOG" | tail -2)"
	grep -q egress-test-token-value "$P2" "$Q2"/*.json "$LOG2" && fail token_not_written "the token reached a file" ||
		ok token_not_written
	# A proposal approved while supervise is down is applied when it starts again.
	SID2=$(init "$PORT2")
	post "$PORT2" "$SID2" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"crates.io","reason":"cargo"}}}' >/dev/null &
	cpid=$!
	for _ in $(seq 100); do
		id=$("$BB" bottle proposals --dir "$Q2" | awk '/crates.io/ {print $1}')
		[ -n "$id" ] && break
		sleep 0.05
	done
	kill_tree "$SUP_PID"
	wait $cpid 2>/dev/null
	"$BB" bottle approve "$id" --dir "$Q2" >/dev/null
	grep -q crates.io "$P2" && fail applied_while_down "merged without supervise" || ok applied_while_down
	start_sup "$PORT2" "$P2" "$Q2" "$LOG2" --egress-pid-file "$T/egress.pid"
	for _ in $(seq 60); do grep -q '"applied"' "$Q2/$id.json" && break; sleep 0.05; done
	grep -q '"host":"crates.io"' "$P2" && grep -q '"result":"ok"' "$Q2/$id.json" && ok applied_at_start ||
		fail applied_at_start "$(cat "$Q2/$id.json")"
	kill_tree "$SUP_PID"
else
	fail egress_starts "$(tail -3 "$ELOG")"
fi

# --- --reload-parent: the sidecar's init gets the SIGHUP -------------------------------------------------------
P3=$T/plan3.json Q3=$T/queue3 LOG3=$T/supervise3.log
write_plan "$P3"
PORT3=$(free_port "$ADDR")
bash -c 'trap "echo hup >>\"$0/hup\"" HUP; "$1" supervise --policy "$2" --queue "$3" --listen "$4" --log "$5" --reload-parent & c=$!
	trap "kill \$c" TERM; while kill -0 $c 2>/dev/null; do wait $c; done' "$T" "$BB" "$P3" "$Q3" "$ADDR:$PORT3" "$LOG3" &
ppid_=$!
on_exit "kill_tree $ppid_"
if wait_port "$ADDR" "$PORT3" 10; then
	SID3=$(init "$PORT3")
	post "$PORT3" "$SID3" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"go.dev","reason":"go"}}}' >"$T/call3.out" &
	cpid=$!
	for _ in $(seq 100); do
		id=$("$BB" bottle proposals --dir "$Q3" | awk '/go.dev/ {print $1}')
		[ -n "$id" ] && break
		sleep 0.05
	done
	"$BB" bottle approve "$id" --dir "$Q3" >/dev/null
	wait $cpid
	for _ in $(seq 40); do [ -s "$T/hup" ] && break; sleep 0.05; done
	[ "$(cat "$T/hup" 2>/dev/null)" = hup ] && ok reload_parent_sighup || fail reload_parent_sighup "$(cat "$T/call3.out")"

	# SIGTERM: a waiting call is answered (pending, with its id), then supervise exits 0.
	SID3=$(init "$PORT3")
	post "$PORT3" "$SID3" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask-operator","arguments":{"question":"q"}}}' >"$T/call4.out" &
	cpid=$!
	for _ in $(seq 100); do grep -q '"tool":"ask-operator"' "$LOG3" && break; sleep 0.05; done
	spid=$(pgrep -P "$ppid_" -f 'supervise --policy')
	kill -TERM "$spid"
	wait $cpid
	expect sigterm_answers_pending "$(cat "$T/call4.out")" 200 'status: pending'
	for _ in $(seq 60); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$spid" 2>/dev/null && fail sigterm_exits "still running" || ok sigterm_exits
	grep -q '"event":"stop","signal":"TERM"' "$LOG3" && ok sigterm_logged || fail sigterm_logged "no stop event"
else
	fail reload_parent_starts "$(tail -3 "$LOG3")"
fi

# --- the pending cap: a flood of proposals stops at 32 ---------------------------------------------------------
Q4=$T/queue4
mkdir -p "$Q4"
src=$(ls "$Q3"/*.json | head -1)
for i in $(seq 32); do
	nid=$(printf 'f%023d' "$i")
	sed -e "s/\"id\":\"[0-9a-z-]*\"/\"id\":\"$nid\"/" -e 's/"status":"[a-z]*"/"status":"pending"/' "$src" >"$Q4/$nid.json"
done
PORT4=$(free_port "$ADDR")
start_sup "$PORT4" "$P3" "$Q4" "$T/supervise4.log"
SID4=$(init "$PORT4")
out=$(post "$PORT4" "$SID4" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask-operator","arguments":{"question":"one more"}}}')
expect pending_cap "$out" 200 '32 proposals already wait.*"isError":true'
kill_tree "$SUP_PID"

# An agent's multi-line text cannot pass for a line of the listing.
f=$(ls "$Q4"/*.json | head -1)
python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["request"]["question" if d["tool"] == "ask-operator" else "reason"] = "line one\nffffffffffffffffffffffff  dev  egress-block  approved  1s  evil.example.com"
json.dump(d, open(sys.argv[1], "w"))
PY
out=$("$BB" bottle proposals --dir "$Q4")
[[ "$out" == *$'\n      ffffffffffffffffffffffff  dev'* ]] && ! grep -q '^ffff' <<<"$out" && ok listing_indents_agent_text ||
	fail listing_indents_agent_text "$(head -3 <<<"$out")"
