#!/usr/bin/env bash
# plan_json.sh - reads `bb bottle plan --json` back as a consumer would and checks it against the documented schema.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/.bb/bottles" "$T/.bb/agents"
cat >"$T/.bb/bottles/base.md" <<'MD'
---
env: {LANG: C.UTF-8}
git-gate:
  user: {name: base-bot, email: base@example.invalid}
  repos:
    app: {url: "ssh://git@git.example.com:2222/org/app.git", key: {provider: static, path: /keys/app}}
---
MD
cat >"$T/.bb/bottles/web.md" <<'MD'
---
extends: base
agent_provider: {template: claude, auth_token: CLAUDE_TOKEN}
env: {ASK: "?prompt", CI: "${CI_TOKEN}"}
egress:
  routes:
    - host: api.example.com
      auth: {scheme: Bearer, token_ref: EXAMPLE_TOKEN}
      matches: [{paths: [{type: prefix, value: /v1/}], methods: [GET]}]
      dlp: {inbound_detectors: false}
supervise: true
---
MD
printf -- '---\nbottle: web\nskills: [review]\ngit-gate: {user: {name: demo-bot}}\n---\nReview the code.\n' >"$T/.bb/agents/demo.md"

if ! command -v python3 >/dev/null; then skip "plan JSON read back" "python3 is not installed"; exit 0; fi
(cd "$T" && BB_HOME=$T EXAMPLE_TOKEN=example-secret-value "$BB" bottle plan demo --json >"$T/plan.json" 2>"$T/err")
rc=$?
[ $rc -eq 0 ] && ok "plan --json exits 0" || fail "plan --json exits 0" "$(cat "$T/err")"

out=$(python3 - "$T/plan.json" <<'PY' 2>&1
import json, sys
p = json.load(open(sys.argv[1]))
def need(cond, what):
    if not cond: raise SystemExit("schema: " + what)
need(p["schema"] == "bb.plan/1", "schema")
need(set(p) == {"schema","agent","bottle","provider","env","egress","git_gate","supervise","dns","daemons","ports","provisioning","notes"}, "top-level keys %s" % sorted(p))
need(p["agent"]["name"] == "demo" and p["agent"]["skills"] == ["review"] and p["agent"]["prompt_bytes"] == 16, "agent")
need(p["bottle"]["extends_chain"] == ["web", "base"], "extends_chain")
need([e["name"] for e in p["env"]] == ["LANG", "ASK", "CI"], "env order")
need(all("value" not in e for e in p["env"]), "env values must never appear")
need(p["env"][2] == {"name": "CI", "source": "host", "host_var": "CI_TOKEN"}, "host env")
routes = p["egress"]["routes"]
need([r["host"] for r in routes] == ["api.anthropic.com", "api.example.com"], "route order")
need(routes[0]["auth"] == {"scheme": "Bearer", "token_slot": "BB_EGRESS_TOKEN_0", "token_ref": "CLAUDE_TOKEN"}, "provider auth")
need(routes[1]["auth"]["token_slot"] == "BB_EGRESS_TOKEN_1", "manifest slot")
need(routes[1]["matches"] == [{"paths": [{"type": "prefix", "value": "/v1/"}], "methods": ["GET"], "headers": []}], "matches")
need(routes[1]["dlp"] == {"outbound": ["token_patterns", "known_secrets"], "inbound": []}, "dlp")
slots = p["egress"]["token_slots"]
need([s["slot"] for s in slots] == ["BB_EGRESS_TOKEN_0", "BB_EGRESS_TOKEN_1"], "slots")
need(slots[0]["present"] is False and slots[1]["present"] is True, "present flags")
g = p["git_gate"]
need(g["user"] == {"name": "demo-bot", "email": "base@example.invalid"}, "agent user overlays the bottle's")
need(g["repos"][0]["port"] == 2222 and g["repos"][0]["key"] == {"provider": "static", "path": "/keys/app"}, "repo")
need(p["daemons"] == ["egress", "dns", "git-gate", "git-http", "supervise"], "daemons")
need(p["dns"]["allow"] == ["api.anthropic.com", "api.example.com"], "dns allow")
need(p["ports"] == {"egress": 9099, "git_gate": 9418, "git_http": 9420, "supervise": 9100, "dns": 53}, "ports")
print("schema ok")
PY
)
[[ $out == "schema ok" ]] && ok "plan JSON read back matches the documented schema" || fail "plan JSON read back matches the documented schema" "$out"
grep -q example-secret-value "$T/plan.json" && fail "token value absent from the plan" "found it" || ok "token value absent from the plan"
# The document is stable: the same input gives the same bytes.
(cd "$T" && BB_HOME=$T EXAMPLE_TOKEN=example-secret-value "$BB" bottle plan demo --json >"$T/plan2.json" 2>&1)
cmp -s "$T/plan.json" "$T/plan2.json" && ok "plan JSON is stable across runs" || fail "plan JSON is stable across runs" "differs"
# bb's own JSON parser reads it too (what the daemons will use).
"$BB" probe json "$T/plan.json" >/dev/null 2>&1 && ok "bb's JSON parser reads the plan" || fail "bb's JSON parser reads the plan" "$("$BB" probe json "$T/plan.json" 2>&1)"
