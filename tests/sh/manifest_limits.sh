#!/usr/bin/env bash
# manifest_limits.sh - the manifest loader's bounds: extends depth, file size, bytes that are not UTF-8 text.
. "$(dirname "$0")/lib.sh"

chain() { # DIR N: bottles b0 <- b1 <- ... <- b(N-1)
	mkdir -p "$1/.bb/bottles"
	for i in $(seq 0 $(($2 - 1))); do
		if [ "$i" = 0 ]; then printf -- '---\nsupervise: true\n---\n'; else printf -- '---\nextends: b%d\n---\n' $((i - 1)); fi >"$1/.bb/bottles/b$i.md"
	done
}

chain "$T/32" 32
out=$(cd "$T" && BB_HOME=$T/32 "$BB" bottle plan b31 --json 2>&1); rc=$?
[ $rc -eq 0 ] && [[ $out == *'"b31", "b30"'*'"b0"]'* ]] && ok "extends chain of 32 bottles resolves" || fail "extends chain of 32 bottles resolves" "rc=$rc $(head -c 300 <<<"$out")"
chain "$T/33" 33
out=$(cd "$T" && BB_HOME=$T/33 "$BB" bottle validate b32 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"extends chain is deeper than 32 bottles"* ]] && ok "extends chain of 33 bottles refused" || fail "extends chain of 33 bottles refused" "rc=$rc $(head -c 300 <<<"$out")"

mkdir -p "$T/big/.bb/bottles"
{ printf -- '---\nenv:\n'; for i in $(seq 40000); do printf '  VAR_%d: "value-%d"\n' "$i" "$i"; done; printf -- '---\n'; } >"$T/big/.bb/bottles/big.md"
out=$(cd "$T" && BB_HOME=$T/big "$BB" bottle validate 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"big.md: error: could not read "*"file is larger than 1 MiB"* ]] && ok "file over 1 MiB refused" || fail "file over 1 MiB refused" "rc=$rc $(head -c 300 <<<"$out")"

mkdir -p "$T/bytes/.bb/bottles"
printf -- '---\nenv: {A: "x\377y"}\n---\n' >"$T/bytes/.bb/bottles/latin.md"
printf -- '---\nenv: {A: "x\0y"}\n---\n' >"$T/bytes/.bb/bottles/nul.md"
printf -- '---\nenv: {A: "\355\240\200"}\n---\n' >"$T/bytes/.bb/bottles/surrogate.md"
out=$(cd "$T" && BB_HOME=$T/bytes "$BB" bottle validate 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"latin.md: error: byte 15 (0xff) is not valid UTF-8"* ]] && ok "invalid UTF-8 named by byte offset" || fail "invalid UTF-8 named by byte offset" "$out"
[[ $out == *"nul.md: error: byte 15 (0x00) is a NUL byte"* ]] && ok "NUL byte named by byte offset" || fail "NUL byte named by byte offset" "$out"
[[ $out == *"surrogate.md: error: byte 14 (0xed) is not valid UTF-8"* ]] && ok "UTF-8 surrogate refused" || fail "UTF-8 surrogate refused" "$out"

# A directory where a manifest file should be, and an unreadable one (root reads everything: skip that part).
mkdir -p "$T/odd/.bb/bottles/dir.md"
out=$(cd "$T" && BB_HOME=$T/odd "$BB" bottle validate 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"dir.md: error: could not read "* ]] && ok "a directory named like a manifest is an error" || fail "a directory named like a manifest is an error" "rc=$rc $out"

# Many errors in one file: all reported, up to the cap, with a count of the rest.
mkdir -p "$T/many/.bb/bottles"
{ printf -- '---\negress:\n  routes:\n'; for i in $(seq 300); do printf '    - {host: "bad host %d"}\n' "$i"; done; printf -- '---\n'; } >"$T/many/.bb/bottles/many.md"
out=$(cd "$T" && BB_HOME=$T/many "$BB" bottle validate 2>&1); rc=$?
n=$(grep -c 'is not a valid host name' <<<"$out")
[ $rc -eq 1 ] && [ "$n" -eq 200 ] && [[ $out == *"(100 more problems not shown)"* ]] && ok "300 errors: 200 shown, the rest counted" || fail "300 errors: 200 shown, the rest counted" "rc=$rc n=$n $(tail -n 2 <<<"$out")"
