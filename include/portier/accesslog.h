/* SPDX-License-Identifier: MIT */
/*
 * The access log: one line per HTTP request, in the combined format of
 * Apache and nginx (with portier's own fields after it) or as JSON; and
 * one line per TCP connection, tls-passthrough connection or UDP flow of
 * the other modes, when it ends.
 *
 * An entry is begun when a request head is parsed, with copies of what the
 * line needs from it, and written when the exchange ends. Lines from every
 * worker go to one descriptor with one write(2) each. Lines that cannot be
 * written (a full disk) are counted, and said on standard error.
 */
#ifndef PORTIER_ACCESSLOG_H
#define PORTIER_ACCESSLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct config_global;
struct http_head;
struct accesslog_entry;
struct log_conn;

/* Open the log `g` asks for ("stderr" or a path; none when NULL). On
 * failure writes why into err and returns -1. */
int accesslog_open(const struct config_global *g, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Close the log file. */
void accesslog_close(void);

/* Open the access log file again (SIGUSR1, after log rotation moved it):
 * the file accesslog_open opened, whatever a reload changed since, takes
 * the place of the old one for every thread at once. Returns 0 (also when
 * the log is off or stderr), or -1 with why in err; the old file stays in
 * use then. */
int accesslog_reopen(char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* True when an access log is written. */
bool accesslog_enabled(void);

/* Begin the entry of a request whose head `h` was parsed from `buf`, or
 * with h NULL of one refused before its head could be parsed (its method,
 * target and protocol are then "-"). `age_ms`: how long ago its first
 * byte came, where its duration starts. Returns NULL when out of memory
 * (the request is then not logged). */
struct accesslog_entry *accesslog_begin(const char *buf,
					const struct http_head *h,
					const struct sockaddr *client,
					unsigned age_ms);

/* Write the entry and free it. vhost and backend may be NULL. */
void accesslog_end(struct accesslog_entry *e, const char *vhost,
		   const char *backend, int status, uint64_t bytes_in,
		   uint64_t bytes_out);

/*
 * Write the line of a connection (or UDP flow) that ended: `proto` is
 * "TCP", "TLS" (passthrough) or "UDP" ("HTTP" for a connection refused
 * before any request); c gives the client, listener, SNI
 * name and backend (NULL when none was reached); bytes_in came from the
 * client, bytes_out from the backend; `end` says how it ended ("done",
 * "idle", "no backend connection"...). The client's address and its port
 * are two fields. In the combined format the request is "PROTO LISTENER"
 * and the status "-".
 */
void accesslog_stream(const char *proto, const struct log_conn *c,
                      uint64_t bytes_in, uint64_t bytes_out,
                      uint64_t duration_ms, const char *end);

#endif
