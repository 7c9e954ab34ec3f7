#!/usr/bin/env python3
# scan-corpus.py - the scanning benchmark's inputs, made reproducibly: traffic-like bodies or keyword-dense text.
# Usage: scripts/bench/scan-corpus.py traffic|dense OUT [MB]   (default 20 MB)
#        scripts/bench/scan-corpus.py ere RULES_JSON OUT_ERE [OUT_TSV]
#   ere: the rules of `bb scan --list-rules --json` translated to POSIX ERE as far as the syntax goes
#   ((?:) and (?i:) groups become plain groups, the whole pattern is then matched case-blind; lazy
#   quantifiers become greedy; \xHH becomes the byte), one per line for grep -f; OUT_TSV gets
#   "icase<US>ere<US>original" lines (US: the 0x1f separator, as an ERE may hold a tab) for the
#   libc comparison (test_re --vs-libc).
#
# traffic: what an agent's egress carries, built from text on this machine (fixed seed, sorted file lists):
#   45% LLM API requests: JSON with a system prompt, user prose, and tool results holding slices of real
#       source files (Python standard library, C headers), so key, token, secret and password occur as often
#       as they do in code;
#   25% LLM responses as server-sent events (40-byte text deltas, usage counts, message ids);
#   20% forge and registry API responses (commit shas, node ids, sha512 integrity strings, tarball URLs):
#       long high-entropy values that are not secrets;
#   10% documentation pages (the plain-text files of /usr/share/doc).
# dense: 40 words of which 4 are keywords of the generic rule (key, token, secret, password), so one every
#   ~70 bytes, in JSON, prose and code shapes: the worst honest case for a keyword prefilter.
import glob, json, random, string, sys

