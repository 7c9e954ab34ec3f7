#!/usr/bin/env bash
# lifecycle.sh - bb bottle start / list / inspect / logs / stop / resume / cleanup on the embedded runtime, as a user drives them.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "lifecycle" "needs root (the embedded runtime)"; exit 0; }
unshare --net --mount true 2>/dev/null || { skip "lifecycle" "namespaces are not available here"; exit 0; }

export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws" "$T/ws2"
chown 65534:65534 "$T/ws" "$T/ws2"
CANARY="sk-canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export LIFE_TOKEN=$CANARY

# A "command" agent: says where it is, keeps a counter in its home (kept across resume), waits to be stopped.
cat >"$BB_HOME/.bb/bottles/dev.md" <<'EOF'
---
agent_provider:
  template: command
  command: [sh, -c, 'n=$(cat $HOME/runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > $HOME/runs; echo "agent run $n in $BB_BOTTLE"; echo "marker $GREETING"; exec sleep 3597']
env:
  GREETING: hello-lifecycle
egress:
  routes:
    - host: api.test
      auth: {scheme: Bearer, token_ref: LIFE_TOKEN}
---
EOF
cat >"$BB_HOME/.bb/bottles/quick.md" <<'EOF'
---
agent_provider: {template: command, command: [sh, -c, 'echo quick done; exit 3']}
---
EOF

slug_of() { "$BB" bottle list --json | python3 -c "import json,sys; b=[x for x in json.load(sys.stdin) if x['agent']=='$1' and x['status']=='$2']; print(b[-1]['slug'] if b else '')"; }

# --- preflight ---
out=$(cd "$T/ws" && "$BB" bottle start dev --dry-run 2>&1)
rc=$?
if [ $rc = 0 ] && grep -q "api.test \[token from \$LIFE_TOKEN" <<<"$out" && grep -q "GREETING" <<<"$out" &&
	! grep -q "$CANARY" <<<"$out" && [ -z "$(ls "$BB_HOME/.bb/state" 2>/dev/null)" ]; then
	ok "start --dry-run: routes, token sources and env names shown, no value, nothing started"
else
	fail "start --dry-run" "$rc: $out"
fi

# --- start, then look at it from outside ---
(cd "$T/ws" && exec "$BB" bottle start dev -y) >"$T/start.out" 2>"$T/start.err" &
START=$!
on_exit "kill -9 $START 2>/dev/null"
if wait_until 20 grep -q "agent run 1" "$T/start.out"; then
	ok "start runs the provider's command in the bottle, attached to this terminal"
else
	fail "start" "$(cat "$T/start.out" "$T/start.err" | tail -n 8)"
fi
grep -q "marker hello-lifecycle" "$T/start.out" && ok "the manifest's env reaches the agent" || fail "manifest env" "$(cat "$T/start.out")"
SLUG=$(slug_of dev running)
if [[ "$SLUG" == dev-?????? ]] && grep -q "in $SLUG" "$T/start.out"; then
	ok "list --json shows the running bottle by slug ($SLUG)"
else
	fail "list --json" "slug '$SLUG'; $("$BB" bottle list --json 2>&1)"
fi
out=$("$BB" bottle list 2>&1)
grep -Eq "^$SLUG +dev +running +embedded" <<<"$out" && ok "list: one line per bottle with its status and backend" || fail "list" "$out"
out=$("$BB" bottle inspect "$SLUG" 2>&1; "$BB" bottle inspect "$SLUG" --json 2>&1)
if grep -q "route       api.test  token from \$LIFE_TOKEN" <<<"$out" && grep -q '"status":"running"' <<<"$out" &&
	! grep -q "$CANARY" <<<"$out"; then
	ok "inspect (text and JSON) shows routes and token sources, never the token"
else
	fail "inspect" "$out"
fi
if ! grep -rq "$CANARY" "$BB_HOME/.bb/state/$SLUG" 2>/dev/null; then
	ok "no file of the bottle's state holds the token"
else
	fail "state" "the token is in $(grep -rl "$CANARY" "$BB_HOME/.bb/state/$SLUG")"
