/* t_dns.h - what the DNS unit tests share: a name from its text, for building queries and policies. */
#ifndef BB_T_DNS_H
#define BB_T_DNS_H

#include <stdio.h>
#include <string.h>

#include "dnsmsg.h"

/* The wire form of s; the root name (and a line saying why) when s is not a name. */
static inline struct dns_name name_of(const char *s)
{
	struct dns_name n;

	if (dns_name_from_text(s, strlen(s), &n, NULL) < 0) {
		printf("#   cannot make a name of %s\n", s);
		n.len = 1;
		n.wire[0] = 0;
	}
	return n;
}

#endif
