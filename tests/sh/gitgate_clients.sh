# gitgate_clients.sh - git clients as agents use them, through bb git-gate (git://) and bb git-http: protocol v2 and v0, shallow and partial clones, compared object for object with git daemon serving the same upstream.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/gitsshd.inc"

cases=(
	"v2 over git://: the gate answers version 2 with ls-refs and fetch=shallow filter; ls-remote lists what git daemon lists"
	"v2 over HTTP: info/refs answers version 2 (no service line); ls-remote lists what git daemon lists"
	"v2 clone over git:// and HTTP: the same refs and objects as git daemon's, fsck clean"
	"v0 clone and fetch (protocol.version=0) over git:// and HTTP still work"
	"--depth 1 clone over git://, HTTP v2 and HTTP v0: the same shallow boundary and objects as git daemon's"
	"--deepen 2 then --depth 6 fetches into a shallow clone: the same boundary and objects as git daemon's"
	"--shallow-since and --shallow-exclude clones: the same boundary as git daemon's"
	"--unshallow completes a shallow clone (fsck clean, full history)"
	"a shallow clone fetches upstream's new commits (the mirror refreshed first) and stays shallow"
	"--filter=blob:none, blob:limit=1k, tree:0 and combine clones (--no-checkout): the same objects as git daemon's"
	"a partial clone checks out and runs git log -p: missing blobs are fetched lazily through the gate"
	"a filter the gate does not support (sparse:oid) is refused with a clear error"
	"a clone of a mirror in several packs is complete, its entries reused as they are"
	"an incremental fetch reuses deltas against what the client has (thin pack), fsck clean"
	"upstream down: a v2 clone (git:// and HTTP) and a v0 clone fail closed with the reason"
	"upstream down: a lazy fetch of a missing blob fails closed with the reason"
)
gitsshd_start cases
out() { tail -n 6 "$1" | tr '\n' ' '; }
up() { git --git-dir="$T/up.git" "$@"; }

# Upstream: 12 commits a day apart on main (a growing text file: deltas; files two directories deep:
# tree filters), an annotated tag, a side branch, and a 3 KB blob (blob:limit).
base=1700000000
git init -q --bare -b main "$T/up.git" && git init -q -b main "$T/seed" &&
	(
		cd "$T/seed" && mkdir -p a/b &&
		for i in $(seq 1 12); do
			seq 1 $((i * 400)) | sed "s/^/line $i /" >a/b/big.txt
			echo "$i" >"top$((i % 3)).txt"
			[ "$i" = 4 ] && head -c 3000 /dev/zero | tr '\0' x >a/large.txt
			git add -A && GIT_COMMITTER_DATE="@$((base + i * 86400)) +0000" GIT_AUTHOR_DATE="@$((base + i * 86400)) +0000" \
				git commit -qm "commit $i"
			[ "$i" = 5 ] && git tag -a -m "release one" v1
			[ "$i" = 8 ] && git branch side
		done
		git checkout -q side && echo s >s.txt && git add s.txt && git commit -qm "side 1" && git checkout -q main
		git push -q "$T/up.git" main side v1
	) >"$T/setup.log" 2>&1 || fail_all cases "setting up the upstream: $(tail -n 3 "$T/setup.log")"
up config uploadpack.allowFilter true && up config uploadpack.allowAnySHA1InWant true

write_plan "$T/plan.json" "$HOSTKEY_PUB" app="$T/up.git"
GA=$(test_addr)
GP=$(free_port "$GA") || fail_all cases "no free port"
start_gate gate --policy "$T/plan.json" --mirrors "$T/mirrors" --listen "$GA:$GP"
HP=$(free_port "$GA")
"$BB" git-http --policy "$T/plan.json" --mirrors "$T/mirrors" --listen "$GA:$HP" --log "$T/http.log" 2>>"$T/http.err" &
on_exit kill_tree $!
DP=$(free_port "$GA")
git daemon --reuseaddr --listen="$GA" --port="$DP" --base-path="$T" --export-all "$T" >"$T/daemon.log" 2>&1 &
on_exit kill_tree $!
for p in "$GP" "$HP" "$DP"; do wait_port "$GA" "$p" 10 || fail_all cases "a server did not listen on $p: $(tail -n 3 "$T"/*.err)"; done
GIT="git://$GA:$GP/app.git" HTTP="http://$GA:$HP/app.git" DAEMON="git://$GA:$DP/up.git"

