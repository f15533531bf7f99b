#!/bin/sh
# Lays the pristine CivetWeb of SRC (third_party/civetweb) out in OUT and
# applies SRC/patches/series there, in order. Any patch that does not apply
# cleanly (fuzz or offset included) stops the build: the queue is kept
# exact against the pinned release.
# Usage: scripts/civetweb-patch.sh SRC OUT
set -eu
src=$1 out=$2
rm -rf "$out"
mkdir -p "$out"
cp -R "$src/src" "$src/include" "$out/"
[ -f "$src/patches/series" ] || exit 0
while read -r name; do
	case "$name" in '' | '#'*) continue ;; esac
	patch -d "$out" -p1 -F0 --quiet --no-backup-if-mismatch <"$src/patches/$name" || {
		echo "civetweb-patch.sh: $name does not apply to $src" >&2
		exit 1
	}
done <"$src/patches/series"
