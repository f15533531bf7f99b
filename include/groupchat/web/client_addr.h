/*
 * client_addr: the address a log line names for a request: the TCP peer,
 * or, when the peer is a proxy named by --trusted-proxies, the client it
 * reports in X-Forwarded-For. Pure: strings in, a string out, no socket
 * (fuzz/fuzz_cidr.c).
 */
#ifndef GROUPCHAT_CLIENT_ADDR_H
#define GROUPCHAT_CLIENT_ADDR_H

#include "groupchat/core/cidr.h"

/* An IPv6 address in text and its NUL: the longest out holds. */
#define CLIENT_ADDR_MAX 46

/*
 * Writes the client's address for a request whose TCP peer is peer (a
 * dotted quad) and whose X-Forwarded-For values, every such header in
 * order joined by commas, are xff (NULL when there are none) into out,
 * NUL-terminated. That is peer itself unless peer is in trusted. Then
 * the list is read from the right, where each proxy appended the address
 * it saw: the first entry that is not a trusted IPv4 address is the
 * client, or the leftmost when every entry is trusted. An entry that is
 * not an address (empty, "unknown", a byte other than hex digits, ':'
 * and '.', or over CLIENT_ADDR_MAX - 1 bytes) ends the walk, and the
 * client is the last hop known: the entry to its right, or the peer. So
 * out holds the peer or an entry of hex digits, ':' and '.' only, and a
 * client can prepend whatever it likes without being believed.
 */
void client_addr(const char *peer, const char *xff, const struct cidr_set *trusted,
                 char out[CLIENT_ADDR_MAX]);

#endif
