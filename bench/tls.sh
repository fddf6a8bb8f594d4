#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of portier's TLS termination (mode = http, tls = on) against
# HAProxy, nginx and hitch, each terminating TLS in front of one nginx
# backend on 127.0.0.1 and forwarding plain HTTP/1.1 to it, in a single run
# on the same machine. hitch forwards the decrypted bytes as a raw TCP
# stream (it does not parse HTTP); HAProxy, nginx and portier are HTTP
# proxies.
#
# What is measured, for each of them:
#   1. keep-alive small: wrk over https, 64 keep-alive connections, GET
#      /small (a 100-byte body); requests per second. One handshake per
#      connection, then only record encryption and the HTTP relay.
#   2. 1 MiB responses: wrk over https, 8 keep-alive connections, GET /1m
#      (1 MiB file); requests per second and MiB per second: bulk
#      AES-GCM encryption.
#   3. full handshakes: tls_tools (tls_tools.c, built by this script
#      with BoringSSL, the TLS library of Chrome), 32 connections each
#      looping over connect, a full TLS handshake, one GET /small with
#      "Connection: close", close; complete exchanges per second. wrk
#      cannot measure this: it reuses its SSL objects, so with "Connection:
#      close" nearly every connection resumes the previous session (an
#      abbreviated handshake). tls_tools never offers a session and counts,
#      from the ClientHellos it sends and from the handshakes' outcome, that
#      none was offered or resumed; HAProxy's own counters (full and resumed
#      sessions) are read before and after the row as a check from the
#      server's side. Both appear below the table. A TLS client costs about
#      as much CPU per full handshake as a server, and on a small machine
#      it shares the cores with the servers, so the cheaper the client, the
#      more of the machine the servers get: built with OpenSSL 3.0,
#      tls_tools spends about 0.6 ms per handshake (a third of it decoding
#      the certificate), with BoringSSL about 0.4 ms.
#      --openssl-client runs this row with the OpenSSL build instead.
# Each figure comes with the CPU time the server spent per request (the
# backend's not counted), and its ratio to the best of the peers: portier's
# figure divided by the highest of HAProxy's, nginx's and hitch's (the
# lowest, for CPU time).
#
# Fairness: every server uses the same certificate, an ECDSA P-256 leaf
# signed by a CA that the script makes with openssl in its temporary
# directory; TLS 1.2 and 1.3 with AES-GCM only (TLS_AES_256_GCM_SHA384,
# TLS_AES_128_GCM_SHA256; ECDHE-ECDSA-AES256/128-GCM), key exchange X25519
# or P-256, HTTP/1.1 only (no HTTP/2; the clients offer no ALPN). portier
# is configured by its documented keys only and uses its own defaults for
# these; what each server negotiated is printed in the header, from one
# probe connection. Session caches and tickets keep each server's defaults
# (the handshake row never resumes). One event loop each, as in http.sh:
# portier workers = 1, HAProxy nbthread 1, nginx worker_processes 1, hitch
# workers 1; --threads N gives each N. HAProxy and nginx reuse their
# backend connections and add X-Forwarded-For, as in http.sh; hitch opens
# one backend connection per client connection. Logging is off. wrk uses
# 2 threads (1 for the 8-connection row), tls_tools 4. Each run is
# preceded by a 1-second warm-up whose result is discarded. --pin gives
# the TLS servers CPU 0 and the backend and load generators the other
# CPUs. On a 2-core machine the load generators and the backend share the
# cores with the server measured and spend more CPU than it does;
# --cpu-budget PERCENT holds each server to PERCENT of one CPU (its own
# control group) so that the server, not the load, sets the pace, and
# says under the table how often each used its budget up.
#
# portier's TLS termination may be missing from the binary under test:
# when portier does not start or fails the check request, the script says
# so, prints its figures as "-" and measures the others all the same;
# --peers-only leaves portier out.
#
# Every process runs from a temporary directory, listens on free high ports
# of 127.0.0.1 only, and is stopped on exit (also on Ctrl-C). The exit
# status is 0 when everything ran; 1 when something failed to run, portier
# included.
#
# Usage: bench/tls.sh [--portier PATH] [--peers-only] [--openssl-client]
#                     [--duration SECONDS] [--rounds N] [--quick]
#                     [--threads N] [--pin] [--cpu-budget PERCENT]
#                     [--keep]

