/* test_config.c: src/config.c: the catalogue's validation, each problem named by its JSON path. */
#include <unistd.h>

#include "unit.h"

/* A valid catalogue of two points, every role of token; each case below breaks it. */
static const char *const base =
    "{\"listen\": \"127.0.0.1:8080\", \"database\": \"var/hangdoi.db\","
    " \"citizen_id_secret\": \"" UNIT_SECRET "\","
    " \"tokens\": ["
    "  {\"name\": \"ihanoi\", \"role\": \"app\", \"token\": \"app-token-123456\"},"
    "  {\"name\": \"kiosk-cua-nam\", \"role\": \"kiosk\", \"point\": \"cua-nam\","
    "   \"token\": \"kiosk-token-123456\"},"
    "  {\"name\": \"quay-1\", \"role\": \"counter\", \"counter\": \"cua-nam-1\","
    "   \"token\": \"counter-token-123456\"},"
    "  {\"name\": \"ops\", \"role\": \"admin\", \"token\": \"admin-token-123456\"}],"
    " \"points\": ["
    "  {\"id\": \"cua-nam\", \"name\": \"Phường Cửa Nam\", \"address\": \"Phố Hàng Bông\","
    "   \"hours\": {\"mon\": [\"07:30-12:00\", \"13:30-17:00\"], \"sat\": [\"07:30-11:30\"],"
    "             \"sun\": []},"
    "   \"closed\": [\"2027-01-01\"],"
    "   \"services\": ["
    "    {\"id\": \"cu-tru\", \"name\": \"Đăng ký cư trú\", \"prefix\": \"A\", \"slot_minutes\": "
    "30,"
    "     \"slot_capacity\": 6},"
    "    {\"id\": \"khai-sinh\", \"name\": \"Đăng ký khai sinh\", \"prefix\": \"B\","
    "     \"slot_minutes\": 15, \"slot_capacity\": 2, \"walkin_daily_limit\": 50,"
    "     \"avg_service_minutes\": 8, \"documents\": [\"Tờ khai đăng ký khai sinh\"],"
    "     \"fee_vnd\": 0}],"
    "   \"counters\": ["
    "    {\"id\": \"cua-nam-1\", \"name\": \"Quầy 1\", \"services\": [\"cu-tru\"]},"
    "    {\"id\": \"cua-nam-2\", \"name\": \"Quầy 2\", \"services\": [\"cu-tru\", "
    "\"khai-sinh\"]}]},"
    "  {\"id\": \"hoan-kiem\", \"name\": \"Phường Hoàn Kiếm\","
    "   \"hours\": {\"mon\": [\"08:00-11:00\"]},"
    "   \"services\": ["
    "    {\"id\": \"cu-tru\", \"name\": \"Đăng ký cư trú\", \"prefix\": \"A\", \"slot_minutes\": "
    "30,"
    "     \"slot_capacity\": 4}],"
    "   \"counters\": ["
    "    {\"id\": \"hoan-kiem-1\", \"name\": \"Quầy 1\", \"services\": [\"cu-tru\"]}]}]}";

/*
 * Sets the value at PATH ("points[1].services[0].prefix") of ROOT to VALUE (JSON text), or
 * deletes it when VALUE is NULL. The parent must exist.
 */
static void
set_path(json_t *root, const char *path, const char *value)
{
	char comp[32][64];
	int idx[32], n = 0;
	const char *p = path;
	while (*p) {
		assert_true(n < 32);
		if (*p == '[') {
			idx[n] = (int)strtol(p + 1, (char **)&p, 10);
			assert_int_equal(*p, ']');
			p++;
			comp[n++][0] = 0;
		} else {
			size_t len = strcspn(p, ".[");
			assert_true(len > 0 && len < 64);
			memcpy(comp[n], p, len);
			comp[n][len] = 0;
			idx[n++] = -1;
			p += len;
		}
		if (*p == '.')
			p++;
	}
	json_t *parent = root;
	for (int i = 0; i < n - 1; i++) {
		parent = idx[i] >= 0 ? json_array_get(parent, (size_t)idx[i])
		                     : json_object_get(parent, comp[i]);
		if (parent == NULL)
			fail_msg("fixture path %s: no %s", path, comp[i][0] ? comp[i] : "index");
	}
	json_t *v = NULL;
	if (value) {
		json_error_t e;
		v = json_loads(value, JSON_DECODE_ANY, &e);
		if (v == NULL)
			fail_msg("fixture value %s: %s", value, e.text);
	}
	int last = n - 1;
	if (idx[last] >= 0) {
		if (v)
			assert_int_equal(json_array_set_new(parent, (size_t)idx[last], v), 0);
		else
			assert_int_equal(json_array_remove(parent, (size_t)idx[last]), 0);
	} else {
		if (v)
			assert_int_equal(json_object_set_new(parent, comp[last], v), 0);
		else
			assert_int_equal(json_object_del(parent, comp[last]), 0);
	}
}

static json_t *
base_root(void)
{
	return unit_json_load(base);
}

