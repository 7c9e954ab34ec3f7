#!/usr/bin/env bash
# agents.sh - the real CLIs through a bottle vs on the host, same run, against the local mock API
# (tests/peers/agent_api.py): `claude -p` and `codex exec`, each with one tool round trip, median of RUNS
# interleaved runs; and when Codex's first model request leaves after the start (bottle and host).
# Usage: sudo scripts/bench/agents.sh [RUNS]   (root; the CLIs from scripts/setup.sh test; builds nothing)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BB=${BB:-$top/bb}
runs=${1:-7}
[ "$(id -u)" = 0 ] || { echo "agents.sh: needs root (the embedded runtime, port 443 for the mock)" >&2; exit 1; }
dir=${BB_AGENTS_DIR:-/var/cache/bb/agents}
ver() { awk -v n="$1" '$1 == n {print $3}' "$top/scripts/agent-clis.txt"; }
CLAUDE=$dir/claude-$(ver claude)/node_modules/.bin
CODEX=$dir/codex-$(ver codex)/node_modules/.bin
for p in "$CLAUDE/claude" "$CODEX/codex"; do
	[ -x "$p" ] || { echo "agents.sh: $p missing: run scripts/setup.sh test" >&2; exit 1; }
done
T=$(mktemp -d /tmp/bb-bench-agents.XXXXXX)
chmod 755 "$T" # the host-side runs are nobody's: they read the CA and work in $T/ws
MOCK=""
trap '[ -n "$MOCK" ] && kill $MOCK 2>/dev/null; rm -rf "$T"' EXIT

A=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 2))
sh "$top/tests/peers/upstream_cert.sh" "$T" api.anthropic.com api.openai.com chatgpt.com
mkdir -p "$T/ctl"
python3 "$top/tests/peers/agent_api.py" "$A" 443 "$T/api.log" "$T/up.crt" "$T/up.key" "$T/ctl" 2>"$T/api.err" &
MOCK=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/$A/443") 2>/dev/null && break; sleep 0.1; done
printf '%s api.anthropic.com api.openai.com chatgpt.com\n127.0.0.1 localhost\n' "$A" >"$T/hosts"

export BB_HOME=$T/bbhome
mkdir -p "$BB_HOME/.bb/bottles"
route() { printf '    - host: %s\n      pipelock: {ssrf_ip_allowlist: ["127.0.0.0/8"]}\n' "$@"; }
{ echo "---"; echo "agent_provider: {template: claude, api_key: BENCH_ANTHROPIC_KEY}"; echo "egress:"; echo "  routes:"; route api.anthropic.com; echo "---"; } >"$BB_HOME/.bb/bottles/cl.md"
{ echo "---"; echo "agent_provider: {template: codex, api_key: BENCH_OPENAI_KEY}"; echo "egress:"; echo "  routes:"; route api.openai.com chatgpt.com; echo "---"; } >"$BB_HOME/.bb/bottles/cx.md"

# The host side, as fair as the bottle: the same user (nobody), a fresh home per run, the mock's names
# from a hosts file (a private mount namespace), the mock's CA, the same variables the bottle sets.
cat >"$T/host.sh" <<EOF
set -e
mount --bind $T/hosts /etc/hosts
rm -rf $T/hhome && mkdir -p $T/hhome/.codex && chown -R 65534:65534 $T/hhome
printf '{"auth_mode":"apikey","OPENAI_API_KEY":"%s"}' "\$BENCH_OPENAI_KEY" >$T/hhome/.codex/auth.json
cd "\$1"; shift
exec setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=$CLAUDE:$CODEX:/usr/bin:/bin HOME=$T/hhome \
	CODEX_HOME=$T/hhome/.codex TERM=dumb LANG=C.UTF-8 SSL_CERT_FILE=$T/upca.crt NODE_EXTRA_CA_CERTS=$T/upca.crt \
	CODEX_CA_CERTIFICATE=$T/upca.crt ANTHROPIC_API_KEY="\$BENCH_ANTHROPIC_KEY" CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
	DISABLE_ERROR_REPORTING=1 "\$@"
EOF
export BENCH_ANTHROPIC_KEY="sk-ant-api03-bench-$RANDOM$RANDOM" BENCH_OPENAI_KEY="sk-proj-bench-$RANDOM$RANDOM"
export SSL_CERT_FILE=$T/upca.crt PATH=$CLAUDE:$CODEX:$PATH

echo "claude $(ver claude), codex $(ver codex); mock at $A:443; $runs runs each, interleaved"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
python3 - "$T" "$BB" "$runs" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
T, BB, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
ws = os.path.join(T, "ws")
CL = ["claude", "-p", "--dangerously-skip-permissions", "BBTOOL: write the test file"]
CX = ["codex", "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "BBTOOL: write the test file"]

def fresh_ws():
    shutil.rmtree(ws, ignore_errors=True)
    os.makedirs(ws)
    os.chown(ws, 65534, 65534)

def first_request(t0):
    """Seconds from t0 to the first model request the mock logged (a Responses POST or WebSocket upgrade)."""
    for line in open(os.path.join(T, "api.log")):
        r = json.loads(line)
        if r.get("t", 0) >= t0 and r.get("path", "").split("?")[0].endswith("/responses") and r.get("method"):
            return r["t"] - t0
    return float("nan")

def run(kind, where):
    fresh_ws()
    cmd = CL if kind == "claude" else CX
    if where == "bottle":
        argv = [BB, "bottle", "run", "cl" if kind == "claude" else "cx", "--hosts", os.path.join(T, "hosts"), "--"] + cmd
        argv = ["sh", "-c", 'cd "$0" && exec "$@"', ws] + argv
    else:
        argv = ["unshare", "--mount", "--propagation", "private", "bash", os.path.join(T, "host.sh"), ws] + cmd
    t0 = time.time()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.time() - t0
    okf = open(os.path.join(ws, "tool-out.txt")).read() if os.path.exists(os.path.join(ws, "tool-out.txt")) else ""
    if p.returncode != 0 or okf != "written-by-the-tool" or b"BB-DONE" not in p.stdout:
        sys.exit("%s on the %s failed (%d): %s %s" % (kind, where, p.returncode, p.stdout[-300:], p.stderr[-600:]))
    return dt, first_request(t0)

res = {}
for kind in ("claude", "codex"):
    for where in ("host", "bottle"):
        run(kind, where)  # warm-up: page cache, the CLI's first-run files
    for i in range(runs):
        for where in ("host", "bottle") if i % 2 == 0 else ("bottle", "host"):
            res.setdefault((kind, where), []).append(run(kind, where))
for kind, target in (("claude", 1.1), ("codex", 1.2)):
    h = [d for d, _ in res[(kind, "host")]]
    b = [d for d, _ in res[(kind, "bottle")]]
    print("%-6s host   : median %6.2f s (min %.2f, max %.2f)" % (kind, statistics.median(h), min(h), max(h)))
    print("%-6s bottle : median %6.2f s (min %.2f, max %.2f)" % (kind, statistics.median(b), min(b), max(b)))
    print("%-6s ratio bottle/host: %.2fx  (target <= %.1fx)" % (kind, statistics.median(b) / statistics.median(h), target))
fh = [f for _, f in res[("codex", "host")]]
fb = [f for _, f in res[("codex", "bottle")]]
print("codex first model request after start: bottle median %.2f s (max %.2f), host median %.2f s  (target < 1 s)"
      % (statistics.median(fb), max(fb), statistics.median(fh)))
PY
