/* SPDX-License-Identifier: MIT */
/*
 * TLS contexts: certificates, SNI, session tickets, the local CA.
 *
 * A listener's tls_server holds one SSL_CTX per certificate: the
 * listener's own (the default, also used without SNI) and one for each
 * vhost with tls_cert. The ClientHello callback looks the SNI name up in
 * a route table of the listener's vhosts, so that certificates are chosen
 * as requests are routed: an exact name or alias, then the longest
 * wildcard, then the default. A name whose vhost has no tls_cert (or that
 * no vhost serves) gets the default when that covers it, else the first
 * vhost certificate that does: admin.app.test, a vhost of its own, is
 * served under the certificate of *.app.test. SSL_set_SSL_CTX then
 * switches the connection over. Every context is built with the same
 * settings, so the switch changes only the certificate. This happens
 * before OpenSSL looks for a session to resume, and the connection's
 * session ID context is made of the certificate's fingerprint and the
 * name: a session resumes only under the certificate and name it was made
 * with (RFC 6066 section 3 forbids resuming a TLS 1.2 session under
 * another name).
 *
 * Session tickets are sealed with process-wide keys that rotate every
 * hour; a ticket stays usable for TLS_TICKET_KEYS hours, so that a
 * stolen key exposes little, and a ticket from any worker or listener of
 * this process resumes anywhere in it.
 *
 * Reading and writing through the connections is tls_io.c's.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "portier/tls.h"
#include "portier/ca.h"
#include "portier/config.h"
#include "portier/lan.h"
#include "portier/log.h"
#include "portier/route.h"

/* Bytes one read(2) of a TLS connection may take. */
#define TLS_READ_BUFFER (64 * 1024)

/* Ticket keys kept: the current one and those before it, an hour each. */
#define TLS_TICKET_KEYS 3
#define TLS_TICKET_PERIOD 3600

/* Session lifetime (ticket and cache), within the keys' life. */
#define TLS_SESSION_TIMEOUT (2 * TLS_TICKET_PERIOD)

/* Warn at start-up about certificates that expire sooner than this. */
#define TLS_EXPIRY_WARN_DAYS 14

/* TLS 1.2 suites: ECDHE key exchange and AEAD ciphers only. */
#define TLS_CIPHERS                                                            \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_CIPHERSUITES                                                       \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                       \
	"TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS "X25519:P-256:P-384"

/* One session ticket key. */
struct tls_ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
};

/* The process's ticket keys, newest first, and the ticket cipher,
 * fetched once: EVP_aes_256_cbc() would be looked up in the provider
 * on every ticket. */
static struct {
	pthread_mutex_t lock;
	struct tls_ticket_key keys[TLS_TICKET_KEYS];
	int nkeys;
	time_t next_rotation;
	EVP_CIPHER *cipher;
} tls_tickets = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Why a callback of this thread refused the handshake under way: OpenSSL
 * only says "callback failed". */
static _Thread_local const char *tls_refusal;

/* Where tls_warn sends a warning about a certificate (tls_set_warn); the
 * log when fn is NULL. */
static struct {
	tls_warn_fn *fn;
	void *arg;
} tls_warn_sink;

/* The local CA of tls = auto, opened once and kept: renewals and reloads
 * issue certificates after root's rights to its key file are gone. */
static struct {
	pthread_mutex_t lock;
	char dir[4096];
	struct ca *ca;
} tls_ca = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct tls_server {
	int refcnt;
	char *listener;            /* the listener's name, for logs */
	pthread_mutex_t lock;      /* guards fallback while it is renewed */
	SSL_CTX *fallback;         /* the listener's certificate */
	const struct config *cfg;  /* for renewals */
	const struct config_listener *cl;
	SSL_CTX **vhost_ctx;       /* per cfg->vhosts[i]; NULL: fallback */
	bool any_vhost_ctx;        /* one of vhost_ctx is not NULL */
	const struct config_vhost *vhosts; /* cfg->vhosts, for indexing */
	size_t nvhosts;
	struct route_table *names; /* SNI name -> vhost */
	bool http;                 /* offers ALPN http/1.1 */
	uint64_t local_key;        /* tls_local_key of the names issued for */
	time_t retry;              /* after a failed renewal, none before */
};

/* A certificate chain and key file of the configuration, and the section
 * and lines that name them, for messages. */
struct tls_files {
	const char *section; /* "listener" or "vhost" */
	const char *name;
	const char *cert;
	const char *key;
	int cert_line;
	int key_line;
};

/* After a renewal that failed, the next try waits this long (seconds). */
#define TLS_RENEW_RETRY 3600

/* The names of this machine a tls = auto certificate covers: first
 * localhost and the two loopback addresses, always there; then the
 * listener's own bind addresses (the first TLS_BIND_NAMES), the host name
 * and the LAN addresses. */
#define TLS_LOOPBACK_NAMES 3
#define TLS_BIND_NAMES 8
struct tls_local {
	const char *names[5 + TLS_BIND_NAMES + LAN_MAX];
	size_t n;
	char buf[2][264];
	char binds[TLS_BIND_NAMES][INET6_ADDRSTRLEN];
	char addrs[LAN_MAX][INET6_ADDRSTRLEN];
};

static struct tls_server *tls_server_make(const struct config *cfg,
                                          const struct config_listener *cl,
                                          bool own, char *err,
                                          size_t errlen);
static SSL_CTX *tls_ctx_new(struct tls_server *t, char *err, size_t errlen);
static const char *tls_weak_reason(unsigned long e);
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u);
static const char *tls_file_reason(char *buf, size_t len);
static bool tls_file_has(const char *path, const char *text);
static SSL_CTX *tls_ctx_load(struct tls_server *t, const struct tls_files *f,
                             char *err, size_t errlen);
