#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of portier's TCP forwarding mode against HAProxy (mode tcp) and
# rinetd, all three forwarding to one nginx backend on 127.0.0.1, in a single
# run on the same machine.
#
# What is measured, for each proxy and for nginx reached directly (reference):
#   1. keep-alive small: wrk, 64 keep-alive connections, GET /small (a
#      100-byte body); requests per second.
#   2. 1 MiB responses: wrk, 8 keep-alive connections, GET /1m (1 MiB file);
#      requests per second and MiB per second.
#   3. one connection per request: wrk, 32 connections, every request sent
#      with "Connection: close", so each request is a new TCP connection
#      through the proxy and a new one from the proxy to nginx; requests/s.
#   4. memory per idle forwarded connection: idle_conns.py opens 3000
#      connections through the proxy, completes one HTTP exchange on each
#      (so each is established through to nginx) and holds them idle; the
#      growth of the proxy's resident set size (VmRSS, summed over its
#      processes), divided by 3000, in KiB. Measured first, on freshly
#      started proxies, so that memory cached by earlier load tests cannot
#      hide the per-connection cost.
# Each throughput figure is printed with its ratio to HAProxy's.
#
# Fairness: portier runs one event loop (workers = 1) and rinetd is
# single-threaded, so HAProxy gets "nbthread 1" and nginx "worker_processes 1";
# --threads N gives portier N workers and HAProxy N threads; --pin gives the
# proxy a core of its own, so that its CPU time per request shows without
# the load generator competing for it.
# Nothing is pinned to a CPU; wrk uses 2 threads (1 for the 8-connection row).
# On a 2-core machine the load generator, the proxy and nginx share the cores,
# which costs every proxy alike. Each wrk run is preceded by a 1-second warm-up
# whose result is discarded.
#
# Every process runs from a temporary directory, listens on free high ports
# of 127.0.0.1 only, and is stopped on exit. The exit status is 0 even when a
# target is missed (this is a measurement); non-zero only when something
# failed to run.
#
# With --rounds N every wrk test runs N times, alternating between the
# servers, and the median is kept: on a machine with other load this evens
# out drifts that would otherwise favour whichever server ran first.
#
# Usage: bench/tcp.sh [--portier PATH] [--duration SECONDS] [--rounds N]
#                     [--quick] [--threads N] [--pin] [--keep]

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
PATH="$PATH:/usr/sbin:/sbin"

duration=10
warmup=1
rounds=1
idle_count=3000
portier=""
keep=0
loops=1
pin=0

usage() {
	cat <<EOF
Usage: $0 [--portier PATH] [--duration SECONDS] [--rounds N] [--quick]
	[--threads N] [--pin] [--keep]

  --portier PATH      portier binary (default: ./portier of the source tree,
                      then portier on PATH; without one, portier is skipped)
  --duration SECONDS  length of each wrk run (default 10)
  --rounds N          run every wrk test N times, round-robin over the
                      servers, and report the median (default 1)
  --quick             3-second wrk runs, no warm-up
  --threads N         event loops of portier (workers) and HAProxy
                      (nbthread), default 1; rinetd has one whatever N is
  --pin               run the proxies on CPU 0 and nginx and the load
                      generators on the other CPUs (needs 2 or more)
  --keep              keep the temporary directory (configurations, logs)
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	--portier) portier=${2:?--portier needs a path}; shift 2 ;;
	--portier=*) portier=${1#*=}; shift ;;
	--duration) duration=${2:?--duration needs a number}; shift 2 ;;
	--duration=*) duration=${1#*=}; shift ;;
	--rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
	--rounds=*) rounds=${1#*=}; shift ;;
	--quick) duration=3; warmup=0; shift ;;
	--threads) loops=${2:?--threads needs a number}; shift 2 ;;
	--threads=*) loops=${1#*=}; shift ;;
	--pin) pin=1; shift ;;
	--keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
for n in "$duration" "$rounds" "$loops"; do
	case "$n" in
	'' | *[!0-9]* | 0*)
		echo "tcp.sh: --duration, --rounds and --threads want a" \
			"positive integer" >&2
		exit 2
		;;
	esac
done

