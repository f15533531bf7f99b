#!/bin/sh
# The browser test: installs what it needs when missing (Debian's chromium,
# nodejs and npm through scripts/deps.sh; playwright-core from npm into
# test/browser/node_modules), then drives the web client in headless
# Chromium against build/release/groupchat, which must be built already.
# Closes with "browser: N passed, N failed"; exits non-zero on a failure.
# Usage: test/browser/run.sh   (from anywhere)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

if ! command -v chromium >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1 ||
    ! command -v npm >/dev/null 2>&1; then
	scripts/deps.sh browser
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
	echo "browser: installing playwright-core into test/browser/node_modules" >&2
	if [ -f "$here/package-lock.json" ]; then
		(cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
	else
		(cd "$here" && npm install --no-audit --no-fund --loglevel=error) >&2
	fi
fi
bin=${GROUPCHAT_BIN:-build/release/groupchat}
if [ ! -x "$bin" ]; then
	echo "browser: $bin is not built (make VARIANT=release $bin)" >&2
	echo "browser: 0 passed, 1 failed"
	exit 1
fi
exec node "$here/chat.spec.mjs"
