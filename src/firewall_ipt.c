/* SPDX-License-Identifier: MIT */
/*
 * Reading iptables-save and ip6tables-save output for firewall.c: the
 * filter table only, its chains with their policies (INPUT is the input
 * hook) and its "-A CHAIN ..." rules, whose options are read one by one:
 * protocol, destination ports (--dport, multiport --dports), connection
 * state, input interface, and the -j or -g target. Any other match makes
 * the rule conditional.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portier/firewall.h"
#include "firewall_rules.h"

static int ipt_rule(struct firewall *fw, const char *where, int families,
                    char *line);
static size_t ipt_split(char *line, char **argv, size_t max);
static void ipt_ports(const char *text, bool multi, struct fw_ports *out);

int firewall_parse_iptables(struct firewall *fw, const char *text, bool ipv6)
{
	const char *where = ipv6 ? "ip6tables" : "iptables";
	int families = ipv6 ? FIREWALL_IPV6 : FIREWALL_IPV4;
	bool filter = false;
	char *copy = strdup(text), *line, *save = NULL;
	int status = 0;

	if (copy == NULL)
		return -1;
	for (line = strtok_r(copy, "\n", &save); line != NULL && status == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		line[strcspn(line, "\r")] = '\0';
		if (line[0] == '*') {
			filter = strcmp(line, "*filter") == 0;
		} else if (strcmp(line, "COMMIT") == 0) {
			filter = false;
		} else if (filter && line[0] == ':') {
			char name[FW_NAME], policy[16];
			ssize_t c;

			if (sscanf(line, ":%63s %15s", name, policy) != 2)
				continue;
			c = firewall_chain_add(fw, where, name, families);
			if (c < 0) {
				status = -1;
				break;
			}
			fw->chains[c].input = strcmp(name, "INPUT") == 0;
			fw->chains[c].policy_drop = strcmp(policy, "DROP") == 0;
		} else if (filter && strncmp(line, "-A ", 3) == 0) {
			status = ipt_rule(fw, where, families, line);
		}
	}
	free(copy);
	return status;
}

/* One "-A CHAIN ..." line of iptables-save. */
static int ipt_rule(struct firewall *fw, const char *where, int families,
                    char *line)
{
	char *argv[256], text[FW_TEXT];
	size_t argc, i;
	struct fw_rule r;
	ssize_t c;
	bool neg;

	firewall_rule_text(line, line + strlen(line), text, sizeof(text));
	argc = ipt_split(line, argv, sizeof(argv) / sizeof(argv[0]));
	if (argc < 2)
		return 0;
	c = firewall_chain_find(fw, where, argv[1]);
	if (c < 0 && (c = firewall_chain_add(fw, where, argv[1], families)) < 0)
		return -1;
	memset(&r, 0, sizeof(r));
	r.chain = (size_t)c;
	memcpy(r.text, text, sizeof(r.text));
	for (i = 2; i < argc;) {
		const char *opt = argv[i], *val;

		neg = false;
		if (strcmp(opt, "!") == 0 && i + 1 < argc) {
			neg = true;
			opt = argv[++i];
		}
		val = i + 1 < argc ? argv[i + 1] : "";
		if (opt[0] == '[') { /* counters of iptables-save -c */
			i++;
		} else if (strcmp(opt, "-p") == 0 ||
		           strcmp(opt, "--protocol") == 0) {
			if (neg)
				r.conditional = true;
			else if (strcmp(val, "all") != 0 && strcmp(val, "0"))
				r.protos = firewall_narrow(
				    r.protos, firewall_proto_bits(val));
			i += 2;
		} else if (strcmp(opt, "--dport") == 0 ||
		           strcmp(opt, "--destination-port") == 0 ||
		           strcmp(opt, "--dports") == 0 ||
		           strcmp(opt, "--destination-ports") == 0) {
			r.has_ports = true;
			ipt_ports(val, strstr(opt, "ports") != NULL, &r.ports);
			r.ports.negated = neg;
			i += 2;
		} else if (strcmp(opt, "-m") == 0 ||
		           strcmp(opt, "--match") == 0 ||
		           strcmp(opt, "--comment") == 0) {
			i += 2;
		} else if (strcmp(opt, "-i") == 0 ||
		           strcmp(opt, "--in-interface") == 0) {
			if (!neg && strcmp(val, "lo") == 0)
				r.never_new = true;
			else
				r.conditional = true;
			i += 2;
		} else if (strcmp(opt, "--ctstate") == 0 ||
		           strcmp(opt, "--state") == 0) {
			char states[128];
			bool new_conn = false;

			snprintf(states, sizeof(states), ",%s,", val);
			new_conn = strstr(states, ",NEW,") != NULL;
			if (neg)
				r.conditional = true;
			else if (!new_conn)
				r.never_new = true;
			i += 2;
		} else if (strcmp(opt, "-j") == 0 ||
		           strcmp(opt, "--jump") == 0 ||
		           strcmp(opt, "-g") == 0 ||
		           strcmp(opt, "--goto") == 0) {
			if (strcmp(val, "ACCEPT") == 0)
				r.action = FW_ACCEPT;
			else if (strcmp(val, "DROP") == 0)
				r.action = FW_DROP;
			else if (strcmp(val, "REJECT") == 0)
				r.action = FW_REJECT;
			else if (strcmp(val, "RETURN") == 0)
				r.action = FW_RETURN;
			else if (firewall_chain_find(fw, where, val) >= 0) {
				r.action = opt[1] == 'g' || opt[2] == 'g'
				               ? FW_GOTO
				               : FW_JUMP;
				snprintf(r.target, sizeof(r.target), "%s", val);
			}
			break; /* the target's own options follow */
		} else {
			/* A match this parse skips, with its arguments. */
			r.conditional = true;
			for (i++; i < argc && argv[i][0] != '-' &&
			          strcmp(argv[i], "!") != 0;
			     i++)
				;
		}
	}
	return firewall_rule_add(fw, &r);
}

/* Split an iptables-save line into words in place; "quoted words" keep
 * their spaces. Returns the number of words. */
static size_t ipt_split(char *line, char **argv, size_t max)
{
	size_t n = 0;
	char *p = line, *out;

	while (n < max) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		argv[n++] = out = p;
		if (*p == '"') {
			argv[n - 1] = out = ++p;
			while (*p != '\0' && *p != '"') {
				if (*p == '\\' && p[1] != '\0')
					p++;
				*out++ = *p++;
			}
		} else {
			while (*p != '\0' && *p != ' ' && *p != '\t')
				*out++ = *p++;
		}
		if (*p != '\0')
			p++;
		*out = '\0';
	}
	return n;
}

/* "8080", "1000:2000", or with multi "80,443,1000:2000". */
static void ipt_ports(const char *text, bool multi, struct fw_ports *out)
{
	char copy[512], *part, *save = NULL;

	memset(out, 0, sizeof(*out));
	snprintf(copy, sizeof(copy), "%s", text);
	for (part = multi ? strtok_r(copy, ",", &save) : copy; part != NULL;
	     part = multi ? strtok_r(NULL, ",", &save) : NULL)
		firewall_ports_add(out, part, ':', "tcp");
	if (out->n == 0)
		out->unknown = true;
}
