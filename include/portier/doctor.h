/* SPDX-License-Identifier: MIT */
/*
 * `portier doctor [-c FILE]`: checks what stands between a configuration
 * and a working proxy, one line per check: the file itself, each bind
 * address (free, or held by whom), each backend on the address families it
 * may answer on, the firewall rules in front of LAN listeners, and the
 * local CA of `tls = auto`. It changes nothing and works without root,
 * saying what it could not see.
 */
#ifndef PORTIER_DOCTOR_H
#define PORTIER_DOCTOR_H

/*
 * `portier doctor [-c FILE]` (argv[0] is "doctor"). Without -c it checks
 * default_config, the file that `portier` itself would run. Prints its
 * report on stdout and returns the exit status: 0 when no check failed,
 * 1 otherwise (a configuration error included).
 */
int doctor_command(int argc, char **argv, const char *default_config);

#endif