fi
# A compromised sidecar rewrites the plan it can write (its state dir) to name another host: the host-side
# dialer, which reads its own copy, must still refuse to dial it.
python3 - "$BB_HOME/.bb/state/$SLUG/plan.json" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
r = dict(d["egress"]["routes"][0]); r["host"] = "evil.test"; r["auth"] = None
d["egress"]["routes"].append(r)
json.dump(d, open(p + ".x", "w")); os.rename(p + ".x", p)
PY
sleep 1
out=$(python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"DIAL evil.test 443\n"); print(s.recv(300).decode().strip())' \
	"$BB_HOME/.bb/state/$SLUG/dial.sock" 2>&1)
if [[ "$out" == "ERR no-route "* ]]; then
	ok "a sidecar that rewrites its plan does not widen what the host dials (the dialer reads its own copy)"
else
	fail "compromised plan" "$out"
fi
out=$("$BB" bottle logs "$SLUG" 2>&1)
rc=$?
[ $rc = 0 ] && ok "logs of a running bottle (exit 0)" || fail "logs" "$rc: $out"
"$BB" bottle logs "$SLUG" --follow >"$T/follow.out" 2>&1 &
FOLLOW=$!
on_exit "kill $FOLLOW 2>/dev/null"

# --- a second bottle at once: its own slug, state and logs ---
(cd "$T/ws2" && exec "$BB" bottle start quick -y) >"$T/quick.out" 2>"$T/quick.err"
rc=$?
QSLUG=$("$BB" bottle list --json | python3 -c "import json,sys; print([x['slug'] for x in json.load(sys.stdin) if x['agent']=='quick'][0])" 2>/dev/null)
if [ $rc = 3 ] && grep -q "quick done" "$T/quick.out" && [ -n "$QSLUG" ] && [ "$QSLUG" != "$SLUG" ] &&
	[ "$("$BB" bottle inspect "$QSLUG" --json | python3 -c 'import json,sys; m=json.load(sys.stdin)["meta"]; print(m["status"], m["exit_code"], m["cwd"])')" = "stopped 3 $T/ws2" ]; then
	ok "a second bottle alongside: its own slug, workspace and exit status (3), the first untouched"
else
	fail "two bottles" "rc $rc, slug '$QSLUG': $(cat "$T/quick.out" "$T/quick.err" | tail -n 5)"
fi
"$BB" bottle list | grep -Eq "^$SLUG +dev +running" && ok "the first bottle is still running" || fail "crosstalk" "$("$BB" bottle list)"

# --- stop ---
out=$("$BB" bottle stop "$SLUG" 2>&1)
rc=$?
wait $START 2>/dev/null
if [ $rc = 0 ] && grep -q "stopped $SLUG" <<<"$out" && "$BB" bottle list | grep -Eq "^$SLUG +dev +stopped"; then
	ok "stop ends the bottle; list says stopped"
else
	fail "stop" "$rc: $out; $("$BB" bottle list 2>&1)"
fi
if wait_until 5 sh -c "! kill -0 $FOLLOW 2>/dev/null"; then ok "logs --follow ends when the bottle stops"; else fail "logs --follow" "still running"; fi
[ ! -e "$BB_HOME/.bb/state/$SLUG/dial.sock" ] && ok "the dialer's socket is gone with the host process" || fail "dial.sock" "left behind"
out=$("$BB" bottle stop "$SLUG" 2>&1)
[ $? = 1 ] && grep -q "is not running (stopped)" <<<"$out" && ok "stop of a stopped bottle says so (exit 1)" || fail "stop twice" "$out"
[ -z "$(ip netns list 2>/dev/null | grep -v '^bbtest')" ] || true

# --- resume: the same slug, workspace and home ---
("$BB" bottle resume "$SLUG" -y) >"$T/resume.out" 2>"$T/resume.err" &
RES=$!
on_exit "kill -9 $RES 2>/dev/null"
if wait_until 20 grep -q "agent run 2 in $SLUG" "$T/resume.out"; then
	ok "resume starts the same bottle again, with the agent's home kept (second run)"
else
	fail "resume" "$(cat "$T/resume.out" "$T/resume.err" | tail -n 5)"
fi
out=$("$BB" bottle resume "$SLUG" -y 2>&1)
[ $? = 1 ] && grep -q "is running" <<<"$out" && ok "resume of a running bottle is refused" || fail "resume twice" "$out"

