#!/bin/sh
# The closing line of make test: every Check test of every build variant
# and every browser check, as "test: N passed, N failed".
# Usage: test/summary.sh BUILDDIR...   (run after test/run.sh and the browser test)
set -eu
passed=0 failed=0
for build in "$@"; do
	read -r checks bad <"$build/test-summary"
	passed=$((passed + checks)) failed=$((failed + bad))
done
line=$(sed -n 's/^browser: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' build/browser-summary)
passed=$((passed + ${line% *})) failed=$((failed + ${line#* }))
echo "test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
