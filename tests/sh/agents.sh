#!/usr/bin/env bash
# agents.sh - the real Claude Code and Codex CLIs (npm, pinned in scripts/agent-clis.txt) in bottles against a local
# mock of their vendors' APIs (tests/peers/agent_api.py): every provider flow of docs/bottle.md, headless and under
# tmux. Each proves: the upstream got only the real credential; the agent's environment, files and output hold only
# placeholders; a tool call wrote into the workspace; streamed deltas reach the client while the mock holds the rest.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "agents" "needs root (the embedded runtime, port 443 for the mock)"; exit 0; }
unshare --net --mount true 2>/dev/null || { skip "agents" "namespaces are not available here"; exit 0; }
for tool in python3 tmux curl openssl zstd brotli; do
	command -v $tool >/dev/null || { skip "agents" "$tool not installed (scripts/setup.sh test)"; exit 0; }
done
PINS=$TESTS/../scripts/agent-clis.txt
if [ -n "${BB_AGENTS_DIR:-}" ]; then AGENTS_DIR=$BB_AGENTS_DIR; else AGENTS_DIR=/var/cache/bb/agents; fi
CLAUDE_VER=$(awk '$1 == "claude" {print $3}' "$PINS")
CODEX_VER=$(awk '$1 == "codex" {print $3}' "$PINS")
CLAUDE_PFX=$AGENTS_DIR/claude-$CLAUDE_VER
CODEX_PFX=$AGENTS_DIR/codex-$CODEX_VER
for p in "$CLAUDE_PFX/node_modules/.bin/claude" "$CODEX_PFX/node_modules/.bin/codex"; do
	[ -x "$p" ] || { skip "agents" "$p is not installed: scripts/setup.sh test installs it from npm (was the registry unreachable? see $AGENTS_DIR/*.log)"; exit 0; }
done
echo "# claude $CLAUDE_VER, codex $CODEX_VER"

rand() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
CLAUDE_OAUTH="sk-ant-oat01-$(rand)"
ANTHROPIC_KEY="sk-ant-api03-$(rand)"
OPENAI_KEY="sk-proj-$(rand)"
export BB_HOME=$T/bbhome
mkdir -p "$BB_HOME/.bb/bottles" "$T/ctl" "$T/hostcodex"

