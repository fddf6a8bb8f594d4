/* SPDX-License-Identifier: MIT */
/*
 * The admin server of `admin = ADDR:PORT`: a status page for a browser
 * (/), the same facts as JSON (/status.json) and counters in Prometheus'
 * text format (/metrics). It runs on worker 0's event loop, answers GET
 * and HEAD with one response per connection, and serves loopback clients
 * only.
 */
#ifndef PORTIER_ADMIN_H
#define PORTIER_ADMIN_H

#include <stddef.h>

struct addr;
struct evbuffer;
struct runtime;

struct admin;

/*
 * Bind the admin address `a` (two sockets for `*:PORT` and localhost) for
 * worker 0 `rt`; serving starts with admin_start. On failure writes
 * "cannot bind ADDR (admin): why" into err and returns NULL.
 */
struct admin *admin_new(struct runtime *rt, const struct addr *a, char *err,
			size_t errlen) __attribute__((warn_unused_result));

/* Start accepting. Returns 0 or -1. */
int admin_start(struct admin *a) __attribute__((warn_unused_result));

/* Stop accepting and drop the connections under way (graceful stop). */
void admin_close(struct admin *a);

/* Close everything and free; accepts NULL. */
void admin_free(struct admin *a);

/* Write /status.json for worker 0 `rt` into b, with the live connections
 * of the last snapshots (runtime_describe). Returns 0, or -1 when out of
 * memory (admin_report.c). */
int admin_report_status(struct runtime *rt, struct evbuffer *b)
	__attribute__((warn_unused_result));

/* Write /metrics into b. Returns 0, or -1 when out of memory. */
int admin_report_metrics(struct runtime *rt, struct evbuffer *b)
	__attribute__((warn_unused_result));

/* The HTML of the status page (admin_page.c). */
extern const char admin_page_html[];

#endif
