#!/bin/sh
# Runs test binaries of one build variant with the sanitizers set to fail
# loudly, prints one verdict per binary and a closing "N passed, N failed".
# A sanitizer report, a crash or a non-zero exit fails the binary.
# Usage: test/run.sh VARIANT BUILDDIR BINARY...
set -u
variant=$1 build=$2
shift 2

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=23:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=24"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"
# Every test runs in a fork of its own (Check's default); a hung test is
# killed by Check's per-test timeout, set in each suite.
export CK_FORK=yes

log="$build/test-logs"
mkdir -p "$log"
passed=0 failed=0 checks=0 bad=""
for bin in "$@"; do
	name=$(basename "$bin")
	if "$bin" >"$log/$name.log" 2>&1; then
		status=ok
	else
		status=FAIL
	fi
	# Sanitizer output from a forked test child can be the only sign.
	if grep -qE 'ERROR: (Address|Leak|Thread|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$log/$name.log"; then
		status=FAIL
	fi
	n=$(sed -n 's/.*Checks: \([0-9]*\).*/\1/p' "$log/$name.log" | tail -n 1)
	checks=$((checks + ${n:-0}))
	if [ $status = ok ]; then
		passed=$((passed + 1))
		printf '  %-6s %-28s %s checks\n' ok "$name" "${n:-?}"
	else
		failed=$((failed + 1))
		bad="$bad $name"
		printf '  %-6s %-28s (log: %s)\n' FAIL "$name" "$log/$name.log"
		sed 's/^/    | /' "$log/$name.log" | tail -n 60
	fi
done
echo "$variant: $checks checks in $((passed + failed)) binaries"
echo "$variant: $passed passed, $failed failed"
# For the closing line of make test (test/summary.sh).
echo "$checks $failed" >"$build/test-summary"
[ $failed -eq 0 ]
