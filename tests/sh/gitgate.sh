# gitgate.sh - bb git-gate against real git clients and a real sshd upstream: clone, fetch, push, secrets, refusals.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/gitsshd.inc"

cases=(
	"clone over git:// gives upstream's refs and objects"
	"fetch refreshes the mirror from upstream first"
	"a clean push reaches upstream and the gate's mirror"
	"a push adding a secret is refused with a redacted finding; upstream unchanged"
	"a new branch over history the gate already had (with an old secret) is accepted"
	"a secret added then removed in the same push is refused"
	"a force push is forwarded as a forced update"
	"a branch delete is forwarded"
	"lightweight and annotated tags are forwarded"
	"an annotated tag whose message holds a secret is refused"
	"push options reach upstream's hooks"
	"a repository not in the plan is refused"
	"upstream down: clone fails closed with the reason"
	"upstream down: push fails closed, nothing forwarded"
	"a host key other than the pinned one is refused"
	"a 24 MB pack goes through; one over --max-pack is refused"
	"concurrent pushes to two branches both land"
	"concurrent pushes to one branch: one lands, the other is refused"
	"a stalled client is dropped after --timeout"
	"the per-repo allowlist silences a known false positive"
	"SIGHUP with a bad policy keeps the old one serving"
	"the log has the decisions and never a secret"
	"a clean push goes upstream as the client's own pack"
	"a refused ref and a clean one: the clean lands, the refused commits never reach upstream"
	"a pack with an object no pushed ref reaches is rebuilt; the stray object stays out of upstream"
)
gitsshd_start cases

# A GitHub-token-shaped secret, different each run (never a literal in this file).
token() { printf 'ghp_%s' "$(head -c 400 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)"; }
secrets=()
newsecret() { SECRET=$(token); secrets+=("$SECRET"); }

# Upstream: history with a secret committed long ago (already upstream, so already "on the gate").
git init -q --bare -b main "$T/up.git" && git -C "$T/up.git" config receive.advertisePushOptions true &&
	printf '#!/bin/sh\n[ "${GIT_PUSH_OPTION_COUNT:-0}" -gt 0 ] && env | grep "^GIT_PUSH_OPTION_[0-9]" | sort >%s/pushopts\nexit 0\n' \
		"$T" >"$T/up.git/hooks/pre-receive" && chmod +x "$T/up.git/hooks/pre-receive" &&
	git init -q -b main "$T/seed" &&
	(cd "$T/seed" && newsecret && echo one >f && printf 'old = "%s"\n' "$SECRET" >legacy.conf && git add f legacy.conf &&
		git commit -qm one && git tag v0 && echo two >>f && git commit -qam two &&
		git push -q "$T/up.git" main v0) >"$T/setup.log" 2>&1 ||
	fail_all cases "setting up the upstream: $(tail -n 3 "$T/setup.log")"
cp -r "$T/up.git" "$T/other.git"

write_plan "$T/plan.json" "$HOSTKEY_PUB" app="$T/up.git" other="$T/other.git"
mkdir -p "$T/rules"
printf 'allowlist:\n  paths: ["(^|/)fixtures/"]\n' >"$T/rules/other.yml"
GA=$(test_addr)
GP=$(free_port "$GA") || fail_all cases "no free port"
start_gate gate --policy "$T/plan.json" --mirrors "$T/mirrors" --listen "$GA:$GP" --repo-rules "$T/rules" \
	--max-pack 30000000
GATE1=$GATE_PID
wait_port "$GA" "$GP" 10 || fail_all cases "git-gate did not listen: $(tail -n 5 "$T/gate.err")"
URL="git://$GA:$GP/app.git"
up() { git --git-dir="$T/up.git" "$@"; }
# out FILE: the last command's output, one line, for failure messages.
out() { tail -n 6 "$1" | tr '\n' ' '; }

