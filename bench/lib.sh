# SPDX-License-Identifier: MIT
# Variables cross between this file and the scripts that source it:
# shellcheck shell=bash disable=SC2034,SC2154
#
# What the benchmarks of this directory share, sourced by tcp.sh, http.sh,
# udp.sh and tls.sh: the common options and their defaults, messages, the
# programs a benchmark needs, the open-file limit, a temporary directory and
# the processes started in it, free ports of 127.0.0.1, the nginx backend,
# load runs repeated over rounds with their median, the CPU time a server
# spends per request, and the result table with its ratios.
#
# The sourcing script sets "prog" (its name in messages) and "here" (this
# directory) first. Sourcing only sets variables and defines functions;
# make_tmp starts the cleanup that stops every process "start" started.
#
# Processes: each runs in a session (and process group) of its own, so that
# stopping it also stops what it forked (nginx's and hitch's workers,
# socat's children) and so that Ctrl-C, which reaches the script and its
# load generator, reaches them only through the cleanup. That cleanup runs
# on every exit: normal end, error, Ctrl-C or SIGTERM.

top=$(dirname "$here")
PATH="$PATH:/usr/sbin:/sbin"

# Defaults of the options every benchmark takes (see common_option).
duration=10
warmup=1
rounds=1
portier=""
keep=0
loops=1
pin=0
cpu_budget=""

# How a failed measurement prints in the table.
fail_mark="-"

declare -A pid    # pid[NAME]: process (group) started under NAME
declare -A down   # down[TARGET]: why TARGET is no longer measured
declare -A result # result[ROW,TARGET]: a figure, or "-" / "fail"
status=0          # the exit status: 1 once something failed to run

die() {
	echo "$prog: $*" >&2
	exit 1
}

note() {
	echo "$prog: $*" >&2
}

# --- options ----------------------------------------------------------------

# common_option ARG...: when ARG is one of the options every benchmark
# takes (--portier, --duration, --rounds, --quick, --threads, --pin,
# --cpu-budget, --keep, --help), set its variable and "shifts" to the
# number of words it used; otherwise return 1. Calls the script's usage
# for --help.
common_option() {
	shifts=1
	case "$1" in
	--portier) portier=${2:?--portier needs a path}; shifts=2 ;;
	--portier=*) portier=${1#*=} ;;
	--duration) duration=${2:?--duration needs a number}; shifts=2 ;;
	--duration=*) duration=${1#*=} ;;
	--rounds) rounds=${2:?--rounds needs a number}; shifts=2 ;;
	--rounds=*) rounds=${1#*=} ;;
	--quick) duration=3; warmup=0 ;;
	--threads) loops=${2:?--threads needs a number}; shifts=2 ;;
	--threads=*) loops=${1#*=} ;;
	--pin) pin=1 ;;
	--cpu-budget) cpu_budget=${2:?--cpu-budget needs a percentage}
		shifts=2 ;;
	--cpu-budget=*) cpu_budget=${1#*=} ;;
	--keep) keep=1 ;;
	-h | --help) usage; exit 0 ;;
	*) return 1 ;;
	esac
}

# want_positive MESSAGE VALUE...: exit 2 with MESSAGE unless every VALUE
# is a positive integer.
want_positive() {
	local message=$1 n
	shift
	for n in "$@"; do
		case "$n" in
		'' | *[!0-9]* | 0*)
			echo "$prog: $message" >&2
			exit 2
			;;
		esac
	done
}

# setup_pin: with --pin, the "taskset -c ..." prefixes proxy_cpu (CPU 0)
# and load_cpu (the other CPUs, listed in load_cpus); empty otherwise.
# With --cpu-budget, proxy_cpu also holds each server to its budget (see
# setup_budget).
setup_pin() {
	proxy_cpu=()
	load_cpu=()
	load_cpus=""
	setup_budget
	[ "$pin" = 1 ] || return 0
	if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; then
		echo "$prog: --pin needs 2 CPUs and taskset (util-linux)" >&2
		exit 2
	fi
	load_cpus="1-$(($(nproc) - 1))"
	proxy_cpu=(taskset -c 0 "${proxy_cpu[@]}")
	load_cpu=(taskset -c "$load_cpus")
}

