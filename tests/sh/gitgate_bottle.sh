# gitgate_bottle.sh - git-gate inside a bottle: plain git in the agent clones and pushes through the sidecar's gate, whose upstream SSH goes through the host dialer.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/gitsshd.inc"

cases=(
	"in the bottle, a clone of the upstream's ssh:// URL goes to the gate (the agent's ~/.gitconfig)"
	"a clean push from inside the bottle lands upstream"
	"a push with a planted AWS key is refused with the redacted finding; upstream unchanged"
	"a push to a repo the manifest does not name is refused"
	"the upstream key is nowhere in the agent's view"
	"the sidecar cannot reach the sshd itself: a direct connect from its namespace fails"
	"a compromised sidecar cannot have the dialer connect the sshd host on another port"
	"git-gate.user is the agent's commit identity (~/.gitconfig), quotes and backslashes kept"
)
unshare --net --mount true 2>/dev/null || skip_all cases "namespaces are not available here"
gitsshd_start cases

# Upstream: a bare repo with one commit, and a second repo the manifest does not name.
git init -q --bare -b main "$T/up.git" && git init -q -b main "$T/seed" &&
	(cd "$T/seed" && echo one >f && git add f && git commit -qm one && git push -q "$T/up.git" main) >"$T/setup.log" 2>&1 ||
	fail_all cases "setting up the upstream: $(tail -n 3 "$T/setup.log")"
cp -r "$T/up.git" "$T/other.git"
up() { git --git-dir="$T/up.git" "$@"; }
UP_URL="$UP_URL_BASE$T/up.git"

export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws"
chown 65534:65534 "$T/ws" # the agent runs as the workspace's owner
cat >"$BB_HOME/.bb/bottles/gated.md" <<EOF
---
git-gate:
  user:
    name: 'Ada "the countess" Lovelace \\ 1815'
    email: ada@example.invalid
  repos:
    app:
      url: $UP_URL
      key: {provider: static, path: $DEPLOY_KEY}
      host_key: "$(cut -d' ' -f1-2 "$HOSTKEY_PUB")"
---
EOF
"$BB" bottle validate gated >"$T/validate.out" 2>&1 || fail_all cases "manifest: $(cat "$T/validate.out")"

# bbrun SCRIPT: run the shell code as the agent; output in $T/out, status returned.
bbrun() {
	(cd "$T/ws" && timeout 120 "$BB" bottle run gated -- sh -c "$1") >"$T/out" 2>&1
}
out() { tail -n 8 "$T/out" | tr '\n' ' '; }
# The agent's git: a name to commit with. No retries: the agent's init waits until the gate listens.
AGENT_GIT='export GIT_AUTHOR_NAME=agent GIT_AUTHOR_EMAIL=agent@bb.invalid GIT_COMMITTER_NAME=agent GIT_COMMITTER_EMAIL=agent@bb.invalid'

# 1 + 2: clone with the upstream's own URL, commit, push origin.
bbrun "$AGENT_GIT
cat ~/.gitconfig
git clone -q '$UP_URL' app && cd app && git remote get-url origin && git config --get-regexp '^url' &&
echo two >>f && git commit -qam two && git push origin main 2>&1 && git rev-parse HEAD >../pushed"
if grep -q "insteadOf = $UP_URL" "$T/out" && [ -f "$T/ws/app/f" ] && [ "$(git -c safe.directory='*' -C "$T/ws/app" log --format=%s 2>&1 | tail -n 1)" = one ]; then
	ok "${cases[0]}"
else
	fail "${cases[0]}" "$(out)"
fi
if [ -s "$T/ws/pushed" ] && [ "$(up rev-parse main)" = "$(cat "$T/ws/pushed")" ] && [ "$(up log -1 --format=%s main)" = two ]; then
	ok "${cases[1]}"
else
	fail "${cases[1]}" "upstream main $(up rev-parse main): $(out)"
fi

# 8: the identity from git-gate.user, with no GIT_AUTHOR_* in the environment.
bbrun "cd app && git config user.name && echo three >>f && git commit -qam three && git push -q origin main 2>&1; echo push-exit=\$?"
author=$(up log -1 --format='%an <%ae>|%cn' main)
if grep -q "push-exit=0" "$T/out" && [ "$author" = 'Ada "the countess" Lovelace \ 1815 <ada@example.invalid>|Ada "the countess" Lovelace \ 1815' ]; then
	ok "${cases[7]}"
else
	fail "${cases[7]}" "upstream author '$author': $(out)"
fi