# 1. clone
if git clone -q "$URL" "$T/c" >"$T/o" 2>&1 && [ "$(git -C "$T/c" rev-parse HEAD)" = "$(up rev-parse main)" ] &&
	[ "$(git -C "$T/c" rev-parse v0)" = "$(up rev-parse v0)" ] && git -C "$T/c" fsck --strict --no-progress >>"$T/o" 2>&1 &&
	[ "$(git -C "$T/c" symbolic-ref HEAD)" = refs/heads/main ]; then
	ok "${cases[0]}"
else
	fail "${cases[0]}" "$(out "$T/o")"
fi

# 2. fetch after someone pushed straight to upstream
(cd "$T/seed" && echo three >>f && git commit -qam three && git push -q "$T/up.git" main) >/dev/null 2>&1
if git -C "$T/c" fetch -q origin >"$T/o" 2>&1 && [ "$(git -C "$T/c" rev-parse origin/main)" = "$(up rev-parse main)" ]; then
	ok "${cases[1]}"
else
	fail "${cases[1]}" "$(out "$T/o")"
fi
git -C "$T/c" merge -q --ff-only origin/main >/dev/null 2>&1

# 3. clean push
(cd "$T/c" && echo four >>f && git commit -qam four) >/dev/null
if git -C "$T/c" push origin main >"$T/o" 2>&1 && [ "$(up rev-parse main)" = "$(git -C "$T/c" rev-parse HEAD)" ] &&
	[ "$(git ls-remote "$URL" refs/heads/main | cut -f1)" = "$(git -C "$T/c" rev-parse HEAD)" ]; then
	ok "${cases[2]}"
else
	fail "${cases[2]}" "$(out "$T/o")"
fi

# 4. a secret in a new commit
before=$(up rev-parse main)
newsecret
(cd "$T/c" && printf '# config\napi_token = "%s"\n' "$SECRET" >deploy.env && git add deploy.env && git commit -qm "add deploy env") >/dev/null
commit=$(git -C "$T/c" rev-parse --short=12 HEAD)
git -C "$T/c" push origin main >"$T/o" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "remote rejected.*main -> main (secret found)" "$T/o" &&
	grep -q "remote: error:   $commit deploy.env:2 github-pat: " "$T/o" && grep -q 'ghp_\.\.\.\[REDACTED' "$T/o" &&
	! grep -qF "$SECRET" "$T/o" && ! grep -qF "${SECRET:8}" "$T/o" && [ "$(up rev-parse main)" = "$before" ]; then
	ok "${cases[3]}"
else
	fail "${cases[3]}" "exit $rc: $(out "$T/o")"
fi
git -C "$T/c" reset -q --hard HEAD~1

# 5. new branch whose history holds the old secret (already upstream)
(cd "$T/c" && git checkout -qb feature && echo five >g && git add g && git commit -qm five) >/dev/null
if git -C "$T/c" push origin feature >"$T/o" 2>&1 && [ "$(up rev-parse feature)" = "$(git -C "$T/c" rev-parse HEAD)" ]; then
	ok "${cases[4]}"
else
	fail "${cases[4]}" "$(out "$T/o")"
fi

# 6. added and removed in one push
newsecret
(cd "$T/c" && printf 'k = "%s"\n' "$SECRET" >tmp.txt && git add tmp.txt && git commit -qm oops &&
	git rm -q tmp.txt && git commit -qm "remove it") >/dev/null
git -C "$T/c" push origin feature >"$T/o" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "feature -> feature (secret found)" "$T/o" && grep -q "tmp.txt:1 github-pat" "$T/o" &&
	! grep -qF "$SECRET" "$T/o" && [ "$(up rev-parse feature)" != "$(git -C "$T/c" rev-parse HEAD)" ]; then
	ok "${cases[5]}"
else
	fail "${cases[5]}" "exit $rc: $(out "$T/o")"
fi
git -C "$T/c" reset -q --hard HEAD~2

