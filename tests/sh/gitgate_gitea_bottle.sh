# gitgate_gitea_bottle.sh - key.provider gitea in a bottle: a deploy key made and registered at start through a fixture
# speaking Gitea's deploy-key API over HTTPS (which installs it in a real sshd's authorized_keys, as a forge would),
# used by git-gate to clone and push, revoked at stop; revoke failures retried and reported; cleanup after a crash.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/gitsshd.inc"

cases=(
	"gitea: the bottle registers an Ed25519 deploy key (read-write, token header) and git-gate clones and pushes with it"
	"gitea: the forge token is not in the sidecar's or the agent's environment, nor in the plan"
	"gitea: the deploy key is revoked when the bottle ends"
	"gitea: a revoke the forge refuses is retried 3 times, reported, and kept for cleanup"
	"gitea: bb bottle cleanup revokes what a failed teardown left (exit 0 once done)"
	"gitea: after the host process is killed (-9), bb bottle cleanup revokes the key"
	"gitea: the token env var unset: the start fails naming forge_token_env, nothing registered"
)
unshare --net --mount true 2>/dev/null || skip_all cases "namespaces are not available here"
command -v python3 >/dev/null && command -v openssl >/dev/null || skip_all cases "needs python3 and openssl"
gitsshd_start cases
: >"$T/authorized_keys" # only keys the fixture installs

git init -q --bare -b main "$T/up.git" && git init -q -b main "$T/seed" &&
	(cd "$T/seed" && echo one >f && git add f && git commit -qm one && git push -q "$T/up.git" main) >"$T/setup.log" 2>&1 ||
	fail_all cases "setting up the upstream: $(tail -n 3 "$T/setup.log")"
up() { git --git-dir="$T/up.git" "$@"; }

{
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" -out "$T/ca.crt" \
		-subj "/CN=bb test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" -days 1 &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/srv.key" -out "$T/srv.csr" -subj "/CN=localhost" &&
		printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$T/ext" &&
		openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -out "$T/srv.crt" -days 1 \
			-extfile "$T/ext"
} >"$T/openssl.log" 2>&1 || fail_all cases "openssl: $(tail -n 2 "$T/openssl.log")"
export GITEA_TOKEN_FOR_BB="gitea-token-$RANDOM$RANDOM$RANDOM"

# The fixture: POST/DELETE /api/v1/repos/{owner}/{repo}/keys as Gitea documents them; a registered key goes into the
# sshd's authorized_keys (git-shell only), a revoked one out. $T/fail-deletes holds how many DELETEs to answer 500.
cat >"$T/fixture.py" <<'EOF'
import json, os, ssl, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
addr, port, cert, key, token, log, ak, failfile = sys.argv[1], int(sys.argv[2]), *sys.argv[3:9]
keys, next_id = {}, [100]
def sync():
    with open(ak + ".tmp", "w") as f:
        for k in keys.values():
            f.write('command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",no-pty %s\n' % k["key"])
    os.replace(ak + ".tmp", ak)
class H(BaseHTTPRequestHandler):
    def reply(self, status, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def record(self, body, status):
        with open(log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"),
                                "body": body, "status": status}) + "\n")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        if self.headers.get("Authorization") != "token " + token:
            self.record(body, 401); return self.reply(401, {"message": "token is required"})
        if self.path != "/api/v1/repos/mnt/app/keys":
            self.record(body, 404); return self.reply(404, {"message": "not found"})
        req = json.loads(body)
        next_id[0] += 1
        keys[next_id[0]] = req
        sync()
        self.record(body, 201)
        self.reply(201, {"id": next_id[0], "key": req["key"], "title": req["title"], "read_only": req["read_only"]})
    def do_DELETE(self):
        n = int(open(failfile).read() or 0) if os.path.exists(failfile) else 0
        if n > 0:
            open(failfile, "w").write(str(n - 1))
            self.record(None, 500); return self.reply(500, {"message": "internal error (fixture)"})
        if self.headers.get("Authorization") != "token " + token:
            self.record(None, 401); return self.reply(401, {"message": "token is required"})
        kid = int(self.path.rsplit("/", 1)[1])
        status = 204 if keys.pop(kid, None) else 404
        sync()
        self.record(None, status)
        self.reply(status)
    def log_message(self, *a):
        pass
