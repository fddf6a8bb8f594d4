/* SPDX-License-Identifier: MIT */
/*
 * Reading and writing through a TLS connection, with the edge-triggered
 * contract of plain sockets that the relay and the HTTP sessions rely on:
 * tls_readv says whether the socket was drained (a socket BIO of our own
 * notes when a read(2) got less than it asked for), tls_writev gathers
 * small pieces into one record and takes a retried write from the same
 * first bytes, as OpenSSL requires.
 */
#include "config.h"

#include <errno.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "portier/tls.h"
#include "portier/log.h"

/* Largest plaintext of one TLS record. */
#define TLS_RECORD 16384

static int tls_io_error(SSL *ssl, int r, bool writing);
static struct tls_idle *tls_node(SSL *ssl);
static int tls_bio_read(BIO *b, char *buf, int len);
static int tls_bio_write(BIO *b, const char *buf, int len);
static int tls_bio_destroy(BIO *b);
static ssize_t tls_write_records(SSL *ssl, const struct iovec *iov, int n);

/* The BIO of every TLS connection: OpenSSL's socket BIO, but with reads
 * that say whether they emptied the socket (tls_read_short, in the thread
 * that reads), so that tls_readv knows when to stop without one more
 * read(2) to EAGAIN per request. */
static BIO_METHOD *tls_bio_method;
static pthread_once_t tls_bio_once = PTHREAD_ONCE_INIT;
static _Thread_local bool tls_read_short;
/* The flags of the writes the BIO makes now (MSG_MORE, or 0). */
static _Thread_local int tls_write_flags;
/* The connection whose handshake tls_handshake runs now, or NULL. */
static _Thread_local SSL *tls_handshaking;
/*
 * The connections of this thread whose buffers tls_release_idle gives
 * back. OpenSSL could free them after every read and write
 * (SSL_MODE_RELEASE_BUFFERS), but taking 80 KiB from malloc and giving it
 * back twice per request costs a twentieth of the instructions of a small
 * keep-alive exchange. A node hangs on its BIO (BIO data) and leaves the
 * list when the BIO is freed, with its SSL.
 */
struct tls_idle {
	LIST_ENTRY(tls_idle) entry;
	SSL *ssl;
	bool busy; /* a read or write since the last sweep */
	bool held; /* it may hold buffers */
	int error; /* a read's errno that tls_readv still owes its caller */
};
/* Connections whose buffers one sweep gives back before it asks malloc
 * to return its free pages to the system: at 80 KiB each, a megabyte. */
#define TLS_IDLE_TRIM 16
static _Thread_local LIST_HEAD(, tls_idle)
    tls_idle_list = LIST_HEAD_INITIALIZER(tls_idle_list);
/* The type of tls_bio_method's BIOs. */
static int tls_bio_type;
/* The socket BIO's own destroy. */
static int (*tls_bio_sock_destroy)(BIO *);
/* Where tls_capture_first wants the first bytes read. */
static _Thread_local char *tls_capture;
static _Thread_local size_t tls_capture_len, *tls_capture_got;
/* OpenSSL's reason for this thread's last EPROTO, for tls_strerror. */
static _Thread_local char tls_io_why[200];

ssize_t tls_readv(SSL *ssl, const struct iovec *iov, int n, bool *drained)
{
	size_t total = 0;

	*drained = false;
	for (int i = 0; i < n; i++) {
		size_t off = 0;

		while (off < iov[i].iov_len) {
			size_t got = 0;
			int r;

			tls_read_short = false;
			r = SSL_read_ex(ssl, (char *)iov[i].iov_base + off,
			                iov[i].iov_len - off, &got);
			if (r == 1) {
				off += got;
				/* Nothing left in OpenSSL, and its last read
				 * emptied the socket: the next bytes bring an
				 * edge, as after a short read of a plain
				 * socket. */
				if (tls_read_short && !SSL_has_pending(ssl)) {
					*drained = true;
					return (ssize_t)(total + off);
				}
				continue;
			}
			total += off;
			*drained = SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ;
			if (total > 0) {
				/* The bytes first; the end or an error on the
				 * next call. OpenSSL remembers the end and its
				 * own errors, not a reset: the next read(2)
				 * would find the end, and a reset would read
				 * as a close. */
				struct tls_idle *node;

				if (SSL_get_error(ssl, r) == SSL_ERROR_SYSCALL &&
				    errno != 0 && (node = tls_node(ssl)))
					node->error = errno;
				ERR_clear_error();
				return (ssize_t)total;
			}
			return tls_io_error(ssl, r, false);
		}
		total += off;
	}
	return (ssize_t)total;
}

ssize_t tls_writev(SSL *ssl, const struct iovec *iov, int n, int flags)
{
	ssize_t r;

	tls_write_flags = flags;
	r = tls_write_records(ssl, iov, n);
	tls_write_flags = 0;
	return r;
}

