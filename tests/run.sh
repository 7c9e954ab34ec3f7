#!/usr/bin/env bash
# run.sh - runs the C unit tests and the shell tests; ends with "N passed, N failed[, N skipped]".
# Env: BB (the binary under test), UNIT_DIR (built unit tests), MODE (musl|asan).
# Optional arguments: test names (unit program or shell script basename) to run only those.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${BB:?}" "${UNIT_DIR:?}"
export BB MODE="${MODE:-musl}"
pass=0 failn=0 skipn=0
only=" $* "
# Every failure with its diagnostics, printed again just above the closing count, so a log's tail
# (all a CI report keeps) names what failed.
fails=$(mktemp)
trap 'rm -f "$fails"' EXIT

want() { [ "$only" = "  " ] || [[ "$only" == *" $1 "* ]]; }

# count NAME CMD...: run one test program, echo its lines, tally them.
count() {
	local name=$1 out rc n_ok n_fail n_skip; shift
	out=$(mktemp)
	"$@" >"$out" 2>&1
	rc=$?
	n_ok=$(grep -c '^ok - ' "$out")
	n_fail=$(grep -c '^not ok - ' "$out")
	n_skip=$(grep -c '^skip - ' "$out")
	sed "s/^/[$name] /" "$out" | grep -E '^\[[^]]*\] (ok|not ok|skip|#) ' || true
	[ "$n_fail" -eq 0 ] || sed "s/^/[$name] /" "$out" | grep -E -A6 '^\[[^]]*\] not ok ' >>"$fails"
	if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
		{ echo "[$name] not ok - $name exited $rc without reporting a failure:"
		  tail -n 15 "$out" | sed "s/^/[$name] #   /"; } | tee -a "$fails"
		n_fail=1
	fi
	if [ $((n_ok + n_fail + n_skip)) -eq 0 ]; then
		echo "[$name] not ok - $name reported no test" | tee -a "$fails"
		n_fail=1
	fi
	rm -f "$out"
	pass=$((pass + n_ok)); failn=$((failn + n_fail)); skipn=$((skipn + n_skip))
}

for t in "$UNIT_DIR"/test_*; do
	[ -x "$t" ] || continue
	want "$(basename "$t")" || continue
	count "$(basename "$t")" "$t"
done
for t in "$here"/sh/*.sh; do
	[ "$(basename "$t")" = lib.sh ] && continue
	want "$(basename "$t" .sh)" || continue
	count "$(basename "$t" .sh)" bash "$t"
done
# The attack suite: one file per technique, each sourcing ../sh/lib.sh.
for t in "$here"/attacks/*.sh; do
	[ -e "$t" ] || continue
	want "attack_$(basename "$t" .sh)" || continue
	count "attack_$(basename "$t" .sh)" bash "$t"
done

if [ -s "$fails" ]; then
	echo "# failures:"
	grep -E '^\[[^]]*\] (not ok|#)' "$fails" | head -n 60
fi
if [ "$skipn" -gt 0 ]; then
	echo "$pass passed, $failn failed, $skipn skipped"
else
	echo "$pass passed, $failn failed"
fi
[ "$failn" -eq 0 ]
