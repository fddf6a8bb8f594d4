/* SPDX-License-Identifier: MIT */
/*
 * The local certificate authority: a root made on this machine (never
 * shared with another one) that signs the certificates of `tls = auto`
 * listeners, and `portier ca`, which shows, exports and installs it.
 *
 * Files under the state directory DIR:
 *   DIR/ca.pem          the root certificate (PEM, mode 0644)
 *   DIR/ca-key.pem      its private key (PEM PKCS#8, mode 0600)
 *   DIR/leaves/NAME.pem issued leaves, key then certificate (mode 0600)
 */
#ifndef PORTIER_CA_H
#define PORTIER_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Longest leaf validity, and the time left under which a cached leaf is
 * replaced. */
#define CA_LEAF_DAYS       90
#define CA_LEAF_RENEW_DAYS 30

/* A root certificate and its key, loaded from DIR. */
struct ca;

/*
 * Write the state directory into buf: state_dir when it is not NULL, else
 * $XDG_STATE_HOME/portier (when set to an absolute path), else
 * /var/lib/portier when running as root, else $HOME/.local/state/portier.
 * Returns 0, or -1 when buf is too small or no directory can be found
 * (no HOME).
 */
int ca_state_dir(const char *state_dir, char *buf, size_t len)
    __attribute__((warn_unused_result));

/* Flags of ca_open. */
enum {
	/* Make the root when there is none (ECDSA P-256, 10 years;
	 * directory 0700, key file 0600), under a lock so that two
	 * processes starting at once make one root. */
	CA_CREATE = 1 << 0,
	/* Read the certificate of an existing root, not its key: for what
	 * shows, exports or installs the root, which a user who may not
	 * read the key may do. ca_issue then fails. */
	CA_CERT_ONLY = 1 << 1,
};

/*
 * Open the CA under dir (as ca_state_dir gives it). Without CA_CREATE a
 * missing root is an error. The key must be the root's, and only its
 * owner may read or write its file. On failure returns NULL, sets errno
 * (EACCES, EROFS, ENOENT... when a file or the directory is the cause,
 * EINVAL when their contents are) and writes a message naming the file
 * and the reason into err.
 */
struct ca *ca_open(const char *dir, unsigned flags, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* True when ca_open made the root just now (it did not exist before). */
bool ca_is_new(const struct ca *ca);

/* Check, with stat(2) alone, that the key of the root is there and only
 * its owner may read or write it: a key others can read lets them make
 * certificates for any name that this machine trusts. Returns 0, or -1
 * with a message in err. */
int ca_check_key(const struct ca *ca, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Issue, or take from the cache under DIR/leaves/, a leaf certificate for
 * names: DNS names (lower case, may be "*.suffix") and IPv4/IPv6 literals
 * (an IPv6 one may be in brackets, "[fd00::2]"), all of which become
 * SubjectAltName entries; the subject CN is names[0].
 * ECDSA P-256, serverAuth, valid for at most CA_LEAF_DAYS days (notBefore
 * an hour back for clock skew). A cached leaf for the same set of names is
 * reused while it has more than CA_LEAF_RENEW_DAYS days left and was
 * signed by this root; otherwise a new one is made and cached (a cache
 * that cannot be written is logged, not an error). Safe to call from
 * several threads at once. On success returns 0 and stores new references
 * in *cert and *key that the caller frees; on failure returns -1 with a
 * message in err.
 */
int ca_issue(struct ca *ca, const char *const *names, size_t n, X509 **cert,
             EVP_PKEY **key, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The root certificate (borrowed; lives as long as ca). */
X509 *ca_root(const struct ca *ca);

/* Path of the root certificate's PEM file. */
const char *ca_root_path(const struct ca *ca);

/* The directory the CA lives in. */
const char *ca_dir(const struct ca *ca);

/* Free a CA; accepts NULL. */
void ca_free(struct ca *ca);

/* The forms the root is exported in (`portier ca export`, and the page
 * of redirect_https listeners that offers it to phones). */
enum ca_format {
	CA_FORMAT_PEM,	   /* desktops, Firefox, curl */
	CA_FORMAT_DER,	   /* Android */
	CA_FORMAT_PROFILE, /* an iOS configuration profile */
};

/* File names of the exported forms ("portier-ca.pem", ...). */
const char *ca_export_name(enum ca_format format);

/* Write the root in `format` to fp. Returns 0, or -1 with errno. */
int ca_export(FILE *fp, X509 *root, enum ca_format format)
    __attribute__((warn_unused_result));

/* The SHA-256 fingerprint of a certificate in lower-case hex (65 bytes
 * with the NUL). Returns 0 or -1. */
int ca_fingerprint(X509 *cert, char out[65]);

/*
 * `portier ca [-c FILE] [-d DIR] COMMAND [ARG]` (argv[0] is "ca"), with
 * COMMAND path, export [DIR], trust or untrust. The state directory is -d
 * DIR, else the state_dir of -c FILE, else state_dir_or_null, else the
 * default of ca_state_dir. Returns the exit status.
 */
int ca_command(int argc, char **argv, const char *state_dir_or_null);

#endif
