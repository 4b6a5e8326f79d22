/* valid.c: validation of request fields; the citizen id's keyed hash. */
#include <string.h>

#include "config.h"
#include "dates.h"
#include "digest.h"
#include "reply.h"
#include "valid.h"

static int
all_digits(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
valid_citizen_id(const char *s)
{
	return all_digits(s, 12);
}

int
valid_phone(const char *s)
{
	return all_digits(s, 10) && s[0] == '0';
}

int
valid_priority(const char *s)
{
	static const char *const names[] = {"elderly", "disabled", "pregnant", "child_under_6", "merit"};
	for (size_t i = 0; s && i < sizeof names / sizeof *names; i++)
		if (strcmp(s, names[i]) == 0)
			return 1;
	return 0;
}

int
valid_dossier(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

int
valid_idem_key(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
valid_code(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 8 || n > 16)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* Jansson has already refused invalid UTF-8; this bounds the length and refuses controls. */
int
valid_utf8_text(const char *s, size_t max_chars)
{
	size_t chars = 0;
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		if (*p < 0x20 && *p != '\n')
			return 0;
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	return s != NULL && chars >= 1 && chars <= max_chars;
}

int
field_string(struct req *r, const char *name, int required, int (*check)(const char *),
             const char **out)
{
	json_t *v = json_object_get(r->json, name);
	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		reply_error(r, E_INVALID_FIELD, name, "%s is required", name);
		return -1;
	}
	if (!json_is_string(v) || (check && !check(json_string_value(v)))) {
		reply_error(r, E_INVALID_FIELD, name, "%s is malformed", name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
field_date(struct req *r, const char *name, int *day)
{
	const char *s;
	if (field_string(r, name, 1, NULL, &s))
		return -1;
	if (date_parse(s, day)) {
		reply_error(r, E_INVALID_FIELD, name, "%s must be a date YYYY-MM-DD", name);
		return -1;
	}
	return 0;
}

int
field_hhmm(struct req *r, const char *name, int *minute)
{
	const char *s;
	if (field_string(r, name, 1, NULL, &s))
		return -1;
	if (hhmm_parse(s, minute)) {
		reply_error(r, E_INVALID_FIELD, name, "%s must be a time HH:MM", name);
		return -1;
	}
	return 0;
}

int
query_string(struct req *r, const char *name, int required, int (*check)(const char *),
             const char **out)
{
	*out = req_query(r, name);
	if (*out == NULL) {
		if (!required)
			return 0;
		reply_error(r, E_INVALID_FIELD, name, "query parameter %s is required", name);
		return -1;
	}
	if (check && !check(*out)) {
		reply_error(r, E_INVALID_FIELD, name, "query parameter %s is malformed", name);
		return -1;
	}
	return 0;
}

int
query_date(struct req *r, const char *name, int required, int *day, int *given)
{
	const char *s;
	*given = 0;
	if (query_string(r, name, required, NULL, &s))
		return -1;
	if (s == NULL)
		return 0;
	if (date_parse(s, day)) {
		reply_error(r, E_INVALID_FIELD, name, "%s must be a date YYYY-MM-DD", name);
		return -1;
	}
	*given = 1;
	return 0;
}

int
citizen_hash(const char *id, char out[65])
{
	return digest_hmac(cat->secret, cat->secret_len, id, out);
}
