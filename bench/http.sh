#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of portier's HTTP mode (mode = http) against HAProxy (mode http)
# and nginx, all three as reverse proxies in front of one nginx backend on
# 127.0.0.1, in a single run on the same machine.
#
# What is measured, for each proxy and for the backend reached directly
# (reference):
#   1. keep-alive small: wrk, 64 keep-alive connections, GET /small (a
#      100-byte body); requests per second.
#   2. 1 MiB responses: wrk, 8 keep-alive connections, GET /1m (1 MiB file);
#      requests per second and MiB per second.
#   3. one connection per request: wrk, 32 connections, every request sent
#      with "Connection: close", so each request is a new client connection
#      to the proxy; the proxy may forward it over a backend connection kept
#      from an earlier request (all three are configured to); requests/s.
#   4. memory per idle keep-alive client connection: idle_conns.py --http
#      opens 3000 client connections to the proxy, sends one GET on each,
#      reads the whole response and then holds the connection idle; the
#      growth of the proxy's resident set size (VmRSS, summed over its
#      processes: nginx's master and workers), divided by 3000, in KiB.
#      Measured first, on freshly started proxies, so that memory cached by
#      the load tests cannot hide the per-connection cost.
# Each figure is printed with its ratio to HAProxy's, and with the CPU time
# the server spent per request.
#
# Fairness: portier runs one event loop (workers = 1), so HAProxy gets
# "nbthread 1" and the nginx proxy "worker_processes 1"; --threads N gives
# each proxy N of them (the backend keeps one worker). Every proxy keeps its
# backend connections open for reuse (HAProxy "http-reuse always", nginx an
# upstream "keepalive 64") and adds an X-Forwarded-For field, as portier
# does. Logging is off everywhere; buffer sizes are the servers' defaults.
# wrk uses 2 threads (1 for the 8-connection row); each wrk run is preceded
# by a 1-second warm-up whose result is discarded. --pin gives the proxies
# CPU 0 and the backend and load generators the other CPUs.
#
# portier's HTTP mode may be missing from the binary under test: when portier
# does not start, or a run against it fails, its figures print as "-" and
# the other servers are measured all the same.
#
# Every process runs from a temporary directory, listens on free high ports
# of 127.0.0.1 only, and is stopped on exit. The exit status is 0 even when a
# target is missed (this is a measurement); non-zero when something failed to
# run, portier included.
#
# With --rounds N every wrk test runs N times, alternating between the
# servers (the proxies one place further each round, as the server measured
# right after the backend was found slower), and the median is kept.
#
# Usage: bench/http.sh [--portier PATH] [--duration SECONDS] [--rounds N]
#                      [--quick] [--threads N] [--pin]
#                      [--cpu-budget PERCENT] [--keep]

set -euo pipefail

prog=http.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

idle_count=3000

usage() {
	cat <<EOF
Usage: $0 [--portier PATH] [--duration SECONDS] [--rounds N] [--quick]
	[--threads N] [--pin] [--cpu-budget PERCENT] [--keep]

  --portier PATH      portier binary (default: ./portier of the source tree,
                      then portier on PATH; without one, portier is skipped)
  --duration SECONDS  length of each wrk run (default 10)
  --rounds N          run every wrk test N times, round-robin over the
                      servers, and report the median (default 1)
  --quick             3-second wrk runs, no warm-up
  --threads N         event loops of each proxy: portier workers, HAProxy
                      nbthread, nginx worker_processes (default 1)
  --pin               run the proxies on CPU 0 and the backend and the load
                      generators on the other CPUs (needs 2 or more)
  --cpu-budget PERCENT
                      hold each server measured to PERCENT of one CPU
                      (cgroup CPU bandwidth; needs root); the backend and
                      the load generators stay unlimited
  --keep              keep the temporary directory (configurations, logs)
EOF
}