static SSL_CTX *tls_ctx_auto(struct tls_server *t, const struct config *cfg,
                             const struct config_listener *cl, char *err,
                             size_t errlen);
static void tls_local_names(const struct config_listener *cl,
                            struct tls_local *local);
static uint64_t tls_local_key(const struct tls_local *local);
static bool tls_local_has(const struct tls_local *local, const char *name);
static void tls_check_names(const struct tls_server *t);
static int tls_covers(X509 *x, const char *host);
static void tls_warn(bool serious, const char *msg);
static void tls_check_expiry(const struct tls_server *t,
                             const struct tls_files *f, const X509 *x);
static void tls_check_chain(const struct tls_server *t,
                            const struct tls_files *f, SSL_CTX *ctx);
static bool tls_names_ca_issuers(X509 *x);
static bool tls_issuer_trusted(X509 *x);
static int tls_client_hello_cb(SSL *ssl, int *alert, void *arg);
static SSL_CTX *tls_ctx_for(const struct tls_server *t, SSL_CTX *dflt,
                            const char *host);
static int tls_session_context(SSL *ssl, const char *name);
static uint64_t tls_fnv(const char *s, uint64_t h);
static int tls_ctx_identify(SSL_CTX *ctx);
static int tls_servername_cb(SSL *ssl, int *alert, void *arg);
static int tls_alpn_cb(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg);
static int tls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc);
static struct ca *tls_local_ca(const char *dir, char *err, size_t errlen);
static void tls_config_error(const struct config *cfg, const char *section,
                             const char *name, int line, char *err,
                             size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));


struct tls_server *tls_server_new(const struct config *cfg,
                                  const struct config_listener *cl,
                                  char *err, size_t errlen)
{
	return tls_server_make(cfg, cl, true, err, errlen);
}

/* tls_server_new's work; without own, the listener's own certificate is
 * left out (the check of a tls = auto listener, which would make the
 * local CA) and only the vhosts' files are loaded. */
static struct tls_server *tls_server_make(const struct config *cfg,
                                          const struct config_listener *cl,
                                          bool own, char *err,
                                          size_t errlen)
{
	struct tls_server *t = calloc(1, sizeof(*t));
	int saved;

	if (t == NULL) {
		snprintf(err, errlen, "listener %s: out of memory", cl->name);
		errno = ENOMEM;
		return NULL;
	}
	t->refcnt = 1;
	pthread_mutex_init(&t->lock, NULL);
	t->nvhosts = cfg->nvhosts;
	if ((t->listener = strdup(cl->name)) == NULL ||
	    (cfg->nvhosts > 0 &&
	     (t->vhost_ctx = calloc(cfg->nvhosts, sizeof(SSL_CTX *))) ==
	         NULL) ||
	    (t->names = route_table_new(cfg, cl, NULL)) == NULL) {
		snprintf(err, errlen, "listener %s: out of memory", cl->name);
		errno = ENOMEM;
		goto err;
	}
	t->cfg = cfg;
	t->cl = cl;
	t->vhosts = cfg->vhosts;
	t->http = cl->mode == CONFIG_MODE_HTTP;
	if (own && cl->tls == CONFIG_TLS_AUTO) {
		t->fallback = tls_ctx_auto(t, cfg, cl, err, errlen);
	} else if (own) {
		struct tls_files files = {
		    .section = "listener", .name = cl->name,
		    .cert = cl->tls_cert, .key = cl->tls_key,
		    .cert_line = cl->tls_cert_line,
		    .key_line = cl->tls_key_line};

		t->fallback = tls_ctx_load(t, &files, err, errlen);
	}
	if (own && t->fallback == NULL)
		goto err;
	for (size_t i = 0; i < cfg->nvhosts; i++) {
		const struct config_vhost *v = &cfg->vhosts[i];
		struct tls_files files = {
		    .section = "vhost", .name = v->name,
		    .cert = v->tls_cert, .key = v->tls_key,
		    .cert_line = v->tls_cert_line,
		    .key_line = v->tls_key_line};

		if (v->tls_cert == NULL || !config_vhost_serves(v, cl))
			continue;
		/* Vhosts that share a certificate share its context. */
		for (size_t j = 0; j < i; j++) {
			const struct config_vhost *w = &cfg->vhosts[j];

			if (t->vhost_ctx[j] != NULL &&
			    strcmp(w->tls_cert, v->tls_cert) == 0 &&
			    strcmp(w->tls_key, v->tls_key) == 0) {
				SSL_CTX_up_ref(t->vhost_ctx[j]);
				t->vhost_ctx[i] = t->vhost_ctx[j];
				break;
			}
		}
		if (t->vhost_ctx[i] == NULL &&
		    (t->vhost_ctx[i] = tls_ctx_load(t, &files, err, errlen)) ==
		        NULL)
			goto err;
		t->any_vhost_ctx = true;
	}
	if (own)
		tls_check_names(t);
	return t;
err:
	/* errno tells the caller what kind of failure this is. */
	saved = errno;
	tls_server_unref(t);
	errno = saved;
	return NULL;
}

int tls_server_check(const struct config *cfg,
                     const struct config_listener *cl, char *err,
                     size_t errlen)
{
	struct tls_server *t;

	if (cl->tls == CONFIG_TLS_OFF)
		return 0;
	t = tls_server_make(cfg, cl, cl->tls == CONFIG_TLS_ON, err, errlen);
	if (t == NULL)
		return -1;
	tls_server_unref(t);
	return 0;
}

struct tls_server *tls_server_ref(struct tls_server *t)
{
	__atomic_add_fetch(&t->refcnt, 1, __ATOMIC_RELAXED);
	return t;
}