/* Each problem is "PATH: message"; the path is the text before the first ": ". */
static int
has_problem(const struct problems *pr, const char *path, const char *fragment)
{
	size_t len = strlen(path);
	for (int i = 0; i < pr->n; i++)
		if (strncmp(pr->v[i], path, len) == 0 && strncmp(pr->v[i] + len, ": ", 2) == 0 &&
		    pr->v[i][len + 2] != 0 &&
		    (fragment == NULL || strstr(pr->v[i] + len + 2, fragment)))
			return 1;
	return 0;
}

static void
print_problems(const char *title, const struct problems *pr)
{
	print_error("%s: %d problem(s)\n", title, pr->n);
	for (int i = 0; i < pr->n; i++)
		print_error("  %s\n", pr->v[i]);
}

struct change {
	const char *path, *value; /* value NULL: delete */
};

struct expect {
	const char *path, *fragment; /* fragment NULL: any message */
};

struct config_case {
	const char *name;
	struct change change[3];
	struct expect expect[4];
};

#define DEL NULL

static const struct config_case cases[] = {
    /* The contract's own example of a problem line. */
    {"prefix lower-case",
     {{"points[1].services[0].prefix", "\"a\""}},
     {{"points[1].services[0].prefix", "must be 1-2 capital letters"}}},
    {"prefix of three letters",
     {{"points[0].services[1].prefix", "\"ABC\""}},
     {{"points[0].services[1].prefix", "1-2 capital letters"}}},
    {"prefix with a digit",
     {{"points[0].services[0].prefix", "\"A1\""}},
     {{"points[0].services[0].prefix", "1-2 capital letters"}}},
    {"prefix Vietnamese capital",
     {{"points[0].services[0].prefix", "\"Đ\""}},
     {{"points[0].services[0].prefix", "1-2 capital letters"}}},
    {"prefix empty",
     {{"points[0].services[0].prefix", "\"\""}},
     {{"points[0].services[0].prefix", NULL}}},
    {"prefix missing",
     {{"points[0].services[0].prefix", DEL}},
     {{"points[0].services[0].prefix", "required"}}},
    {"prefix twice in a point",
     {{"points[0].services[1].prefix", "\"A\""}},
     {{"points[0].services[1].prefix", "duplicate"}}},
    {"service id twice in a point",
     {{"points[0].services[1].id", "\"cu-tru\""}},
     {{"points[0].services[1].id", "duplicate"}, {"points[0].counters[1].services[1]", "unknown"}}},
    {"service id malformed",
     {{"points[1].services[0].id", "\"Cu Tru\""}},
     {{"points[1].services[0].id", NULL}, {"points[1].counters[0].services[0]", "unknown"}}},
    {"service not an object",
     {{"points[0].services[1]", "5"}},
     {{"points[0].services[1]", NULL}, {"points[0].counters[1].services[1]", "unknown"}}},
    {"services empty",
     {{"points[1].services", "[]"}, {"points[1].counters", "[]"}},
     {{"points[1].services", NULL}}},
    {"services missing",
     {{"points[1].services", DEL}, {"points[1].counters", DEL}},
     {{"points[1].services", NULL}}},
    {"slot_minutes zero",
     {{"points[0].services[0].slot_minutes", "0"}},
     {{"points[0].services[0].slot_minutes", NULL}}},
    {"slot_minutes a string",
     {{"points[0].services[0].slot_minutes", "\"30\""}},
     {{"points[0].services[0].slot_minutes", NULL}}},
    {"slot_minutes a fraction",
     {{"points[0].services[1].slot_minutes", "7.5"}},
     {{"points[0].services[1].slot_minutes", NULL}}},
    {"slot_minutes missing",
     {{"points[1].services[0].slot_minutes", DEL}},
     {{"points[1].services[0].slot_minutes", "required"}}},
    {"slot_capacity negative",
     {{"points[0].services[0].slot_capacity", "-1"}},
     {{"points[0].services[0].slot_capacity", NULL}}},
    {"slot_capacity missing",
     {{"points[0].services[1].slot_capacity", DEL}},
     {{"points[0].services[1].slot_capacity", "required"}}},
    {"walkin_daily_limit negative",
     {{"points[0].services[1].walkin_daily_limit", "-1"}},
     {{"points[0].services[1].walkin_daily_limit", NULL}}},
    {"avg_service_minutes zero",
     {{"points[0].services[1].avg_service_minutes", "0"}},
     {{"points[0].services[1].avg_service_minutes", NULL}}},
    {"documents a string",
     {{"points[0].services[1].documents", "\"CT01\""}},
     {{"points[0].services[1].documents", NULL}}},
    {"documents of numbers",
     {{"points[0].services[1].documents", "[\"CT01\", 1]"}},
     {{"points[0].services[1].documents", NULL}}},
    {"fee negative",
     {{"points[0].services[1].fee_vnd", "-1000"}},
     {{"points[0].services[1].fee_vnd", NULL}}},
    {"fee a fraction",
     {{"points[0].services[1].fee_vnd", "1.5"}},
     {{"points[0].services[1].fee_vnd", NULL}}},
    {"service name missing",
     {{"points[0].services[1].name", DEL}},
     {{"points[0].services[1].name", "required"}}},
    {"point id twice", {{"points[1].id", "\"cua-nam\""}}, {{"points[1].id", "duplicate"}}},
    {"point id malformed",
     {{"points[0].id", "\"Cửa Nam\""}},
     {{"points[0].id", NULL}, {"tokens[1].point", "unknown"}}},
    {"point id too long",
     {{"points[1].id", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""}},
     {{"points[1].id", NULL}}},
    {"point name missing", {{"points[0].name", DEL}}, {{"points[0].name", "required"}}},
    {"point not an object", {{"points[1]", "[]"}}, {{"points[1]", NULL}}},
    {"hours interval backwards",
     {{"points[0].hours.mon[1]", "\"17:00-13:30\""}},
     {{"points[0].hours.mon[1]", NULL}}},
    {"hours interval empty",
     {{"points[0].hours.mon[0]", "\"07:30-07:30\""}},
     {{"points[0].hours.mon[0]", NULL}}},
    {"hours interval malformed",
     {{"points[0].hours.sat[0]", "\"7:30-11:30\""}},
     {{"points[0].hours.sat[0]", NULL}}},
    {"hours interval hour 24",
     {{"points[1].hours.mon[0]", "\"08:00-24:00\""}},
     {{"points[1].hours.mon[0]", NULL}}},
    {"hours interval not a string",
     {{"points[1].hours.mon[0]", "800"}},
     {{"points[1].hours.mon[0]", NULL}}},
    {"hours overlap",
     {{"points[0].hours.mon[1]", "\"11:00-13:00\""}},
     {{"points[0].hours.mon[1]", "overlap"}}},
    {"hours out of order",
     {{"points[0].hours.mon", "[\"13:30-17:00\", \"07:30-12:00\"]"}},
     {{"points[0].hours.mon[1]", NULL}}},
    {"hours of nine intervals",
     {{"points[1].hours.tue", "[\"07:00-07:10\", \"07:20-07:30\", \"07:40-07:50\", \"08:00-08:10\","
                              " \"08:20-08:30\", \"08:40-08:50\", \"09:00-09:10\", \"09:20-09:30\","
                              " \"09:40-09:50\"]"}},
     {{"points[1].hours.tue", NULL}}},
    {"hours unknown day",
     {{"points[0].hours.monday", "[\"07:30-12:00\"]"}},
     {{"points[0].hours.monday", NULL}}},
    {"hours of a day not an array",
     {{"points[0].hours.tue", "\"07:30-12:00\""}},
     {{"points[0].hours.tue", NULL}}},
    {"hours not an object", {{"points[1].hours", "[]"}}, {{"points[1].hours", NULL}}},
    {"hours missing", {{"points[1].hours", DEL}}, {{"points[1].hours", "required"}}},
    {"closed date impossible",
     {{"points[0].closed[0]", "\"2027-02-30\""}},
     {{"points[0].closed[0]", NULL}}},
    {"closed date in another form",
     {{"points[0].closed", "[\"2027-01-01\", \"01/05/2027\"]"}},
     {{"points[0].closed[1]", NULL}}},
    {"closed not an array", {{"points[0].closed", "\"2027-01-01\""}}, {{"points[0].closed", NULL}}},
    {"counter serves an unknown service",
     {{"points[0].counters[1].services[1]", "\"ho-tich\""}},
     {{"points[0].counters[1].services[1]", "unknown"}}},
    {"counter serves another point's service",
     {{"points[1].counters[0].services[0]", "\"khai-sinh\""}},
     {{"points[1].counters[0].services[0]", "unknown"}}},
    {"counter serves nothing",
     {{"points[0].counters[1].services", "[]"}},
     {{"points[0].counters[1].services", NULL}}},
    {"counter id twice in a point",
     {{"points[0].counters[1].id", "\"cua-nam-1\""}},
     {{"points[0].counters[1].id", "duplicate"}}},
    {"counter id twice in the city",
     {{"points[1].counters[0].id", "\"cua-nam-2\""}},
     {{"points[1].counters[0].id", "duplicate"}}},
    {"counter id malformed",
     {{"points[0].counters[0].id", "\"-quay\""}},
     {{"points[0].counters[0].id", NULL}, {"tokens[2].counter", "unknown"}}},
    {"counter not an object",
     {{"points[1].counters[0]", "\"hoan-kiem-1\""}},
     {{"points[1].counters[0]", NULL}}},
    {"counters not an array", {{"points[1].counters", "{}"}}, {{"points[1].counters", NULL}}},
    {"points empty",
     {{"points", "[]"}},
     {{"points", NULL}, {"tokens[1].point", "unknown"}, {"tokens[2].counter", "unknown"}}},
    {"points missing",
     {{"points", DEL}},
     {{"points", NULL}, {"tokens[1].point", "unknown"}, {"tokens[2].counter", "unknown"}}},
    {"tokens missing", {{"tokens", DEL}}, {{"tokens", "required"}}},
    {"tokens not an array", {{"tokens", "{}"}}, {{"tokens", NULL}}},
    {"token not an object", {{"tokens[3]", "\"ops\""}}, {{"tokens[3]", NULL}}},
    {"token role unknown", {{"tokens[3].role", "\"root\""}}, {{"tokens[3].role", NULL}}},
    {"token role missing", {{"tokens[0].role", DEL}}, {{"tokens[0].role", "required"}}},
    {"kiosk of an unknown point",
     {{"tokens[1].point", "\"nowhere\""}},
     {{"tokens[1].point", "unknown"}}},
    {"kiosk without a point", {{"tokens[1].point", DEL}}, {{"tokens[1].point", "required"}}},
    {"counter token of an unknown counter",
     {{"tokens[2].counter", "\"cua-nam-9\""}},
     {{"tokens[2].counter", "unknown"}}},
    {"counter token without a counter",
     {{"tokens[2].counter", DEL}},
     {{"tokens[2].counter", "required"}}},
    {"token too short", {{"tokens[3].token", "\"short\""}}, {{"tokens[3].token", NULL}}},
    {"token missing", {{"tokens[3].token", DEL}}, {{"tokens[3].token", "required"}}},
    {"token given twice",
     {{"tokens[3].token", "\"app-token-123456\""}},
     {{"tokens[3].token", "twice"}}},
    {"token name twice", {{"tokens[3].name", "\"ihanoi\""}}, {{"tokens[3].name", "duplicate"}}},
    {"token name missing", {{"tokens[0].name", DEL}}, {{"tokens[0].name", "required"}}},
    {"listen missing", {{"listen", DEL}}, {{"listen", "required"}}},
    {"listen without a port", {{"listen", "\"localhost\""}}, {{"listen", NULL}}},
    {"listen not a string", {{"listen", "8080"}}, {{"listen", NULL}}},
    {"database missing", {{"database", DEL}}, {{"database", "required"}}},
    {"database empty", {{"database", "\"\""}}, {{"database", NULL}}},
    {"database on PostgreSQL",
     {{"database", "\"postgresql://hangdoi@db/hangdoi\""}},
     {{"database", "SQLite only"}}},
    {"webhooks not an array", {{"webhooks", "{}"}}, {{"webhooks", "array"}}},
    {"webhook not an object", {{"webhooks", "[\"https://example.org/h\"]"}}, {{"webhooks[0]", NULL}}},
    {"webhook url of another scheme",
     {{"webhooks", "[{\"url\": \"ftp://example.org/h\", \"secret\": \"s\", "
                   "\"events\": [\"ticket.called\"]}]"}},
     {{"webhooks[0].url", "http"}}},
    {"webhook url with a space",
     {{"webhooks", "[{\"url\": \"http://x y/h\", \"secret\": \"s\", "
                   "\"events\": [\"ticket.called\"]}]"}},
     {{"webhooks[0].url", "http"}}},
    {"webhook url, not a URL",
     {{"webhooks", "[{\"url\": \"http//example.org\", \"secret\": \"s\", "
                   "\"events\": [\"ticket.called\"]}]"}},
     {{"webhooks[0].url", "http"}}},
    {"webhook url without a host",
     {{"webhooks", "[{\"url\": \"https://\", \"secret\": \"s\", "
                   "\"events\": [\"ticket.called\"]}]"}},
     {{"webhooks[0].url", "http"}}},
    {"webhook secret missing, events empty",
     {{"webhooks", "[{\"url\": \"https://example.org/h\", \"events\": []}]"}},
     {{"webhooks[0].secret", NULL}, {"webhooks[0].events", NULL}}},
    {"webhook event unknown and twice",
     {{"webhooks", "[{\"url\": \"http://10.0.0.1/h\", \"secret\": \"s\", \"events\": "
                   "[\"ticket.called\", \"ticket.served\", \"ticket.called\"]}]"}},
     {{"webhooks[0].events[1]", "unknown"}, {"webhooks[0].events[2]", "twice"}}},
    {"secret missing", {{"citizen_id_secret", DEL}}, {{"citizen_id_secret", "required"}}},
    {"secret of 31 bytes",
     {{"citizen_id_secret", "\"0123456789012345678901234567890\""}},
     {{"citizen_id_secret", NULL}}},
    {"utc_offset malformed", {{"utc_offset", "\"+7\""}}, {{"utc_offset", NULL}}},
    {"utc_offset a number", {{"utc_offset", "7"}}, {{"utc_offset", NULL}}},
    {"horizon_days zero", {{"horizon_days", "0"}}, {{"horizon_days", NULL}}},
    {"horizon_days a string", {{"horizon_days", "\"7\""}}, {{"horizon_days", NULL}}},
    {"checkin_open_minutes negative",
     {{"checkin_open_minutes", "-1"}},
     {{"checkin_open_minutes", NULL}}},
    {"no_show_grace_minutes negative",
     {{"no_show_grace_minutes", "-5"}},
     {{"no_show_grace_minutes", NULL}}},
    {"max_active_bookings_per_citizen zero",
     {{"max_active_bookings_per_citizen", "0"}},
     {{"max_active_bookings_per_citizen", NULL}}},
    {"no_show_strikes limit negative",
     {{"no_show_strikes", "{\"limit\": -1}"}},
     {{"no_show_strikes.limit", NULL}}},
    {"no_show_strikes window zero",
     {{"no_show_strikes", "{\"limit\": 3, \"window_days\": 0, \"suspend_days\": 7}"}},
     {{"no_show_strikes.window_days", NULL}}},
    {"no_show_strikes suspend a string",
     {{"no_show_strikes", "{\"suspend_days\": \"7\"}"}},
     {{"no_show_strikes.suspend_days", NULL}}},
    {"no_show_strikes not an object", {{"no_show_strikes", "3"}}, {{"no_show_strikes", NULL}}},
    {"priority_streak_max negative",
     {{"priority_streak_max", "-1"}},
     {{"priority_streak_max", NULL}}},
    {"max_calls zero", {{"max_calls", "0"}}, {{"max_calls", NULL}}},
    {"rate negative",
     {{"rate_limit", "{\"per_ip_per_second\": -1, \"burst\": 100}"}},
     {{"rate_limit.per_ip_per_second", NULL}}},
    {"burst zero while limiting",
     {{"rate_limit", "{\"per_ip_per_second\": 50, \"burst\": 0}"}},
     {{"rate_limit.burst", NULL}}},
    {"rate_limit not an object", {{"rate_limit", "50"}}, {{"rate_limit", NULL}}},
};

