/* builtin.c: looks up the files embedded by mkbuiltin. */
#include <string.h>

#include "builtin.h"

const struct builtin *
builtin_find(const char *name)
{
	for (const struct builtin *b = builtins; b->name; b++)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}
