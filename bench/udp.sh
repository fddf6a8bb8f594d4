#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of portier's UDP forwarding mode against socat (UDP fork mode)
# and rinetd, all three forwarding to backends on 127.0.0.1, in a single run
# on the same machine.
#
# What is measured, for each proxy and for the backend reached directly
# (reference):
#   1. request/response: 16 clients (--clients) each keep one 64-byte
#      request (--size) in flight through the proxy to a UDP echo server
#      and send the next as soon as the answer is back; answers per second,
#      and the CPU time the proxy spent per answer. A request unanswered
#      for 200 ms counts as lost and is sent again.
#   2. bulk: one sender blasts 1400-byte datagrams (--bulk-size) through
#      the proxy to a counting sink as fast as the kernel takes them;
#      datagrams per second and MiB per second that reach the sink, and the
#      share of the datagrams sent that never arrive (loss %). The sender
#      outruns every proxy here, so the figure is the most a proxy forwards
#      under overload; the loss is what it could not take.
# The load generators and backends are one small C program, udp_tools.c,
# built by this script with cc: a python backend would be slower than the
# proxies it measures. The echo server answers from one thread with
# recvmmsg/sendmmsg; the backend-alone column shows what it can do.
#
# The proxies:
#   - portier: mode = udp, workers = 1 (--threads N for more);
#   - socat: UDP4-LISTEN:P,fork,reuseaddr UDP4:127.0.0.1:B, which forks a
#     process per client address (a flow), each relaying with read/write;
#     UDP4-RECVFROM:P,fork forks once per datagram (under 1000 answers/s
#     here) and is not measured;
#   - rinetd: "127.0.0.1 P/udp 127.0.0.1 B/udp", single-threaded. rinetd
#     opens each flow with an empty datagram to the backend and takes an
#     empty datagram from the backend as the end of the flow, so the echo
#     server leaves empty datagrams unanswered. rinetd also queues a flow's
#     datagrams as bytes and may send several as one: the bulk figures
#     count bytes (datagrams = bytes / size).
# Each ratio is portier's figure divided by the better of socat's and
# rinetd's.
#
# On a 2-core machine the load generator, the proxy and the backend share
# the cores, which costs every proxy alike; socat's processes can spread
# over both cores, portier's one event loop and rinetd cannot. --pin gives
# the proxies CPU 0 and the rest CPUs 1 and up. Each run is preceded by a
# 1-second warm-up whose result is discarded; --rounds N runs every test N
# times, alternating between the targets (the relays one place further
# each round), and keeps the median.
#
# Every process runs from a temporary directory, uses free ports of
# 127.0.0.1 only, and is stopped on exit (each in its own process group, so
# that socat's children go too). The exit status is 0 even when a target is
# missed (this is a measurement); non-zero only when something failed to
# run.
#
# Usage: bench/udp.sh [--portier PATH] [--duration SECONDS] [--rounds N]
#                     [--quick] [--threads N] [--clients N] [--size BYTES]
#                     [--bulk-size BYTES] [--pin] [--cpu-budget PERCENT]
#                     [--keep]

set -euo pipefail

prog=udp.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

clients=16
size=64
bulk_size=1400