void tls_server_unref(struct tls_server *t)
{
	if (t == NULL || __atomic_sub_fetch(&t->refcnt, 1, __ATOMIC_ACQ_REL))
		return;
	/* Each slot holds its own reference. */
	for (size_t i = 0; t->vhost_ctx != NULL && i < t->nvhosts; i++)
		SSL_CTX_free(t->vhost_ctx[i]);
	free(t->vhost_ctx);
	SSL_CTX_free(t->fallback);
	pthread_mutex_destroy(&t->lock);
	route_table_free(t->names);
	free(t->listener);
	free(t);
}

SSL *tls_server_accept(struct tls_server *t, int fd)
{
	BIO *bio;
	SSL *ssl;

	/* SSL_new takes a reference on the context: a renewal may drop the
	 * server's own right after. */
	pthread_mutex_lock(&t->lock);
	ssl = SSL_new(t->fallback);
	pthread_mutex_unlock(&t->lock);
	if (ssl == NULL)
		return NULL;
	bio = tls_socket_bio(fd);
	if (bio == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_bio(ssl, bio, bio);
	SSL_set_accept_state(ssl);
	if (!tls_watch_idle(ssl))
		SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
	return ssl;
}

int tls_server_renew(struct tls_server *t, char *err, size_t errlen)
{
	struct tls_local local;
	SSL_CTX *fresh, *old;
	int days = 0, secs = 0;
	uint64_t key;
	const X509 *x;

	if (t->cl->tls != CONFIG_TLS_AUTO)
		return 0;
	pthread_mutex_lock(&t->lock);
	x = SSL_CTX_get0_certificate(t->fallback);
	if (x == NULL ||
	    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		days = 0;
	pthread_mutex_unlock(&t->lock);
	tls_local_names(t->cl, &local);
	key = tls_local_key(&local);
	if (key == t->local_key &&
	    (days >= CA_LEAF_RENEW_DAYS || time(NULL) < t->retry))
		return 0;
	/* A laptop that joined another network has other addresses: a
	 * phone there opens the new one, which the certificate must name.
	 * A failure is said once, not at every check. */
	if (key != t->local_key) {
		char now[1024] = "";

		for (size_t i = TLS_LOOPBACK_NAMES; i < local.n; i++)
			snprintf(now + strlen(now), sizeof(now) - strlen(now),
			         "%s%s", i > TLS_LOOPBACK_NAMES ? ", " : "",
			         local.names[i]);
		log_warn("listener %s: this machine's names and addresses "
		         "changed (now: %s); the local CA makes its "
		         "certificate again",
		         t->listener, now[0] != '\0' ? now : "loopback only");
		t->local_key = key;
	}
	/* Only this thread renews: fallback changes nowhere else. */
	fresh = tls_ctx_auto(t, t->cfg, t->cl, err, errlen);
	if (fresh == NULL) {
		t->retry = time(NULL) + TLS_RENEW_RETRY;
		return -1;
	}
	pthread_mutex_lock(&t->lock);
	old = t->fallback;
	t->fallback = fresh;
	pthread_mutex_unlock(&t->lock);
	SSL_CTX_free(old);
	return 0;
}

const char *tls_sni(const SSL *ssl)
{
	return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
}

void tls_forget_ca(void)
{
	pthread_mutex_lock(&tls_ca.lock);
	ca_free(tls_ca.ca);
	tls_ca.ca = NULL;
	pthread_mutex_unlock(&tls_ca.lock);
}

/* --- contexts ---------------------------------------------------------- */

/* A context with portier's settings and no certificate yet. */
static SSL_CTX *tls_ctx_new(struct tls_server *t, char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "portier";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS_CIPHERSUITES) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid_ctx,
	                                   sizeof(sid_ctx) - 1) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	                             SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Partial writes and moving buffers: a write takes what the socket
	 * takes, from wherever the bytes are now. Idle connections give
	 * their buffers back (tls_release_idle), not every connection after
	 * every read and write (SSL_MODE_RELEASE_BUFFERS). The chain sent
	 * is the one the certificate file holds: OpenSSL would otherwise try
	 * to build one from its (empty) store on every handshake with a
	 * certificate that has none. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_NO_AUTO_CHAIN);
	/* Read ahead: one read(2) takes what the socket has, several
	 * records at once, instead of a header and a body per record. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUFFER);
	/* Sessions resume from tickets alone: no server-side cache to
	 * fill, lock and sweep on every handshake. One ticket per
	 * connection is what browsers use (OpenSSL sends two by default,
	 * each an encryption and a MAC). */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
	                                        SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_timeout(ctx, TLS_SESSION_TIMEOUT);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
	SSL_CTX_set_client_hello_cb(ctx, tls_client_hello_cb, t);
	SSL_CTX_set_tlsext_servername_callback(ctx, tls_servername_cb);
	if (t->http)
		SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
	return ctx;
fail:
	snprintf(err, errlen, "listener %s: cannot set up TLS: %s",
	         t->listener, tls_error_reason((char[256]){0}, 256));
	SSL_CTX_free(ctx);
	errno = EINVAL;
	return NULL;
}

/* A context for the certificate chain and key of f. Errors are written
 * at the line of the key that names the file; errno is that of a file
 * that cannot be read, else EINVAL (a file that is not what it should
 * be). */