# --pin: "taskset -c ..." prefixes for the proxies and for the load side.
proxy_cpu=()
load_cpu=()
load_cpus=""
if [ "$pin" = 1 ]; then
	if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; then
		echo "tcp.sh: --pin needs 2 CPUs and taskset (util-linux)" >&2
		exit 2
	fi
	load_cpus="1-$(($(nproc) - 1))"
	proxy_cpu=(taskset -c 0)
	load_cpu=(taskset -c "$load_cpus")
fi

die() {
	echo "tcp.sh: $*" >&2
	exit 1
}

note() {
	echo "tcp.sh: $*" >&2
}

# --- programs --------------------------------------------------------------

missing=()
for pair in nginx:nginx haproxy:haproxy rinetd:rinetd wrk:wrk \
	python3:python3; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "tcp.sh: missing programs; install the Debian packages:" >&2
	echo "    apt-get install ${missing[*]}" >&2
	if [ -x "$top/scripts/install-deps" ]; then
		echo "or run scripts/install-deps" >&2
	fi
	exit 1
fi

if [ -z "$portier" ]; then
	if [ -x "$top/portier" ]; then
		portier="$top/portier"
	elif command -v portier >/dev/null 2>&1; then
		portier=$(command -v portier)
	fi
elif [ ! -x "$portier" ]; then
	die "$portier: not an executable"
fi

# --- descriptors -----------------------------------------------------------

# A proxy holding N idle connections needs 2N descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] && nofile=1048576
if [ "$nofile" -lt $((2 * idle_count + 256)) ]; then
	die "open-file limit $nofile is too low for $idle_count idle" \
		"connections; raise the hard limit (ulimit -Hn)"
fi
cap() { # the smaller of two numbers
	if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi
}
# Connection limit of both haproxy and portier: 20000, or less when the
# descriptor limit cannot back it (each forwarded connection takes two).
maxconn=$(cap 20000 $(((nofile - 256) / 2)))
nginx_conns=$(cap 20000 $((nofile - 256)))

# --- processes ------------------------------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portier-bench.XXXXXX")
started=()

# True while any of the given processes is alive. They are children of this
# shell, so their pids cannot be reused before "wait" reaps them; a zombie
# (state Z) counts as gone.
any_alive() {
	local pid state
	for pid in "$@"; do
		state=$(sed 's/.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null) ||
			continue
		[ "$state" != Z ] && return 0
	done
	return 1
}

# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	local pid
	for pid in "${started[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for _ in $(seq 30); do
		any_alive "${started[@]}" || break
		sleep 0.1
	done
	for pid in "${started[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$keep" = 1 ]; then
		note "configurations and logs kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Four free ports, chosen by the kernel.
read -r port_nginx port_portier port_haproxy port_rinetd < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

