/* SPDX-License-Identifier: MIT */
/*
 * The page that offers the local CA's root to phones: plain HTTP (a phone
 * cannot open the https site before it trusts the root), served by every
 * redirect_https listener of a configuration with a tls = auto listener,
 * at /portier-ca, with the root as PEM, DER and an iOS profile and the
 * steps to install it on iOS and Android.
 */
#ifndef PORTIER_CA_PAGE_H
#define PORTIER_CA_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct http_error_page;

/* The path of the page; the files are this path plus ".pem", ".der" and
 * ".mobileconfig". */
#define CA_PAGE_PATH "/portier-ca"

/*
 * When `path` (len bytes, query included) asks for the page or one of its
 * files and `cfg` has a tls = auto listener, fill *page (status 200, or
 * 503 when the CA cannot be read) and return true; the body is malloc'd
 * into *body, which the caller frees once the page is written. `host` (the
 * request's, lower case, no port; may be empty) and `https_port` make the
 * link to the https site. Returns false for any other path.
 */
bool ca_page_answer(const struct config *cfg, const char *path, size_t len,
		    const char *host, uint16_t https_port,
		    struct http_error_page *page, char **body);

#endif