/* tls_writev's work. */
static ssize_t tls_write_records(SSL *ssl, const struct iovec *iov, int n)
{
	static _Thread_local char gather[TLS_RECORD];
	size_t total = 0, skip = 0, left = 0;
	int flags = tls_write_flags;
	int i = 0;

	for (int k = 0; k < n; k++)
		left += iov[k].iov_len;

	/* Pieces smaller than a record go out together, copied into one:
	 * a head and the start of a body make one record, not two. The
	 * copy is taken the same way from the same first bytes when a
	 * blocked write is retried, which OpenSSL requires. */
	if (n > 1 && iov[0].iov_len < TLS_RECORD) {
		size_t len = 0;

		while (i < n && len < sizeof(gather)) {
			size_t take = iov[i].iov_len;

			if (take > sizeof(gather) - len)
				take = sizeof(gather) - len;
			memcpy(gather + len, iov[i].iov_base, take);
			len += take;
			if (take < iov[i].iov_len) {
				skip = take;
				break;
			}
			i++;
		}
		while (total < len) {
			size_t put = 0;
			int r;

			tls_write_flags = left > len ? MSG_MORE : flags;
			r = SSL_write_ex(ssl, gather + total, len - total, &put);

			if (r != 1)
				return total > 0 ? (ssize_t)total
				                 : tls_io_error(ssl, r, true);
			total += put;
		}
	}
	/* The rest a record at a time, until the socket is full: a short
	 * count then means what it means for a plain socket. Every record
	 * but the last goes with MSG_MORE: the kernel packs them into full
	 * segments, and the reader is woken once for several records
	 * instead of once for each. The last one pushes them all out. */
	left -= total;
	for (; i < n; i++, skip = 0) {
		size_t off = skip;

		while (off < iov[i].iov_len) {
			size_t put = 0;
			int r;

			tls_write_flags = left > TLS_RECORD ? MSG_MORE : flags;
			r = SSL_write_ex(ssl, (char *)iov[i].iov_base + off,
			                 iov[i].iov_len - off, &put);

			if (r != 1) {
				total += off - skip;
				return total > 0 ? (ssize_t)total
				                 : tls_io_error(ssl, r, true);
			}
			off += put;
			left -= put;
		}
		total += off - skip;
	}
	return (ssize_t)total;
}

int tls_handshake(SSL *ssl)
{
	int r;

	/* tls_bio_write holds the ticket back (see there). */
	tls_handshaking = ssl;
	r = SSL_do_handshake(ssl);
	tls_handshaking = NULL;
	return r;
}

bool tls_watch_idle(SSL *ssl)
{
	struct tls_idle *n;
	BIO *b = SSL_get_rbio(ssl);

	/* Only tls_bio_destroy takes the node off the list. */
	if (b == NULL || tls_bio_method == NULL ||
	    BIO_method_type(b) != tls_bio_type || BIO_get_data(b) != NULL)
		return false;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return false;
	n->ssl = ssl;
	n->held = true;
	BIO_set_data(b, n);
	LIST_INSERT_HEAD(&tls_idle_list, n, entry);
	return true;
}

bool tls_release_idle(void)
{
	struct tls_idle *n;
	size_t released = 0;

	LIST_FOREACH(n, &tls_idle_list, entry) {
		if (n->busy) {
			n->busy = false;
			n->held = true;
			continue;
		}
		/* SSL_free_buffers declines while bytes wait in either
		 * buffer: then the next sweep tries again. */
		if (n->held && SSL_free_buffers(n->ssl) == 1) {
			n->held = false;
			released++;
		}
	}
#ifdef HAVE_MALLOC_TRIM
	/* Buffers are below malloc's mmap threshold: freed, they stay in
	 * the heap, resident, until malloc_trim hands their pages back. */
	if (released >= TLS_IDLE_TRIM)
		malloc_trim(0);
#endif
	return !LIST_EMPTY(&tls_idle_list);
}

void tls_capture_first(char *buf, size_t len, size_t *got)
{
	tls_capture = buf;
	tls_capture_len = len;
	tls_capture_got = got;
}

void tls_close_notify(SSL *ssl)
{
	tls_write_flags = MSG_MORE;
	if (SSL_shutdown(ssl) < 0)
		ERR_clear_error();
	tls_write_flags = 0;
}

const char *tls_error_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason != NULL)
		snprintf(buf, len, "%s", reason);
	else if (e != 0)
		snprintf(buf, len, "OpenSSL error %lx", e);
	else
		snprintf(buf, len, "%s", errno ? strerror(errno)
		                               : "connection closed");
	ERR_clear_error();
	return buf;
}

/* Make tls_bio_method: the socket BIO's functions, with tls_bio_read and
 * tls_bio_write. */
