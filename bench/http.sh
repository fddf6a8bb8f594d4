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
# servers, and the median is kept.
#
# Usage: bench/http.sh [--portier PATH] [--duration SECONDS] [--rounds N]
#                      [--quick] [--threads N] [--pin] [--keep]

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
  --threads N         event loops of each proxy: portier workers, HAProxy
                      nbthread, nginx worker_processes (default 1)
  --pin               run the proxies on CPU 0 and the backend and the load
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
		echo "http.sh: --duration, --rounds and --threads want a" \
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
		echo "http.sh: --pin needs 2 CPUs and taskset (util-linux)" >&2
		exit 2
	fi
	load_cpus="1-$(($(nproc) - 1))"
	proxy_cpu=(taskset -c 0)
	load_cpu=(taskset -c "$load_cpus")
fi

die() {
	echo "http.sh: $*" >&2
	exit 1
}

note() {
	echo "http.sh: $*" >&2
}

# --- programs --------------------------------------------------------------

missing=()
for prog in nginx haproxy wrk python3; do
	command -v "$prog" >/dev/null 2>&1 || missing+=("$prog")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "http.sh: missing programs; install the Debian packages:" >&2
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

# A proxy holding N idle client connections needs N descriptors, and a few
# more for its backend connections; keep the margin of a TCP relay (2N).
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
# Connection limit of haproxy and portier: 20000, or less when the
# descriptor limit cannot back it (a connection may take two).
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
read -r port_backend port_portier port_haproxy port_nginx < <(python3 -c '
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

declare -A pid

# start NAME PORT COMMAND...: run COMMAND in the background, its output in
# $tmp/NAME.log, and wait for it to listen on PORT; sets pid[NAME]. Returns
# 1, after showing the end of the log, when it does not.
start() {
	local name=$1 port=$2
	shift 2
	"$@" >"$tmp/$name.log" 2>&1 </dev/null &
	pid[$name]=$!
	started+=("${pid[$name]}")
	if ! wait_port "${pid[$name]}" "$port"; then
		tail -n 20 "$tmp/$name.log" >&2
		note "$name did not start listening on 127.0.0.1:$port"
		return 1
	fi
}

# Two keep-alive requests on one connection, both responses complete; on
# failure, one line on stderr says what went wrong.
check_http() {
	python3 - "$1" "$small_size" <<'EOF'
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
for path, size in (("/small", int(sys.argv[2])), ("/1m", 1048576)):
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException) as e:
        sys.exit(f"GET {path}: {type(e).__name__}: {e}")
    if resp.status != 200 or len(body) != size:
        sys.exit(f"GET {path}: status {resp.status}, {len(body)} bytes")
EOF
}

# The nginx backend: /small (100 bytes) and /1m (1 MiB) from a temporary
# root.
mkdir -p "$tmp/www" "$tmp/backend-tmp" "$tmp/nginx-tmp"
printf '%099d\n' 0 | tr 0 s >"$tmp/www/small"
head -c 1048576 /dev/urandom >"$tmp/www/1m"
small_size=$(wc -c <"$tmp/www/small")
nginx_user=""
[ "$(id -u)" = 0 ] && nginx_user="user root;"
cat >"$tmp/backend.conf" <<EOF
$nginx_user
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $tmp/backend.pid;
error_log $tmp/backend-error.log warn;
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
	client_body_temp_path $tmp/backend-tmp/body;
	proxy_temp_path $tmp/backend-tmp/proxy;
	fastcgi_temp_path $tmp/backend-tmp/fastcgi;
	uwsgi_temp_path $tmp/backend-tmp/uwsgi;
	scgi_temp_path $tmp/backend-tmp/scgi;
	server {
		listen 127.0.0.1:$port_backend backlog=4096;
		root $tmp/www;
	}
}
EOF

# nginx as a reverse proxy: a pool of up to 64 idle backend connections per
# worker, HTTP/1.1 to the backend without "Connection: close". Response
# buffering keeps its defaults: nginx may spill a response the client reads
# slower than it arrives into a file of proxy_temp_path, which measured
# faster on the 1 MiB row than forbidding it (proxy_max_temp_file_size 0).
cat >"$tmp/nginx.conf" <<EOF
$nginx_user
daemon off;
master_process on;
worker_processes $loops;
worker_rlimit_nofile $nofile;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events {
	worker_connections $nginx_conns;
}
http {
	access_log off;
	keepalive_timeout 300s;
	keepalive_requests 100000000;
	client_body_temp_path $tmp/nginx-tmp/body;
	proxy_temp_path $tmp/nginx-tmp/proxy;
	fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
	uwsgi_temp_path $tmp/nginx-tmp/uwsgi;
	scgi_temp_path $tmp/nginx-tmp/scgi;
	upstream origin {
		server 127.0.0.1:$port_backend;
		keepalive 64;
		keepalive_requests 100000000;
		keepalive_timeout 300s;
	}
	server {
		listen 127.0.0.1:$port_nginx backlog=4096;
		location / {
			proxy_pass http://origin;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header X-Forwarded-For \$remote_addr;
		}
	}
}
EOF

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
targets=(backend)
[ -n "$portier" ] && targets+=(portier)
targets+=(haproxy nginx)
proxies=("${targets[@]:1}")