def traffic(path, size_limit):
    random.seed(11)
    def files(pattern, limit):
        out = []
        for p in sorted(glob.glob(pattern, recursive=True))[:limit]:
            try:
                with open(p, encoding="utf-8") as f:
                    s = f.read()
                if 200 < len(s):
                    out.append(s)
            except (OSError, UnicodeDecodeError):
                pass
        return out
    code = files("/usr/lib/python3*/**/*.py", 4000) + files("/usr/include/**/*.h", 2000)
    docs = files("/usr/share/doc/**/README*", 400) + files("/usr/share/doc/**/*.txt", 400) + files("/usr/share/doc/*/copyright", 400)
    if not code or not docs:
        sys.exit("scan-corpus.py: no source or doc text found under /usr to build the corpus from")
    b62 = string.ascii_letters + string.digits
    def rid(n, alphabet=b62):
        return "".join(random.choice(alphabet) for _ in range(n))
    def slice_of(texts, n):
        s = random.choice(texts)
        at = random.randrange(max(1, len(s) - n))
        return s[at:at + n]
    def prose(n):
        return " ".join(slice_of(docs, n).split())
    def request():
        msgs = []
        for turn in range(random.randint(1, 3)):
            msgs.append({"role": "user", "content": [{"type": "text", "text": prose(random.randint(100, 600))}]})
            tid = "toolu_" + rid(24)
            msgs.append({"role": "assistant", "content": [{"type": "tool_use", "id": tid, "name": "read_file",
                                                           "input": {"path": "src/" + rid(8, string.ascii_lowercase) + ".py"}}]})
            msgs.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid,
                                                      "content": slice_of(code, random.randint(1500, 6000))}]})
        return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 8192, "stream": True,
                           "system": prose(400), "messages": msgs,
                           "tools": [{"name": "read_file", "description": "Read a file from the workspace",
                                      "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]})
    def response():
        mid = "msg_01" + rid(22)
        ev = ["event: message_start\ndata: " + json.dumps({"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": random.randint(100, 90000), "cache_read_input_tokens": random.randint(0, 50000),
                      "output_tokens": 1}}})]
        text = prose(random.randint(800, 3000)) + "\n```python\n" + slice_of(code, 800) + "\n```\n"
        for i in range(0, len(text), 40):
            ev.append("event: content_block_delta\ndata: " + json.dumps(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text[i:i + 40]}}))
        ev.append("event: message_delta\ndata: " + json.dumps(
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": random.randint(50, 4000)}}))
        return "\n\n".join(ev) + "\n\n"
    def registry():
        if random.random() < 0.5:
            items = []
            for _ in range(random.randint(3, 8)):
                sha = rid(40, "0123456789abcdef")
                items.append({"sha": sha, "node_id": "C_kwDO" + rid(30), "commit": {
                    "author": {"name": "Dev " + rid(5, string.ascii_lowercase), "email": rid(6, string.ascii_lowercase) + "@example.org",
                               "date": "2024-05-%02dT10:00:00Z" % random.randint(1, 28)},
                    "message": prose(random.randint(40, 300)), "tree": {"sha": rid(40, "0123456789abcdef")},
                    "url": "https://api.github.com/repos/o/r/git/commits/" + sha},
                    "html_url": "https://github.com/o/r/commit/" + sha, "parents": [{"sha": rid(40, "0123456789abcdef")}]})
            return json.dumps(items, indent=2)
        name = rid(7, string.ascii_lowercase)
        vers = {}
        for v in range(random.randint(3, 10)):
            ver = "1.%d.%d" % (v, random.randint(0, 9))
            vers[ver] = {"name": name, "version": ver, "description": prose(120),
                         "dist": {"integrity": "sha512-" + rid(86, b62 + "+/") + "==", "shasum": rid(40, "0123456789abcdef"),
                                  "tarball": "https://registry.npmjs.org/%s/-/%s-%s.tgz" % (name, name, ver)},
                         "dependencies": {rid(6, string.ascii_lowercase): "^2.%d.0" % random.randint(0, 9)}}
        return json.dumps({"name": name, "versions": vers})
    def page():
        return slice_of(docs, random.randint(3000, 9000))
    kinds = [(0.45, request), (0.70, response), (0.90, registry), (1.0, page)]
    out, size = [], 0
    while size < size_limit:
        r = random.random()
        s = next(f for p, f in kinds if r < p)()
        out.append(s)
        size += len(s)
    open(path, "w").write("".join(out))


def dense(path, size_limit):
    random.seed(7)
    words = "the of and to in is for on that with as build test request response token user agent model file data error value code repo commit branch push config key secret password api client server".split()
    out = []
    size = 0
    while size < size_limit:
        kind = random.random()
        if kind < 0.4:
            doc = {"id": random.randrange(1 << 30), "object": "chat.completion", "model": "model-x",
                   "choices": [{"index": i, "message": {"role": "assistant", "content": " ".join(random.choices(words, k=60))}} for i in range(3)],
                   "usage": {"prompt_tokens": random.randrange(999), "completion_tokens": random.randrange(999)}}
            s = json.dumps(doc, indent=1) + "\n"
        elif kind < 0.7:
            s = "\n".join(" ".join(random.choices(words, k=14)) + "." for _ in range(20)) + "\n"
        else:
            s = "".join(f"    int {random.choice(words)}_{i} = config_get(cfg, \"{random.choice(words)}\", {random.randrange(100)});\n" for i in range(30))
        out.append(s)
        size += len(s)
    open(path, "w").write("".join(out))


def to_ere(p):
    """lib/re syntax to POSIX ERE (GNU grep and musl extensions \b \w), or None when it does not go."""
    out, i, n = [], 0, len(p)
    shorthand_out = {"s": "[[:space:]]", "S": "[^[:space:]]", "d": "[0-9]", "D": "[^0-9]", "w": "[[:alnum:]_]", "W": "[^[:alnum:]_]"}
    shorthand_in = {"s": "[:space:]", "d": "0-9", "w": "[:alnum:]_"}
    ctrl = {"t": "\t", "r": "\r", "f": "\f", "v": "\v"}
    special = set(".[]()*+?{}|^$\\")
    while i < n:
        c = p[i]
        if c == "\\":
            e = p[i + 1]
            if e in shorthand_out:
                out.append(shorthand_out[e])
            elif e in ctrl:
                out.append(ctrl[e])
            elif e == "x":
                ch = chr(int(p[i + 2:i + 4], 16))
                if ch == "\n":
                    return None
                out.append("\\" + ch if ch in special else ch)
                i += 2
            elif e in "nQ":
                return None     # a newline cannot be in a grep pattern line
            else:
                out.append("\\" + e)
            i += 2
            continue
        if c == "[":
            def read(j):
                """One bracket member at j: (kind, text, next) with kind 'c' a char, 's' a class text."""
                if p[j] == "\\":
                    e = p[j + 1]
                    if e in shorthand_in:
                        return "s", shorthand_in[e], j + 2
                    if e == "n":
                        return "s", "", j + 2   # lines hold no newline
                    if e in ctrl:
                        return "c", ctrl[e], j + 2
                    if e == "x":
                        return "c", chr(int(p[j + 2:j + 4], 16)), j + 4
                    return "c", e, j + 2
                return "c", p[j], j + 1
            j, neg, items, flags = i + 1, False, [], set()
            if p[j] == "^":
                neg, j = True, j + 1
            while p[j] != "]":
                if p.startswith("[:", j):
                    k = p.index(":]", j) + 2
                    items.append(p[j:k])
                    j = k
                    continue
                kind, ch, j = read(j)
                if kind == "s":
                    items.append(ch)
                elif p[j] == "-" and p[j + 1] != "]":
                    _, hi, j = read(j + 1)
                    items.append(ch + "-" + hi)
                elif ch in "]-^":
                    flags.add(ch)
                else:
                    items.append(ch)
            out.append("[" + ("^" if neg else "") + ("]" if "]" in flags else "") + "".join(items) +
                       ("^" if "^" in flags else "") + ("-" if "-" in flags else "") + "]")
            i = j + 1
            continue
        if p.startswith("(?i)", i):
            i += 4
            continue
        if p.startswith("(?i:", i) or p.startswith("(?:", i):
            out.append("(")
            i += 4 if p[i + 2] == "i" else 3
            continue
        if p.startswith("(?", i):
            return None
        if c == "?" and out and (out[-1] in ("*", "+", "?") or out[-1].endswith("}")):
            i += 1          # lazy -> greedy
            continue
        if c == "{":
            k = p.index("}", i)
            out.append(p[i:k + 1])
            i = k + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)

def ere(rules_json, out_ere, out_tsv=None):
    rules = [r for r in json.load(open(rules_json)) if r["kind"] == "rule"]
    lines, tsv = [], []
    for r in rules:
        e = to_ere(r["regex"])
        if e is None:
            continue
        lines.append(e)
        tsv.append(f"{int('(?i' in r['regex'])}\x1f{e}\x1f{r['regex']}")
    open(out_ere, "w").write("\n".join(lines) + "\n")
    if out_tsv:
        open(out_tsv, "w").write("\n".join(tsv) + "\n")
    print(f"ERE: {len(lines)} of {len(rules)} rules translate", file=sys.stderr)

if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "ere":
        ere(*sys.argv[2:5])
        sys.exit(0)
    if len(sys.argv) < 3 or sys.argv[1] not in ("traffic", "dense"):
        sys.exit("usage: scan-corpus.py traffic|dense OUT [MB] | ere RULES_JSON OUT_ERE [OUT_TSV]")
    mb = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    (traffic if sys.argv[1] == "traffic" else dense)(sys.argv[2], mb * 1_000_000)