/* The base catalogue with case K's changes applied. */
static json_t *
case_root(const struct config_case *k)
{
	json_t *root = base_root();
	for (int j = 0; j < 3 && k->change[j].path; j++)
		set_path(root, k->change[j].path, k->change[j].value);
	return root;
}

static void
each_problem_names_its_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct config_case *k = &cases[i];
		struct problems pr = {0};
		struct catalogue *c = catalogue_parse(case_root(k), &pr);
		int want = 0, ok = c == NULL;
		for (int j = 0; j < 4 && k->expect[j].path; j++) {
			want++;
			ok = ok && has_problem(&pr, k->expect[j].path, k->expect[j].fragment);
		}
		if (!ok || pr.n != want) {
			print_problems(k->name, &pr);
			for (int j = 0; j < want; j++)
				print_error("  expected %s: %s\n", k->expect[j].path,
				            k->expect[j].fragment ? k->expect[j].fragment : "...");
			catalogue_free(c);
			problems_free(&pr);
			fail_msg("case \"%s\"", k->name);
		}
		problems_free(&pr);
	}
}

/* The --check-config line format: "path: message", one line each, no newline inside. */
static void
problem_lines_are_single_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct problems pr = {0};
		assert_null(catalogue_parse(case_root(&cases[i]), &pr));
		for (int j = 0; j < pr.n; j++) {
			assert_null(strchr(pr.v[j], '\n'));
			assert_non_null(strstr(pr.v[j], ": "));
		}
		problems_free(&pr);
	}
}

