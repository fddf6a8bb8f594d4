#!/bin/sh
# SPDX-License-Identifier: MIT
# Run each libFuzzer target (http.c, clienthello.c) briefly over its seed
# corpus, as a test of `make check`. Skips (exit 77) when configure found
# no compiler that builds them. FUZZ_RUNS (default 100000) is how many
# inputs each target tries; new inputs go to a temporary directory, never
# the corpus.
set -u

srcdir=${PORTIER_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=$(dirname "${PORTIER:-./portier}")
runs=${FUZZ_RUNS:-100000}
targets="request response chunked clienthello"

for t in $targets; do
	if [ ! -x "$builddir/tests/fuzz/fuzz_$t" ]; then
		echo "fuzz_$t not built (needs clang with libFuzzer): skipped"
		exit 77
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/portier-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

status=0
for t in $targets; do
	mkdir "$work/$t"
	case $t in
	clienthello) dict=tls.dict ;;
	*) dict=http.dict ;;
	esac
	if "$builddir/tests/fuzz/fuzz_$t" -runs="$runs" -max_len=4096 \
	    -timeout=10 -dict="$srcdir/tests/fuzz/$dict" \
	    -artifact_prefix="$work/$t-" "$work/$t" \
	    "$srcdir/tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1; then
		echo "fuzz_$t: $(grep -E '^Done' "$work/$t.log")"
	else
		tail -n 30 "$work/$t.log"
		for f in "$work/$t"-*; do
			[ -f "$f" ] || continue
			echo "input that failed ($f):"
			od -c "$f" | head -n 40
		done
		echo "fuzz_$t: FAILED"
		status=1
	fi
done
exit $status
