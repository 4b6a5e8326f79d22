/*
 * reload.c: re-read the catalogue from the configuration file (SIGHUP, POST /v1/admin/reload);
 * a refusal is logged here, for both.
 */
#include "log.h"
#include "reload.h"

const char *reload_file;

int
reload_catalogue(struct problems *pr)
{
	struct catalogue *c = catalogue_load(reload_file, pr);
	if (c == NULL) {
		for (int i = 0; i < pr->n; i++)
			log_error("reload refused: %s", pr->v[i]);
		return -1;
	}
	/* Requests are handled whole between loop turns: nothing holds the old one now. */
	struct catalogue *old = cat;
	cat = c;
	catalogue_free(old);
	log_info("catalogue reloaded: %d points", cat->npoints);
	return 0;
}