# --- kill -9 of the host process: dead, then cleanup ---
HOSTPID=$("$BB" bottle inspect "$SLUG" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["meta"]["host_pid"])')
kill -9 "$HOSTPID"
wait $RES 2>/dev/null
if wait_until 5 sh -c "'$BB' bottle list | grep -Eq '^$SLUG +dev +dead'"; then
	ok "after kill -9 of the host process the bottle is listed dead"
else
	fail "dead" "$("$BB" bottle list 2>&1)"
fi
sleep 0.3
if ! pgrep -f "sleep 3597" >/dev/null; then ok "nothing of the bottle outlives its host process"; else fail "kill -9" "the agent still runs"; fi
out=$("$BB" bottle cleanup 2>&1)
if grep -q "removed .*$SLUG (its host process is gone)" <<<"$out" && [ ! -e "$BB_HOME/.bb/state/$SLUG" ] &&
	[ -e "$BB_HOME/.bb/state/$QSLUG" ]; then
	ok "cleanup removes the dead bottle and keeps the stopped one"
else
	fail "cleanup" "$out"
fi
# The bottle ran on the embedded runtime: no runc or crun container of its was there to remove.
if ! grep -q "container bb-$HOSTPID-" <<<"$out"; then
	ok "cleanup names only containers that existed (none for an embedded bottle)"
else
	fail "cleanup: containers" "$out"
fi
# A killed bottle's last processes may take a moment to leave their cgroup (rmdir says EBUSY until then).
cg_gone() { "$BB" bottle cleanup >/dev/null 2>&1; [ -z "$(find /sys/fs/cgroup -name "bb-$HOSTPID-*" 2>/dev/null)" ]; }
if wait_until 10 cg_gone; then ok "cleanup removes the killed bottle's cgroups"; else fail "cgroups after cleanup" "$(find /sys/fs/cgroup -name "bb-$HOSTPID-*")"; fi
out=$("$BB" bottle cleanup --all 2>&1)
if grep -q "removed .*$QSLUG (stopped; --all)" <<<"$out" && [ -z "$(ls "$BB_HOME/.bb/state")" ]; then
	ok "cleanup --all removes stopped bottles too: nothing left"
else
	fail "cleanup --all" "$out; $(ls "$BB_HOME/.bb/state")"
fi

# --- a run leaves nothing, even when stopped from outside ---
(cd "$T/ws" && exec "$BB" bottle run dev -- sh -c 'echo running; exec sleep 3597') >"$T/run.out" 2>"$T/run.err" &
RUN=$!
on_exit "kill -9 $RUN 2>/dev/null"
wait_until 20 grep -q running "$T/run.out"
RSLUG=$(slug_of dev running)
out=$("$BB" bottle stop "$RSLUG" 2>&1)
wait $RUN
rc=$?
if grep -q "stopped $RSLUG" <<<"$out" && [ $rc = 143 ] && [ -z "$(ls "$BB_HOME/.bb/state")" ]; then
	ok "stop of a run: the command ends (SIGTERM, 143) and its state is removed"
else
	fail "stop a run" "rc $rc, slug '$RSLUG': $out $(tail -n 3 "$T/run.err")"
fi

# --- --bare: no isolation, asked for; the proxy still checks what goes through it ---
(cd "$T/ws" && exec "$BB" bottle run dev --bare -- sh -c 'echo "proxy $HTTPS_PROXY"; curl -s -x "$HTTPS_PROXY" http://denied.example/; sleep 1') >"$T/bare.out" 2>"$T/bare.err" &
BARE=$!
on_exit "kill -9 $BARE 2>/dev/null"
wait_until 10 grep -q proxy "$T/bare.out"
listed=$("$BB" bottle list 2>&1)
wait $BARE
rc=$?
if [ $rc = 0 ] && grep -q "WARNING: dev-.* runs WITHOUT isolation" "$T/bare.err" && grep -q "proxy http://127.0.0.1:" "$T/bare.out" &&
	grep -q "rule: no-route" "$T/bare.out" && grep -Eq "dev +running +BARE" <<<"$listed" && [ -z "$(ls "$BB_HOME/.bb/state")" ]; then
	ok "--bare: a loud warning, BARE in list, egress on the host's loopback still refuses a host, nothing left"