# --- CPU budget -------------------------------------------------------------
#
# With --cpu-budget PERCENT every server measured (the programs started
# with the proxy_cpu prefix) runs in a control group of its own whose CPU
# time is capped at PERCENT of one CPU (the kernel's CFS bandwidth
# control: cpu.max of cgroup v2, cpu.cfs_quota_us of cgroup v1), while the
# backend and the load generators run free. On a small machine the load
# generator and the backend share the CPUs with the server measured, and
# the throughput of each server then says as much about them as about it;
# with a budget that binds (see budget_report), the throughput is what
# each server makes of the same CPU time.

budget_period=20000 # microseconds per enforcement period
budget_dir=""       # the control group holding one group per server

# setup_budget: with --cpu-budget, the prefix in proxy_cpu that starts a
# program in a control group of its own under budget_dir (made by
# budget_make); budget_version is 1 or 2. Exits 2 when the kernel or the
# user cannot do it.
setup_budget() {
	local root
	[ -n "$cpu_budget" ] || return 0
	case "$cpu_budget" in
	'' | *[!0-9]* | 0*)
		echo "$prog: --cpu-budget wants a percentage of one CPU" \
			"(1 or more)" >&2
		exit 2
		;;
	esac
	if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		root=/sys/fs/cgroup
		budget_version=2
	elif [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
		root=/sys/fs/cgroup/cpu
		budget_version=1
	else
		echo "$prog: --cpu-budget needs the cpu controller of" \
			"cgroups, mounted under /sys/fs/cgroup" >&2
		exit 2
	fi
	if [ ! -w "$root" ]; then
		echo "$prog: --cpu-budget: cannot make a control group in" \
			"$root (run as root)" >&2
		exit 2
	fi
	budget_root=$root
	budget_dir="$root/portier-bench.$$"
	# A shell that makes the group PARENT/ITS_PID, sets its budget,
	# enters it and becomes the program: its pid stays the server's.
	# shellcheck disable=SC2016 # expanded by that shell
	proxy_cpu=(sh -c '
		d=$1/$$ v=$2 quota=$3 period=$4
		shift 4
		mkdir "$d" || exit 125
		if [ "$v" = 2 ]; then
			echo "$quota $period" >"$d/cpu.max"
		else
			echo "$period" >"$d/cpu.cfs_period_us" &&
				echo "$quota" >"$d/cpu.cfs_quota_us"
		fi || exit 125
		echo $$ >"$d/cgroup.procs" || exit 125
		exec "$@"' budget "$budget_dir" "$budget_version"
		$((budget_period * cpu_budget / 100)) "$budget_period")
}

# budget_make: with --cpu-budget, the control group budget_dir, made by
# make_tmp once the cleanup that removes it is in place.
budget_make() {
	[ -n "$cpu_budget" ] || return 0
	if [ "$budget_version" = 2 ] &&
		! grep -qw cpu "$budget_root/cgroup.subtree_control"; then
		echo +cpu 2>/dev/null >"$budget_root/cgroup.subtree_control" ||
			true
	fi
	mkdir "$budget_dir" ||
		die "--cpu-budget: cannot make the control group $budget_dir"
	if [ "$budget_version" = 2 ] &&
		! echo +cpu 2>/dev/null >"$budget_dir/cgroup.subtree_control"
	then
		die "--cpu-budget: cannot enable the cpu controller in" \
			"$budget_dir"
	fi
}

# budget_stat PID KEY: KEY of the cpu.stat of the server PID's group.
budget_stat() {
	awk -v k="$2" '$1 == k { print $2 }' \
		"$budget_dir/$1/cpu.stat" 2>/dev/null
}