static void tls_bio_init(void)
{
	const BIO_METHOD *sock = BIO_s_socket();
	int type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	           BIO_TYPE_DESCRIPTOR;
	BIO_METHOD *m = BIO_meth_new(type, "portier socket");

	if (m == NULL || BIO_meth_set_write(m, tls_bio_write) != 1 ||
	    BIO_meth_set_read(m, tls_bio_read) != 1 ||
	    BIO_meth_set_puts(m, BIO_meth_get_puts(sock)) != 1 ||
	    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) != 1 ||
	    BIO_meth_set_create(m, BIO_meth_get_create(sock)) != 1 ||
	    BIO_meth_set_destroy(m, tls_bio_destroy) != 1) {
		BIO_meth_free(m);
		return;
	}
	tls_bio_sock_destroy = BIO_meth_get_destroy(sock);
	tls_bio_type = type;
	tls_bio_method = m;
}

BIO *tls_socket_bio(int fd)
{
	BIO *b;

	pthread_once(&tls_bio_once, tls_bio_init);
	if (tls_bio_method == NULL)
		return BIO_new_socket(fd, BIO_NOCLOSE);
	b = BIO_new(tls_bio_method);
	if (b != NULL)
		BIO_set_fd(b, fd, BIO_NOCLOSE);
	return b;
}

/* The socket BIO's destroy, after the node of tls_watch_idle leaves. */
static int tls_bio_destroy(BIO *b)
{
	struct tls_idle *n = BIO_get_data(b);

	if (n != NULL) {
		LIST_REMOVE(n, entry);
		free(n);
		BIO_set_data(b, NULL);
	}
	return tls_bio_sock_destroy(b);
}

/* Note a read or write of the connection on b for tls_release_idle. */
static inline void tls_bio_busy(BIO *b)
{
	struct tls_idle *n = BIO_get_data(b);

	if (n != NULL)
		n->busy = true;
}

/* read(2) for OpenSSL, noting whether it emptied the socket. */
static int tls_bio_read(BIO *b, char *buf, int len)
{
	int fd = (int)BIO_get_fd(b, NULL);
	ssize_t n;

	if (buf == NULL || len <= 0)
		return 0;
	tls_bio_busy(b);
	BIO_clear_retry_flags(b);
	do
		n = recv(fd, buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			BIO_set_retry_read(b);
			tls_read_short = true;
		}
		return -1;
	}
	if (n == 0)
		BIO_set_flags(b, BIO_FLAGS_IN_EOF);
	if (n < len)
		tls_read_short = true;
	if (tls_capture != NULL && *tls_capture_got < tls_capture_len) {
		size_t take = tls_capture_len - *tls_capture_got;

		if (take > (size_t)n)
			take = (size_t)n;
		memcpy(tls_capture + *tls_capture_got, buf, take);
		*tls_capture_got += take;
	}
	return (int)n;
}

/* send(2) for OpenSSL, with the flags of the moment (tls_write_flags). */
static int tls_bio_write(BIO *b, const char *buf, int len)
{
	int fd = (int)BIO_get_fd(b, NULL);
	int flags = MSG_NOSIGNAL | tls_write_flags;
	ssize_t n;

	if (buf == NULL || len <= 0)
		return 0;
	/* A TLS 1.3 server writes its session ticket in this state, after
	 * the client's Finished, and nothing else (TLS 1.2 sends its ticket
	 * in the flight that ends with the server's Finished): the ticket
	 * can wait for the first response, which the client waits for
	 * anyway. */
	if (tls_handshaking != NULL &&
	    SSL_get_state(tls_handshaking) == TLS_ST_SW_SESSION_TICKET)
		flags |= MSG_MORE;
	tls_bio_busy(b);
	BIO_clear_retry_flags(b);
	do
		n = send(fd, buf, (size_t)len, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		return -1;
	}
	return (int)n;
}

const char *tls_strerror(int e)
{
	static _Thread_local char buf[sizeof(tls_io_why) + 16];

	if (e != EPROTO || tls_io_why[0] == '\0')
		return strerror(e);
	snprintf(buf, sizeof(buf), "TLS error: %s", tls_io_why);
	tls_io_why[0] = '\0';
	return buf;
}

/* The node of tls_watch_idle on ssl's BIO, or NULL. */
static struct tls_idle *tls_node(SSL *ssl)
{
	BIO *b = SSL_get_rbio(ssl);

	if (b == NULL || tls_bio_method == NULL ||
	    BIO_method_type(b) != tls_bio_type)
		return NULL;
	return BIO_get_data(b);
}

/*
 * errno for a failed SSL_read_ex or SSL_write_ex; returns -1, or 0 at the
 * end of the stream (a read only). A write after the peer's close_notify
 * or end of stream fails with ZERO_RETURN whatever send(2) said: that is
 * EPIPE, never "the socket is full", which would wait for an edge that no
 * closed peer brings.
 */
static int tls_io_error(SSL *ssl, int r, bool writing)
{
	struct tls_idle *node;

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		if (writing) {
			errno = EPIPE;
			return -1;
		}
		if ((node = tls_node(ssl)) != NULL && node->error != 0) {
			errno = node->error;
			return -1;
		}
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			errno = writing ? EPIPE : ECONNRESET;
		ERR_clear_error();
		return -1;
	default:
		tls_error_reason(tls_io_why, sizeof(tls_io_why));
		errno = EPROTO;
		return -1;
	}
}