while [ $# -gt 0 ]; do
	common_option "$@" || { usage >&2; exit 2; }
	shift "$shifts"
done
want_positive "--duration, --rounds and --threads want a positive integer" \
	"$duration" "$rounds" "$loops"
setup_pin

# --- programs --------------------------------------------------------------

require_programs nginx haproxy wrk python3
find_portier

# --- descriptors -----------------------------------------------------------

# A proxy holding N idle client connections needs N descriptors, and a few
# more for its backend connections; keep the margin of a TCP relay (2N).
raise_nofile "$idle_count"

# --- processes ------------------------------------------------------------

make_tmp

# Four free ports, chosen by the kernel.
read -r port_backend port_portier port_haproxy port_nginx < <(free_ports 4)

# The nginx backend: /small (100 bytes) and /1m (1 MiB) from a temporary
# root.
make_www
backend_conf backend "$port_backend"
mkdir -p "$tmp/nginx-tmp"

# nginx as a reverse proxy: a pool of up to 64 idle backend connections per
# worker, HTTP/1.1 to the backend without "Connection: close". Response
# buffering keeps its defaults: nginx may spill a response the client reads
# slower than it arrives into a file of proxy_temp_path, which measured
# faster on the 1 MiB row than forbidding it (proxy_max_temp_file_size 0).
nginx_proxy_conf ""

cat >"$tmp/haproxy.cfg" <<EOF
global
	maxconn $maxconn
	nbthread $loops

defaults
	mode http
	option http-keep-alive
	option forwardfor
	http-reuse always
	timeout connect 5s
	timeout client 300s
	timeout server 300s
	timeout http-request 10s
	timeout http-keep-alive 300s

frontend bench
	bind 127.0.0.1:$port_haproxy
	default_backend origin

backend origin
	server origin 127.0.0.1:$port_backend
EOF

cat >"$tmp/portier.ini" <<EOF
[global]
log_level = warn
max_connections = $maxconn
workers = $loops

[listener bench]
bind = 127.0.0.1:$port_portier
mode = http
backend = 127.0.0.1:$port_backend
EOF

# Targets in table order: the backend reached directly (the reference), then
# the proxies.
reference=backend
targets=(backend)
[ -n "$portier" ] && targets+=(portier)
targets+=(haproxy nginx)
proxies=("${targets[@]:1}")

declare -A port=([backend]=$port_backend [portier]=$port_portier
	[haproxy]=$port_haproxy [nginx]=$port_nginx)

start backend "$port_backend" "${load_cpu[@]}" nginx -p "$tmp/" \
	-e "$tmp/backend-error.log" -c "$tmp/backend.conf" ||
	die "the nginx backend did not start"
start haproxy "$port_haproxy" "${proxy_cpu[@]}" haproxy -db \
	-f "$tmp/haproxy.cfg" || die "haproxy did not start"
start nginx "$port_nginx" "${proxy_cpu[@]}" nginx -p "$tmp/" \
	-e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" ||
	die "the nginx proxy did not start"
if [ -n "$portier" ] && ! start portier "$port_portier" \
	"${proxy_cpu[@]}" "$portier" -c "$tmp/portier.ini"; then
	down[portier]="did not start: $(tail -n 1 "$tmp/portier.log")"
	status=1
fi

for t in "${targets[@]}"; do
	[ -n "${down[$t]:-}" ] && continue
	err=$(check_http "${port[$t]}" 2>&1) && continue
	[ "$t" = portier ] || die "$t: check through 127.0.0.1:${port[$t]}: $err"
	down[portier]="check through 127.0.0.1:${port[$t]} failed: $err"
	note "portier: ${down[portier]}"
	status=1
done

# --- header ----------------------------------------------------------------

version() {
	case "$1" in
	backend) echo "nginx $(program_version nginx)" ;;
	*) program_version "$1" ;;
	esac
}

echo "portier HTTP proxy benchmark"
print_machine "wrk "
print_versions
echo "event loops: portier workers = $loops, haproxy nbthread $loops," \
	"nginx worker_processes $loops; backend nginx worker_processes 1"
if [ "$pin" = 1 ]; then
	echo "pinned: the proxies on CPU 0; the backend, wrk and the" \
		"idle-connection client on CPUs $load_cpus"
else
	echo "nothing pinned"
fi
print_budget "the proxies"
if [ -z "$portier" ]; then
	echo "portier: no binary found (--portier PATH); skipped"
elif [ -n "${down[portier]:-}" ]; then
	echo "portier: ${down[portier]}"
	echo "portier: not measured, its figures print as -"
fi
echo

# --- measurements ----------------------------------------------------------

