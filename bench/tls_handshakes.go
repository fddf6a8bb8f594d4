// SPDX-License-Identifier: MIT

// tls_handshakes: the load of the full-handshake row of bench/tls.sh,
// built by the script with Go's own TLS implementation (crypto/tls).
//
//	tls_handshakes PORT CONNECTIONS SECONDS PATH
//
// CONNECTIONS connections to 127.0.0.1:PORT, each in a loop: connect, a
// full TLS handshake, one "GET PATH" with "Connection: close", the whole
// response read, close_notify, close, start over. After SECONDS it prints
// "requests=N handshakes=N hellos=N offered=N resumed=N errors=N
// tickets=N seconds=S rate=N suites=NAME:N,...", rate being the complete
// exchanges (handshake, request, response) per second, and suites the TLS
// cipher suites the handshakes ended with.
//
// Why Go's TLS and not OpenSSL's: a client does as much work per full
// handshake as a server, and with OpenSSL 3.0 more (about 0.6 ms of CPU on
// a 2-core virtual machine, a third of it decoding the server's
// certificate), so on a small machine the load generator takes most of
// the CPUs the servers compete for. crypto/tls does the same handshake,
// the check of the server's signature included, for about two thirds of
// that CPU time (0.4 ms there), which leaves more of the machine to the
// servers being compared.
//
// Every handshake is a full one: the session cache below hands out no
// session and only counts the tickets the server sends ("tickets"). Two
// counters check that claim from the wire and from the outcome, and must
// stay 0: "offered", the ClientHellos that carry a pre_shared_key
// extension (TLS 1.3 resumption) or a non-empty session_ticket extension
// (TLS 1.2), read from the bytes as they are written; "resumed", the
// handshakes that crypto/tls reports as resumed. "hellos" counts the
// ClientHellos sent (more than the handshakes when a server asks for
// another key share).
//
// Like wrk, the client does not verify the certificate chain (the script
// checks it once with the CA); it does verify the server's handshake
// signature, as every TLS client must. crypto/tls sends no server name for
// an IP address; the Host field is "127.0.0.1:PORT". Everything is
// loopback and ends by itself.
package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	extSessionTicket = 35
	extPreSharedKey  = 41
	headMax          = 8192             // bytes of a response head kept
	ioTimeout        = 10 * time.Second // a stalled server fails the exchange
)

// counts of the whole run, updated by every connection loop.
type counts struct {
	requests, handshakes, hellos, offered, resumed, errors, tickets atomic.Uint64
}

var (
	total  counts
	suites sync.Map // cipher suite name -> *atomic.Uint64
)

// ticketCounter is a session cache that keeps nothing: the handshakes
// stay full ones, and every ticket the server sends is counted.
type ticketCounter struct{}

func (ticketCounter) Get(string) (*tls.ClientSessionState, bool) { return nil, false }
func (ticketCounter) Put(_ string, s *tls.ClientSessionState) {
	if s != nil {
		total.tickets.Add(1)
	}
}

// helloConn counts the ClientHellos written through it, and those that
// offer a session.
type helloConn struct {
	net.Conn
}

func (c helloConn) Write(b []byte) (int, error) {
	countHellos(b)
	return c.Conn.Write(b)
}

func be16(b []byte) int { return int(b[0])<<8 | int(b[1]) }

// countHellos looks at the plaintext handshake records in b, each written
// whole by crypto/tls, for ClientHellos.
func countHellos(b []byte) {
	for len(b) >= 5 {
		n := be16(b[3:])
		if len(b) < 5+n {
			return
		}
		if msg := b[5 : 5+n]; b[0] == 22 && len(msg) >= 4 && msg[0] == 1 {
			total.hellos.Add(1)
			if helloOffersSession(msg) {
				total.offered.Add(1)
			}
		}
		b = b[5+n:]
	}
}

// helloOffersSession: msg (handshake header included) is a ClientHello
// with a pre_shared_key extension, or a session_ticket extension with a
// ticket in it.
func helloOffersSession(msg []byte) bool {
	i := 4 + 2 + 32 // header, legacy_version, random
	skip := func(lenBytes int) bool {
		if i+lenBytes > len(msg) {
			return false
		}
		n := int(msg[i])
		if lenBytes == 2 {
			n = be16(msg[i:])
		}
		i += lenBytes + n
		return true
	}
	// legacy_session_id, cipher_suites, legacy_compression_methods
	if !skip(1) || !skip(2) || !skip(1) || i+2 > len(msg) {
		return false
	}
	end := i + 2 + be16(msg[i:])
	if end > len(msg) {
		end = len(msg)
	}
	for i += 2; i+4 <= end; i += 4 + be16(msg[i+2:]) {
		switch be16(msg[i:]) {
		case extPreSharedKey:
			return true
		case extSessionTicket:
			if be16(msg[i+2:]) > 0 {
				return true
			}
		}
	}
	return false
}

