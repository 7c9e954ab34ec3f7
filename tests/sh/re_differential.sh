#!/usr/bin/env bash
# re_differential.sh - lib/re against Python's re on random patterns from the shared syntax subset (test_re --match).
# RE_DIFF_SEED picks another set of patterns; RE_DIFF_N how many (default 300).
. "$(dirname "$0")/lib.sh"
: "${UNIT_DIR:?UNIT_DIR must name the built unit tests}"
prog=$UNIT_DIR/test_re
seed=${RE_DIFF_SEED:-1}
if ! command -v python3 >/dev/null 2>&1; then
	skip "re differential against Python" "python3 is not installed"
	exit 0
fi
if [ ! -x "$prog" ]; then
	fail "re differential against Python" "$prog is not built"
	exit 0
fi

cat >"$T/diff.py" <<'PY'
# Random patterns rendered twice: in our (Go) syntax and as a Python bytes pattern with the same meaning.
# Python differs from Go on flags that are not at the start, on $ (before a final newline), on \s (has \v)
# and on repeats of subpatterns that can match empty; the Python rendering spells those out or avoids them.
import random, re, subprocess, sys

prog, tmp, seed, total = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
LITS = "aabbcAB01 _-.\n"
SPACE = r"\t\n\f\r "

class Gen:
    def __init__(self):
        self.ncap = 0

    def lit(self, f):
        c = rnd.choice(LITS)
        if c == "\n":
            o = p = r"\n"
        elif c in ".-":
            o = p = "\\" + c
        else:
            o = p = c
        if "i" in f and c.isalpha():
            p = "(?i:%s)" % p
        return o, p, False

    def cls(self, f):
        neg = rnd.random() < 0.3
        items_o, items_p = [], []
        for _ in range(rnd.randint(1, 3)):
            k = rnd.random()
            if k < 0.35:
                c = rnd.choice("abcxAB019_. ")
                items_o.append(c); items_p.append(c)
            elif k < 0.65:
                r = rnd.choice(["a-c", "0-9", "x-z", "A-C", "a-z", "A-Z"])
                items_o.append(r); items_p.append(r)
            elif k < 0.75:
                items_o.append(r"\-"); items_p.append(r"\-")
            else:
                e = rnd.choice([r"\d", r"\w", r"\s"])
                items_o.append(e); items_p.append(SPACE if e == r"\s" else e)
        o = "[" + ("^" if neg else "") + "".join(items_o) + "]"
        p = "[" + ("^" if neg else "") + "".join(items_p) + "]"
        if "i" in f:
            p = "(?i:%s)" % p
        return o, p, False

    def perl(self, f):
        e = rnd.choice([r"\d", r"\D", r"\w", r"\W", r"\s", r"\S"])
        p = {r"\s": "[" + SPACE + "]", r"\S": "[^" + SPACE + "]"}.get(e, e)
        return e, p, False

    def anchor(self, f):
        a = rnd.choice(["^", "$", r"\b", r"\B", r"\A", r"\z"])
        m = "m" in f
        p = {"^": "(?m:^)" if m else r"\A", "$": "(?m:$)" if m else r"\Z", r"\b": r"\b", r"\B": r"\B",
             r"\A": r"\A", r"\z": r"\Z"}[a]
        return a, p, True

    def group(self, d, f):
        k = rnd.random()
        if k < 0.5 and self.ncap < 12:
            self.ncap += 1
            o, p, n = self.alt(d + 1, f)
            if rnd.random() < 0.2:
                name = "g%d" % self.ncap
                return "(?P<%s>%s)" % (name, o) if rnd.random() < 0.5 else "(?<%s>%s)" % (name, o), "(?P<%s>%s)" % (name, p), n
            return "(" + o + ")", "(" + p + ")", n
        if k < 0.75:
            o, p, n = self.alt(d + 1, f)
            return "(?:" + o + ")", "(?:" + p + ")", n
        fl = rnd.choice("ism")
        on = fl not in f or rnd.random() < 0.3
        nf = (f | {fl}) if on else (f - {fl})
        o, p, n = self.alt(d + 1, nf)
        return "(?%s%s:%s)" % ("" if on else "-", fl, o), "(?:" + p + ")", n

    def atom(self, d, f):
        k = rnd.random()
        if k < 0.4:
            return self.lit(f), True
        if k < 0.5:
            return (".", "(?s:.)" if "s" in f else "(?-s:.)", False), True
        if k < 0.65:
            return self.cls(f), True
        if k < 0.72:
            return self.perl(f), True
        if k < 0.82:
            return self.anchor(f), False
        if d < 3:
            return self.group(d, f), True
        return self.lit(f), True

    def quant(self, nullable):
        k = rnd.random()
        if k < 0.65:
            return "", nullable
        q = rnd.choice(["*", "+", "?", "{2}", "{1,}", "{0,2}", "{1,3}", "{2,}", "{0}"])
        if nullable and q != "?":
            q = "?"
        if rnd.random() < 0.3:
            q += "?"
        return q, nullable or q[0] in "*?" or q.startswith("{0")

    def cat(self, d, f):
        o = p = ""
        nullable = True
        for _ in range(rnd.randint(1, 4)):
            if rnd.random() < 0.07:  # a flag switch: to the end of the group, later alternatives included
                fl = rnd.choice("ism")
                if fl in f and rnd.random() < 0.6:
                    f = f - {fl}; o += "(?-%s)" % fl
                else:
                    f = f | {fl}; o += "(?%s)" % fl
                continue
            (ao, ap, an), quantifiable = self.atom(d, f)
            if quantifiable:
                q, an = self.quant(an)
                ao += q; ap += q
            o += ao; p += ap
            nullable = nullable and an
        return o, p, nullable, f

    def alt(self, d, f):
        os_, ps_, n = [], [], False
        for _ in range(rnd.choice([1, 1, 1, 2, 3])):
            o, p, nn, f = self.cat(d, f)
            os_.append(o); ps_.append(p); n = n or nn
        return "|".join(os_), "|".join(ps_), n

