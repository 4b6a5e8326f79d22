/* main.c: arguments, signals, start and ordered shutdown. */
#include <errno.h>
#include <curl/curl.h>
#include <getopt.h>
#include <netdb.h>
#include <openssl/opensslv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "clock.h"
#include "audit.h"
#include "config.h"
#include "dates.h"
#include "db.h"
#include "deadline.h"
#include "digest.h"
#include "events.h"
#include "handlers.h"
#include "httpd.h"
#include "log.h"
#include "ratelimit.h"
#include "reload.h"
#include "version.h"
#include "webhook.h"

static uv_loop_t loop;
static uv_signal_t sig_term, sig_int, sig_hup;
static int stopping;

static void
usage(FILE *f)
{
	fprintf(f, "usage: hangdoid --config FILE [--check-config] [--test-clock INSTANT]\n"
	           "       hangdoid --version | --help\n"
	           "\n"
	           "  --config FILE          the JSON configuration (catalogue, tokens, listen, database)\n"
	           "  --check-config         validate FILE, print one line per problem, exit 0 or 1\n"
	           "  --test-clock INSTANT   start the clock at INSTANT (tests only; enables PUT /v1/admin/clock)\n"
	           "  --backup OUT.db        write a consistent copy of the database to OUT.db (safe while serving)\n"
	           "  --verify-audit         check the audit trail's hash chain; exit 0, or 1 naming the first bad event\n"
	           "  --version              print the versions of hangdoi and its libraries\n");
}

static void
version(void)
{
	printf("hangdoid %s\nlibmicrohttpd %s\nlibuv %s\nsqlite %s\njansson %s\n%s\n%s\n",
	       HANGDOI_VERSION, MHD_get_version(), uv_version_string(), sqlite3_libversion(),
	       jansson_version_str(), OPENSSL_VERSION_TEXT, curl_version());
}

static void
print_problems(const struct problems *pr)
{
	for (int i = 0; i < pr->n; i++)
		fprintf(stderr, "%s\n", pr->v[i]);
}

/* The HTTP side has answered everything: the last commit, then the loop ends. */
static void
on_stopped(void)
{
	webhook_close(); /* attempts in flight stay pending */
	if (db_in_txn() && db_commit())
		log_error("the last commit failed");
	events_close();
	deadline_close();
}

static void
on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	if (signum == SIGHUP) {
		struct problems pr = {0};
		reload_catalogue(&pr); /* logs what it refuses */
		problems_free(&pr);
		return;
	}
	if (stopping)
		return;
	stopping = 1;
	log_info("stopping on signal %d", signum);
	sd_notify(0, "STOPPING=1");
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_hup, NULL);
	httpd_stop(on_stopped);
}

/* A consistent copy through SQLite's online backup API: a read snapshot, safe while serving. */
static int
backup_to(const char *out)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	int rc = 1;
	if (sqlite3_open_v2(cat->database, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "hangdoid: cannot open database %s: %s\n", cat->database,
		        src ? sqlite3_errmsg(src) : "out of memory");
		goto out;
	}
	if (sqlite3_open_v2(out, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		fprintf(stderr, "hangdoid: cannot create %s: %s\n", out, dst ? sqlite3_errmsg(dst) : "?");
		goto out;
	}
	sqlite3_busy_timeout(src, 5000);
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		fprintf(stderr, "hangdoid: backup: %s\n", sqlite3_errmsg(dst));
		goto out;
	}
	int step = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (step != SQLITE_DONE) {
		fprintf(stderr, "hangdoid: backup: %s\n", sqlite3_errstr(step));
		goto out;
	}
	printf("backup of %s written to %s\n", cat->database, out);
	rc = 0;
out:
	sqlite3_close(src);
	sqlite3_close(dst);
	return rc;
}

static int
verify_audit(void)
{
	char err[512];
	if (db_open(cat->database, err, sizeof err)) {
		fprintf(stderr, "hangdoid: %s\n", err);
		return 1;
	}
	int rc = audit_verify(err, sizeof err);
	db_close();
	if (rc) {
		fprintf(stderr, "hangdoid: audit trail broken: %s\n", err);
		return 1;
	}
	printf("audit trail intact\n");
	return 0;
}

