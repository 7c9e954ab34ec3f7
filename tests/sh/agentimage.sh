#!/usr/bin/env bash
# agentimage.sh - agent_provider.dockerfile against a real engine: podman's Docker-compatible API (`podman system
# service`, its storage under $T) builds the image (POST /build), bb imports it as the agent's root, reuses it while the
# Dockerfile and its context are unchanged (no engine needed then), rebuilds when they change; without an engine the
# error names the key and the ways out.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { skip "agentimage" "needs root (the embedded runtime)"; exit 0; }
command -v podman >/dev/null || { skip "agentimage" "podman is not installed (scripts/setup.sh installs it)"; exit 0; }
if [ "${MODE:-}" = asan ]; then
	skip "agentimage" "the sanitizer build is linked dynamically: an image holding only bb cannot run it"
	exit 0
fi

export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws" "$T/ctx"
cp "$BB" "$T/ctx/bb"
printf 'FROM scratch\nCOPY bb /bb\nCOPY data /data/\n' >"$T/ctx/Dockerfile"
mkdir -p "$T/ctx/data" && echo one >"$T/ctx/data/one"
ln -s /etc/shadow "$T/ctx/data/secret" # a link in the context is sent as a link: the host's file never is
# The manifest names the Dockerfile relative to its own directory.
printf -- '---\nagent_provider:\n  dockerfile: ../../../ctx/Dockerfile\n---\n' >"$BB_HOME/.bb/bottles/dev.md"

SOCK=$T/podman.sock
svc_pid=""
engine_start() {
	podman --root "$T/storage" --runroot "$T/runroot" --storage-driver vfs system service --time=0 "unix://$SOCK" \
		>>"$T/podman.log" 2>&1 &
	svc_pid=$!
	on_exit kill_tree "$svc_pid"
	for _ in $(seq 200); do
		curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1 && return 0
		kill -0 "$svc_pid" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}
