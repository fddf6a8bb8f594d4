/* SPDX-License-Identifier: MIT */
/*
 * The local certificate authority. ca_open loads the root certificate and
 * its key from the state directory and makes them the first time: a fresh
 * ECDSA P-256 key and random serial numbers, so that no two machines share
 * anything. ca_issue signs short-lived leaves for the names a `tls = auto`
 * listener serves and keeps them under leaves/, so that a restart presents
 * the certificate a browser already saw. This module owns those files;
 * installing the root in trust stores is ca_cli.c's work.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "portier/ca.h"
#include "portier/log.h"

#define CA_ROOT_FILE    "ca.pem"
#define CA_KEY_FILE     "ca-key.pem"
#define CA_LEAVES_DIR   "leaves"
#define CA_ROOT_DAYS    3650
#define CA_SKEW_SECONDS 3600 /* notBefore this far back: clock skew */
#define CA_DAY          86400
#define CA_NAME_MAX     253 /* longest DNS name */
#define CA_CN_MAX       64  /* ub-common-name of RFC 5280 */

/* A loaded root. */
struct ca {
	char *dir;
	char *root_path;  /* DIR/ca.pem */
	char *key_path;   /* DIR/ca-key.pem */
	char *leaves_dir; /* DIR/leaves */
	X509 *root;
	EVP_PKEY *key;
	bool created; /* made by this ca_open */
};

/* What write_pem puts in a file: a key, then a certificate. */
struct pem_items {
	EVP_PKEY *key; /* NULL: none */
	X509 *cert;    /* NULL: none */
};

static int load_root(struct ca *ca, bool with_key, char *err, size_t errlen);
static int key_mode_ok(const char *path, const struct stat *st, char *err,
                       size_t errlen);
static int make_root(struct ca *ca, char *err, size_t errlen);
static void root_common_name(char *buf, size_t len);
static int load_leaf(const struct ca *ca, const char *path, X509 **cert,
                     EVP_PKEY **key);
static X509 *make_leaf(const struct ca *ca, char **names, size_t n,
                       EVP_PKEY *key, char *err, size_t errlen);
static int add_san(X509 *cert, char **names, size_t n);
static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value);
static int set_serial(X509 *cert);
static int set_validity(X509 *cert, time_t from, time_t to);
static bool time_of(const ASN1_TIME *t, time_t *out);
static bool valid_name(const char *name);
static void unbracket(char *name);
static int leaf_path(const struct ca *ca, char **names, size_t n, char *buf,
                     size_t len);
static int cmp_names(const void *a, const void *b);
static int write_pem(const char *path, mode_t mode,
                     const struct pem_items *items, char *err, size_t errlen);
static int mkdir_p(const char *path, mode_t mode);
static char *join(const char *dir, const char *name);
static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *ssl_reason(void);

int ca_state_dir(const char *state_dir, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	struct passwd *pw;
	int n;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	if (home == NULL || home[0] != '/') {
		pw = getpwuid(geteuid());
		home = pw != NULL ? pw->pw_dir : NULL;
	}
	if (state_dir != NULL && state_dir[0] != '\0')
		n = snprintf(buf, len, "%s", state_dir);
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "%s/portier", xdg);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/var/lib/portier");
	else if (home != NULL && home[0] == '/')
		n = snprintf(buf, len, "%s/.local/state/portier", home);
	else
		return -1;
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

struct ca *ca_open(const char *dir, unsigned flags, char *err, size_t errlen)
{
	struct ca *ca = calloc(1, sizeof(*ca));
	bool create = (flags & CA_CREATE) != 0;
	bool with_key = (flags & CA_CERT_ONLY) == 0;
	int found, lock = -1, saved;

