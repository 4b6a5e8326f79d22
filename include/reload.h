/* reload.h: re-read the catalogue from the configuration file (SIGHUP, POST /v1/admin/reload). */
#ifndef HANGDOI_RELOAD_H
#define HANGDOI_RELOAD_H

#include "config.h"

/* The configuration file, set once at start. */
extern const char *reload_file;

/* 0 when the new catalogue is in force; else -1 with the problems (also logged), and nothing
 * changed. */
int reload_catalogue(struct problems *pr);

#endif
