#!/bin/sh
# Runs the benchmark scenarios against build/release/groupchat and prints
# one table. Each scenario gets a fresh server on a free loopback port, its
# member cap sized to the scenario (before CivetWeb patch 0021 the server
# started one worker per possible member, so an oversized cap inflated
# every RSS and thread figure; the cap is kept so that runs compare),
# and the server is stopped with SIGTERM afterwards. `make bench` runs this
# from the repository root. The per-member scenarios (BENCH_MEMBER) print a
# table of their own; each run first saves /proc/meminfo, so the generator
# can tell what the server took from the system as it started.
#
# Environment:
#   BENCH_SCENARIOS  scenarios, in order (fanout groups big latency capacity
#                    stall; empty: none)
#   BENCH_MEMBER     per-member scenarios, after those (none; e.g.
#                    "joinstorm joinstorm10k idle churn start1k start10k
#                    lowrate")
#   BENCH_DURATION   measured seconds per scenario (10)
#   BENCH_ARGS       more groupchat-bench flags, e.g. "--size 256"
#   BENCH_CSV        where the CSV rows go (build/bench/results.csv)
#   BENCH_SERVER     the server binary (build/release/groupchat)
#   BENCH_RUNS       runs of each scenario (1)
#   BENCH_GO         the original Go server's binary: when set, each run
#                    measures it first (it listens on :8080, so only one
#                    instance at a time), then groupchat, rows labelled
#   BENCH_CLUSTER    a node count (e.g. 2): each run also measures that
#                    many groupchat nodes sharing one redis-server (started
#                    here on a free port, no persistence, stopped at the
#                    end), each group's members spread over the nodes, rows
#                    labelled single / clusterN, with Redis's CPU per
#                    message sent. E.g. BENCH_SCENARIOS="fanout groups
#                    lowrate" BENCH_CLUSTER=2 bench/run.sh
#   BENCH_REDIS_ARGS more redis-server settings for BENCH_CLUSTER, after
#                    the defaults, e.g. "--appendonly yes --appendfsync
#                    always --dir /tmp/bench-aof" (a directory of its own)
set -u

gen=build/bench/groupchat-bench
server=${BENCH_SERVER:-build/release/groupchat}
scenarios="${BENCH_SCENARIOS-fanout groups big latency capacity stall} ${BENCH_MEMBER:-}"
runs=${BENCH_RUNS:-1}
go=${BENCH_GO:-}
cluster=${BENCH_CLUSTER:-}
redis_pid=
meminfo=build/bench/meminfo.start
# The per-member scenarios report CPU per delivery and per join, not
# write calls: the write-call counter's tracepoint puts every system call
# of the server on the kernel's tracing path (lowrate: about 2.3 us more
# per delivery for groupchat, whose writers sleep and wake in system
# calls, 0.3 us for Go), so they run without it.
member_set=" ${BENCH_MEMBER:-} "
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
# The exit status is checked when $2 is "check" (the Go server dies of
# SIGTERM: it has no handler).
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
	if [ "$2" = check ] && [ $rc -ne 0 ]; then
		echo "run.sh: server exited with status $rc (log: $log)" >&2
		failed=1
	fi
}

