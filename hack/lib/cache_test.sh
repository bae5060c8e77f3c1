#!/usr/bin/env bash
# Tests hack/lib/cache.sh: several clones building one entry at the same
# moment all succeed, the entry is built once and never seen half-written, a
# failed build leaves no entry and no temporary file. Needs nothing but bash
# and flock; runs in a temporary cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/cache.sh"
export PLINTH_CACHE; PLINTH_CACHE=$(mktemp -d)
trap 'rm -rf "$PLINTH_CACHE"' EXIT
fail() { echo "cache_test: FAIL: $*" >&2; exit 1; }

# slow_build OUT: writes OUT in two steps, counting how often it ran.
slow_build() {
	echo build >>"$PLINTH_CACHE/builds"
	printf 'first half\n' >"$1"
	sleep 1
	printf 'second half\n' >>"$1"
}
entry=$(cache_root)/bin/thing-v1/thing
pids=()
for i in 1 2 3 4; do
	( cache_build "$entry" slow_build && [ "$(wc -l <"$entry")" = 2 ] ) >"$PLINTH_CACHE/clone$i.log" 2>&1 &
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "clone $((i+1)) failed: $(cat "$PLINTH_CACHE/clone$((i+1)).log")"
done
[ "$(wc -l <"$PLINTH_CACHE/builds")" = 1 ] || fail "built $(wc -l <"$PLINTH_CACHE/builds") times, want once"
[ "$(cat "$entry")" = "first half
second half" ] || fail "entry holds: $(cat "$entry")"

failing_build() { echo partial >"$1"; return 3; }
broken=$(cache_root)/bin/broken/broken
if cache_build "$broken" failing_build 2>/dev/null; then fail "a failed build succeeded"; fi
[ ! -e "$broken" ] || fail "a failed build left its entry"
left=$(find "$(dirname "$broken")" -mindepth 1 ! -name '*.lock')
[ -z "$left" ] || fail "a failed build left $left"

link_atomic "$entry" "$PLINTH_CACHE/link/thing"
[ "$(readlink "$PLINTH_CACHE/link/thing")" = "$entry" ] || fail "link_atomic"
echo "cache_test: ok (4 concurrent builds of one entry: built once, all succeeded)"
