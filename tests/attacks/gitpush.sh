#!/usr/bin/env bash
# gitpush.sh - the agent pushes a secret through bb git-gate, hidden in every part of the pushed history it can think of.
. "$(dirname "$0")/../sh/lib.sh"
. "$(dirname "$0")/../sh/gitsshd.inc"

cases=(
	"secret in a new commit's file"
	"secret in a commit message"
	"secret in the author name of a commit"
	"secret in an annotated tag's message"
	"secret in a side branch brought in by a merge commit"
	"secret added only by an evil merge (in neither parent)"
	"secret in a file added then deleted within the same push"
	"secret deep in history: 30 commits, the secret in the first"
	"AWS key in a new branch"
	"secret in a second ref of a push whose first ref is clean"
	"the gate's log and the client's output never hold a secret"
)
gitsshd_start cases
command -v git >/dev/null || skip_all cases "git not installed"

token() { printf 'ghp_%s' "$(head -c 400 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)"; }
secrets=()
newsecret() { SECRET=$(token); secrets+=("$SECRET"); }

git init -q --bare -b main "$T/up.git" && git init -q -b main "$T/seed" &&
	(cd "$T/seed" && echo one >f && git add f && git commit -qm one && git push -q "$T/up.git" main) >"$T/setup.log" 2>&1 ||
	fail_all cases "setting up the upstream: $(tail -n 3 "$T/setup.log")"
write_plan "$T/plan.json" "$HOSTKEY_PUB" app="$T/up.git"
GA=$(test_addr)
GP=$(free_port "$GA") || fail_all cases "no free port"
start_gate gate --policy "$T/plan.json" --mirrors "$T/mirrors" --listen "$GA:$GP"
wait_port "$GA" "$GP" 10 || fail_all cases "git-gate did not listen: $(tail -n 5 "$T/gate.err")"
URL="git://$GA:$GP/app.git"
git clone -q "$URL" "$T/c" >"$T/o" 2>&1 || fail_all cases "clone through the gate: $(tail -n 3 "$T/o")"
cd "$T/c" || exit 1
up() { git --git-dir="$T/up.git" "$@"; }
refs_before() { up for-each-ref --format='%(refname) %(objectname)' | sort >"$T/refs.before"; }

# refused NAME REF: the last push (output in $T/o, status $rc) was refused for REF with a secret finding,
# upstream's refs did not change, the gate logged secret-found for REF, and no output names the secret.
refused() {
	local name=$1 ref=$2
	up for-each-ref --format='%(refname) %(objectname)' | sort >"$T/refs.after"
	if [ "$rc" -eq 0 ]; then
		fail "$name" "the push succeeded: $(tail -n 3 "$T/o" | tr '\n' ' ')"
	elif ! grep -q "(secret found)" "$T/o"; then
		fail "$name" "refused, but not for the secret: $(tail -n 4 "$T/o" | tr '\n' ' ')"
	elif ! cmp -s "$T/refs.before" "$T/refs.after"; then
		fail "$name" "upstream changed"
	elif ! grep '"event":"secret-found"' "$T/gate.log" | grep -qF "\"ref\":\"$ref\""; then
		fail "$name" "no secret-found line for $ref in the gate's log"
	elif grep -qF -- "$SECRET" "$T/o"; then
		fail "$name" "the client's output shows the secret"
	else
		ok "$name"
	fi
}
push() { refs_before; git push "$@" >"$T/o" 2>&1; rc=$?; }
reset_main() { git checkout -q main && git reset -q --hard origin/main; }

# 1. a file
newsecret
echo "token = \"$SECRET\"" >cfg.ini && git add cfg.ini && git commit -qm "add config"
push origin main
refused "${cases[0]}" refs/heads/main
reset_main

# 2. a commit message (the tree is clean)
newsecret
echo two >>f && git commit -qam "deploy with $SECRET"
push origin main
refused "${cases[1]}" refs/heads/main
grep -q "commit message:1 github-pat" "$T/o" || fail "${cases[1]}: the finding names the commit message" "$(grep -m1 github-pat "$T/o")"
reset_main

