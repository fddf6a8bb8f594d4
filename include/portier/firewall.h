/* SPDX-License-Identifier: MIT */
/*
 * The host firewall as `portier doctor` sees it: does any input rule drop
 * or reject new connections to a port?
 *
 * The rules are read, never changed, from `nft list ruleset` and from
 * `iptables-save` / `ip6tables-save` (the legacy tables only: the
 * nf_tables ones are in nft's output already). The parse is a best effort
 * that knows the usual matches (protocol, destination port, ports sets,
 * connection state, input interface) and the verdicts; a rule with a match
 * it does not know is taken to apply to some clients only, so that it can
 * be reported without being called certain. Reading needs root.
 */
#ifndef PORTIER_FIREWALL_H
#define PORTIER_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed ruleset: chains and their rules. */
struct firewall;

/* Address families a check is about (a listener's binds). */
#define FIREWALL_IPV4 1
#define FIREWALL_IPV6 2

/* What the input chains do to a new connection on one port. */
enum firewall_verdict {
	FIREWALL_OPEN,    /* no rule drops it */
	FIREWALL_PARTIAL, /* dropped for some clients, or let in for some only
	                   */
	FIREWALL_DROPPED, /* a rule or a chain's policy drops or rejects it */
};

/* An empty ruleset to parse text into; NULL when out of memory. */
struct firewall *firewall_new(void) __attribute__((warn_unused_result));

/* Add the tables of `nft list ruleset` output. Returns 0, or -1 when out of
 * memory (text it does not understand is skipped, not an error). */
int firewall_parse_nft(struct firewall *fw, const char *text)
    __attribute__((warn_unused_result));

/* Add the filter table of `iptables-save` (ipv6 false) or `ip6tables-save`
 * (ipv6 true) output. Returns 0, or -1 when out of memory. */
int firewall_parse_iptables(struct firewall *fw, const char *text, bool ipv6)
    __attribute__((warn_unused_result));

/*
 * Read this machine's rules by running nft, iptables-save and
 * ip6tables-save, whichever are installed. Returns NULL when none could be
 * read, with the reason in why ("needs root", "neither nft nor
 * iptables-save is installed"...).
 */
struct firewall *firewall_read(char *why, size_t len)
    __attribute__((warn_unused_result));

/* Where the rules came from, for messages: "nft", "nft, iptables-save";
 * "" when the programs ran but showed no table. */
const char *firewall_sources(const struct firewall *fw);

/*
 * What the input chains of the given families (FIREWALL_IPV4 and/or
 * FIREWALL_IPV6) do to a new connection (IPPROTO_TCP or IPPROTO_UDP) on
 * port. For FIREWALL_DROPPED and FIREWALL_PARTIAL, why names the rule or
 * policy, with its table and chain; for FIREWALL_OPEN it says how many
 * input chains were looked at.
 */
enum firewall_verdict firewall_check(const struct firewall *fw, int proto,
                                     uint16_t port, int families, char *why,
                                     size_t len);

/* Free a ruleset; accepts NULL. */
void firewall_free(struct firewall *fw);

#endif
