/* SPDX-License-Identifier: MIT */
/*
 * TLS client for bench/tls.sh, built by the script twice: with OpenSSL
 * (cc ... -lssl -lcrypto) and with BoringSSL, the TLS library of Chrome
 * (Debian's android-libboringssl-dev: -I/usr/include/android and the
 * libraries of /usr/lib/<multiarch>/android). The code is the same; the
 * script runs the full-handshake row with the BoringSSL build, which
 * spends about 60% of the CPU time per handshake of the OpenSSL 3.0 one.
 *
 *   tls_tools probe PORT
 *       one TLS connection to 127.0.0.1:PORT and one "GET /small" on it;
 *       prints what was negotiated and what the server sent:
 *       "protocol=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 group=X25519
 *       hellos=1 offered=0 resumed=0 tickets=2 alpn=- status=200".
 *   tls_tools handshakes PORT THREADS CONNECTIONS SECONDS PATH
 *       CONNECTIONS connections, spread over THREADS threads, each in a
 *       loop: connect, a full TLS handshake, one "GET PATH" with
 *       "Connection: close", the whole response read, close, start over.
 *       After SECONDS prints "requests=N handshakes=N hellos=N offered=N
 *       resumed=N errors=N tickets=N seconds=S rate=N suites=NAME:N,...",
 *       rate being the complete exchanges (handshake, request, response)
 *       per second, suites the TLS suites the handshakes ended on.
 *
 * Why not wrk: wrk keeps one SSL object per connection slot and calls
 * SSL_clear() on it between two connections, which keeps the session, so
 * its next ClientHello offers that session and the server resumes it (an
 * abbreviated handshake, without the certificate signature). Here every
 * connection gets a new SSL object, no session is ever set on one, and the
 * context keeps no session; every ClientHello is a first contact. Two
 * counters check that claim and must stay 0: "offered", the ClientHellos
 * that carry a pre_shared_key extension (TLS 1.3 resumption) or a
 * non-empty session_ticket extension (TLS 1.2), seen by the message
 * callback as they are sent; "resumed", the handshakes that
 * SSL_session_reused() reports. "hellos" counts the ClientHellos sent
 * (more than the handshakes when a server asks for another key share);
 * "tickets" the sessions the servers handed out (TLS 1.3 tickets), which
 * are counted and dropped.
 *
 * Like wrk, the client does not verify the certificate chain (the script
 * checks it once with the CA); it does verify the server's handshake
 * signature, as every TLS client must. The server name sent (SNI) and the
 * Host field are "127.0.0.1", as wrk sends for https://127.0.0.1:PORT/.
 * Everything is loopback and ends by itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>

#define SERVER_NAME        "127.0.0.1"
#define HEAD_MAX           8192 /* bytes of a response head kept */
#define EXT_SESSION_TICKET 35
#define EXT_PRE_SHARED_KEY 41
#define SUITES_MAX         8 /* different TLS suites counted */

/* Where a connection is. */
enum conn_state {
	CONN_IDLE,       /* to be opened */
	CONN_CONNECTING, /* TCP connect in progress */
	CONN_HANDSHAKE,  /* TLS handshake in progress */
	CONN_WRITING,    /* sending the request */
	CONN_READING,    /* reading the response */
};

/* One client connection slot of a worker. */
struct conn {
	int fd;
	SSL *ssl;
	enum conn_state state;
	uint32_t events;     /* epoll interest registered for fd */
	char head[HEAD_MAX]; /* the response head, as it arrives */
	size_t head_len;
	int in_body;         /* the head is complete */
	long long body_left; /* body bytes still due; -1: up to the end */
	int status;          /* HTTP status of the response */
};

/* Counters of one worker thread (or of the probe). */
struct counts {
	unsigned long long requests;   /* complete exchanges */
	unsigned long long handshakes; /* completed TLS handshakes */
	unsigned long long hellos;     /* ClientHellos sent */
	unsigned long long offered;    /* ClientHellos offering a session */
	unsigned long long resumed;    /* handshakes the server resumed */
	unsigned long long errors;     /* failed connections */
	unsigned long long tickets;    /* sessions handed out by the server */
	struct {
		const SSL_CIPHER *suite;
		unsigned long long handshakes;
	} suites[SUITES_MAX];          /* the handshakes, by TLS suite */
};

/* One load thread: its connections and its counters. */
struct worker {
	pthread_t thread;
	int port;
	int nconns;
	struct conn *conns;
	int ep;
	const char *request;
	int request_len;
	struct counts counts;
};

static SSL_CTX *client_ctx;
static atomic_int stop_flag;

