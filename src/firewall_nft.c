/* SPDX-License-Identifier: MIT */
/*
 * Reading `nft list ruleset` for firewall.c. The text is split into
 * tokens (words, "strings", braces, commas, and statement ends: newlines
 * and ';'); a statement runs to its end outside braces, so that a set
 * printed over several lines stays one rule. Tables hold chains and named
 * sets; other blocks (maps, flowtables, objects) are skipped. A rule's
 * matches are read one by one: protocol, destination port (a value, a
 * range, an anonymous or named set, a verdict map, which becomes one rule
 * per entry), connection state, input interface; any other match makes
 * the rule conditional.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portier/firewall.h"
#include "firewall_rules.h"

#define FW_TOKENS 1024 /* tokens of one statement */
#define FW_VMAP   64   /* entries of one verdict map */

/* Tokens of nft's output. */
enum fw_tok_kind {
	TOK_WORD,
	TOK_STRING, /* "quoted", without the quotes */
	TOK_OPEN,   /* { */
	TOK_CLOSE,  /* } */
	TOK_COMMA,
	TOK_END, /* newline or ; */
};

/* One token; start/end span its text in the source, quotes included. */
struct fw_tok {
	enum fw_tok_kind kind;
	const char *s;
	size_t len;
	const char *start, *end;
};

/* A position in nft's output. */
struct fw_lexer {
	const char *p;
};

/* One entry of a verdict map: ports and what they get. */
struct fw_vmap_entry {
	struct fw_ports ports;
	enum fw_action action;
	char target[FW_NAME];
};

static bool lex_next(struct fw_lexer *lx, struct fw_tok *t);
static size_t nft_read(struct fw_lexer *lx, struct fw_tok *toks, size_t max,
                       bool headers, bool *eof);
static void nft_skip_block(struct fw_lexer *lx);
static int nft_table(struct firewall *fw, struct fw_lexer *lx,
                     struct fw_tok *toks, const struct fw_tok *family,
                     const struct fw_tok *name);
static int nft_chain(struct firewall *fw, struct fw_lexer *lx,
                     struct fw_tok *toks, const char *where, int families,
                     const struct fw_tok *name);
static int nft_set(struct firewall *fw, struct fw_lexer *lx,
                   struct fw_tok *toks, const char *where,
                   const struct fw_tok *name);
static int nft_rule(struct firewall *fw, size_t chain, const struct fw_tok *t,
                    size_t n);
static size_t nft_values(const struct fw_tok *t, size_t n, size_t *i,
                         const struct fw_tok **vals, size_t max, bool *neg);
static void nft_ports(const struct firewall *fw, const char *where,
                      const struct fw_tok *const *vals, size_t nvals,
                      const char *proto, struct fw_ports *out);
static size_t nft_vmap(const struct firewall *fw, const char *where,
                       const struct fw_tok *t, size_t n, size_t *i,
                       const char *proto, struct fw_vmap_entry *out,
                       size_t max);
static bool tok_is(const struct fw_tok *t, const char *word);
static void tok_copy(const struct fw_tok *t, char *buf, size_t len);

int firewall_parse_nft(struct firewall *fw, const char *text)
{
	struct fw_lexer lx = {text};
	struct fw_tok *toks = malloc(FW_TOKENS * sizeof(*toks));
	bool eof = false;
	size_t n;
	int status = 0;

	if (toks == NULL)
		return -1;
	while (!eof && status == 0) {
		n = nft_read(&lx, toks, FW_TOKENS, true, &eof);
		if (n == 0)
			continue;
		if (n == 4 && tok_is(&toks[0], "table") &&
		    toks[3].kind == TOK_OPEN) {
			struct fw_tok family = toks[1], name = toks[2];

			status = nft_table(fw, &lx, toks, &family, &name);
		} else if (toks[n - 1].kind == TOK_OPEN)
			nft_skip_block(&lx);
	}
	free(toks);
	return status;
}

/* The next token of nft's output; false at the end of the text. A '#'
 * where a token starts opens a comment up to the end of the line. */