# budget_remove: the control groups, once their processes are gone.
budget_remove() {
	local d
	[ -n "$budget_dir" ] && [ -d "$budget_dir" ] || return 0
	for d in "$budget_dir"/*/; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	rmdir "$budget_dir" 2>/dev/null ||
		note "could not remove the control group $budget_dir"
}

# print_budget WHAT: the header line of the CPU budget; WHAT names the
# servers ("the proxies").
print_budget() {
	[ -n "$cpu_budget" ] || return 0
	echo "CPU budget: $1 each held to $cpu_budget% of one CPU" \
		"(cgroup v$budget_version CPU bandwidth, $((budget_period / 1000))" \
		"ms periods); the backend and the load generators unlimited"
}

# budget_report: under the table, for each server, in how many of its
# enforcement periods it used up its budget; a budget that rarely binds
# leaves the load generator, not the server, setting the pace.
budget_report() {
	local t periods throttled
	[ -n "$cpu_budget" ] || return 0
	for t in "${targets[@]}"; do
		[ -n "${pid[$t]:-}" ] || continue
		periods=$(budget_stat "${pid[$t]}" nr_periods)
		throttled=$(budget_stat "${pid[$t]}" nr_throttled)
		if [ -z "$periods" ] || [ "$periods" -eq 0 ]; then
			continue
		fi
		echo "CPU budget of $t: used up in $throttled of its" \
			"$periods busy periods ($((100 * throttled / periods))%)"
	done
}

# --- programs ---------------------------------------------------------------

# require_programs PROGRAM[:PACKAGE]...: exit 1, naming the Debian packages
# to install, unless every PROGRAM is on PATH.
require_programs() {
	local pair missing=()
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null 2>&1 ||
			missing+=("${pair#*:}")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "$prog: missing programs; install the Debian packages:" >&2
	echo "    apt-get install ${missing[*]}" >&2
	if [ -x "$top/scripts/install-deps" ]; then
		echo "or run scripts/install-deps" >&2
	fi
	exit 1
}

# find_portier: without --portier, ./portier of the source tree, then
# portier on PATH; "portier" stays empty when there is none.
find_portier() {
	if [ -z "$portier" ]; then
		if [ -x "$top/portier" ]; then
			portier="$top/portier"
		elif command -v portier >/dev/null 2>&1; then
			portier=$(command -v portier)
		fi
	elif [ ! -x "$portier" ]; then
		die "$portier: not an executable"
	fi
}

# program_version PROGRAM: its version, as short as it prints it.
program_version() {
	case "$1" in
	nginx) nginx -v 2>&1 | sed 's/.*nginx\///' ;;
	haproxy) haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p' ;;
	rinetd) rinetd -v 2>&1 | sed 's/^rinetd //' ;;
	socat) socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p' ;;
	hitch) hitch --version 2>&1 | sed 's/^hitch //' ;;
	portier) "$portier" -V 2>&1 | head -n 1 | sed 's/^portier //' ;;
	esac
}

# version TARGET: what the versions line says of TARGET; a script that
# names its targets otherwise redefines it.
version() {
	program_version "$1"
}

# --- descriptors ------------------------------------------------------------

# cap A B: the smaller of two numbers.
cap() {
	if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi
}

# raise_nofile COUNT: raise the open-file limit as far as the hard limit
# allows, and exit unless a proxy can hold COUNT connections with two
# descriptors each. Sets nofile, maxconn (the connection limit of haproxy
# and portier: 20000, or less when the descriptors cannot back it) and
# nginx_conns (nginx's worker_connections).
raise_nofile() {
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null ||
		true
	nofile=$(ulimit -n)
	[ "$nofile" = unlimited ] && nofile=1048576
	if [ "$nofile" -lt $((2 * $1 + 256)) ]; then
		die "open-file limit $nofile is too low for $1 idle" \
			"connections; raise the hard limit (ulimit -Hn)"
	fi
	maxconn=$(cap 20000 $(((nofile - 256) / 2)))
	nginx_conns=$(cap 20000 $((nofile - 256)))
}

# --- processes --------------------------------------------------------------

# make_tmp: the temporary directory $tmp, removed on exit unless --keep,
# and the cleanup of every process started.
make_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/portier-bench.XXXXXX")
	started=()
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	budget_make
}

# True while any process of the given process groups is alive (zombies
# count as gone).
any_alive() {
	local p state groups
	groups=$(IFS=, && echo "$*")
	for p in $(pgrep -g "$groups" 2>/dev/null || true); do
		state=$(sed 's/.*) \(.\).*/\1/' "/proc/$p/stat" 2>/dev/null) ||
			continue
		[ "$state" != Z ] && return 0
	done
	return 1
}

# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
	local p
	# No "Terminated" line for each process stopped here.
	exec 3>&2 2>/dev/null
	for p in "${started[@]}"; do
		kill -- "-$p" 2>/dev/null || true
	done
	for _ in $(seq 30); do
		[ ${#started[@]} -eq 0 ] && break
		any_alive "${started[@]}" || break
		sleep 0.1
	done
	for p in "${started[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	exec 2>&3 3>&-
	budget_remove
	if [ "$keep" = 1 ]; then
		note "configurations and logs kept in $tmp"
	else
		rm -rf "$tmp"
	fi
}

# free_ports COUNT [udp]: COUNT free ports of 127.0.0.1 (TCP unless udp),
# chosen by the kernel, on one line.
free_ports() {
	python3 - "$1" "${2:-tcp}" <<'EOF'
import socket, sys
kind = socket.SOCK_DGRAM if sys.argv[2] == "udp" else socket.SOCK_STREAM
socks = [socket.socket(socket.AF_INET, kind) for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
}

# tcp_listening PORT: true when something accepts connections on
# 127.0.0.1:PORT.
tcp_listening() {
	(: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# udp_bound PORT: true when something holds UDP port PORT of 127.0.0.1.
udp_bound() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
EOF
}

# start NAME PORT COMMAND...: run COMMAND in the background, in a session
# of its own, its output in $tmp/NAME.log, and wait until it accepts TCP
# connections on 127.0.0.1:PORT; sets pid[NAME]. Returns 1, after showing
# the end of the log, when it does not within 10 seconds.
start() {
	start_ready tcp_listening "did not start listening on" "$@"
}

# start_udp NAME PORT COMMAND...: the same, waiting until it holds UDP
# port PORT.
start_udp() {
	start_ready udp_bound "did not bind" "$@"
}

# start_ready CHECK WHAT NAME PORT COMMAND...: start's work; CHECK PORT
# says whether the process is ready.
start_ready() {
	local check=$1 what=$2 name=$3 port=$4 suffix=""
	shift 4
	[ "$check" = udp_bound ] && suffix=" (udp)"
	# Started from a shell without job control, the job does not lead a
	# process group, so setsid makes it a new one without forking: its
	# pid is the group's id.
	setsid "$@" >"$tmp/$name.log" 2>&1 </dev/null &
	pid[$name]=$!
	started+=("${pid[$name]}")
	for _ in $(seq 100); do
		any_alive "${pid[$name]}" || break
		"$check" "$port" && return 0
		sleep 0.1
	done
	tail -n 20 "$tmp/$name.log" >&2
	note "$name $what 127.0.0.1:$port$suffix"
	return 1
}

# --- the nginx backend ------------------------------------------------------

# make_www: the backend's files, $tmp/www/small (100 bytes; its size in
# small_size) and $tmp/www/1m (1 MiB); and nginx_user, the "user" line an
# nginx started as root needs to serve them.
make_www() {
	mkdir -p "$tmp/www"
	printf '%099d\n' 0 | tr 0 s >"$tmp/www/small"
	head -c 1048576 /dev/urandom >"$tmp/www/1m"
	small_size=$(wc -c <"$tmp/www/small")
	nginx_user=""
	[ "$(id -u)" = 0 ] && nginx_user="user root;"
	return 0
}

# backend_conf NAME PORT: $tmp/NAME.conf, nginx serving $tmp/www on
# 127.0.0.1:PORT with one worker, keep-alive without limits, no log; its
# pid file, error log and temporary files are named after NAME.
backend_conf() {
	local name=$1 port=$2
	mkdir -p "$tmp/$name-tmp"
	cat >"$tmp/$name.conf" <<EOF
$nginx_user
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $tmp/$name.pid;
error_log $tmp/$name-error.log warn;
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
	client_body_temp_path $tmp/$name-tmp/body;
	proxy_temp_path $tmp/$name-tmp/proxy;
	fastcgi_temp_path $tmp/$name-tmp/fastcgi;
	uwsgi_temp_path $tmp/$name-tmp/uwsgi;
	scgi_temp_path $tmp/$name-tmp/scgi;
	server {
		listen 127.0.0.1:$port backlog=4096;
		root $tmp/www;
	}
}
EOF
}

# nginx_proxy_conf LISTEN_FLAGS [SERVER_LINES]: nginx as the reverse proxy
# of the benches, written to $tmp/nginx.conf: a pool of up to 64 idle
# backend connections per worker, HTTP/1.1 to the backend without
# "Connection: close", X-Forwarded-For as the other proxies add it.
# LISTEN_FLAGS go on the listen line (ssl), SERVER_LINES into the server
# block (certificates).
nginx_proxy_conf() {
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
		listen 127.0.0.1:$port_nginx${1:+ $1} backlog=4096;
${2:-}
		location / {
			proxy_pass http://origin;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header X-Forwarded-For \$remote_addr;
		}
	}
}
EOF
}

