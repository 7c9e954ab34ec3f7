#!/usr/bin/env bash
# banned.sh - no unbounded string functions in our C: strcpy, strcat, sprintf, vsprintf, gets, atoi/atol.
. "$(dirname "$0")/lib.sh"
cd "$TESTS/.."
hits=$(grep -nE '(^|[^_[:alnum:]])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll)[[:space:]]*\(' \
	$(find lib applets host tests/unit tests/fuzz -name '*.[ch]' 2>/dev/null) 2>/dev/null | grep -v 'snprintf\|vsnprintf')
[ -z "$hits" ] && ok "no banned functions in lib/ applets/ host/ tests/" || fail "no banned functions" "$hits"