	if (ca == NULL || (ca->dir = strdup(dir)) == NULL ||
	    (ca->root_path = join(dir, CA_ROOT_FILE)) == NULL ||
	    (ca->key_path = join(dir, CA_KEY_FILE)) == NULL ||
	    (ca->leaves_dir = join(dir, CA_LEAVES_DIR)) == NULL) {
		fail(err, errlen, "%s: out of memory", dir);
		goto err;
	}
	if (create && mkdir_p(dir, 0700) < 0) {
		fail(err, errlen, "%s: cannot create the directory: %s", dir,
		     strerror(errno));
		goto err;
	}
	found = load_root(ca, with_key, err, errlen);
	if (found == 0 && create) {
		/* Another process may be making the root right now: wait for
		 * it, then look again before making one. */
		lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lock < 0 || flock(lock, LOCK_EX) < 0) {
			fail(err, errlen, "%s: cannot lock the directory: %s",
			     dir, strerror(errno));
			goto err;
		}
		found = load_root(ca, with_key, err, errlen);
		if (found == 0) {
			char why[PATH_MAX + 128];

			found = make_root(ca, why, sizeof(why)) < 0 ? -1 : 1;
			ca->created = found == 1;
			if (found < 0)
				fail(err, errlen,
				     "cannot make the local CA in %s: %s", dir,
				     why);
		}
	}
	if (found == 0) {
		fail(err, errlen, "%s: no local CA here (%s does not exist)",
		     dir, CA_ROOT_FILE);
		errno = ENOENT;
	}
	if (found <= 0)
		goto err;
	if (lock >= 0)
		close(lock);
	return ca;

err:
	saved = errno;
	if (lock >= 0)
		close(lock);
	ca_free(ca);
	errno = saved;
	return NULL;
}

bool ca_is_new(const struct ca *ca)
{
	return ca->created;
}

int ca_check_key(const struct ca *ca, char *err, size_t errlen)
{
	struct stat st;

	if (stat(ca->key_path, &st) < 0) {
		fail(err, errlen,
		     "%s: %s; the root certificate %s cannot be used "
		     "without its key",
		     ca->key_path, strerror(errno), ca->root_path);
		return -1;
	}
	return key_mode_ok(ca->key_path, &st, err, errlen);
}