# 7. force push: rewrite the branch's last commit
(cd "$T/c" && git commit -q --amend -m "five, reworded") >/dev/null
if git -C "$T/c" push -f origin feature >"$T/o" 2>&1 && grep -q "(forced update)" "$T/o" &&
	[ "$(up rev-parse feature)" = "$(git -C "$T/c" rev-parse HEAD)" ]; then
	ok "${cases[6]}"
else
	fail "${cases[6]}" "$(out "$T/o")"
fi

# 8. delete
if git -C "$T/c" push origin :feature >"$T/o" 2>&1 && ! up rev-parse -q --verify refs/heads/feature >/dev/null &&
	[ -z "$(git ls-remote "$URL" refs/heads/feature)" ]; then
	ok "${cases[7]}"
else
	fail "${cases[7]}" "$(out "$T/o")"
fi
git -C "$T/c" checkout -q main

# 9. tags
(cd "$T/c" && git tag light && git tag -a -m "release one" v1) >/dev/null
if git -C "$T/c" push origin light v1 >"$T/o" 2>&1 && [ "$(up rev-parse light)" = "$(git -C "$T/c" rev-parse light)" ] &&
	[ "$(up rev-parse v1)" = "$(git -C "$T/c" rev-parse v1)" ] && [ "$(up cat-file -t v1)" = tag ]; then
	ok "${cases[8]}"
else
	fail "${cases[8]}" "$(out "$T/o")"
fi

# 10. tag message with a secret
newsecret
(cd "$T/c" && git tag -a -m "deploy with $SECRET" v2) >/dev/null
git -C "$T/c" push origin v2 >"$T/o" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "v2 -> v2 (secret found)" "$T/o" && grep -q "tag v2:1 github-pat" "$T/o" &&
	! grep -qF "$SECRET" "$T/o" && ! up rev-parse -q --verify refs/tags/v2 >/dev/null; then
	ok "${cases[9]}"
else
	fail "${cases[9]}" "exit $rc: $(out "$T/o")"
fi

# 11. push options (carried with the client's own pack, whatever the libgit2 version)
(cd "$T/c" && echo six >>f && git commit -qam six) >/dev/null
if git -C "$T/c" push -o ci.skip -o "reviewer=ada lovelace" origin main >"$T/o" 2>&1 &&
	[ "$(cat "$T/pushopts" 2>/dev/null)" = "$(printf 'GIT_PUSH_OPTION_0=ci.skip\nGIT_PUSH_OPTION_1=reviewer=ada lovelace')" ]; then
	ok "${cases[10]}"
else
	fail "${cases[10]}" "$(out "$T/o") hook saw: $(cat "$T/pushopts" 2>/dev/null | tr '\n' ' ')"
fi

# 12. unknown repo
if ! git ls-remote "git://$GA:$GP/nope.git" >"$T/o" 2>&1 && grep -q "no repository '/nope.git' here" "$T/o"; then
	ok "${cases[11]}"
else
	fail "${cases[11]}" "$(out "$T/o")"
fi

# 15. wrong host key: a second gate pinning another key (upstream still up)
write_plan "$T/plan-wrong.json" "$OTHERKEY_PUB" app="$T/up.git"
GP2=$(free_port "$GA")
start_gate gate-wrong --policy "$T/plan-wrong.json" --mirrors "$T/mirrors-wrong" --listen "$GA:$GP2"
wait_port "$GA" "$GP2" 10
if ! git clone -q "git://$GA:$GP2/app.git" "$T/c-wrong" >"$T/o" 2>&1 && grep -q "does not match the pinned key" "$T/o" &&
	grep -q "fail closed" "$T/o"; then
	ok "${cases[14]}"
else
	fail "${cases[14]}" "$(out "$T/o")"
fi

# 16. a big push (24 MB of incompressible data), then one over the limit on a gate with a 1 MB cap
head -c 24000000 /dev/urandom >"$T/c/blob.bin"
(cd "$T/c" && git add blob.bin && git commit -qm "big blob") >/dev/null
big_ok=0 why=
if git -C "$T/c" push origin main >"$T/o" 2>&1 && [ "$(up rev-parse main)" = "$(git -C "$T/c" rev-parse HEAD)" ]; then
	big_ok=1