# Wait until something accepts connections on 127.0.0.1:$2; $1 is the pid.
wait_port() {
	local pid=$1 port=$2
	for _ in $(seq 100); do
		any_alive "$pid" || return 1
		if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# start NAME PORT COMMAND...: run COMMAND in the background, its output in
# $tmp/NAME.log, and wait for it to listen on PORT. Sets the pid in pid_NAME.
start() {
	local name=$1 port=$2
	shift 2
	"$@" >"$tmp/$name.log" 2>&1 </dev/null &
	local pid=$!
	started+=("$pid")
	if ! wait_port "$pid" "$port"; then
		tail -n 20 "$tmp/$name.log" >&2
		die "$name did not start listening on 127.0.0.1:$port"
	fi
	printf -v "pid_$name" '%s' "$pid"
}

# Two keep-alive requests on one connection, both responses complete.
check_http() {
	python3 - "$1" "$small_size" <<'EOF'
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
for path, size in (("/small", int(sys.argv[2])), ("/1m", 1048576)):
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200 or len(body) != size:
        sys.exit(f"GET {path}: status {resp.status}, {len(body)} bytes")
EOF
}

# nginx backend: /small (100 bytes) and /1m (1 MiB) from a temporary root.
mkdir -p "$tmp/www" "$tmp/nginx-tmp"
printf '%099d\n' 0 | tr 0 s >"$tmp/www/small"
head -c 1048576 /dev/urandom >"$tmp/www/1m"
small_size=$(wc -c <"$tmp/www/small")
nginx_user=""
[ "$(id -u)" = 0 ] && nginx_user="user root;"
cat >"$tmp/nginx.conf" <<EOF
$nginx_user
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events {
	worker_connections $nginx_conns;
}
http {
	access_log off;
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 300s;
	keepalive_requests 100000000;
	client_body_temp_path $tmp/nginx-tmp/body;
	proxy_temp_path $tmp/nginx-tmp/proxy;
	fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
	uwsgi_temp_path $tmp/nginx-tmp/uwsgi;
	scgi_temp_path $tmp/nginx-tmp/scgi;
	server {
		listen 127.0.0.1:$port_nginx backlog=4096;
		root $tmp/www;
	}
}
EOF

cat >"$tmp/haproxy.cfg" <<EOF
global
	maxconn $maxconn
	nbthread $loops

defaults
	mode tcp
	timeout connect 5s
	timeout client 300s
	timeout server 300s

frontend bench
	bind 127.0.0.1:$port_haproxy
	default_backend nginx

backend nginx
	server nginx 127.0.0.1:$port_nginx
EOF

cat >"$tmp/rinetd.conf" <<EOF
127.0.0.1 $port_rinetd 127.0.0.1 $port_nginx
EOF

cat >"$tmp/portier.ini" <<EOF
[global]
log_level = warn
max_connections = $maxconn
workers = $loops

[listener bench]
bind = 127.0.0.1:$port_portier
mode = tcp
backend = 127.0.0.1:$port_nginx
EOF

# Targets in table order: nginx reached directly (the reference), then the
# proxies.
targets=(nginx)
[ -n "$portier" ] && targets+=(portier)
targets+=(haproxy rinetd)
proxies=("${targets[@]:1}")

declare -A port=([nginx]=$port_nginx [portier]=$port_portier
	[haproxy]=$port_haproxy [rinetd]=$port_rinetd)

start nginx "$port_nginx" "${load_cpu[@]}" nginx -p "$tmp/" \
	-e "$tmp/nginx-error.log" -c "$tmp/nginx.conf"
start haproxy "$port_haproxy" "${proxy_cpu[@]}" haproxy -db \
	-f "$tmp/haproxy.cfg"
start rinetd "$port_rinetd" "${proxy_cpu[@]}" rinetd -f -c "$tmp/rinetd.conf"
if [ -n "$portier" ]; then
	start portier "$port_portier" "${proxy_cpu[@]}" "$portier" \
		-c "$tmp/portier.ini"
fi
declare -A pid=([nginx]=$pid_nginx [haproxy]=$pid_haproxy
	[rinetd]=$pid_rinetd [portier]=${pid_portier:-})

for t in "${targets[@]}"; do
	check_http "${port[$t]}" || die "$t: GET through 127.0.0.1:${port[$t]} failed"
done

# --- header ----------------------------------------------------------------

version() {
	case "$1" in
	nginx) nginx -v 2>&1 | sed 's/.*nginx\///' ;;
	haproxy) haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p' ;;
	rinetd) rinetd -v 2>&1 | sed 's/^rinetd //' ;;
	portier) "$portier" -V 2>&1 | head -n 1 | sed 's/^portier //' ;;
	esac
}

echo "portier TCP forwarding benchmark"
echo "machine: $(nproc) CPUs, $(uname -sr); wrk ${duration}s per run" \
	"(warm-up ${warmup}s), $rounds round(s), median kept"
versions=()
for t in "${targets[@]}"; do versions+=("$t $(version "$t")"); done
(IFS=,; echo "versions: ${versions[*]}" | sed 's/,/, /g')
echo "event loops: portier workers = $loops, haproxy nbthread $loops," \
	"nginx worker_processes 1, rinetd 1 (single-threaded)"
if [ "$pin" = 1 ]; then
	echo "pinned: the proxies on CPU 0; nginx, wrk and the idle-connection" \
		"client on CPUs $load_cpus"
else
	echo "nothing pinned"
fi
[ -z "$portier" ] && echo "portier: no binary found (--portier PATH); skipped"
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

declare -A result # result[ROW,TARGET]: number, or "-" / "fail"
status=0