else
	fail "--bare" "rc $rc: $(cat "$T/bare.out" "$T/bare.err" | tail -n 6) / $listed"
fi
out=$("$BB" bottle run dev --bare --backend oci -- true 2>&1)
[ $? = 2 ] && grep -q "does not go with --backend oci" <<<"$out" && ok "--bare with a backend is refused" || fail "--bare --backend" "$out"

# --- the start's steps: --dry-run lists them in order; a failure injected at each (BB_RT_FAULT=NAME) leaves nothing ---
"$BB" bottle cleanup --all >/dev/null 2>&1
left() { # what a bottle left: entries in the state and host dirs, a process (dialer, sidecar, agent), a mount or netns bind
	find "$BB_HOME/.bb/state" "$BB_HOME/.bb/host" -mindepth 1 -maxdepth 1 2>/dev/null
	pgrep -af "sleep 3598|$BB_HOME/.bb/state/"
	grep -F "$BB_HOME/.bb/" /proc/self/mountinfo
}
dry=$(cd "$T/ws" && "$BB" bottle run dev --dry-run -- sh -c 'sleep 3598' 2>&1)
rc=$?
STEPS=$(awk '$1 ~ /^[0-9]+$/ {print $2}' <<<"$dry" | tr '\n' ' ')
nums=$(awk '$1 ~ /^[0-9]+$/ {printf "%s ", $1}' <<<"$dry")
want="backend manifest image state meta plan home ca provider skills workspace git supervise sidecar env dialer agent "
if [ $rc = 0 ] && [ "$STEPS" = "$want" ] && [ "$nums" = "$(seq -s ' ' 17) " ] &&
	grep -Eq "^ +1 backend +embedded: " <<<"$dry" && grep -Eq "^ +4 state +create $BB_HOME/.bb/state/dev-XXXXXX" <<<"$dry" &&
	grep -q "BB_EGRESS_TOKEN_0 from \$LIFE_TOKEN (set, value not shown)" <<<"$dry" && grep -q "from the manifest: GREETING" <<<"$dry" &&
	grep -Eq "^ +17 agent +sh -c sleep 3598$" <<<"$dry" && ! grep -q "$CANARY" <<<"$dry" && [ -z "$(left)" ]; then
	ok "run --dry-run lists the 17 steps in order (the provisioning order ca..supervise among them) with what each uses, no token value, nothing made"
else
	fail "run --dry-run" "rc $rc: $dry / left: $(left)"
fi
out=$(cd "$T/ws" && "$BB" bottle start dev --dry-run 2>/dev/null)
if [ "$(awk '$1 ~ /^[0-9]+$/ {print $2}' <<<"$out" | tr '\n' ' ')" = "$want" ] && grep -Eq "^ +17 agent +the provider's program" <<<"$out" &&
	[ -z "$(left)" ]; then
	ok "start --dry-run lists the same steps after its summary"
else
	fail "start --dry-run steps" "$out"
fi
bad=""
for st in $STEPS; do
	out=$(cd "$T/ws" && BB_RT_FAULT=$st timeout 60 "$BB" bottle run dev -- sleep 3598 2>&1)
	rc=$?
	l=$(left)
	{ [ $rc = 111 ] && grep -q ": $st: fault injected" <<<"$out" && [ -z "$l" ]; } || bad="$bad [$st: rc $rc: $out / left: $l]"
done
[ -z "$bad" ] && ok "run: a failure injected at each of the 17 steps in turn stops it (111), names the step, leaves no state, host record, process or mount" ||
	fail "run: faults at each step" "$bad"
