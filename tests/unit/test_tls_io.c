/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for tls_io.c, with a real TLS 1.3 connection over a socket
 * pair (an OpenSSL client on one end, a server through tls_socket_bio on
 * the other) and OpenSSL's allocations counted: the buffers of a watched
 * connection stay while it reads or writes and go back after a second
 * sweep with nothing done; a connection whose buffers hold bytes (a record
 * half read, a write the socket did not take) keeps them and loses none;
 * the connection works on after its buffers went back; a connection leaves
 * the watch list when freed; a BIO that is not tls_socket_bio's (a plain
 * socket BIO, a null BIO) is not watched.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "portier/tls.h"

/* Bytes OpenSSL holds from malloc now: each block carries its size. */
static size_t live_bytes;

static void *count_malloc(size_t n, const char *file, int line)
{
	size_t *p = malloc(n + 16);

	(void)file;
	(void)line;
	if (p == NULL)
		return NULL;
	*p = n;
	live_bytes += n;
	return (char *)p + 16;
}

static void count_free(void *ptr, const char *file, int line)
{
	size_t *p;

	(void)file;
	(void)line;
	if (ptr == NULL)
		return;
	p = (size_t *)((char *)ptr - 16);
	live_bytes -= *p;
	free(p);
}

static void *count_realloc(void *ptr, size_t n, const char *file, int line)
{
	size_t *p, old;

	if (ptr == NULL)
		return count_malloc(n, file, line);
	p = (size_t *)((char *)ptr - 16);
	old = *p;
	p = realloc(p, n + 16);
	if (p == NULL)
		return NULL;
	*p = n;
	live_bytes = live_bytes - old + n;
	return (char *)p + 16;
}

/* A client and a server connected by a socket pair. */
struct pair {
	SSL_CTX *sctx, *cctx;
	SSL *server, *client;
	int fd[2];
};

/* A self-signed ECDSA P-256 certificate and its key for ctx. */
static void use_self_signed(SSL_CTX *ctx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;

	assert_non_null(key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                           (const unsigned char *)"tls-io.test", -1,
	                           -1, 0);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}

static int pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int done = 0;

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	                            p->fd),
	                 0);
	p->sctx = SSL_CTX_new(TLS_server_method());
	p->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(p->sctx);
	assert_non_null(p->cctx);
	SSL_CTX_set_min_proto_version(p->sctx, TLS1_3_VERSION);
	/* As tls.c sets them: records read ahead into a 64 KiB buffer. */
	SSL_CTX_set_mode(p->sctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(p->sctx, 1);
	SSL_CTX_set_default_read_buffer_len(p->sctx, 65536);
	use_self_signed(p->sctx);
	SSL_CTX_set_verify(p->cctx, SSL_VERIFY_NONE, NULL);

	p->server = SSL_new(p->sctx);
	p->client = SSL_new(p->cctx);
	assert_non_null(p->server);
	assert_non_null(p->client);
	{
		BIO *b = tls_socket_bio(p->fd[0]);

		assert_non_null(b);
		SSL_set_bio(p->server, b, b);
	}
	SSL_set_accept_state(p->server);
	assert_int_equal(SSL_set_fd(p->client, p->fd[1]), 1);
	SSL_set_connect_state(p->client);
	assert_true(tls_watch_idle(p->server));

	for (int i = 0; i < 100 && done != 3; i++) {
		if (!(done & 1) && SSL_do_handshake(p->client) == 1)
			done |= 1;
		if (!(done & 2) && tls_handshake(p->server) == 1)
			done |= 2;
	}
	assert_int_equal(done, 3);
	ERR_clear_error();
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;

	SSL_free(p->server);
	SSL_free(p->client);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	close(p->fd[0]);
	close(p->fd[1]);
	free(p);
	return 0;
}

/* The client sends text; the server reads exactly that with tls_readv. */
static void client_to_server(struct pair *p, const char *text)
{
	char buf[256];
	struct iovec iov = {buf, sizeof(buf)};
	bool drained = false;
	ssize_t n;

	assert_int_equal(SSL_write(p->client, text, (int)strlen(text)),
	                 (int)strlen(text));
	n = tls_readv(p->server, &iov, 1, &drained);
	assert_int_equal(n, (ssize_t)strlen(text));
	assert_memory_equal(buf, text, strlen(text));
	assert_true(drained);
}

/* The server sends text with tls_writev; the client reads exactly that.
 * (The client may first read the session tickets.) */
static void server_to_client(struct pair *p, const char *text)
{
	struct iovec iov = {(void *)text, strlen(text)};
	char buf[256];
	int n = -1;

	assert_int_equal(tls_writev(p->server, &iov, 1, 0),
	                 (ssize_t)strlen(text));
	for (int i = 0; i < 10 && n <= 0; i++)
		n = SSL_read(p->client, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(text));
	assert_memory_equal(buf, text, strlen(text));
}