usage() {
	cat <<EOF
Usage: $0 [--portier PATH] [--duration SECONDS] [--rounds N] [--quick]
	[--threads N] [--clients N] [--size BYTES] [--bulk-size BYTES]
	[--pin] [--cpu-budget PERCENT] [--keep]

  --portier PATH      portier binary (default: ./portier of the source tree,
                      then portier on PATH; without one, portier is skipped)
  --duration SECONDS  length of each run (default 10)
  --rounds N          run every test N times, round-robin over the
                      targets, and report the median (default 1)
  --quick             3-second runs, no warm-up
  --threads N         portier workers (default 1); socat forks per client,
                      rinetd has one loop whatever N is
  --clients N         request/response clients (default 16)
  --size BYTES        request/response datagram size (default 64)
  --bulk-size BYTES   bulk datagram size (default 1400)
  --pin               run the proxies on CPU 0 and the backends and the
                      load generators on the other CPUs (needs 2 or more)
  --cpu-budget PERCENT
                      hold each server measured to PERCENT of one CPU
                      (cgroup CPU bandwidth; needs root); the backend and
                      the load generators stay unlimited
  --keep              keep the temporary directory (configurations, logs)
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	--clients) clients=${2:?--clients needs a number}; shift 2 ;;
	--clients=*) clients=${1#*=}; shift ;;
	--size) size=${2:?--size needs a number}; shift 2 ;;
	--size=*) size=${1#*=}; shift ;;
	--bulk-size) bulk_size=${2:?--bulk-size needs a number}; shift 2 ;;
	--bulk-size=*) bulk_size=${1#*=}; shift ;;
	*)
		common_option "$@" || { usage >&2; exit 2; }
		shift "$shifts"
		;;
	esac
done
want_positive "--duration, --rounds, --threads, --clients, --size and\
 --bulk-size want a positive integer" \
	"$duration" "$rounds" "$loops" "$clients" "$size" "$bulk_size"
if [ "$size" -lt 8 ] || [ "$size" -gt 65507 ] || [ "$bulk_size" -gt 65507 ]
then
	echo "udp.sh: --size wants 8 to 65507 bytes, --bulk-size at most" \
		"65507" >&2
	exit 2
fi
setup_pin

# --- programs --------------------------------------------------------------

require_programs socat:socat rinetd:rinetd cc:gcc python3:python3
find_portier

# --- processes ------------------------------------------------------------

make_tmp

tools="$tmp/udp_tools"
cc -O2 -pthread -o "$tools" "$here/udp_tools.c" ||
	die "cannot build $here/udp_tools.c"

# Eight free UDP ports, chosen by the kernel: the backends (echo, sink),
# then for each proxy a request/response port and a bulk port.
read -r port_echo port_sink port_portier port_portier_bulk port_socat \
	port_socat_bulk port_rinetd port_rinetd_bulk < <(free_ports 8 udp)

cat >"$tmp/rinetd.conf" <<EOF
127.0.0.1 $port_rinetd/udp 127.0.0.1 $port_echo/udp
127.0.0.1 $port_rinetd_bulk/udp 127.0.0.1 $port_sink/udp
EOF

cat >"$tmp/portier.ini" <<EOF
[global]
log_level = warn
workers = $loops

[listener rr]
bind = 127.0.0.1:$port_portier
mode = udp
backend = 127.0.0.1:$port_echo

[listener bulk]
bind = 127.0.0.1:$port_portier_bulk
mode = udp
backend = 127.0.0.1:$port_sink
EOF

# Targets in table order: the backend reached directly (the reference),
# then the proxies.
reference=backend
targets=(backend)
[ -n "$portier" ] && targets+=(portier)
targets+=(socat rinetd)

declare -A port=([backend]=$port_echo [portier]=$port_portier
	[socat]=$port_socat [rinetd]=$port_rinetd)
declare -A bulk_port=([backend]=$port_sink [portier]=$port_portier_bulk
	[socat]=$port_socat_bulk [rinetd]=$port_rinetd_bulk)

start_udp echo "$port_echo" "${load_cpu[@]}" "$tools" echo "$port_echo" ||
	exit 1
start_udp socat "$port_socat" "${proxy_cpu[@]}" socat \
	"UDP4-LISTEN:$port_socat,bind=127.0.0.1,fork,reuseaddr" \
	"UDP4:127.0.0.1:$port_echo" || exit 1
start_udp socat_bulk "$port_socat_bulk" "${proxy_cpu[@]}" socat \
	"UDP4-LISTEN:$port_socat_bulk,bind=127.0.0.1,fork,reuseaddr" \
	"UDP4:127.0.0.1:$port_sink" || exit 1
