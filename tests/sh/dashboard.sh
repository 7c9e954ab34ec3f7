# dashboard.sh - `bb bottle dashboard` driven under tmux: bottles, live events, approve/reject, errors, exits, terminal state.
. "$(dirname "$0")/lib.sh"

export BB_HOME="$T/home"
ST="$BB_HOME/.bb/state"
DEV=dev-a1b2c3
WEB=web-d4e5f6

# meta SLUG AGENT STARTED STATUS PID: a bottle's meta.json as bb bottle start writes it (in the host's own
# record, with the identity of its host process PID), and its state directory.
meta() {
	local start=0
	mkdir -p "$ST/$1/supervise" "$BB_HOME/.bb/host/$1"
	[ "$4" = running ] && start=$(sed 's/.*) //' "/proc/$5/stat" | cut -d' ' -f20)
	printf '{"slug":"%s","identity":"%s","agent":"%s","cwd":"/work/%s","copy_cwd":false,"started_at":"%s","backend":"embedded","bare":false,"command":"start","status":"%s","host_pid":%s,"host_start":%s,"boot_id":"%s","exit_code":%s}\n' \
		"$1" "$1" "$2" "$2" "$3" "$4" "$5" "$start" "$(cat /proc/sys/kernel/random/boot_id)" \
		"$([ "$4" = running ] && echo -1 || echo 0)" >"$BB_HOME/.bb/host/$1/meta.json"
}

# egress_line HOST METHOD PATH VERDICT STATUS REASON: one audit line as egress logs it.
egress_line() {
	printf '{"ts":"%s","level":"%s","prog":"egress","event":"request","conn":"7","host":"%s","method":"%s","path":"%s","route":"","verdict":"%s","rule":"","reason":"%s","status":"%s","bytes_up":"0","bytes_down":"0","ms":"3"}\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$([ "$4" = allow ] && echo info || echo warn)" "$1" "$2" "$3" "$4" "$6" "$5"
}

# proposal DIR ID TOOL REQUEST: a pending proposal written the way supervise writes it (whole, then renamed in).
proposal() {
	printf '{"schema":"bb.proposal/1","id":"%s","bottle":"dev","tool":"%s","created":"%s","status":"pending","request":%s}\n' \
		"$2" "$3" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$4" >"$1/.tmp-$2"
	chmod 600 "$1/.tmp-$2"
	mv "$1/.tmp-$2" "$1/$2.json"
}

sleep 600 &
ALIVE=$!
on_exit "kill $ALIVE"
meta "$DEV" dev 2026-01-02T03:04:05Z running "$ALIVE"
meta "$WEB" web 2026-01-02T04:00:00Z stopped 0
egress_line api.example.com GET /v1/models allow 200 "" >"$ST/$DEV/egress.log"
printf '{"ts":"%s","level":"warn","prog":"dns","event":"query","proto":"udp","client":"10.0.0.2","name":"exfil.example","type":"TXT","verdict":"deny","reason":"not in policy","rule":"","rcode":"NXDOMAIN"}\n' \
	"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" >"$ST/$DEV/dns.log"
egress_line web-only.example GET / allow 200 "" >"$ST/$WEB/egress.log"

# --- without a terminal -------------------------------------------------------------------

out=$("$BB" bottle dashboard --help 2>&1) && [[ "$out" == *"usage: bb bottle dashboard"* ]] && ok help || fail help "$out"

out=$("$BB" bottle dashboard --once --width 100 --height 30 2>&1)
if [[ "$out" == *"$DEV"*"$WEB"* && "$out" == *"ALLOW GET api.example.com/v1/models -> 200"* &&
	"$out" == *"DENY  exfil.example TXT NXDOMAIN  not in policy"* && "$out" != *$'\e'* ]]; then
	ok once_frame
else
	fail once_frame "$out"
fi
[ "$(printf '%s\n' "$out" | wc -l)" -le 30 ] && ok once_fits_height || fail once_fits_height "$(printf '%s\n' "$out" | wc -l) rows"

out=$("$BB" bottle dashboard --once "$WEB" 2>&1)
[[ "$out" == *"> $WEB"* && "$out" == *web-only.example* && "$out" != *api.example.com* ]] && ok once_select ||
	fail once_select "$out"

out=$("$BB" bottle dashboard --once nosuch-000000 2>&1)
rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"no bottle 'nosuch-000000'"* ]] && ok once_unknown_bottle || fail once_unknown_bottle "rc=$rc $out"

out=$("$BB" bottle dashboard </dev/null 2>&1)
rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"needs a terminal"* ]] && ok needs_terminal || fail needs_terminal "rc=$rc $out"

out=$(BB_HOME="$T/empty" "$BB" bottle dashboard --once 2>&1)
[[ "$out" == *"no bottles"* ]] && ok once_no_bottles || fail once_no_bottles "$out"