# Runs scenario $2 against a fresh server: $1 is "go" or "groupchat",
# $3 the member cap for groupchat, $4 the table (load or member).
measure() {
	cp /proc/meminfo "$meminfo"
	if [ "$1" = go ]; then
		if ss -ltn | grep -q ':8080 '; then
			echo "run.sh: :8080 is taken; not starting the Go server" >&2
			failed=1
			return
		fi
		port=8080
		"$go" >>"$log" 2>&1 &
	else
		port=$("$gen" --free-port) || exit 1
		"$server" --port "$port" --listen 127.0.0.1 \
		    --max-clients "$3" --log-level warn >>"$log" 2>&1 &
	fi
	pid=$!
	flags=
	case "$member_set" in *" $2 "*) flags=--no-write-count ;; esac
	[ -n "$go" ] && flags="$flags --label $1"
	[ -n "$cluster" ] && flags="$flags --label single"
	echo "run.sh: $2 $1: $(uptime)" >&2
	if ! "$gen" --port "$port" --wait-port 60; then
		stop "$pid" check
		failed=1
		return
	fi
	if [ "$4" = load ]; then
		hdr=$header_load
		header_load=--no-header
	else
		hdr=$header_member
		header_member=--no-header
	fi
	# shellcheck disable=SC2086 # BENCH_ARGS and flags are lists of flags
	"$gen" --port "$port" --pid "$pid" --scenario "$2" \
	    --duration "$duration" --csv "$csv" --start-meminfo "$meminfo" \
	    $hdr $flags $args || failed=1
	if [ "$1" = go ]; then
		stop "$pid" nocheck
	else
		stop "$pid" check
	fi
}

# Runs scenario $1 against $cluster fresh nodes sharing the run's Redis,
# with member cap $2 per node, in table $3.
measure_cluster() {
	cp /proc/meminfo "$meminfo"
	ports='' pids=''
	i=0
	while [ $i -lt "$cluster" ]; do
		p=$("$gen" --free-port) || exit 1
		"$server" --port "$p" --listen 127.0.0.1 --max-clients "$2" \
		    --log-level warn --redis "redis://127.0.0.1:$redis_port" \
		    >>"$log" 2>&1 &
		ports="$ports${ports:+,}$p"
		pids="$pids${pids:+,}$!"
		i=$((i + 1))
	done
	nowrites=
	case "$member_set" in *" $1 "*) nowrites=--no-write-count ;; esac
	echo "run.sh: $1 cluster$cluster: $(uptime)" >&2
	ok=1
	for p in $(echo "$ports" | tr , ' '); do
		"$gen" --port "$p" --wait-port 60 || ok=0
	done
	if [ $ok = 1 ]; then
		if [ "$3" = load ]; then
			hdr=$header_load
			header_load=--no-header
		else
			hdr=$header_member
			header_member=--no-header
		fi
		# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
		"$gen" --port "$ports" --pid "$pids" --redis-pid "$redis_pid" \
		    --scenario "$1" --duration "$duration" --csv "$csv" \
		    --start-meminfo "$meminfo" $hdr --label "cluster$cluster" \
		    $nowrites $args || failed=1
	else
		failed=1
	fi
	for p in $(echo "$pids" | tr , ' '); do
		stop "$p" check
	done
}

mkdir -p "$(dirname "$csv")"
rm -f "$csv"
: >"$log"
if [ -n "$cluster" ]; then
	redis_port=$("$gen" --free-port) || exit 1
	# shellcheck disable=SC2086 # BENCH_REDIS_ARGS is a list of settings
	redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
	    --appendonly no --loglevel warning ${BENCH_REDIS_ARGS:-} >>"$log" 2>&1 &
	redis_pid=$!
	i=0
	until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 100 ]; then
			echo "run.sh: redis-server did not start (log: $log)" >&2
			exit 1
		fi
		sleep 0.1
	done
	trap 'kill "$redis_pid" 2>/dev/null' EXIT
fi
header_load=
header_member=
failed=0
for s in $scenarios; do
	# shellcheck disable=SC2046,SC2086 # a list of words, of flags
	set -- $("$gen" --list --scenario "$s" $args)
	[ $# -ge 6 ] || exit 2
	run=1
	while [ $run -le "$runs" ]; do
		[ -n "$go" ] && measure go "$s" "$5" "$6"
		measure groupchat "$s" "$5" "$6"
		[ -n "$cluster" ] && measure_cluster "$s" "$5" "$6"
		run=$((run + 1))
	done
done
echo "run.sh: CSV in $csv, server log in $log" >&2
exit $failed