# Memory per idle connection, on fresh processes (see the header).
for t in "${proxies[@]}"; do
	note "idle memory: $idle_count connections through $t"
	if out=$("${load_cpu[@]}" python3 "$here/idle_conns.py" \
		--port "${port[$t]}" \
		--pid "${pid[$t]}" --count "$idle_count" 2>"$tmp/idle-$t.err"); then
		result[mem,$t]=$(sed -n 's/.*kib_per_conn=\([^ ]*\).*/\1/p' \
			<<<"$out")
	else
		opened=$(sed -n 's/.* open=\([0-9]*\).*/\1/p' <<<"$out")
		result[mem,$t]="fail"
		note "$t: only ${opened:-0} of $idle_count idle connections" \
			"held: $(tail -n 1 "$tmp/idle-$t.err")"
		# rinetd failing here is its own limit, a result; portier or
		# haproxy failing means the benchmark did not run as meant.
		[ "$t" = rinetd ] || status=1
	fi
done
result[mem,nginx]="-"

# cpu_ticks PID...: user + system CPU time of the processes and their
# children, in clock ticks.
cpu_ticks() {
	local p c sum=0
	for p in "$@"; do
		for c in "$p" $(pgrep -P "$p" || true); do
			[ -r "/proc/$c/stat" ] || continue
			# Fields 14 and 15 (utime, stime), counted after the
			# command name, which may contain spaces.
			sum=$((sum + $(sed 's/.*) //' "/proc/$c/stat" |
				awk '{ print $12 + $13 }')))
		done
	done
	echo "$sum"
}
clk_tck=$(getconf CLK_TCK)

# run_wrk TARGET THREADS CONNECTIONS PATH [wrk options...]: one wrk run
# against TARGET; sets wrk_rps (requests/s), wrk_mib (MiB/s), wrk_cpu (CPU
# microseconds the server spent per request) and wrk_errors (wrk's error
# lines), or returns 1 when it could not run.
run_wrk() {
	local t=$1 threads=$2 conns=$3 path=$4
	shift 4
	local url="http://127.0.0.1:${port[$t]}$path" out
	if ! any_alive "${pid[$t]}"; then
		note "$t is no longer running"
		return 1
	fi
	if [ "$warmup" -gt 0 ]; then
		"${load_cpu[@]}" wrk -t"$threads" -c"$conns" -d"${warmup}s" \
			"$@" "$url" \
			>/dev/null 2>&1 || true
	fi
	local ticks0 ticks1
	# shellcheck disable=SC2086 # one word per pid
	ticks0=$(cpu_ticks ${pid[$t]})
	if ! out=$("${load_cpu[@]}" wrk -t"$threads" -c"$conns" \
		-d"${duration}s" "$@" "$url" \
		2>&1); then
		note "$t: wrk failed: $out"
		return 1
	fi
	# shellcheck disable=SC2086
	ticks1=$(cpu_ticks ${pid[$t]})
	echo "$out" >>"$tmp/wrk-$t.log"
	wrk_rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
	# Transfer/sec is printed in binary units (KB = KiB, ...).
	wrk_mib=$(awk '/^Transfer\/sec:/ {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Z]+$/, "", v)
		f = 1 / 1048576
		if (u == "KB") f = 1 / 1024
		if (u == "MB") f = 1
		if (u == "GB") f = 1024
		printf "%.0f", v * f }' <<<"$out")
	wrk_errors=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' |
		paste -sd ';' -) || true
	[ -n "$wrk_rps" ] || { note "$t: no result from wrk"; return 1; }
	wrk_cpu=$(awk -v t=$((ticks1 - ticks0)) -v hz="$clk_tck" \
		-v rps="$wrk_rps" -v d="$duration" \
		'BEGIN { if (rps > 0) printf "%.1f", t / hz * 1e6 / (rps * d) }')
}

# median NUMBER...: the middle value (the lower middle of an even count).
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END { print v[int((NR + 1) / 2)] }'
}

