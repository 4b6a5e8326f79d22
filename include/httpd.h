/* httpd.h: libmicrohttpd driven by the libuv loop; one struct req per request. */
#ifndef HANGDOI_HTTPD_H
#define HANGDOI_HTTPD_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

#define BODY_MAX 16384
#define PARAMS_MAX 4

enum method { M_GET, M_POST, M_PUT, M_PATCH, M_DELETE, M_HEAD, M_OTHER, M__MAX };

struct route;

struct req {
	struct MHD_Connection *conn;
	enum method method;
	const char *url; /* owned by libmicrohttpd for the request's life */
	char *path;      /* a copy that param[] points into */
	const char *param[PARAMS_MAX];
	const struct route *route;
	const struct token *tok; /* NULL when none or unknown */
	char ip[48];
	uint64_t t0; /* uv_hrtime at the first call */

	char *body;
	size_t body_len;
	int too_large;
	json_t *json; /* the parsed body, when the route takes one */

	/* The answer, set by reply_*(). */
	int status;
	char *out; /* malloc'd */
	size_t out_len;
	const char *content_type;
	char allow[64];
	int retry_after;
	struct MHD_Response *response; /* a prepared response (streams) */
	int replied, queued;

	int wait_commit; /* touched the open transaction: answer after the group commit */
	int suspended;
	struct req *next_pending;

	/* A handler that keeps the connection (long-poll, event stream) sets these. */
	void *hold;
	void (*release)(struct req *r); /* called once when the request ends */
};

int httpd_start(uv_loop_t *loop, const struct catalogue *c, int listen_fd);
/* Stops accepting, answers every held connection, then stops; DONE runs when it has. */
void httpd_stop(void (*done)(void));
/* Suspends R until httpd_resume; the handler keeps it (long-poll, stream). */
void httpd_suspend(struct req *r);
void httpd_resume(struct req *r);
/* Asks for an MHD run soon (after a resume, or for new stream data). */
void httpd_kick(void);
const char *req_header(struct req *r, const char *name);
const char *req_query(struct req *r, const char *name);
unsigned httpd_connections(void);

#endif
