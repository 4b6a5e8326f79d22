/* h_city.c: city-wide look-ups for the app (procedures, where to go) and a ticket's QR code. */
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "clock.h"
#include "dates.h"
#include "handlers.h"
#include "queue.h"
#include "reply.h"
#include "router.h"
#include "slots.h"
#include "store.h"
#include "valid.h"

/*
 * Lower case without diacritics, through utf8proc (decompose, strip marks, fold case);
 * đ is a letter of its own in Unicode, not d with a mark, so it is mapped by hand.
 */
char *
fold_text(const char *s)
{
	utf8proc_uint8_t *out = NULL;
	if (utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
	                 UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK |
	                     UTF8PROC_CASEFOLD) < 0)
		return NULL;
	char *r = (char *)out, *w = r;
	for (char *p = r; *p;) {
		if ((unsigned char)p[0] == 0xc4 && (unsigned char)p[1] == 0x91) { /* đ */
			*w++ = 'd';
			p += 2;
		} else {
			*w++ = *p++;
		}
	}
	*w = 0;
	return r;
}

/* Every word of Q starts a word of NAME (both folded). */
static int
words_match(const char *name, const char *q)
{
	char *qc = strdup(q), *save = NULL;
	int ok = qc != NULL;
	for (char *w = qc ? strtok_r(qc, " \t", &save) : NULL; w && ok; w = strtok_r(NULL, " \t", &save)) {
		size_t n = strlen(w);
		const char *p = name;
		ok = 0;
		while ((p = strstr(p, w)) != NULL) {
			if (p == name || p[-1] == ' ' || p[-1] == '(' || p[-1] == '-') {
				ok = 1;
				break;
			}
			p += n;
		}
	}
	free(qc);
	return ok;
}

static void
services(struct req *r)
{
	const char *q;
	if (query_string(r, "q", 1, NULL, &q))
		return;
	char *fq = fold_text(q);
	if (fq == NULL) {
		reply_error(r, E_INVALID_FIELD, "q", "q must be UTF-8 text");
		return;
	}
	json_t *out = json_array(), *byid = json_object();
	for (int i = 0; i < cat->npoints; i++) {
		const struct point *p = &cat->points[i];
		for (int k = 0; k < p->nservices; k++) {
			const struct service *s = &p->services[k];
			char *fn = fold_text(s->name);
			int hit = fn && (words_match(fn, fq) || words_match(s->id, fq));
			free(fn);
			if (!hit)
				continue;
			json_t *o = json_object_get(byid, s->id);
			if (o == NULL) {
				o = json_pack("{s:s,s:s,s:o,s:I,s:[]}", "id", s->id, "name", s->name, "documents",
				              s->documents ? json_incref(s->documents) : json_array(), "fee_vnd",
				              (json_int_t)s->fee_vnd, "points");
				json_object_set_new(byid, s->id, o);
				json_array_append(out, o);
			}
			json_array_append_new(json_object_get(o, "points"),
			                      json_pack("{s:s,s:s}", "id", p->id, "name", p->name));
		}
	}
	free(fq);
	json_decref(byid);
	reply_json(r, 200, json_pack("{s:o}", "services", out));
}

static int
by_available(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t u = json_integer_value(json_object_get(x, "available"));
	json_int_t v = json_integer_value(json_object_get(y, "available"));
	return (v > u) - (v < u);
}

static void
city_availability(struct req *r)
{
	const char *sid;
	int day, given, found = 0;
	int64_t now = clock_now();
	int today = local_day(now, cat->utc_offset);
	if (query_string(r, "service", 1, id_valid, &sid) || query_date(r, "date", 1, &day, &given))
		return;
	if (!in_horizon(today, day, cat->horizon_days)) {
		reply_error(r, E_OUTSIDE_HORIZON, "date", NULL);
		return;
	}
	json_t **rows = calloc(cat->npoints + 1, sizeof *rows);
	int n = 0, failed = rows == NULL;
	for (int i = 0; !failed && i < cat->npoints; i++) {
		const struct point *p = &cat->points[i];
		const struct service *s = point_service(p, sid);
		int places;
		if (s == NULL)
			continue;
		found = 1;
		if ((places = free_places(p, s, day, now)) < 0)
			failed = 1;
		if (places <= 0)
			continue;
		int waiting = store_waiting_count(p->id, s->id, today);
		rows[n++] = json_pack("{s:s,s:s,s:i,s:i,s:i}", "point", p->id, "name", p->name,
		                      "available", places, "waiting", waiting, "eta_minutes",
		                      queue_eta(waiting, s->avg_service_minutes, store_open_counters(p, s->id)));
	}
	if (failed) {
		while (n > 0)
			json_decref(rows[--n]);
		free(rows);
		reply_error(r, E_UNAVAILABLE, NULL, NULL);
		return;
	}
	if (!found) {
		free(rows);
		reply_error(r, E_NOT_FOUND, "service", "no point offers %s", sid);
		return;
	}
	qsort(rows, n, sizeof *rows, by_available);
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, rows[i]);
	free(rows);
	char date[11];
	date_format(day, date);
	reply_json(r, 200, json_pack("{s:s,s:s,s:o}", "service", sid, "date", date, "points", a));
}

/* The ticket's code as a QR code (libqrencode), drawn as one SVG path. */
static void
qr_svg(struct req *r)
{
	struct ticket t;
	if (!valid_code(r->param[0]) || store_ticket(r->param[0], &t) != E_OK) {
		reply_error(r, E_NOT_FOUND, NULL, "no ticket %s", r->param[0]);
		return;
	}
	QRcode *qr = QRcode_encodeString(t.code, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL) {
		reply_error(r, E_UNAVAILABLE, NULL, "cannot draw the code");
		return;
	}
	int w = qr->width, quiet = 4, size = w + 2 * quiet;
	size_t cap = 512 + (size_t)w * w * 24, len = 0;
	char *svg = malloc(cap);
	if (svg == NULL) {
		QRcode_free(qr);
		reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
		return;
	}
	len += snprintf(svg + len, cap - len,
	                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	                "shape-rendering=\"crispEdges\"><title>%s</title>"
	                "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	                size, size, t.code, size, size);
	for (int y = 0; y < w; y++)
		for (int x = 0; x < w; x++)
			if (qr->data[y * w + x] & 1)
				len += snprintf(svg + len, cap - len, "M%d %dh1v1h-1z", x + quiet, y + quiet);
	len += snprintf(svg + len, cap - len, "\"/></svg>\n");
	QRcode_free(qr);
	reply_raw(r, 200, "image/svg+xml", svg, len);
}

const struct route h_city_routes[] = {
    {M_GET, "/v1/services", services, 0, BODY_NONE, "services"},
    {M_GET, "/v1/availability", city_availability, 0, BODY_NONE, "city.availability"},
    {M_GET, "/v1/tickets/:code/qr.svg", qr_svg, 0, BODY_NONE, "ticket.qr"},
    {0, NULL, NULL, 0, 0, NULL},
};