static SSL_CTX *tls_ctx_load(struct tls_server *t, const struct tls_files *f,
                             char *err, size_t errlen)
{
	const char *cert = f->cert, *key = f->key;
	char why[256];
	bool encrypted = false;
	SSL_CTX *ctx;

	/* A missing or unreadable file, or a directory, says so plainly;
	 * OpenSSL's own message for them is obscure ("PEM lib"). Nor is
	 * anything but a regular file opened: reading a FIFO would wait
	 * for a writer, and hold a start, a reload or -t up for good. */
	for (int i = 0; i < 2; i++) {
		const char *path = i ? key : cert;
		const char *what = i ? "tls_key" : "tls_cert";
		int line = i ? f->key_line : f->cert_line;
		struct stat st;

		if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
			int unreadable = errno;

			tls_config_error(t->cfg, f->section, f->name, line,
			                 err, errlen, "%s %s: %s", what, path,
			                 strerror(unreadable));
			errno = unreadable;
			return NULL;
		}
		if (!S_ISREG(st.st_mode)) {
			tls_config_error(t->cfg, f->section, f->name, line,
			                 err, errlen,
			                 "%s %s is %s; give the path of the PEM "
			                 "file",
			                 what, path,
			                 S_ISDIR(st.st_mode) ? "a directory"
			                                     : "not a regular file");
			errno = EINVAL;
			return NULL;
		}
	}
	if ((ctx = tls_ctx_new(t, err, errlen)) == NULL)
		return NULL;
	/* OpenSSL's default asks for a passphrase on the terminal, which
	 * would stop every connection until someone answers. */
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, &encrypted);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		const char *weak = tls_weak_reason(ERR_peek_last_error());

		if (weak != NULL) {
			ERR_clear_error();
			tls_config_error(t->cfg, f->section, f->name,
			                 f->cert_line, err, errlen,
			                 "tls_cert %s: %s", cert, weak);
			goto err;
		}
		tls_config_error(t->cfg, f->section, f->name, f->cert_line, err,
		                 errlen,
		                 "tls_cert %s: not a PEM certificate chain (%s)",
		                 cert, tls_file_reason(why, sizeof(why)));
		goto err;
	}
	/* OpenSSL checks the key against the certificate as it loads it:
	 * a key of the right type from another certificate (a renewal
	 * half done, or a chain file with the leaf not first) fails there. */
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
		     ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH))
			goto mismatch;
		if (encrypted) {
			ERR_clear_error();
			tls_config_error(
			    t->cfg, f->section, f->name, f->key_line, err,
			    errlen,
			    "tls_key %s: the key is encrypted with a "
			    "passphrase, which portier does not ask for; "
			    "write it without one (openssl pkey -in %s -out "
			    "NEW.pem) and keep that file mode 0600",
			    key, key);
			goto err;
		}
		/* OpenSSL 3.0 says "unsupported" of a file with no key. */
		if (!tls_file_has(key, "PRIVATE KEY-----"))
			snprintf(why, sizeof(why),
			         "no -----BEGIN PRIVATE KEY----- line");
		else
			tls_file_reason(why, sizeof(why));
		ERR_clear_error();
		tls_config_error(t->cfg, f->section, f->name, f->key_line, err,
		                 errlen, "tls_key %s: not a PEM private key (%s)",
		                 key, why);
		goto err;
	}
	SSL_CTX_set_default_passwd_cb(ctx, NULL);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto mismatch;
	if (tls_ctx_identify(ctx) < 0) {
		snprintf(err, errlen, "tls_cert %s: %s", cert,
		         tls_error_reason(why, sizeof(why)));
		goto err;
	}
	tls_check_expiry(t, f, SSL_CTX_get0_certificate(ctx));
	tls_check_chain(t, f, ctx);
	return ctx;
mismatch:
	tls_config_error(t->cfg, f->section, f->name, f->key_line, err, errlen,
	                 "the key in %s does not belong to the certificate in "
	                 "%s (with a chain in that file, the server's own "
	                 "certificate comes first)",
	                 key, cert);
	ERR_clear_error();
err:
	SSL_CTX_free(ctx);
	errno = EINVAL;
	return NULL;
}

/* What a chain that OpenSSL refuses for its security level has too weak,
 * from the error e; NULL for other errors. */
static const char *tls_weak_reason(unsigned long e)
{
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return NULL;
	switch (ERR_GET_REASON(e)) {
	case SSL_R_EE_KEY_TOO_SMALL:
		return "the certificate's key is too small for OpenSSL's "
		       "security level (RSA keys need 2048 bits or more); "
		       "make a new key and certificate";
	case SSL_R_CA_KEY_TOO_SMALL:
		return "a CA certificate of the chain has a key too small for "
		       "OpenSSL's security level (RSA keys need 2048 bits or "
		       "more)";
	case SSL_R_CA_MD_TOO_WEAK:
		return "a certificate of the chain is signed with a digest too "
		       "weak for OpenSSL's security level (MD5 or SHA-1); have "
		       "it signed with SHA-256";
	default:
		return NULL;
	}
}

/* The passphrase callback of a key file: none is given, and the file is
 * noted as encrypted (*u, a bool). */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	if (u != NULL)
		*(bool *)u = true;
	return -1;
}

/* Why a certificate or key file did not load: the first error OpenSSL
 * queued ("no start line"), which says more than the last ("PEM lib"). */
static const char *tls_file_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason == NULL)
		return tls_error_reason(buf, len);
	snprintf(buf, len, "%s", reason);
	ERR_clear_error();
	return buf;
}

