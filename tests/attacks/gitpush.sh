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
	"AWS key in a binary file (a NUL byte before it)"
	"AWS key added to a binary file already upstream"
	"AWS key in a branch's name"
	"token in a tag's name"
	"token in a file's path"
	"token in a push option"
	"AWS key wrapped in base64"
	"AWS key wrapped in hex"
	"token split across two adjacent lines"
	"encodings nested past what the gate decodes: refused as unreadable"
	"a file over the scan cap: refused with the reason"
	"still refused: a token in a 100 KB line"
	"still refused: a token as a symlink's target"
	"still refused: a token added in a renamed file"
	"still refused: a token in a file .gitattributes calls binary"
	"still refused: a token in a git note"
	"control: clean binary and base64 files and an ordinary branch name pass"
	"the gate's log never holds a secret from a name"
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
	elif [ -z "${NAME_PRINTED:-}" ] && grep -qF -- "$SECRET" "$T/o"; then
		fail "$name" "the client's output shows the secret"
	else
		ok "$name"
	fi
}
# unreadable NAME REF WHY: the last push was refused for REF because the gate could not scan it, saying WHY.
unreadable() {
	local name=$1 ref=$2 why=$3
	up for-each-ref --format='%(refname) %(objectname)' | sort >"$T/refs.after"
	if [ "$rc" -eq 0 ]; then
		fail "$name" "the push succeeded: $(tail -n 3 "$T/o" | tr '\n' ' ')"
	elif ! grep -q "could not be scanned" "$T/o" || ! grep -qF -- "$why" "$T/o"; then
		fail "$name" "refused, but not as unreadable ($why): $(tail -n 4 "$T/o" | tr '\n' ' ')"
	elif ! cmp -s "$T/refs.before" "$T/refs.after"; then
		fail "$name" "upstream changed"
	elif ! grep '"event":"push-rejected"' "$T/gate.log" | grep -qF "\"ref\":\"$ref\""; then
		fail "$name" "no push-rejected line for $ref in the gate's log"
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

awskey() { printf 'AKIA%s' "$(head -c 200 /dev/urandom | tr -dc 'A-Z2-7' | head -c 16)"; }
newaws() { SECRET=$(awskey); secrets+=("$SECRET"); }

# 11. a binary file: a NUL byte, then the key (git and libgit2 call it binary)
newaws
printf 'BIN\0\1\2aws_access_key_id = %s\n' "$SECRET" >blob.dat && git add blob.dat && git commit -qm "add a blob"
push origin main
refused "${cases[11]}" refs/heads/main
reset_main

# 12. a binary file upstream already has, changed to hold the key (no line diff of it exists)
printf 'BIN\0\1\2nothing here\n' >app.bin && git add app.bin && git commit -qm "binary asset" && push origin main
if [ "$rc" -eq 0 ]; then
	newaws
	printf 'BIN\0\1\2nothing here\naws_access_key_id = %s\n' "$SECRET" >app.bin && git commit -qam "update the asset"
	push origin main
	refused "${cases[12]}" refs/heads/main
else
	fail "${cases[12]}" "the clean binary did not go through: $(tail -n 3 "$T/o" | tr '\n' ' ')"
fi
git fetch -q origin && reset_main

# 13. a branch named after the key (git prints ref names itself: only the gate's side is checked for leaks)
newaws
git checkout -qb "x-$SECRET" && echo n >n13 && git add n13 && git commit -qm n13
NAME_PRINTED=1 push origin "x-$SECRET"
NAME_PRINTED=1 refused "${cases[13]}" "refs/heads/x-[REDACTED]"
git checkout -q main && git branch -qD "x-$SECRET"

# 14. a lightweight tag named after a token
newsecret
git tag "rel-$SECRET" origin/main
NAME_PRINTED=1 push origin "rel-$SECRET"
NAME_PRINTED=1 refused "${cases[14]}" "refs/tags/rel-[REDACTED]"
git tag -d "rel-$SECRET" >/dev/null

# 15. a file whose path holds a token
newsecret
mkdir -p keys && echo x >"keys/$SECRET.txt" && git add keys && git commit -qm "keys"
NAME_PRINTED=1 push origin main
NAME_PRINTED=1 refused "${cases[15]}" refs/heads/main
reset_main

# 16. a push option (upstream would receive it) holding a token
newsecret
echo o >>f && git commit -qam "with an option"
push -o "ci.variable=TOKEN=$SECRET" origin main
if [ "$rc" -ne 0 ] && grep -q "secret found in a push option" "$T/o" && ! grep -qF -- "$SECRET" "$T/gate.log" &&
	up for-each-ref --format='%(refname) %(objectname)' | sort | cmp -s "$T/refs.before" -; then
	ok "${cases[16]}"
else
	fail "${cases[16]}" "exit $rc: $(tail -n 3 "$T/o" | tr '\n' ' ')"
fi
reset_main

# 17. base64 of the credentials file
newaws
printf '[default]\naws_access_key_id = %s\n' "$SECRET" | base64 -w0 >creds.b64 && git add creds.b64 && git commit -qm b64
push origin main
refused "${cases[17]}" refs/heads/main
reset_main

# 18. hex of the key
newaws
printf 'key = %s\n' "$(printf %s "$SECRET" | od -An -tx1 | tr -d ' \n')" >key.hex && git add key.hex && git commit -qm hex
push origin main
refused "${cases[18]}" refs/heads/main
reset_main

# 19. a token split across two adjacent lines
newsecret
printf 'const t = "%s" +\n          "%s";\n' "${SECRET:0:20}" "${SECRET:20}" >t.js && git add t.js && git commit -qm split
push origin main
refused "${cases[19]}" refs/heads/main
reset_main

# 20. base64 four levels deep: the gate cannot read it, so it does not pass it
newsecret
printf 'token = %s\n' "$SECRET" | base64 -w0 | base64 -w0 | base64 -w0 | base64 -w0 >deep.txt && git add deep.txt &&
	git commit -qm deep
push origin main
unreadable "${cases[20]}" refs/heads/main "not scanned whole"
reset_main

# 21. a file larger than the gate scans (zeros: small in the pack)
head -c $((101 * 1024 * 1024)) /dev/zero >big.bin && git add big.bin && git commit -qm big
push origin main
unreadable "${cases[21]}" refs/heads/main "more than the 100 MiB"
reset_main
rm -f big.bin

# 22-26. what was refused before the decoders must stay refused
newsecret
{ head -c 50000 /dev/zero | tr '\0' x; printf ' token=%s ' "$SECRET"; head -c 50000 /dev/zero | tr '\0' y; echo; } >long.txt &&
	git add long.txt && git commit -qm long
push origin main
refused "${cases[22]}" refs/heads/main
reset_main
newsecret
ln -s "token=$SECRET" link && git add link && git commit -qm link
push origin main
refused "${cases[23]}" refs/heads/main
reset_main
newsecret
printf 'one\ntwo\nthree\nfour\nfive\n' >moved.txt && git add moved.txt && git commit -qm "to move" && push origin main
git mv moved.txt renamed.txt && printf 'k=%s\n' "$SECRET" >>renamed.txt && git commit -qam "rename and add"
push origin main
refused "${cases[24]}" refs/heads/main
git fetch -q origin && reset_main
newsecret
printf '*.dat binary\n' >.gitattributes && printf 'k=%s\n' "$SECRET" >attr.dat && git add .gitattributes attr.dat &&
	git commit -qm attributes
push origin main
refused "${cases[25]}" refs/heads/main
reset_main
newsecret
git notes add -m "deploy key $SECRET" HEAD
push origin refs/notes/commits
refused "${cases[26]}" refs/notes/commits
git update-ref -d refs/notes/commits

# 27. controls
head -c 4096 /dev/urandom >rand.bin && head -c 30000 /dev/urandom | base64 >rand.b64 && git add rand.bin rand.b64 &&
	git commit -qm "clean binaries" && git checkout -qb feature-42
push origin feature-42
if [ "$rc" -eq 0 ] && up rev-parse -q --verify refs/heads/feature-42 >/dev/null; then
	ok "${cases[27]}"
else
	fail "${cases[27]}" "exit $rc: $(tail -n 4 "$T/o" | tr '\n' ' ')"
fi
git checkout -q main

# 28. names holding secrets never reach the gate's log or stderr
leak=
for s in "${secrets[@]}"; do grep -qF -- "$s" "$T/gate.log" "$T/gate.err" && leak="$leak $s"; done
if [ -z "$leak" ]; then ok "${cases[28]}"; else fail "${cases[28]}" "${#leak} bytes of secrets in the gate's log"; fi

# 10. nothing anywhere holds a secret in clear
leak=
for s in "${secrets[@]}"; do
	grep -qF -- "$s" "$T/gate.log" "$T/gate.err" && leak="$leak gate-log"
	up log --all -p | grep -qF -- "$s" && leak="$leak upstream"
done
if [ -z "$leak" ] && [ "${#secrets[@]}" -ge 8 ]; then ok "${cases[10]}"; else fail "${cases[10]}" "found in:$leak"; fi