static bool lex_next(struct fw_lexer *lx, struct fw_tok *t)
{
	const char *p = lx->p;

	for (;;) {
		p += strspn(p, " \t\r");
		if (*p != '#')
			break;
		p += strcspn(p, "\n");
	}
	if (*p == '\0') {
		lx->p = p;
		return false;
	}
	t->start = p;
	t->s = p;
	t->len = 1;
	switch (*p) {
	case '\n':
	case ';':
		t->kind = TOK_END;
		p++;
		break;
	case '{':
		t->kind = TOK_OPEN;
		p++;
		break;
	case '}':
		t->kind = TOK_CLOSE;
		p++;
		break;
	case ',':
		t->kind = TOK_COMMA;
		p++;
		break;
	case '"':
		t->kind = TOK_STRING;
		t->s = ++p;
		while (*p != '\0' && *p != '"' && *p != '\n') {
			if (*p == '\\' && p[1] != '\0' && p[1] != '\n')
				p++;
			p++;
		}
		t->len = (size_t)(p - t->s);
		if (*p == '"')
			p++;
		break;
	default:
		t->kind = TOK_WORD;
		t->len = strcspn(p, " \t\r\n{},;\"");
		p += t->len;
		break;
	}
	t->end = p;
	lx->p = p;
	return true;
}

/*
 * Read one statement: the tokens up to a newline or ';' outside braces.
 * With headers, a line that ends in a '{' it opens ends the statement there
 * (a block such as "chain input {" starts). A '}' that closes nothing is a
 * statement of its own (the end of the block). Returns the number of tokens
 * (0 for an empty line), *eof at the end of the text.
 */
static size_t nft_read(struct fw_lexer *lx, struct fw_tok *toks, size_t max,
                       bool headers, bool *eof)
{
	struct fw_tok t;
	const char *before;
	size_t n = 0;
	int nest = 0;

	*eof = false;
	for (;;) {
		before = lx->p;
		if (!lex_next(lx, &t)) {
			*eof = true;
			return n;
		}
		if (t.kind == TOK_END) {
			if (nest == 0 && n > 0)
				return n;
			if (headers && nest == 1 &&
			    toks[n - 1].kind == TOK_OPEN)
				return n;
			continue;
		}
		if (t.kind == TOK_CLOSE && nest == 0) {
			if (n > 0) {
				lx->p = before; /* ends this statement */
				return n;
			}
			toks[0] = t;
			return 1;
		}
		if (t.kind == TOK_OPEN)
			nest++;
		else if (t.kind == TOK_CLOSE)
			nest--;
		if (n < max)
			toks[n++] = t;
	}
}

/* Skip the rest of a block whose '{' was read. */
static void nft_skip_block(struct fw_lexer *lx)
{
	struct fw_tok t;
	int nest = 1;

	while (nest > 0 && lex_next(lx, &t)) {
		if (t.kind == TOK_OPEN)
			nest++;
		else if (t.kind == TOK_CLOSE)
			nest--;
	}
}

/* The body of "table FAMILY NAME {": its sets and chains. */
static int nft_table(struct firewall *fw, struct fw_lexer *lx,
                     struct fw_tok *toks, const struct fw_tok *family,
                     const struct fw_tok *name)
{
	char where[FW_WHERE], fam[16], tname[FW_NAME];
	int families = 0;
	bool eof = false;
	size_t n;

	tok_copy(family, fam, sizeof(fam));
	tok_copy(name, tname, sizeof(tname));
	snprintf(where, sizeof(where), "nft table %s %s", fam, tname);
	if (strcmp(fam, "ip") == 0)
		families = FIREWALL_IPV4;
	else if (strcmp(fam, "ip6") == 0)
		families = FIREWALL_IPV6;
	else if (strcmp(fam, "inet") == 0)
		families = FIREWALL_IPV4 | FIREWALL_IPV6;
	while (!eof) {
		n = nft_read(lx, toks, FW_TOKENS, true, &eof);
		if (n == 0)
			continue;
		if (n == 1 && toks[0].kind == TOK_CLOSE)
			return 0;
		if (toks[n - 1].kind != TOK_OPEN)
			continue;
		if (n == 3 && tok_is(&toks[0], "chain")) {
			struct fw_tok cname = toks[1];

			if (nft_chain(fw, lx, toks, where, families, &cname) <
			    0)
				return -1;
		} else if (n == 3 && tok_is(&toks[0], "set")) {
			struct fw_tok sname = toks[1];

			if (nft_set(fw, lx, toks, where, &sname) < 0)
				return -1;
		} else
			nft_skip_block(lx);
	}
	return 0;
}

