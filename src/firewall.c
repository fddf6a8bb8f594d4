/* SPDX-License-Identifier: MIT */
/*
 * The host firewall, read for `portier doctor`: which input rules would
 * drop or reject a new connection to a listener's port.
 *
 * Both sources are reduced to one model: chains (a base chain on the input
 * hook has a policy) holding rules, each rule a set of matches and a
 * verdict. A rule's matches are what decides a port: protocol, destination
 * port (a value, a range, an anonymous or named set, a verdict map),
 * connection state (a rule for established packets never sees a new
 * connection) and input interface (loopback is not the LAN). Any other
 * match (a source address, a rate limit, a mark...) makes the rule
 * conditional: it applies to some clients only, so it is reported as such
 * and never as certain. A check walks each input chain in order, following
 * jumps, as the kernel would for the first packet of a connection. This
 * module owns the ruleset it parses and nothing else.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portier/firewall.h"
#include "portier/proc.h"
#include "firewall_rules.h"

#define FW_DEPTH   16          /* jumps followed */
#define FW_MAX_OUT (16u << 20) /* bytes of a program's output read */

/* State of one check: what is looked for, and what was seen on the way. */
struct fw_walk {
	int proto; /* FW_TCP or FW_UDP */
	uint16_t port;
	int families;
	const struct fw_rule *some_accept; /* first conditional accept */
	const struct fw_rule *some_drop;   /* first conditional drop */
};

/* How a walk through a chain ended. */
enum fw_outcome {
	FW_FALL_THROUGH,
	FW_ACCEPTED,
	FW_DROPPED,
};

static enum fw_outcome walk(const struct firewall *fw, size_t chain,
                            struct fw_walk *w, int depth,
                            const struct fw_rule **decided);
static bool rule_matches(const struct firewall *fw, const struct fw_rule *r,
                         const struct fw_walk *w, bool *conditional);
static bool ports_cover(const struct fw_ports *p, uint16_t port);
static void describe(const struct firewall *fw, const struct fw_rule *r,
                     const char *verb, char *buf, size_t len);
static void add_source(struct firewall *fw, const char *name);

struct firewall *firewall_new(void)
{
	return calloc(1, sizeof(struct firewall));
}

struct firewall *firewall_read(char *why, size_t len)
{
	static const struct {
		const char *program;
		bool ipv6;
	} saves[] = {{"iptables-save", false}, {"ip6tables-save", true}};
	char path[PATH_MAX], *out;
	char *nft_argv[] = {path, "list", "ruleset", NULL};
	char *save_argv[] = {path, NULL};
	bool found = false, nft_read_ok = false, any = false;
	struct firewall *fw = firewall_new();
	int status, failed = 0;

	if (fw == NULL) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	if (proc_find_program("nft", path, sizeof(path))) {
		found = true;
		status = proc_capture(nft_argv, FW_MAX_OUT, &out);
		if (status == 0 && firewall_parse_nft(fw, out) == 0) {
			nft_read_ok = any = true;
			add_source(fw, "nft");
		} else
			failed = status;
		free(out);
	}
	for (size_t i = 0; i < sizeof(saves) / sizeof(saves[0]); i++) {
		if (!proc_find_program(saves[i].program, path, sizeof(path)))
			continue;
		found = true;
		status = proc_capture(save_argv, FW_MAX_OUT, &out);
		/* iptables-nft's tables are nft tables: nft showed them. */
		if (status == 0 &&
		    !(nft_read_ok && strstr(out, "(nf_tables)") != NULL)) {
			if (firewall_parse_iptables(fw, out, saves[i].ipv6) ==
			    0) {
				any = true;
				/* Named only when it had tables to read. */
				if (strstr(out, "\n*") != NULL || out[0] == '*')
					add_source(fw, saves[i].program);
			}
		} else if (status != 0)
			failed = status;
		free(out);
	}
	if (any)
		return fw;
	firewall_free(fw);
	if (!found)
		snprintf(why, len,
		         "neither nft nor iptables-save is installed");
	else if (geteuid() != 0)
		snprintf(why, len, "needs root");
	else
		snprintf(why, len, "nft or iptables-save failed (status %d)",
		         failed);
	return NULL;
}

const char *firewall_sources(const struct firewall *fw)
{
	return fw->sources;
}

