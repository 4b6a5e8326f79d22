/* router.h: a table of {method, pattern, handler}; path parameters; 404 and 405. */
#ifndef HANGDOI_ROUTER_H
#define HANGDOI_ROUTER_H

#include "httpd.h"

typedef void (*handler_fn)(struct req *r);

enum body_kind { BODY_NONE, BODY_JSON };

struct route {
	enum method method;
	const char *pattern; /* "/v1/points/:point/availability" */
	handler_fn handler;
	int roles; /* 0 = public, else a mask of enum role (admin always allowed) */
	enum body_kind body;
	const char *name; /* for logs and metrics */
};

/* Every handler file exports its table, ended by a zeroed entry. */
extern const struct route h_public_routes[];
extern const struct route h_bookings_routes[];
extern const struct route h_queue_routes[];
extern const struct route h_display_routes[];
extern const struct route h_admin_routes[];
extern const struct route h_stats_routes[];
extern const struct route h_audit_routes[];
extern const struct route h_city_routes[];
/* Routes that exist only under --test-clock: elsewhere they are 404 before anything else. */
extern const struct route h_test_clock_routes[];

/* Finds the route for R (sets r->route and r->param) or replies 404/405. */
int router_match(struct req *r);
const char *method_name(enum method m);

#endif
