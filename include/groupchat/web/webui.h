/*
 * webui: the single-page chat client served at GET /, embedded in the
 * binary (web/index.html, turned into a C array at build time).
 */
#ifndef GROUPCHAT_WEBUI_H
#define GROUPCHAT_WEBUI_H

#include <stddef.h>

/* The page's bytes and length. */
const char *webui_page(size_t *len);

#endif