// exchange makes one connection: handshake, request, response; reports
// whether the response was a complete 200.
func exchange(addr string, cfg *tls.Config, request []byte, buf []byte) bool {
	raw, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return false
	}
	raw.SetDeadline(time.Now().Add(ioTimeout))
	c := tls.Client(helloConn{raw}, cfg)
	defer c.Close() // close_notify, then close
	if c.Handshake() != nil {
		return false
	}
	total.handshakes.Add(1)
	st := c.ConnectionState()
	if st.DidResume {
		total.resumed.Add(1)
	}
	name := tls.CipherSuiteName(st.CipherSuite)
	n, _ := suites.LoadOrStore(name, new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
	if _, err := c.Write(request); err != nil {
		return false
	}
	return readResponse(c, buf)
}

// readResponse reads one response: a 200 status, then a body of
// Content-Length bytes, or up to the end of the stream without one.
func readResponse(c *tls.Conn, buf []byte) bool {
	n, end := 0, -1
	for end < 0 {
		if n == len(buf) {
			return false // a head longer than buf
		}
		r, err := c.Read(buf[n:])
		n += r
		end = bytes.Index(buf[:n], []byte("\r\n\r\n"))
		if end < 0 && err != nil {
			return false
		}
	}
	fields := string(buf[:end+2])
	if len(fields) < 12 || !strings.HasPrefix(fields, "HTTP/1.") {
		return false
	}
	status, err := strconv.Atoi(fields[9:12])
	if err != nil {
		return false
	}
	length := -1
	if k := strings.Index(strings.ToLower(fields), "\r\ncontent-length:"); k >= 0 {
		v := strings.SplitN(fields[k+17:], "\r\n", 2)[0]
		if length, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return false
		}
	}
	got := n - end - 4
	for length < 0 || got < length {
		r, err := c.Read(buf)
		got += r
		if err != nil {
			// The end of the stream ends a body without a length.
			if length >= 0 && got < length {
				return false
			}
			break
		}
	}
	return status == 200
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: tls_handshakes PORT CONNECTIONS SECONDS PATH")
		os.Exit(2)
	}
	port, e1 := strconv.Atoi(os.Args[1])
	conns, e2 := strconv.Atoi(os.Args[2])
	seconds, e3 := strconv.ParseFloat(os.Args[3], 64)
	if e1 != nil || e2 != nil || e3 != nil || port <= 0 || conns <= 0 || seconds <= 0 {
		fmt.Fprintln(os.Stderr, "tls_handshakes: PORT, CONNECTIONS and SECONDS want positive numbers")
		os.Exit(2)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := &tls.Config{
		InsecureSkipVerify: true, // the chain is checked once by the script
		MinVersion:         tls.VersionTLS12,
		CurvePreferences:   []tls.CurveID{tls.X25519, tls.CurveP256},
		ClientSessionCache: ticketCounter{},
	}
	request := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		os.Args[4], addr))

	start := time.Now()
	deadline := start.Add(time.Duration(seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, headMax)
			for time.Now().Before(deadline) {
				if exchange(addr, cfg, request, buf) {
					total.requests.Add(1)
				} else {
					total.errors.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	var names []string
	suites.Range(func(k, v any) bool {
		names = append(names, fmt.Sprintf("%s:%d", k, v.(*atomic.Uint64).Load()))
		return true
	})
	sort.Strings(names)
	fmt.Printf("requests=%d handshakes=%d hellos=%d offered=%d resumed=%d "+
		"errors=%d tickets=%d seconds=%.3f rate=%.0f suites=%s\n",
		total.requests.Load(), total.handshakes.Load(), total.hellos.Load(),
		total.offered.Load(), total.resumed.Load(), total.errors.Load(),
		total.tickets.Load(), elapsed, float64(total.requests.Load())/elapsed,
		strings.Join(names, ","))
}
