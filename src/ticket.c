/* ticket.c: a ticket as the contract shows it, with its position and eta while waiting. */
#include <string.h>

#include "config.h"
#include "dates.h"
#include "queue.h"
#include "ticket.h"

json_t *
instant_json(int64_t t)
{
	char s[32];
	if (t == 0)
		return json_null();
	instant_format(t, cat->utc_offset, s);
	return json_string_nocheck(s);
}

static json_t *
str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *
hhmm_json(int minute)
{
	char s[6];
	if (minute < 0)
		return json_null();
	hhmm_format(minute, s);
	return json_string_nocheck(s);
}

/*
 * Keys, and the values formatted here or made of our alphabets (codes, numbers, dates,
 * instants), are ASCII: jansson's _nocheck calls skip its UTF-8 scan for them.
 */
json_t *
ticket_json(const struct ticket *t, enum view v)
{
	char date[11];
	int booking = strcmp(t->kind, "booking") == 0;
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	date_format(t->day, date);
	json_object_set_new_nocheck(o, "code", json_string_nocheck(t->code));
	json_object_set_new_nocheck(o, "kind", json_string_nocheck(t->kind));
	json_object_set_new_nocheck(o, "number", json_string_nocheck(t->number));
	json_object_set_new_nocheck(o, "point", json_string(t->point));
	json_object_set_new_nocheck(o, "service", json_string(t->service));
	json_object_set_new_nocheck(o, "date", json_string_nocheck(date));
	json_object_set_new_nocheck(o, "start", hhmm_json(booking ? t->start : -1));
	json_object_set_new_nocheck(o, "end", hhmm_json(booking ? t->end : -1));
	json_object_set_new_nocheck(o, "status", json_string_nocheck(status_name(t->status)));
	json_object_set_new_nocheck(o, "priority", str_or_null(t->priority));
	if (v != VIEW_PUBLIC) {
		char masked[16];
		if (t->last4[0]) {
			snprintf(masked, sizeof masked, "********%s", t->last4);
			json_object_set_new_nocheck(o, "citizen_id", json_string_nocheck(masked));
		} else {
			json_object_set_new_nocheck(o, "citizen_id", json_null());
		}
	}
	if (v == VIEW_STAFF)
		json_object_set_new_nocheck(o, "dossier_id", str_or_null(t->dossier));
	json_object_set_new_nocheck(o, "created_at", instant_json(t->created_at));
	json_object_set_new_nocheck(o, "checkin_from", instant_json(booking ? t->checkin_from : 0));
	json_object_set_new_nocheck(o, "checkin_until", instant_json(booking ? t->checkin_until : 0));
	int pos = t->status == ST_WAITING ? store_position(t) : 0;
	if (pos > 0) {
		const struct point *p = catalogue_point(cat, t->point);
		const struct service *s = p ? point_service(p, t->service) : NULL;
		int eta = s ? queue_eta(pos, s->avg_service_minutes, store_open_counters(p, s->id)) : 0;
		json_object_set_new_nocheck(o, "position", json_integer(pos));
		json_object_set_new_nocheck(o, "eta_minutes", s ? json_integer(eta) : json_null());
	} else {
		json_object_set_new_nocheck(o, "position", json_null());
		json_object_set_new_nocheck(o, "eta_minutes", json_null());
	}
	json_object_set_new_nocheck(o, "counter", str_or_null(t->counter));
	json_object_set_new_nocheck(o, "called_at", instant_json(t->called_at));
	return o;
}

char *
ticket_render(const struct ticket *t)
{
	json_t *o = ticket_json(t, VIEW_STAFF);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}
