/* applet.c - applet lookup, and the honest answer of an applet that is not built yet. */
#include "applet.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

static int by_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct applet *)elem)->name);
}

const struct applet *applet_find(const char *name)
{
	return bsearch(name, bb_applets, bb_applet_count, sizeof bb_applets[0], by_name);
}

int applet_unbuilt(int argc, char **argv, const char *usage, int issue)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			out_printf("%s\n(not built yet: issue %d)\n", usage, issue);
			return BB_EXIT_OK;
		}
	}
	err_printf("%s is not built yet (issue %d); nothing was done", argv[0], issue);
	return BB_EXIT_FAIL;
}
