/* unit.h: what the unit tests share: cmocka, catalogues built from JSON text, typed JSON fields. */
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

/* Parses TEXT as JSON; a text that is not JSON fails the test: every fixture here is JSON. */
static inline json_t *
unit_json_load(const char *text)
{
	json_error_t e;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &e);
	if (root == NULL)
		fail_msg("fixture is not JSON: %s at %d:%d\n%s", e.text, e.line, e.column, text);
	return root;
}

/* Parses TEXT (JSON) into a catalogue; NULL with PR filled when the loader refuses it. */
static inline struct catalogue *
unit_catalogue(const char *text, struct problems *pr)
{
	return catalogue_parse(unit_json_load(text), pr);
}

/* A catalogue the loader must accept from ROOT (taken); its problems are printed when not. */
static inline struct catalogue *
unit_catalogue_root_ok(json_t *root)
{
	struct problems pr = {0};
	struct catalogue *c = catalogue_parse(root, &pr);
	for (int i = 0; i < pr.n; i++)
		print_error("unexpected problem: %s\n", pr.v[i]);
	int n = pr.n;
	problems_free(&pr);
	assert_int_equal(n, 0);
	assert_non_null(c);
	return c;
}

/* A catalogue the loader must accept from TEXT (JSON). */
static inline struct catalogue *
unit_catalogue_ok(const char *text)
{
	return unit_catalogue_root_ok(unit_json_load(text));
}

/*
 * The typed fields of a JSON object: each asserts that KEY is there with the type asked for
 * (an integer is a number too, as JSON has it).
 */
static inline json_t *
unit_json_field(const json_t *o, const char *key, json_type a, json_type b, const char *what)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL || (json_typeof(v) != a && json_typeof(v) != b))
		fail_msg("%s should be %s", key, what);
	return v;
}

static inline json_int_t
unit_json_int(const json_t *o, const char *key)
{
	return json_integer_value(unit_json_field(o, key, JSON_INTEGER, JSON_INTEGER, "an integer"));
}

static inline double
unit_json_num(const json_t *o, const char *key)
{
	return json_number_value(unit_json_field(o, key, JSON_INTEGER, JSON_REAL, "a number"));
}

static inline const char *
unit_json_str(const json_t *o, const char *key)
{
	return json_string_value(unit_json_field(o, key, JSON_STRING, JSON_STRING, "a string"));
}

/* KEY is there, and null (not merely missing). */
static inline void
unit_json_null(const json_t *o, const char *key)
{
	(void)unit_json_field(o, key, JSON_NULL, JSON_NULL, "null");
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

/*
 * The catalogue of unit_point_json(HOURS, CLOSED, SERVICES, COUNTERS), which the loader must
 * accept; its point "cua-nam" in *P when P is not NULL.
 */
static inline struct catalogue *
unit_point_catalogue(const char *hours, const char *closed, const char *services,
                     const char *counters, const struct point **p)
{
	char *text = unit_point_json(hours, closed, services, counters);
	struct catalogue *c = unit_catalogue_ok(text);
	free(text);
	const struct point *found = catalogue_point(c, "cua-nam");
	assert_non_null(found);
	if (p)
		*p = found;
	return c;
}

#endif
