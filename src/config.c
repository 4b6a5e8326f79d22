/* config.c: load and validate the JSON configuration; the only place that knows its shape. */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dates.h"
#include "digest.h"

struct catalogue *cat;

static void
problem(struct problems *pr, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	char **v = realloc(pr->v, (pr->n + 1) * sizeof *v);
	if (v == NULL)
		return;
	pr->v = v;
	if ((v[pr->n] = strdup(buf)) != NULL)
		pr->n++;
}

void
problems_free(struct problems *pr)
{
	for (int i = 0; i < pr->n; i++)
		free(pr->v[i]);
	free(pr->v);
	pr->v = NULL;
	pr->n = 0;
}

int
id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
		if (!ok)
			return 0;
	}
	return 1;
}

/* An integer field with a default when absent. */
static int
int_field(json_t *o, const char *key, int def, int min, int max, const char *path,
          struct problems *pr)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL)
		return def;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		problem(pr, "%s%s: must be an integer from %d to %d", path, key, min, max);
		return def;
	}
	return (int)json_integer_value(v);
}

static const char *
str_field(json_t *o, const char *key, int required, const char *path, struct problems *pr)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL) {
		if (required)
			problem(pr, "%s%s: is required", path, key);
		return NULL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		problem(pr, "%s%s: must be a non-empty string", path, key);
		return NULL;
	}
	return json_string_value(v);
}

static const char *
id_field(json_t *o, const char *path, struct problems *pr)
{
	const char *id = str_field(o, "id", 1, path, pr);
	if (id && !id_valid(id)) {
		problem(pr, "%sid: must match [a-z0-9][a-z0-9-]{0,63}", path);
		return NULL;
	}
	return id;
}

static int
interval_parse(const char *s, struct interval *iv)
{
	char a[6], b[6];
	if (s == NULL || strlen(s) != 11 || s[5] != '-')
		return -1;
	memcpy(a, s, 5);
	a[5] = 0;
	memcpy(b, s + 6, 5);
	b[5] = 0;
	if (hhmm_parse(a, &iv->from) || hhmm_parse(b, &iv->to) || iv->from >= iv->to)
		return -1;
	return 0;
}

