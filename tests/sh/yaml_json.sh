#!/usr/bin/env bash
# yaml_json.sh - libyaml and cJSON inside the real binary: frontmatter to JSON, JSON round trips, refusals.
. "$(dirname "$0")/lib.sh"

cat >"$T/web.md" <<'MD'
---
# a bottle manifest, as bot-bottle writes them
extends: base
env:
  GIT_AUTHOR_NAME: "Ada"
  EMPTY: ""
egress:
  routes:
    - host: api.example.com
      path_allowlist: ["/v1/", '/v2/']
      auth: {scheme: Bearer, token_ref: TOKEN}
supervise: true
count: 3
---
# The prompt

Do the thing.
MD
out=$("$BB" probe yaml "$T/web.md"); rc=$?
want='{"extends":"base","env":{"GIT_AUTHOR_NAME":"Ada","EMPTY":""},"egress":{"routes":[{"host":"api.example.com","path_allowlist":["/v1/","/v2/"],"auth":{"scheme":"Bearer","token_ref":"TOKEN"}}]},"supervise":true,"count":3}'
[ $rc -eq 0 ] && [ "$(head -n1 <<<"$out")" = "$want" ] && ok "frontmatter parsed to the expected tree" || fail "frontmatter parsed to the expected tree" "$out"
[[ $out == *"body: 28 bytes"* ]] && ok "body after the frontmatter kept" || fail "body after the frontmatter kept" "$out"

# The same frontmatter read by an independent YAML parser (Python's, if present) agrees.
if python3 -c 'import yaml' 2>/dev/null; then
	py=$(python3 -c 'import sys,yaml,json; t=open(sys.argv[1]).read().split("---\n")[1]; print(json.dumps(yaml.safe_load(t),separators=(",",":")))' "$T/web.md")
	[ "$py" = "$want" ] && ok "agrees with PyYAML" || fail "agrees with PyYAML" "$py"
else
	skip "agrees with PyYAML" "python3-yaml is not installed"
fi

printf -- '---\na: 1\nb: [x\n---\n' >"$T/bad.md"
out=$("$BB" probe yaml "$T/bad.md" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"bad.md line "*"column"* ]] && ok "YAML syntax error names file, line and column" || fail "YAML syntax error names file, line and column" "rc=$rc $out"
printf -- '---\na: 1\na: 2\n---\n' >"$T/dup.md"
out=$("$BB" probe yaml "$T/dup.md" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"dup.md line 3 column 1: duplicate key a"* ]] && ok "duplicate key refused with its line" || fail "duplicate key refused with its line" "rc=$rc $out"
printf 'no frontmatter\n' >"$T/none.md"
out=$("$BB" probe yaml "$T/none.md" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"none.md: line 1: no YAML frontmatter"* ]] && ok "missing frontmatter refused" || fail "missing frontmatter refused" "rc=$rc $out"
head -c 1100000 /dev/zero | tr '\0' 'a' >"$T/huge.md"
out=$("$BB" probe yaml "$T/huge.md" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"larger than 1048576"* ]] && ok "file size cap" || fail "file size cap" "rc=$rc $out"

doc='{"b":[1,2.5,-3,true,false,null],"a":{"s":"line\nbreak \"q\" é ✓"},"e":{},"l":[]}'
out=$(printf '%s' "$doc" | "$BB" probe json); rc=$?
[ $rc -eq 0 ] && [ "$out" = '{"b":[1,2.5,-3,true,false,null],"a":{"s":"line\nbreak \"q\" é ✓"},"e":{},"l":[]}' ] && ok "JSON round trip is exact" || fail "JSON round trip is exact" "$out"
if command -v python3 >/dev/null; then
	printf '%s' "$doc" >"$T/d.json"
	same=$(printf '%s' "$out" | python3 -c 'import sys,json; a=json.load(open(sys.argv[1])); b=json.load(sys.stdin); print(a==b)' "$T/d.json")
	[ "$same" = True ] && ok "round trip equal per Python's json" || fail "round trip equal per Python's json" "$same"
fi
out=$(printf '{"a": [1, 2,]}' | "$BB" probe json 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"invalid JSON at line 1 column"* ]] && ok "invalid JSON refused with its position" || fail "invalid JSON refused with its position" "rc=$rc $out"
out=$(printf '%0.s[' $(seq 100) | "$BB" probe json 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"nesting deeper than 64"* ]] && ok "JSON nesting limit" || fail "JSON nesting limit" "rc=$rc $out"