/* Several problems in one file are all reported at once, each with its own path. */
static void
several_problems_at_once(void **state)
{
	(void)state;
	json_t *root = base_root();
	set_path(root, "points[1].services[0].prefix", "\"a\"");
	set_path(root, "points[0].hours.mon[1]", "\"11:00-13:00\"");
	set_path(root, "points[0].closed[0]", "\"2027-13-01\"");
	set_path(root, "points[0].services[1].slot_capacity", "-3");
	set_path(root, "tokens[3].role", "\"superuser\"");
	set_path(root, "horizon_days", "0");
	set_path(root, "citizen_id_secret", "\"short\"");
	struct problems pr = {0};
	assert_null(catalogue_parse(root, &pr));
	static const char *const paths[] = {
	    "points[1].services[0].prefix",
	    "points[0].hours.mon[1]",
	    "points[0].closed[0]",
	    "points[0].services[1].slot_capacity",
	    "tokens[3].role",
	    "horizon_days",
	    "citizen_id_secret",
	};
	if (pr.n != (int)NELEM(paths))
		print_problems("several", &pr);
	assert_int_equal(pr.n, NELEM(paths));
	for (size_t i = 0; i < NELEM(paths); i++)
		if (!has_problem(&pr, paths[i], NULL))
			fail_msg("no problem at %s", paths[i]);
	problems_free(&pr);
}