/* Seconds of the monotonic clock. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Exit with a message about the failed call. */
static void die(const char *what)
{
	fprintf(stderr, "tls_tools: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* 127.0.0.1:port. */
static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	return sin;
}

/* Two bytes, big-endian. */
static size_t be16(const unsigned char *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* True when the ClientHello msg (handshake header included) offers a
 * session: a pre_shared_key extension, or a session_ticket extension with
 * a ticket in it. */
static int hello_offers_session(const unsigned char *msg, size_t len)
{
	size_t i = 4 + 2 + 32; /* header, legacy_version, random */
	size_t end;

	if (i + 1 > len)
		return 0;
	i += 1 + msg[i]; /* legacy_session_id */
	if (i + 2 > len)
		return 0;
	i += 2 + be16(msg + i); /* cipher_suites */
	if (i + 1 > len)
		return 0;
	i += 1 + msg[i]; /* legacy_compression_methods */
	if (i + 2 > len)
		return 0;
	end = i + 2 + be16(msg + i);
	if (end > len)
		end = len;
	for (i += 2; i + 4 <= end; i += 4 + be16(msg + i + 2)) {
		size_t type = be16(msg + i);

		if (type == EXT_PRE_SHARED_KEY)
			return 1;
		if (type == EXT_SESSION_TICKET && be16(msg + i + 2) > 0)
			return 1;
	}
	return 0;
}

/* Count n completed handshakes under the suite they ended on. */
static void count_suite(struct counts *counts, const SSL_CIPHER *suite,
                        unsigned long long n)
{
	for (int i = 0; i < SUITES_MAX; i++) {
		if (counts->suites[i].suite == NULL)
			counts->suites[i].suite = suite;
		if (counts->suites[i].suite == suite) {
			counts->suites[i].handshakes += n;
			return;
		}
	}
}

/* The name of the key exchange group ssl negotiated, or "-". */
static const char *group_name(const SSL *ssl)
{
#ifdef OPENSSL_IS_BORINGSSL
	const char *name = SSL_get_curve_name(SSL_get_curve_id(ssl));
#else
	int nid = (int)SSL_get_negotiated_group((SSL *)ssl);
	const char *name = nid > 0 ? OBJ_nid2sn(nid) : NULL;
#endif
	return name != NULL ? name : "-";
}

/* Message callback: count the ClientHellos sent and those that offer a
 * session. */
static void hello_cb(int write_p, int version, int content_type,
                     const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct counts *counts = SSL_get_app_data(ssl);
	const unsigned char *msg = buf;

	(void)version;
	(void)arg;
	if (!write_p || content_type != SSL3_RT_HANDSHAKE || len < 4 ||
	    msg[0] != SSL3_MT_CLIENT_HELLO || counts == NULL)
		return;
	counts->hellos++;
	if (hello_offers_session(msg, len))
		counts->offered++;
}

/* New-session callback: count the session and drop it. */
static int session_cb(SSL *ssl, SSL_SESSION *session)
{
	struct counts *counts = SSL_get_app_data(ssl);

	(void)session;
	if (counts != NULL)
		counts->tickets++;
	return 0; /* not kept: OpenSSL frees it */
}

/* The client context shared by every connection. */
static SSL_CTX *make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* "Client" mode only so that the new-session callback runs; the
	 * context stores nothing and no session is ever set on an SSL. */
	SSL_CTX_set_session_cache_mode(
	    ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, session_cb);
	SSL_CTX_set_msg_callback(ctx, hello_cb);
	return ctx;
}

/* A new SSL object for fd, its counters in counts. */
static SSL *new_ssl(int fd, struct counts *counts)
{
	SSL *ssl = SSL_new(client_ctx);

	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_tlsext_host_name(ssl, SERVER_NAME) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	SSL_set_app_data(ssl, counts);
	SSL_set_connect_state(ssl);
	return ssl;
}

/* Take in n response bytes: the head is kept and parsed, the body only
 * counted. Returns 1 when the response is complete, -1 when it cannot be
 * parsed, 0 when more is due. */
static int response_feed(struct conn *c, const char *buf, size_t n)
{
	if (!c->in_body) {
		size_t room = HEAD_MAX - 1 - c->head_len;
		size_t take = n < room ? n : room;
		char *end, *cl;

		memcpy(c->head + c->head_len, buf, take);
		c->head_len += take;
		c->head[c->head_len] = '\0';
		end = strstr(c->head, "\r\n\r\n");
		if (end == NULL)
			return c->head_len + 1 >= HEAD_MAX ? -1 : 0;
		if (sscanf(c->head, "HTTP/1.%*c %d", &c->status) != 1)
			return -1;
		c->in_body = 1;
		c->body_left = -1;
		end[2] = '\0'; /* the fields end at the empty line */
		cl = strcasestr(c->head, "\r\nContent-Length:");
		if (cl != NULL)
			c->body_left = atoll(cl + 17);
		/* What followed the head in this read is body. */
		n -= (size_t)(end + 4 - c->head) - (c->head_len - take);
	}
	if (c->body_left >= 0) {
		c->body_left -= (long long)n;
		if (c->body_left <= 0)
			return 1;
	}
	return 0;
}

/* Register interest in events for c's socket. */
static void conn_want(struct worker *w, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events,
	                         .data.u32 = (uint32_t)(c - w->conns)};

	if (c->events == events)
		return;
	if (epoll_ctl(w->ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
	              &ev) < 0)
		die("epoll_ctl");
	c->events = events;
}

