/* reply.h: JSON answers and the contract's error table. */
#ifndef HANGDOI_REPLY_H
#define HANGDOI_REPLY_H

#include "httpd.h"

enum err {
	E_OK,
	E_INVALID_JSON,
	E_INVALID_FIELD,
	E_UNAUTHORIZED,
	E_FORBIDDEN,
	E_NOT_FOUND,
	E_METHOD_NOT_ALLOWED,
	E_SLOT_FULL,
	E_DUPLICATE_BOOKING,
	E_TOO_MANY_BOOKINGS,
	E_DAILY_LIMIT_REACHED,
	E_BOOKING_SUSPENDED,
	E_INVALID_STATE,
	E_PAYLOAD_TOO_LARGE,
	E_UNSUPPORTED_MEDIA_TYPE,
	E_OUTSIDE_HORIZON,
	E_CLOSED,
	E_SLOT_PASSED,
	E_CHECKIN_NOT_OPEN,
	E_CHECKIN_CLOSED,
	E_WRONG_POINT,
	E_IDEMPOTENCY_MISMATCH,
	E_INVALID_CONFIG,
	E_RATE_LIMITED,
	E_UNAVAILABLE,
	E__MAX
};

int err_status(enum err e);
const char *err_code(enum err e);
const char *err_message(enum err e);

#define JSON_TYPE "application/json; charset=utf-8"

/* Takes ownership of BODY (may be NULL: an empty answer). */
void reply_json(struct req *r, int status, json_t *body);
/* The contract's error object; FIELD may be NULL; FMT NULL uses the code's own message. */
void reply_error(struct req *r, enum err e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* BODY as compact JSON text, malloc'd, its length in *LEN; NULL when out of memory. */
char *reply_text(const json_t *body, size_t *len);
/* Takes ownership of BODY, which was malloc'd. */
void reply_raw(struct req *r, int status, const char *type, char *body, size_t len);
/* Builds the error document alone (for stored answers and reload reports). */
json_t *error_body(enum err e, const char *field, const char *message);

#endif
