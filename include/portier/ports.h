/* SPDX-License-Identifier: MIT */
/*
 * `portier ports`: the listening sockets of the machine and who holds them,
 * printed as a table; with a configuration, the sockets it would bind and
 * the ones another program already holds. The sockets come from portdiag.h.
 */
#ifndef PORTIER_PORTS_H
#define PORTIER_PORTS_H

#include <stdio.h>

struct config;

/* `portier ports`: print the table to out; with cfg, mark the sockets the
 * configuration would bind and the ones that conflict with it. Returns the
 * exit status (0, 1 when a conflict was found, 2 when procroot/net cannot
 * be read). */
int ports_cmd(const char *procroot, const struct config *cfg, FILE *out);

#endif