rows=(ka ka_cpu big big_mib big_cpu close close_cpu mem)
declare -A label=(
	[ka]="keep-alive small, 64 conns"
	[ka_cpu]="keep-alive small, 64 conns"
	[big]="1 MiB responses, 8 conns"
	[big_mib]="1 MiB responses, 8 conns"
	[big_cpu]="1 MiB responses, 8 conns"
	[close]="conn per request, 32 conns"
	[close_cpu]="conn per request, 32 conns"
	[mem]="idle memory, $idle_count conns"
)
declare -A unit=([ka]="req/s" [big]="req/s" [big_mib]="MiB/s"
	[close]="req/s" [mem]="KiB/conn" [ka_cpu]="us/req" [big_cpu]="us/req"
	[close_cpu]="us/req")

# Memory per idle client connection, on fresh processes (see the header).
for t in "${proxies[@]}"; do
	[ -n "${down[$t]:-}" ] && continue
	note "idle memory: $idle_count connections to $t"
	if out=$("${load_cpu[@]}" python3 "$here/idle_conns.py" \
		--port "${port[$t]}" --pid "${pid[$t]}" --count "$idle_count" \
		--http /small 2>"$tmp/idle-$t.err"); then
		result[mem,$t]=$(sed -n 's/.*kib_per_conn=\([^ ]*\).*/\1/p' \
			<<<"$out")
	else
		opened=$(sed -n 's/.* open=\([0-9]*\).*/\1/p' <<<"$out")
		result[mem,$t]="fail"
		note "$t: only ${opened:-0} of $idle_count idle connections" \
			"held: $(tail -n 1 "$tmp/idle-$t.err")"
		status=1
	fi
done
result[mem,backend]="-"

measure ka run_wrk 2 64 /small
measure big run_wrk 1 8 /1m
measure close run_wrk 2 32 /small -H "Connection: close"

# --- report -----------------------------------------------------------------

for t in "${proxies[@]}"; do
	[ "$t" != haproxy ] && ratio_cols+=("$t/haproxy")
done

print_table 28 8 9 15
if grep -q '\*' <<<"${result[*]}"; then
	echo "* wrk reported socket errors or non-2xx responses (see above)"
fi
echo "backend: the nginx backend reached directly; nginx: nginx as a" \
	"reverse proxy in front of it"
echo "ratios: the proxy's figure divided by haproxy's (throughput: higher" \
	"is better; CPU per request and memory: lower is better)"
echo "us/req: CPU time (user + system) the server spent per request," \
	"kernel TCP work included"
echo

# Targets: 1.1 times haproxy's throughput on small requests, kept alive or
# not, at least haproxy's on 1 MiB responses, and no more memory per idle
# client connection than haproxy in the same run.
verdict() { # verdict OK-CONDITION
	if [ "$1" = 1 ]; then echo OK; else echo MISSED; fi
}
declare -A goal=([ka]=1.1 [big]=1.0 [close]=1.1)
if [ -z "$portier" ]; then
	echo "targets: not checked, portier was not run"
else
	for row in ka big close; do
		r=$(ratio "${result[$row,portier]:-}" "${result[$row,haproxy]:-}")
		if [ "$r" = "-" ]; then
			echo "${label[$row]}: no result"
			continue
		fi
		ok=$(awk -v r="$r" -v g="${goal[$row]}" \
			'BEGIN { print (r >= g) ? 1 : 0 }')
		echo "${label[$row]}: portier/haproxy = $r" \
			"(target >= ${goal[$row]}) $(verdict "$ok")"
	done
	m=${result[mem,portier]:-}
	h=${result[mem,haproxy]:-}
	n="nginx ${result[mem,nginx]:--} KiB/conn"
	if ! number "$m"; then
		echo "${label[mem]}: no result ($n)"
	elif ! number "$h"; then
		echo "${label[mem]}: portier $m KiB/conn, no haproxy figure" \
			"to compare with ($n)"
	else
		ok=$(awk -v m="$m" -v h="$h" 'BEGIN { print (m <= h) ? 1 : 0 }')
		echo "${label[mem]}: portier $m KiB/conn, haproxy $h KiB/conn" \
			"(target <= haproxy's) $(verdict "$ok"); $n"
	fi
fi

print_round_ratios
budget_report

exit "$status"
