/* SPDX-License-Identifier: MIT */
/*
 * TLS termination: the OpenSSL contexts of one listener, the choice of a
 * certificate by SNI, and reading and writing through a TLS connection.
 *
 * A struct tls_server is built once from the configuration (before any
 * worker runs) and shared by every worker; it is reference-counted, and
 * each SSL holds a reference on the SSL_CTX it uses, so a reload never
 * frees a context a connection still needs. The settings are Mozilla's
 * "intermediate" profile: TLS 1.2 and 1.3, ECDHE with AEAD ciphers, no
 * compression or renegotiation, session tickets under keys that rotate.
 */
#ifndef PORTIER_TLS_H
#define PORTIER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <openssl/ssl.h>

struct config;
struct config_listener;

struct tls_server;

/*
 * Build the TLS side of listener `cl` of `cfg`: its certificate (tls = on)
 * or one from the local CA for every name it serves (tls = auto), and each
 * vhost's own certificate, looked up by SNI. On failure writes why into
 * err and returns NULL. A problem with what the configuration names is
 * written as config_load writes errors: "FILE:LINE: listener NAME: ..." or
 * "FILE:LINE: vhost NAME: ...", at the line of its tls_cert or tls_key.
 * errno says what kind of failure it is: the error of a certificate or key
 * file that cannot be read (ENOENT, EACCES, ...: the machine is not ready
 * for the configuration), ENOMEM, or EINVAL for a configuration error (a
 * file that is not a PEM certificate chain or key, a directory, a key that
 * does not belong to its certificate, tls = auto that cannot get a
 * certificate).
 */
struct tls_server *tls_server_new(const struct config *cfg,
                                  const struct config_listener *cl,
                                  char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Load the certificate and key files of TLS listener `cl` of `cfg` (its
 * own and those of the vhosts it serves) as tls_server_new does at a
 * start, and free them again: the check of `portier -t` and `portier
 * doctor`. Returns 0, also for a listener without TLS (of a tls = auto
 * listener only the vhosts' files are loaded: its own certificate would
 * make the local CA), or -1 with err and errno set as tls_server_new sets
 * them.
 */
int tls_server_check(const struct config *cfg,
                     const struct config_listener *cl, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/*
 * Where the warnings about certificates go (one that has expired or soon
 * will, one that does not cover a name it is chosen for, a chain that
 * lacks its intermediates): to fn, with `serious` true when clients will
 * refuse the certificate, instead of the log; fn NULL gives them back to
 * the log. For `portier doctor`, which counts them. Not thread-safe: set
 * it where certificates are loaded, on the main thread.
 */
typedef void tls_warn_fn(void *arg, bool serious, const char *msg);
void tls_set_warn(tls_warn_fn *fn, void *arg);

/* Take a reference. */
struct tls_server *tls_server_ref(struct tls_server *t);

/* Drop a reference; the last frees the server. Accepts NULL. */
void tls_server_unref(struct tls_server *t);

/* A new server-side SSL for the accepted socket fd; NULL when out of
 * memory. */
SSL *tls_server_accept(struct tls_server *t, int fd)
    __attribute__((warn_unused_result));

/*
 * tls = auto: when the certificate is due for renewal (CA_LEAF_RENEW_DAYS
 * before it expires), or when the machine's names and addresses it was
 * made for have changed (another network, a new DHCP lease), get a new one
 * from the local CA and use it for new connections; connections under way
 * keep theirs. Cheap when nothing is due (no file is read). Safe while
 * workers accept; only one thread may call it. Returns 0 (renewed or not
 * due), or -1 with why in err (the old certificate stays).
 */
int tls_server_renew(struct tls_server *t, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The BIO of a TLS connection on socket fd (not closed with the BIO):
 * OpenSSL's socket BIO, whose reads also tell tls_readv whether they
 * emptied the socket. NULL when out of memory. */
BIO *tls_socket_bio(int fd) __attribute__((warn_unused_result));

/* Let tls_release_idle give back the buffers of ssl, whose BIO is
 * tls_socket_bio's, when it idles; false when that cannot be (out of
 * memory): its buffers then stay until SSL_free. Call it in the thread
 * that will run the connection. */
bool tls_watch_idle(SSL *ssl);

/* Give back the buffers of this thread's TLS connections that read and
 * wrote nothing since the previous call (call it about once a second).
 * True while any connection is watched. */
bool tls_release_idle(void);

/* The host name the client sent in SNI (lower case as sent), or NULL. */
const char *tls_sni(const SSL *ssl);

/*
 * Read into iov as readv(2) does: bytes read, 0 at the end of the stream
 * (close_notify or the peer's FIN), -1 with errno (EAGAIN when the socket
 * has nothing more; EPROTO on a TLS error, whose reason tls_strerror
 * gives). It reads until
 * the vectors are full or OpenSSL stops; *drained tells whether it stopped
 * because the socket is empty, so that the next bytes bring a new edge (a
 * short count alone does not say so: the end of the stream or an error
 * after some bytes is reported by the next call).
 */
ssize_t tls_readv(SSL *ssl, const struct iovec *iov, int n, bool *drained);

/*
 * Write from iov as writev(2) does: bytes taken, or -1 with errno (EAGAIN
 * when the socket is full: call again with the same bytes first, and
 * perhaps more). Small pieces are gathered into one record. `flags` may
 * hold MSG_MORE, as for send(2): the last segment waits for what follows
 * (the close_notify and FIN of a connection that ends now).
 */
ssize_t tls_writev(SSL *ssl, const struct iovec *iov, int n, int flags);

/* Close the local CA that tls = auto keeps open (at the end). */
void tls_forget_ca(void);

/* Send close_notify, best effort: the write half is done. The caller
 * closes or shuts down the socket right after: the alert waits for that
 * FIN and leaves in the same segment. */
void tls_close_notify(SSL *ssl);

/* SSL_do_handshake, except that the session ticket a TLS 1.3 server
 * writes after the client's Finished waits in the socket (MSG_MORE) for
 * the connection's first write or its close, or for the kernel's 200 ms:
 * the ticket and a prompt first response leave in one segment, and the
 * client wakes once for both. */
int tls_handshake(SSL *ssl);

/* Until called again with NULL, copy the first bytes the calling thread's
 * TLS reads take from a socket into buf[*got..len), advancing *got: what a
 * client sent before its handshake failed, to tell plain HTTP from
 * noise. */
void tls_capture_first(char *buf, size_t len, size_t *got);

/* OpenSSL's reason for the last failure of this thread, for a log line;
 * clears the error queue. */
const char *tls_error_reason(char *buf, size_t len);

/* strerror(e), except that the EPROTO of this thread's last failed TLS
 * read or write says OpenSSL's reason ("TLS error: no renegotiation"). */
const char *tls_strerror(int e);

/* Why portier's own callbacks refused the handshake that just failed in
 * this thread (OpenSSL says only "callback failed"), or NULL; forgets
 * it. */
const char *tls_take_refusal(void);

#endif