# 3: a planted AWS-shaped key (random each run; never a literal here).
KEY="AKIA$(head -c 400 /dev/urandom | tr -dc 'A-Z2-7' | head -c 16)"
before=$(up rev-parse main)
bbrun "$AGENT_GIT
cd app && printf 'aws_access_key_id = %s\n' '$KEY' >creds.ini && git add creds.ini && git commit -qm 'add creds' &&
git rev-parse --short=12 HEAD >../planted; git push origin main; echo push-exit=\$?"
planted=$(cat "$T/ws/planted" 2>/dev/null)
if grep -q "push-exit=[1-9]" "$T/out" && grep -q "main -> main (secret found)" "$T/out" &&
	grep -q "$planted creds.ini:1 aws-access-key-id: " "$T/out" && grep -q 'AKIA\.\.\.\[REDACTED' "$T/out" &&
	! grep -qF "$KEY" "$T/out" && ! grep -qF "${KEY:4}" "$T/out" && [ "$(up rev-parse main)" = "$before" ]; then
	ok "${cases[2]}"
else
	fail "${cases[2]}" "$(out)"
fi

# 4: a repo the manifest does not name, through the gate and straight at the upstream.
bbrun "$AGENT_GIT
cd app && git push \"\$GIT_GATE_URL/other.git\" HEAD:refs/heads/side; echo gate-exit=\$?
git push '$UP_URL_BASE$T/other.git' HEAD:refs/heads/side; echo direct-exit=\$?"
if grep -q "gate-exit=[1-9]" "$T/out" && grep -q "direct-exit=[1-9]" "$T/out" && grep -q "no repository '/other.git' here" "$T/out" &&
	! git --git-dir="$T/other.git" rev-parse -q --verify side >/dev/null; then
	ok "${cases[3]}"
else
	fail "${cases[3]}" "$(out)"
fi

# 5: the key's bytes are in the sidecar's copy only (the state dir, hidden from the agent): not in the agent's
# environment, its home, /tmp or /run.
KEYLINE=$(sed -n 2p "$DEPLOY_KEY")
bbrun "env; ls -A '$BB_HOME/.bb/state' 2>/dev/null | sed 's/^/state: /'; grep -rs 'PRIVATE KEY' /tmp /run \$HOME 2>/dev/null; echo done"
if grep -q '^done$' "$T/out" && ! grep -qF "$KEYLINE" "$T/out" && ! grep -q '^state: ' "$T/out" && ! grep -q 'PRIVATE KEY' "$T/out" &&
	grep -q '^BB_GIT_GATE_REPOS=app=' "$T/out"; then
	ok "${cases[4]}"
else
	fail "${cases[4]}" "$(out)"
fi

# 6 + 7: while a bottle runs, play a compromised sidecar from its network namespace.
(cd "$T/ws" && timeout 60 "$BB" bottle run gated -- sh -c 'sleep 8') >"$T/long.out" 2>&1 &
RUNPID=$!
on_exit kill_tree "$RUNPID"
gpid=
for _ in $(seq 100); do
	gpid=$(pgrep -f "bb git-gate --policy $BB_HOME/" | head -n 1)
	[ -n "$gpid" ] && break
	sleep 0.1
done
if [ -z "$gpid" ]; then
	fail "${cases[5]}" "no git-gate in the sidecar: $(tail -n 5 "$T/long.out")"
	fail "${cases[6]}" "no sidecar"
else
	if nsenter -t "$gpid" -n timeout 5 bash -c "exec 3<>/dev/tcp/$UP_ADDR/$UP_PORT" 2>"$T/ns.err"; then
		fail "${cases[5]}" "connected to $UP_ADDR:$UP_PORT from the sidecar's namespace"
	elif nsenter -t "$gpid" -n ip -4 -o addr show >"$T/ns.addr" 2>&1 && grep -q 10.231.0.1 "$T/ns.addr"; then
		ok "${cases[5]}"
	else
		fail "${cases[5]}" "could not check from the sidecar's namespace: $(cat "$T/ns.err" "$T/ns.addr")"
	fi
	sock=$(ls -d "$BB_HOME"/.bb/state/*/dial.sock 2>/dev/null | head -n 1)
	dial() { nsenter -t "$gpid" -n python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode()+b"\n"); print(s.recv(300).decode().strip())' "$sock" "$1" 2>&1 | paste -sd ' '; }
	other=$((UP_PORT == 65535 ? 1 : UP_PORT + 1))
	a=$(dial "DIAL $UP_ADDR $other")
	b=$(dial "DIAL $UP_ADDR 22")
	c=$(dial "DIAL $UP_ADDR $UP_PORT")
	if [[ "$a" == "ERR no-route "* && "$b" == "ERR no-route "* && "$c" == "OK $UP_ADDR" ]]; then
		ok "${cases[6]}"
	else
		fail "${cases[6]}" "other port: '$a'; 22: '$b'; the repo's own: '$c'"
	fi
fi
wait "$RUNPID" 2>/dev/null