declare -A port=([backend]=$port_backend [portier]=$port_portier
	[haproxy]=$port_haproxy [nginx]=$port_nginx)

status=0
declare -A down # down[TARGET]: why TARGET is no longer measured

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
	backend) nginx -v 2>&1 | sed 's/.*nginx\//nginx /' ;;
	nginx) nginx -v 2>&1 | sed 's/.*nginx\///' ;;
	haproxy) haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p' ;;
	portier) "$portier" -V 2>&1 | head -n 1 | sed 's/^portier //' ;;
	esac
}

echo "portier HTTP proxy benchmark"
echo "machine: $(nproc) CPUs, $(uname -sr); wrk ${duration}s per run" \
	"(warm-up ${warmup}s), $rounds round(s), median kept"
versions=()
for t in "${targets[@]}"; do versions+=("$t $(version "$t")"); done
(IFS=,; echo "versions: ${versions[*]}" | sed 's/,/, /g')
echo "event loops: portier workers = $loops, haproxy nbthread $loops," \
	"nginx worker_processes $loops; backend nginx worker_processes 1"
if [ "$pin" = 1 ]; then
	echo "pinned: the proxies on CPU 0; the backend, wrk and the" \
		"idle-connection client on CPUs $load_cpus"
else
	echo "nothing pinned"
fi
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

declare -A result # result[ROW,TARGET]: number, or "-" / "fail"

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
# lines), or returns 1 when it could not run or completed no request.
run_wrk() {
	local t=$1 threads=$2 conns=$3 path=$4
	shift 4
	local url="http://127.0.0.1:${port[$t]}$path" out
	if ! any_alive "${pid[$t]}"; then
		note "$t is no longer running"
		down[$t]="stopped during the run"
		return 1
	fi
	if [ "$warmup" -gt 0 ]; then
		"${load_cpu[@]}" wrk -t"$threads" -c"$conns" -d"${warmup}s" \
			"$@" "$url" \
			>/dev/null 2>&1 || true
	fi
	local ticks0 ticks1
	ticks0=$(cpu_ticks "${pid[$t]}")
	if ! out=$("${load_cpu[@]}" wrk -t"$threads" -c"$conns" \
		-d"${duration}s" "$@" "$url" \
		2>&1); then
		note "$t: wrk failed: $out"
		return 1
	fi
	ticks1=$(cpu_ticks "${pid[$t]}")
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
	if [ -z "$wrk_rps" ] || [ "$wrk_rps" = 0 ]; then
		note "$t: no request completed${wrk_errors:+ ($wrk_errors)}"
		return 1
	fi
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
# $rounds times, round-robin, and keep the median in result[ROW,TARGET],
# result[ROW_mib,TARGET] and result[ROW_cpu,TARGET]; a "*" marks a figure
# for which wrk saw errors, "-" a target that is down or a failed run.
measure() {
	local row=$1 r t
	shift
	declare -A rps mib cpu bad
	for r in $(seq "$rounds"); do
		for t in "${targets[@]}"; do
			[ -n "${down[$t]:-}" ] && continue
			[ "${bad[$t]:-}" = fail ] && continue
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
		if [ -n "${down[$t]:-}" ] || [ "${bad[$t]:-}" = fail ]; then
			result[$row,$t]="-"
			result[${row}_mib,$t]="-"
			result[${row}_cpu,$t]="-"
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

# number X: true when X (a "*" mark removed) is a decimal number.
number() {
	[[ ${1%\*} =~ ^-?[0-9]+(\.[0-9]+)?$ ]]
}

# ratio A B: A / B with two decimals, or "-" when either is not a number.
ratio() {
	if number "$1" && number "$2"; then
		awk -v a="${1%\*}" -v b="${2%\*}" \
			'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
	else
		echo "-"
	fi
}

ratio_cols=()
for t in "${proxies[@]}"; do
	[ "$t" != haproxy ] && ratio_cols+=("$t")
done

printf '%-28s %-8s' "test" "unit"
for t in "${targets[@]}"; do printf ' %9s' "$t"; done
for t in "${ratio_cols[@]}"; do printf ' %15s' "$t/haproxy"; done
echo
for row in "${rows[@]}"; do
	printf '%-28s %-8s' "${label[$row]}" "${unit[$row]}"
	for t in "${targets[@]}"; do
		printf ' %9s' "${result[$row,$t]:--}"
	done
	for t in "${ratio_cols[@]}"; do
		printf ' %15s' "$(ratio "${result[$row,$t]:-}" \
			"${result[$row,haproxy]:-}")"
	done
	echo
done
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

exit "$status"
