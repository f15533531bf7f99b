/*
 * cidr: IPv4 addresses and lists of IPv4 networks, as --trusted-proxies
 * names them ("10.0.0.0/8,192.168.1.7"), parsed from bytes without
 * touching a socket (fuzz/fuzz_cidr.c). Addresses are host-order uint32.
 */
#ifndef GROUPCHAT_CIDR_H
#define GROUPCHAT_CIDR_H

#include <stddef.h>
#include <stdint.h>

/* Networks a list may hold. */
#define CIDR_SET_MAX 32

/* A list of networks; n 0: empty, nothing is in it. */
struct cidr_set {
	size_t n;
	struct cidr {
		uint32_t net;  /* host bits zero */
		uint32_t mask;
	} v[CIDR_SET_MAX];
};

/* Parses the len bytes at s as a dotted quad: four decimal numbers 0..255
 * with no leading zeros, nothing else. 0 with *addr set, or -1. */
int cidr_ipv4_parse(const char *s, size_t len, uint32_t *addr);

/* Parses the len bytes at s as a comma-separated list of A.B.C.D or
 * A.B.C.D/N (N 0..32; host bits may be set and are ignored), blanks
 * around each entry allowed. 0 with *set filled; or -1 with *why a
 * constant reason that never quotes the input (an entry is not an
 * address or network, the list is empty, or it has more than
 * CIDR_SET_MAX entries), *set then unchanged. */
int cidr_set_parse(struct cidr_set *set, const char *s, size_t len, const char **why);

/* 1 if addr is in one of the set's networks, else 0. */
int cidr_set_has(const struct cidr_set *set, uint32_t addr);

#endif