static const char *const day_keys[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static void
parse_hours(struct point *p, json_t *hours, const char *path, struct problems *pr)
{
	if (!json_is_object(hours)) {
		problem(pr, "%shours: must be an object with keys mon..sun", path);
		return;
	}
	p->hours_json = hours;
	const char *k;
	json_t *v;
	json_object_foreach(hours, k, v) {
		int d = -1;
		for (int i = 0; i < 7; i++)
			if (strcmp(k, day_keys[i]) == 0)
				d = i;
		if (d < 0) {
			problem(pr, "%shours.%s: unknown day (mon, tue, wed, thu, fri, sat, sun)", path, k);
			continue;
		}
		if (!json_is_array(v) || json_array_size(v) > MAX_INTERVALS) {
			problem(pr, "%shours.%s: must be an array of at most %d \"HH:MM-HH:MM\"", path, k,
			        MAX_INTERVALS);
			continue;
		}
		size_t i;
		json_t *iv;
		json_array_foreach(v, i, iv) {
			struct interval *x = &p->hours[d][p->nhours[d]];
			if (interval_parse(json_string_value(iv), x)) {
				problem(pr, "%shours.%s[%zu]: must be \"HH:MM-HH:MM\" with start before end",
				        path, k, i);
				continue;
			}
			if (p->nhours[d] > 0 && x->from < p->hours[d][p->nhours[d] - 1].to) {
				problem(pr, "%shours.%s[%zu]: intervals must be in order and not overlap", path,
				        k, i);
				continue;
			}
			p->nhours[d]++;
		}
	}
}

static int
int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void
parse_closed(struct point *p, json_t *closed, const char *path, struct problems *pr)
{
	if (closed == NULL)
		return;
	if (!json_is_array(closed)) {
		problem(pr, "%sclosed: must be an array of dates", path);
		return;
	}
	p->closed_json = closed;
	p->closed = calloc(json_array_size(closed) + 1, sizeof(int));
	size_t i;
	json_t *v;
	json_array_foreach(closed, i, v) {
		int day;
		if (date_parse(json_string_value(v), &day))
			problem(pr, "%sclosed[%zu]: must be a date YYYY-MM-DD", path, i);
		else if (p->closed)
			p->closed[p->nclosed++] = day;
	}
	if (p->closed)
		qsort(p->closed, p->nclosed, sizeof(int), int_cmp);
}

static void
parse_service(struct service *s, json_t *o, const char *path, struct problems *pr)
{
	if (!json_is_object(o)) {
		problem(pr, "%s: must be an object", path);
		return;
	}
	char p[160];
	snprintf(p, sizeof p, "%s.", path);
	s->id = id_field(o, p, pr);
	s->name = str_field(o, "name", 1, p, pr);
	s->prefix = str_field(o, "prefix", 1, p, pr);
	if (s->prefix) {
		size_t n = strlen(s->prefix);
		int ok = n >= 1 && n <= 2;
		for (size_t i = 0; i < n; i++)
			ok = ok && s->prefix[i] >= 'A' && s->prefix[i] <= 'Z';
		if (!ok) {
			problem(pr, "%sprefix: must be 1-2 capital letters", p);
			s->prefix = NULL;
		}
	}
	if (json_object_get(o, "slot_minutes") == NULL)
		problem(pr, "%sslot_minutes: is required", p);
	if (json_object_get(o, "slot_capacity") == NULL)
		problem(pr, "%sslot_capacity: is required", p);
	s->slot_minutes = int_field(o, "slot_minutes", 30, 5, 720, p, pr);
	s->slot_capacity = int_field(o, "slot_capacity", 1, 0, 100000, p, pr);
	s->walkin_daily_limit = int_field(o, "walkin_daily_limit", 200, 0, 99999, p, pr);
	s->avg_service_minutes = int_field(o, "avg_service_minutes", 10, 1, 720, p, pr);
	json_t *docs = json_object_get(o, "documents");
	if (docs) {
		size_t i;
		json_t *d;
		int ok = json_is_array(docs);
		if (ok)
			json_array_foreach(docs, i, d) ok = ok && json_is_string(d);
		if (!ok)
			problem(pr, "%sdocuments: must be an array of strings", p);
		else
			s->documents = docs;
	}
	json_t *fee = json_object_get(o, "fee_vnd");
	if (fee && (!json_is_integer(fee) || json_integer_value(fee) < 0))
		problem(pr, "%sfee_vnd: must be a non-negative integer", p);
	else if (fee)
		s->fee_vnd = json_integer_value(fee);
}

static void
parse_point(struct catalogue *c, struct point *pt, json_t *o, int idx, struct problems *pr)
{
	char path[64];
	snprintf(path, sizeof path, "points[%d].", idx);
	if (!json_is_object(o)) {
		problem(pr, "points[%d]: must be an object", idx);
		return;
	}
	pt->id = id_field(o, path, pr);
	pt->name = str_field(o, "name", 1, path, pr);
	pt->address = str_field(o, "address", 0, path, pr);
	if (pt->address == NULL)
		pt->address = "";
	json_t *hours = json_object_get(o, "hours");
	if (hours == NULL)
		problem(pr, "%shours: is required", path);
	else
		parse_hours(pt, hours, path, pr);
	parse_closed(pt, json_object_get(o, "closed"), path, pr);

	json_t *svcs = json_object_get(o, "services");
	if (!json_is_array(svcs) || json_array_size(svcs) == 0) {
		problem(pr, "%sservices: must be a non-empty array", path);
	} else {
		pt->services = calloc(json_array_size(svcs), sizeof *pt->services);
		size_t i;
		json_t *so;
		json_array_foreach(svcs, i, so) {
			char sp[96];
			snprintf(sp, sizeof sp, "%sservices[%zu]", path, i);
			struct service *s = &pt->services[pt->nservices];
			parse_service(s, so, sp, pr);
			for (int j = 0; j < pt->nservices && s->id; j++) {
				if (pt->services[j].id && strcmp(pt->services[j].id, s->id) == 0)
					problem(pr, "%s.id: duplicate service id \"%s\"", sp, s->id);
				if (pt->services[j].prefix && s->prefix &&
				    strcmp(pt->services[j].prefix, s->prefix) == 0)
					problem(pr, "%s.prefix: duplicate prefix \"%s\" in this point", sp, s->prefix);
			}
			pt->nservices++;
		}
	}

	json_t *ctrs = json_object_get(o, "counters");
	if (ctrs != NULL && !json_is_array(ctrs)) {
		problem(pr, "%scounters: must be an array", path);
		return;
	}
	pt->counters = calloc(json_array_size(ctrs) + 1, sizeof *pt->counters);
	size_t i;
	json_t *ko;
	json_array_foreach(ctrs, i, ko) {
		char kp[96];
		snprintf(kp, sizeof kp, "%scounters[%zu].", path, i);
		struct counter *k = &pt->counters[pt->ncounters++];
		k->point = pt;
		if (!json_is_object(ko)) {
			problem(pr, "%scounters[%zu]: must be an object", path, i);
			continue;
		}
		k->id = id_field(ko, kp, pr);
		k->name = str_field(ko, "name", 0, kp, pr);
		if (k->name == NULL)
			k->name = k->id;
		json_t *ks = json_object_get(ko, "services");
		if (!json_is_array(ks) || json_array_size(ks) == 0) {
			problem(pr, "%sservices: must be a non-empty array of service ids", kp);
			continue;
		}
		k->services = calloc(json_array_size(ks), sizeof *k->services);
		size_t j;
		json_t *sid;
		json_array_foreach(ks, j, sid) {
			const struct service *s = point_service(pt, json_string_value(sid));
			if (s == NULL)
				problem(pr, "%sservices[%zu]: unknown service of this point", kp, j);
			else if (k->services)
				k->services[k->nservices++] = s;
		}
	}
	(void)c;
}

/* Tokens in the order of their digests: catalogue_token finds one by binary search. */
static int
token_order(const void *a, const void *b)
{
	return memcmp(((const struct token *)a)->digest, ((const struct token *)b)->digest, 32);
}

static void
parse_tokens(struct catalogue *c, json_t *toks, struct problems *pr)
{
	static const struct {
		const char *name;
		enum role role;
	} roles[] = {{"app", ROLE_APP}, {"kiosk", ROLE_KIOSK}, {"counter", ROLE_COUNTER}, {"admin", ROLE_ADMIN}};
	if (!json_is_array(toks)) {
		problem(pr, "tokens: must be an array");
		return;
	}
	c->tokens = calloc(json_array_size(toks) + 1, sizeof *c->tokens);
	size_t i;
	json_t *o;
	json_array_foreach(toks, i, o) {
		char path[48];
		snprintf(path, sizeof path, "tokens[%zu].", i);
		if (!json_is_object(o)) {
			problem(pr, "tokens[%zu]: must be an object", i);
			continue;
		}
		struct token *t = &c->tokens[c->ntokens];
		t->name = str_field(o, "name", 1, path, pr);
		const char *role = str_field(o, "role", 1, path, pr);
		const char *secret = str_field(o, "token", 1, path, pr);
		t->role = 0;
		for (size_t r = 0; role && r < sizeof roles / sizeof *roles; r++)
			if (strcmp(role, roles[r].name) == 0)
				t->role = roles[r].role;
		if (role && t->role == 0)
			problem(pr, "%srole: must be app, kiosk, counter or admin", path);
		if (secret && strlen(secret) < 8)
			problem(pr, "%stoken: must be at least 8 characters", path);
		if (t->role == ROLE_KIOSK) {
			t->point = str_field(o, "point", 1, path, pr);
			if (t->point && catalogue_point(c, t->point) == NULL)
				problem(pr, "%spoint: unknown point \"%s\"", path, t->point);
		}
		if (t->role == ROLE_COUNTER) {
			t->counter = str_field(o, "counter", 1, path, pr);
			if (t->counter && catalogue_counter(c, t->counter) == NULL)
				problem(pr, "%scounter: unknown counter \"%s\"", path, t->counter);
		}
		if (secret == NULL || t->name == NULL)
			continue;
		if (digest_sha256_bytes(secret, strlen(secret), t->digest))
			problem(pr, "%stoken: cannot hash it (libcrypto failed)", path);
		for (int j = 0; j < c->ntokens; j++) {
			if (CRYPTO_memcmp(c->tokens[j].digest, t->digest, 32) == 0)
				problem(pr, "%stoken: the same token is given twice", path);
			if (strcmp(c->tokens[j].name, t->name) == 0)
				problem(pr, "%sname: duplicate token name \"%s\"", path, t->name);
		}
		c->ntokens++;
	}
	qsort(c->tokens, c->ntokens, sizeof *c->tokens, token_order);
}

static const char *const hook_names[] = {"ticket.called", "ticket.near", "booking.expired"};

const char *
hook_event_name(enum hook_event e)
{
	return hook_names[e == HOOK_CALLED ? 0 : e == HOOK_NEAR ? 1 : 2];
}

/* Whether libcurl takes URL as a whole http or https URL with a host. */
static int
http_url(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	         curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	         curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] &&
	         (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static void
parse_webhooks(struct catalogue *c, json_t *hooks, struct problems *pr)
{
	if (hooks == NULL)
		return;
	if (!json_is_array(hooks)) {
		problem(pr, "webhooks: must be an array");
		return;
	}
	c->webhooks = calloc(json_array_size(hooks) + 1, sizeof *c->webhooks);
	if (c->webhooks == NULL) {
		problem(pr, "out of memory");
		return;
	}
	size_t i, j;
	json_t *o, *ev;
	json_array_foreach(hooks, i, o) {
		if (!json_is_object(o)) {
			problem(pr, "webhooks[%zu]: must be an object", i);
			continue;
		}
		struct webhook *h = &c->webhooks[c->nwebhooks];
		const char *url = json_string_value(json_object_get(o, "url"));
		if (url == NULL || json_string_length(json_object_get(o, "url")) > 2048 || !http_url(url))
			problem(pr, "webhooks[%zu].url: must be an http:// or https:// URL", i);
		h->url = url;
		json_t *sec = json_object_get(o, "secret");
		if (!json_is_string(sec) || json_string_length(sec) == 0)
			problem(pr, "webhooks[%zu].secret: must be a non-empty string", i);
		h->secret = json_string_value(sec);
		json_t *evs = json_object_get(o, "events");
		if (!json_is_array(evs) || json_array_size(evs) == 0) {
			problem(pr, "webhooks[%zu].events: must be a non-empty array of \"ticket.called\", "
			            "\"ticket.near\", \"booking.expired\"", i);
			continue;
		}
		json_array_foreach(evs, j, ev) {
			const char *name = json_string_value(ev);
			unsigned bit = 0;
			for (unsigned k = 0; name && k < 3; k++)
				if (strcmp(name, hook_names[k]) == 0)
					bit = 1u << k;
			if (bit == 0)
				problem(pr, "webhooks[%zu].events[%zu]: unknown event %s%s%s", i, j,
				        name ? "\"" : "", name ? name : "(not a string)", name ? "\"" : "");
			else if (h->events & bit)
				problem(pr, "webhooks[%zu].events[%zu]: \"%s\" twice", i, j, name);
			h->events |= bit;
		}
		c->hook_events |= h->events;
		c->nwebhooks++;
	}
}

static void
parse_root(struct catalogue *c, json_t *r, struct problems *pr)
{
	c->listen = str_field(r, "listen", 1, "", pr);
	c->database = str_field(r, "database", 1, "", pr);
	if (c->listen && strrchr(c->listen, ':') == NULL)
		problem(pr, "listen: must be HOST:PORT");
	if (c->database && strncmp(c->database, "postgresql://", 13) == 0)
		problem(pr, "database: this build of hangdoi stores in SQLite only; give a file path");
	parse_webhooks(c, json_object_get(r, "webhooks"), pr);
	const char *off = json_string_value(json_object_get(r, "utc_offset"));
	if (json_object_get(r, "utc_offset") == NULL)
		c->utc_offset = 7 * 60;
	else if (offset_parse(off, &c->utc_offset))
		problem(pr, "utc_offset: must be \"+HH:MM\" or \"-HH:MM\"");
	c->horizon_days = int_field(r, "horizon_days", 7, 1, 366, "", pr);
	c->checkin_open_minutes = int_field(r, "checkin_open_minutes", 60, 0, 1440, "", pr);
	c->no_show_grace_minutes = int_field(r, "no_show_grace_minutes", 15, 0, 1440, "", pr);
	c->max_active = int_field(r, "max_active_bookings_per_citizen", 3, 1, 1000, "", pr);
	c->priority_streak_max = int_field(r, "priority_streak_max", 3, 0, 1000, "", pr);
	c->max_calls = int_field(r, "max_calls", 3, 1, 100, "", pr);
	json_t *st = json_object_get(r, "no_show_strikes");
	if (st && !json_is_object(st))
		problem(pr, "no_show_strikes: must be an object");
	c->strikes_limit = int_field(st, "limit", 3, 0, 1000, "no_show_strikes.", pr);
	c->strikes_window_days = int_field(st, "window_days", 30, 1, 3650, "no_show_strikes.", pr);
	c->strikes_suspend_days = int_field(st, "suspend_days", 7, 0, 3650, "no_show_strikes.", pr);
	json_t *rl = json_object_get(r, "rate_limit");
	if (rl && !json_is_object(rl))
		problem(pr, "rate_limit: must be an object");
	c->rate_per_second = int_field(rl, "per_ip_per_second", 50, 0, 1000000, "rate_limit.", pr);
	c->rate_burst = int_field(rl, "burst", 100, 0, 1000000, "rate_limit.", pr);
	if (c->rate_per_second > 0 && c->rate_burst < 1)
		problem(pr, "rate_limit.burst: must be at least 1 when rate limiting is on");
	json_t *lim = json_object_get(r, "limits");
	if (lim && !json_is_object(lim))
		problem(pr, "limits: must be an object");
	c->limits.max_connections = int_field(lim, "max_connections", 4096, 16, 1000000, "limits.", pr);
	c->limits.per_ip_connections =
	    int_field(lim, "per_ip_connections", 256, 0, 1000000, "limits.", pr);
	c->limits.connection_timeout =
	    int_field(lim, "connection_timeout_seconds", 30, 1, 3600, "limits.", pr);
	c->limits.checkpoint_frames =
	    int_field(lim, "checkpoint_frames", 16384, 16, 1 << 24, "limits.", pr);
	c->secret = str_field(r, "citizen_id_secret", 1, "", pr);
	if (c->secret && strlen(c->secret) < 32)
		problem(pr, "citizen_id_secret: must be at least 32 bytes");
	if (c->secret)
		c->secret_len = strlen(c->secret);

	json_t *pts = json_object_get(r, "points");
	if (!json_is_array(pts) || json_array_size(pts) == 0) {
		problem(pr, "points: must be a non-empty array");
	} else {
		c->points = calloc(json_array_size(pts), sizeof *c->points);
		size_t i;
		json_t *o;
		json_array_foreach(pts, i, o) {
			struct point *pt = &c->points[c->npoints];
			parse_point(c, pt, o, (int)i, pr);
			for (int j = 0; j < c->npoints && pt->id; j++)
				if (c->points[j].id && strcmp(c->points[j].id, pt->id) == 0)
					problem(pr, "points[%zu].id: duplicate point id \"%s\"", i, pt->id);
			for (int k = 0; k < pt->ncounters; k++)
				for (int j = 0; j <= c->npoints; j++)
					for (int m = 0; m < c->points[j].ncounters; m++) {
						const struct counter *a = &pt->counters[k], *b = &c->points[j].counters[m];
						if ((j < c->npoints || m < k) && a->id && b->id &&
						    strcmp(a->id, b->id) == 0)
							problem(pr, "points[%zu].counters[%d].id: duplicate counter id \"%s\"",
							        i, k, a->id);
					}
			c->npoints++;
		}
	}
	json_t *toks = json_object_get(r, "tokens");
	if (toks == NULL)
		problem(pr, "tokens: is required");
	else
		parse_tokens(c, toks, pr);
}

struct catalogue *
catalogue_parse(json_t *root, struct problems *pr)
{
	struct catalogue *c = calloc(1, sizeof *c);
	if (c == NULL) {
		json_decref(root);
		problem(pr, "out of memory");
		return NULL;
	}
	c->root = root;
	if (!json_is_object(root))
		problem(pr, "(root): must be a JSON object");
	else
		parse_root(c, root, pr);
	if (pr->n > 0) {
		catalogue_free(c);
		return NULL;
	}
	return c;
}

struct catalogue *
catalogue_load(const char *file, struct problems *pr)
{
	json_error_t err;
	json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		if (err.line < 0)
			problem(pr, "(file): %s", err.text);
		else
			problem(pr, "(root): invalid JSON at line %d column %d: %s", err.line, err.column,
			        err.text);
		return NULL;
	}
	return catalogue_parse(root, pr);
}

void
catalogue_free(struct catalogue *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->npoints; i++) {
		struct point *p = &c->points[i];
		for (int k = 0; k < p->ncounters; k++)
			free(p->counters[k].services);
		free(p->counters);
		free(p->services);
		free(p->closed);
	}
	free(c->points);
	free(c->tokens);
	free(c->webhooks);
	json_decref(c->root);
	free(c);
}