else
	why="24 MB push: $(out "$T/o")"
fi
GP3=$(free_port "$GA")
start_gate gate-small --policy "$T/plan.json" --mirrors "$T/mirrors-small" --listen "$GA:$GP3" --max-pack 1000000
wait_port "$GA" "$GP3" 10
head -c 2000000 /dev/urandom >"$T/c/blob2.bin"
(cd "$T/c" && git add blob2.bin && git commit -qm "another blob") >/dev/null
before=$(up rev-parse main)
git -C "$T/c" push "git://$GA:$GP3/app.git" main >"$T/o" 2>&1
rc=$?
if [ "$big_ok" = 1 ] && [ "$rc" -ne 0 ] && grep -q "larger than this gate's limit of 1000000 bytes" "$T/o" &&
	[ "$(up rev-parse main)" = "$before" ]; then
	ok "${cases[15]}"
else
	fail "${cases[15]}" "$why exit $rc: $(out "$T/o")"
fi
git -C "$T/c" reset -q --hard HEAD~1

# 17. two clients, two branches, at once
git clone -q "$URL" "$T/c2" >/dev/null 2>&1
(cd "$T/c" && git checkout -qb left && echo l >l && git add l && git commit -qm left) >/dev/null
(cd "$T/c2" && git checkout -qb right && echo r >r && git add r && git commit -qm right) >/dev/null
git -C "$T/c" push origin left >"$T/o1" 2>&1 &
p1=$!
git -C "$T/c2" push origin right >"$T/o2" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
if [ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] && [ "$(up rev-parse left)" = "$(git -C "$T/c" rev-parse HEAD)" ] &&
	[ "$(up rev-parse right)" = "$(git -C "$T/c2" rev-parse HEAD)" ]; then
	ok "${cases[16]}"
else
	fail "${cases[16]}" "exit $r1/$r2: $(out "$T/o1") / $(out "$T/o2")"
fi

# 18. two clients, one branch, at once: both start from the same tip; only one can land
git -C "$T/c2" fetch -q origin && git -C "$T/c2" checkout -q -B left origin/left
(cd "$T/c" && echo l2 >>l && git commit -qam l2) >/dev/null
(cd "$T/c2" && echo l3 >>l && git commit -qam l3) >/dev/null
git -C "$T/c" push origin left >"$T/o1" 2>&1 &
p1=$!
git -C "$T/c2" push origin left >"$T/o2" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
tip=$(up rev-parse left)
if { [ "$r1" -eq 0 ] && [ "$r2" -ne 0 ] && [ "$tip" = "$(git -C "$T/c" rev-parse HEAD)" ]; } ||
	{ [ "$r2" -eq 0 ] && [ "$r1" -ne 0 ] && [ "$tip" = "$(git -C "$T/c2" rev-parse HEAD)" ]; }; then
	ok "${cases[17]}"
else
	fail "${cases[17]}" "exit $r1/$r2, upstream at $tip: $(out "$T/o1") / $(out "$T/o2")"
fi
git -C "$T/c" checkout -q main

# 19. a client that connects and says nothing is dropped after --timeout (2 s on this gate)
GP4=$(free_port "$GA")
start_gate gate-timeout --policy "$T/plan.json" --mirrors "$T/mirrors" --listen "$GA:$GP4" --timeout 2
wait_port "$GA" "$GP4" 10
start=$(date +%s%N)
if exec 7<>"/dev/tcp/$GA/$GP4"; then
	# Half a request: a pkt-line header that promises more.
	printf '0032git-upload' >&7
	timeout 10 cat <&7 >/dev/null
	rc=$?
	exec 7<&-
	ms=$((($(date +%s%N) - start) / 1000000))
	if [ "$rc" -eq 0 ] && [ "$ms" -ge 1800 ] && [ "$ms" -lt 6000 ]; then
		ok "${cases[18]}"
	else
		fail "${cases[18]}" "closed after ${ms} ms (cat exit $rc)"
	fi