# state DIR: what a clone holds (refs, shallow boundary, every object present) and whether fsck passes.
state() {
	git -C "$1" for-each-ref --format='%(objectname) %(refname)'
	echo "shallow:"
	sort "$1/.git/shallow" 2>/dev/null
	echo "objects:"
	git -C "$1" cat-file --batch-all-objects --batch-check='%(objectname) %(objecttype)' | sort
	git -C "$1" fsck --no-progress --connectivity-only >/dev/null 2>&1 && echo "fsck ok" || echo "fsck FAILED"
}
# same NAME URL DAEMON-DIR: the clone in $T/NAME matches the daemon's in DAEMON-DIR (why in $why).
same() {
	state "$T/$1" >"$T/$1.state" 2>&1
	if cmp -s "$T/$1.state" "$T/$2.state"; then return 0; fi
	why="$why [$1 differs from git daemon's: $(diff "$T/$2.state" "$T/$1.state" | head -n 6 | tr '\n' ' ')]"
	return 1
}
# clone_both NAME ARGS...: git clone ARGS from the daemon (NAME.d) and over git:// (NAME.g), HTTP v2 (NAME.h), HTTP v0 (NAME.h0).
clone_both() {
	local n=$1 rc=0
	shift
	rm -rf "$T/$n".*
	git clone -q "$@" "$DAEMON" "$T/$n.d" >"$T/$n.o" 2>&1 || { why="$why [daemon clone $*: $(out "$T/$n.o")]"; return 1; }
	state "$T/$n.d" >"$T/$n.d.state" 2>&1
	git clone -q "$@" "$GIT" "$T/$n.g" >"$T/$n.o" 2>&1 || { why="$why [git:// clone $*: $(out "$T/$n.o")]"; rc=1; }
	git clone -q "$@" "$HTTP" "$T/$n.h" >"$T/$n.o" 2>&1 || { why="$why [http clone $*: $(out "$T/$n.o")]"; rc=1; }
	git -c protocol.version=0 clone -q "$@" "$HTTP" "$T/$n.h0" >"$T/$n.o" 2>&1 ||
		{ why="$why [http v0 clone $*: $(out "$T/$n.o")]"; rc=1; }
	[ "$rc" = 0 ] || return 1
	# The remote URL differs; nothing else may.
	same "$n.g" "$n.d" && same "$n.h" "$n.d" && same "$n.h0" "$n.d"
}

# 1. v2 over git://
why=
GIT_TRACE_PACKET=1 git ls-remote "$GIT" >"$T/ls.g" 2>"$T/ls.trace"
git ls-remote "$DAEMON" >"$T/ls.d" 2>&1
if grep -q "< version 2" "$T/ls.trace" && grep -q "< fetch=shallow wait-for-done filter" "$T/ls.trace" &&
	grep -q "> command=ls-refs" "$T/ls.trace" && cmp -s "$T/ls.g" "$T/ls.d"; then
	ok "${cases[0]}"
else
	fail "${cases[0]}" "$(grep '<' "$T/ls.trace" | head -n 5 | tr '\n' ' ') | $(diff "$T/ls.d" "$T/ls.g" | head -n 4 | tr '\n' ' ')"
fi

# 2. v2 over HTTP: the advertisement, then ls-refs as a POST
GIT_TRACE_PACKET=1 GIT_TRACE_CURL=1 GIT_TRACE_CURL_NO_DATA=1 git ls-remote "$HTTP" >"$T/ls.h" 2>"$T/ls.htrace"
if grep -q "Send header: Git-Protocol: version=2" "$T/ls.htrace" && grep -q "< version 2" "$T/ls.htrace" &&
	! grep -q "< # service=" "$T/ls.htrace" && grep -q "> command=ls-refs" "$T/ls.htrace" && cmp -s "$T/ls.h" "$T/ls.d"; then
	ok "${cases[1]}"
else
	fail "${cases[1]}" "$(grep '<' "$T/ls.htrace" | grep -v 'Recv header' | head -n 5 | tr '\n' ' ') | $(diff "$T/ls.d" "$T/ls.h" | head -n 4 | tr '\n' ' ')"
fi

# 3. full clones, v2
why=
if clone_both full && grep -q '"event":"fetch",.*"protocol":"v2"' "$T/gate.log"; then
	ok "${cases[2]}"
else
	fail "${cases[2]}" "$why"
fi

# 4. v0, clone then fetch after upstream moved
why=
v0ok=1
for u in "$GIT" "$HTTP"; do
	rm -rf "$T/v0"
	git -c protocol.version=0 clone -q "$u" "$T/v0" >"$T/o" 2>&1 || { v0ok=0; why="$why [$u clone: $(out "$T/o")]"; }