const struct point *
catalogue_point(const struct catalogue *c, const char *id)
{
	for (int i = 0; id && i < c->npoints; i++)
		if (c->points[i].id && strcmp(c->points[i].id, id) == 0)
			return &c->points[i];
	return NULL;
}

const struct service *
point_service(const struct point *p, const char *id)
{
	for (int i = 0; id && i < p->nservices; i++)
		if (p->services[i].id && strcmp(p->services[i].id, id) == 0)
			return &p->services[i];
	return NULL;
}

const struct counter *
catalogue_counter(const struct catalogue *c, const char *id)
{
	for (int i = 0; id && i < c->npoints; i++)
		for (int k = 0; k < c->points[i].ncounters; k++)
			if (c->points[i].counters[k].id && strcmp(c->points[i].counters[k].id, id) == 0)
				return &c->points[i].counters[k];
	return NULL;
}

int
counter_serves(const struct counter *k, const char *service)
{
	for (int i = 0; i < k->nservices; i++)
		if (strcmp(k->services[i]->id, service) == 0)
			return 1;
	return 0;
}

/* The token whose SHA-256 is that of PRESENTED, or NULL. */
const struct token *
catalogue_token(const struct catalogue *c, const char *presented)
{
	struct token key = {.name = NULL}; /* only its digest is compared */
	if (presented == NULL || digest_sha256_bytes(presented, strlen(presented), key.digest))
		return NULL;
	/*
	 * A city has a token for every kiosk, counter and display: hundreds, looked up on every
	 * request. The search compares SHA-256 digests, never the secrets: how long it takes
	 * tells about the presented token's digest, from which nothing about a valid token
	 * can be learned.
	 */
	return bsearch(&key, c->tokens, c->ntokens, sizeof *c->tokens, token_order);
}
