#!/usr/bin/env bash
# fuzz.sh - replays every fuzzer's corpus through its entry point (crashes and sanitizer reports fail).
. "$(dirname "$0")/lib.sh"
: "${FUZZ_DIR:?FUZZ_DIR must name the built replay programs}"
for src in "$TESTS"/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	corpus=$TESTS/fuzz/corpus/${name#fuzz_}
	if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
		fail "$name corpus" "no seed corpus at $corpus"
		continue
	fi
	n=$(ls "$corpus" | wc -l)
	if out=$("$FUZZ_DIR/$name" "$corpus" 2>&1); then
		ok "$name: $n corpus inputs replayed"
	else
		fail "$name: corpus replay" "$(tail -n 5 <<<"$out" | tr '\n' ' ')"
	fi
done
