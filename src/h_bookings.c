/* h_bookings.c: the app's bookings: make, read, list, move, cancel; feedback. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dates.h"
#include "db.h"
#include "digest.h"
#include "handlers.h"
#include "metrics.h"
#include "reply.h"
#include "router.h"
#include "slots.h"
#include "store.h"
#include "ticket.h"
#include "valid.h"

/* Checks that (P, S) has a bookable slot at DAY START; fills SLOT; answers the error if not. */
static int
bookable(struct req *r, const struct point *p, const struct service *s, int day, int start,
         int64_t now, struct slot *slot)
{
	int today = local_day(now, cat->utc_offset);
	if (!in_horizon(today, day, cat->horizon_days)) {
		reply_error(r, E_OUTSIDE_HORIZON, "date", "bookable dates are today and the next %d days",
		            cat->horizon_days - 1);
		return -1;
	}
	if (point_closed_on(p, day)) {
		reply_error(r, E_CLOSED, "date", "%s is closed that day", p->id);
		return -1;
	}
	if (slot_find(p, s, day, start, slot)) {
		reply_error(r, E_CLOSED, "start", "no slot of %s starts then", s->id);
		return -1;
	}
	if (local_instant(day, start, cat->utc_offset) <= now) {
		reply_error(r, E_SLOT_PASSED, "start", NULL);
		return -1;
	}
	return 0;
}

static int
body_hash(json_t *body, char out[65])
{
	char *s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	const char *parts[] = {s};
	int rc = s ? digest_sha256(parts, 1, out) : -1;
	free(s);
	return rc;
}

/* Answers a stored answer again; 1 when it did (or answered an error), 0 to go on. */
static int
idempotent_replay(struct req *r, const char *key, const char *hash, int64_t now)
{
	char stored[65];
	int status;
	char *answer = NULL;
	int rc = store_idem_get(r->tok->name, key, now - 86400, stored, &status, &answer);
	if (rc < 0) {
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return 1;
	}
	if (rc == 0)
		return 0;
	if (strcmp(stored, hash) != 0) {
		free(answer);
		reply_error(r, E_IDEMPOTENCY_MISMATCH, "Idempotency-Key", NULL);
		return 1;
	}
	reply_raw(r, status, JSON_TYPE, answer, strlen(answer));
	/* The first answer may still wait for its commit: so does this one. */
	r->wait_commit = db_busy();
	return 1;
}

