/* config.h: the catalogue and settings read from the JSON configuration. */
#ifndef HANGDOI_CONFIG_H
#define HANGDOI_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#define ID_MAX 64
#define MAX_INTERVALS 8

enum role { ROLE_APP = 1, ROLE_KIOSK = 2, ROLE_COUNTER = 4, ROLE_ADMIN = 8 };

struct interval {
	int from, to; /* minutes of the day, from < to */
};

struct service {
	const char *id, *name, *prefix;
	int slot_minutes, slot_capacity, walkin_daily_limit, avg_service_minutes;
	long long fee_vnd;
	json_t *documents; /* borrowed from the catalogue's root; an array */
};

struct point;

struct counter {
	const char *id, *name;
	const struct point *point;
	int nservices;
	const struct service **services;
};

struct point {
	const char *id, *name, *address;
	struct interval hours[7][MAX_INTERVALS]; /* [0] is Monday */
	int nhours[7];
	int *closed; /* sorted days */
	int nclosed;
	struct service *services;
	int nservices;
	struct counter *counters;
	int ncounters;
	json_t *hours_json, *closed_json; /* borrowed */
};

struct token {
	const char *name;
	enum role role;
	const char *point, *counter; /* scope, or NULL */
	unsigned char digest[32];    /* SHA-256 of the token */
};

struct limits {
	int max_connections, per_ip_connections, connection_timeout;
	int checkpoint_frames; /* WAL frames between checkpoints */
};

/* Webhook events, as bits of struct webhook's events. */
enum hook_event { HOOK_CALLED = 1, HOOK_NEAR = 2, HOOK_EXPIRED = 4 };
const char *hook_event_name(enum hook_event e);

struct webhook {
	const char *url, *secret;
	unsigned events; /* enum hook_event bits */
};

struct catalogue {
	json_t *root; /* owns every string above */
	const char *listen, *database;
	int utc_offset, horizon_days, checkin_open_minutes, no_show_grace_minutes;
	int max_active, strikes_limit, strikes_window_days, strikes_suspend_days;
	int priority_streak_max, max_calls;
	const char *secret;
	size_t secret_len;
	int rate_per_second, rate_burst;
	struct limits limits;
	struct token *tokens;
	int ntokens;
	struct point *points;
	int npoints;
	struct webhook *webhooks;
	int nwebhooks;
	unsigned hook_events; /* every hook's events together */
};

/* Problems found while loading: one "json.path: message" string each. */
struct problems {
	char **v;
	int n;
};

/* Loads FILE. Returns a new catalogue (free with catalogue_free) or NULL with problems filled. */
struct catalogue *catalogue_load(const char *file, struct problems *pr);
struct catalogue *catalogue_parse(json_t *root, struct problems *pr); /* takes root */
void catalogue_free(struct catalogue *c);
void problems_free(struct problems *pr);

const struct point *catalogue_point(const struct catalogue *c, const char *id);
const struct service *point_service(const struct point *p, const char *id);
const struct counter *catalogue_counter(const struct catalogue *c, const char *id);
const struct token *catalogue_token(const struct catalogue *c, const char *presented);
int id_valid(const char *s);
int counter_serves(const struct counter *k, const char *service);

/* The catalogue in force; swapped whole by a reload between requests. */
extern struct catalogue *cat;

#endif