/* True when the first 64 KiB of the file at path hold `text`. */
static bool tls_file_has(const char *path, const char *text)
{
	char buf[65536];
	FILE *fp = fopen(path, "re");
	size_t n;

	if (fp == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return memmem(buf, n, text, strlen(text)) != NULL;
}

/* tls = auto: a certificate from the local CA for every name the
 * listener serves, and for the names a browser uses for this machine.
 * On failure errno is ENOMEM or EINVAL. */
static SSL_CTX *tls_ctx_auto(struct tls_server *t, const struct config *cfg,
                             const struct config_listener *cl, char *err,
                             size_t errlen)
{
	char dir[4096], why[512];
	struct tls_local local;
	const char **names = NULL;
	size_t nnames = 0, nserved;
	int failure = EINVAL;
	const char *const *served = route_names(t->names, &nserved);
	struct ca *ca = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	SSL_CTX *ctx = NULL;

	if (ca_state_dir(cfg->global.state_dir, dir, sizeof(dir)) < 0) {
		tls_config_error(cfg, "listener", cl->name, cl->line, err,
		                 errlen,
		                 "tls = auto: no directory for the local CA; set "
		                 "state_dir in [global]");
		errno = EINVAL;
		return NULL;
	}
	tls_local_names(cl, &local);
	t->local_key = tls_local_key(&local);
	names = calloc(nserved + local.n, sizeof(*names));
	if (names == NULL) {
		snprintf(err, errlen, "listener %s: out of memory", cl->name);
		errno = ENOMEM;
		return NULL;
	}
	/* "[fd00::2]" as a vhost alias is the address fd00::2: ca_issue
	 * takes it so. */
	for (size_t i = 0; i < nserved; i++)
		names[nnames++] = served[i];
	for (size_t i = 0; i < local.n; i++)
		names[nnames++] = local.names[i];
	if ((ca = tls_local_ca(dir, why, sizeof(why))) == NULL) {
		/* A CA that cannot be made or read in state_dir (a
		 * directory that may not be written, a path through a file,
		 * a damaged file) stops the start as an unreadable tls_key
		 * does: status 2, whatever the reason. */
		failure = errno == ENOMEM ? ENOMEM : EIO;
		tls_config_error(cfg, "listener", cl->name, cl->line, err,
		                 errlen, "tls = auto: %s", why);
		goto out;
	}
	if (ca_issue(ca, names, nnames, &cert, &key, why, sizeof(why)) < 0) {
		tls_config_error(cfg, "listener", cl->name, cl->line, err,
		                 errlen, "tls = auto: %s", why);
		goto out;
	}
	if ((ctx = tls_ctx_new(t, err, errlen)) == NULL)
		goto out;
	if (SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 || tls_ctx_identify(ctx) < 0) {
		snprintf(err, errlen, "listener %s: tls = auto: %s", cl->name,
		         tls_error_reason(why, sizeof(why)));
		SSL_CTX_free(ctx);
		ctx = NULL;
		goto out;
	}
	log_info("listener %s: certificate for %zu names from the local CA "
	         "%s",
	         cl->name, nnames, ca_root_path(ca));
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	free(names);
	if (ctx == NULL)
		errno = failure;
	return ctx;
}

/* The names a browser may use for this machine: localhost and the
 * loopback addresses; the addresses the listener is bound to (such as
 * 127.0.0.2, or one LAN address); and when it is bound beyond loopback the
 * host name (and its mDNS .local form) and the LAN addresses. */
static void tls_local_names(const struct config_listener *cl,
                            struct tls_local *local)
{
	struct lan_addr addrs[LAN_MAX];
	size_t naddrs, nbinds = 0;
	char host[256];

	local->n = 0;
	local->names[local->n++] = "localhost";
	local->names[local->n++] = "127.0.0.1";
	local->names[local->n++] = "::1";
	assert(local->n == TLS_LOOPBACK_NAMES);
	for (size_t i = 0; i < cl->nbinds && nbinds < TLS_BIND_NAMES; i++) {
		const struct addr *a = &cl->binds[i];
		const void *ip = a->sa.sa.sa_family == AF_INET
		                     ? (const void *)&a->sa.sin.sin_addr
		                     : (const void *)&a->sa.sin6.sin6_addr;

		/* 0.0.0.0 and [::] are no address a client can use. */
		if (a->kind != ADDR_INET ||
		    (a->sa.sa.sa_family == AF_INET &&
		     a->sa.sin.sin_addr.s_addr == htonl(INADDR_ANY)) ||
		    (a->sa.sa.sa_family == AF_INET6 &&
		     IN6_IS_ADDR_UNSPECIFIED(&a->sa.sin6.sin6_addr)) ||
		    inet_ntop(a->sa.sa.sa_family, ip, local->binds[nbinds],
		              sizeof(local->binds[nbinds])) == NULL ||
		    tls_local_has(local, local->binds[nbinds]))
			continue;
		local->names[local->n++] = local->binds[nbinds++];
	}
	if (!lan_exposed(cl->binds, cl->nbinds))
		return;
	if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0' &&
	    strcmp(host, "localhost") != 0) {
		host[sizeof(host) - 1] = '\0';
		for (char *c = host; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
		snprintf(local->buf[0], sizeof(local->buf[0]), "%s", host);
		local->names[local->n++] = local->buf[0];
		if (strchr(host, '.') == NULL) {
			snprintf(local->buf[1], sizeof(local->buf[1]),
			         "%.250s.local", host);
			local->names[local->n++] = local->buf[1];
		}
	}
	naddrs = lan_addresses(addrs, LAN_MAX);
	for (size_t i = 0; i < naddrs; i++) {
		if (tls_local_has(local, addrs[i].text))
			continue;
		memcpy(local->addrs[i], addrs[i].text, sizeof(addrs[i].text));
		local->names[local->n++] = local->addrs[i];
	}
}

/* True when local has the name already. */
static bool tls_local_has(const struct tls_local *local, const char *name)
{
	for (size_t i = 0; i < local->n; i++) {
		if (strcmp(local->names[i], name) == 0)
			return true;
	}
	return false;
}

/* The set of names in local, in any order, as one number. */
static uint64_t tls_local_key(const struct tls_local *local)
{
	uint64_t key = 0;

	for (size_t i = 0; i < local->n; i++)
		key += tls_fnv(local->names[i], UINT64_C(0xcbf29ce484222325));
	return key;
}

/* The local CA in dir, opened (and made) the first time. Only worker 0
 * issues certificates (start, reload, renewal), so the one it returns is
 * not freed under anyone. */
static struct ca *tls_local_ca(const char *dir, char *err, size_t errlen)
{
	struct ca *ca;

	pthread_mutex_lock(&tls_ca.lock);
	if (tls_ca.ca == NULL || strcmp(tls_ca.dir, dir) != 0) {
		/* The first time, or a reload moved state_dir. */
		ca = ca_open(dir, CA_CREATE, err, errlen);
		if (ca != NULL) {
			ca_free(tls_ca.ca);
			tls_ca.ca = ca;
			snprintf(tls_ca.dir, sizeof(tls_ca.dir), "%s", dir);
		}
		if (ca != NULL && ca_is_new(ca))
			log_warn("made a new local CA, %s: browsers and phones "
			         "trust the certificates of tls = auto once "
			         "they trust it; `portier ca trust` installs "
			         "it on this machine, `portier ca export` "
			         "writes it for phones",
			         ca_root_path(ca));
	}
	ca = strcmp(tls_ca.dir, dir) == 0 ? tls_ca.ca : NULL;
	pthread_mutex_unlock(&tls_ca.lock);
	return ca;
}

/* Write a message about the configuration into err as config_load writes
 * its errors, "FILE:LINE: SECTION NAME: ...", so that the reader finds the
 * line to change; "FILE: " without a line, nothing for a configuration
 * made without a file (portier expose). */
static void tls_config_error(const struct config *cfg, const char *section,
                             const char *name, int line, char *err,
                             size_t errlen, const char *fmt, ...)
{
	char where[64] = "";
	int n = 0;
	va_list ap;

	if (cfg->path != NULL && line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	if (cfg->path != NULL)
		n = snprintf(err, errlen, "%s%s: ", cfg->path, where);
	if (n < 0 || (size_t)n >= errlen)
		return;
	n += snprintf(err + n, errlen - (size_t)n, "%s %s: ", section, name);
	if ((size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Warn about vhost names that the certificate chosen for them does not
 * cover: browsers would refuse them. */
static void tls_check_names(const struct tls_server *t)
{
	size_t n;
	const char *const *names = route_names(t->names, &n);
	char msg[1024];

	for (size_t i = 0; i < n; i++) {
		char sample[300];
		const char *host = names[i];
		SSL_CTX *ctx;
		X509 *x;

		if (strncmp(host, "*.", 2) == 0) {
			/* A name the wildcard stands for. */
			snprintf(sample, sizeof(sample), "portier%s", host + 1);
			host = sample;
		}
		ctx = tls_ctx_for(t, t->fallback, host);
		x = ctx != NULL ? SSL_CTX_get0_certificate(ctx) : NULL;
		if (x == NULL || tls_covers(x, host) == 1)
			continue;
		snprintf(msg, sizeof(msg),
		         "listener %s: the certificate for %s does not cover "
		         "that name; clients will refuse it (give the vhost "
		         "its own tls_cert)",
		         t->listener, names[i]);
		tls_warn(true, msg);
	}
}

void tls_set_warn(tls_warn_fn *fn, void *arg)
{
	tls_warn_sink.fn = fn;
	tls_warn_sink.arg = arg;
}

/* A warning about a certificate, to the log or to tls_set_warn's fn. */
static void tls_warn(bool serious, const char *msg)
{
	if (tls_warn_sink.fn != NULL)
		tls_warn_sink.fn(tls_warn_sink.arg, serious, msg);
	else
		log_warn("%s", msg);
}

/* 1 when certificate x is valid for host: a name, an IPv4 address or an
 * IPv6 one in brackets. */
static int tls_covers(X509 *x, const char *host)
{
	char ip[INET6_ADDRSTRLEN];
	size_t len = strlen(host);
	unsigned char bin[16];

	if (host[0] == '[' && len >= 2 && len - 2 < sizeof(ip)) {
		memcpy(ip, host + 1, len - 2);
		ip[len - 2] = '\0';
		return X509_check_ip_asc(x, ip, 0);
	}
	if (inet_pton(AF_INET, host, bin) == 1)
		return X509_check_ip_asc(x, host, 0);
	return X509_check_host(x, host, 0, 0, NULL);
}

/* Warn about a certificate that has expired or soon will, at the
 * FILE:LINE of its tls_cert. */
static void tls_check_expiry(const struct tls_server *t,
                             const struct tls_files *f, const X509 *x)
{
	int days = 0, secs = 0;
	char when[64], msg[1024];

	if (x == NULL ||
	    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1)
		return;
	if (days < 0 || secs < 0)
		snprintf(when, sizeof(when),
		         "has expired; clients will refuse it");
	else if (days == 0)
		snprintf(when, sizeof(when), "expires in less than a day");
	else if (days < TLS_EXPIRY_WARN_DAYS)
		snprintf(when, sizeof(when), "expires in %d day%s", days,
		         days == 1 ? "" : "s");
	else
		return;
	tls_config_error(t->cfg, f->section, f->name, f->cert_line, msg,
	                 sizeof(msg), "tls_cert %s: the certificate %s",
	                 f->cert, when);
	tls_warn(days < 0 || secs < 0, msg);
}

/*
 * Warn about a tls_cert that holds the server's certificate alone where
 * clients need an intermediate certificate to verify it: cert.pem given
 * where fullchain.pem was meant. That is the case when the certificate is
 * not self-signed, says where its issuer's certificate is published
 * (Authority Information Access, caIssuers, as the certificates of public
 * CAs do) and its issuer is not a CA this machine trusts. A desktop
 * browser may fetch or remember the intermediate; phones, curl and most
 * programs refuse the certificate. A private CA's certificate without
 * that extension is left alone: its clients trust that CA itself.
 */
static void tls_check_chain(const struct tls_server *t,
                            const struct tls_files *f, SSL_CTX *ctx)
{
	STACK_OF(X509) *chain = NULL;
	X509 *x = SSL_CTX_get0_certificate(ctx);
	char issuer[256], msg[1024];

	if (x == NULL || SSL_CTX_get0_chain_certs(ctx, &chain) != 1 ||
	    sk_X509_num(chain) > 0 || X509_check_issued(x, x) == X509_V_OK ||
	    !tls_names_ca_issuers(x) || tls_issuer_trusted(x))
		return;
	X509_NAME_oneline(X509_get_issuer_name(x), issuer, sizeof(issuer));
	tls_config_error(t->cfg, f->section, f->name, f->cert_line, msg,
	                 sizeof(msg),
	                 "tls_cert %s holds the server's certificate alone, "
	                 "and its issuer (%s) is not a CA this machine "
	                 "trusts: phones, curl and most programs will refuse "
	                 "it; put the intermediate certificates after it in "
	                 "the file (the full chain, as in fullchain.pem)",
	                 f->cert, issuer);
	tls_warn(true, msg);
}

/* True when certificate x names where its issuer's certificate is
 * (an Authority Information Access entry of method caIssuers). */
static bool tls_names_ca_issuers(X509 *x)
{
	AUTHORITY_INFO_ACCESS *aia =
	    X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
	bool found = false;

	for (int i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia);
	     i++)
		if (OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, i)->method) ==
		    NID_ad_ca_issuers)
			found = true;
	AUTHORITY_INFO_ACCESS_free(aia);
	return found;
}

/* True when the issuer of x is in the system's directory of trusted CA
 * certificates (OpenSSL's default, or SSL_CERT_DIR), looked up by its
 * name's hash: one file read, not the whole store. */
static bool tls_issuer_trusted(X509 *x)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	X509_LOOKUP *dir;
	X509 *issuer = NULL;
	bool found = false;

	if (store != NULL && sctx != NULL &&
	    (dir = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir())) !=
	        NULL &&
	    X509_LOOKUP_add_dir(dir, NULL, X509_FILETYPE_DEFAULT) == 1 &&
	    X509_STORE_CTX_init(sctx, store, x, NULL) == 1)
		found = X509_STORE_CTX_get1_issuer(&issuer, sctx, x) == 1;
	X509_free(issuer);
	X509_STORE_CTX_free(sctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return found;
}

/* --- callbacks --------------------------------------------------------- */

/*
 * ClientHello, before OpenSSL looks for a session to resume: switch to
 * the certificate of the vhost the SNI name routes to (an unknown name
 * keeps the listener's), and make the connection's session ID context. A
 * name that is not a host name is refused. A server_name extension that
 * is not one host_name is left to OpenSSL, which refuses it.
 */
static int tls_client_hello_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *t = arg;
	const unsigned char *p;
	SSL_CTX *ctx;
	char lower[256];
	size_t len, n, i;

	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
	                              &len) != 1 ||
	    len < 5 || (size_t)(p[0] << 8 | p[1]) != len - 2 ||
	    p[2] != TLSEXT_NAMETYPE_host_name ||
	    (n = (size_t)(p[3] << 8 | p[4])) != len - 5 || n == 0 ||
	    n >= sizeof(lower))
		return tls_session_context(ssl, "") < 0
		           ? SSL_CLIENT_HELLO_ERROR
		           : SSL_CLIENT_HELLO_SUCCESS;
	for (i = 0; i < n; i++) {
		unsigned char c = p[5 + i];

		/* No host name has a space, a control byte or one above
		 * ASCII: refused, before the name can reach a log line or
		 * a page. */
		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\') {
			tls_refusal = "the server name (SNI) is not a host "
			              "name";
			*alert = SSL_AD_UNRECOGNIZED_NAME;
			return SSL_CLIENT_HELLO_ERROR;
		}
		lower[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	lower[n] = '\0';
	ctx = tls_ctx_for(t, SSL_get_SSL_CTX(ssl), lower);
	if (ctx != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, ctx) == NULL) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return tls_session_context(ssl, lower) < 0 ? SSL_CLIENT_HELLO_ERROR
	                                           : SSL_CLIENT_HELLO_SUCCESS;
}