set -euo pipefail

prog=tls.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

peers_only=0
hs_client=boringssl
server_name=127.0.0.1
tls13_suites="TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
tls12_ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"
tls_groups="X25519:P-256"

usage() {
	cat <<EOF
Usage: $0 [--portier PATH] [--peers-only] [--openssl-client]
	[--duration SECONDS] [--rounds N] [--quick] [--threads N] [--pin]
	[--cpu-budget PERCENT] [--keep]

  --portier PATH      portier binary (default: ./portier of the source tree,
                      then portier on PATH; without one, portier is skipped)
  --peers-only        measure HAProxy, nginx and hitch only
  --openssl-client    full handshakes with tls_tools built with OpenSSL,
                      not BoringSSL
  --duration SECONDS  length of each run (default 10)
  --rounds N          run every test N times, round-robin over the
                      servers, and report the median (default 1)
  --quick             3-second runs, no warm-up
  --threads N         event loops of each TLS server: portier workers,
                      HAProxy nbthread, nginx worker_processes, hitch
                      workers (default 1)
  --pin               run the TLS servers on CPU 0 and the backend and the
                      load generators on the other CPUs (needs 2 or more)
  --cpu-budget PERCENT
                      hold each server measured to PERCENT of one CPU
                      (cgroup CPU bandwidth; needs root); the backend and
                      the load generators stay unlimited
  --keep              keep the temporary directory (certificates,
                      configurations, logs)
EOF
}

while [ $# -gt 0 ]; do
	case "$1" in
	--peers-only) peers_only=1; shift ;;
	--openssl-client) hs_client=openssl; shift ;;
	*)
		common_option "$@" || { usage >&2; exit 2; }
		shift "$shifts"
		;;
	esac
done
want_positive "--duration, --rounds and --threads want a positive integer" \
	"$duration" "$rounds" "$loops"
setup_pin

# --- programs --------------------------------------------------------------

require_programs nginx:nginx haproxy:haproxy hitch:hitch wrk:wrk \
	python3:python3 openssl:openssl cc:gcc
if [ "$peers_only" = 1 ]; then
	portier=""
else
	find_portier
fi

# --- descriptors -----------------------------------------------------------

# Far fewer connections than the idle-memory rows of tcp.sh and http.sh.
raise_nofile 1000

# --- processes ------------------------------------------------------------

make_tmp

tools="$tmp/tls_tools"
cc -O2 -pthread -o "$tools" "$here/tls_tools.c" -lssl -lcrypto ||
	die "cannot build $here/tls_tools.c (it needs libssl-dev)"
