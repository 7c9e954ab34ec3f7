#!/usr/bin/env bash
# demo.sh - `make demo`: one bottle on the embedded runtime, a harmless scripted agent, and what bb allowed and refused.
# Runs as root (namespaces); everything it starts listens on 127.0.0.x and is removed at the end.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BB=${BB:-$top/bb}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -x "$BB" ] || { echo "demo: build bb first (make)" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
	echo "demo: the embedded runtime needs root here (namespaces, mounts, a veth): run 'sudo make demo'" >&2
	exit 1
fi
for tool in python3 openssl curl git git-shell ssh-keygen /usr/sbin/sshd; do
	command -v $tool >/dev/null || { echo "demo: needs $tool (scripts/setup.sh test installs it)" >&2; exit 1; }
done

T=$(mktemp -d /tmp/bb-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

A=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 2))
PORT=$((RANDOM % 20000 + 30000))
export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/work"
chown 65534:65534 "$T/work"
DEMO_TOKEN="sk-demo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

say "Setting up: an HTTPS server standing in for an API (api.demo.test on $A:$PORT)"
sh "$top/tests/peers/upstream_cert.sh" "$T" api.demo.test
python3 "$top/tests/peers/http_upstream.py" "$A" "$PORT" "$T/upstream.log" "$T/up.crt" "$T/up.key" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/$A/$PORT") 2>/dev/null && break; sleep 0.05; done
printf '%s api.demo.test\n' "$A" >"$T/hosts"

SSHPORT=$((PORT + 1))
say "Setting up: a git server standing in for your forge (sshd on $A:$SSHPORT, one repository)"
ssh-keygen -q -t ecdsa -b 256 -N '' -C demo-forge-host -f "$T/forge_host" </dev/null
ssh-keygen -q -t ecdsa -b 256 -N '' -C demo-deploy-key -f "$T/deploy_key" </dev/null
# Like a forge's deploy key: it may run git and nothing else.
printf 'command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty %s\n' \
	"$(cat "$T/deploy_key.pub")" >"$T/authorized_keys"
# sshd refuses a locked root account (a fresh install's) unless PAM does the account check.
case $(getent shadow root | cut -d: -f2) in '!'*) usepam=yes ;; *) usepam=no ;; esac
cat >"$T/sshd_config" <<EOF2
ListenAddress $A
Port $SSHPORT
HostKey $T/forge_host
AuthorizedKeysFile $T/authorized_keys
PidFile $T/sshd.pid
StrictModes no
UsePAM $usepam
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
EOF2
[ -d /run/sshd ] || mkdir -m 0755 /run/sshd
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>>"$T/sshd.log" &
pids+=($!)
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
git init -q --bare -b main "$T/forge/app.git"
git init -q -b main "$T/seed" && (cd "$T/seed" && echo "# app" >README.md && git add README.md &&
	git -c user.name=maintainer -c user.email=m@demo.invalid commit -qm "first commit" && git push -q "$T/forge/app.git" main)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/$A/$SSHPORT") 2>/dev/null && break; sleep 0.05; done
REPO_URL="ssh://root@$A:$SSHPORT$T/forge/app.git"
echo "    $REPO_URL, with one commit; the deploy key that may push to it stays on the host and in the sidecar"

cat >"$BB_HOME/.bb/bottles/demo.md" <<EOF2
---
egress:
  routes:
    - host: api.demo.test
      auth: {scheme: Bearer, token_ref: DEMO_TOKEN}
      path_allowlist: [/v1/]
      pipelock: {ssrf_ip_allowlist: ["127.0.0.0/8"]}
supervise: true
git-gate:
  repos:
    app:
      url: $REPO_URL
      key: {provider: static, path: $T/deploy_key}
      host_key: "$(cut -d' ' -f1-2 "$T/forge_host.pub")"
---
A demo bottle: one API, reachable with a token the agent never sees, and one
repository the agent pushes to through the git gate, which scans every push.
EOF2
echo "The bottle's manifest ($BB_HOME/.bb/bottles/demo.md):"
sed 's/^/    /' "$BB_HOME/.bb/bottles/demo.md"
"$BB" bottle validate demo | sed 's/^/    /'

cat >"$T/work/agent.sh" <<EOF2
#!/bin/sh
# The "agent": a script doing what a coding agent might, inside the bottle.
step() { printf '\n  agent> %s\n' "\$*"; }
step "whoami: \$(id -un), network: \$(ip -4 -o addr show 2>/dev/null | awk '{print \$2, \$4}' | tr '\n' ' ')"
step "GET https://api.demo.test:$PORT/v1/hello (an allowed route; my key is only a placeholder)"
curl -sS --max-time 10 https://api.demo.test:$PORT/v1/hello -H 'Authorization: Bearer placeholder' |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print("    upstream answered for", d["path"], "- it received an Authorization of", d["headers"].get("Authorization"), "(mine was 18)")'
step "GET https://api.demo.test:$PORT/admin (outside the route's path_allowlist)"
curl -sS --max-time 10 https://api.demo.test:$PORT/admin | sed 's/^/    /'
step "GET https://exfil.example.com/ (no route)"
curl -sS --max-time 10 -o /dev/null -w '    status %{http_code}\n' https://exfil.example.com/ 2>&1 | sed 's/^ *curl/    curl/'
curl -sS --max-time 10 -x "\$HTTP_PROXY" http://exfil.example.com/ | sed 's/^/    /'
step "POST a GitHub-shaped token to the allowed API (DLP)"
curl -sS --max-time 10 https://api.demo.test:$PORT/v1/notes --data-binary "note=ghp_\$(head -c 60 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 36)" | sed 's/^/    /'
step "GET https://api.demo.test:$PORT/v2/status (not allowed yet)"
curl -sS --max-time 10 https://api.demo.test:$PORT/v2/status | sed -n '1,3s/^/    /p'
step "ask the operator for it through the supervise MCP server (egress-block), and wait for the answer"
H='-H Content-Type:application/json -H Accept:application/json,text/event-stream'
curl -sS -D /tmp/h -o /tmp/b \$H "\$MCP_SUPERVISE_URL" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo-agent","version":"1"}}}'
SID=\$(grep -i '^mcp-session-id' /tmp/h | cut -d' ' -f2 | tr -d '\r')
curl -sS \$H -H "Mcp-Session-Id: \$SID" -H "MCP-Protocol-Version: 2025-06-18" "\$MCP_SUPERVISE_URL" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
curl -sS --max-time 60 \$H -H "Mcp-Session-Id: \$SID" -H "MCP-Protocol-Version: 2025-06-18" "\$MCP_SUPERVISE_URL" \
	-d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"api.demo.test","paths":["/v2/"],"methods":["GET"],"reason":"the build needs the v2 status endpoint"}}}' |
	python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]["structuredContent"]; print("    operator said:", r["status"], "-", r.get("notes", "")); print("    applied:", r.get("applied", {}).get("detail", "-"))'