enum firewall_verdict firewall_check(const struct firewall *fw, int proto,
                                     uint16_t port, int families, char *why,
                                     size_t len)
{
	enum firewall_verdict worst = FIREWALL_OPEN, verdict;
	const struct fw_rule *decided;
	enum fw_outcome outcome;
	size_t inputs = 0;
	char text[768];

	snprintf(why, len, "no rule drops it");
	for (size_t c = 0; c < fw->nchains; c++) {
		const struct fw_chain *ch = &fw->chains[c];
		struct fw_walk w = {
		    .proto = proto == IPPROTO_UDP ? FW_UDP : FW_TCP,
		    .port = port,
		    .families = families,
		};

		if (!ch->input || !(ch->families & families))
			continue;
		inputs++;
		decided = NULL;
		outcome = walk(fw, c, &w, 0, &decided);
		verdict = FIREWALL_OPEN;
		if (outcome == FW_DROPPED) {
			verdict = FIREWALL_DROPPED;
			describe(fw, decided,
			         decided->action == FW_REJECT ? "rejected"
			                                      : "dropped",
			         text, sizeof(text));
		} else if (outcome == FW_FALL_THROUGH && ch->policy_drop &&
		           w.some_accept == NULL) {
			verdict = FIREWALL_DROPPED;
			snprintf(text, sizeof(text),
			         "dropped by the policy of %s, chain %s: no "
			         "rule accepts it",
			         ch->where, ch->name);
		} else if (outcome == FW_FALL_THROUGH && ch->policy_drop) {
			char rule[384];

			verdict = FIREWALL_PARTIAL;
			describe(fw, w.some_accept, "accepted", rule,
			         sizeof(rule));
			snprintf(text, sizeof(text),
			         "%s for some clients only; the policy of "
			         "chain %s drops the others",
			         rule, ch->name);
		} else if (w.some_drop != NULL) {
			char rule[384];

			verdict = FIREWALL_PARTIAL;
			describe(fw, w.some_drop,
			         w.some_drop->action == FW_REJECT ? "rejected"
			                                          : "dropped",
			         rule, sizeof(rule));
			snprintf(text, sizeof(text), "%s for some clients",
			         rule);
		}
		if (verdict > worst) {
			worst = verdict;
			snprintf(why, len, "%s", text);
		}
	}
	if (worst == FIREWALL_OPEN)
		snprintf(why, len, "no rule drops it (%zu input chain%s read)",
		         inputs, inputs == 1 ? "" : "s");
	return worst;
}

void firewall_free(struct firewall *fw)
{
	if (fw == NULL)
		return;
	free(fw->chains);
	free(fw->rules);
	free(fw->sets);
	free(fw);
}

/* Protocol bits of a name or number ("tcp", "6", "udp", "17"). */
int firewall_proto_bits(const char *name)
{
	if (strcmp(name, "tcp") == 0 || strcmp(name, "6") == 0)
		return FW_TCP;
	if (strcmp(name, "udp") == 0 || strcmp(name, "17") == 0)
		return FW_UDP;
	return FW_OTHER;
}

/* Intersect a mask (0 = anything) with bits. Nothing left becomes 8, a
 * bit that no protocol or family has, so that "any" is never the result. */
int firewall_narrow(int mask, int bits)
{
	int both = mask == 0 ? bits : mask & bits;

	return both != 0 ? both : 8;
}

/* Add "N", "N<sep>M" or a service name to p; anything else makes it
 * unknown. */
void firewall_ports_add(struct fw_ports *p, const char *text, char sep,
                        const char *proto)
{
	unsigned long lo, hi;
	struct servent *se;
	char *end;

	if (p->n >= FW_RANGES) {
		p->unknown = true;
		return;
	}
	errno = 0;
	lo = strtoul(text, &end, 10);
	if (end != text && (*end == '\0' || *end == sep) && lo <= 65535) {
		hi = lo;
		if (*end == sep)
			hi = strtoul(end + 1, &end, 10);
		if (*end == '\0' && hi >= lo && hi <= 65535 && errno == 0) {
			p->r[p->n].lo = (uint16_t)lo;
			p->r[p->n++].hi = (uint16_t)hi;
			return;
		}
	}
	se = getservbyname(text, proto);
	if (se == NULL) {
		p->unknown = true;
		return;
	}
	p->r[p->n].lo = p->r[p->n].hi = ntohs((uint16_t)se->s_port);
	p->n++;
}

/* A rule's text for messages: spaces collapsed, nft's packet counts left
 * out, cut with "..." when long. */