bad="" recorded=0
for st in $STEPS; do
	[ "$st" = plan ] && recorded=1 # from there on the host record exists: a failed start stays as a stopped bottle
	out=$(cd "$T/ws" && BB_RT_FAULT=$st timeout 60 "$BB" bottle start dev -y 2>&1)
	rc=$?
	kept=$("$BB" bottle list --json | python3 -c 'import json,sys; print(" ".join("%s/%s" % (x["status"], x["exit_code"]) for x in json.load(sys.stdin)))')
	# a stopped bottle keeps its record and state, but no socket (the dialer's go with the host process)
	procs=$(pgrep -af "sleep 3598|$BB_HOME/.bb/state/"; grep -F "$BB_HOME/.bb/" /proc/self/mountinfo; find "$BB_HOME/.bb" -type s)
	want_kept=""
	[ $recorded = 1 ] && want_kept="stopped/111"
	{ [ $rc = 111 ] && grep -q ": $st: fault injected" <<<"$out" && [ "$kept" = "$want_kept" ] && [ -z "$procs" ]; } ||
		bad="$bad [$st: rc $rc: $out / kept '$kept' / $procs]"
	"$BB" bottle cleanup --all >/dev/null 2>&1
	[ -z "$(left)" ] || bad="$bad [$st: cleanup --all left $(left)]"
done
[ -z "$bad" ] && ok "start: a failure injected at each step stops it (111), names the step; from the host record on it stays only as a stopped bottle (nothing running, no mount or socket), which cleanup --all removes" ||
	fail "start: faults at each step" "$bad"

# --- an agent's skills are copied into its home; a missing one stops the start, named ---
mkdir -p "$BB_HOME/.bb/agents" "$BB_HOME/.claude/skills/review"
echo "review carefully" >"$BB_HOME/.claude/skills/review/SKILL.md"
cat >"$BB_HOME/.bb/bottles/lister.md" <<'EOF'
---
agent_provider: {template: command, command: [sh, -c, 'cat $HOME/.claude/skills/review/SKILL.md']}
---
EOF
printf -- '---\nbottle: lister\nskills: [review]\n---\nCheck things.\n' >"$BB_HOME/.bb/agents/rev.md"
printf -- '---\nbottle: lister\nskills: [absent]\n---\n' >"$BB_HOME/.bb/agents/norev.md"
out=$(cd "$T/ws" && "$BB" bottle start rev -y 2>&1)
[ $? = 0 ] && grep -q "review carefully" <<<"$out" && ok "the agent's skills are in its ~/.claude/skills" || fail "skills" "$out"
out=$(cd "$T/ws" && "$BB" bottle start norev -y 2>&1)
[ $? != 0 ] && grep -q "skill 'absent': .*/.claude/skills/absent is not a directory" <<<"$out" && ok "a missing skill stops the start, named" ||
	fail "missing skill" "$out"
"$BB" bottle cleanup --all >/dev/null