# 2b. the author name
newsecret
echo three >>f && git -c user.name="ci $SECRET" commit -qam "innocent" --author="bot $SECRET <bot@bb.invalid>"
push origin main
refused "${cases[2]}" refs/heads/main
reset_main

# 3. an annotated tag's message, on a clean commit already upstream
newsecret
git tag -a -m "release key $SECRET" v-secret origin/main
push origin v-secret
refused "${cases[3]}" refs/tags/v-secret
git tag -d v-secret >/dev/null

# 4. a side branch with the secret, merged into main; only main is pushed
newsecret
git checkout -qb side && echo "k=$SECRET" >side.txt && git add side.txt && git commit -qm side &&
	git checkout -q main && echo main >>f && git commit -qam "main moves" && git merge -q --no-edit --no-ff side
push origin main
refused "${cases[4]}" refs/heads/main
reset_main
git branch -qD side

# 5. an evil merge: both parents clean, the merge commit's own tree adds the secret
newsecret
git checkout -qb side2 && echo s2 >s2.txt && git add s2.txt && git commit -qm s2 && git checkout -q main &&
	echo m2 >>f && git commit -qam m2 && git merge -q --no-commit --no-ff side2 >/dev/null 2>&1 && echo "pw: $SECRET" >evil.txt &&
	git add evil.txt && git commit -qm "Merge branch side2"
if [ "$(git rev-list --parents -n 1 HEAD | wc -w)" = 3 ] && ! git show HEAD^1:evil.txt >/dev/null 2>&1 && ! git show HEAD^2:evil.txt >/dev/null 2>&1; then
	push origin main
	refused "${cases[5]}" refs/heads/main
else
	fail "${cases[5]}" "could not build the evil merge"
fi
reset_main
git branch -qD side2

# 6. added then deleted: the tip is clean, the history is not
newsecret
echo "secret=$SECRET" >tmp.env && git add tmp.env && git commit -qm oops && git rm -q tmp.env && git commit -qm "remove it"
push origin main
refused "${cases[6]}" refs/heads/main
reset_main

# 7. deep history
newsecret
echo "x=$SECRET" >deep.txt && git add deep.txt && git commit -qm deep && git rm -q deep.txt && git commit -qm gone
for i in $(seq 28); do echo "$i" >>f && git commit -qam "c$i"; done
push origin main
refused "${cases[7]}" refs/heads/main
reset_main

# 8. an AWS key (rule-shaped, not a GitHub token) on a new branch
SECRET="AKIA$(head -c 200 /dev/urandom | tr -dc 'A-Z2-7' | head -c 16)"
secrets+=("$SECRET")
git checkout -qb aws && printf '[default]\naws_access_key_id = %s\n' "$SECRET" >credentials && git add credentials &&
	git commit -qm creds
push origin aws
refused "${cases[8]}" refs/heads/aws
git checkout -q main && git branch -qD aws

# 9. two refs in one push: a clean one and one carrying the secret (the clean one may land; the other must not)
newsecret
git checkout -qb clean2 && echo c >c2 && git add c2 && git commit -qm clean2 && git checkout -qb dirty2 &&
	echo "k=$SECRET" >d2 && git add d2 && git commit -qm dirty2 && git checkout -q main
refs_before
git push origin clean2 dirty2 >"$T/o" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -q "dirty2 -> dirty2 (secret found)" "$T/o" && ! up rev-parse -q --verify refs/heads/dirty2 >/dev/null &&
	grep '"event":"secret-found"' "$T/gate.log" | grep -qF '"ref":"refs/heads/dirty2"' && ! grep -qF -- "$SECRET" "$T/o"; then
	ok "${cases[9]}"
else
	fail "${cases[9]}" "exit $rc: $(tail -n 4 "$T/o" | tr '\n' ' ')"
fi

# 10. nothing anywhere holds a secret in clear
leak=
for s in "${secrets[@]}"; do
	grep -qF -- "$s" "$T/gate.log" "$T/gate.err" && leak="$leak gate-log"
	up log --all -p | grep -qF -- "$s" && leak="$leak upstream"
done
if [ -z "$leak" ] && [ "${#secrets[@]}" -ge 8 ]; then ok "${cases[10]}"; else fail "${cases[10]}" "found in:$leak"; fi