void firewall_rule_text(const char *start, const char *end, char *buf,
                        size_t len)
{
	size_t used = 0;
	bool space = false;

	for (const char *p = start; p < end && used + 4 < len; p++) {
		if (space && strncmp(p, "packets ", 8) == 0) {
			/* "counter packets 3 bytes 180 " -> "counter " */
			const char *q = p + 8 + strspn(p + 8, "0123456789");

			if (strncmp(q, " bytes ", 7) == 0) {
				q += 7 + strspn(q + 7, "0123456789");
				p = q + strspn(q, " \t") - 1;
				continue;
			}
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			space = used > 0;
			continue;
		}
		if (space)
			buf[used++] = ' ';
		space = false;
		buf[used++] = *p;
	}
	buf[used] = '\0';
	if (used + 4 >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

/* Add an empty chain; its index, or -1 when out of memory. */
ssize_t firewall_chain_add(struct firewall *fw, const char *where,
                           const char *name, int families)
{
	struct fw_chain *bigger, *c;

	bigger = realloc(fw->chains, (fw->nchains + 1) * sizeof(*fw->chains));
	if (bigger == NULL)
		return -1;
	fw->chains = bigger;
	c = &fw->chains[fw->nchains];
	memset(c, 0, sizeof(*c));
	snprintf(c->where, sizeof(c->where), "%s", where);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->families = families;
	return (ssize_t)fw->nchains++;
}

/* The chain called name in the same table; -1 when there is none. */
ssize_t firewall_chain_find(const struct firewall *fw, const char *where,
                            const char *name)
{
	for (size_t c = 0; c < fw->nchains; c++) {
		if (strcmp(fw->chains[c].where, where) == 0 &&
		    strcmp(fw->chains[c].name, name) == 0)
			return (ssize_t)c;
	}
	return -1;
}

/* Append a rule; 0, or -1 when out of memory. */
int firewall_rule_add(struct firewall *fw, const struct fw_rule *r)
{
	struct fw_rule *bigger;

	bigger = realloc(fw->rules, (fw->nrules + 1) * sizeof(*fw->rules));
	if (bigger == NULL)
		return -1;
	fw->rules = bigger;
	fw->rules[fw->nrules++] = *r;
	return 0;
}

/*
 * Follow a new connection through chain: the first rule that surely
 * matches and decides ends the walk (*decided is that rule); a conditional
 * one is remembered in w and the walk goes on, as for the clients it does
 * not match.
 */
static enum fw_outcome walk(const struct firewall *fw, size_t chain,
                            struct fw_walk *w, int depth,
                            const struct fw_rule **decided)
{
	const struct fw_rule *r;
	enum fw_outcome sub;
	bool conditional;
	ssize_t target;

	for (size_t i = 0; i < fw->nrules; i++) {
		r = &fw->rules[i];
		if (r->chain != chain || !rule_matches(fw, r, w, &conditional))
			continue;
		switch (r->action) {
		case FW_ACCEPT:
			if (!conditional) {
				*decided = r;
				return FW_ACCEPTED;
			}
			if (w->some_accept == NULL)
				w->some_accept = r;
			break;
		case FW_DROP:
		case FW_REJECT:
			if (!conditional) {
				*decided = r;
				return FW_DROPPED;
			}
			if (w->some_drop == NULL)
				w->some_drop = r;
			break;
		case FW_JUMP:
		case FW_GOTO:
			target = firewall_chain_find(
			    fw, fw->chains[chain].where, r->target);
			if (target < 0 || depth >= FW_DEPTH)
				break;
			if (conditional) {
				/* Its verdicts hold for some clients only. */
				struct fw_walk some = *w;
				const struct fw_rule *d = NULL;

				sub = walk(fw, (size_t)target, &some, depth + 1,
				           &d);
				if (sub == FW_ACCEPTED &&
				    w->some_accept == NULL)
					w->some_accept = d;
				else if (sub == FW_DROPPED &&
				         w->some_drop == NULL)
					w->some_drop = d;
				break;
			}
			sub = walk(fw, (size_t)target, w, depth + 1, decided);
			if (sub != FW_FALL_THROUGH || r->action == FW_GOTO)
				return sub;
			break;
		case FW_RETURN:
			if (!conditional)
				return FW_FALL_THROUGH;
			break;
		case FW_NONE:
			break;
		}
	}
	return FW_FALL_THROUGH;
}

/* Could r match a new connection of w? *conditional when only for some
 * clients. */
static bool rule_matches(const struct firewall *fw, const struct fw_rule *r,
                         const struct fw_walk *w, bool *conditional)
{
	int families =
	    r->families ? r->families : fw->chains[r->chain].families;

	*conditional = r->conditional;
	if (r->never_new || !(families & w->families))
		return false;
	if (r->protos != 0 && !(r->protos & w->proto))
		return false;
	if (!r->has_ports)
		return true;
	if (r->ports.unknown) {
		*conditional = true;
		return true;
	}
	return ports_cover(&r->ports, w->port) != r->ports.negated;
}

/* True when port lies in one of p's ranges. */
static bool ports_cover(const struct fw_ports *p, uint16_t port)
{
	for (size_t i = 0; i < p->n; i++) {
		if (port >= p->r[i].lo && port <= p->r[i].hi)
			return true;
	}
	return false;
}

/* "dropped by the rule "..." (nft table inet filter, chain input)". */
static void describe(const struct firewall *fw, const struct fw_rule *r,
                     const char *verb, char *buf, size_t len)
{
	const struct fw_chain *c = &fw->chains[r->chain];

	snprintf(buf, len, "%s by the rule \"%s\" (%s, chain %s)", verb,
	         r->text, c->where, c->name);
}

/* Note a source in fw->sources. */
static void add_source(struct firewall *fw, const char *name)
{
	size_t used = strlen(fw->sources);

	snprintf(fw->sources + used, sizeof(fw->sources) - used, "%s%s",
	         used > 0 ? ", " : "", name);
}
