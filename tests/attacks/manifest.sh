#!/usr/bin/env bash
# manifest.sh - hostile manifests: symlinks out of the tree, extends/bottle names that traverse, YAML alias bombs,
# oversized and deeply nested frontmatter. Each must be refused with the file named, bounded in time and memory,
# and never echo what a symlinked file holds.
. "$(dirname "$0")/../sh/lib.sh"

H=$T/home C=$T/cwd
mkdir -p "$H/.bb/bottles" "$H/.bb/agents" "$C/.bb/agents"
printf -- '---\n---\n' >"$H/.bb/bottles/dev.md"
CANARY="canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# bbv ARGS...: bb bottle ARGS in the case's tree, bounded to 10 s and 512 MB; output in $T/out, status in $rc.
bbv() {
	# ASan reserves terabytes of address space: the memory bound is for the normal build only.
	(cd "$C" && { [ "${MODE:-musl}" = asan ] || ulimit -v 524288; } && BB_HOME=$H HOME=$T/nohome timeout 10 "$BB" bottle "$@") >"$T/out" 2>&1
	rc=$?
}
# refused NAME FILE-NAME WANT...: exit 1 (not a crash, not a timeout), FILE-NAME and each WANT in the output,
# and the canary nowhere in it.
refused() {
	local name=$1 file=$2 w why=""
	shift 2
	[ "$rc" = 1 ] || why="exit $rc;"
	grep -qF -- "$file" "$T/out" || why="$why the file is not named;"
	for w in "$@"; do grep -qF -- "$w" "$T/out" || why="$why missing '$w';"; done
	grep -qF -- "$CANARY" "$T/out" && why="$why the canary is in the output;"
	if [ -z "$why" ]; then ok "$name"; else fail "$name" "$why $(head -c 400 "$T/out" | tr '\n' '|')"; fi
}
clean() { rm -f "$H"/.bb/agents/* "$C"/.bb/agents/* "$H"/.bb/bottles/x*.md; }

# --- symlinks ---
ln -s /etc/shadow "$C/.bb/agents/shadow.md"
bbv validate
refused "an agent manifest symlinked to /etc/shadow: refused, nothing of it shown" shadow.md "no YAML frontmatter"
if grep -q '^root:' "$T/out"; then fail "shadow content" "a shadow line is in the output"; fi
bbv plan shadow --json
refused "plan of the /etc/shadow symlink refused" shadow.md "is not valid"
clean

# A file outside the tree with frontmatter-shaped secrets: its values never reach the output.
printf -- '---\naws_secret_access_key: %s\nbottle: dev\n---\n' "$CANARY" >"$T/outside.md"
ln -s "$T/outside.md" "$C/.bb/agents/out.md"
bbv validate
refused "a symlink to a secret-holding YAML file outside the tree: keys named, values never" out.md "unknown frontmatter key" "aws_secret_access_key"
clean
printf -- '---\nbottle: dev\nmodel: "%s\n---\n' "$CANARY" >"$T/broken.md"
ln -s "$T/broken.md" "$C/.bb/agents/broken.md"
bbv validate
refused "a syntax error in a symlinked file: the position, never the text" broken.md "line"
clean
ln -s "$T/nowhere" "$C/.bb/agents/dangling.md"
bbv validate
refused "a dangling symlink" dangling.md "could not read"
clean
mkfifo "$T/fifo"
ln -s "$T/fifo" "$C/.bb/agents/fifo.md"
(cd "$C" && BB_HOME=$H HOME=$T/nohome timeout 3 "$BB" bottle validate) >"$T/out" 2>&1
rc=$?
if [ "$rc" = 124 ]; then
	# An agent that plants this in the workspace's .bb/agents would hang the operator's next bb bottle command.
	fail "a symlink to a FIFO (would block a reader forever)" "bb bottle validate blocked opening it"
else
	refused "a symlink to a FIFO (would block a reader forever)" fifo.md "error"
fi
clean
ln -s /dev/zero "$C/.bb/agents/zero.md"
bbv validate
refused "a symlink to /dev/zero (endless)" zero.md "error"
clean
ln -s /proc/self/environ "$C/.bb/agents/environ.md"
(cd "$C" && BB_HOME=$H HOME=$T/nohome BB_ATTACK_CANARY=$CANARY timeout 10 "$BB" bottle validate) >"$T/out" 2>&1
rc=$?
refused "a symlink to /proc/self/environ: the environment is never shown" environ.md "error"
clean

# --- names that traverse ---
printf -- '---\nextends: ../../../etc/passwd\n---\n' >"$H/.bb/bottles/xtrav.md"
bbv validate
refused "extends: ../../../etc/passwd refused as a name" xtrav.md "extends"
clean
printf -- '---\nextends: /etc/passwd\n---\n' >"$H/.bb/bottles/xabs.md"
bbv validate
refused "extends: an absolute path refused" xabs.md "extends"
clean
printf -- '---\nbottle: ../bottles/dev\n---\n' >"$C/.bb/agents/trav.md"
bbv validate
refused "an agent's bottle: ../bottles/dev refused" trav.md "bottle"
clean
printf -- '---\nbottle: dev\nskills: ["../../../../etc"]\n---\n' >"$C/.bb/agents/skills.md"
bbv plan skills --json
if [ "$rc" != 0 ] && grep -q skills "$T/out"; then ok "skills naming a path outside refused"; else fail "skills traversal" "exit $rc $(head -c 300 "$T/out")"; fi
clean
printf -- '---\nextends: xb\n---\n' >"$H/.bb/bottles/xa.md"
printf -- '---\nextends: xa\n---\n' >"$H/.bb/bottles/xb.md"
bbv validate
refused "an extends cycle" xa.md "extends cycle"
clean

# --- YAML bombs ---
{
	printf -- '---\nenv:\n  A: &a [x, x, x, x, x, x, x, x, x, x]\n'
	prev=a
	for l in b c d e f g h i j; do printf '  %s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n' \
		"$(tr a-z A-Z <<<"$l")" $l $prev $prev $prev $prev $prev $prev $prev $prev $prev $prev; prev=$l; done
	printf -- '---\n'
} >"$H/.bb/bottles/xlaughs.md"
bbv validate
refused "billion laughs (10^10 nodes) refused, not expanded" xlaughs.md "aliases are expanded"
clean
{
	printf -- '---\nenv:\n  A: &a {k0: v, k1: v, k2: v, k3: v, k4: v, k5: v, k6: v, k7: v}\n'
	prev=a
	for l in b c d e f g h; do printf '  %s: &%s {<<: *%s, m0: *%s, m1: *%s, m2: *%s, m3: *%s, m4: *%s, m5: *%s, m6: *%s}\n' \
		"$(tr a-z A-Z <<<"$l")" $l $prev $prev $prev $prev $prev $prev $prev $prev; prev=$l; done
	printf -- '---\n'
} >"$H/.bb/bottles/xmerge.md"
bbv validate
if [ "$rc" = 1 ] && grep -q xmerge.md "$T/out"; then ok "alias bomb through merge keys refused"; else fail "merge-key bomb" "exit $rc $(head -c 300 "$T/out")"; fi
clean
big=$(head -c 300000 /dev/zero | tr '\0' x)
{ printf -- '---\nenv:\n  BIG: &b "%s"\n  L: [' "$big"; for i in $(seq 200); do printf '*b, '; done; printf '*b]\n---\n'; } >"$H/.bb/bottles/xwide.md"
bbv validate
if [ "$rc" = 1 ] && grep -q xwide.md "$T/out"; then ok "one 300 KB scalar aliased 200 times (60 MB) refused"; else fail "wide alias" "exit $rc $(head -c 300 "$T/out")"; fi
clean

# --- oversized everything ---
{ printf -- '---\nenv:\n  V: "'; head -c 2000000 /dev/zero | tr '\0' v; printf '"\n---\n'; } >"$H/.bb/bottles/xhuge.md"
bbv validate
refused "a 2 MB frontmatter value refused" xhuge.md "larger than"
clean
{ printf -- '---\nenv:\n  V: "'; head -c 900000 /dev/zero | tr '\0' v; printf '"\n---\n'; } >"$H/.bb/bottles/xval.md"
bbv plan xval --json
if [ "$rc" -le 1 ] && ! grep -q 'vvvvvvvvvvvvvvvvvvvv' "$T/out"; then ok "a 900 KB env value: bounded, the value never printed"; else fail "900 KB value" "exit $rc"; fi
clean
{ printf -- '---\nenv: '; head -c 100000 /dev/zero | tr '\0' '['; printf '\n---\n'; } >"$H/.bb/bottles/xdeep.md"
bbv validate
refused "100000 nested flow sequences refused (no stack overflow)" xdeep.md "error"
clean
{ printf -- '---\nenv:\n'; for i in $(seq 3000); do printf '%*s- \n' $((i * 2)) ''; done; printf -- '---\n'; } >"$H/.bb/bottles/xdeepblock.md"
bbv validate
refused "3000 nested block sequences refused" xdeepblock.md "error"
clean
{ printf -- '---\nenv:\n  '; head -c 200000 /dev/zero | tr '\0' K; printf ': x\n---\n'; } >"$H/.bb/bottles/xkey.md"
bbv validate
if [ "$rc" = 1 ] && grep -q xkey.md "$T/out" && [ "$(wc -c <"$T/out")" -lt 20000 ]; then ok "a 200 KB key: refused, the error stays short"; else fail "200 KB key" "exit $rc, $(wc -c <"$T/out") bytes of output"; fi
clean
for i in $(seq 600); do printf -- '---\nextends: dev\n---\n' >"$H/.bb/bottles/x$i.md"; done
bbv validate
if [ "$rc" = 0 ] && grep -q "601 files\|601 ok\|ok.*x600.md" "$T/out"; then ok "600 bottles load (no per-run file cap surprises)"; elif [ "$rc" = 1 ]; then ok "600 bottles: refused with a limit"; else fail "600 bottles" "exit $rc $(tail -n 2 "$T/out")"; fi
clean