/* The body of "chain NAME {": its hook, policy and rules. */
static int nft_chain(struct firewall *fw, struct fw_lexer *lx,
                     struct fw_tok *toks, const char *where, int families,
                     const struct fw_tok *name)
{
	char cname[FW_NAME];
	bool eof = false;
	ssize_t c;
	size_t n;

	tok_copy(name, cname, sizeof(cname));
	c = firewall_chain_add(fw, where, cname, families);
	if (c < 0)
		return -1;
	while (!eof) {
		n = nft_read(lx, toks, FW_TOKENS, false, &eof);
		if (n == 0)
			continue;
		if (n == 1 && toks[0].kind == TOK_CLOSE)
			return 0;
		if (tok_is(&toks[0], "type")) {
			for (size_t i = 1; i + 1 < n; i++) {
				if (tok_is(&toks[i], "hook") &&
				    tok_is(&toks[i + 1], "input"))
					fw->chains[c].input = true;
			}
		} else if (tok_is(&toks[0], "policy")) {
			fw->chains[c].policy_drop =
			    n > 1 && tok_is(&toks[1], "drop");
		} else if (!tok_is(&toks[0], "comment") &&
		           !tok_is(&toks[0], "devices")) {
			if (nft_rule(fw, (size_t)c, toks, n) < 0)
				return -1;
		}
	}
	return 0;
}

/* The body of "set NAME {": the ports of an inet_service set. */
static int nft_set(struct firewall *fw, struct fw_lexer *lx,
                   struct fw_tok *toks, const char *where,
                   const struct fw_tok *name)
{
	const struct fw_tok *vals[FW_RANGES + 1];
	struct fw_set *bigger, *set;
	bool eof = false, services = false, neg;
	size_t n, i, nvals;

	bigger = realloc(fw->sets, (fw->nsets + 1) * sizeof(*fw->sets));
	if (bigger == NULL)
		return -1;
	fw->sets = bigger;
	set = &fw->sets[fw->nsets++];
	memset(set, 0, sizeof(*set));
	snprintf(set->where, sizeof(set->where), "%s", where);
	tok_copy(name, set->name, sizeof(set->name));
	set->ports.unknown = true;
	while (!eof) {
		n = nft_read(lx, toks, FW_TOKENS, false, &eof);
		if (n == 1 && toks[0].kind == TOK_CLOSE)
			break;
		if (n == 2 && tok_is(&toks[0], "type"))
			services = tok_is(&toks[1], "inet_service");
		if (n > 2 && tok_is(&toks[0], "elements") && services) {
			i = 2;
			nvals =
			    nft_values(toks, n, &i, vals, FW_RANGES + 1, &neg);
			nft_ports(fw, where, vals, nvals, "tcp", &set->ports);
		}
	}
	return 0;
}

/* One rule of an nft chain, from its tokens; a verdict map becomes one
 * rule per entry. */