/* The context whose certificate a connection to SNI name host (lower case)
 * gets, dflt being the listener's: that of the vhost the name routes to;
 * for a vhost without tls_cert, or a name no vhost serves, dflt when its
 * certificate covers the name, else the first vhost certificate, in the
 * order of the file, that does; else dflt all the same. */
static SSL_CTX *tls_ctx_for(const struct tls_server *t, SSL_CTX *dflt,
                            const char *host)
{
	const struct config_vhost *v = route_vhost(t->names, host);
	X509 *x;

	if (v != NULL && t->vhost_ctx[v - t->vhosts] != NULL)
		return t->vhost_ctx[v - t->vhosts];
	if (!t->any_vhost_ctx)
		return dflt;
	x = dflt != NULL ? SSL_CTX_get0_certificate(dflt) : NULL;
	if (x != NULL && tls_covers(x, host) == 1)
		return dflt;
	for (size_t i = 0; i < t->nvhosts; i++) {
		SSL_CTX *ctx = t->vhost_ctx[i];

		if (ctx != NULL && (x = SSL_CTX_get0_certificate(ctx)) != NULL &&
		    tls_covers(x, host) == 1)
			return ctx;
	}
	return dflt;
}

/* The session ID context of a connection whose certificate is chosen:
 * the fingerprint of the certificate, then a hash of the name ("" without
 * SNI). Names need not hash apart for safety: a client can only offer its
 * own sessions, under whatever name it sends. */