# --- codex with host credentials: egress gets the host's token, the agent a dummy auth.json ---
jwt() { # EXP: a JWT-shaped token with that exp, and a secret-looking signature
	local p; p=$(printf '{"exp":%s,"email":"ada@example.com"}' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '=')
	printf 'eyJhbGciOiJSUzI1NiJ9.%s.sig%s' "$p" "$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}
mkdir -p "$T/codex"
HOSTJWT=$(jwt $(( $(date +%s) + 3600 )))
printf '{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"access_token":"%s","id_token":"%s","refresh_token":"rt-secret-xyz","account_id":"acct-42"}}' \
	"$HOSTJWT" "$HOSTJWT" >"$T/codex/auth.json"
cat >"$BB_HOME/.bb/bottles/cx.md" <<'EOF'
---
agent_provider: {template: codex, forward_host_credentials: true}
---
EOF
# start resolves the provider's program on the host: a stand-in codex on PATH (it exits at once).
mkdir -p "$T/fakebin" && printf '#!/bin/sh\nexit 0\n' >"$T/fakebin/codex" && chmod 755 "$T/fakebin/codex"
out=$(cd "$T/ws" && PATH=$T/fakebin:$PATH CODEX_HOME=$T/codex "$BB" bottle start cx -y 2>&1)
CX=$("$BB" bottle list --json | python3 -c "import json,sys; print([x['slug'] for x in json.load(sys.stdin) if x['agent']=='cx'][-1])" 2>/dev/null)
dummy=$BB_HOME/.bb/state/$CX/home/.codex/auth.json
if [ -f "$dummy" ] && ! grep -q "$HOSTJWT\|rt-secret-xyz\|ada@example.com" "$dummy" && grep -q '"account_id":"acct-42"' "$dummy" &&
	python3 - "$dummy" "$(( $(date +%s) + 3600 ))" <<'PY'
import base64, json, sys
d = json.load(open(sys.argv[1]))
p = d["tokens"]["access_token"].split(".")[1]
exp = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["exp"]
assert abs(exp - int(sys.argv[2])) < 60 and d["OPENAI_API_KEY"] is None and d["tokens"]["refresh_token"] == "egress-placeholder"
PY
then
	ok "codex: the agent's auth.json has the host's expiry and account, none of its tokens"
else
	fail "codex dummy auth" "$out; $(cat "$dummy" 2>&1)"
fi
grep -q "$HOSTJWT" <<<"$out" && fail "codex token" "printed" || ok "the host's codex token is never printed"
printf '{"auth_mode":"chatgpt","tokens":{"access_token":"%s"}}' "$(jwt 1000)" >"$T/codex/auth.json"
out=$(cd "$T/ws" && PATH=$T/fakebin:$PATH CODEX_HOME=$T/codex "$BB" bottle start cx -y 2>&1)
[ $? != 0 ] && grep -q "host Codex access token is expired. Run \`codex login --device-auth\`" <<<"$out" &&
	ok "an expired host codex token stops the start with what to do" || fail "expired codex token" "$out"
"$BB" bottle cleanup --all >/dev/null

# --- --image: the agent's root is an imported image (here the sidecar image: /bb and nothing else) ---
if [ "${MODE:-}" = asan ]; then
	skip "--image" "the sanitizer build is linked dynamically: an image holding only bb cannot run it"
elif "$BB" bottle image sidecar -o "$T/side.tar" 2>"$T/img.err" && "$BB" bottle image import "$T/side.tar" --name lifeimg -q 2>>"$T/img.err"; then
	out=$(cd "$T/ws" && "$BB" bottle run dev --image lifeimg -- /bb --list 2>&1)
	rc=$?
	out2=$(cd "$T/ws" && "$BB" bottle run dev --image lifeimg -- /bin/sh -c true 2>&1)
	rc2=$?
	if [ $rc = 0 ] && grep -qx egress <<<"$out" && [ $rc2 = 127 ] && grep -q "cannot run /bin/sh" <<<"$out2"; then
		ok "--image: the agent runs in the imported root (its /bb runs; the host's /bin/sh is not there)"
	else
		fail "--image" "$rc: $out / $rc2: $out2"
	fi
	if command -v runc >/dev/null; then
		out=$(cd "$T/ws" && "$BB" bottle run dev --image lifeimg --backend oci -- /bb --list 2>&1)
		rc=$?
		out2=$(cd "$T/ws" && "$BB" bottle run dev --image lifeimg --backend oci -- /bin/sh -c true 2>&1)
		rc2=$?
		if [ $rc = 0 ] && grep -qx egress <<<"$out" && [ $rc2 = 127 ] && grep -q "cannot run /bin/sh" <<<"$out2"; then
			ok "--image on the OCI backend: the agent runs in the imported root, not the host's"
		else
			fail "--image --backend oci" "$rc: $out / $rc2: $out2"
		fi
	fi
	out=$(cd "$T/ws" && "$BB" bottle run dev --image nosuchimg -- true 2>&1)
	[ $? != 0 ] && grep -q "nosuchimg" <<<"$out" && ok "--image of an image never imported is refused, named" || fail "--image missing" "$out"
	"$BB" bottle image rm lifeimg >/dev/null 2>&1
else
	fail "--image" "could not make a test image: $(cat "$T/img.err")"
fi

# --- bad input ---
out=$("$BB" bottle inspect nosuch-000000 2>&1)
[ $? = 1 ] && grep -q "no bottle 'nosuch-000000'" <<<"$out" && ok "inspect of an unknown slug names it" || fail "unknown slug" "$out"
out=$("$BB" bottle logs ../../etc 2>&1)
[ $? = 1 ] && grep -q "is not a bottle slug" <<<"$out" && ok "a slug with a path in it is refused" || fail "slug path" "$out"
out=$("$BB" bottle start dev extra 2>&1)
[ $? = 2 ] && grep -q "bb bottle run dev -- CMD" <<<"$out" && ok "start with a command points at run" || fail "start CMD" "$out"
