/* handlers.h: pieces the handler files share. */
#ifndef HANGDOI_HANDLERS_H
#define HANGDOI_HANDLERS_H

#include <jansson.h>

#include "config.h"
#include "httpd.h"

/* The point of the first path parameter, or NULL with 404 answered. */
const struct point *path_point(struct req *r);
json_t *service_json(const struct service *s);
json_t *counter_json(const struct counter *k, int with_services);
/* Whether the request's token may act for point P (kiosk of P, or admin); 403 answered if not. */
int may_act_for_point(struct req *r, const struct point *p);
/* The places still free on DAY at P's S in its slots not yet started at NOW; -1 when the
 * counts cannot be read (h_public.c, as availability counts them). */
int free_places(const struct point *p, const struct service *s, int day, int64_t now);
/* Drops the availability answers kept (h_public.c), at shutdown. */
void availability_forget(void);

#endif
