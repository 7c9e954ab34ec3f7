#!/usr/bin/env bash
# scan-fp.sh - false positives: `bb scan --json` over the unpacked Debian sources of bb's libraries, counted per rule and place.
# Usage: scripts/bench/scan-fp.sh [--json]   (env: BB=path/to/bb, default ./bb; BB_FP_SRC=source cache, default .deps/src)
# The source packages are the ones scripts/deps.sh pins (same versions, Debian's patches applied); they are
# fetched with apt-get source into the cache once. Prints a markdown table (docs/scanning.md has the reasons
# per row): findings per rule, the package and directory they are in, and how many remain once quilt's
# .pc/ copies of patched files (the same lines again) are set aside.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bb=${BB:-$top/bb}
src=${BB_FP_SRC:-$top/.deps/src}
[ -x "$bb" ] || { echo "scan-fp: no bb at $bb (make first, or set BB)" >&2; exit 1; }

# The pinned packages: "name source version suite" lines of the PKGS array in scripts/deps.sh.
mapfile -t pkgs < <(sed -n '/^PKGS=(/,/^)/p' "$top/scripts/deps.sh" | sed -n 's/^[[:space:]]*"\(.*\)"[[:space:]]*$/\1/p')
[ ${#pkgs[@]} -gt 0 ] || { echo "scan-fp: no PKGS in scripts/deps.sh" >&2; exit 1; }

mkdir -p "$src"
for line in "${pkgs[@]}"; do
	read -r name pkg ver suite <<<"$line"
	[ -d "$src/$pkg" ] && continue
	dl=$(mktemp -d)
	echo "scan-fp: fetching $pkg $ver ($suite)" >&2
	if ! (cd "$dl" && apt-get source --download-only -qq "$pkg=$ver" >apt.log 2>&1 &&
		dpkg-source --no-check -x ./*.dsc "$src/$pkg.partial" >unpack.log 2>&1); then
		cat "$dl"/*.log >&2 || true
		rm -rf "$dl" "$src/$pkg.partial"
		echo "scan-fp: could not fetch $pkg $ver: command 'apt-get source $pkg=$ver' (deb-src lines: see scripts/deps.sh)" >&2
		exit 1
	fi
	mv "$src/$pkg.partial" "$src/$pkg"
	rm -rf "$dl"
	rm -f "$src"/*.orig.tar.* "$src"/*.debian.tar.* "$src"/*.dsc 2>/dev/null || true
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s%N)
rc=0
"$bb" scan --json "$src" >"$out" || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -le 1 ] || { echo "scan-fp: bb scan failed (exit $rc)" >&2; exit 1; }

python3 - "$out" "$src" "$ms" "${1:-}" <<'PY'
import collections, json, sys
doc = json.load(open(sys.argv[1]))
root, ms, as_json = sys.argv[2].rstrip("/") + "/", int(sys.argv[3]), sys.argv[4] == "--json"
rows = collections.defaultdict(lambda: {"findings": 0, "copies": collections.Counter()})
for f in doc["findings"]:
    path = f["path"][len(root):] if f["path"].startswith(root) else f["path"]
    parts = path.split("/")
    pkg = parts[0]
    # .pc/PATCH/FILE is quilt's copy of FILE before PATCH: the same finding again (maybe on a shifted line).
    base, copy = parts[1:], "."
    if base and base[0] == ".pc":
        base, copy = base[2:], base[1]
    where = "/".join(base[:-1][:3]) or "."
    key = (f["id"], pkg, where)
    rows[key]["findings"] += 1
    rows[key]["copies"][("/".join(base), f["excerpt"], copy)] += 1
for v in rows.values():
    most = collections.Counter()
    for (file, excerpt, copy), n in v["copies"].items():
        most[(file, excerpt)] = max(most[(file, excerpt)], n)
    v["distinct"] = sum(most.values())
if as_json:
    print(json.dumps([{"rule": k[0], "package": k[1], "dir": k[2], "findings": v["findings"], "distinct": v["distinct"]}
                      for k, v in sorted(rows.items())], indent=1))
    sys.exit(0)
per_rule = collections.Counter()
for k, v in rows.items():
    per_rule[k[0]] += v["findings"]
print(f"{doc['files']} files, {doc['bytes'] / 1e6:.1f} MB, {doc['rules']} rules: "
      f"{len(doc['findings'])} findings in {ms} ms")
print()
print("| rule | findings | package | directory | findings here | without .pc/ copies |")
print("|---|---:|---|---|---:|---:|")
for rule, total in sorted(per_rule.items(), key=lambda x: (-x[1], x[0])):
    first = True
    for k, v in sorted(((k, v) for k, v in rows.items() if k[0] == rule), key=lambda kv: -kv[1]["findings"]):
        print(f"| {rule if first else ''} | {total if first else ''} | {k[1]} | {k[2]} | {v['findings']} | {v['distinct']} |")
        first = False
PY
