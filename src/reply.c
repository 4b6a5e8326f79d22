/* reply.c: JSON answers and the contract's error table. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "reply.h"

static const struct {
	int status;
	const char *code, *message;
} errors[E__MAX] = {
    [E_OK] = {200, "ok", "ok"},
    [E_INVALID_JSON] = {400, "invalid_json", "the body is not a JSON object"},
    [E_INVALID_FIELD] = {400, "invalid_field", "a field is missing, of the wrong type, or malformed"},
    [E_UNAUTHORIZED] = {401, "unauthorized", "a valid bearer token is required"},
    [E_FORBIDDEN] = {403, "forbidden", "the token does not cover this resource"},
    [E_NOT_FOUND] = {404, "not_found", "not found"},
    [E_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "method not allowed"},
    [E_SLOT_FULL] = {409, "slot_full", "no capacity left in that slot"},
    [E_DUPLICATE_BOOKING] = {409, "duplicate_booking",
                             "the citizen already holds an active booking for that service on that date"},
    [E_TOO_MANY_BOOKINGS] = {409, "too_many_bookings",
                             "the citizen holds the maximum number of active bookings"},
    [E_DAILY_LIMIT_REACHED] = {409, "daily_limit_reached",
                               "the service's walk-in tickets for today are used up"},
    [E_BOOKING_SUSPENDED] = {409, "booking_suspended",
                             "booking is suspended after repeated no-shows"},
    [E_INVALID_STATE] = {409, "invalid_state", "the action does not fit the current state"},
    [E_PAYLOAD_TOO_LARGE] = {413, "payload_too_large", "the body is larger than 16 KiB"},
    [E_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type",
                                  "a body needs Content-Type: application/json"},
    [E_OUTSIDE_HORIZON] = {422, "outside_horizon", "the date is outside the booking horizon"},
    [E_CLOSED] = {422, "closed", "the point is closed then, or the slot does not exist"},
    [E_SLOT_PASSED] = {422, "slot_passed", "the slot has already started"},
    [E_CHECKIN_NOT_OPEN] = {422, "checkin_not_open", "check-in is not open yet"},
    [E_CHECKIN_CLOSED] = {422, "checkin_closed", "check-in has closed"},
    [E_WRONG_POINT] = {422, "wrong_point", "the booking is for another point"},
    [E_IDEMPOTENCY_MISMATCH] = {422, "idempotency_mismatch",
                                "the Idempotency-Key was used with a different body"},
    [E_INVALID_CONFIG] = {400, "invalid_config", "the configuration has problems"},
    [E_RATE_LIMITED] = {429, "rate_limited", "too many requests"},
    [E_UNAVAILABLE] = {503, "unavailable", "storage failure or shutting down; nothing was changed"},
};

int
err_status(enum err e)
{
	return errors[e].status;
}

const char *
err_code(enum err e)
{
	return errors[e].code;
}

const char *
err_message(enum err e)
{
	return errors[e].message;
}

void
reply_raw(struct req *r, int status, const char *type, char *body, size_t len)
{
	free(r->out);
	r->status = status;
	r->content_type = type;
	r->out = body;
	r->out_len = len;
	r->replied = 1;
}

/*
 * BODY as compact JSON, into a block that starts at the size of most answers and grows by
 * half: json_dumps would start at 16 bytes, double six times for a booking's answer, and copy
 * the result once more. (Under 1 KiB: glibc serves that from its small bins.)
 */
struct out {
	char *s;
	size_t len, cap;
};

static int
put(const char *buf, size_t n, void *arg)
{
	struct out *o = arg;
	if (o->len + n > o->cap) {
		size_t cap = o->cap + o->cap / 2;
		if (cap < o->len + n)
			cap = o->len + n;
		char *t = realloc(o->s, cap);
		if (t == NULL)
			return -1;
		o->s = t;
		o->cap = cap;
	}
	memcpy(o->s + o->len, buf, n);
	o->len += n;
	return 0;
}

char *
reply_text(const json_t *body, size_t *len)
{
	struct out o = {malloc(1000), 0, 1000};
	if (o.s == NULL || json_dump_callback(body, put, &o, JSON_COMPACT) != 0 || o.len == 0) {
		free(o.s);
		return NULL;
	}
	*len = o.len;
	return o.s;
}

void
reply_json(struct req *r, int status, json_t *body)
{
	char *s = NULL;
	size_t len = 0;
	if (body != NULL) {
		s = reply_text(body, &len);
		json_decref(body);
	}
	if (body != NULL && s == NULL) {
		status = 503;
		s = strdup("{\"error\":{\"code\":\"unavailable\",\"message\":\"out of memory\"}}");
		len = s ? strlen(s) : 0;
	}
	reply_raw(r, status, JSON_TYPE, s, len);
}

json_t *
error_body(enum err e, const char *field, const char *message)
{
	json_t *o = json_pack("{s:s,s:s}", "code", errors[e].code, "message",
	                      message ? message : errors[e].message);
	if (o && field)
		json_object_set_new(o, "field", json_string(field));
	return json_pack("{s:o}", "error", o);
}

/*
 * Makes S valid UTF-8 in place: a message quotes what the client sent (an id, a value), which
 * may be any bytes, and may have been cut inside a character. Each byte that starts no valid
 * character becomes '?'.
 */
static void
utf8_clean(char *s)
{
	utf8proc_int32_t c;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
		                                        (utf8proc_ssize_t)(n - i), &c);
		if (len > 0 && c != 0) {
			i += (size_t)len;
		} else {
			s[i++] = '?';
		}
	}
}

void
reply_error(struct req *r, enum err e, const char *field, const char *fmt, ...)
{
	char msg[256];
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		utf8_clean(msg);
	}
	json_t *body = error_body(e, field, fmt ? msg : NULL);
	if (body == NULL) /* out of memory: the table's own message may still fit */
		body = error_body(e, NULL, NULL);
	reply_json(r, errors[e].status, body);
}