static void
create(struct req *r)
{
	const char *pid, *sid, *citizen, *phone, *name, *priority, *dossier;
	const char *key = req_header(r, "Idempotency-Key");
	char hash[65], chash[65];
	int day, start;
	struct slot slot;
	struct ticket t;
	int64_t now = clock_now();

	if (key && !valid_idem_key(key)) {
		reply_error(r, E_INVALID_FIELD, "Idempotency-Key", "1-64 of A-Z a-z 0-9 _ -");
		return;
	}
	if (key) {
		if (body_hash(r->json, hash)) {
			reply_error(r, E_UNAVAILABLE, NULL, NULL);
			return;
		}
		if (idempotent_replay(r, key, hash, now))
			return;
	}
	if (field_string(r, "point", 1, NULL, &pid) || field_string(r, "service", 1, NULL, &sid) ||
	    field_date(r, "date", &day) || field_hhmm(r, "start", &start) ||
	    field_string(r, "citizen_id", 1, valid_citizen_id, &citizen) ||
	    field_string(r, "phone", 0, valid_phone, &phone) ||
	    field_string(r, "priority", 0, valid_priority, &priority) ||
	    field_string(r, "dossier_id", 0, valid_dossier, &dossier) ||
	    field_string(r, "name", 0, NULL, &name))
		return;
	if (name && !valid_utf8_text(name, 100)) {
		reply_error(r, E_INVALID_FIELD, "name", "name must be 1-100 characters of text");
		return;
	}
	const struct point *p = catalogue_point(cat, pid);
	if (p == NULL) {
		reply_error(r, E_NOT_FOUND, "point", "no point %s", pid);
		return;
	}
	const struct service *s = point_service(p, sid);
	if (s == NULL) {
		reply_error(r, E_NOT_FOUND, "service", "no service %s at %s", sid, pid);
		return;
	}
	if (bookable(r, p, s, day, start, now, &slot))
		return;
	if (citizen_hash(citizen, chash)) {
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	struct booking_in in = {
	    .point = p, .service = s, .day = day, .start = slot.start, .end = slot.end,
	    .citizen_hash = chash, .last4 = citizen + 8, .phone = phone, .name = name,
	    .priority = priority, .dossier = dossier, .idem_key = key, .idem_hash = key ? hash : NULL,
	    .render = ticket_render,
	};
	enum err e = store_book(&in, r->tok->name, now, &t);
	if (e != E_OK) {
		reply_error(r, e, NULL, NULL);
		return;
	}
	metrics_booking();
	reply_json(r, 201, ticket_json(&t, VIEW_STAFF));
}

static int
path_ticket(struct req *r, struct ticket *t)
{
	enum err e = valid_code(r->param[0]) ? store_ticket(r->param[0], t) : E_NOT_FOUND;
	if (e != E_OK)
		reply_error(r, e, NULL, e == E_NOT_FOUND ? "no booking %s" : NULL, r->param[0]);
	return e == E_OK ? 0 : -1;
}

static void
get(struct req *r)
{
	struct ticket t;
	if (path_ticket(r, &t) == 0)
		reply_json(r, 200, ticket_json(&t, VIEW_STAFF));
}

static int
append(const struct ticket *t, void *arg)
{
	json_array_append_new(arg, ticket_json(t, VIEW_STAFF));
	return 0;
}

static void
list(struct req *r)
{
	const char *citizen, *pid;
	int day, given;
	json_t *a;
	if (req_query(r, "citizen_id") == NULL && req_query(r, "point") != NULL) {
		if (r->tok->role != ROLE_ADMIN) {
			reply_error(r, E_FORBIDDEN, NULL, "listing a point's day is for admin");
			return;
		}
		if (query_string(r, "point", 1, id_valid, &pid) || query_date(r, "date", 1, &day, &given))
			return;
		const struct point *p = catalogue_point(cat, pid);
		if (p == NULL) {
			reply_error(r, E_NOT_FOUND, "point", "no point %s", pid);
			return;
		}
		a = json_array();
		if (store_day_tickets(p->id, day, append, a)) {
			json_decref(a);
			reply_error(r, E_UNAVAILABLE, NULL, NULL);
			return;
		}
		reply_json(r, 200, json_pack("{s:o}", "bookings", a));
		return;
	}
	if (query_string(r, "citizen_id", 1, valid_citizen_id, &citizen))
		return;
	char chash[65];
	if (citizen_hash(citizen, chash)) {
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	a = json_array();
	if (store_citizen_bookings(chash, local_day(clock_now(), cat->utc_offset), append, a)) {
		json_decref(a);
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	reply_json(r, 200, json_pack("{s:o}", "bookings", a));
}

static void
move(struct req *r)
{
	struct ticket t;
	struct slot slot;
	int day, start;
	int64_t now = clock_now();
	if (field_date(r, "date", &day) || field_hhmm(r, "start", &start) || path_ticket(r, &t))
		return;
	if (strcmp(t.kind, "booking") != 0 || t.status != ST_BOOKED) {
		reply_error(r, E_INVALID_STATE, NULL, "only a booked booking can be moved (it is %s)",
		            status_name(t.status));
		return;
	}
	const struct point *p = catalogue_point(cat, t.point);
	const struct service *s = p ? point_service(p, t.booked_service) : NULL;
	if (s == NULL) {
		reply_error(r, E_INVALID_STATE, NULL, "the booking's service is no longer offered");
		return;
	}
	if (bookable(r, p, s, day, start, now, &slot))
		return;
	enum err e = store_reschedule(t.code, s, day, slot.start, slot.end, r->tok->name, now, &t);
	if (e != E_OK)
		reply_error(r, e, NULL, NULL);
	else
		reply_json(r, 200, ticket_json(&t, VIEW_STAFF));
}

static void
cancel(struct req *r)
{
	struct ticket t;
	if (path_ticket(r, &t))
		return;
	enum err e = store_cancel(t.code, r->tok->name, clock_now(), &t);
	if (e != E_OK)
		reply_error(r, e, NULL, e == E_INVALID_STATE ? "only a booked booking can be cancelled" : NULL);
	else
		reply_json(r, 200, ticket_json(&t, VIEW_STAFF));
}

static void
feedback(struct req *r)
{
	const char *comment;
	json_t *rating = json_object_get(r->json, "rating");
	if (!json_is_integer(rating) || json_integer_value(rating) < 1 || json_integer_value(rating) > 5) {
		reply_error(r, E_INVALID_FIELD, "rating", "rating must be an integer from 1 to 5");
		return;
	}
	if (field_string(r, "comment", 0, NULL, &comment))
		return;
	if (comment && !valid_utf8_text(comment, 1000)) {
		reply_error(r, E_INVALID_FIELD, "comment", "comment must be 1-1000 characters of text");
		return;
	}
	if (!valid_code(r->param[0])) {
		reply_error(r, E_NOT_FOUND, NULL, "no ticket %s", r->param[0]);
		return;
	}
	enum err e = store_feedback(r->param[0], (int)json_integer_value(rating), comment, clock_now());
	if (e != E_OK)
		reply_error(r, e, NULL,
		            e == E_INVALID_STATE ? "feedback is taken once, after the ticket is served" : NULL);
	else
		reply_json(r, 201, json_pack("{s:s,s:I}", "ticket", r->param[0], "rating",
		                             json_integer_value(rating)));
}

const struct route h_bookings_routes[] = {
    {M_POST, "/v1/bookings", create, ROLE_APP, BODY_JSON, "bookings.create"},
    {M_GET, "/v1/bookings", list, ROLE_APP, BODY_NONE, "bookings.list"},
    {M_GET, "/v1/bookings/:code", get, ROLE_APP, BODY_NONE, "bookings.get"},
    {M_PATCH, "/v1/bookings/:code", move, ROLE_APP, BODY_JSON, "bookings.move"},
    {M_DELETE, "/v1/bookings/:code", cancel, ROLE_APP, BODY_NONE, "bookings.cancel"},
    {M_POST, "/v1/tickets/:code/feedback", feedback, ROLE_APP, BODY_JSON, "tickets.feedback"},
    {0, NULL, NULL, 0, 0, NULL},
};
