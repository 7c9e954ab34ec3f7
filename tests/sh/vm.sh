#!/usr/bin/env bash
# vm.sh - bb bottle run --backend vm: the agent in a microVM; the same escape attempts as every backend, the VM's own, its lifecycle.
# Every attempt runs inside the guest. Without /dev/kvm the guest runs emulated (BB_VM_ACCEL=tcg): the same isolation, slower.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "vm" "needs root (the sidecar's namespaces, the tap)"; exit 0; }
unshare --net --mount true 2>/dev/null || { skip "vm" "namespaces are not available here"; exit 0; }
for tool in curl openssl python3 ip qemu-system-x86_64; do
	command -v $tool >/dev/null || { skip "vm" "$tool not installed (scripts/setup.sh test installs qemu-system-x86)"; exit 0; }
done
if ldd "$BB" >/dev/null 2>&1; then skip "vm" "this bb is dynamically linked (a sanitizer build): the guest's PID 1 is bb alone"; exit 0; fi
KERNEL=${BB_VM_KERNEL:-$(ls /boot/vmlinuz-* /var/cache/bb/vm-kernel/*/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}
[ -n "$KERNEL" ] || { skip "vm" "no kernel: none in /boot or /var/cache/bb/vm-kernel (scripts/setup.sh test unpacks Debian's)"; exit 0; }
export BB_VM_KERNEL=$KERNEL
# KVM when the CPU offers it (a nested guest may have /dev/kvm and no vmx/svm: its guests hang, and bb refuses).
KVM_OK=0
[ -c /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && KVM_OK=1
if [ $KVM_OK = 0 ]; then
	echo "# no usable KVM here ($([ -c /dev/kvm ] && echo "/dev/kvm without vmx/svm" || echo "no /dev/kvm")): the guest runs emulated (BB_VM_ACCEL=tcg), the same isolation, many times slower"
	export BB_VM_ACCEL=tcg
fi
export BB_MEMORY_MAX=${BB_MEMORY_MAX:-512M} # the guest's memory

. "$(dirname "$0")/escapes.inc"
escapes_setup || exit 0
on_exit "pkill -9 -f 'qemu-system.*$BB_HOME' 2>/dev/null" # only if a failed case left one

bbrun() { # run CMD in a vm-backed bottle; output in $T/out, $T/err; status returned
	(cd "$T/ws" && RUN_TEST_TOKEN=$TOKEN SSL_CERT_FILE=$T/upca.crt timeout 300 "$BB" bottle run dev --backend vm \
		--hosts "$T/hosts" --log "$T/audit.log" -- "$@") >"$T/out" 2>"$T/err" </dev/null
}
vmm_left() { pgrep -f "qemu-system-x86_64 .*microvm" >/dev/null; }

# --- what the agent may do ---
bbrun sh -c "curl -sS --max-time 20 https://api.test:$UP/v1/vm -H 'Authorization: Bearer placeholder'; echo made >in-vm.txt; echo to-err >&2; exit 7"
rc=$?
if [ "$rc" = 7 ] && grep -q '"path": "/v1/vm"' "$T/out" && grep -q "Bearer $TOKEN" "$T/up.log" && grep -q '^to-err$' "$T/err" &&
	! grep -q to-err "$T/out"; then
	ok "vm: the agent reaches an allowed route through the sidecar (token injected outside); status, stdout and stderr come back"
else
	fail "vm: allowed route" "rc $rc: $(tail -n 5 "$T/out" "$T/err")"
fi
if [ "$(cat "$T/ws/in-vm.txt" 2>/dev/null)" = made ] && [ "$(stat -c %u:%g "$T/ws/in-vm.txt")" = 65534:65534 ]; then
	ok "vm: the workspace is shared read-write; what the agent writes belongs to the workspace's owner"
else
	fail "vm: workspace" "$(ls -ln "$T/ws")"
fi
rm -f "$T/ws/in-vm.txt"
out=$(cd "$T/ws" && echo from-stdin | RUN_TEST_TOKEN=$TOKEN timeout 300 "$BB" bottle run dev --backend vm -- sh -c 'read l; echo "got $l"' 2>&1)
[ "$out" = "got from-stdin" ] && ok "vm: the agent reads the host's stdin" || fail "vm: stdin" "$out"

# --- the escape attempts every backend faces (one guest for all: a VM is slow to start emulated) ---
escapes_batch "vm: "
check_dev_minimal "vm: "
check_root_staged "vm: "

# --- the VM's own ---
MARK=/tmp/bb-vm-marker-$$
echo host-only >"$MARK" && on_exit "rm -f $MARK"
ln -s "$MARK" "$T/ws/to-host-file"
ln -s "$BB_HOME/.bb/state" "$T/ws/to-state"
bbrun sh -c "
	ip -o link 2>/dev/null | awk -F': ' '{print \"link \" \$2}'
	ls /sys/class/net | sed 's/^/net /'
	for p in 22 53 80 443 9418 2049 8080; do curl -s --noproxy '*' -m 3 -o /dev/null http://10.231.0.1:\$p/ && echo sidecar-open-\$p; done
	for a in 10.231.0.3 10.231.0.254 10.0.2.2 169.254.169.254 $A; do curl -s --noproxy '*' -m 3 -o /dev/null http://\$a:$UP/ && echo reached-\$a; done
	cat ./to-host-file 2>/dev/null && echo read-host-file
	ls ./to-state/ 2>/dev/null | grep -q . && echo read-state
	cat $MARK 2>/dev/null && echo read-marker
	ls /boot/vmlinuz-* 2>/dev/null && echo host-boot
	! mount -t 9p bbroot /mnt 2>/dev/null && ! mount -t 9p bbws /mnt 2>/dev/null && echo no-remount
	touch /in-root 2>/dev/null && echo wrote-root
	cat /sys/class/virtio-ports/*/name 2>/dev/null | sed 's/^/port /'
	ls /dev | grep -E 'vport|hvc|ttyS|vda|kvm' | sed 's/^/dev /'
	echo probes-done"
if grep -q '^probes-done$' "$T/out" && ! grep -q '^sidecar-open-\|^reached-' "$T/out" &&
	[ "$(grep '^net ' "$T/out" | sort | tr '\n' ' ')" = "net eth0 net lo " ]; then
	ok "vm: the guest's one network device reaches the sidecar's services only (no other address, the host's loopback, metadata)"
else
	fail "vm: network" "$(cat "$T/out" "$T/err" | tail -n 12)"
fi
if grep -q '^probes-done$' "$T/out" && ! grep -q '^read-\|^host-boot$\|^wrote-root$' "$T/out" && grep -q '^no-remount$' "$T/out"; then
	ok "vm: the host's files beyond the shares are out of reach (a workspace symlink to a host file, the state, /boot; no remount; / read-only)"
else
	fail "vm: files beyond the shares" "$(cat "$T/out" "$T/err" | tail -n 12)"
fi
if grep -q '^probes-done$' "$T/out" && ! grep -q '^dev ' "$T/out" && [ -z "$(grep '^port ' "$T/out" | grep -v '^port bb\.')" ]; then
	ok "vm: inside, no device reaches the VMM's controls (only bb's serial ports exist, none in the agent's /dev)"
else
	fail "vm: VMM controls (guest)" "$(grep -E '^(port|dev) ' "$T/out")"
fi
rm -f "$T/ws/to-host-file" "$T/ws/to-state"

# The VMM as it runs: no monitor or QMP, no listening socket, its network namespace empty, the agent's uid.
(cd "$T/ws" && RUN_TEST_TOKEN=$TOKEN exec "$BB" bottle run dev --backend vm -- sh -c 'echo up; sleep 600') >"$T/long.out" 2>&1 </dev/null &
LONG=$!
on_exit "kill -9 $LONG 2>/dev/null"
qpid=
for _ in $(seq 600); do
	grep -q '^up$' "$T/long.out" && qpid=$(pgrep -f "qemu-system-x86_64 .*microvm" | head -n 1) && [ -n "$qpid" ] && break
	sleep 0.2
done
if [ -z "$qpid" ]; then
	fail "vm: VMM controls (host)" "the VM did not come up: $(tail -n 5 "$T/long.out")"
else
	cmd=$(tr '\0' ' ' <"/proc/$qpid/cmdline")
	links=$(nsenter -t "$qpid" -n ip -o link 2>&1 | awk -F': ' '{print $2}' | tr '\n' ' ')
	listening=$(nsenter -t "$qpid" -n ss -Hltux 2>/dev/null | wc -l)
	uid=$(awk '/^Uid:/ {print $2}' "/proc/$qpid/status")
	if [[ "$cmd" == *"-monitor none"* && "$cmd" != *qmp* && "$cmd" != *mux=on* && "$cmd" != *server* && "$cmd" != *telnet* ]] &&
		[ "$links" = "lo " ] && [ "$listening" = 0 ] && [ -n "$uid" ] && [ "$uid" != 0 ]; then
		ok "vm: the VMM has no monitor or QMP, listens nowhere, has no network but the tap, and is not root on the host"
	else
		fail "vm: VMM controls (host)" "links '$links', listening $listening, uid $uid, cmd: $cmd"
	fi
fi
kill -9 "$LONG" 2>/dev/null
wait "$LONG" 2>/dev/null
for _ in $(seq 50); do vmm_left || break; sleep 0.1; done
vmm_left && fail "vm: kill -9" "the VMM outlived its host process" || ok "vm: kill -9 of the host process takes the VMM with it"
"$BB" bottle cleanup >/dev/null 2>&1

(cd "$T/ws" && BB_VM_STOP_GRACE_MS=3000 RUN_TEST_TOKEN=$TOKEN exec "$BB" bottle run dev --backend vm -- sh -c 'trap "" TERM; echo up; while :; do sleep 1; done') >"$T/deaf.out" 2>&1 </dev/null &
DEAF=$!
on_exit "kill -9 $DEAF 2>/dev/null"
for _ in $(seq 600); do grep -q '^up$' "$T/deaf.out" && break; sleep 0.2; done
slug=$("$BB" bottle list --json | python3 -c 'import json,sys; print([b["slug"] for b in json.load(sys.stdin) if b["status"]=="running"][0])' 2>/dev/null)
t0=$(date +%s%N)
out=$("$BB" bottle stop "$slug" --timeout 30 2>&1)
wait "$DEAF"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if grep -q "stopped $slug" <<<"$out" && [ "$rc" = 137 ] && [ "$ms" -lt 20000 ] && ! vmm_left; then
	ok "vm: a guest that ignores the stop is killed after the grace period (${ms} ms, status 137)"
else
	fail "vm: ignored stop" "rc $rc after ${ms} ms: $out $(tail -n 3 "$T/deaf.out")"
fi

# --- fail closed: a step that fails stops the start and leaves nothing ---
for step in 1 3 8; do
	(cd "$T/ws" && BB_RT_FAULT=$step RUN_TEST_TOKEN=$TOKEN timeout 120 "$BB" bottle run dev --backend vm -- true) >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	if [ "$rc" != 0 ] && grep -q "fault injected" "$T/err" && [ -z "$(ls -A "$BB_HOME/.bb/state")" ] && ! vmm_left; then
		ok "vm: a failure at isolation step $step stops the bottle, names the step, leaves nothing"
	else
		fail "vm: fault $step" "rc $rc: $(cat "$T/err")"
	fi
done
out=$(cd "$T/ws" && BB_VM_KERNEL=/nonexistent/vmlinuz RUN_TEST_TOKEN=$TOKEN "$BB" bottle run dev --backend vm -- true 2>&1)
[ $? != 0 ] && grep -q "nothing was started" <<<"$out" && grep -q "/nonexistent/vmlinuz" <<<"$out" &&
	ok "vm: a kernel that is not there stops the start, named" || fail "vm: missing kernel" "$out"

if [ $KVM_OK = 0 ]; then # the emulated guest is asked for, never a silent fallback
	out=$(cd "$T/ws" && BB_VM_ACCEL= RUN_TEST_TOKEN=$TOKEN "$BB" bottle run dev --backend vm -- true 2>&1)
	[ $? != 0 ] && grep -q "/dev/kvm" <<<"$out" && grep -q "BB_VM_ACCEL=tcg" <<<"$out" && grep -q "nothing was started" <<<"$out" && ! vmm_left &&
		ok "vm: without usable KVM the start stops, named (no silent fall back to emulation, no guest left hanging)" ||
		fail "vm: no kvm" "$out"
fi

# --- lifecycle ---
. "$(dirname "$0")/lifecycle.inc"
BACKEND_NAME=vm
lifecycle_on "vm: " "qemu-system-x86_64 .*microvm" --backend vm

# --- nothing left ---
if [ -z "$(ls -A "$BB_HOME/.bb/state" 2>/dev/null)" ] && ! vmm_left && ! pgrep -f "bb (egress|init).*$BB_HOME" >/dev/null; then
	ok "vm: nothing of the bottles is left (state, VMM, sidecar)"
else
	fail "vm: leftovers" "$(ls "$BB_HOME/.bb/state") $(pgrep -af "qemu-system|$BB_HOME")"
fi