step "GET https://api.demo.test:$PORT/v2/status again"
curl -sS --max-time 10 -o /dev/null -w '    status %{http_code}\n' https://api.demo.test:$PORT/v2/status
step "connect straight to 1.1.1.1:443, around the proxy"
curl -sS --noproxy '*' --max-time 3 https://1.1.1.1/ 2>&1 | sed 's/^/    /'
step "read the sidecar's token through /proc, write to /etc"
if grep -a -q DEMO_TOKEN /proc/[0-9]*/environ 2>/dev/null; then echo "    found it!"; else echo "    no process this agent can see holds it"; fi
touch /etc/owned 2>&1 | sed 's/^/    /'
step "git clone $REPO_URL (plain git: my ~/.gitconfig sends that URL to the git gate in the sidecar)"
git config --global user.name demo-agent && git config --global user.email agent@demo.invalid
git clone -q $REPO_URL app 2>&1 | sed 's/^/    /'
cd app && echo "    cloned: \$(git log --oneline | head -n 1)"
step "commit a change and git push origin main"
echo "print('hello')" >hello.py && git add hello.py && git commit -qm "add hello.py"
git push origin main 2>&1 | sed 's/^/    /'
step "commit a config file holding an AWS access key, and push that"
printf '[default]\naws_access_key_id = AKIA%s\n' "\$(head -c 400 /dev/urandom | tr -dc A-Z2-7 | head -c 16)" >deploy.ini
git add deploy.ini && git commit -qm "add deploy config"
git push origin main 2>&1 | grep -v '^remote: *\$' | sed 's/^/    /'
EOF2
chmod 755 "$T/work/agent.sh"

# The operator's side: approve the agent's request as soon as it shows up (a person would use bb bottle approve).
(
	for _ in $(seq 120); do
		id=$("$BB" bottle proposals --json 2>/dev/null | python3 -c 'import json,sys
try:
    d = json.load(sys.stdin)
    print([p["id"] for p in (d if isinstance(d, list) else d.get("proposals", [])) if p.get("status") == "pending"][0])
except Exception:
    pass')
		if [ -n "$id" ]; then
			echo "  operator> bb bottle approve $id --note 'fine for the build'"
			"$BB" bottle approve "$id" --note "fine for the build" | sed 's/^/  operator> /'
			break
		fi
		sleep 0.5
	done
) &
pids+=($!)

say "Running the agent in a bottle: bb bottle run demo -- sh agent.sh"
(cd "$T/work" && DEMO_TOKEN=$DEMO_TOKEN SSL_CERT_FILE=$T/upca.crt "$BB" bottle run demo --hosts "$T/hosts" \
	--log "$T/audit.log" -- sh ./agent.sh)
echo "    (bottle exited with status $?)"

say "What the upstream received (the real token, injected by egress outside the agent)"
if grep -q "Bearer $DEMO_TOKEN" "$T/upstream.log"; then echo "    Authorization: Bearer sk-demo-... (the real token; the agent only ever had 'placeholder')"; fi
echo "    requests that reached it: $(wc -l <"$T/upstream.log") (the refused ones never did)"

say "What the forge's repository holds now (git log on the server)"
git --git-dir="$T/forge/app.git" log --format='    %h %s (%an)' main
if git --git-dir="$T/forge/app.git" log --format=%s main | grep -q "add deploy config"; then
	echo "    !! the commit with the key reached the forge"
else
	echo "    (the clean commit landed; the one with the key never left the gate)"
fi

say "The audit trail (one JSON line per decision; no secrets)"
python3 - "$T/audit.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("event") == "request" and d.get("method") != "CONNECT":
        print("    %-5s %-4s %-28s %-6s %s" % (d["verdict"], d["method"], d["host"] + d["path"], d["status"], d["rule"]))
PY
if grep -q "$DEMO_TOKEN" "$T/audit.log"; then echo "    !! the token is in the log"; else echo "    (the token appears nowhere in it)"; fi

say "After the bottle: nothing left behind"
echo "    state directories: $(ls -A "$BB_HOME/.bb/state" 2>/dev/null | wc -l)"
echo "    bottle processes:  $(pgrep -fc "bb (egress|init|git-gate).*$BB_HOME" || true)"
echo "    network namespaces of the bottle: gone with its processes"
