/* unit.h: what the unit tests share: cmocka, and catalogues built from JSON text. */
#ifndef HANGDOI_UNIT_H
#define HANGDOI_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config.h"
#include "dates.h"

#define NELEM(a) (sizeof(a) / sizeof *(a))

/* The days the tests speak of (days since 1970-01-01). */
#define MON_2026_11_23 20780 /* a Monday */
#define SAT_2026_11_28 20785
#define SUN_2026_11_29 20786

/* The contract's example catalogue's tokens: enough for catalogue_parse to accept one. */
#define UNIT_TOKENS "[{\"name\": \"ops\", \"role\": \"admin\", \"token\": \"admin-token-1234\"}]"
#define UNIT_SECRET "unit-test-secret-32-bytes-or-more......."

/*
 * Parses TEXT (JSON) into a catalogue; NULL with PR filled when the loader refuses it. A text
 * that is not JSON at all fails the test: every fixture here is JSON.
 */
static inline struct catalogue *
unit_catalogue(const char *text, struct problems *pr)
{
	json_error_t e;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (root == NULL)
		fail_msg("fixture is not JSON: %s at %d:%d\n%s", e.text, e.line, e.column, text);
	return catalogue_parse(root, pr);
}

/* A catalogue the loader must accept; its problems are printed when it does not. */
static inline struct catalogue *
unit_catalogue_ok(const char *text)
{
	struct problems pr = {0};
	struct catalogue *c = unit_catalogue(text, &pr);
	for (int i = 0; i < pr.n; i++)
		print_error("unexpected problem: %s\n", pr.v[i]);
	int n = pr.n;
	problems_free(&pr);
	assert_int_equal(n, 0);
	assert_non_null(c);
	return c;
}

/* printf into a malloc'd string (the fixtures are built from parts). */
static inline char *unit_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *
unit_format(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* A whole catalogue of one point "cua-nam" with HOURS, CLOSED and SERVICES (JSON texts). */
static inline char *
unit_point_json(const char *hours, const char *closed, const char *services, const char *counters)
{
	return unit_format("{\"listen\": \"127.0.0.1:0\", \"database\": \"unit.db\","
	                   " \"citizen_id_secret\": \"" UNIT_SECRET "\", \"tokens\": " UNIT_TOKENS
	                   ","
	                   " \"points\": [{\"id\": \"cua-nam\", \"name\": \"Phường Cửa Nam\","
	                   " \"hours\": %s, \"closed\": %s, \"services\": %s, \"counters\": %s}]}",
	                   hours, closed, services, counters);
}

#endif