# check_http PORT [CAFILE]: two keep-alive requests on one connection to
# 127.0.0.1:PORT, /small and /1m, both responses complete; with CAFILE over
# TLS, the server's certificate verified against CAFILE for 127.0.0.1. On
# failure, one line on stderr says what went wrong.
check_http() {
	python3 - "$1" "$small_size" "${2:-}" <<'EOF'
import http.client, ssl, sys
port, small, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if cafile:
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5,
                                       context=ctx)
else:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
for path, size in (("/small", small), ("/1m", 1048576)):
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

# --- header -----------------------------------------------------------------

# print_machine TOOL: the machine line of the header; TOOL names the load
# generator ("wrk ") or is empty.
print_machine() {
	echo "machine: $(nproc) CPUs, $(uname -sr); $1${duration}s per run" \
		"(warm-up ${warmup}s), $rounds round(s), median kept"
}

# print_versions: the versions line, one "TARGET VERSION" per target.
print_versions() {
	local t versions=()
	for t in "${targets[@]}"; do versions+=("$t $(version "$t")"); done
	(IFS=,; echo "versions: ${versions[*]}" | sed 's/,/, /g')
}

# --- measurements -----------------------------------------------------------

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

# field NAME LINE: the value of NAME=VALUE in a line of key=value pairs.
field() {
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# run_wrk TARGET THREADS CONNECTIONS PATH [wrk options...]: one wrk run
# against port[TARGET] of 127.0.0.1 ($scheme, http unless set), after the
# warm-up; sets got_rps (requests/s), got_mib (MiB/s), got_cpu (CPU
# microseconds the server spent per request) and got_errors (wrk's error
# lines), or returns 1 when it could not run or completed no request.
run_wrk() {
	local t=$1 threads=$2 conns=$3 path=$4
	shift 4
	local url="${scheme:-http}://127.0.0.1:${port[$t]}$path" out
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
	got_rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
	# Transfer/sec is printed in binary units (KB = KiB, ...).
	got_mib=$(awk '/^Transfer\/sec:/ {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Z]+$/, "", v)
		f = 1 / 1048576
		if (u == "KB") f = 1 / 1024
		if (u == "MB") f = 1
		if (u == "GB") f = 1024
		printf "%.0f", v * f }' <<<"$out")
	got_errors=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' |
		paste -sd ';' -) || true
	if [ -z "$got_rps" ] || [ "$got_rps" = 0 ]; then
		note "$t: no request completed${got_errors:+ ($got_errors)}"
		return 1
	fi
	got_cpu=$(awk -v t=$((ticks1 - ticks0)) -v hz="$clk_tck" \
		-v rps="$got_rps" -v d="$duration" \
		'BEGIN { if (rps > 0) printf "%.1f", t / hz * 1e6 / (rps * d) }')
}