/* Close c; a complete exchange sends close_notify first. */
static void conn_end(struct conn *c, int complete)
{
	if (c->ssl != NULL) {
		if (complete)
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd); /* also drops it from the epoll set */
	c->fd = -1;
	c->events = 0;
	c->state = CONN_IDLE;
}

/* Start a TCP connection in slot c. */
static void conn_open(struct worker *w, struct conn *c)
{
	struct sockaddr_in sin = loopback(w->port);
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		die("socket");
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->head_len = 0;
	c->in_body = 0;
	c->status = 0;
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
	    errno != EINPROGRESS) {
		w->counts.errors++;
		conn_end(c, 0);
		return;
	}
	c->state = CONN_CONNECTING;
	conn_want(w, c, EPOLLOUT);
}

/* Wait for what the last SSL call on c needs; returns 0, or -1 when the
 * call failed for good. */
static int conn_retry(struct worker *w, struct conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		conn_want(w, c, EPOLLIN);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		conn_want(w, c, EPOLLOUT);
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* Move connection c on as far as its socket allows. */
static void conn_step(struct worker *w, struct conn *c)
{
	char buf[16384];
	int r, err = 0;
	socklen_t len = sizeof(err);

	switch (c->state) {
	case CONN_IDLE:
		return;
	case CONN_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
		    err != 0)
			goto fail;
		c->ssl = new_ssl(c->fd, &w->counts);
		c->state = CONN_HANDSHAKE;
		/* fall through */
	case CONN_HANDSHAKE:
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			if (conn_retry(w, c, r) < 0)
				goto fail;
			return;
		}
		w->counts.handshakes++;
		if (SSL_session_reused(c->ssl))
			w->counts.resumed++;
		count_suite(&w->counts, SSL_get_current_cipher(c->ssl), 1);
		c->state = CONN_WRITING;
		/* fall through */
	case CONN_WRITING:
		r = SSL_write(c->ssl, w->request, w->request_len);
		if (r <= 0) {
			if (conn_retry(w, c, r) < 0)
				goto fail;
			return;
		}
		c->state = CONN_READING;
		/* fall through */
	case CONN_READING:
		for (;;) {
			r = SSL_read(c->ssl, buf, sizeof(buf));
			if (r <= 0)
				break;
			switch (response_feed(c, buf, (size_t)r)) {
			case 1:
				goto done;
			case -1:
				goto fail;
			}
		}
		if (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ||
		    SSL_get_error(c->ssl, r) == SSL_ERROR_SYSCALL) {
			/* The end of the stream ends a response without
			 * Content-Length, and is an error otherwise. */
			ERR_clear_error();
			if (c->in_body && c->body_left < 0)
				goto done;
			goto fail;
		}
		if (conn_retry(w, c, r) < 0)
			goto fail;
		return;
	}
	return;
done:
	if (c->status != 200)
		goto fail;
	w->counts.requests++;
	conn_end(c, 1);
	if (!atomic_load(&stop_flag))
		conn_open(w, c);
	return;
fail:
	w->counts.errors++;
	conn_end(c, 0);
	if (!atomic_load(&stop_flag))
		conn_open(w, c);
}

/* A load thread: its connections, until the stop flag is up. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[64];

	w->ep = epoll_create1(0);
	if (w->ep < 0)
		die("epoll_create1");
	for (int i = 0; i < w->nconns; i++) {
		w->conns[i].fd = -1;
		conn_open(w, &w->conns[i]);
	}
	while (!atomic_load(&stop_flag)) {
		int n = epoll_wait(w->ep, evs, 64, 50);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++)
			conn_step(w, &w->conns[evs[k].data.u32]);
		/* Slots whose connect failed at once: try again. */
		for (int i = 0; i < w->nconns; i++)
			if (w->conns[i].state == CONN_IDLE &&
			    !atomic_load(&stop_flag))
				conn_open(w, &w->conns[i]);
	}
	for (int i = 0; i < w->nconns; i++)
		conn_end(&w->conns[i], 0);
	close(w->ep);
	return NULL;
}