static void
valid_catalogue_has_no_problem(void **state)
{
	(void)state;
	struct catalogue *c = unit_catalogue_ok(base);
	assert_int_equal(c->npoints, 2);
	assert_int_equal(c->ntokens, 4);
	const struct point *p = catalogue_point(c, "cua-nam");
	assert_non_null(p);
	assert_string_equal(p->name, "Phường Cửa Nam");
	assert_int_equal(p->nservices, 2);
	assert_int_equal(p->ncounters, 2);
	assert_int_equal(p->nclosed, 1);
	assert_int_equal(p->nhours[0], 2);
	assert_int_equal(p->hours[0][1].from, 13 * 60 + 30);
	assert_int_equal(p->hours[0][1].to, 17 * 60);
	assert_int_equal(p->nhours[5], 1);
	assert_int_equal(p->nhours[6], 0);
	const struct service *s = point_service(p, "khai-sinh");
	assert_non_null(s);
	assert_string_equal(s->prefix, "B");
	assert_int_equal(s->slot_minutes, 15);
	assert_int_equal(s->slot_capacity, 2);
	assert_int_equal(s->walkin_daily_limit, 50);
	assert_int_equal(s->avg_service_minutes, 8);
	assert_int_equal(json_array_size(s->documents), 1);
	assert_int_equal(s->fee_vnd, 0);
	/* The same service id and prefix at two points is allowed: unique within a point. */
	assert_non_null(point_service(catalogue_point(c, "hoan-kiem"), "cu-tru"));
	assert_null(point_service(p, "ho-tich"));
	assert_null(catalogue_point(c, "ba-dinh"));
	catalogue_free(c);
}