/* Binds the listen address ourselves, so a busy port gets a clear one-line reason. */
static int
listen_on(const char *addr, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	size_t hl = colon ? (size_t)(colon - addr) : 0;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int fd = -1, one = 1;
	if (colon == NULL || hl >= sizeof host) {
		snprintf(err, errlen, "listen: must be HOST:PORT");
		return -1;
	}
	memcpy(host, addr, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1024)) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},  {"check-config", no_argument, NULL, 'k'},
	    {"test-clock", required_argument, NULL, 't'}, {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},          {"backup", required_argument, NULL, 'b'},
	    {"verify-audit", no_argument, NULL, 'a'},  {NULL, 0, NULL, 0}};
	int check = 0, verify = 0, opt, rc = 1, fd = -1;
	const char *backup = NULL;
	int64_t test_start = 0;
	char err[512];
	struct problems pr = {0};

	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			reload_file = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 't':
			if (instant_parse(optarg, &test_start) || !clock_in_range(test_start)) {
				fprintf(stderr, "hangdoid: --test-clock: must be an instant like "
				                "2026-11-23T08:00:00+07:00, from 2000 to 9998 (UTC)\n");
				return 1;
			}
			break;
		case 'b':
			backup = optarg;
			break;
		case 'a':
			verify = 1;
			break;
		case 'V':
			version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (reload_file == NULL || optind != argc) {
		usage(stderr);
		return 1;
	}
	cat = catalogue_load(reload_file, &pr);
	if (check) {
		print_problems(&pr);
		problems_free(&pr);
		catalogue_free(cat);
		return cat ? 0 : 1;
	}
	if (cat == NULL) {
		fprintf(stderr, "hangdoid: invalid configuration %s: %s%s\n", reload_file,
		        pr.n ? pr.v[0] : "unreadable", pr.n > 1 ? " (and more: run --check-config)" : "");
		problems_free(&pr);
		return 1;
	}
	if (backup || verify) {
		rc = backup ? backup_to(backup) : verify_audit();
		goto out_cat;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Displays hold connections open: take every descriptor the hard limit allows. */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	clock_init(test_start);
	if (db_open(cat->database, err, sizeof err)) {
		fprintf(stderr, "hangdoid: %s\n", err);
		goto out_cat;
	}
	/* Socket activation: systemd hands us the listening socket. */
	if (sd_listen_fds(0) == 1)
		fd = SD_LISTEN_FDS_START;
	else if ((fd = listen_on(cat->listen, err, sizeof err)) < 0) {
		fprintf(stderr, "hangdoid: %s\n", err);
		goto out_db;
	}
	uv_loop_init(&loop);
	if (db_pipeline_start(&loop, cat->limits.checkpoint_frames)) {
		fprintf(stderr, "hangdoid: cannot set up the commit pipeline for %s\n", cat->database);
		close(fd);
		goto out_loop;
	}
	if (webhook_init(&loop)) {
		fprintf(stderr, "hangdoid: cannot start the webhook sender\n");
		close(fd);
		goto out_loop;
	}
	if (httpd_start(&loop, cat, fd)) {
		fprintf(stderr, "hangdoid: cannot start the HTTP server on %s\n", cat->listen);
		close(fd);
		webhook_close();
		uv_run(&loop, UV_RUN_NOWAIT); /* its handles' closing */
		goto out_loop;
	}
	events_init(&loop);
	deadline_init(&loop);
	deadline_run();
	uv_signal_init(&loop, &sig_term);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_signal_init(&loop, &sig_int);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_init(&loop, &sig_hup);
	uv_signal_start(&sig_hup, on_signal, SIGHUP);
	log_info("hangdoid %s listening on %s, database %s%s", HANGDOI_VERSION, cat->listen,
	         cat->database, clock_is_test() ? " (test clock)" : "");

	sd_notify(0, "READY=1");
	uv_run(&loop, UV_RUN_DEFAULT);
	log_info("stopped");
	rc = 0;
out_loop:
	if (uv_loop_close(&loop) != 0) {
		log_error("the loop still has open handles at exit");
		rc = 1;
	}
out_db:
	db_close();
out_cat:
	availability_forget();
	digest_free();
	ratelimit_free();
	catalogue_free(cat);
	cat = NULL;
	log_flush();
	return rc;
}
