/* router.c: matches a request against the handler tables; 404 and 405 with Allow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "reply.h"
#include "router.h"

static const struct route *const tables[] = {
    h_public_routes, h_bookings_routes, h_queue_routes, h_display_routes, h_admin_routes, h_stats_routes, h_audit_routes, h_city_routes,
    h_test_clock_routes, /* the last: searched only under --test-clock */
};

static const char *const method_names[M__MAX] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "?"};

const char *
method_name(enum method m)
{
	return method_names[m];
}

/*
 * Matches PATH segment by segment; ":x" takes one non-empty segment, copied into SCRATCH with
 * PARAM pointing at it. *USED: the bytes of SCRATCH the parameters take.
 */
static int
pattern_match(const char *pat, const char *path, const char **param, char *scratch, size_t cap,
              size_t *usedp)
{
	int np = 0;
	size_t used = 0;
	while (*pat && *path) {
		if (*pat != '/' || *path != '/')
			return 0;
		pat++, path++;
		const char *pe = strchr(pat, '/'), *se = strchr(path, '/');
		size_t pl = pe ? (size_t)(pe - pat) : strlen(pat);
		size_t sl = se ? (size_t)(se - path) : strlen(path);
		if (pat[0] == ':') {
			if (sl == 0 || np == PARAMS_MAX || used + sl + 1 > cap)
				return 0;
			memcpy(scratch + used, path, sl);
			scratch[used + sl] = 0;
			param[np++] = scratch + used;
			used += sl + 1;
		} else if (pl != sl || memcmp(pat, path, sl) != 0) {
			return 0;
		}
		pat += pl, path += sl;
	}
	*usedp = used;
	return *pat == 0 && *path == 0;
}

int
router_match(struct req *r)
{
	char scratch[1024];
	const char *param[PARAMS_MAX];
	char allow[64] = "";
	size_t n = strlen(r->url), used;
	if (n >= sizeof scratch) {
		reply_error(r, E_NOT_FOUND, NULL, "no such resource");
		return -1;
	}
	size_t ntables = sizeof tables / sizeof *tables - !clock_is_test();
	for (size_t t = 0; t < ntables; t++)
		for (const struct route *rt = tables[t]; rt->pattern; rt++) {
			if (!pattern_match(rt->pattern, r->url, param, scratch, sizeof scratch, &used))
				continue;
			if (rt->method == r->method || (r->method == M_HEAD && rt->method == M_GET)) {
				r->route = rt;
				if (used == 0)
					return 0;
				r->path = malloc(used);
				if (r->path == NULL) {
					reply_error(r, E_UNAVAILABLE, NULL, "out of memory");
					return -1;
				}
				memcpy(r->path, scratch, used);
				/* Re-point the parameters into the saved copy. */
				int np = 0;
				for (const char *p = rt->pattern; *p; p++)
					if (*p == ':')
						np++;
				for (int i = 0; i < np; i++)
					r->param[i] = r->path + (param[i] - scratch);
				return 0;
			}
			/* HEAD is served wherever GET is. */
			const char *m = rt->method == M_GET ? "GET, HEAD" : method_name(rt->method);
			size_t len = strlen(allow);
			if (strstr(allow, m) == NULL)
				snprintf(allow + len, sizeof allow - len, "%s%s", len ? ", " : "", m);
		}
	if (allow[0]) {
		snprintf(r->allow, sizeof r->allow, "%s", allow);
		reply_error(r, E_METHOD_NOT_ALLOWED, NULL, "allowed: %s", allow);
	} else {
		reply_error(r, E_NOT_FOUND, NULL, "no such resource");
	}
	return -1;
}
