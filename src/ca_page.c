/* SPDX-License-Identifier: MIT */
/*
 * The page that helps a phone trust the local CA. It is read from the
 * state directory on each request (a rare one), so that it always shows
 * the root the tls = auto listeners use; the files are the exports of
 * `portier ca export`, made by the same function.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "portier/ca_page.h"
#include "portier/ca.h"
#include "portier/config.h"
#include "portier/http_error.h"
#include "portier/log.h"

static bool ca_page_wanted(const struct config *cfg);
static int ca_page_html(FILE *fp, X509 *root, const char *host,
                        uint16_t https_port);

bool ca_page_answer(const struct config *cfg, const char *path, size_t len,
                    const char *host, uint16_t https_port,
                    struct http_error_page *page, char **body)
{
	static const struct {
		const char *suffix;
		enum ca_format format;
		const char *type;
	} files[] = {
	    {".pem", CA_FORMAT_PEM, "application/x-pem-file"},
	    {".der", CA_FORMAT_DER, "application/x-x509-ca-cert"},
	    {".mobileconfig", CA_FORMAT_PROFILE,
	     "application/x-apple-aspen-config"},
	};
	size_t plen = strlen(CA_PAGE_PATH), n = strcspn(path, "?");
	char dir[4096], err[512];
	struct ca *ca = NULL;
	size_t size = 0;
	int which = -1;
	FILE *fp;
	int r;

	if (n > len)
		n = len;
	if (n < plen || memcmp(path, CA_PAGE_PATH, plen) != 0 ||
	    !ca_page_wanted(cfg))
		return false;
	if (n > plen && !(n == plen + 1 && path[plen] == '/')) {
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			if (n - plen == strlen(files[i].suffix) &&
			    memcmp(path + plen, files[i].suffix, n - plen) == 0)
				which = (int)i;
		}
		if (which < 0)
			return false;
	}
	*body = NULL;
	if (ca_state_dir(cfg->global.state_dir, dir, sizeof(dir)) < 0 ||
	    (ca = ca_open(dir, CA_CERT_ONLY, err, sizeof(err))) == NULL ||
	    (fp = open_memstream(body, &size)) == NULL) {
		log_warn("the page of the local CA cannot be served: %s",
		         ca ? "out of memory" : err);
		ca_free(ca);
		page->status = 503;
		page->text = "The local certificate authority cannot be read "
		             "now; the log says why.";
		return true;
	}
	if (which < 0)
		r = ca_page_html(fp, ca_root(ca), host, https_port);
	else
		r = ca_export(fp, ca_root(ca), files[which].format);
	r |= fclose(fp);
	ca_free(ca);
	if (r != 0) {
		free(*body);
		*body = NULL;
		page->status = 503;
		page->text = "The local certificate authority cannot be "
		             "exported now.";
		return true;
	}
	page->status = 200;
	page->body = *body;
	page->body_len = size;
	page->type = which < 0 ? "text/html; charset=utf-8" : files[which].type;
	return true;
}

/* Only a configuration that uses the local CA offers it. */
static bool ca_page_wanted(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].tls == CONFIG_TLS_AUTO)
			return true;
	}
	return false;
}

/* The page: what this is, the fingerprint to compare, the steps. */
static int ca_page_html(FILE *fp, X509 *root, const char *host,
                        uint16_t https_port)
{
	char cn[256], fingerprint[65], site[300] = "";
	bool plain = true;

	if (X509_NAME_get_text_by_NID(X509_get_subject_name(root),
	                              NID_commonName, cn, sizeof(cn)) < 0)
		snprintf(cn, sizeof(cn), "portier local CA");
	for (char *c = cn; *c != '\0'; c++) {
		if (*c == '<' || *c == '>' || *c == '&' || *c == '"')
			*c = ' ';
	}
	if (ca_fingerprint(root, fingerprint) < 0)
		return -1;
	/* The host came in a request: link to it only when it is a plain
	 * name or address. */
	for (const char *c = host; *c != '\0'; c++) {
		if (!isalnum((unsigned char)*c) && !strchr(".-:[]", *c))
			plain = false;
	}
	if (plain && host[0] != '\0')
		snprintf(site, sizeof(site), "https://%s%s%u/", host,
		         https_port != 443 ? ":" : "", https_port);
	fprintf(fp,
	        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	        "<meta name=\"viewport\" content=\"width=device-width, "
	        "initial-scale=1\"><title>Trust this computer's "
	        "certificates</title><style>body{font-family:sans-serif;"
	        "max-width:40em;margin:2em auto;padding:0 1em;color:#222;"
	        "line-height:1.4}code{word-break:break-all}</style></head>\n"
	        "<body><h1>Trust this computer's certificates</h1>\n"
	        "<p>This computer serves its sites over HTTPS with "
	        "certificates from its own certificate authority, "
	        "<b>%s</b>. Install it once on this device, then open ",
	        cn);
	if (site[0] != '\0')
		fprintf(fp, "<a href=\"%s\">%s</a>", site, site);
	else
		fprintf(fp, "the https:// address on port %u", https_port);
	fprintf(fp,
	        ".</p>\n<h2>iPhone and iPad</h2><ol>"
	        "<li>In Safari, tap <a href=\"" CA_PAGE_PATH ".mobileconfig\">"
	        "the profile</a> and allow the download.</li>"
	        "<li>Settings &rsaquo; General &rsaquo; VPN &amp; Device "
	        "Management: install <b>%s</b>.</li>"
	        "<li>Settings &rsaquo; General &rsaquo; About &rsaquo; "
	        "Certificate Trust Settings: turn on full trust for it.</li>"
	        "</ol>\n<h2>Android</h2><ol>"
	        "<li>Tap <a href=\"" CA_PAGE_PATH ".der\">the certificate</a> "
	        "to download it.</li>"
	        "<li>Settings &rsaquo; Security &rsaquo; Encryption &amp; "
	        "credentials &rsaquo; Install a certificate &rsaquo; CA "
	        "certificate, and choose the file.</li></ol>\n"
	        "<h2>Other computers</h2><p>Add <a href=\"" CA_PAGE_PATH
	        ".pem\">the PEM file</a> to the trusted authorities of the "
	        "system or the browser.</p>\n"
	        "<p>Before you trust it, compare its SHA-256 fingerprint with "
	        "what <code>portier ca path</code> names on this computer "
	        "(<code>openssl x509 -noout -fingerprint -sha256 -in "
	        "FILE</code>):<br><code>",
	        cn);
	for (int i = 0; i < 32; i++)
		fprintf(fp, "%s%c%c", i ? ":" : "",
		        toupper((unsigned char)fingerprint[2 * i]),
		        toupper((unsigned char)fingerprint[2 * i + 1]));
	fprintf(fp, "</code></p>\n<hr><small>portier</small></body></html>\n");
	return ferror(fp) ? -1 : 0;
}