# The host's Codex sign-in: a ChatGPT login's auth.json with a JWT access token that expires in an hour.
CODEX_JWT=$(python3 - "$T/hostcodex/auth.json" <<'PY'
import base64, json, os, sys, time
b = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
jwt = b({"alg": "RS256", "typ": "JWT"}) + "." + b({"exp": int(time.time()) + 3600, "sub": "user-ada",
      "https://api.openai.com/auth": {"chatgpt_account_id": "acct-bbtest", "chatgpt_plan_type": "pro"}}) + ".sig" + os.urandom(16).hex()
json.dump({"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "last_refresh": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "tokens": {"id_token": jwt, "access_token": jwt, "refresh_token": "rt-" + os.urandom(8).hex(), "account_id": "acct-bbtest"}},
          open(sys.argv[1], "w"))
print(jwt)
PY
)

# --- the vendors, mocked: one HTTPS server on port 443 of a loopback address of the test's own ---
A=$(test_addr)
upstream_cert api.anthropic.com api.openai.com chatgpt.com llm.gateway.test
python3 "$TESTS/peers/agent_api.py" "$A" 443 "$T/api.log" "$T/up.crt" "$T/up.key" "$T/ctl" 2>"$T/api.err" &
on_exit "kill_tree $!"
wait_port "$A" 443 || { fail "the mock API starts" "$(cat "$T/api.err")"; exit 0; }
printf '%s api.anthropic.com api.openai.com chatgpt.com llm.gateway.test\n' "$A" >"$T/hosts"

# The bottles: one per provider flow; the manifest's route for each provider host refines the provider's
# (here: the mock lives on a loopback address, which egress reaches only when the route allows it).
route() { printf '    - host: %s\n      pipelock: {ssrf_ip_allowlist: ["127.0.0.0/8"]}\n' "$@"; }
{ echo "---"; echo "agent_provider: {template: claude, auth_token: AG_CLAUDE_OAUTH}"; echo "egress:"; echo "  routes:"; route api.anthropic.com; echo "---"; } >"$BB_HOME/.bb/bottles/cl-oauth.md"
{ echo "---"; echo "agent_provider: {template: claude, api_key: AG_ANTHROPIC_KEY}"; echo "egress:"; echo "  routes:"; route api.anthropic.com; echo "---"; } >"$BB_HOME/.bb/bottles/cl-key.md"
{ echo "---"; echo "agent_provider: {template: claude, api_key: AG_ANTHROPIC_KEY}"; echo "egress:"; echo "  routes:"; route api.anthropic.com; echo "      path_allowlist: [/v1/messages]"; echo "---"; } >"$BB_HOME/.bb/bottles/cl-refined.md"
{ echo "---"; echo "agent_provider: {template: claude, api_key: AG_ANTHROPIC_KEY}"; echo "env: {ANTHROPIC_BASE_URL: 'https://llm.gateway.test'}"; echo "egress:"; echo "  routes:"; route llm.gateway.test; echo "---"; } >"$BB_HOME/.bb/bottles/cl-gw.md"
{ echo "---"; echo "agent_provider: {template: codex, api_key: AG_OPENAI_KEY}"; echo "egress:"; echo "  routes:"; route api.openai.com; route chatgpt.com; echo "---"; } >"$BB_HOME/.bb/bottles/cx-key.md"
{ echo "---"; echo "agent_provider: {template: codex, forward_host_credentials: true}"; echo "egress:"; echo "  routes:"; route api.openai.com; route chatgpt.com; echo "---"; } >"$BB_HOME/.bb/bottles/cx-signin.md"

# Where users install these CLIs: an npm prefix in their home. In a mount namespace of the test's own, /home
# is a tmpfs holding /home/ada with the two prefixes (the cached installs, bound there) and a private key;
# the bottle must run the programs from there and show nothing else of that home.
cat >"$T/inns.sh" <<EOF
set -e
mount -t tmpfs tmpfs /home
mkdir -p /home/ada/.npm-claude /home/ada/.npm-codex /home/ada/.ssh
mount --bind "$CLAUDE_PFX" /home/ada/.npm-claude
mount --bind "$CODEX_PFX" /home/ada/.npm-codex
echo "PRIVATE KEY of ada" >/home/ada/.ssh/id_ecdsa
export PATH=/home/ada/.npm-claude/node_modules/.bin:/home/ada/.npm-codex/node_modules/.bin:\$PATH
export AG_CLAUDE_OAUTH=$CLAUDE_OAUTH AG_ANTHROPIC_KEY=$ANTHROPIC_KEY AG_OPENAI_KEY=$OPENAI_KEY
export CODEX_HOME=$T/hostcodex SSL_CERT_FILE=$T/upca.crt BB_HOME=$BB_HOME
cd "\$1"
shift
exec "\$@"
EOF
inns() { unshare --mount --propagation private bash "$T/inns.sh" "$@"; }

# What the agent runs for a headless case: the client, then what it holds (its environment, a copy of its home).
cat >"$T/agent.sh" <<'EOF'
#!/bin/sh
"$@" >agent.out 2>agent.err
rc=$?
env >agent.env
cp -r "$HOME" home.copy 2>/dev/null
ls -A /home/ada >home.ls 2>&1
cat /home/ada/.ssh/id_ecdsa >>home.ls 2>&1
exit $rc
EOF
chmod 755 "$T/agent.sh"

newws() { # NAME: a fresh workspace owned by the agent's user, with the wrapper in it
	rm -rf "$T/ws-$1"
	mkdir -p "$T/ws-$1" && cp "$T/agent.sh" "$T/ws-$1/.agent.sh" && chown -R 65534:65534 "$T/ws-$1"
}
headless() { # BOTTLE WS CMD...: bb bottle run, the audit log kept in WS/../BOTTLE.audit
	local b=$1 ws=$2
	shift 2
	inns "$ws" timeout 240 "$BB" bottle run "$b" --hosts "$T/hosts" --log "$T/$b.audit" -- ./.agent.sh "$@" \
		>"$ws.run.out" 2>"$ws.run.err" </dev/null
}
creds() { # HOST PATH-SUBSTRING: the credential each matching request carried, one a line (from the mock's log)
	python3 - "$T/api.log" "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("host") != sys.argv[2] or sys.argv[3] not in r.get("path", ""):
        continue
    h = {k.lower(): v for k, v in r.get("headers", {}).items()}
    print(h.get("x-api-key") or h.get("authorization") or "(none)")
PY
}
only_real() { # HOST PATH WANT: every request there carried exactly WANT (at least MIN of them), nothing else
	local got n bad
	got=$(creds "$1" "$2")
	n=$(grep -c . <<<"$got")
	bad=$(grep -vxF -- "$3" <<<"$got" | head -n 3)
	[ "$n" -ge "${4:-1}" ] && [ -z "$bad" ] || { echo "$n requests to $1$2; unexpected credentials: $bad"; return 1; }
}
leaks() { # FILE-OR-DIR TOKEN...: prints where a token shows up (nothing when it never does)
	local where=$1 t
	shift
	for t in "$@"; do grep -rlaF -- "$t" "$where" 2>/dev/null; done
}
b64() { printf '%s' "$1" | base64 -w0; }

# --- one provider flow, headless: a tool round trip, the credential, what the agent holds ---
# FLOW BOTTLE HOST PATH WANT TOKEN PLACEHOLDER-CHECK CMD...
flow_headless() {
	local flow=$1 b=$2 host=$3 path=$4 want=$5 token=$6 ph=$7 ws=$T/ws-$2 why
	shift 7
	newws "$b"
	: >"$T/api.log"
	headless "$b" "$ws" "$@" "BBTOOL: write the test file"
	if [ "$(cat "$ws/tool-out.txt" 2>/dev/null)" = written-by-the-tool ] && grep -q "BB-DONE" "$ws/agent.out"; then
		ok "$flow, headless: a tool call round trip wrote into the workspace"
	else
		fail "$flow headless tool" "$(cat "$ws/agent.out" "$ws/agent.err" "$ws.run.err" 2>/dev/null | tail -n 12)"
	fi
	if why=$(only_real "$host" "$path" "$want" 1); then
		ok "$flow, headless: the upstream got only the real credential (on every model request)"
	else
		fail "$flow headless upstream credential" "$why"
	fi
	why=$(leaks "$ws" "$token" "$(b64 "$token")"; leaks "$ws.run.out" "$token"; leaks "$ws.run.err" "$token")
	if [ -z "$why" ] && grep -q "$ph" "$ws/agent.env" "$ws/home.copy" -r; then
		ok "$flow, headless: the agent's environment, home and output hold the placeholder, never the credential"
	else
		fail "$flow headless leak" "token in: $why; placeholder $ph: $(grep -rl "$ph" "$ws/agent.env" "$ws/home.copy" 2>/dev/null | head -n 2)"
	fi
	if ! grep -q "PRIVATE KEY" "$ws/home.ls" && ! grep -qx ".ssh" "$ws/home.ls"; then
		ok "$flow, headless: the CLI ran from an npm prefix in a hidden home; the rest of that home stayed hidden"
	else
		fail "$flow home" "$(cat "$ws/home.ls")"
	fi
}

# --- streaming: the mock sends a first part, then holds the rest until the test has seen it at the client ---
# FLOW BOTTLE CMD...  (the command writes the client's output to agent.out in the workspace)
flow_stream() {
	local flow=$1 b=$2 ws=$T/ws-$2 pid seen=0
	shift 2
	newws "$b"
	rm -f "$T/ctl/release"
	headless "$b" "$ws" "$@" &
	pid=$!
	for _ in $(seq 900); do
		if grep -q '"sent": "hold"' "$T/api.log" && grep -q "BB-FIRST" "$ws/agent.out" 2>/dev/null; then seen=1; break; fi
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	[ -e "$T/ctl/release" ] && seen=0 # released early: proves nothing
	touch "$T/ctl/release"
	wait $pid
	if [ $seen = 1 ] && grep -q "BB-SECOND" "$ws/agent.out"; then
		ok "$flow, headless: the first delta reached the client while the mock held the rest (no buffering)"
	else
		fail "$flow streaming" "$(tail -c 600 "$ws/agent.out" 2>/dev/null; tail -n 5 "$ws.run.err")"
	fi
}

# --- under tmux: the TUI as a person runs it (bb bottle start), a prompt typed, a tool call, a held stream ---
TM=(tmux -L "bbag$$")
on_exit "${TM[*]} kill-server"
screen() { "${TM[@]}" capture-pane -p -J -S -200 -t "$1" 2>/dev/null; }
wait_screen() { # SESSION TEXT SECONDS
	local i
	for ((i = 0; i < $3 * 10; i++)); do screen "$1" | grep -qF -- "$2" && return 0; sleep 0.1; done
	return 1
}
type_line() { # SESSION TEXT: typed, seen in the input, then Enter (a TUI may take a fast Enter for a pasted newline)
	"${TM[@]}" send-keys -t "$1" -l "$2"
	wait_screen "$1" "$2" 20
	sleep 0.3
	"${TM[@]}" send-keys -t "$1" Enter
}
# FLOW BOTTLE READY-TEXT HOST PATH WANT TOKEN QUIT-KEYS...
flow_tui() {
	local flow=$1 b=$2 ready=$3 host=$4 path=$5 want=$6 token=$7 ws=$T/ws-tui-$2 slug why seen=0 i
	shift 7
	newws "tui-$b"
	: >"$T/api.log"
	"${TM[@]}" new-session -d -s "$b" -x 200 -y 50 \
		"bash -c 'unshare --mount --propagation private bash $T/inns.sh $ws $BB bottle start $b -y --hosts $T/hosts; echo \$? >$ws.exit'"
	if ! wait_screen "$b" "$ready" 120; then
		fail "$flow, tmux: the TUI starts" "$(screen "$b" | grep -v '^ *$' | tail -n 15)"
		"${TM[@]}" kill-session -t "$b"
		return
	fi
	type_line "$b" "BBTOOL: write the test file"
	if wait_screen "$b" "BB-DONE" 180 && [ "$(cat "$ws/tool-out.txt" 2>/dev/null)" = written-by-the-tool ]; then
		ok "$flow, tmux: the TUI starts in the bottle; a typed prompt's tool call wrote into the workspace"
	else
		fail "$flow tmux tool" "$(screen "$b" | grep -v '^ *$' | tail -n 15)"
	fi
	rm -f "$T/ctl/release"
	type_line "$b" "BBHOLD: stream slowly"
	for _ in $(seq 600); do
		grep -q '"sent": "hold"' "$T/api.log" && screen "$b" | grep -q "BB-FIRST" && { seen=1; break; }
		sleep 0.1
	done
	[ -e "$T/ctl/release" ] && seen=0
	touch "$T/ctl/release"
	if [ $seen = 1 ] && wait_screen "$b" "BB-SECOND" 60; then
		ok "$flow, tmux: the first delta is on the screen while the mock holds the rest"
	else
		fail "$flow tmux streaming" "$(screen "$b" | grep -v '^ *$' | tail -n 10)"
	fi
	"${TM[@]}" send-keys -t "$b" "$@"
	# The agent quits, the bottle tears down: minutes on a loaded machine. A TUI busy when both keys came
	# may take them as one (Codex wants two Ctrl-C): while the CLI itself still runs, they are pressed again,
	# as a person would; never once it has gone (they would reach bb's teardown instead).
	for i in $(seq 1200); do
		[ -s "$ws.exit" ] && break
		[ $((i % 150)) = 0 ] && pgrep -f "$AGENTS_DIR/" >/dev/null && "${TM[@]}" send-keys -t "$b" "$@"
		sleep 0.1
	done
	if why=$(only_real "$host" "$path" "$want" 1); then
		ok "$flow, tmux: the upstream got only the real credential"
	else
		fail "$flow tmux upstream credential" "$why"
	fi
	slug=$(ls -t "$BB_HOME/.bb/state" 2>/dev/null | grep "^$b-" | head -n 1)
	why=$(screen "$b" >"$ws.screen"; leaks "$ws.screen" "$token"; [ -n "$slug" ] && leaks "$BB_HOME/.bb/state/$slug/home" "$token")
	if [ -s "$ws.exit" ] && [ -n "$slug" ] && [ -z "$why" ]; then
		ok "$flow, tmux: the agent quit; its screen and its home (kept) never held the credential"
	else
		fail "$flow tmux end" "exit $(cat "$ws.exit" 2>/dev/null), slug '$slug', token in: $why; $(tail -n 5 "$ws.screen")"
	fi
	"${TM[@]}" kill-session -t "$b" 2>/dev/null
}

CLAUDE_P=(claude -p --dangerously-skip-permissions)
CODEX_X=(codex exec --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox)

# Claude Code, OAuth token (CLAUDE_CODE_OAUTH_TOKEN) and API key (x-api-key).
flow_headless "claude oauth" cl-oauth api.anthropic.com /v1/messages "Bearer $CLAUDE_OAUTH" "$CLAUDE_OAUTH" \
	"CLAUDE_CODE_OAUTH_TOKEN=egress-placeholder" "${CLAUDE_P[@]}"
flow_stream "claude oauth" cl-oauth "${CLAUDE_P[@]}" --output-format stream-json --include-partial-messages --verbose "BBHOLD"
flow_headless "claude api key" cl-key api.anthropic.com /v1/messages "$ANTHROPIC_KEY" "$ANTHROPIC_KEY" \
	"ANTHROPIC_API_KEY=egress-placeholder" "${CLAUDE_P[@]}"
flow_stream "claude api key" cl-key "${CLAUDE_P[@]}" --output-format stream-json --include-partial-messages --verbose "BBHOLD"
flow_tui "claude oauth" cl-oauth "bypass permissions on" api.anthropic.com /v1/messages "Bearer $CLAUDE_OAUTH" "$CLAUDE_OAUTH" C-c C-c
flow_tui "claude api key" cl-key "bypass permissions on" api.anthropic.com /v1/messages "$ANTHROPIC_KEY" "$ANTHROPIC_KEY" C-c C-c

# A manifest route refining the provider's (only /v1/messages there): the model flow works, the rest Claude Code
# asks of that host is refused, and the end-of-run summary says so.
newws cl-refined
: >"$T/api.log"
headless cl-refined "$T/ws-cl-refined" "${CLAUDE_P[@]}" "BBTOOL: write the test file"
if [ "$(cat "$T/ws-cl-refined/tool-out.txt" 2>/dev/null)" = written-by-the-tool ] && ! grep -q '"path": "/api/' "$T/api.log" &&
	grep -q "egress refused .* (by host and rule" "$T/ws-cl-refined.run.err" &&
	grep -Eq "^  api.anthropic.com +path-allowlist +[0-9]+ " "$T/ws-cl-refined.run.err" &&
	[ -z "$(leaks "$T/ws-cl-refined" "$ANTHROPIC_KEY")" ]; then
	ok "a manifest route refines the provider's: its path allowlist holds with the key still injected; the summary names what it refused"
else
	fail "refined provider route" "$(grep -c '"path"' "$T/api.log") requests; $(tail -n 6 "$T/ws-cl-refined.run.err" "$T/ws-cl-refined/agent.err")"
fi
# A gateway: ANTHROPIC_BASE_URL in the bottle's env moves the provider's route, and its key, to that host.
newws cl-gw
: >"$T/api.log"
headless cl-gw "$T/ws-cl-gw" "${CLAUDE_P[@]}" "BBTOOL: write the test file"
if [ "$(cat "$T/ws-cl-gw/tool-out.txt" 2>/dev/null)" = written-by-the-tool ] && why=$(only_real llm.gateway.test /v1/messages "$ANTHROPIC_KEY" 2) &&
	! grep -q '"host": "api.anthropic.com"' "$T/api.log" && [ -z "$(leaks "$T/ws-cl-gw" "$ANTHROPIC_KEY")" ]; then
	ok "a gateway (ANTHROPIC_BASE_URL): Claude Code talks to it, egress injects the key there, not on api.anthropic.com"
else
	fail "gateway" "${why:-} $(tail -n 6 "$T/ws-cl-gw.run.err" "$T/ws-cl-gw/agent.err")"
fi

# Codex, API key (auth.json in API-key mode, Bearer on api.openai.com) and the host's ChatGPT sign-in.
flow_headless "codex api key" cx-key api.openai.com /responses "Bearer $OPENAI_KEY" "$OPENAI_KEY" \
	'"OPENAI_API_KEY": "egress-placeholder"' "${CODEX_X[@]}"
flow_stream "codex api key" cx-key "${CODEX_X[@]}" --json "BBHOLD"
flow_tui "codex api key" cx-key "Ask Codex to do anything" api.openai.com /responses "Bearer $OPENAI_KEY" "$OPENAI_KEY" C-c C-c

# The sign-in flow: Codex sends its request bodies to chatgpt.com zstd-compressed, which egress decodes to inspect.
flow_headless "codex sign-in" cx-signin chatgpt.com /backend-api/codex/responses "Bearer $CODEX_JWT" "$CODEX_JWT" \
	'"refresh_token":"egress-placeholder"' "${CODEX_X[@]}"
flow_stream "codex sign-in" cx-signin "${CODEX_X[@]}" --json "BBHOLD"
flow_tui "codex sign-in" cx-signin "Ask Codex to do anything" chatgpt.com /backend-api/codex/responses "Bearer $CODEX_JWT" "$CODEX_JWT" C-c C-c

# --- what egress must refuse or scrub whatever the encoding: compressed bodies, WebSocket frames, reflections ---
SECRET="ghp_$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 36)"
newws dlp
printf '{"input":"please keep %s safe"}' "$SECRET" >"$T/ws-dlp/body.json"
zstd -q "$T/ws-dlp/body.json" -o "$T/ws-dlp/body.zst"
brotli -c "$T/ws-dlp/body.json" >"$T/ws-dlp/body.br"
chown 65534:65534 "$T/ws-dlp"/body.*
: >"$T/api.log"
for enc in zstd br; do
	f=body.$([ $enc = zstd ] && echo zst || echo br)
	inns "$T/ws-dlp" "$BB" bottle run cx-key --hosts "$T/hosts" --log "$T/dlp-$enc.audit" -- sh -c \
		"curl -s -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' -H 'Content-Encoding: $enc' \
		 --data-binary @$f https://api.openai.com/v1/responses" >"$T/dlp-$enc.out" 2>"$T/dlp-$enc.err"
	if [ "$(tail -n 1 "$T/dlp-$enc.out")" = 403 ] && grep -q "github-pat" "$T/dlp-$enc.out" &&
		grep -q '"rule":"dlp"' "$T/dlp-$enc.audit" && ! grep -qF "$SECRET" "$T/api.log"; then
		ok "dlp: a secret in a $enc request body is blocked (403, rule dlp, github-pat named); the upstream never sees it"
	else
		fail "dlp $enc" "$(cat "$T/dlp-$enc.out" "$T/dlp-$enc.err" | tail -n 5)"
	fi
done

# Over WebSocket: Codex sends the prompt (with the secret) in a frame; egress must close the connection.
if grep -q '"rule":"upgrade"' "$T/cx-key.audit" 2>/dev/null; then
	skip "dlp: a secret in a WebSocket frame" "egress refuses WebSocket upgrades (501), so Codex fell back to HTTPS (egress-wire: WebSocket through egress)"
else
	newws wsdlp
	: >"$T/api.log"
	headless cx-key "$T/ws-wsdlp" "${CODEX_X[@]}" "keep $SECRET safe"
	if ! grep -qF "$SECRET" "$T/api.log" && grep -q '"rule":"dlp"' "$T/cx-key.audit" && grep -q "1008\|dlp" "$T/cx-key.audit"; then
		ok "dlp: a secret in Codex's WebSocket frame closes the connection (1008, rule dlp); the upstream never sees it"
	else
		fail "dlp websocket" "$(grep -c "$SECRET" "$T/api.log") upstream copies; $(grep dlp "$T/cx-key.audit" | tail -n 2)"
	fi
fi

# Reflections: an upstream that quotes the credential back (echo, an error page, a redirect, an event stream, a
# model's answer). Egress scrubs the injected token from what flows back, or cuts the response: either way the
# agent never sees it. Until docs/egress.md says egress scrubs responses, a leak here is the known gap (skip).
scrubs() { grep -qi "scrub" "$TESTS/../docs/egress.md"; }
newws reflect
: >"$T/api.log"
inns "$T/ws-reflect" "$BB" bottle run cl-key --hosts "$T/hosts" -- sh -c \
	'for p in echo error redirect sse; do curl -s -i https://api.anthropic.com/reflect/$p; echo; done' \
	>"$T/reflect.out" 2>"$T/reflect.err"
why=$(leaks "$T/reflect.out" "$ANTHROPIC_KEY" "$(b64 "$ANTHROPIC_KEY")")
if [ "$(grep -c '"path": "/reflect/' "$T/api.log")" != 4 ]; then
	fail "reflections reach the mock" "$(grep -c /reflect/ "$T/api.log") of 4; $(tail -n 5 "$T/reflect.out" "$T/reflect.err")"
elif [ -z "$why" ]; then
	ok "reflections (echo, error page, redirect, SSE): the injected key never reaches the agent"
elif scrubs; then
	fail "reflections" "the real key reached the agent: $(grep -F "$ANTHROPIC_KEY" "$T/reflect.out" | head -n 2)"
else
	skip "reflections (echo, error page, redirect, SSE) never show the token" "egress does not scrub responses yet: the key reaches the agent (egress-wire: response scrubbing)"
fi
newws reflect2
: >"$T/api.log"
headless cl-key "$T/ws-reflect2" "${CLAUDE_P[@]}" "BBREFLECT"
why=$(leaks "$T/ws-reflect2" "$ANTHROPIC_KEY" "$(b64 "$ANTHROPIC_KEY")")
if ! grep -q '"sent": "content_block_delta"' "$T/api.log"; then
	fail "claude reflection reaches the mock" "$(tail -n 5 "$T/ws-reflect2/agent.out" "$T/ws-reflect2/agent.err")"
elif [ -z "$why" ]; then
	ok "a model answer quoting the credential reaches Claude Code scrubbed (or not at all)"
elif scrubs; then
	fail "claude reflection" "the model's answer carried the real key to the agent"
else
	skip "a model answer quoting the key reaches Claude Code scrubbed" "egress does not scrub responses yet (egress-wire)"
fi
