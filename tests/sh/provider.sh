#!/usr/bin/env bash
# provider.sh - the provider's program and setup on every path: found on the operator's PATH (an npm prefix in a
# hidden home, an env shebang whose interpreter lives there too), named by the manifest, missing; run with and
# without the provider; the refused-requests summary. Stand-in programs: the real CLIs are driven by agents.sh.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "provider" "needs root (the embedded runtime)"; exit 0; }
unshare --net --mount true 2>/dev/null || { skip "provider" "namespaces are not available here"; exit 0; }

export BB_HOME=$T/bbhome
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws"
chown 65534:65534 "$T/ws"
KEY="sk-ant-api-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export PROVIDER_TEST_KEY=$KEY
cat >"$BB_HOME/.bb/bottles/dev.md" <<'EOF'
---
agent_provider: {template: claude, api_key: PROVIDER_TEST_KEY}
---
EOF

# A home the way users have one, in a mount namespace of the test's own (a tmpfs over /home there):
# claude installed with npm into ~/.npm-global, run by an interpreter from ~/.nvm (a copy of dash standing
# in for node, found through "#!/usr/bin/env"), and a private key the agent must never see.
H=/home/ada
cat >"$T/inhome.sh" <<EOF
set -e
mount -t tmpfs tmpfs /home
mkdir -p $H/.npm-global/bin $H/.npm-global/lib/node_modules/@anthropic-ai/claude-code/bin $H/.nvm/versions/node/v22/bin $H/.ssh
cp /bin/dash $H/.nvm/versions/node/v22/bin/fakenode
printf 'PRIVATE KEY of ada\n' >$H/.ssh/id_ecdsa
chmod 700 $H/.ssh
cat >$H/.npm-global/lib/node_modules/@anthropic-ai/claude-code/bin/cli.js <<'JS'
#!/usr/bin/env fakenode
echo "stand-in claude ran: \$*"
echo "interpreter: \$(readlink /proc/\$\$/exe)"
env | grep -E '^(ANTHROPIC_API_KEY|CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC|PATH)=' | sort
[ -f "\$HOME/.claude.json" ] && grep -o '"approved":[^]]*]' "\$HOME/.claude.json"
ls /home/ada/.ssh 2>&1 | head -n 1
cat /home/ada/.ssh/id_ecdsa 2>&1 | head -n 1
ls -A /home/ada
JS
chmod 755 $H/.npm-global/lib/node_modules/@anthropic-ai/claude-code/bin/cli.js
ln -s ../lib/node_modules/@anthropic-ai/claude-code/bin/cli.js $H/.npm-global/bin/claude
cd "$T/ws"
export PATH=$H/.npm-global/bin:$H/.nvm/versions/node/v22/bin:\$PATH
exec "\$@"
EOF
inhome() { unshare --mount --propagation private bash "$T/inhome.sh" "$@"; }

# --- missing: the start stops, naming what was looked for and where ---
out=$(cd "$T/ws" && PATH=/usr/bin:/bin "$BB" bottle start dev -y 2>&1)
rc=$?
if [ $rc = 1 ] && grep -q "the agent program 'claude' is not on PATH (looked in /usr/bin, /bin): install it, or name it with agent_provider.program" <<<"$out" &&
	[ -z "$(ls "$BB_HOME/.bb/state" 2>/dev/null)" ]; then
	ok "a missing program stops the start, naming what was looked for and where; nothing started"
else
	fail "missing program" "$rc: $out"
fi

# --- the preflight names the program as found ---
out=$(inhome "$BB" bottle start dev --dry-run 2>&1)
if grep -q "program    $H/.npm-global/bin/claude -> $H/.npm-global/lib/node_modules/@anthropic-ai/claude-code/bin/cli.js" <<<"$out" &&
	grep -q "run by $H/.nvm/versions/node/v22/bin/fakenode" <<<"$out"; then
	ok "the preflight shows the program resolved on the host (and its interpreter)"
else
	fail "preflight program" "$out"
fi

# --- start: the program from a hidden home runs; only it (and its interpreter) are reachable of that home ---
inhome "$BB" bottle start dev -y >"$T/start.out" 2>"$T/start.err"
rc=$?
if [ $rc = 0 ] && grep -q "^stand-in claude ran: --dangerously-skip-permissions" "$T/start.out" &&
	grep -q "^interpreter: $H/.nvm/versions/node/v22/bin/fakenode" "$T/start.out"; then
	ok "start runs claude from an npm prefix in a hidden home, through an env-found interpreter from another"
else
	fail "start from a hidden home" "$rc: $(cat "$T/start.out" "$T/start.err" | tail -n 12)"
fi
if [ "$(grep -c 'No such file or directory' "$T/start.out")" = 2 ] && ! grep -q "PRIVATE KEY" "$T/start.out" &&
	grep -qx ".npm-global" "$T/start.out" && grep -qx ".nvm" "$T/start.out" && ! grep -qx ".ssh" "$T/start.out"; then
	ok "the rest of that home stays hidden (no ~/.ssh, no key): only the program's paths are bound"