engine_stop() { kill_tree "$svc_pid"; rm -f "$SOCK"; }
images() { "$BB" bottle image list --json | python3 -c 'import json,sys; print(" ".join(sorted(i["name"] for i in json.load(sys.stdin))))'; }
run() { (cd "$T/ws" && DOCKER_HOST=unix://$SOCK "$BB" bottle run dev "$@" 2>&1); }

# --- no engine: refused before anything starts, naming the key and the ways out ---
out=$(run -- /bb --list)
rc=$?
if [ $rc != 0 ] && grep -q "agent_provider.dockerfile" <<<"$out" && grep -q -- "--image NAME" <<<"$out" &&
	grep -q "remove the dockerfile key" <<<"$out" && grep -q "podman system service" <<<"$out" && [ -z "$(images)" ]; then
	ok "no engine: the start stops with an error naming agent_provider.dockerfile, --image and dropping the key"
else
	fail "no engine" "rc $rc: $out / images: $(images)"
fi

printf -- '---\nagent_provider: {template: command, command: [/bb, --list], dockerfile: %s}\n---\n' "$T/ctx/Dockerfile" \
	>"$BB_HOME/.bb/bottles/cmd.md"
out=$(cd "$T/ws" && "$BB" bottle start cmd -n 2>&1)
grep -q "mounts .*an image built from .*ctx/Dockerfile (agent_provider.dockerfile" <<<"$out" &&
	ok "start's summary says the root is the image built from the Dockerfile" || fail "summary" "$out"

engine_start || { fail "agentimage" "podman system service did not answer: $(tail -5 "$T/podman.log")"; exit 0; }

# --- built through POST /build, imported, the agent runs in it ---
out=$(run -- /bb --list)
rc=$?
name=$(images)
out2=$(run -- /bin/sh -c true)
rc2=$?
if [ $rc = 0 ] && grep -q "built now from" <<<"$out" && grep -qx egress <<<"$out" && [[ $name == df-* ]] &&
	[ $rc2 = 127 ] && grep -q "cannot run /bin/sh" <<<"$out2"; then
	ok "the Dockerfile is built by the engine and imported: the agent runs in it (its /bb runs, the host's /bin/sh is not there)"
else
	fail "build and run" "rc $rc: $out / rc2 $rc2: $out2 / images: $name"
fi
root=$BB_HOME/.bb/images/$name/rootfs
if [ -L "$root/data/secret" ] && [ "$(readlink "$root/data/secret")" = /etc/shadow ] && [ "$(cat "$root/data/one")" = one ]; then
	ok "the context is sent without following links (a link to /etc/shadow arrives as that link, not the file)"
else
	fail "context links" "$(ls -la "$root/data" 2>&1)"
fi
tags=$(curl -s --unix-socket "$SOCK" http://d/v1.41/images/json | python3 -c 'import json,sys; print(" ".join(t for i in json.load(sys.stdin) for t in (i.get("RepoTags") or [])))')
[[ $tags != *bb-agent* ]] && ok "the engine's bb-agent tag is removed once imported" || fail "engine tag left" "$tags"

# --- unchanged: reused, the engine is not asked (it is stopped) ---
engine_stop
out=$(run -- /bb --list)
rc=$?
if [ $rc = 0 ] && grep -q "built before from the same Dockerfile and context" <<<"$out" && grep -qx egress <<<"$out" &&
	[ "$(images)" = "$name" ]; then
	ok "an unchanged Dockerfile and context reuse the image without an engine"
else
	fail "reuse" "rc $rc: $out / images: $(images)"
fi

# --- a file of the context changes: a rebuild is needed (refused without an engine), then made ---
echo two >"$T/ctx/data/one"
out=$(run -- /bb --list)
rc=$?
[ $rc != 0 ] && grep -q "building it needs a Docker Engine API" <<<"$out" && ok "a changed context file needs a rebuild (no engine: refused, named)" ||
	fail "changed context detected" "rc $rc: $out"
engine_start || { fail "agentimage" "podman system service did not restart: $(tail -5 "$T/podman.log")"; exit 0; }
out=$(run -- /bb --list)
rc=$?
new=$(images | tr ' ' '\n' | grep -vx "$name")
if [ $rc = 0 ] && grep -q "built now from" <<<"$out" && [ -n "$new" ] && [ "$(cat "$BB_HOME/.bb/images/$new/rootfs/data/one")" = two ]; then
	ok "the changed context is built again: a new image holding the new content"
else
	fail "rebuild" "rc $rc: $out / images: $(images)"
fi

# --- the Dockerfile itself changes: another image ---
printf 'FROM scratch\nCOPY bb /bb\n' >"$T/ctx/Dockerfile"
out=$(run -- /bb --list)
rc=$?
[ $rc = 0 ] && grep -q "built now from" <<<"$out" && [ "$(images | wc -w)" = 3 ] && ok "an edited Dockerfile is built again" ||
	fail "Dockerfile edit" "rc $rc: $out / images: $(images)"

# --- on the OCI backend too ---
if command -v runc >/dev/null; then
	out=$(run --backend oci -- /bb --list)
	rc=$?
	out2=$(run --backend oci -- /bin/sh -c true)
	rc2=$?
	[ $rc = 0 ] && grep -qx egress <<<"$out" && [ $rc2 = 127 ] && ok "the OCI backend runs the agent in the built image" ||
		fail "oci backend" "rc $rc: $out / rc2 $rc2: $out2"
fi

# --- a failing build: the engine's message, nothing imported ---
printf 'FROM scratch\nCOPY nothere /x\n' >"$T/ctx/Dockerfile"
before=$(images)
out=$(run -- /bb --list)
rc=$?
[ $rc != 0 ] && grep -q "the build failed" <<<"$out" && grep -q "nothere" <<<"$out" && [ "$(images)" = "$before" ] &&
	ok "a failing build stops the start with the engine's message; nothing imported" || fail "build error" "rc $rc: $out"

# --- --image wins over the key; a Dockerfile that is a link is refused ---
out=$(run --image "$name" -- /bb --list)
rc=$?
[ $rc = 0 ] && ! grep -q "building" <<<"$out" && ok "--image NAME is used as given (no build)" || fail "--image wins" "rc $rc: $out"
rm "$T/ctx/Dockerfile" && ln -s /etc/hostname "$T/ctx/Dockerfile"
out=$(run -- /bb --list)
rc=$?
[ $rc != 0 ] && grep -q "not a regular file" <<<"$out" && ok "a Dockerfile that is a symlink is refused" || fail "Dockerfile link" "rc $rc: $out"

# --- the provider's program comes from the image when it has one: a claude bottle whose Dockerfile installs a
# stand-in claude (a script, with dash and its libraries so it runs), on a host without claude, then with one ---
mkdir -p "$T/clctx/root/bin" "$T/clctx/root/usr/local/bin" "$T/hostbin"
for l in $(ldd /bin/dash | grep -o '/[^ ]*'); do mkdir -p "$T/clctx/root$(dirname "$l")" && cp -L "$l" "$T/clctx/root$l"; done
cp /bin/dash "$T/clctx/root/bin/sh" && cp "$BB" "$T/clctx/bb"
printf '#!/bin/sh\necho "claude from the image: $*"\n' >"$T/clctx/root/usr/local/bin/claude"
printf '#!/bin/sh\necho "claude from the host: $*"\n' >"$T/hostbin/claude"
chmod 755 "$T/clctx/root/usr/local/bin/claude" "$T/hostbin/claude"
printf 'FROM scratch\nCOPY bb /bb\nCOPY root/ /\n' >"$T/clctx/Dockerfile"
printf -- '---\nagent_provider: {template: claude, dockerfile: %s}\n---\n' "$T/clctx/Dockerfile" >"$BB_HOME/.bb/bottles/cl.md"
nocl=$(printf '%s' "$PATH" | tr ':' '\n' | while read -r d; do [ -x "$d/claude" ] || printf '%s:' "$d"; done)
out=$(cd "$T/ws" && PATH=${nocl%:} "$BB" bottle start cl -n 2>&1)
grep -q "program    claude, from the image (not on this host)" <<<"$out" &&
	ok "start's summary: a claude the host lacks is expected from the image" || fail "summary program" "$out"
out=$(cd "$T/ws" && PATH=${nocl%:} DOCKER_HOST=unix://$SOCK "$BB" bottle run cl -- claude -p hi 2>&1)
rc=$?
[ $rc = 0 ] && grep -q "claude from the image: -p hi" <<<"$out" &&
	ok "the image's own claude runs (the host has none)" || fail "image program" "rc $rc: $out"
out=$(cd "$T/ws" && PATH=$T/hostbin:$PATH DOCKER_HOST=unix://$SOCK "$BB" bottle run cl -- claude -p hi 2>&1)
rc=$?
[ $rc = 0 ] && grep -q "claude from the image: -p hi" <<<"$out" &&
	ok "the image's claude wins over one on the host's PATH" || fail "image program first" "rc $rc: $out"
engine_stop