# The handshake client: the same program built with BoringSSL (Debian's
# android-libboringssl-dev), unless --openssl-client.
hs_tools=$tools
hs_name="tls_tools (OpenSSL)"
if [ "$hs_client" = boringssl ]; then
	bssl_lib=""
	for d in /usr/lib/*/android; do
		[ -e "$d/libssl.so" ] && bssl_lib=$d
	done
	if [ -z "$bssl_lib" ] || [ ! -r /usr/include/android/openssl/ssl.h ]
	then
		die "BoringSSL not found: apt-get install" \
			"android-libboringssl-dev (or run with --openssl-client)"
	fi
	hs_tools="$tmp/tls_tools_boringssl"
	cc -O2 -pthread -I/usr/include/android -o "$hs_tools" \
		"$here/tls_tools.c" -L"$bssl_lib" -Wl,-rpath,"$bssl_lib" \
		-lssl -lcrypto ||
		die "cannot build $here/tls_tools.c with BoringSSL"
	hs_name="tls_tools (BoringSSL)"
fi

# hs_load PORT CONNECTIONS SECONDS PATH: one run of the handshake client,
# 4 threads.
# shellcheck disable=SC2317 # called through run_handshakes
hs_load() {
	"${load_cpu[@]}" "$hs_tools" handshakes "$1" 4 "${@:2}"
}

# Five free ports, chosen by the kernel.
read -r port_backend port_portier port_haproxy port_nginx port_hitch \
	< <(free_ports 5)

# The certificates: a throwaway CA and a leaf for 127.0.0.1 (and
# localhost) that it signs, both ECDSA P-256. cert.pem holds the leaf (the
# chain up to the CA, which clients already have); bundle.pem the key and
# the leaf, for HAProxy and hitch.
tls="$tmp/tls"
mkdir -p "$tls"
make_certificates() {
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" -days 2 \
		-subj "/CN=portier bench CA" \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" &&
		openssl req -new -newkey ec \
			-pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$tls/key.pem" -out "$tls/leaf.csr" \
			-subj "/CN=$server_name" &&
		cat >"$tls/leaf.ext" <<EOF &&
subjectAltName = IP:$server_name, DNS:localhost
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
EOF
		openssl x509 -req -in "$tls/leaf.csr" -CA "$tls/ca.pem" \
			-CAkey "$tls/ca-key.pem" -CAcreateserial -days 2 \
			-extfile "$tls/leaf.ext" -out "$tls/cert.pem" &&
		cat "$tls/key.pem" "$tls/cert.pem" >"$tls/bundle.pem"
}
make_certificates >"$tmp/openssl.log" 2>&1 || {
	cat "$tmp/openssl.log" >&2
	die "openssl could not make the certificates"
}

# The nginx backend: /small (100 bytes) and /1m (1 MiB) from a temporary
# root.
make_www
backend_conf backend "$port_backend"
mkdir -p "$tmp/nginx-tmp" "$tmp/hitch-ocsp"

# HAProxy: the stats socket serves the check of the handshake row.
cat >"$tmp/haproxy.cfg" <<EOF
global
	maxconn $maxconn
	nbthread $loops
	stats socket $tmp/haproxy.sock mode 600 level user
	ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3
	ssl-default-bind-ciphers $tls12_ciphers
	ssl-default-bind-ciphersuites $tls13_suites
	ssl-default-bind-curves $tls_groups

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
	bind 127.0.0.1:$port_haproxy ssl crt $tls/bundle.pem alpn http/1.1
	default_backend origin

backend origin
	server origin 127.0.0.1:$port_backend
EOF

# nginx terminating TLS, otherwise the reverse proxy of http.sh. nginx
# answers ALPN with http/1.1 as long as http2 is off.
nginx_proxy_conf ssl "$(cat <<EOF
		ssl_certificate $tls/cert.pem;
		ssl_certificate_key $tls/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_ciphers $tls12_ciphers;
		ssl_conf_command Ciphersuites $tls13_suites;
		ssl_ecdh_curve $tls_groups;
EOF
)"

# hitch: one backend connection per client connection, the bytes relayed
# as they are. Started as root it insists on a user to switch to.
hitch_user=""
[ "$(id -u)" = 0 ] && hitch_user='user = "nobody"'
cat >"$tmp/hitch.conf" <<EOF
frontend = "[127.0.0.1]:$port_hitch"
backend = "[127.0.0.1]:$port_backend"
pem-file = "$tls/bundle.pem"
workers = $loops
backlog = 4096
tls-protos = TLSv1.2 TLSv1.3
ciphers = "$tls12_ciphers"
ciphersuites = "$tls13_suites"
ecdh-curve = "$tls_groups"
alpn-protos = "http/1.1"
ocsp-dir = "$tmp/hitch-ocsp"
log-level = 1
daemon = off
$hitch_user
EOF

cat >"$tmp/portier.ini" <<EOF
[global]
workers = $loops
log_level = warn
max_connections = $maxconn

[listener bench]
bind = 127.0.0.1:$port_portier
mode = http
tls = on
tls_cert = $tls/cert.pem
tls_key = $tls/key.pem
backend = 127.0.0.1:$port_backend
EOF

# Targets in table order; the backend is not one (it does not speak TLS).
targets=()
[ -n "$portier" ] && targets+=(portier)
targets+=(haproxy nginx hitch)

declare -A port=([backend]=$port_backend [portier]=$port_portier
	[haproxy]=$port_haproxy [nginx]=$port_nginx [hitch]=$port_hitch)

start backend "$port_backend" "${load_cpu[@]}" nginx -p "$tmp/" \
	-e "$tmp/backend-error.log" -c "$tmp/backend.conf" ||
	die "the nginx backend did not start"
start haproxy "$port_haproxy" "${proxy_cpu[@]}" haproxy -db \
	-f "$tmp/haproxy.cfg" || die "haproxy did not start"
start nginx "$port_nginx" "${proxy_cpu[@]}" nginx -p "$tmp/" \
	-e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" ||
	die "the nginx proxy did not start"
start hitch "$port_hitch" "${proxy_cpu[@]}" hitch \
	--config="$tmp/hitch.conf" || die "hitch did not start"
if [ -n "$portier" ] && ! start portier "$port_portier" \
	"${proxy_cpu[@]}" "$portier" -c "$tmp/portier.ini"; then
	down[portier]="did not start: $(tail -n 1 "$tmp/portier.log")"
	status=1
fi

# The check: the certificate chain verified against the CA, then both
# files over one keep-alive connection; and one probe connection that says
# what was negotiated.
declare -A negotiated
for t in "${targets[@]}"; do
	[ -n "${down[$t]:-}" ] && continue
	out=""
	if ! err=$(check_http "${port[$t]}" "$tls/ca.pem" 2>&1) ||
		! out=$("$tools" probe "${port[$t]}" 2>&1); then
		err=${err:-$out}
		[ "$t" = portier ] ||
			die "$t: check through 127.0.0.1:${port[$t]}: $err"
		down[portier]="check through 127.0.0.1:${port[$t]} failed: $err"
		note "portier: ${down[portier]}"
		status=1
		continue
	fi
	negotiated[$t]="$(field protocol "$out") $(field cipher "$out")"
	negotiated[$t]+=" $(field group "$out")"
	[ "$(field hellos "$out")" = 1 ] ||
		negotiated[$t]+=" after a HelloRetryRequest"
	negotiated[$t]+=", $(field tickets "$out") session ticket(s)"
done

# --- header ----------------------------------------------------------------

echo "portier TLS termination benchmark"
print_machine "wrk and $hs_name "
print_versions
echo "backend: nginx $(program_version nginx), plain HTTP/1.1;" \
	"hitch relays the decrypted stream as raw TCP, one backend" \
	"connection per client connection"
echo "event loops: portier workers = $loops, haproxy nbthread $loops," \
	"nginx worker_processes $loops, hitch workers $loops; backend nginx" \
	"worker_processes 1"
echo "certificate: ECDSA P-256 leaf for $server_name signed by a" \
	"throwaway CA (ECDSA P-256); offered: TLS 1.2 and 1.3, AES-GCM only," \
	"groups $tls_groups, HTTP/1.1 only"
for t in "${targets[@]}"; do
	[ -n "${negotiated[$t]:-}" ] &&
		echo "negotiated with $t: ${negotiated[$t]}"
done
if [ "$pin" = 1 ]; then
	echo "pinned: the TLS servers on CPU 0; the backend, wrk and" \
		"$hs_name on CPUs $load_cpus"
else
	echo "nothing pinned"
fi
print_budget "the TLS servers"
if [ "$peers_only" = 1 ]; then
	echo "portier: left out (--peers-only)"
elif [ -z "$portier" ]; then
	echo "portier: no binary found (--portier PATH); skipped"
elif [ -n "${down[portier]:-}" ]; then
	echo "portier: ${down[portier]}"
	echo "portier: not measured, its figures print as -"
fi
echo

# --- measurements ----------------------------------------------------------

rows=(ka ka_cpu big big_mib big_cpu hs hs_cpu)
declare -A label=(
	[ka]="keep-alive small, 64 conns"
	[ka_cpu]="keep-alive small, 64 conns"
	[big]="1 MiB responses, 8 conns"
	[big_mib]="1 MiB responses, 8 conns"
	[big_cpu]="1 MiB responses, 8 conns"
	[hs]="full handshakes, 32 conns"
	[hs_cpu]="full handshakes, 32 conns"
)
declare -A unit=([ka]="req/s" [ka_cpu]="us/req" [big]="req/s"
	[big_mib]="MiB/s" [big_cpu]="us/req" [hs]="hs/s" [hs_cpu]="us/hs")

# What the handshake client counted over the handshake row, all servers
# together; and the TLS suites it negotiated with each server.
declare -A hs_count=([requests]=0 [hellos]=0 [offered]=0 [resumed]=0)
declare -A hs_suites

# run_handshakes TARGET CONNECTIONS PATH: one run of the handshake client
# against TARGET, after the warm-up; sets got_rps (complete exchanges per
# second, each a full handshake), got_cpu (CPU microseconds the server
# spent per exchange) and got_errors, or returns 1 when it could not run,
# completed nothing, or a session was offered or resumed.
# shellcheck disable=SC2317 # called through measure
run_handshakes() {
	local t=$1 conns=$2 path=$3 out ticks0 ticks1 n k
	if ! any_alive "${pid[$t]}"; then
		note "$t is no longer running"
		down[$t]="stopped during the run"
		return 1
	fi
	if [ "$warmup" -gt 0 ]; then
		hs_load "${port[$t]}" "$conns" "$warmup" "$path" \
			>/dev/null 2>&1 || true
	fi
	ticks0=$(cpu_ticks "${pid[$t]}")
	if ! out=$(hs_load "${port[$t]}" "$conns" "$duration" "$path" 2>&1)
	then
		note "$t: $hs_name failed: $out"
		return 1
	fi
	ticks1=$(cpu_ticks "${pid[$t]}")
	echo "$t: $out" >>"$tmp/handshakes.log"
	hs_suites[$t]=$(field suites "$out")
	for k in "${!hs_count[@]}"; do
		hs_count[$k]=$((hs_count[$k] + $(field "$k" "$out")))
	done
	if [ "$(field offered "$out")" != 0 ] ||
		[ "$(field resumed "$out")" != 0 ]; then
		note "$t: not only full handshakes: $out"
		return 1
	fi
	n=$(field requests "$out")
	got_rps=$(field rate "$out")
	got_mib=""
	got_errors=""
	[ "$(field errors "$out")" = 0 ] ||
		got_errors="$(field errors "$out") failed connections"
	if [ -z "$n" ] || [ "$n" = 0 ]; then
		note "$t: no exchange completed${got_errors:+ ($got_errors)}"
		return 1
	fi
	got_cpu=$(awk -v t=$((ticks1 - ticks0)) -v hz="$clk_tck" -v n="$n" \
		'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
}

# haproxy_sessions: HAProxy's frontend counters of full and resumed TLS
# sessions, "FULL RESUMED", from its stats socket.
haproxy_sessions() {
	python3 - "$tmp/haproxy.sock" <<'EOF'
import csv, io, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat -m\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
rows = list(csv.reader(io.StringIO(data.decode())))
head = [h.lstrip("# ") for h in rows[0]]
for row in rows[1:]:
    f = dict(zip(head, row))
    if f.get("pxname") == "bench" and f.get("svname") == "FRONTEND":
        print(f.get("ssl_sess") or 0, f.get("ssl_reused_sess") or 0)
        break
EOF
}

scheme=https
measure ka run_wrk 2 64 /small
measure big run_wrk 1 8 /1m
hap_before=$(haproxy_sessions 2>/dev/null) || hap_before=""
measure hs run_handshakes 32 /small
hap_after=$(haproxy_sessions 2>/dev/null) || hap_after=""

# --- report -----------------------------------------------------------------

lower_better=([ka_cpu]=1 [big_cpu]=1 [hs_cpu]=1)
best_of=(haproxy nginx hitch)
[ -n "$portier" ] && ratio_cols=("portier/best")

print_table 28 8 9 14
if grep -q '\*' <<<"${result[*]}"; then
	echo "* the load generator reported errors (see above)"
fi
echo "portier/best: portier's figure divided by the best of haproxy's," \
	"nginx's and hitch's (the highest; the lowest for us/req and us/hs)"
echo "us/req, us/hs: CPU time (user + system) the TLS server spent per" \
	"request or per handshake, kernel TCP work included"
echo "hs/s: connections per second, each a full TLS handshake and one" \
	"GET /small ($hs_name)"
echo "full handshakes: $hs_name sent ${hs_count[hellos]} ClientHellos," \
	"${hs_count[offered]} offering a session to resume;" \
	"${hs_count[resumed]} handshakes resumed," \
	"${hs_count[requests]} exchanges completed"
for t in "${targets[@]}"; do
	[ -n "${hs_suites[$t]:-}" ] &&
		echo "full handshakes with $t ended on ${hs_suites[$t]//,/, }" \
			"(TLS suite:handshakes, last run)"
done
if [ -n "$hap_before" ] && [ -n "$hap_after" ]; then
	read -r full0 reused0 <<<"$hap_before"
	read -r full1 reused1 <<<"$hap_after"
	echo "haproxy's counters over the handshake row (warm-up included):" \
		"$((full1 - full0)) full TLS sessions, $((reused1 - reused0))" \
		"resumed"
	[ "$reused1" = "$reused0" ] || status=1
fi

print_round_ratios
budget_report

exit "$status"