start_udp rinetd "$port_rinetd" "${proxy_cpu[@]}" rinetd -f \
	-c "$tmp/rinetd.conf" || exit 1
if [ -n "$portier" ]; then
	start_udp portier "$port_portier" "${proxy_cpu[@]}" "$portier" \
		-c "$tmp/portier.ini" || exit 1
fi
# The process groups whose CPU time counts for each target (request/
# response; socat's bulk process is another one).
pid[backend]=${pid[echo]}

for t in "${targets[@]}"; do
	"${load_cpu[@]}" "$tools" ping "${port[$t]}" ||
		die "$t: no answer through 127.0.0.1:${port[$t]}"
done

# --- header ----------------------------------------------------------------

version() {
	case "$1" in
	backend) echo "udp_tools echo" ;;
	*) program_version "$1" ;;
	esac
}

echo "portier UDP forwarding benchmark"
print_machine ""
print_versions
echo "event loops: portier workers = $loops, socat one process per" \
	"client, rinetd 1 (single-threaded), echo backend 1"
if [ "$pin" = 1 ]; then
	echo "pinned: the proxies on CPU 0; the backends and load generators" \
		"on CPUs $load_cpus"
else
	echo "nothing pinned"
fi
print_budget "the proxies"
[ -z "$portier" ] && echo "portier: no binary found (--portier PATH); skipped"
echo

# --- measurements ----------------------------------------------------------

rows=(rr rr_cpu rr_lost bulk bulk_mib bulk_loss)
declare -A label=(
	[rr]="request/response, $clients clients"
	[rr_cpu]="request/response, $clients clients"
	[rr_lost]="request/response, $clients clients"
	[bulk]="bulk ${bulk_size}-byte datagrams"
	[bulk_mib]="bulk ${bulk_size}-byte datagrams"
	[bulk_loss]="bulk ${bulk_size}-byte datagrams"
)
declare -A unit=([rr]="answers/s" [rr_cpu]="us/answer" [rr_lost]="lost"
	[bulk]="dgrams/s" [bulk_mib]="MiB/s" [bulk_loss]="loss %")

# udp.sh counts the CPU time of process groups, reaped children included
# (socat's ended flows), instead of lib.sh's processes and their children.
# cpu_ticks PGID...: user + system CPU time of the process groups' live
# processes and of the children they reaped, in clock ticks.
cpu_ticks() {
	local p sum=0 groups
	groups=$(IFS=, && echo "$*")
	for p in $(pgrep -g "$groups" 2>/dev/null || true); do
		[ -r "/proc/$p/stat" ] || continue
		# Fields 14 to 17 (utime, stime and those of the children
		# it reaped: socat's ended flows), counted after the command
		# name, which may contain spaces.
		sum=$((sum + $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
			awk '{ print $12 + $13 + $14 + $15 }' || echo 0)))
	done
	echo "$sum"
}
clk_tck=$(getconf CLK_TCK)

# The figures of the last run: got[ROW].
declare -A got

# run_rr TARGET: one request/response run; sets got[rr], got[rr_lost] and
# got[rr_cpu], or returns 1.
run_rr() {
	local t=$1 out ticks0 ticks1
	if [ "$warmup" -gt 0 ]; then
		"${load_cpu[@]}" "$tools" rr "${port[$t]}" "$clients" \
			"$warmup" "$size" >/dev/null 2>&1 || true
	fi
	# shellcheck disable=SC2086 # one word per pid
	ticks0=$(cpu_ticks ${pid[$t]})
	if ! out=$("${load_cpu[@]}" "$tools" rr "${port[$t]}" "$clients" \
		"$duration" "$size" 2>&1); then
		note "$t: $out"
		return 1
	fi
	# shellcheck disable=SC2086
	ticks1=$(cpu_ticks ${pid[$t]})
	echo "$t: $out" >>"$tmp/rr.log"
	got[rr]=$(field rate "$out")
	got[rr_lost]=$(field lost "$out")
	[ -n "${got[rr]}" ] || { note "$t: no result: $out"; return 1; }
	got[rr_cpu]=$(awk -v t=$((ticks1 - ticks0)) -v hz="$clk_tck" \
		-v n="$(field replies "$out")" \
		'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n }')
}

