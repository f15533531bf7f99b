#!/bin/sh
# Runs the benchmark scenarios against build/release/groupchat and prints
# one table. Each scenario gets a fresh server on a free loopback port, its
# member cap sized to the scenario (CivetWeb starts one worker per possible
# member, so an oversized cap would inflate every RSS and thread figure),
# and the server is stopped with SIGTERM afterwards. `make bench` runs this
# from the repository root.
#
# Environment:
#   BENCH_SCENARIOS  scenarios, in order (fanout groups big latency capacity
#                    stall)
#   BENCH_DURATION   measured seconds per scenario (10)
#   BENCH_ARGS       more groupchat-bench flags, e.g. "--size 256"
#   BENCH_CSV        where the CSV rows go (build/bench/results.csv)
#   BENCH_SERVER     the server binary (build/release/groupchat)
set -u

gen=build/bench/groupchat-bench
server=${BENCH_SERVER:-build/release/groupchat}
scenarios=${BENCH_SCENARIOS:-fanout groups big latency capacity stall}
duration=${BENCH_DURATION:-10}
args=${BENCH_ARGS:-}
csv=${BENCH_CSV:-build/bench/results.csv}
log=build/bench/server.log

for f in "$gen" "$server"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f is missing: run make bench" >&2
		exit 2
	fi
done
"$gen" --self-test >/dev/null || exit 1

# Both sides need a descriptor per member, the server a thread or two, and
# the write-call counter a descriptor per server thread: root may raise the
# hard limit, anyone else gets the hard limit they have. (ulimit -n and -H
# are not POSIX, but dash and bash both have them.)
# shellcheck disable=SC3045
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# shellcheck disable=SC3045
echo "run.sh: ulimit -n $(ulimit -n), pid_max $(cat /proc/sys/kernel/pid_max)," \
    "threads-max $(cat /proc/sys/kernel/threads-max)," \
    "vm.max_map_count $(cat /proc/sys/vm/max_map_count)" >&2

# Write-call counts read the raw_syscalls tracepoint's id from tracefs.
if [ "$(id -u)" = 0 ] && [ -d /sys/kernel/tracing ] &&
    [ ! -e /sys/kernel/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing &&
	    echo "run.sh: mounted tracefs on /sys/kernel/tracing" >&2
fi

# Stops the server: SIGTERM, then up to 10 s for it to exit, then SIGKILL.
stop() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		echo "run.sh: server $1 ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$1"
	fi
	wait "$1"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "run.sh: server exited with status $rc (log: $log)" >&2
		failed=1
	fi
}

mkdir -p "$(dirname "$csv")"
rm -f "$csv"
: >"$log"
header=
failed=0
for s in $scenarios; do
	# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
	members=$("$gen" --list --scenario "$s" $args | awk '{ print $4 }')
	[ -n "$members" ] || exit 2
	port=$("$gen" --free-port) || exit 1
	"$server" --port "$port" --listen 127.0.0.1 \
	    --max-clients $((members + 64)) --log-level warn >>"$log" 2>&1 &
	pid=$!
	if ! "$gen" --port "$port" --wait-port 60; then
		stop "$pid"
		failed=1
		continue
	fi
	# shellcheck disable=SC2086
	"$gen" --port "$port" --pid "$pid" --scenario "$s" \
	    --duration "$duration" --csv "$csv" $header $args || failed=1
	header=--no-header
	stop "$pid"
done
echo "run.sh: CSV in $csv, server log in $log" >&2
exit $failed