static int nft_rule(struct firewall *fw, size_t chain, const struct fw_tok *t,
                    size_t n)
{
	const char *where = fw->chains[chain].where;
	const struct fw_tok *vals[FW_RANGES + 1];
	struct fw_vmap_entry *vmap = NULL;
	struct fw_rule r;
	size_t i = 0, nvals, nvmap = 0;
	bool neg;
	int status = 0;

	memset(&r, 0, sizeof(r));
	r.chain = chain;
	firewall_rule_text(t[0].start, t[n - 1].end, r.text, sizeof(r.text));
	while (i < n) {
		const struct fw_tok *w = &t[i];

		if (w->kind != TOK_WORD && w->kind != TOK_STRING) {
			r.conditional = true;
			i++;
		} else if (tok_is(w, "tcp") || tok_is(w, "udp") ||
		           tok_is(w, "th") || tok_is(w, "sctp") ||
		           tok_is(w, "dccp") || tok_is(w, "udplite")) {
			const char *proto = tok_is(w, "udp") ? "udp" : "tcp";

			if (!tok_is(w, "th"))
				r.protos = firewall_narrow(
				    r.protos, tok_is(w, "tcp")   ? FW_TCP
				              : tok_is(w, "udp") ? FW_UDP
				                                 : FW_OTHER);
			i++;
			if (i < n && tok_is(&t[i], "dport")) {
				i++;
				if (i < n && tok_is(&t[i], "vmap")) {
					i++;
					if (vmap == NULL)
						vmap = calloc(FW_VMAP,
						              sizeof(*vmap));
					if (vmap == NULL)
						return -1;
					nvmap = nft_vmap(fw, where, t, n, &i,
					                 proto, vmap, FW_VMAP);
					continue;
				}
				nvals = nft_values(t, n, &i, vals,
				                   FW_RANGES + 1, &neg);
				r.has_ports = true;
				nft_ports(fw, where, vals, nvals, proto,
				          &r.ports);
				r.ports.negated = neg;
			} else
				r.conditional = true; /* flags, sport... */
		} else if ((tok_is(w, "meta") && i + 1 < n &&
		            tok_is(&t[i + 1], "l4proto")) ||
		           (tok_is(w, "ip") && i + 1 < n &&
		            tok_is(&t[i + 1], "protocol")) ||
		           (tok_is(w, "ip6") && i + 1 < n &&
		            tok_is(&t[i + 1], "nexthdr"))) {
			int bits = 0;
			char name[16];

			if (tok_is(w, "ip"))
				r.families =
				    firewall_narrow(r.families, FIREWALL_IPV4);
			else if (tok_is(w, "ip6"))
				r.families =
				    firewall_narrow(r.families, FIREWALL_IPV6);
			i += 2;
			nvals = nft_values(t, n, &i, vals, FW_RANGES + 1, &neg);
			for (size_t v = 0; v < nvals; v++) {
				tok_copy(vals[v], name, sizeof(name));
				bits |= firewall_proto_bits(name);
			}
			if (neg || nvals == 0)
				r.conditional = true;
			else
				r.protos = firewall_narrow(r.protos, bits);
		} else if (tok_is(w, "meta") && i + 1 < n &&
		           tok_is(&t[i + 1], "nfproto")) {
			int fams = 0;

			i += 2;
			nvals = nft_values(t, n, &i, vals, FW_RANGES + 1, &neg);
			for (size_t v = 0; v < nvals; v++)
				fams |= tok_is(vals[v], "ipv4") ? FIREWALL_IPV4
				        : tok_is(vals[v], "ipv6")
				            ? FIREWALL_IPV6
				            : 0;
			if (neg || fams == 0)
				r.conditional = true;
			else
				r.families = firewall_narrow(r.families, fams);
		} else if (tok_is(w, "iif") || tok_is(w, "iifname") ||
		           (tok_is(w, "meta") && i + 1 < n &&
		            (tok_is(&t[i + 1], "iif") ||
		             tok_is(&t[i + 1], "iifname")))) {
			bool lo = true;

			i += tok_is(w, "meta") ? 2 : 1;
			nvals = nft_values(t, n, &i, vals, FW_RANGES + 1, &neg);
			for (size_t v = 0; v < nvals; v++)
				lo &= tok_is(vals[v], "lo");
			if (lo && !neg && nvals > 0)
				r.never_new = true;
			else
				r.conditional = true;
		} else if (tok_is(w, "ct") && i + 1 < n &&
		           tok_is(&t[i + 1], "state")) {
			bool new_conn = false;

			i += 2;
			nvals = nft_values(t, n, &i, vals, FW_RANGES + 1, &neg);
			for (size_t v = 0; v < nvals; v++)
				new_conn |= tok_is(vals[v], "new");
			if (neg)
				r.conditional = true;
			else if (!new_conn)
				r.never_new = true;
		} else if (tok_is(w, "ip")) {
			r.families = firewall_narrow(r.families, FIREWALL_IPV4);
			r.conditional = true; /* saddr, daddr... */
			i++;
		} else if (tok_is(w, "ip6")) {
			r.families = firewall_narrow(r.families, FIREWALL_IPV6);
			r.conditional = true;
			i++;
		} else if (tok_is(w, "icmp") || tok_is(w, "icmpv6") ||
		           tok_is(w, "igmp")) {
			r.protos = firewall_narrow(r.protos, FW_OTHER);
			i++;
		} else if (tok_is(w, "counter")) {
			i++;
			if (i < n && tok_is(&t[i], "packets"))
				i += 4;
		} else if (tok_is(w, "log")) {
			i++;
			while (i + 1 < n && (tok_is(&t[i], "prefix") ||
			                     tok_is(&t[i], "level") ||
			                     tok_is(&t[i], "group") ||
			                     tok_is(&t[i], "snaplen") ||
			                     tok_is(&t[i], "queue-threshold")))
				i += 2;
			if (i < n && tok_is(&t[i], "flags")) {
				i++;
				(void)nft_values(t, n, &i, vals, FW_RANGES + 1,
				                 &neg);
			}
		} else if (tok_is(w, "comment")) {
			i += 2;
		} else if (tok_is(w, "accept") || tok_is(w, "drop") ||
		           tok_is(w, "return") || tok_is(w, "continue")) {
			r.action = tok_is(w, "accept")   ? FW_ACCEPT
			           : tok_is(w, "drop")   ? FW_DROP
			           : tok_is(w, "return") ? FW_RETURN
			                                 : FW_NONE;
			i++;
		} else if (tok_is(w, "reject")) {
			r.action = FW_REJECT;
			break; /* "with icmp type ..." follows */
		} else if ((tok_is(w, "jump") || tok_is(w, "goto")) &&
		           i + 1 < n) {
			r.action = tok_is(w, "jump") ? FW_JUMP : FW_GOTO;
			tok_copy(&t[i + 1], r.target, sizeof(r.target));
			i += 2;
		} else {
			r.conditional = true; /* a match this parse skips */
			i++;
		}
	}
	if (nvmap == 0)
		status = firewall_rule_add(fw, &r);
	for (size_t v = 0; v < nvmap && status == 0; v++) {
		struct fw_rule one = r;

		one.has_ports = true;
		one.ports = vmap[v].ports;
		one.action = vmap[v].action;
		memcpy(one.target, vmap[v].target, sizeof(one.target));
		status = firewall_rule_add(fw, &one);
	}
	free(vmap);
	return status;
}