static int tls_session_context(SSL *ssl, const char *name)
{
	unsigned char id[SSL_MAX_SID_CTX_LENGTH] = {0};
	unsigned char fp[EVP_MAX_MD_SIZE];
	unsigned int fplen = 0;
	X509 *x = SSL_get_certificate(ssl);
	uint64_t h1 = tls_fnv(name, UINT64_C(0xcbf29ce484222325));
	uint64_t h2 = tls_fnv(name, UINT64_C(0x84222325cbf29ce4));

	/* The SHA-1 fingerprint is the one X509 keeps computed. */
	if (x != NULL && X509_digest(x, EVP_sha1(), fp, &fplen) == 1)
		memcpy(id, fp, fplen < 16 ? fplen : 16);
	memcpy(id + 16, &h1, 8);
	memcpy(id + 24, &h2, 8);
	return SSL_set_session_id_context(ssl, id, sizeof(id)) == 1 ? 0 : -1;
}

/* FNV-1a over s, from h. */
static uint64_t tls_fnv(const char *s, uint64_t h)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* Have the certificate's SHA-1 fingerprint computed and kept in it (with
 * its extensions), so that tls_session_context copies it on every
 * handshake instead of hashing the certificate. */
static int tls_ctx_identify(SSL_CTX *ctx)
{
	unsigned char fp[EVP_MAX_MD_SIZE];
	unsigned int n;
	X509 *x = SSL_CTX_get0_certificate(ctx);

	if (x == NULL)
		return -1;
	(void)X509_check_purpose(x, -1, 0);
	return X509_digest(x, EVP_sha1(), fp, &n) == 1 ? 0 : -1;
}