# --- under tmux -----------------------------------------------------------------------------

if ! command -v tmux >/dev/null 2>&1; then
	skip tmux "tmux is not installed (scripts/setup.sh test installs it)"
	exit 0
fi
TS=(tmux -L "bb-dash-$$" -f /dev/null)
on_exit "${TS[*]} kill-server"

# The pane runs this: the terminal's settings before and after, and the exit status.
cat >"$T/pane.sh" <<'EOF'
name=$1; shift
stty -g >"$T/$name.before"
"$@"
echo $? >"$T/$name.rc"
stty -g >"$T/$name.after"
exec sleep 600
EOF

# start NAME [ENV=V...]: a dashboard in a detached 120x32 session.
start() {
	local name=$1; shift
	"${TS[@]}" new-session -d -s "$name" -x 120 -y 32 \
		"T=$T bash $T/pane.sh $name env BB_HOME=$BB_HOME $* $BB bottle dashboard" || return 1
}
screen() { "${TS[@]}" capture-pane -p -t "$1" "${@:2}"; }
# wait_for NAME TEXT [SECONDS]: until the pane shows TEXT.
wait_for() {
	local i
	for ((i = 0; i < ${3:-5} * 10; i++)); do
		screen "$1" | grep -qF -- "$2" && return 0
		sleep 0.1
	done
	return 1
}
wait_rc() {
	local i
	for ((i = 0; i < 50; i++)); do [ -s "$T/$1.rc" ] && return 0; sleep 0.1; done
	return 1
}
dash_pid() { pgrep -P "$("${TS[@]}" display -p -t "$1" '#{pane_pid}')" -x bb | head -n 1; }
[ "$(basename "$BB")" = bb ] || { skip tmux "the binary under test is not named bb: $BB"; exit 0; }
# restored NAME: the terminal's settings, screen and cursor as before the dashboard.
restored() {
	[ -s "$T/$1.before" ] && cmp -s "$T/$1.before" "$T/$1.after" &&
		[ "$("${TS[@]}" display -p -t "$1" '#{alternate_on}#{cursor_flag}')" = 01 ]
}

start main
if wait_for main "$DEV" && wait_for main "api.example.com/v1/models" && screen main | grep -q "> $DEV"; then
	ok tmux_shows_bottles
else
	fail tmux_shows_bottles "$(screen main)"
fi
screen main | grep -qF "$WEB" && screen main | grep -q "stopped" && ok tmux_both_bottles || fail tmux_both_bottles "$(screen main)"

egress_line upload.example POST /put deny 403 "host is not in the policy" >>"$ST/$DEV/egress.log"
wait_for main "DENY  POST upload.example/put -> 403  host is not in the policy" 3 && ok live_event ||
	fail live_event "$(screen main)"

# A logged host that carries terminal escapes is shown inert.
printf '{"ts":"%s","level":"warn","prog":"egress","event":"request","host":"x\\u001b]0;pwned\\u0007\\u001b[2Jy","method":"GET","path":"/","verdict":"deny","reason":"","status":"403"}\n' \
	"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" >>"$ST/$DEV/egress.log"
wait_for main "x?]0;pwned??[2Jy" 3 && [ "$("${TS[@]}" display -p -t main '#{pane_title}')" != pwned ] &&
	ok escapes_neutralised || fail escapes_neutralised "$(screen main | grep pwned)"

proposal "$ST/$DEV/supervise" aaaa0001 egress-block '{"host":"pypi.org","methods":["GET"],"paths":[],"reason":"pip install"}'
if wait_for main "aaaa0001  egress-block" 3 && screen main | grep -q "1 pending" && screen main | grep -q "reason: pip install"; then
	ok proposal_appears
else
	fail proposal_appears "$(screen main)"
fi
"${TS[@]}" send-keys -t main a
wait_for main "approved aaaa0001" 3 &&
	"$BB" bottle proposals --all --dir "$ST/$DEV/supervise" | grep -q "^aaaa0001 .* approved " && ok approve_key ||
	fail approve_key "$(screen main | tail -n 2) / $("$BB" bottle proposals --all --dir "$ST/$DEV/supervise" 2>&1)"

proposal "$ST/$DEV/supervise" bbbb0002 egress-block '{"host":"evil.example","methods":["POST"],"paths":[],"reason":"upload"}'
wait_for main "bbbb0002" 3
"${TS[@]}" send-keys -t main r
"${TS[@]}" send-keys -t main -l "not this one"
sleep 0.2
"${TS[@]}" send-keys -t main Escape
sleep 0.3
"$BB" bottle proposals --dir "$ST/$DEV/supervise" | grep -q "^bbbb0002 .* pending " && screen main | grep -q cancelled &&
	ok reject_escape_cancels || fail reject_escape_cancels "$(screen main | tail -n 1)"

