# gitgate_gitea_fixture.sh - the gitea key provider against a protocol fixture (NOT Gitea): an HTTPS server implementing
# the two deploy-key endpoints as Gitea's API documents them; the generated key checked by ssh-keygen and used by libssh2.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cases=(
	"gitea fixture: the deploy-key calls of test_gitgate_gitea pass"
	"gitea fixture: requests are what Gitea's API documents (path, token header, JSON body)"
	"the generated deploy key is a valid OpenSSH ECDSA P-256 pair"
	"the generated deploy key authenticates a real sshd through libssh2"
)
skip_all() { local c; for c in "${cases[@]}"; do skip "$c" "$1"; done; exit 0; }
: "${UNIT_DIR:?UNIT_DIR must name the built unit tests}"
tool=$UNIT_DIR/test_gitgate_gitea
[ -x "$tool" ] || skip_all "no $tool (make check builds it)"
command -v python3 >/dev/null && command -v openssl >/dev/null || skip_all "needs python3 and openssl"

# BearSSL checks DNS names only (no IP SANs): the fixture is "localhost" on 127.0.0.1.
addr=127.0.0.1
port=$(free_port "$addr") || skip_all "no free port"
# A throwaway CA and a server certificate it signs (BearSSL wants a CA as the trust anchor).
{
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/ca.key" -out "$T/ca.crt" \
		-subj "/CN=bb test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" -days 1 &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/srv.key" -out "$T/srv.csr" -subj "/CN=localhost" &&
		printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$T/ext" &&
		openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -out "$T/srv.crt" -days 1 \
			-extfile "$T/ext"
} >"$T/openssl.log" 2>&1 || skip_all "openssl could not make certificates: $(tail -n 2 "$T/openssl.log")"
TOKEN="fixture-token-$RANDOM$RANDOM"

cat >"$T/fixture.py" <<'EOF'
# A protocol fixture for two Gitea API endpoints (repo deploy keys); not Gitea.
import json, ssl, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
addr, port, cert, key, token, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
keys, next_id = {}, [41]
class H(BaseHTTPRequestHandler):
    def reply(self, status, obj=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def record(self, body):
        with open(log, "a") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "auth": self.headers.get("Authorization"), "ctype": self.headers.get("Content-Type"),
                                "body": body}) + "\n")
    def authed(self):
        if self.headers.get("Authorization") != "token " + token:
            self.reply(401, {"message": "token is required", "url": "https://gitea.example/api/swagger"})
            return False
        return True
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        self.record(body)
        if not self.authed():
            return
        parts = self.path.split("/")
        if len(parts) != 7 or parts[1:4] != ["api", "v1", "repos"] or parts[6] != "keys":
            return self.reply(404, {"message": "not found"})
        if parts[5] != "app":
            return self.reply(404, {"message": "The target couldn't be found.", "errors": []})
        req = json.loads(body)
        if not isinstance(req.get("title"), str) or not req.get("key", "").startswith("ecdsa-sha2-nistp256 ") or req.get("read_only") is not False:
            return self.reply(422, {"message": "bad request body"})
        next_id[0] += 1
        keys[next_id[0]] = req
        self.reply(201, {"id": next_id[0], "key": req["key"], "title": req["title"], "read_only": False,
                         "url": "https://gitea.example/api/v1/repos/org/app/keys/%d" % next_id[0]})
    def do_DELETE(self):
        self.record(None)
        if not self.authed():
            return
        kid = int(self.path.rsplit("/", 1)[1])
        if kid not in keys:
            return self.reply(404, {"message": "The target couldn't be found."})
        del keys[kid]
        self.reply(204)
    def log_message(self, *a):
        pass
srv = HTTPServer((addr, port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
python3 "$T/fixture.py" "$addr" "$port" "$T/srv.crt" "$T/srv.key" "$TOKEN" "$T/requests.log" 2>"$T/fixture.err" &
on_exit kill_tree $!
wait_port "$addr" "$port" 10 || skip_all "the fixture did not start: $(tail -n 3 "$T/fixture.err")"

# 1. the C calls
GITEA_FIXTURE_URL="https://localhost:$port" GITEA_FIXTURE_CA="$T/ca.crt" GITEA_FIXTURE_TOKEN="$TOKEN" GITEA_KEY_OUT="$T/deploy" \
	"$tool" >"$T/unit.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && grep -q '^ok - fixture_add_and_delete' "$T/unit.out"; then
	ok "${cases[0]}"
else
	fail "${cases[0]}" "exit $rc: $(grep -v '^ok' "$T/unit.out" | head -n 5 | tr '\n' ' ')"
fi

# 2. what the fixture saw
if python3 - "$T/requests.log" "$TOKEN" <<'EOF'; then ok "${cases[1]}"; else fail "${cases[1]}" "$(head -c 600 "$T/requests.log")"; fi
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
tok = sys.argv[2]
first = reqs[0]
assert first["method"] == "POST" and first["path"] == "/api/v1/repos/org/app/keys", first
assert first["auth"] == "token " + tok and first["ctype"] == "application/json", first
body = json.loads(first["body"])
assert body["title"] == "bb git-gate test" and body["read_only"] is False and body["key"].startswith("ecdsa-sha2-nistp256 AAAA"), body
dels = [r for r in reqs if r["method"] == "DELETE"]
assert len(dels) == 3 and dels[0]["path"] == "/api/v1/repos/org/app/keys/42", dels
assert any(r["auth"] == "token wrong-token-value" for r in reqs)
EOF

# 3. OpenSSH agrees the two halves belong together
if [ -s "$T/deploy" ] && [ "$(ssh-keygen -y -f "$T/deploy" 2>&1 | cut -d' ' -f1-2)" = "$(cut -d' ' -f1-2 "$T/deploy.pub")" ] &&
	[ "$(stat -c %a "$T/deploy")" = 600 ]; then
	ok "${cases[2]}"
else
	fail "${cases[2]}" "$(ssh-keygen -y -f "$T/deploy" 2>&1 | head -n 2)"
fi

# 4. libssh2 (mbedTLS in the static build, OpenSSL in the sanitizer build) logs in with it
if [ "$(id -u)" -ne 0 ] || [ ! -x /usr/sbin/sshd ] || case $(getent shadow root | cut -d: -f2) in '!'*) true ;; *) false ;; esac; then
	skip "${cases[3]}" "needs root and an unlocked root account to run a test sshd"
	exit 0
fi
printf 'leak:git_remote_connect_ext\nleak:git_remote_create_with_opts\nleak:libssh2\n' >"$T/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$T/hostkey" </dev/null
cp "$T/deploy.pub" "$T/authorized_keys"
addr=$(test_addr)
sport=$(free_port "$addr")
cat >"$T/sshd_config" <<EOF
ListenAddress $addr
Port $sport
HostKey $T/hostkey
AuthorizedKeysFile $T/authorized_keys
PidFile $T/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
EOF
[ -d /run/sshd ] || mkdir -m 0755 /run/sshd
/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
on_exit kill_tree $!
wait_port "$addr" "$sport" 10
git init -q --bare "$T/up.git"
if "$BB" probe git-ls-remote "ssh://root@$addr:$sport$T/up.git" --key "$T/deploy" --pub "$T/deploy.pub" \
	--host-key "$T/hostkey.pub" >"$T/ls.out" 2>&1; then
	ok "${cases[3]}"
else
	fail "${cases[3]}" "$(head -c 400 "$T/ls.out")"
fi
