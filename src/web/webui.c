/*
 * webui: the chat page served at GET /. Its bytes are compiled in from
 * web/index.html: the Makefile runs scripts/embed.sh to turn the page into
 * $(BUILD)/gen/webui_page.c, which defines the two symbols below, so the
 * server stays a single file and the page cannot go missing at run time.
 */
#include "groupchat/web/webui.h"

extern const unsigned char webui_page_data[];
extern const size_t webui_page_data_size;

const char *
webui_page(size_t *len)
{
	*len = webui_page_data_size;
	return (const char *)webui_page_data;
}
