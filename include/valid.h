/* valid.h: validation of request fields, pure functions. */
#ifndef HANGDOI_VALID_H
#define HANGDOI_VALID_H

#include <jansson.h>

#include "httpd.h"

int valid_citizen_id(const char *s); /* 12 digits */
int valid_phone(const char *s);      /* 10 digits starting with 0 */
int valid_priority(const char *s);   /* one of the contract's five */
int valid_dossier(const char *s);    /* 1-64 printable ASCII */
int valid_idem_key(const char *s);   /* 1-64 of [A-Za-z0-9_-] */
int valid_code(const char *s);       /* 8-16 of [A-Z0-9] */
int valid_utf8_text(const char *s, size_t max_chars);

/*
 * Request helpers: each answers 400 invalid_field naming the field and returns -1 when the
 * field is wrong. Optional fields that are absent or null give NULL / 0.
 */
int field_string(struct req *r, const char *name, int required, int (*check)(const char *),
                 const char **out);
int field_date(struct req *r, const char *name, int *day);
int field_hhmm(struct req *r, const char *name, int *minute);
int query_string(struct req *r, const char *name, int required, int (*check)(const char *),
                 const char **out);
int query_date(struct req *r, const char *name, int required, int *day, int *given);

/* HMAC-SHA-256 of a citizen id with the configured secret, as hex; -1 if libcrypto fails. */
int citizen_hash(const char *id, char out[65]);

#endif