int ca_issue(struct ca *ca, const char *const *names, size_t n, X509 **cert,
             EVP_PKEY **key, char *err, size_t errlen)
{
	char **norm = NULL, path[PATH_MAX], why[PATH_MAX + 128];
	struct pem_items items;
	int status = -1;
	size_t i;

	*cert = NULL;
	*key = NULL;
	if (ca->key == NULL) {
		fail(err, errlen, "%s: opened without its key", ca->root_path);
		return -1;
	}
	if (n == 0) {
		fail(err, errlen, "no name to issue a certificate for");
		return -1;
	}
	norm = calloc(n, sizeof(*norm));
	if (norm == NULL) {
		fail(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (names[i] == NULL) {
			fail(err, errlen, "name %zu of %zu is missing", i + 1,
			     n);
			goto out;
		}
		if ((norm[i] = strdup(names[i])) == NULL) {
			fail(err, errlen, "out of memory");
			goto out;
		}
		for (char *c = norm[i]; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		unbracket(norm[i]);
		if (!valid_name(norm[i])) {
			fail(err, errlen,
			     "'%s' is neither a DNS name nor an IP address",
			     names[i]);
			goto out;
		}
	}
	if (leaf_path(ca, norm, n, path, sizeof(path)) < 0) {
		fail(err, errlen, "%s: path too long", ca->leaves_dir);
		goto out;
	}
	if (load_leaf(ca, path, cert, key) == 0) {
		status = 0;
		goto out;
	}
	*key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (*key == NULL) {
		fail(err, errlen, "cannot make a key for %s: %s", norm[0],
		     ssl_reason());
		goto out;
	}
	*cert = make_leaf(ca, norm, n, *key, err, errlen);
	if (*cert == NULL)
		goto out;
	status = 0;
	items.key = *key;
	items.cert = *cert;
	if (mkdir(ca->leaves_dir, 0700) < 0 && errno != EEXIST)
		log_warn("%s: cannot keep certificates: %s", ca->leaves_dir,
		         strerror(errno));
	else if (write_pem(path, 0600, &items, why, sizeof(why)) < 0)
		log_warn("cannot keep the certificate for %s: %s", norm[0],
		         why);

out:
	if (status < 0) {
		X509_free(*cert);
		EVP_PKEY_free(*key);
		*cert = NULL;
		*key = NULL;
	}
	for (i = 0; i < n; i++)
		free(norm[i]);
	free(norm);
	ERR_clear_error();
	return status;
}

X509 *ca_root(const struct ca *ca)
{
	return ca->root;
}

const char *ca_root_path(const struct ca *ca)
{
	return ca->root_path;
}

const char *ca_dir(const struct ca *ca)
{
	return ca->dir;
}

void ca_free(struct ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->root);
	EVP_PKEY_free(ca->key);
	free(ca->dir);
	free(ca->root_path);
	free(ca->key_path);
	free(ca->leaves_dir);
	free(ca);
}

/* Load DIR/ca.pem and, with_key, its key. Returns 1, 0 when there is no
 * root certificate, or -1 after a message with errno set. */
static int load_root(struct ca *ca, bool with_key, char *err, size_t errlen)
{
	struct stat st;
	FILE *fp;

	fp = fopen(ca->root_path, "re");
	if (fp == NULL && errno == ENOENT)
		return 0;
	if (fp == NULL) {
		fail(err, errlen, "%s: %s", ca->root_path, strerror(errno));
		return -1;
	}
	ca->root = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (ca->root == NULL) {
		fail(err, errlen, "%s: not a PEM certificate (%s)",
		     ca->root_path, ssl_reason());
		errno = EINVAL;
		return -1;
	}
	if (!with_key)
		return 1;
	fp = fopen(ca->key_path, "re");
	if (fp == NULL) {
		fail(err, errlen,
		     "%s: %s; the root certificate %s cannot be "
		     "used without its key",
		     ca->key_path, strerror(errno), ca->root_path);
		return -1;
	}
	if (fstat(fileno(fp), &st) < 0 ||
	    key_mode_ok(ca->key_path, &st, err, errlen) < 0) {
		fclose(fp);
		errno = EACCES;
		return -1;
	}
	ca->key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	errno = EINVAL;
	if (ca->key == NULL) {
		fail(err, errlen, "%s: not a readable private key (%s)",
		     ca->key_path, ssl_reason());
		return -1;
	}
	if (X509_check_private_key(ca->root, ca->key) != 1) {
		fail(err, errlen, "%s: not the key of %s", ca->key_path,
		     ca->root_path);
		return -1;
	}
	return 1;
}

/* The key's file may be read and written by its owner only, as ssh asks
 * of a private key. */
static int key_mode_ok(const char *path, const struct stat *st, char *err,
                       size_t errlen)
{
	if ((st->st_mode & 077) == 0)
		return 0;
	fail(err, errlen,
	     "%s: other users may read or change it (mode %04o); this key "
	     "signs certificates for any name, which every system that "
	     "trusts the root accepts: run chmod 600 %s",
	     path, (unsigned)(st->st_mode & 07777), path);
	return -1;
}

/* Make a root key and certificate and write them, the key first: a
 * certificate on disk always has its key beside it. */
static int make_root(struct ca *ca, char *err, size_t errlen)
{
	struct pem_items items = {NULL, NULL};
	X509_NAME *name = NULL;
	char cn[CA_CN_MAX + 1];
	time_t now = time(NULL);

	ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ca->root = X509_new();
	name = X509_NAME_new();
	if (ca->key == NULL || ca->root == NULL || name == NULL)
		goto ssl_err;
	root_common_name(cn, sizeof(cn));
	if (!X509_set_version(ca->root, X509_VERSION_3) ||
	    set_serial(ca->root) < 0 ||
	    set_validity(ca->root, now - CA_SKEW_SECONDS,
	                 now + (time_t)CA_ROOT_DAYS * CA_DAY) < 0 ||
	    !X509_NAME_add_entry_by_NID(
	        name, NID_organizationName, MBSTRING_ASC,
	        (const unsigned char *)"portier", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_ASC,
	                                (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_subject_name(ca->root, name) ||
	    !X509_set_issuer_name(ca->root, name) ||
	    !X509_set_pubkey(ca->root, ca->key) ||
	    add_ext(ca->root, ca->root, NID_basic_constraints,
	            "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(ca->root, ca->root, NID_key_usage,
	            "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(ca->root, ca->root, NID_subject_key_identifier, "hash") <
	        0 ||
	    X509_sign(ca->root, ca->key, EVP_sha256()) <= 0)
		goto ssl_err;
	X509_NAME_free(name);
	items.key = ca->key;
	if (write_pem(ca->key_path, 0600, &items, err, errlen) < 0)
		return -1;
	items.key = NULL;
	items.cert = ca->root;
	return write_pem(ca->root_path, 0644, &items, err, errlen);

ssl_err:
	X509_NAME_free(name);
	fail(err, errlen, "%s: cannot make the root certificate: %s",
	     ca->root_path, ssl_reason());
	return -1;
}

/* "portier local CA (HOST, USER)" in printable ASCII, at most 64 bytes. */
static void root_common_name(char *buf, size_t len)
{
	char host[256] = "localhost", uid[32];
	const char *user = getenv("USER");
	struct passwd *pw = getpwuid(geteuid());

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, ".")] = '\0';
	if (pw != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
		user = pw->pw_name;
	if (user == NULL || user[0] == '\0') {
		snprintf(uid, sizeof(uid), "uid %u", (unsigned)geteuid());
		user = uid;
	}
	/* 21 bytes of text around the two names. */
	snprintf(buf, len, "portier local CA (%.24s, %.19s)", host, user);
	for (char *c = buf; *c != '\0'; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
}

/* Load a cached leaf and keep it when it still serves: signed by this
 * root, its key, and more than CA_LEAF_RENEW_DAYS days left. Returns 0, or
 * -1 (quietly) when it must be made anew. */
static int load_leaf(const struct ca *ca, const char *path, X509 **cert,
                     EVP_PKEY **key)
{
	time_t renew = time(NULL) + (time_t)CA_LEAF_RENEW_DAYS * CA_DAY;
	EVP_PKEY *root_key = X509_get0_pubkey(ca->root);
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return -1;
	*key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	*cert = *key != NULL ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
	fclose(fp);
	if (*cert != NULL && X509_check_private_key(*cert, *key) == 1 &&
	    X509_check_issued(ca->root, *cert) == X509_V_OK &&
	    root_key != NULL && X509_verify(*cert, root_key) == 1 &&
	    X509_cmp_time(X509_get0_notBefore(*cert), NULL) < 0 &&
	    X509_cmp_time(X509_get0_notAfter(*cert), &renew) > 0)
		return 0;
	X509_free(*cert);
	EVP_PKEY_free(*key);
	*cert = NULL;
	*key = NULL;
	ERR_clear_error();
	return -1;
}

/* A leaf for names (checked, lower case) with key, signed by the root. */
static X509 *make_leaf(const struct ca *ca, char **names, size_t n,
                       EVP_PKEY *key, char *err, size_t errlen)
{
	time_t from = time(NULL) - CA_SKEW_SECONDS, to, root_end;
	const char *subject = names[0];
	int subject_nid = NID_commonName;
	X509_NAME *name = X509_NAME_new();
	X509 *cert = X509_new();

	to = from + (time_t)CA_LEAF_DAYS * CA_DAY;
	if (!time_of(X509_get0_notAfter(ca->root), &root_end)) {
		fail(err, errlen, "%s: unreadable notAfter", ca->root_path);
		goto err;
	}
	if (root_end <= from + CA_DAY) {
		fail(err, errlen,
		     "%s: the root certificate expires; move %s "
		     "away to make a new local CA",
		     ca->root_path, ca->dir);
		goto err;
	}
	if (to > root_end)
		to = root_end;
	if (cert == NULL || name == NULL)
		goto ssl_err;
	/* A name longer than a CN may be lives in the SAN only. */
	if (strlen(names[0]) > CA_CN_MAX) {
		subject_nid = NID_organizationName;
		subject = "portier";
	}
	if (!X509_NAME_add_entry_by_NID(name, subject_nid, MBSTRING_ASC,
	                                (const unsigned char *)subject, -1, -1,
	                                0))
		goto ssl_err;
	if (!X509_set_version(cert, X509_VERSION_3) || set_serial(cert) < 0 ||
	    set_validity(cert, from, to) < 0 ||
	    !X509_set_subject_name(cert, name) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca->root)) ||
	    !X509_set_pubkey(cert, key) ||
	    add_ext(cert, ca->root, NID_basic_constraints, "CA:FALSE") < 0 ||
	    add_ext(cert, ca->root, NID_key_usage,
	            "critical,digitalSignature") < 0 ||
	    add_ext(cert, ca->root, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(cert, ca->root, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(cert, ca->root, NID_authority_key_identifier,
	            "keyid:always") < 0 ||
	    add_san(cert, names, n) < 0 ||
	    X509_sign(cert, ca->key, EVP_sha256()) <= 0)
		goto ssl_err;
	X509_NAME_free(name);
	return cert;

ssl_err:
	fail(err, errlen, "cannot make a certificate for %s: %s", names[0],
	     ssl_reason());
err:
	X509_NAME_free(name);
	X509_free(cert);
	return NULL;
}

/* Add the subjectAltName extension: a DNS or IP entry per distinct name. */
static int add_san(X509 *cert, char **names, size_t n)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	unsigned char ip[16];
	int status = -1;
	size_t i, j;

	if (gens == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		GENERAL_NAME *gen;
		ASN1_STRING *value;
		int type = GEN_DNS, len = -1;

		for (j = 0; j < i && strcmp(names[j], names[i]) != 0; j++)
			;
		if (j < i)
			continue;
		if (inet_pton(AF_INET, names[i], ip) == 1)
			len = 4;
		else if (inet_pton(AF_INET6, names[i], ip) == 1)
			len = 16;
		if (len > 0) {
			type = GEN_IPADD;
			value = ASN1_OCTET_STRING_new();
			if (value != NULL &&
			    !ASN1_OCTET_STRING_set(value, ip, len)) {
				ASN1_OCTET_STRING_free(value);
				value = NULL;
			}
		} else {
			value = ASN1_IA5STRING_new();
			if (value != NULL &&
			    !ASN1_STRING_set(value, names[i], -1)) {
				ASN1_IA5STRING_free(value);
				value = NULL;
			}
		}
		gen = value != NULL ? GENERAL_NAME_new() : NULL;
		if (gen == NULL) {
			ASN1_STRING_free(value);
			goto out;
		}
		GENERAL_NAME_set0_value(gen, type, value);
		if (!sk_GENERAL_NAME_push(gens, gen)) {
			GENERAL_NAME_free(gen);
			goto out;
		}
	}
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0,
	                      X509V3_ADD_DEFAULT) == 1)
		status = 0;
out:
	GENERAL_NAMES_free(gens);
	return status;
}

/* Add one extension given as OpenSSL's configuration text. */
static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A random positive serial number of 127 bits. */
static int set_serial(X509 *cert)
{
	unsigned char bytes[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
		return -1;
	bytes[0] = (unsigned char)((bytes[0] & 0x7f) | 0x40);
	bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
	ok = bn != NULL &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -1;
}

/* Set notBefore and notAfter. */
static int set_validity(X509 *cert, time_t from, time_t to)
{
	if (ASN1_TIME_set(X509_getm_notBefore(cert), from) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(cert), to) == NULL)
		return -1;
	return 0;
}

/* An ASN.1 time as a time_t. */
static bool time_of(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

/* "[fd00::2]", as a URL or a vhost alias writes an IPv6 address, becomes
 * "fd00::2"; any other name is left as it is. */
static void unbracket(char *name)
{
	size_t len = strlen(name);
	unsigned char ip[16];

	if (len < 2 || name[0] != '[' || name[len - 1] != ']')
		return;
	name[len - 1] = '\0';
	if (inet_pton(AF_INET6, name + 1, ip) == 1)
		memmove(name, name + 1, len - 1);
	else
		name[len - 1] = ']';
}

/* An IPv4 or IPv6 literal, or a DNS name (lower case; letters, digits,
 * '-' and '_' in labels of 1 to 63 bytes), possibly "*." and a name. */
static bool valid_name(const char *name)
{
	unsigned char ip[16];
	size_t label = 0;
	const char *c;

	if (inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1)
		return true;
	if (strlen(name) > CA_NAME_MAX)
		return false;
	if (strncmp(name, "*.", 2) == 0)
		name += 2;
	for (c = name; *c != '\0'; c++) {
		if (*c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((*c >= 'a' && *c <= 'z') ||
		           (*c >= '0' && *c <= '9') || *c == '-' || *c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0;
}

/* DIR/leaves/NAME-HASH.pem for a set of names: NAME is the first of them
 * in sorted order (made safe for a file name), HASH the start of the
 * SHA-256 of all of them sorted, so that the order does not matter. */
static int leaf_path(const struct ca *ca, char **names, size_t n, char *buf,
                     size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char **sorted = malloc(n * sizeof(*sorted)), first[41], hex[17];
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
	int ok, written;
	size_t i;

	ok = sorted != NULL && md_ctx != NULL &&
	     EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL);
	if (ok) {
		memcpy(sorted, names, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_names);
	}
	for (i = 0; ok && i < n; i++) {
		if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		ok = EVP_DigestUpdate(md_ctx, sorted[i], strlen(sorted[i]) + 1);
	}
	ok = ok && EVP_DigestFinal_ex(md_ctx, md, &mdlen) && mdlen >= 8;
	if (ok) {
		snprintf(first, sizeof(first), "%s", sorted[0]);
		for (char *c = first; *c != '\0'; c++)
			if (*c == '*' || *c == ':')
				*c = '_';
		for (i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		written = snprintf(buf, len, "%s/%s-%s.pem", ca->leaves_dir,
		                   first, hex);
		ok = written > 0 && (size_t)written < len;
	}
	EVP_MD_CTX_free(md_ctx);
	free(sorted);
	return ok ? 0 : -1;
}

/* qsort comparison of two strings. */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Write items to path through a temporary file renamed over it, so that
 * readers see the old file or the whole new one. The temporary file has
 * `mode` before the first byte is written. */
static int write_pem(const char *path, mode_t mode,
                     const struct pem_items *items, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	FILE *fp = NULL;
	int fd, ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		fail(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0 || (fp = fdopen(fd, "w")) == NULL) {
		fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto err;
	}
	ok =
	    (items->key == NULL ||
	     PEM_write_PrivateKey(fp, items->key, NULL, NULL, 0, NULL, NULL)) &&
	    (items->cert == NULL || PEM_write_X509(fp, items->cert));
	if (!ok) {
		fail(err, errlen, "cannot write %s: %s", path, ssl_reason());
		goto err;
	}
	if (fflush(fp) != 0 || fsync(fileno(fp)) < 0) {
		fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto err;
	}
	ok = fclose(fp) == 0;
	fp = NULL;
	if (!ok || rename(tmp, path) < 0) {
		fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;

err:
	if (fp != NULL)
		fclose(fp);
	else
		close(fd);
	unlink(tmp);
	return -1;
}

/* mkdir -p with `mode` for every directory it makes. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *c = buf + 1; *c != '\0'; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*c = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* "DIR/NAME", allocated. */
static char *join(const char *dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	return path;
}

/* Write a message into err (when there is room for one); errno is kept. */
static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* The reason of OpenSSL's latest error, the queue emptied. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return reason != NULL ? reason : "unknown OpenSSL error";
}
