/* builtin.h: files embedded in the binary at build time (sql/, web/). */
#ifndef HANGDOI_BUILTIN_H
#define HANGDOI_BUILTIN_H

#include <stddef.h>

struct builtin {
	const char *name; /* "sql/0001-init.sql" */
	const unsigned char *data;
	size_t len;
};

extern const struct builtin builtins[]; /* ended by a NULL name, sorted by name */
const struct builtin *builtin_find(const char *name);

#endif