done
(cd "$T/seed" && echo v0 >>top1.txt && git commit -qam "for v0" && git push -q "$T/up.git" main) >/dev/null 2>&1
git -C "$T/v0" -c protocol.version=0 fetch -q origin >"$T/o" 2>&1 || { v0ok=0; why="$why [fetch: $(out "$T/o")]"; }
if [ "$v0ok" = 1 ] && [ "$(git -C "$T/v0" rev-parse origin/main)" = "$(up rev-parse main)" ] &&
	git -C "$T/v0" fsck --no-progress >/dev/null 2>&1 && grep -q '"event":"fetch",.*"protocol":"v0"' "$T/http.log"; then
	ok "${cases[3]}"
else
	fail "${cases[3]}" "$why"
fi

# 5. --depth 1
why=
if clone_both d1 --depth 1 && [ "$(git -C "$T/d1.g" rev-list --count HEAD)" = 1 ] &&
	[ "$(git -C "$T/d1.g" rev-parse --is-shallow-repository)" = true ]; then
	ok "${cases[4]}"
else
	fail "${cases[4]}" "$why"
fi

# 6. deepen a shallow clone (each client on its own server), then a fetch with a new depth
why=
deep_ok=1
for n in d1.d d1.g d1.h d1.h0; do
	v=()
	[ "$n" = d1.h0 ] && v=(-c protocol.version=0)
	git -C "$T/$n" "${v[@]}" fetch -q --deepen 2 >"$T/o" 2>&1 || { deep_ok=0; why="$why [$n --deepen: $(out "$T/o")]"; }
done
[ "$deep_ok" = 1 ] && state "$T/d1.d" >"$T/d1.d.state" 2>&1 && same d1.g d1.d && same d1.h d1.d && same d1.h0 d1.d || deep_ok=0
for n in d1.d d1.g d1.h d1.h0; do
	v=()
	[ "$n" = d1.h0 ] && v=(-c protocol.version=0)
	git -C "$T/$n" "${v[@]}" fetch -q --depth 6 >"$T/o" 2>&1 || { deep_ok=0; why="$why [$n --depth 6: $(out "$T/o")]"; }
done
[ "$deep_ok" = 1 ] && state "$T/d1.d" >"$T/d1.d.state" 2>&1 && same d1.g d1.d && same d1.h d1.d && same d1.h0 d1.d || deep_ok=0
if [ "$deep_ok" = 1 ] && [ "$(git -C "$T/d1.g" rev-list --count HEAD)" = 6 ]; then
	ok "${cases[5]}"
else
	fail "${cases[5]}" "$why"
fi

# 7. cut by date and by ref
why=
if clone_both since --shallow-since="@$((base + 9 * 86400 - 3600))" && clone_both excl --shallow-exclude=v1 &&
	[ "$(git -C "$T/since.g" rev-list --count HEAD)" = 5 ]; then
	ok "${cases[6]}"
else
	fail "${cases[6]}" "$why"
fi

# 8. unshallow
why=
if git -C "$T/d1.g" fetch -q --unshallow >"$T/o" 2>&1 && [ "$(git -C "$T/d1.g" rev-parse --is-shallow-repository)" = false ] &&
	[ "$(git -C "$T/d1.g" rev-list --count origin/main)" = "$(up rev-list --count main)" ] &&
	git -C "$T/d1.g" fsck --no-progress >"$T/o" 2>&1; then
	ok "${cases[7]}"
else
	fail "${cases[7]}" "$(out "$T/o")"
fi

# 9. a shallow clone fetching new upstream commits
(cd "$T/seed" && echo more >>top2.txt && git commit -qam "after the shallow clone" && git push -q "$T/up.git" main) >/dev/null 2>&1
if git -C "$T/d1.h" fetch -q origin >"$T/o" 2>&1 && [ "$(git -C "$T/d1.h" rev-parse origin/main)" = "$(up rev-parse main)" ] &&
	[ "$(git -C "$T/d1.h" rev-parse --is-shallow-repository)" = true ] &&
	git -C "$T/d1.h" fsck --no-progress --connectivity-only >>"$T/o" 2>&1; then
	ok "${cases[8]}"
else
	fail "${cases[8]}" "$(out "$T/o")"
fi

# 10. filters, compared with git daemon (no checkout: the objects are exactly what the server sent)
why=
f_ok=1
for spec in blob:none blob:limit=1k tree:0 tree:2 "combine:blob:none+tree:3"; do
	clone_both "f$(printf '%s' "$spec" | tr -c 'a-z0-9' _)" --no-checkout --filter="$spec" || f_ok=0
