#!/bin/sh
# Installs the Debian packages groupchat needs when they are missing.
# Usage: scripts/deps.sh [build|fuzz|redis|docs|browser]...   (default: build)
# redis: what the cluster tests run (redis-server, which is also the sentinel of the
# Sentinel tests as `redis-server FILE --sentinel`, and haproxy for the end-to-end test).
# Prints what it installs; does nothing when everything is present.
set -eu

want_build="gcc make pkg-config patch libjwt-dev libhiredis-dev check"
want_redis="redis-server haproxy"
want_fuzz="clang libclang-rt-14-dev"
want_docs="graphviz"

[ $# -gt 0 ] || set -- build
pkgs=""
for kind in "$@"; do
	case "$kind" in
	build) pkgs="$pkgs $want_build" ;;
	fuzz) pkgs="$pkgs $want_fuzz" ;;
	redis) pkgs="$pkgs $want_redis" ;;
	docs) pkgs="$pkgs $want_docs" ;;
	browser)
		pkgs="$pkgs chromium"
		# NodeSource's nodejs bundles npm and conflicts with Debian's npm.
		command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
		command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm" ;;
	*) echo "deps.sh: unknown kind '$kind'" >&2; exit 2 ;;
	esac
done

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps.sh: missing packages:$missing; run as root or install sudo" >&2
	exit 1
fi
echo "deps.sh: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >&2