srv = HTTPServer((addr, port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
FPORT=$(free_port 127.0.0.1) || fail_all cases "no free port"
python3 "$T/fixture.py" 127.0.0.1 "$FPORT" "$T/srv.crt" "$T/srv.key" "$GITEA_TOKEN_FOR_BB" "$T/requests.log" \
	"$T/authorized_keys" "$T/fail-deletes" 2>"$T/fixture.err" &
on_exit kill_tree $!
wait_port 127.0.0.1 "$FPORT" 10 || fail_all cases "the fixture did not start: $(tail -n 3 "$T/fixture.err")"
export SSL_CERT_FILE=$T/ca.crt # the host trusts the fixture's CA (the convention OpenSSL tools follow)

export BB_HOME=$T/home
mkdir -p "$BB_HOME/.bb/bottles" "$T/ws"
chown 65534:65534 "$T/ws"
# A forge's URL path is OWNER/REPO: the sshd runs in a mount namespace of its own where /mnt/app.git is the upstream.
gitsshd_stop
unshare --mount sh -c 'mount -t tmpfs -o mode=0755 bb-test /mnt && ln -s "$1" /mnt/app.git && shift && exec "$@"' sh \
	"$T/up.git" /usr/sbin/sshd -D -e -f "$T/sshd_config" 2>>"$T/sshd.log" &
SSHD_PID=$!
on_exit kill_tree "$SSHD_PID"
wait_port "$UP_ADDR" "$UP_PORT" 10 || fail_all cases "sshd did not listen: $(tail -n 3 "$T/sshd.log")"
UP_URL="$UP_URL_BASE/mnt/app.git"
cat >"$BB_HOME/.bb/bottles/forge.md" <<EOF
---
git-gate:
  repos:
    app:
      url: $UP_URL
      key: {provider: gitea, forge_token_env: GITEA_TOKEN_FOR_BB, api_url: "https://localhost:$FPORT"}
      host_key: "$(cut -d' ' -f1-2 "$HOSTKEY_PUB")"
---
EOF
"$BB" bottle validate forge >"$T/validate.out" 2>&1 || fail_all cases "manifest: $(cat "$T/validate.out")"
bbrun() { (cd "$T/ws" && timeout 120 "$BB" bottle run forge -- sh -c "$1") >"$T/out" 2>&1; }
out() { tail -n 8 "$T/out" | tr '\n' ' '; }
AGENT_GIT='export GIT_AUTHOR_NAME=agent GIT_AUTHOR_EMAIL=agent@bb.invalid GIT_COMMITTER_NAME=agent GIT_COMMITTER_EMAIL=agent@bb.invalid'
reqs() { python3 -c 'import json,sys; [print(r["method"], r["path"], r["status"]) for r in map(json.loads, open(sys.argv[1]))]' "$T/requests.log"; }

# 1-3: one bottle run: clone, push, the environment checked from inside; then the revoke.
bbrun "$AGENT_GIT
env >agent.env
git clone -q '$UP_URL' app && cd app && echo two >>f && git commit -qam two && git push -q origin main 2>&1 &&
git rev-parse HEAD >../pushed; echo run-done"
first=$(head -n 1 "$T/requests.log" 2>/dev/null)
if grep -q run-done "$T/out" && [ "$(up rev-parse main)" = "$(cat "$T/ws/pushed" 2>/dev/null)" ] &&
	python3 - "$first" "$GITEA_TOKEN_FOR_BB" <<'EOF'; then ok "${cases[0]}"; else fail "${cases[0]}" "$(out) first request: $first"; fi
import json, sys
r = json.loads(sys.argv[1]); b = json.loads(r["body"])
assert r["method"] == "POST" and r["auth"] == "token " + sys.argv[2] and r["status"] == 201, r
assert b["key"].startswith("ssh-ed25519 AAAA") and b["read_only"] is False and b["title"].startswith("bb-forge-"), b
EOF
if [ -s "$T/ws/agent.env" ] && ! grep -qF "$GITEA_TOKEN_FOR_BB" "$T/ws/agent.env" &&
	! grep -qF "$GITEA_TOKEN_FOR_BB" "$T/out" && "$BB" bottle plan forge --json 2>/dev/null | grep -q GITEA_TOKEN_FOR_BB &&
	! "$BB" bottle plan forge --json 2>/dev/null | grep -qF "$GITEA_TOKEN_FOR_BB"; then
	agent_env_ok=1 # the sidecar's is looked at below, while a bottle runs
else
	agent_env_ok="the token value showed up, or the agent ran nothing: $(out)"
fi
if reqs | grep -q '^DELETE /api/v1/repos/mnt/app/keys/101 204$' && [ ! -s "$T/authorized_keys" ] &&
	grep -q "revoked deploy key 101 for git-gate.repos\['app'\]" "$T/out" && [ ! -e "$BB_HOME/.bb/forge-keys/"* ]; then
	ok "${cases[2]}"
else
	fail "${cases[2]}" "$(reqs | tail -n 3 | tr '\n' ' ') $(out)"
fi

# 4-5: the forge answers 500 to the next 3 DELETEs: retried, reported, kept; cleanup then revokes it.
echo 3 >"$T/fail-deletes"
: >"$T/requests.log"
bbrun "true"
if [ "$(reqs | grep -c '^DELETE .* 500$')" = 3 ] && grep -q "ERROR: deploy key 102 .* was NOT revoked after 3 tries: .*500" "$T/out" &&
	grep -q "bb bottle cleanup" "$T/out" && [ -s "$T/authorized_keys" ] && ls "$BB_HOME/.bb/forge-keys/" | grep -q .; then
	ok "${cases[3]}"
else
	fail "${cases[3]}" "$(reqs | tr '\n' ' ') $(out)"
fi
"$BB" bottle cleanup >"$T/cleanup.out" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q "revoked deploy key 102" "$T/cleanup.out" && [ ! -s "$T/authorized_keys" ] &&
	[ -z "$(ls -A "$BB_HOME/.bb/forge-keys/" 2>/dev/null)" ]; then
	ok "${cases[4]}"
else
	fail "${cases[4]}" "exit $rc: $(tr '\n' ' ' <"$T/cleanup.out")"
fi

# 6: the host process killed while the bottle runs.
(cd "$T/ws" && exec "$BB" bottle run forge -- sh -c 'sleep 60') >"$T/long.out" 2>&1 &
RUNPID=$!
on_exit kill_tree "$RUNPID"
for _ in $(seq 100); do [ -s "$T/authorized_keys" ] && break; sleep 0.1; done
registered=$(wc -l <"$T/authorized_keys")
gpid=
for _ in $(seq 100); do
	gpid=$(pgrep -f "bb git-gate --policy $BB_HOME/" | head -n 1)
	[ -n "$gpid" ] && break
	sleep 0.1
done
if [ "$agent_env_ok" != 1 ]; then
	fail "${cases[1]}" "$agent_env_ok"
elif [ -z "$gpid" ] || ! tr '\0' '\n' <"/proc/$gpid/environ" | grep -q '^BB_GIT_GATE_ARGS=\|^PATH='; then
	fail "${cases[1]}" "could not read the sidecar's git-gate environment (pid '$gpid')"
elif tr '\0' '\n' <"/proc/$gpid/environ" | grep -qF "$GITEA_TOKEN_FOR_BB" || grep -qF "$GITEA_TOKEN_FOR_BB" "/proc/$gpid/cmdline"; then
	fail "${cases[1]}" "the forge token is in the sidecar's git-gate environment"
else
	ok "${cases[1]}"
fi
kill -9 "$RUNPID"
wait "$RUNPID" 2>/dev/null
"$BB" bottle cleanup >"$T/cleanup.out" 2>&1
rc=$?
if [ "$registered" = 1 ] && [ "$rc" = 0 ] && grep -q "revoked deploy key 103" "$T/cleanup.out" && [ ! -s "$T/authorized_keys" ]; then
	ok "${cases[5]}"
else
	fail "${cases[5]}" "registered $registered, exit $rc: $(tr '\n' ' ' <"$T/cleanup.out") $(tail -n 3 "$T/long.out")"
fi

# 7: no token in the host's environment.
: >"$T/requests.log"
(cd "$T/ws" && env -u GITEA_TOKEN_FOR_BB timeout 60 "$BB" bottle run forge -- true) >"$T/out" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q "key.forge_token_env = 'GITEA_TOKEN_FOR_BB': env var is not set" "$T/out" && [ ! -s "$T/requests.log" ]; then
	ok "${cases[6]}"
else
	fail "${cases[6]}" "exit $rc: $(out)"
fi