# measure ROW THREADS CONNECTIONS PATH [wrk options...]: run every target
# $rounds times, round-robin, and keep the median in result[ROW,TARGET] and
# result[ROW_mib,TARGET]; a "*" marks a figure for which wrk saw errors.
measure() {
	local row=$1 r t
	shift
	declare -A rps mib cpu bad
	for r in $(seq "$rounds"); do
		for t in "${targets[@]}"; do
			note "${label[$row]}: $t (round $r of $rounds)"
			if ! run_wrk "$t" "$@"; then
				bad[$t]=fail
				status=1
				continue
			fi
			rps[$t]+=" $wrk_rps"
			mib[$t]+=" $wrk_mib"
			cpu[$t]+=" $wrk_cpu"
			if [ -n "$wrk_errors" ]; then
				note "$t: $wrk_errors"
				[ -n "${bad[$t]:-}" ] || bad[$t]="*"
			fi
		done
	done
	for t in "${targets[@]}"; do
		if [ "${bad[$t]:-}" = fail ]; then
			result[$row,$t]=fail
			result[${row}_mib,$t]=fail
			result[${row}_cpu,$t]=fail
			continue
		fi
		# shellcheck disable=SC2086 # word splitting wanted
		result[$row,$t]=$(median ${rps[$t]})${bad[$t]:-}
		# shellcheck disable=SC2086
		result[${row}_mib,$t]=$(median ${mib[$t]})${bad[$t]:-}
		# shellcheck disable=SC2086
		result[${row}_cpu,$t]=$(median ${cpu[$t]})
	done
}

measure ka 2 64 /small
measure big 1 8 /1m
measure close 2 32 /small -H "Connection: close"

# --- report -----------------------------------------------------------------

# ratio A B: A / B with two decimals, or "-" when either is not a number.
ratio() {
	local a=${1%\*} b=${2%\*}
	case "$a$b" in
	'' | *[!0-9.]*) echo "-" ;;
	*) awk -v a="$a" -v b="$b" \
		'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }' ;;
	esac
}

ratio_cols=()
for t in "${proxies[@]}"; do
	[ "$t" != haproxy ] && ratio_cols+=("$t")
done

printf '%-28s %-8s' "test" "unit"
for t in "${targets[@]}"; do printf ' %9s' "$t"; done
for t in "${ratio_cols[@]}"; do printf ' %12s' "$t/haproxy"; done
echo
for row in "${rows[@]}"; do
	printf '%-28s %-8s' "${label[$row]}" "${unit[$row]}"
	for t in "${targets[@]}"; do
		printf ' %9s' "${result[$row,$t]:--}"
	done
	for t in "${ratio_cols[@]}"; do
		printf ' %12s' "$(ratio "${result[$row,$t]:-}" \
			"${result[$row,haproxy]:-}")"
	done
	echo
done
if grep -q '\*' <<<"${result[*]}"; then
	echo "* wrk reported socket errors or non-2xx responses (see above)"
fi
echo "ratios: the proxy's figure divided by haproxy's (throughput: higher" \
	"is better; CPU per request and memory: lower is better)"
echo "us/req: CPU time (user + system) the server spent per request," \
	"kernel TCP work included"
echo

# Targets from the issue: at least haproxy's throughput on each row, at most
# 2 KiB per idle forwarded connection.
verdict() { # verdict OK-CONDITION
	if [ "$1" = 1 ]; then echo OK; else echo MISSED; fi
}
if [ -z "$portier" ]; then
	echo "targets: not checked, portier was not run"
else
	for row in ka big close; do
		r=$(ratio "${result[$row,portier]:-}" "${result[$row,haproxy]:-}")
		if [ "$r" = "-" ]; then
			echo "${label[$row]}: no result"
			continue
		fi
		ok=$(awk -v r="$r" 'BEGIN { print (r >= 1.0) ? 1 : 0 }')
		echo "${label[$row]}: portier/haproxy = $r (target >= 1.0)" \
			"$(verdict "$ok")"
	done
	m=${result[mem,portier]:-}
	case "$m" in
	'' | *[!0-9.]*) echo "${label[mem]}: no result" ;;
	*)
		ok=$(awk -v m="$m" 'BEGIN { print (m <= 2.0) ? 1 : 0 }')
		echo "${label[mem]}: portier $m KiB/conn, haproxy" \
			"${result[mem,haproxy]:--} KiB/conn (target <= 2.0)" \
			"$(verdict "$ok")"
		;;
	esac
fi

exit "$status"