else
	fail "home hidden" "$(cat "$T/start.out")"
fi
if grep -qx "ANTHROPIC_API_KEY=egress-placeholder" "$T/start.out" && grep -q '"approved":\["egress-placeholder"\]' "$T/start.out" &&
	grep -q "^PATH=/run/bb/bin:" "$T/start.out" && ! grep -q "$KEY" "$T/start.out" "$T/start.err"; then
	ok "claude with an API key: the agent holds the placeholder (approved in ~/.claude.json), never the key"
else
	fail "api key placeholder" "$(cat "$T/start.out")"
fi

# --- run: the same provider setup, the command replaces only the program ---
inhome "$BB" bottle run dev -- claude -p hello >"$T/run.out" 2>"$T/run.err"
if grep -q "^stand-in claude ran: -p hello$" "$T/run.out" && grep -qx "ANTHROPIC_API_KEY=egress-placeholder" "$T/run.out" &&
	grep -qx "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1" "$T/run.out"; then
	ok "run NAME -- claude: the provider's environment, files and program, with the command's arguments"
else
	fail "run with provider" "$(cat "$T/run.out" "$T/run.err" | tail -n 10)"
fi
inhome "$BB" bottle run dev --no-provider -- sh -c 'env; ls -A $HOME; ls /run/bb' >"$T/np.out" 2>"$T/np.err"
if [ $? = 0 ] && ! grep -q "ANTHROPIC_API_KEY\|CLAUDE_CODE_DISABLE" "$T/np.out" && ! grep -q "claude.json" "$T/np.out" &&
	! grep -qx "bin" "$T/np.out" && grep -q "^PATH=/usr/local/sbin:" "$T/np.out"; then
	ok "run --no-provider: none of it (no placeholder, no ~/.claude.json, no program links)"
else
	fail "run --no-provider" "$(cat "$T/np.out" "$T/np.err" | tail -n 10)"
fi
out=$(cd "$T/ws" && PATH=/usr/bin:/bin "$BB" bottle run dev -- sh -c 'echo other-command' 2>&1)
if grep -qx "other-command" <<<"$out"; then
	ok "run of another command does not need the provider's program installed"
else
	fail "run without the program" "$out"
fi
out=$(cd "$T/ws" && PATH=/usr/bin:/bin "$BB" bottle run dev -- claude -p x 2>&1)
[ $? = 1 ] && grep -q "the agent program 'claude' is not on PATH" <<<"$out" &&
	ok "run -- claude without claude installed says so" || fail "run claude missing" "$out"

# --- --bare: no bottle, the program as found, the interpreter's directory on PATH too ---
out=$(inhome "$BB" bottle run dev --bare -- claude -p bare 2>&1)
if grep -q "^stand-in claude ran: -p bare$" <<<"$out" && grep -q "^PATH=$H/.npm-global/bin:$H/.nvm/versions/node/v22/bin:" <<<"$out" &&
	grep -qx "ANTHROPIC_API_KEY=egress-placeholder" <<<"$out"; then
	ok "run --bare: the program from where it was found, the same placeholders"
else
	fail "bare program" "$out"
fi

# --- agent_provider.program names it; on the OCI backend too ---
named_program_bottle
out=$(cd "$T/ws" && PATH=/usr/bin:/bin "$BB" bottle start named -y 2>&1)
grep -q "named program ran from /run/bb/bin/claude" <<<"$out" &&
	ok "agent_provider.program: the named file runs as claude (under /tmp, which the bottle hides)" || fail "program key" "$out"
if command -v runc >/dev/null; then
	out=$(cd "$T/ws" && PATH=/usr/bin:/bin "$BB" bottle run named -b oci -- claude 2>&1)
	grep -q "named program ran from /run/bb/bin/claude" <<<"$out" &&
		ok "oci backend: the program is bound and linked the same way" || fail "oci program" "$out"
else
	skip "oci backend program" "runc is not installed"
fi

# --- what egress refused, summed up when the agent ends ---
out=$(cd "$T/ws" && PATH=/usr/bin:/bin "$BB" bottle run dev -- sh -c \
	'for i in 1 2; do curl -s -o /dev/null https://blocked.example.test/x; done; curl -s -o /dev/null http://198.51.100.9/' 2>&1)
if grep -q "egress refused 3 requests (by host and rule; --log FILE keeps the whole audit log):" <<<"$out" &&
	grep -Eq "^  blocked.example.test +no-route +2 " <<<"$out" && grep -Eq "^  198.51.100.9 +raw-ip +1 " <<<"$out"; then
	ok "at the end of run, the refused requests by host and rule, most first"
else
	fail "refused summary" "$out"
fi
out=$(cd "$T/ws" && PATH=/usr/bin:/bin "$BB" bottle run dev -- true 2>&1)
! grep -q "refused" <<<"$out" && ok "nothing refused: nothing said" || fail "quiet summary" "$out"
