#!/usr/bin/env bash
# envleak.sh - host secrets (a token slot's host variable, an env value taken from the host) never appear in what bb
# prints: validate, plan (text and --json), manifest errors, egress's errors, its audit log and its crash output.
. "$(dirname "$0")/../sh/lib.sh"

H=$T/home C=$T/cwd
mkdir -p "$H/.bb/bottles" "$H/.bb/agents" "$C"
CANARY="canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CANARY2="canary2-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export ROUTE_TOKEN=$CANARY HOST_VAR=$CANARY2 GH_TOKEN=$CANARY BB_EGRESS_TOKEN_0=$CANARY
cat >"$H/.bb/bottles/dev.md" <<'EOF2'
---
env:
  FROM_HOST: "${HOST_VAR}"
  ALSO: "${ROUTE_TOKEN}"
egress:
  routes:
    - {host: api.example.com, auth: {scheme: Bearer, token_ref: ROUTE_TOKEN}}
---
EOF2
cat >"$H/.bb/agents/coder.md" <<'EOF2'
---
bottle: dev
---
Write code.
EOF2
# A broken bottle that names the same variables next to its errors.
cat >"$H/.bb/bottles/broken.md" <<'EOF2'
---
env:
  FROM_HOST: "${HOST_VAR}"
  bad-name: "${ROUTE_TOKEN}"
egress:
  routes:
    - {host: "api example com", auth: {scheme: Bearer, token_ref: ROUTE_TOKEN}}
    - {host: ok.example.com, auth: {scheme: Magic, token_ref: GH_TOKEN}}
---
EOF2

n=0
# clean NAME CMD...: run a bb command; neither canary in stdout or stderr (any exit status).
clean() {
	local name=$1
	shift
	n=$((n + 1))
	(cd "$C" && BB_HOME=$H HOME=$T/nohome timeout 20 "$@") >"$T/out.$n" 2>&1
	if grep -qF -e "$CANARY" -e "$CANARY2" "$T/out.$n"; then
		fail "$name" "a host secret is in the output: $(grep -F -e "$CANARY" -e "$CANARY2" "$T/out.$n" | head -c 200)"
	elif [ ! -s "$T/out.$n" ]; then
		fail "$name" "no output at all (nothing was checked)"
	else
		ok "$name"
	fi
}
clean "bottle validate" "$BB" bottle validate
clean "bottle validate --json" "$BB" bottle validate --json
clean "bottle plan (text)" "$BB" bottle plan coder
clean "bottle plan --json" "$BB" bottle plan coder --json
clean "bottle plan --json of the bottle" "$BB" bottle plan dev --json
clean "manifest errors next to secret-bearing keys" "$BB" bottle validate broken
clean "plan of an invalid bottle" "$BB" bottle plan broken --json
if grep -q '"present": *true\|"present":	true' "$T/out.4" || grep -q present "$T/out.4"; then
	ok "plan --json says the token is present without showing it"
else
	fail "plan presence" "$(head -c 300 "$T/out.4")"
fi

# egress: the token slot's value in its environment; startup errors, refusals and a crash must not show it.
A=$(test_addr)
printf '{"schema":"bb.plan/1","egress":{"routes":[{"host":"api.test","auth":{"scheme":"Bearer","token_slot":"BB_EGRESS_TOKEN_0","token_ref":"T"}}]}}\n' >"$T/policy.json"
printf '{"schema":"bb.plan/1","egress":{"routes":[{"host":"api.test","auth":{"scheme":"Bearer","token_slot":"BB_EGRESS_TOKEN_1"}}]}}\n' >"$T/needs1.json"
clean "egress: a policy naming an unset slot" "$BB" egress --policy "$T/needs1.json" --listen "$A:1" --log -
printf '{"egress":{"routes":[{"host":' >"$T/bad.json"
clean "egress: a broken policy file" "$BB" egress --policy "$T/bad.json" --listen "$A:1" --log -
clean "egress: --known naming the token's variable twice, bad listen" "$BB" egress --policy "$T/policy.json" --known BB_EGRESS_TOKEN_0 --listen "nonsense" --log -

P=$(free_port "$A")
BB_HOME=$T/cahome "$BB" bottle ca init >/dev/null 2>&1
"$BB" egress --policy "$T/policy.json" --listen "$A:$P" --log "$T/audit.log" --ca "$T/cahome/.bb/ca" --hosts /dev/null 2>"$T/egress.err" &
EG=$!
on_exit "kill_tree $EG"
if wait_port "$A" "$P"; then
	curl -sS --max-time 5 -x "http://$A:$P" "http://api.test/x?echo=$CANARY" >"$T/deny.body" 2>&1
	curl -sS --max-time 5 -x "http://$A:$P" -H "X-Token: $CANARY" "http://nothere.test/" >>"$T/deny.body" 2>&1
	kill -HUP "$EG"
	sleep 0.2
	kill -SEGV "$EG"
	wait "$EG" 2>/dev/null
	if grep -qF "$CANARY" "$T/deny.body" "$T/audit.log" "$T/egress.err"; then
		fail "egress: refusals, audit log and a SIGSEGV crash never show the token" "found"
	elif [ ! -s "$T/audit.log" ]; then
		fail "egress: refusals, audit log and a SIGSEGV crash never show the token" "nothing was logged"
	else
		ok "egress: refusals, audit log and a SIGSEGV crash never show the token"
	fi
else
	fail "egress starts" "$(cat "$T/egress.err")"
fi