else
	fail "${cases[18]}" "cannot connect"
fi

# 20. the per-repo allowlist: repo "other" skips fixtures/
newsecret
git clone -q "git://$GA:$GP/other.git" "$T/o-clone" >/dev/null 2>&1
(cd "$T/o-clone" && mkdir -p fixtures && printf 'tok = "%s"\n' "$SECRET" >fixtures/sample.env && git add fixtures &&
	git commit -qm fixture) >/dev/null
allow_ok=0
if git -C "$T/o-clone" push origin main >"$T/o" 2>&1 &&
	[ "$(git --git-dir="$T/other.git" rev-parse main)" = "$(git -C "$T/o-clone" rev-parse HEAD)" ]; then
	# The same file outside fixtures/ is still caught, and in repo "app" fixtures/ is not exempt.
	(cd "$T/o-clone" && cp fixtures/sample.env sample.env && git add sample.env && git commit -qm "outside") >/dev/null
	if ! git -C "$T/o-clone" push origin main >"$T/o" 2>&1 && grep -q "sample.env:1 github-pat" "$T/o"; then
		(cd "$T/c" && mkdir -p fixtures && cp "$T/o-clone/fixtures/sample.env" fixtures/ && git add fixtures &&
			git commit -qm fixture) >/dev/null
		if ! git -C "$T/c" push origin main >"$T/o" 2>&1 && grep -q "fixtures/sample.env:1" "$T/o"; then
			allow_ok=1
		fi
		git -C "$T/c" reset -q --hard HEAD~1
	fi
fi
if [ "$allow_ok" = 1 ]; then ok "${cases[19]}"; else fail "${cases[19]}" "$(out "$T/o")"; fi

# 21. SIGHUP with a broken plan: refused, the old policy keeps serving
cp "$T/plan.json" "$T/plan.good"
printf '{"schema":"bb.plan/1","git_gate":{"repos":[{"name":"x"}]}}' >"$T/plan.json"
kill -HUP "$GATE1"
sleep 0.5
if git ls-remote "$URL" >"$T/o" 2>&1 && grep -q refs/heads/main "$T/o" && grep -q '"event":"reload-refused"' "$T/gate.log"; then
	ok "${cases[20]}"
else
	fail "${cases[20]}" "$(out "$T/o") $(grep reload "$T/gate.log" | tail -n 2)"
fi
cp "$T/plan.good" "$T/plan.json"

# 23. clean pushes so far went as the client's own pack (no second delta search)
if grep -q '"event":"upstream-push","repo":"app","peer":"[^"]*","pack":"raw"' "$T/gate.log"; then
	ok "${cases[22]}"
else
	fail "${cases[22]}" "$(grep '"upstream-push"' "$T/gate.log" | tail -n 2)"
fi

# 24. one push, two refs: one adds a secret, the other is clean
newsecret
(cd "$T/c" && git checkout -qb dirty main && printf 'k = "%s"\n' "$SECRET" >d.txt && git add d.txt && git commit -qm dirty &&
	git checkout -qb clean main && echo fine >fine.txt && git add fine.txt && git commit -qm clean) >/dev/null
dirty=$(git -C "$T/c" rev-parse dirty)
git -C "$T/c" push origin dirty clean >"$T/o" 2>&1
if grep -q "dirty -> dirty (secret found)" "$T/o" && grep -q "\* \[new branch\] *clean -> clean" "$T/o" &&
	[ "$(up rev-parse clean)" = "$(git -C "$T/c" rev-parse clean)" ] && ! up cat-file -e "$dirty" 2>/dev/null &&
	grep -q '"pack":"rebuilt"' "$T/gate.log"; then
	ok "${cases[23]}"
else
	fail "${cases[23]}" "$(out "$T/o") $(up cat-file -t "$dirty" 2>&1)"