static void test_idle_buffers_go_back(void **state)
{
	struct pair *p = *state;
	size_t busy;

	client_to_server(p, "ping");
	server_to_client(p, "pong");
	busy = live_bytes;

	/* The first sweep after a read and a write leaves the buffers. */
	assert_true(tls_release_idle());
	assert_int_equal(live_bytes, busy);
	/* A second with nothing done in between gives them back: the
	 * write buffer (a record) and the 64 KiB read buffer. */
	assert_true(tls_release_idle());
	assert_true(live_bytes + 65536 + 16384 <= busy);

	/* The connection goes on, with buffers taken again. */
	client_to_server(p, "again");
	server_to_client(p, "and back");
	assert_true(live_bytes + 65536 > busy);
}

static void test_half_read_record_stays(void **state)
{
	struct pair *p = *state;
	char buf[16] = {0};
	struct iovec iov = {buf, 4};
	bool drained = true;
	size_t before;

	assert_int_equal(SSL_write(p->client, "0123456789", 10), 10);
	assert_int_equal(tls_readv(p->server, &iov, 1, &drained), 4);
	assert_memory_equal(buf, "0123", 4);
	assert_false(drained);
	before = live_bytes;
	assert_true(tls_release_idle());
	assert_true(tls_release_idle());
	assert_true(tls_release_idle());
	assert_int_equal(live_bytes, before);
	iov.iov_len = sizeof(buf);
	assert_int_equal(tls_readv(p->server, &iov, 1, &drained), 6);
	assert_memory_equal(buf, "456789", 6);
	assert_true(drained);
}

static void test_unsent_write_stays(void **state)
{
	struct pair *p = *state;
	static unsigned char out[1 << 20], in[1 << 20];
	size_t sent = 0, got = 0, retry = 0;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (unsigned char)(i * 7 + i / 251);
	/* Write until the socket is full: the last record waits in
	 * OpenSSL's write buffer. */
	for (;;) {
		struct iovec iov = {out + sent, sizeof(out) - sent};
		ssize_t n = tls_writev(p->server, &iov, 1, 0);

		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			break;
		}
		sent += (size_t)n;
		assert_true(sent < sizeof(out));
	}
	assert_true(tls_release_idle());
	assert_true(tls_release_idle());
	/* Read everything while the server retries from where it stopped,
	 * as the relay does: not one byte lost or changed. */
	while (got < sizeof(out)) {
		int n = SSL_read(p->client, in + got, (int)(sizeof(in) - got));

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		assert_int_equal(SSL_get_error(p->client, n),
		                 SSL_ERROR_WANT_READ);
		if (sent < sizeof(out)) {
			struct iovec iov = {out + sent, sizeof(out) - sent};
			ssize_t w = tls_writev(p->server, &iov, 1, 0);

			if (w > 0)
				sent += (size_t)w;
			else
				assert_int_equal(errno, EAGAIN);
		}
		assert_true(++retry < 100000);
	}
	assert_int_equal(sent, sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
}

static void test_freed_connection_leaves(void **state)
{
	struct pair *p = *state;

	assert_true(tls_release_idle());
	SSL_free(p->server);
	p->server = NULL;
	assert_false(tls_release_idle());
}

static void test_other_bios_not_watched(void **state)
{
	struct pair *p = *state;
	SSL *ssl = SSL_new(p->sctx);
	int fd = dup(p->fd[0]);

	assert_non_null(ssl);
	assert_true(fd >= 0);
	assert_int_equal(SSL_set_fd(ssl, fd), 1);
	assert_false(tls_watch_idle(ssl));
	SSL_free(ssl);
	/* Nor a BIO of another kind. */
	ssl = SSL_new(p->sctx);
	assert_non_null(ssl);
	SSL_set_bio(ssl, BIO_new(BIO_s_null()), BIO_new(BIO_s_null()));
	assert_false(tls_watch_idle(ssl));
	/* Nor twice the same. */
	assert_false(tls_watch_idle(p->server));
	SSL_free(ssl);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_idle_buffers_go_back,
	                                    pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_half_read_record_stays,
	                                    pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_unsent_write_stays,
	                                    pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_freed_connection_leaves,
	                                    pair_setup, pair_teardown),
	    cmocka_unit_test_setup_teardown(test_other_bios_not_watched,
	                                    pair_setup, pair_teardown),
	};

	/* Before OpenSSL allocates anything. */
	if (CRYPTO_set_mem_functions(count_malloc, count_realloc,
	                             count_free) != 1) {
		fprintf(stderr, "cannot count OpenSSL's allocations\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
