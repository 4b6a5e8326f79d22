/* ticket.h: a ticket as the contract shows it. */
#ifndef HANGDOI_TICKET_H
#define HANGDOI_TICKET_H

#include <jansson.h>

#include "store.h"

enum view {
	VIEW_PUBLIC, /* no citizen_id, no dossier_id */
	VIEW_KIOSK,  /* citizen_id masked; the dossier is the counter's and admin's only */
	VIEW_STAFF,  /* citizen_id masked, dossier_id */
};

json_t *ticket_json(const struct ticket *t, enum view v);
/* The booking answer kept with an Idempotency-Key (malloc'd). */
char *ticket_render(const struct ticket *t);
/* "2026-11-23T09:05:00+07:00" or JSON null for 0. */
json_t *instant_json(int64_t t);

#endif