"${TS[@]}" send-keys -t main r
"${TS[@]}" send-keys -t main -l "no uploads, é"
wait_for main "reject bbbb0002, note: no uploads, é" 2 || fail note_field "$(screen main | tail -n 1)"
"${TS[@]}" send-keys -t main BSpace Enter
if wait_for main "rejected bbbb0002" 3 &&
	"$BB" bottle proposals --all --json --dir "$ST/$DEV/supervise" | grep -q '"id":"bbbb0002".*"status":"rejected".*"note":"no uploads, "'; then
	ok reject_with_note
else
	fail reject_with_note "$("$BB" bottle proposals --all --json --dir "$ST/$DEV/supervise" 2>&1)"
fi

# A question is answered: a asks for the note.
proposal "$ST/$DEV/supervise" cccc0003 ask-operator '{"question":"may I delete build/?"}'
wait_for main "question: may I delete build/?" 3
"${TS[@]}" send-keys -t main a
"${TS[@]}" send-keys -t main -l "yes"
"${TS[@]}" send-keys -t main Enter
wait_for main "approved cccc0003" 3 && grep -q '"note":"yes"' "$ST/$DEV/supervise/cccc0003.json" && ok answer_question ||
	fail answer_question "$(cat "$ST/$DEV/supervise/cccc0003.json")"

# A capability asks what it changes; for a queue no running bottle of this bb owns, the approval is refused.
proposal "$ST/$DEV/supervise" dddd0004 capability-block '{"capability":"the build tools","reason":"make"}'
mkdir -p "$T/cap"
wait_for main "dddd0004" 3
"${TS[@]}" send-keys -t main a
wait_for main "approve dddd0004, at next resume (image=NAME mount=PATH):" 2 && ok capability_prompt ||
	fail capability_prompt "$(screen main | tail -n 1)"
"${TS[@]}" send-keys -t main -l "mount=$T/cap"
"${TS[@]}" send-keys -t main Enter
wait_for main "is not the queue of a bottle this bb runs" 3 &&
	"$BB" bottle proposals --dir "$ST/$DEV/supervise" | grep -q "^dddd0004 .* pending " && ok capability_needs_bottle ||
	fail capability_needs_bottle "$(screen main | tail -n 2)"
# The bottle's host record (as bb bottle start leaves it): recorded for the next resume, and said so.
echo '{}' >"$BB_HOME/.bb/host/$DEV/dialer.json"
"${TS[@]}" send-keys -t main a
"${TS[@]}" send-keys -t main -l "image=nosuchimage"
"${TS[@]}" send-keys -t main Enter
wait_for main "nosuchimage" 3
"${TS[@]}" send-keys -t main a
"${TS[@]}" send-keys -t main -l "mount=$T/cap"
"${TS[@]}" send-keys -t main Enter
if wait_for main "approved dddd0004" 3 && grep -q "\"$T/cap\"" "$BB_HOME/.bb/host/$DEV/approvals.json" &&
	grep -q '"detail":"recorded for bottle .*takes effect when the operator stops and resumes it' "$ST/$DEV/supervise/dddd0004.json"; then
	ok capability_recorded
else
	fail capability_recorded "$(screen main | tail -n 2); $(cat "$BB_HOME/.bb/host/$DEV/approvals.json" 2>&1)"
fi

# Down selects the next bottle: its events, not the first one's.
"${TS[@]}" send-keys -t main Down
wait_for main "> $WEB" 3 && wait_for main "web-only.example" 3 && ! screen main | grep -q "upload.example" && ok select_bottle ||
	fail select_bottle "$(screen main)"
"${TS[@]}" send-keys -t main '?'
wait_for main "Press any key to go back" 2 && ok help_key || fail help_key "$(screen main)"
"${TS[@]}" send-keys -t main x

# Idle, it waits in epoll: a few ticks cost next to no CPU.
pid=$(dash_pid main)
if [ -n "$pid" ]; then
	t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	sleep 3
	t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	[ $((t1 - t0)) -le 30 ] && ok no_busy_loop || fail no_busy_loop "$((t1 - t0)) ticks of CPU in 3 s"
else
	fail no_busy_loop "no dashboard process under the pane"
fi

# SIGWINCH: a smaller window gets a frame of its size.
"${TS[@]}" resize-window -t main -x 70 -y 20
sleep 0.5
if [ "$(screen main | wc -l)" -eq 20 ] && screen main | sed -n 20p | grep -q "^up/down select" &&
	[ "$(screen main | awk '{ if (length($0) > m) m = length($0) } END { print m }')" -le 70 ]; then
	ok resize