/* Every field but listen, database, citizen_id_secret, tokens and points has the default shown. */
static void
defaults_are_the_contracts(void **state)
{
	(void)state;
	struct catalogue *c = unit_catalogue_ok(base);
	assert_int_equal(c->utc_offset, 7 * 60);
	assert_int_equal(c->nwebhooks, 0); /* none unless configured */
	assert_int_equal(c->horizon_days, 7);
	assert_int_equal(c->checkin_open_minutes, 60);
	assert_int_equal(c->no_show_grace_minutes, 15);
	assert_int_equal(c->max_active, 3);
	assert_int_equal(c->strikes_limit, 3);
	assert_int_equal(c->strikes_window_days, 30);
	assert_int_equal(c->strikes_suspend_days, 7);
	assert_int_equal(c->priority_streak_max, 3);
	assert_int_equal(c->max_calls, 3);
	assert_int_equal(c->rate_per_second, 50);
	assert_int_equal(c->rate_burst, 100);
	/* walkin_daily_limit is shown as 200 in the contract's example service. */
	assert_int_equal(point_service(catalogue_point(c, "cua-nam"), "cu-tru")->walkin_daily_limit,
	                 200);
	catalogue_free(c);
}

static void
settings_are_read(void **state)
{
	(void)state;
	json_t *root = base_root();
	set_path(root, "utc_offset", "\"-05:30\"");
	set_path(root, "horizon_days", "14");
	set_path(root, "checkin_open_minutes", "30");
	set_path(root, "no_show_grace_minutes", "0");
	set_path(root, "max_active_bookings_per_citizen", "1");
	set_path(root, "no_show_strikes",
	         "{\"limit\": 0, \"window_days\": 10, \"suspend_days\": 2}");
	set_path(root, "priority_streak_max", "0"); /* 0 = no limit */
	set_path(root, "max_calls", "5");
	set_path(
	    root, "points[1].hours.tue",
	    "[\"07:00-07:10\", \"07:20-07:30\", \"07:40-07:50\", \"08:00-08:10\", \"08:20-08:30\","
	    " \"08:40-08:50\", \"09:00-09:10\", \"09:20-09:30\"]"); /* eight intervals */
	set_path(root, "rate_limit", "{\"per_ip_per_second\": 0, \"burst\": 0}"); /* off */
	set_path(root, "webhooks",
	         "[{\"url\": \"https://app.hanoi.example/h\", \"secret\": \"k1\", \"events\": "
	         "[\"ticket.near\", \"booking.expired\"]}, {\"url\": \"http://127.0.0.1:9/x\", "
	         "\"secret\": \"k2\", \"events\": [\"ticket.called\"]}]");
	struct catalogue *c = unit_catalogue_root_ok(root);
	assert_int_equal(c->utc_offset, -330);
	assert_int_equal(c->horizon_days, 14);
	assert_int_equal(c->checkin_open_minutes, 30);
	assert_int_equal(c->no_show_grace_minutes, 0);
	assert_int_equal(c->max_active, 1);
	assert_int_equal(c->strikes_limit, 0);
	assert_int_equal(c->strikes_window_days, 10);
	assert_int_equal(c->strikes_suspend_days, 2);
	assert_int_equal(c->priority_streak_max, 0);
	assert_int_equal(c->max_calls, 5);
	assert_int_equal(c->rate_per_second, 0);
	assert_int_equal(catalogue_point(c, "hoan-kiem")->nhours[1], 8);
	assert_int_equal(c->nwebhooks, 2);
	assert_string_equal(c->webhooks[0].url, "https://app.hanoi.example/h");
	assert_string_equal(c->webhooks[0].secret, "k1");
	assert_int_equal(c->webhooks[0].events, HOOK_NEAR | HOOK_EXPIRED);
	assert_string_equal(c->webhooks[1].url, "http://127.0.0.1:9/x");
	assert_int_equal(c->webhooks[1].events, HOOK_CALLED);
	assert_int_equal(c->hook_events, HOOK_CALLED | HOOK_NEAR | HOOK_EXPIRED);
	assert_string_equal(hook_event_name(HOOK_NEAR), "ticket.near");
	catalogue_free(c);
}