/* SNI, after the ClientHello callback chose the certificate: accept the
 * name, so that OpenSSL keeps it in the session (a resumed TLS 1.2
 * session reports the name it was made with, which the context above
 * makes this one). */
static int tls_servername_cb(SSL *ssl, int *alert, void *arg)
{
	(void)alert;
	(void)arg;
	return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) != NULL
	           ? SSL_TLSEXT_ERR_OK
	           : SSL_TLSEXT_ERR_NOACK;
}

const char *tls_take_refusal(void)
{
	const char *why = tls_refusal;

	tls_refusal = NULL;
	return why;
}

/* ALPN: http/1.1 (or http/1.0) when the client offers it; never h2, which
 * portier does not speak. A client that offers protocols but neither of
 * these gets the no_application_protocol alert RFC 7301 section 3.2 asks
 * for (as nginx and Go do): a clear refusal, rather than a connection on
 * which it would speak a protocol the server does not. */
static int tls_alpn_cb(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
	static const unsigned char http11[] = "\x08http/1.1\x08http/1.0";

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, http11,
	                          sizeof(http11) - 1, in,
	                          inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

/* Make a new current ticket key when the hour is up; the oldest goes.
 * The cipher is fetched on the first call. Called with the lock held. */
static int tls_ticket_rotate(time_t now)
{
	struct tls_ticket_key k;

	if (tls_tickets.cipher == NULL)
		tls_tickets.cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	if (tls_tickets.cipher == NULL)
		return -1;
	if (tls_tickets.nkeys > 0 && now < tls_tickets.next_rotation)
		return 0;
	if (RAND_bytes(k.name, sizeof(k.name)) != 1 ||
	    RAND_priv_bytes(k.aes, sizeof(k.aes)) != 1 ||
	    RAND_priv_bytes(k.hmac, sizeof(k.hmac)) != 1)
		return -1;
	memmove(&tls_tickets.keys[1], &tls_tickets.keys[0],
	        (TLS_TICKET_KEYS - 1) * sizeof(k));
	tls_tickets.keys[0] = k;
	if (tls_tickets.nkeys < TLS_TICKET_KEYS)
		tls_tickets.nkeys++;
	tls_tickets.next_rotation = now + TLS_TICKET_PERIOD;
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

/* Seal (enc = 1) or open a session ticket. Returns 1 to use the key, 2 to
 * use it and issue a fresh ticket, 0 for an unknown key (a full
 * handshake), -1 on failure. A fresh ticket goes out on every resumed TLS
 * 1.3 connection, whose client uses a ticket once (RFC 8446, C.4) and
 * would otherwise make a full handshake next time; and on a TLS 1.2 one
 * whose ticket was sealed with an older key. */
static int tls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_ticket_key k;
	const EVP_CIPHER *cipher;
	OSSL_PARAM params[3];
	int found = -1, ret;

	pthread_mutex_lock(&tls_tickets.lock);
	if (tls_ticket_rotate(time(NULL)) < 0) {
		pthread_mutex_unlock(&tls_tickets.lock);
		return -1;
	}
	if (enc)
		found = 0;
	for (int i = 0; !enc && i < tls_tickets.nkeys; i++) {
		if (memcmp(name, tls_tickets.keys[i].name, 16) == 0)
			found = i;
	}
	if (found >= 0)
		k = tls_tickets.keys[found];
	cipher = tls_tickets.cipher;
	pthread_mutex_unlock(&tls_tickets.lock);
	if (found < 0)
		return 0;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	                                              k.hmac, sizeof(k.hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	                                             (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (enc) {
		memcpy(name, k.name, sizeof(k.name));
		ret = RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 &&
		      EVP_EncryptInit_ex(cctx, cipher, NULL, k.aes, iv) == 1 &&
		      EVP_MAC_CTX_set_params(hctx, params) == 1
		          ? 1
		          : -1;
	} else {
		int fresh = found > 0 || SSL_version(ssl) == TLS1_3_VERSION;

		ret = EVP_DecryptInit_ex(cctx, cipher, NULL, k.aes, iv) == 1 &&
		              EVP_MAC_CTX_set_params(hctx, params) == 1
		          ? 1 + fresh
		          : -1;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return ret;
}
