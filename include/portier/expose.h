/* SPDX-License-Identifier: MIT */
/*
 * `portier expose`: put a local service on the LAN with no configuration
 * file. It writes the configuration a user would have written and runs it
 * through the same parser and runtime as `portier -c FILE`.
 */
#ifndef PORTIER_EXPOSE_H
#define PORTIER_EXPOSE_H

/* `portier expose [options] BACKEND` (argv[0] is "expose"); returns the
 * exit status. */
int expose_command(int argc, char **argv);

#endif