/*
 * The values after a match such as "dport" or "ct state": "X", "X,Y" or
 * "{ X, Y }", after an optional "==" or "!=" (*neg). Fills vals with up to
 * max of them and returns how many were seen; *i moves past them.
 */
static size_t nft_values(const struct fw_tok *t, size_t n, size_t *i,
                         const struct fw_tok **vals, size_t max, bool *neg)
{
	size_t k = 0;
	int nest = 1;

	*neg = false;
	if (*i < n && tok_is(&t[*i], "!=")) {
		*neg = true;
		(*i)++;
	} else if (*i < n && tok_is(&t[*i], "==")) {
		(*i)++;
	}
	if (*i < n && t[*i].kind == TOK_OPEN) {
		for ((*i)++; *i < n; (*i)++) {
			if (t[*i].kind == TOK_OPEN)
				nest++;
			else if (t[*i].kind == TOK_CLOSE && --nest == 0)
				break;
			else if ((t[*i].kind == TOK_WORD ||
			          t[*i].kind == TOK_STRING) &&
			         nest == 1) {
				if (k < max)
					vals[k] = &t[*i];
				k++;
			}
		}
		if (*i < n)
			(*i)++;
		return k;
	}
	while (*i < n && (t[*i].kind == TOK_WORD || t[*i].kind == TOK_STRING)) {
		if (k < max)
			vals[k] = &t[*i];
		k++;
		(*i)++;
		if (*i < n && t[*i].kind == TOK_COMMA)
			(*i)++;
		else
			break;
	}
	return k;
}