# median NUMBER...: the middle value (the lower middle of an even count).
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END { print v[int((NR + 1) / 2)] }'
}

# round_order ROUND: the targets in the order of round ROUND (1, 2, ...).
# The reference target ($reference: the backend reached directly, when the
# script has one) runs first in every round, and the others are rotated one
# place each round, so that over as many rounds as there are of them each
# runs once right after the reference: on a 2-core machine whichever server
# ran right after the backend reached directly came out up to a fifth
# slower, warm-up or not.
round_order() {
	local rest=() t k n
	for t in "${targets[@]}"; do
		[ "$t" = "${reference:-}" ] && echo "$t" && continue
		rest+=("$t")
	done
	n=${#rest[@]}
	for ((k = 0; k < n; k++)); do
		echo "${rest[$(((k + $1 - 1) % n))]}"
	done
}

# measure ROW RUNNER ARGS...: run "RUNNER TARGET ARGS..." (run_wrk, or a
# function that sets the same got_ variables) for every target $rounds
# times, round-robin (round_order), and keep the medians in
# result[ROW,TARGET], result[ROW_mib,TARGET] and result[ROW_cpu,TARGET].
# A "*" marks a figure
# for which the runner saw errors; $fail_mark stands for a target that is
# down or a failed run (after which the target is not run again in this
# row).
measure() {
	local row=$1 runner=$2 r t
	shift 2
	declare -A rps mib cpu bad
	for r in $(seq "$rounds"); do
		for t in $(round_order "$r"); do
			[ -n "${down[$t]:-}" ] && continue
			[ "${bad[$t]:-}" = fail ] && continue
			note "${label[$row]}: $t (round $r of $rounds)"
			if ! "$runner" "$t" "$@"; then
				bad[$t]=fail
				status=1
				continue
			fi
			rps[$t]+=" $got_rps"
			mib[$t]+=" $got_mib"
			cpu[$t]+=" $got_cpu"
			per_round[$row,$t]+=" $got_rps"
			per_round[${row}_mib,$t]+=" ${got_mib:--}"
			per_round[${row}_cpu,$t]+=" $got_cpu"
			if [ -n "$got_errors" ]; then
				note "$t: $got_errors"
				[ -n "${bad[$t]:-}" ] || bad[$t]="*"
			fi
		done
	done
	for t in "${targets[@]}"; do
		if [ -n "${down[$t]:-}" ] || [ "${bad[$t]:-}" = fail ]; then
			result[$row,$t]=$fail_mark
			result[${row}_mib,$t]=$fail_mark
			result[${row}_cpu,$t]=$fail_mark
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

# best ROW: the best figure of the targets in best_of on ROW: the lowest
# when ROW is in lower_better, else the highest; 0 when none is a number.
best() {
	local t values=()
	for t in "${best_of[@]}"; do
		values+=("${result[$1,$t]:-}")
	done
	best_value "$1" 0 "${values[@]}"
}

# best_value ROW NONE VALUES...: the best of the VALUES that are numbers (a
# "*" mark removed) for ROW, as in best; NONE when none is.
best_value() {
	local row=$1 none=$2 v numbers=()
	shift 2
	for v in "$@"; do
		number "$v" && numbers+=("${v%\*}")
	done
	[ ${#numbers[@]} -gt 0 ] || { echo "$none"; return; }
	printf '%s\n' "${numbers[@]}" | awk -v low="${lower_better[$row]:-}" '
		NR == 1 || (low ? $1 < b : $1 > b) { b = $1 }
		END { print b }'
}

# print_table LABEL_WIDTH UNIT_WIDTH COLUMN_WIDTH RATIO_WIDTH: the result
# table, a line per entry of "rows": label[ROW], unit[ROW], then
# result[ROW,TARGET] for each of "targets", then a column per entry "A/B"
# of "ratio_cols": A's figure divided by B's, or by the best of the targets
# in "best_of" when B is "best". When "ratio_row" has entries, the rows it
# lists are the only ones with ratios.
print_table() {
	local lw=$1 uw=$2 cw=$3 rw=$4 row t col
	printf "%-${lw}s %-${uw}s" "test" "unit"
	for t in "${targets[@]}"; do printf " %${cw}s" "$t"; done
	for col in "${ratio_cols[@]}"; do printf " %${rw}s" "$col"; done
	echo
	for row in "${rows[@]}"; do
		printf "%-${lw}s %-${uw}s" "${label[$row]}" "${unit[$row]}"
		for t in "${targets[@]}"; do
			printf " %${cw}s" "${result[$row,$t]:--}"
		done
		for col in "${ratio_cols[@]}"; do
			if [ ${#ratio_row[@]} -gt 0 ] &&
				[ -z "${ratio_row[$row]:-}" ]; then
				printf " %${rw}s" ""
			elif [ "${col#*/}" = best ]; then
				printf " %${rw}s" "$(ratio \
					"${result[$row,${col%%/*}]:-}" \
					"$(best "$row")")"
			else
				printf " %${rw}s" "$(ratio \
					"${result[$row,${col%%/*}]:-}" \
					"${result[$row,${col#*/}]:-}")"
			fi
		done
		echo
	done
}

# print_round_ratios: with more than one round, each ratio column of the
# table round by round ("A/B" or "A/best", the figures of one round only),
# for the rows that have ratios: the spread behind the medians, and how
# many single rounds met a target that the medians meet or miss.
print_round_ratios() {
	local row col a b r v ratios
	[ "$rounds" -gt 1 ] && [ ${#ratio_cols[@]} -gt 0 ] || return 0
	echo "the ratios round by round (each from the figures of one round):"
	for row in "${rows[@]}"; do
		[ ${#ratio_row[@]} -gt 0 ] && [ -z "${ratio_row[$row]:-}" ] &&
			continue
		for col in "${ratio_cols[@]}"; do
			a=${col%%/*}
			b=${col#*/}
			ratios=""
			for r in $(seq "$rounds"); do
				v=$(round_value "$row" "$a" "$r")
				if [ "$b" = best ]; then
					ratios+=" $(ratio "$v" \
						"$(round_best "$row" "$r")")"
				else
					ratios+=" $(ratio "$v" \
						"$(round_value "$row" "$b" "$r")")"
				fi
			done
			printf "  %-28s %-8s %-14s%s\n" "${label[$row]}" \
				"${unit[$row]}" "$col" "$ratios"
		done
	done
}

# round_value ROW TARGET R: TARGET's figure on ROW in round R, or "-".
round_value() {
	local words
	read -r -a words <<<"${per_round[$1,$2]:-}"
	echo "${words[$3 - 1]:--}"
}

# round_best ROW R: the best figure of "best_of" on ROW in round R, as in
# best, or "-" when none has one.
round_best() {
	local t values=()
	for t in "${best_of[@]}"; do
		values+=("$(round_value "$1" "$t" "$2")")
	done
	best_value "$1" - "${values[@]}"
}

# Left empty by the scripts that do not use them.
ratio_cols=()
best_of=()
declare -A ratio_row=()
declare -A lower_better=()
# Each figure of every round, "ROW,TARGET" -> " R1 R2 ...", in round order.
declare -A per_round=()