# run_bulk TARGET: one bulk run; sets got[bulk], got[bulk_mib] and
# got[bulk_loss], or returns 1.
run_bulk() {
	local t=$1 out
	if [ "$warmup" -gt 0 ]; then
		"${load_cpu[@]}" "$tools" bulk "${bulk_port[$t]}" \
			"$port_sink" "$warmup" "$bulk_size" >/dev/null 2>&1 ||
			true
	fi
	if ! out=$("${load_cpu[@]}" "$tools" bulk "${bulk_port[$t]}" \
		"$port_sink" "$duration" "$bulk_size" 2>&1); then
		note "$t: $out"
		return 1
	fi
	echo "$t: $out" >>"$tmp/bulk.log"
	got[bulk]=$(field rate "$out")
	got[bulk_mib]=$(field mib "$out")
	got[bulk_loss]=$(field loss "$out")
	[ -n "${got[bulk]}" ] || { note "$t: no result: $out"; return 1; }
}

# measure KIND ROWS...: run KIND (rr or bulk) for every target $rounds
# times, round-robin (round_order), and keep the median of each of its
# ROWS in result[ROW,TARGET].
measure() {
	local kind=$1 r t row ok
	shift
	declare -A values failed
	for r in $(seq "$rounds"); do
		for t in $(round_order "$r"); do
			note "$kind: $t (round $r of $rounds)"
			if [ "$t" != backend ] && ! any_alive "${pid[$t]}"; then
				note "$t is no longer running"
				failed[$t]=1
				status=1
				continue
			fi
			ok=1
			case "$kind" in
			rr) run_rr "$t" || ok=0 ;;
			bulk) run_bulk "$t" || ok=0 ;;
			esac
			if [ "$ok" = 0 ]; then
				failed[$t]=1
				status=1
				continue
			fi
			for row in "$@"; do
				values[$row,$t]+=" ${got[$row]}"
			done
		done
	done
	for t in "${targets[@]}"; do
		for row in "$@"; do
			if [ -n "${failed[$t]:-}" ]; then
				result[$row,$t]=fail
			else
				# shellcheck disable=SC2086 # split wanted
				result[$row,$t]=$(median ${values[$row,$t]})
			fi
		done
	done
}

measure rr rr rr_cpu rr_lost
measure bulk bulk bulk_mib bulk_loss
# The backend's CPU time is not a proxy's.
result[rr_cpu,backend]="-"

# --- report -----------------------------------------------------------------

if [ -n "$portier" ]; then
	ratio_cols=("portier/best")
	best_of=(socat rinetd)
	declare -A ratio_row=([rr]=1 [bulk]=1 [bulk_mib]=1)
fi

print_table 32 10 10 14
echo "portier/best: portier's figure divided by the better of socat's and" \
	"rinetd's (higher is better)"
echo "us/answer: CPU time (user + system) the proxy spent per answer," \
	"kernel UDP work included; lost: requests unanswered within 200 ms"
echo "loss %: datagrams sent that never reached the sink"
echo

# Target from the issue: at least 1.5 times the better of socat and rinetd.
if [ -z "$portier" ]; then
	echo "targets: not checked, portier was not run"
else
	for row in rr bulk; do
		r=$(ratio "${result[$row,portier]:-}" "$(best "$row")")
		if [ "$r" = "-" ]; then
			echo "${label[$row]}: no result"
			continue
		fi
		ok=$(awk -v r="$r" 'BEGIN { print (r >= 1.5) ? "OK" : "MISSED" }')
		echo "${label[$row]}: portier / best of socat and rinetd = $r" \
			"(target >= 1.5) $ok"
	done
fi

print_round_ratios
budget_report

exit "$status"