fi
git -C "$T/c" checkout -q main

# 25. a hand-made push: one new commit plus a blob nothing points at (git itself never sends one)
(cd "$T/c" && echo eight >>f && git commit -qam eight) >/dev/null
stray=$(printf 'stray object %s\n' "$RANDOM$RANDOM" | git -C "$T/c" hash-object -w --stdin)
old=$(up rev-parse main)
new=$(git -C "$T/c" rev-parse HEAD)
{ git -C "$T/c" rev-list --objects "$old..$new"; echo "$stray"; } | git -C "$T/c" pack-objects -q --stdout >"$T/stray.pack"
# pkt FORMAT: one pkt-line whose body is printf FORMAT (NULs included, so no shell variable holds it)
pkt() { printf '%04x' $(($(printf "$1" | wc -c) + 4)); printf "$1"; }
{
	pkt 'git-receive-pack /app.git\0host=x\0'
	pkt "$old $new refs/heads/main\0report-status side-band-64k\n"
	printf '0000'
	cat "$T/stray.pack"
} >"$T/stray.req"
exec 8<>"/dev/tcp/$GA/$GP"
cat "$T/stray.req" >&8
timeout 60 cat <&8 >"$T/stray.resp"
exec 8<&-
if grep -aq "ok refs/heads/main" "$T/stray.resp" && [ "$(up rev-parse main)" = "$new" ] &&
	! up cat-file -e "$stray" 2>/dev/null && grep -q "push-pack-rebuilt.*no accepted ref reaches" "$T/gate.log"; then
	ok "${cases[24]}"
else
	fail "${cases[24]}" "$(tr -c '[:print:]' ' ' <"$T/stray.resp" | tail -c 300) stray upstream: $(up cat-file -t "$stray" 2>&1)"
fi
git -C "$T/c" fetch -q origin 2>/dev/null

# 13/14. upstream down: clone and push fail closed
gitsshd_stop
if ! git clone -q "$URL" "$T/c-down" >"$T/o" 2>&1 && grep -q "cannot refresh 'app' from upstream.*(fail closed).*Connection refused" "$T/o"; then
	ok "${cases[12]}"
else
	fail "${cases[12]}" "$(out "$T/o")"
fi
(cd "$T/c" && echo seven >>f && git commit -qam seven) >/dev/null
if ! git -C "$T/c" push origin main >"$T/o" 2>&1 && grep -q "fail closed" "$T/o" && [ "$(up rev-parse main)" != "$(git -C "$T/c" rev-parse HEAD)" ]; then
	ok "${cases[13]}"
else
	fail "${cases[13]}" "$(out "$T/o")"
fi

# 22. the log: JSON lines with the decisions, no secret anywhere in it
log_ok=1 why=
for ev in push-accepted push-rejected secret-found upstream-refresh fetch upstream-refresh-failed; do
	grep -q "\"event\":\"$ev\"" "$T/gate.log" || { log_ok=0; why="$why no $ev;"; }
done
# Clones and fetches copy the mirror's pack entries as they are (nothing compressed again).
grep -q '"event":"fetch",.*"reused":"[1-9][0-9]*","reused_deltas":"[0-9]*","compressed":"0"' "$T/gate.log" ||
	{ log_ok=0; why="$why no fetch reusing the mirror's entries;"; }
for s in "${secrets[@]}"; do
	if grep -qF "$s" "$T/gate.log" "$T/gate.err" "$T/gate-small.log" "$T/gate-wrong.log"; then log_ok=0; why="$why a secret is in the log;"; fi
done
if grep -q Sanitizer "$T"/gate*.err; then log_ok=0; why="$why sanitizer: $(grep -h -m1 -A3 Sanitizer "$T"/gate*.err | tr '\n' ' ')"; fi
if [ "$log_ok" = 1 ]; then ok "${cases[21]}"; else fail "${cases[21]}" "$why"; fi