/* Unknown fields are ignored (a newer catalogue still loads). */
static void
unknown_fields_are_ignored(void **state)
{
	(void)state;
	json_t *root = base_root();
	set_path(root, "comment", "\"bản thử\"");
	set_path(root, "points[0].phone", "\"024 3825 0000\"");
	set_path(root, "points[0].services[0].note", "{\"a\": 1}");
	set_path(root, "tokens[0].expires", "\"2027-01-01\"");
	catalogue_free(unit_catalogue_root_ok(root));
}

/* The contract's example catalogue (with real token values) is valid. */
static void
contract_example_is_valid(void **state)
{
	(void)state;
	static const char *const example =
	    "{\"listen\": \"127.0.0.1:8080\", \"database\": \"var/hangdoi.db\", \"utc_offset\": "
	    "\"+07:00\","
	    " \"horizon_days\": 7, \"checkin_open_minutes\": 60, \"no_show_grace_minutes\": 15,"
	    " \"max_active_bookings_per_citizen\": 3,"
	    " \"no_show_strikes\": { \"limit\": 3, \"window_days\": 30, \"suspend_days\": 7 },"
	    " \"priority_streak_max\": 3, \"max_calls\": 3,"
	    " \"citizen_id_secret\": \"change-me-32-bytes-or-more........\","
	    " \"rate_limit\": { \"per_ip_per_second\": 50, \"burst\": 100 },"
	    " \"tokens\": ["
	    "  { \"name\": \"ihanoi\", \"role\": \"app\", \"token\": \"token-of-ihanoi\" },"
	    "  { \"name\": \"kiosk-cua-nam\", \"role\": \"kiosk\", \"point\": \"cua-nam\","
	    "    \"token\": \"token-of-kiosk\" },"
	    "  { \"name\": \"quay-1\", \"role\": \"counter\", \"counter\": \"cua-nam-1\","
	    "    \"token\": \"token-of-quay-1\" },"
	    "  { \"name\": \"ops\", \"role\": \"admin\", \"token\": \"token-of-ops\" }],"
	    " \"points\": [{"
	    "  \"id\": \"cua-nam\", \"name\": \"Phường Cửa Nam\", \"address\": \"...\","
	    "  \"hours\": { \"mon\": [\"07:30-12:00\", \"13:30-17:00\"],"
	    "   \"tue\": [\"07:30-12:00\", \"13:30-17:00\"], \"wed\": [\"07:30-12:00\", "
	    "\"13:30-17:00\"],"
	    "   \"thu\": [\"07:30-12:00\", \"13:30-17:00\"], \"fri\": [\"07:30-12:00\", "
	    "\"13:30-17:00\"],"
	    "   \"sat\": [\"07:30-11:30\"], \"sun\": [] },"
	    "  \"closed\": [\"2027-01-01\"],"
	    "  \"services\": ["
	    "   { \"id\": \"cu-tru\", \"name\": \"Đăng ký cư trú\", \"prefix\": \"A\", "
	    "\"slot_minutes\": 30,"
	    "     \"slot_capacity\": 6, \"walkin_daily_limit\": 200, \"avg_service_minutes\": 12,"
	    "     \"documents\": [\"Tờ khai thay đổi thông tin cư trú (CT01)\"], \"fee_vnd\": 0 }],"
	    "  \"counters\": [ { \"id\": \"cua-nam-1\", \"name\": \"Quầy 1\", \"services\": "
	    "[\"cu-tru\"] } ]"
	    " }]}";
	struct catalogue *c = unit_catalogue_ok(example);
	const struct counter *k = catalogue_counter(c, "cua-nam-1");
	assert_non_null(k);
	assert_ptr_equal(k->point, catalogue_point(c, "cua-nam"));
	assert_true(counter_serves(k, "cu-tru"));
	assert_false(counter_serves(k, "khai-sinh"));
	assert_int_equal(point_service(k->point, "cu-tru")->avg_service_minutes, 12);
	catalogue_free(c);
}

/* Tokens are found by their secret: role and scope come with them; unknown ones are not found. */
static void
tokens_are_found_by_secret(void **state)
{
	(void)state;
	struct catalogue *c = unit_catalogue_ok(base);
	static const struct {
		const char *secret, *name;
		enum role role;
		const char *point, *counter;
	} cases_[] = {
	    {"app-token-123456", "ihanoi", ROLE_APP, NULL, NULL},
	    {"kiosk-token-123456", "kiosk-cua-nam", ROLE_KIOSK, "cua-nam", NULL},
	    {"counter-token-123456", "quay-1", ROLE_COUNTER, NULL, "cua-nam-1"},
	    {"admin-token-123456", "ops", ROLE_ADMIN, NULL, NULL},
	};
	for (size_t i = 0; i < NELEM(cases_); i++) {
		const struct token *t = catalogue_token(c, cases_[i].secret);
		assert_non_null(t);
		assert_string_equal(t->name, cases_[i].name);
		assert_int_equal(t->role, cases_[i].role);
		if (cases_[i].point)
			assert_string_equal(t->point, cases_[i].point);
		if (cases_[i].counter)
			assert_string_equal(t->counter, cases_[i].counter);
	}
	static const char *const unknown[] = {
	    "",       "app-token-12345",    "app-token-1234567", "APP-TOKEN-123456",
	    "ihanoi", "admin-token-123456 "};
	for (size_t i = 0; i < NELEM(unknown); i++)
		assert_null(catalogue_token(c, unknown[i]));
	assert_null(catalogue_token(c, NULL));
	catalogue_free(c);
}