/* The handshake load; prints the figures. */
static int run_handshakes(int port, int nthreads, int nconns, double seconds,
                          const char *path)
{
	struct worker *workers = calloc((size_t)nthreads, sizeof(*workers));
	struct counts sum = {0};
	struct timespec ts;
	char *request = NULL;
	double start, elapsed;
	int len;

	len = asprintf(&request,
	               "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
	               "Connection: close\r\n\r\n",
	               path, SERVER_NAME, port);
	if (workers == NULL || len < 0)
		die("setup");
	start = now();
	for (int i = 0; i < nthreads; i++) {
		struct worker *w = &workers[i];

		w->port = port;
		w->nconns = nconns / nthreads + (i < nconns % nthreads);
		w->conns = calloc((size_t)w->nconns + 1, sizeof(*w->conns));
		w->request = request;
		w->request_len = len;
		if (w->conns == NULL)
			die("calloc");
		if (pthread_create(&w->thread, NULL, worker_run, w) != 0)
			die("pthread_create");
	}
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	atomic_store(&stop_flag, 1);
	elapsed = now() - start;
	for (int i = 0; i < nthreads; i++) {
		struct counts *c = &workers[i].counts;

		pthread_join(workers[i].thread, NULL);
		sum.requests += c->requests;
		sum.handshakes += c->handshakes;
		sum.hellos += c->hellos;
		sum.offered += c->offered;
		sum.resumed += c->resumed;
		sum.errors += c->errors;
		sum.tickets += c->tickets;
		for (int k = 0; k < SUITES_MAX && c->suites[k].suite; k++)
			count_suite(&sum, c->suites[k].suite,
			            c->suites[k].handshakes);
		free(workers[i].conns);
	}
	printf("requests=%llu handshakes=%llu hellos=%llu offered=%llu "
	       "resumed=%llu errors=%llu tickets=%llu seconds=%.3f "
	       "rate=%.0f suites=",
	       sum.requests, sum.handshakes, sum.hellos, sum.offered,
	       sum.resumed, sum.errors, sum.tickets, elapsed,
	       (double)sum.requests / elapsed);
	for (int k = 0; k < SUITES_MAX && sum.suites[k].suite; k++)
		printf("%s%s:%llu", k ? "," : "",
		       SSL_CIPHER_standard_name(sum.suites[k].suite),
		       sum.suites[k].handshakes);
	printf("\n");
	free(workers);
	free(request);
	return 0;
}

/* One connection, one request; prints what was negotiated. */
static int run_probe(int port)
{
	struct sockaddr_in sin = loopback(port);
	struct counts counts = {0};
	struct timeval tv = {5, 0};
	struct conn *c = calloc(1, sizeof(*c));
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	char request[128], buf[16384];
	int r, complete = 0;

	if (c == NULL)
		die("calloc");
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		die("socket");
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	c->ssl = new_ssl(c->fd, &counts);
	if (SSL_connect(c->ssl) != 1) {
		fprintf(stderr, "tls_tools: no TLS handshake on port %d\n",
		        port);
		ERR_print_errors_fp(stderr);
		return 1;
	}
	snprintf(request, sizeof(request),
	         "GET /small HTTP/1.1\r\nHost: %s:%d\r\n"
	         "Connection: close\r\n\r\n",
	         SERVER_NAME, port);
	if (SSL_write(c->ssl, request, (int)strlen(request)) <= 0) {
		fprintf(stderr, "tls_tools: cannot send the request\n");
		return 1;
	}
	while (!complete && (r = SSL_read(c->ssl, buf, sizeof(buf))) > 0)
		complete = response_feed(c, buf, (size_t)r);
	if (complete < 0 || !c->in_body) {
		fprintf(stderr, "tls_tools: no HTTP response\n");
		return 1;
	}
	/* Tickets sent after the response are not waited for. */
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	printf("protocol=%s cipher=%s group=%s hellos=%llu offered=%llu "
	       "resumed=%d tickets=%llu alpn=%.*s status=%d\n",
	       SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl),
	       group_name(c->ssl), counts.hellos, counts.offered,
	       SSL_session_reused(c->ssl), counts.tickets,
	       alpn_len ? (int)alpn_len : 1,
	       alpn_len ? (const char *)alpn : "-", c->status);
	conn_end(c, 1);
	free(c);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	client_ctx = make_ctx();
	if (argc == 3 && strcmp(argv[1], "probe") == 0)
		return run_probe(atoi(argv[2]));
	if (argc == 7 && strcmp(argv[1], "handshakes") == 0 &&
	    atoi(argv[3]) > 0 && atoi(argv[4]) >= atoi(argv[3]) &&
	    atof(argv[5]) > 0)
		return run_handshakes(atoi(argv[2]), atoi(argv[3]),
		                      atoi(argv[4]), atof(argv[5]), argv[6]);
	fprintf(stderr, "usage: tls_tools probe PORT |\n"
	                "       handshakes PORT THREADS CONNECTIONS SECONDS "
	                "PATH\n");
	return 2;
}
