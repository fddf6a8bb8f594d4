/* SPDX-License-Identifier: MIT */
/*
 * The ruleset model of firewall.c, shared by its two readers:
 * firewall_nft.c (`nft list ruleset`) and firewall_ipt.c (iptables-save).
 * Both reduce what they read to chains (a base chain on the input hook
 * has a policy) holding rules, each rule a set of matches and a verdict.
 * Not part of the public API (include/portier/firewall.h).
 */
#ifndef PORTIER_FIREWALL_RULES_H
#define PORTIER_FIREWALL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "portier/firewall.h"

#define FW_RANGES 64  /* port ranges kept for one match */
#define FW_NAME   64  /* chain, set and table names */
#define FW_WHERE  96  /* "nft table inet filter" */
#define FW_TEXT   120 /* rule text kept for messages */

/* Protocol bits of a rule's match; 0 is any protocol. */
#define FW_TCP   1
#define FW_UDP   2
#define FW_OTHER 4

/* A port range, both ends included. */
struct fw_range {
	uint16_t lo, hi;
};

/* The ports a destination-port match names. */
struct fw_ports {
	struct fw_range r[FW_RANGES];
	size_t n;
	bool negated; /* "!= ..." */
	bool unknown; /* a set or name that could not be read */
};

/* What a rule does when it matches. */
enum fw_action {
	FW_NONE, /* counts, logs, or a verdict we do not follow */
	FW_ACCEPT,
	FW_DROP,
	FW_REJECT,
	FW_JUMP,
	FW_GOTO,
	FW_RETURN,
};

/* A chain of a table. */
struct fw_chain {
	char where[FW_WHERE]; /* "nft table inet filter", "iptables" */
	char name[FW_NAME];
	int families;     /* FIREWALL_IPV4 | FIREWALL_IPV6 */
	bool input;       /* a base chain on the input hook */
	bool policy_drop; /* its policy is drop */
};

/* One rule, in chain order. */
struct fw_rule {
	size_t chain;
	int protos;   /* FW_TCP | FW_UDP | FW_OTHER; 0 = any */
	int families; /* 0 = the chain's */
	bool has_ports;
	struct fw_ports ports;
	bool never_new;   /* only established/invalid packets, or loopback */
	bool conditional; /* other matches: some clients only */
	enum fw_action action;
	char target[FW_NAME]; /* chain of a jump or goto */
	char text[FW_TEXT];
};

/* A named set of ports of an nft table. */
struct fw_set {
	char where[FW_WHERE];
	char name[FW_NAME];
	struct fw_ports ports;
};

/* A ruleset: every chain and rule read, in order. */
struct firewall {
	struct fw_chain *chains;
	size_t nchains;
	struct fw_rule *rules;
	size_t nrules;
	struct fw_set *sets;
	size_t nsets;
	char sources[64]; /* "nft, iptables-save" */
};

/* Protocol bits of a name or number ("tcp", "6", "udp", "17"). */
int firewall_proto_bits(const char *name);

/* Intersect a mask (0 = anything) with bits; never 0 (nothing left is a
 * bit that matches nothing). */
int firewall_narrow(int mask, int bits);

/* Add "N", "N<sep>M" or a service name of proto ("tcp") to p; anything
 * else makes p unknown. */
void firewall_ports_add(struct fw_ports *p, const char *text, char sep,
                        const char *proto);

/* A rule's text for messages, from the source text between start and
 * end: spaces collapsed, nft's packet counts left out, cut when long. */
void firewall_rule_text(const char *start, const char *end, char *buf,
                        size_t len);

/* Add an empty chain; its index, or -1 when out of memory. */
ssize_t firewall_chain_add(struct firewall *fw, const char *where,
                           const char *name, int families)
    __attribute__((warn_unused_result));

/* The chain called name in the table `where`; -1 when there is none. */
ssize_t firewall_chain_find(const struct firewall *fw, const char *where,
                            const char *name);

/* Append a copy of r; 0, or -1 when out of memory. */
int firewall_rule_add(struct firewall *fw, const struct fw_rule *r)
    __attribute__((warn_unused_result));

#endif