def fmt(m):
    if not m:
        return "nomatch"
    return " ".join("-" if a < 0 else "%d,%d" % (a, b) for a, b in (m.span(g) for g in range(len(m.groups()) + 1)))

def run(pat, datas, nfa):
    """test_re --match on each input: one line each."""
    paths = []
    for k, data in enumerate(datas):
        paths.append("%s/in%d" % (tmp, k))
        with open(paths[-1], "wb") as fh:
            fh.write(data)
    args = [prog, "--match"] + (["--nfa"] if nfa else []) + [pat] + paths
    r = subprocess.run(args, capture_output=True)
    out = r.stdout.decode("latin-1").splitlines()
    return out + ["(no output: exit %d %s)" % (r.returncode, r.stderr[-200:])] * (len(datas) - len(out))

batch = 50
cases = skipped = matched = 0
for b0 in range(0, total, batch):
    bad = None
    for i in range(b0, min(b0 + batch, total)):
        g = Gen()
        o, p, _ = g.alt(0, frozenset())
        try:
            pr = re.compile(p.encode("latin-1"))
        except re.error:
            skipped += 1
            continue
        datas = []
        for _ in range(5):
            alpha = rnd.choice([LITS, "ab\n ", "aAbB0_- .x\n"])
            data = "".join(rnd.choice(alpha) for _ in range(rnd.randint(0, 24))).encode()
            if not data and r"\B" in o:
                continue  # Python's \B never matches an empty string; Go's does
            datas.append(data)
        if not datas:
            continue
        wants = [fmt(pr.search(d)) for d in datas]
        matched += sum(w != "nomatch" for w in wants)
        for nfa in (False, True):
            gots = run(o, datas, nfa)
            for data, want, got in zip(datas, wants, gots):
                cases += 1
                if got != want and bad is None:
                    bad = "pattern %r (Python %r) on %r%s: got %s, Python %s" % (o, p, data, " (Pike VM)" if nfa else "", got, want)
    name = "re agrees with Python on patterns %d-%d (seed %d)" % (b0 + 1, min(b0 + batch, total), seed)
    print(("ok - %s" % name) if bad is None else ("not ok - %s: %s" % (name, bad)), flush=True)
print("# %d comparisons, %d with a match, %d patterns Python refused" % (cases, matched, skipped))
PY
python3 "$T/diff.py" "$prog" "$T" "$seed" "${RE_DIFF_N:-300}" 2>&1 || fail "re differential against Python" "the driver failed"