/* A city's hundreds of device tokens: every one is found as itself, and no other secret is. */
static void
each_of_many_tokens_is_found(void **state)
{
	(void)state;
	enum { N = 600 };
	json_t *root = base_root(), *toks = json_object_get(root, "tokens");
	char secret[32], name[24];
	for (int i = 0; i < N; i++) {
		snprintf(secret, sizeof secret, "device-token-%05d", i);
		snprintf(name, sizeof name, "device-%d", i);
		json_array_append_new(toks, json_pack("{s:s,s:s,s:s,s:s}", "name", name, "role",
		                                      "kiosk", "point", "cua-nam", "token", secret));
	}
	struct catalogue *c = unit_catalogue_root_ok(root);
	for (int i = 0; i < N; i++) {
		snprintf(secret, sizeof secret, "device-token-%05d", i);
		snprintf(name, sizeof name, "device-%d", i);
		const struct token *t = catalogue_token(c, secret);
		if (t == NULL || strcmp(t->name, name) != 0)
			fail_msg("%s found as %s, not %s", secret, t ? t->name : "nothing", name);
		assert_int_equal(t->role, ROLE_KIOSK);
	}
	assert_string_equal(catalogue_token(c, "admin-token-123456")->name, "ops");
	for (int i = N; i < N + 50; i++) {
		snprintf(secret, sizeof secret, "device-token-%05d", i);
		assert_null(catalogue_token(c, secret));
	}
	catalogue_free(c);
}

/* ---- catalogue_load: from a file ---- */

static char *
temp_file(const char *content)
{
	char *path = strdup("/tmp/hangdoi-unit-config-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(content);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	close(fd);
	return path;
}

static void
load_from_file(void **state)
{
	(void)state;
	char *path = temp_file(base);
	struct problems pr = {0};
	struct catalogue *c = catalogue_load(path, &pr);
	assert_non_null(c);
	assert_int_equal(pr.n, 0);
	catalogue_free(c);
	unlink(path);
	free(path);
}

static void
load_refuses_what_is_not_a_catalogue(void **state)
{
	(void)state;
	static const struct {
		const char *content, *path;
	} cases_[] = {
	    {"", "(root)"},
	    {"{\"listen\": ", "(root)"},
	    {"{\"listen\": \"a:1\",}", "(root)"},
	    {"[1, 2]", "(root)"},
	    {"\"hangdoi\"", "(root)"},
	    /* A key given twice is refused, not silently the last one kept. */
	    {"{\"listen\": \"127.0.0.1:1\", \"listen\": \"127.0.0.1:2\"}", "(root)"},
	};
	for (size_t i = 0; i < NELEM(cases_); i++) {
		char *path = temp_file(cases_[i].content);
		struct problems pr = {0};
		assert_null(catalogue_load(path, &pr));
		if (pr.n != 1 || !has_problem(&pr, cases_[i].path, NULL)) {
			print_problems(cases_[i].content, &pr);
			fail_msg("case %zu", i);
		}
		problems_free(&pr);
		unlink(path);
		free(path);
	}
	struct problems pr = {0};
	assert_null(catalogue_load("/nonexistent/hangdoi.json", &pr));
	assert_int_equal(pr.n, 1);
	assert_non_null(strstr(pr.v[0], ": "));
	problems_free(&pr);
}

/* A broken file reports the same paths as the same catalogue parsed in memory. */
static void
load_reports_paths_from_a_file(void **state)
{
	(void)state;
	json_t *root = base_root();
	set_path(root, "points[0].services[1].prefix", "\"b\"");
	set_path(root, "points[1].counters[0].services[0]", "\"nothing\"");
	char *text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	char *path = temp_file(text);
	free(text);
	struct problems pr = {0};
	assert_null(catalogue_load(path, &pr));
	assert_int_equal(pr.n, 2);
	assert_true(has_problem(&pr, "points[0].services[1].prefix", "1-2 capital letters"));
	assert_true(has_problem(&pr, "points[1].counters[0].services[0]", "unknown"));
	problems_free(&pr);
	unlink(path);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(each_problem_names_its_path),
	    cmocka_unit_test(problem_lines_are_single_lines),
	    cmocka_unit_test(several_problems_at_once),
	    cmocka_unit_test(valid_catalogue_has_no_problem),
	    cmocka_unit_test(defaults_are_the_contracts),
	    cmocka_unit_test(settings_are_read),
	    cmocka_unit_test(unknown_fields_are_ignored),
	    cmocka_unit_test(contract_example_is_valid),
	    cmocka_unit_test(tokens_are_found_by_secret),
	    cmocka_unit_test(each_of_many_tokens_is_found),
	    cmocka_unit_test(load_from_file),
	    cmocka_unit_test(load_refuses_what_is_not_a_catalogue),
	    cmocka_unit_test(load_reports_paths_from_a_file),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