else
	fail resize "$(screen main)"
fi

"${TS[@]}" send-keys -t main C-c
wait_rc main && [ "$(cat "$T/main.rc")" = 130 ] && ok ctrl_c_130 || fail ctrl_c_130 "rc=$(cat "$T/main.rc" 2>/dev/null)"
restored main && ok ctrl_c_restores_terminal ||
	fail ctrl_c_restores_terminal "$(cat "$T/main.before" "$T/main.after" 2>&1) $("${TS[@]}" display -p -t main '#{alternate_on}#{cursor_flag}')"

start quit
wait_for quit "$DEV"
"${TS[@]}" send-keys -t quit q
wait_rc quit && [ "$(cat "$T/quit.rc")" = 0 ] && restored quit && ok q_exits_0 || fail q_exits_0 "rc=$(cat "$T/quit.rc" 2>/dev/null)"

start term
wait_for term "$DEV"
kill -TERM "$(dash_pid term)"
wait_rc term && [ "$(cat "$T/term.rc")" = 143 ] && restored term && ok sigterm_143 || fail sigterm_143 "rc=$(cat "$T/term.rc" 2>/dev/null)"

# Colour by default; NO_COLOR: not one SGR sequence on the screen.
start colour
wait_for colour "$DEV"
screen colour -e | grep -q $'\e\\[[0-9;]*m' && ok colour_default || fail colour_default "no SGR in the pane"
start nocolor NO_COLOR=1
wait_for nocolor "$DEV"
! screen nocolor -e | grep -q $'\e\\[[0-9;]*m' && screen nocolor | grep -q "> $DEV" && ok no_color ||
	fail no_color "$(screen nocolor -e | grep -a $'\e' | head -n 3 | cat -v)"

# A broken manifest is shown, not fatal.
mkdir -p "$BB_HOME/.bb/agents"
printf -- '---\nprovider: claude\nno_such_key: 1\n---\n' >"$BB_HOME/.bb/agents/broken.md"
start broken
if wait_for broken "config error: " 3 && screen broken | grep -q "broken.md" && screen broken | grep -q "> $DEV"; then
	ok broken_manifest_shown
else
	fail broken_manifest_shown "$(screen broken | head -n 3)"
fi
"${TS[@]}" send-keys -t broken q
wait_rc broken && [ "$(cat "$T/broken.rc")" = 0 ] && ok broken_manifest_quits || fail broken_manifest_quits "rc=$(cat "$T/broken.rc" 2>/dev/null)"

# A crash (SIGSEGV) restores the terminal and leaves a crash log under the state dir.
start crash
wait_for crash "$DEV"
kill -SEGV "$(dash_pid crash)"
if wait_rc crash && [ "$(cat "$T/crash.rc")" = 139 ] && grep -q "signal 11 (SIGSEGV)" "$ST/dashboard-crash.log" &&
	grep -q "=== dashboard crash " "$ST/dashboard-crash.log"; then
	ok crash_log
else
	fail crash_log "rc=$(cat "$T/crash.rc" 2>/dev/null) $(cat "$ST/dashboard-crash.log" 2>&1)"
fi
restored crash && screen crash | grep -q "details in $ST/dashboard-crash.log" && ok crash_restores_terminal ||
	fail crash_restores_terminal "$(screen crash | tail -n 5)"
start abort
wait_for abort "$DEV"
kill -ABRT "$(dash_pid abort)"
wait_rc abort && [ "$(cat "$T/abort.rc")" = 134 ] && grep -q "signal 6 (SIGABRT)" "$ST/dashboard-crash.log" && restored abort &&
	ok abort_crash_log || fail abort_crash_log "rc=$(cat "$T/abort.rc" 2>/dev/null)"
# The crash log is not a bottle.
"$BB" bottle dashboard --once | grep -q "Bottles (2)" && ok crash_log_not_a_bottle || fail crash_log_not_a_bottle "$("$BB" bottle dashboard --once | head -n 3)"

# An internal error: a window so large its frame passes the 4 MiB cap. Exit 111, a crash log, the terminal back.
"${TS[@]}" new-session -d -s huge -x 2100 -y 2100 "T=$T bash $T/pane.sh huge env BB_HOME=$BB_HOME $BB bottle dashboard 2>$T/huge.err"
if wait_rc huge && [ "$(cat "$T/huge.rc")" = 111 ] && grep -q "internal error: drawing the screen: buffer limit" "$ST/dashboard-crash.log" &&
	grep -q "details in $ST/dashboard-crash.log" "$T/huge.err" && restored huge; then
	ok internal_error_crash_log
else
	fail internal_error_crash_log "rc=$(cat "$T/huge.rc" 2>/dev/null) $(cat "$T/huge.err" 2>/dev/null)"
fi