done
if [ "$f_ok" = 1 ] && ! git -C "$T/fblob_none.g" cat-file --batch-all-objects --batch-check='%(objecttype)' | grep -q blob; then
	ok "${cases[9]}"
else
	fail "${cases[9]}" "$why"
fi

# 11. a partial clone at work: checkout, then log -p over old commits (both fetch blobs on demand)
rm -rf "$T/pc"
if git clone -q --filter=blob:none "$GIT" "$T/pc" >"$T/o" 2>&1 && [ "$(cat "$T/pc/a/b/big.txt" | wc -l)" -gt 0 ] &&
	before=$(git -C "$T/pc" cat-file --batch-all-objects --batch-check='%(objecttype)' | grep -c blob) &&
	git -C "$T/pc" log -p --format=%H origin/main >"$T/pc.log" 2>>"$T/o" &&
	after=$(git -C "$T/pc" cat-file --batch-all-objects --batch-check='%(objecttype)' | grep -c blob) &&
	[ "$after" -gt "$before" ] && grep -q "line 3 1" "$T/pc.log" &&
	[ "$(git -C "$T/pc" config remote.origin.promisor)" = true ]; then
	ok "${cases[10]}"
else
	fail "${cases[10]}" "blobs ${before:-?} -> ${after:-?}: $(out "$T/o")"
fi

# 12. sparse:oid
rm -rf "$T/sp"
if ! git clone -q --no-checkout --filter=sparse:oid=main:top1.txt "$GIT" "$T/sp" >"$T/o" 2>&1 &&
	grep -q "filter 'sparse:oid' not supported by this gate" "$T/o"; then
	ok "${cases[11]}"
else
	fail "${cases[11]}" "$(out "$T/o")"
fi

# 13. the mirror now holds several packs (the first refresh, and one per later refresh): a fresh clone
npacks=$(ls "$T/mirrors/app.git/objects/pack/"*.pack 2>/dev/null | wc -l)
rm -rf "$T/many" "$T/many.d"
if [ "$npacks" -gt 1 ] && git clone -q "$GIT" "$T/many" >"$T/o" 2>&1 && git clone -q "$DAEMON" "$T/many.d" >>"$T/o" 2>&1 &&
	state "$T/many.d" >"$T/many.d.state" 2>&1 && same many many.d &&
	grep '"event":"fetch"' "$T/gate.log" | tail -n 1 | grep -q '"compressed":"0"'; then
	ok "${cases[12]}"
else
	fail "${cases[12]}" "$npacks packs; $why $(out "$T/o") $(grep '"fetch"' "$T/gate.log" | tail -n 1)"
fi

# 14. an incremental fetch: upstream changes the big file a little; the delta goes against the client's copy
(cd "$T/seed" && sed -i 's/^line 12 7$/line 12 seven/' a/b/big.txt && git commit -qam "small change" &&
	git push -q "$T/up.git" main) >/dev/null 2>&1
if git -C "$T/many" fetch -q origin >"$T/o" 2>&1 && git -C "$T/many" fsck --no-progress >>"$T/o" 2>&1 &&
	[ "$(git -C "$T/many" rev-parse origin/main)" = "$(up rev-parse main)" ] &&
	grep '"event":"fetch"' "$T/gate.log" | tail -n 1 | grep -q '"reused_deltas":"[1-9]'; then
	ok "${cases[13]}"
else
	fail "${cases[13]}" "$(out "$T/o") $(grep '"fetch"' "$T/gate.log" | tail -n 1)"
fi

# 15/16. upstream down
gitsshd_stop
down_ok=1 why=
for c in "git clone -q $GIT" "git clone -q $HTTP" "git -c protocol.version=0 clone -q $GIT"; do
	rm -rf "$T/down"
	if $c "$T/down" >"$T/o" 2>&1 || ! grep -q "cannot refresh 'app' from upstream, refusing to serve a stale copy (fail closed)" "$T/o"; then
		down_ok=0 why="$why [$c: $(out "$T/o")]"
	fi
done
if [ "$down_ok" = 1 ]; then ok "${cases[14]}"; else fail "${cases[14]}" "$why"; fi
# side's own file: never checked out nor in main's log, so not fetched yet.
old=$(git -C "$T/pc" rev-parse origin/side:s.txt)
if ! git -C "$T/pc" cat-file -e "$old" 2>/dev/null && ! git -C "$T/pc" cat-file -p "$old" >"$T/o" 2>&1 &&
	grep -q "cannot refresh 'app' from upstream.*fail closed" "$T/o"; then
	ok "${cases[15]}"
else
	fail "${cases[15]}" "$(out "$T/o")"
fi