/* The ports that values name: numbers, ranges, services or @sets. More
 * values than fit make the match unknown. */
static void nft_ports(const struct firewall *fw, const char *where,
                      const struct fw_tok *const *vals, size_t nvals,
                      const char *proto, struct fw_ports *out)
{
	char text[FW_NAME];

	memset(out, 0, sizeof(*out));
	if (nvals == 0 || nvals > FW_RANGES) {
		out->unknown = true;
		return;
	}
	for (size_t v = 0; v < nvals; v++) {
		tok_copy(vals[v], text, sizeof(text));
		if (text[0] != '@') {
			firewall_ports_add(out, text, '-', proto);
			continue;
		}
		out->unknown = true;
		for (size_t s = 0; s < fw->nsets; s++) {
			const struct fw_set *set = &fw->sets[s];

			if (strcmp(set->where, where) != 0 ||
			    strcmp(set->name, text + 1) != 0 ||
			    set->ports.unknown ||
			    out->n + set->ports.n > FW_RANGES)
				continue;
			memcpy(&out->r[out->n], set->ports.r,
			       set->ports.n * sizeof(out->r[0]));
			out->n += set->ports.n;
			out->unknown = false;
			break;
		}
		if (out->unknown)
			return;
	}
}

/* "vmap { 22 : accept, 80-90 : jump web }": one entry per element. */
static size_t nft_vmap(const struct firewall *fw, const char *where,
                       const struct fw_tok *t, size_t n, size_t *i,
                       const char *proto, struct fw_vmap_entry *out, size_t max)
{
	const struct fw_tok *key;
	size_t k = 0;

	if (*i >= n || t[*i].kind != TOK_OPEN)
		return 0;
	for ((*i)++; *i < n && t[*i].kind != TOK_CLOSE;) {
		if (t[*i].kind == TOK_COMMA) {
			(*i)++;
			continue;
		}
		key = &t[(*i)++];
		if (*i + 1 >= n || !tok_is(&t[*i], ":") || k >= max) {
			(*i)++;
			continue;
		}
		(*i)++;
		memset(&out[k], 0, sizeof(out[k]));
		nft_ports(fw, where, &key, 1, proto, &out[k].ports);
		if (tok_is(&t[*i], "accept"))
			out[k].action = FW_ACCEPT;
		else if (tok_is(&t[*i], "drop"))
			out[k].action = FW_DROP;
		else if (tok_is(&t[*i], "reject"))
			out[k].action = FW_REJECT;
		else if ((tok_is(&t[*i], "jump") || tok_is(&t[*i], "goto")) &&
		         *i + 1 < n) {
			out[k].action =
			    tok_is(&t[*i], "jump") ? FW_JUMP : FW_GOTO;
			tok_copy(&t[++(*i)], out[k].target,
			         sizeof(out[k].target));
		}
		(*i)++;
		k++;
	}
	if (*i < n)
		(*i)++;
	return k;
}

/* True when t is the word (or string) `word`. */
static bool tok_is(const struct fw_tok *t, const char *word)
{
	return (t->kind == TOK_WORD || t->kind == TOK_STRING) &&
	       strlen(word) == t->len && memcmp(t->s, word, t->len) == 0;
}

/* A token's text, truncated to fit. */
static void tok_copy(const struct fw_tok *t, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)t->len, t->s);
}
