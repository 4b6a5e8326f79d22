/* unit_db.h: a fresh SQLite database in a temporary directory, and a catalogue in force. */
#ifndef HANGDOI_UNIT_DB_H
#define HANGDOI_UNIT_DB_H

#include <unistd.h>

#include "unit.h"

#include "db.h"
#include "events.h"
#include "log.h"

static char unit_dir[64], unit_db_path[128];

/* Opens a new database (migrated) with the catalogue TEXT in force as `cat`. */
static inline void
unit_db_open(const char *catalogue_text)
{
	char err[256];
	log_level = 3; /* errors only: a test that expects a refusal need not print it */
	/* In memory where the system has it: the tests need no fsync to be durable. */
	snprintf(unit_dir, sizeof unit_dir, "%s/hangdoi-unit-XXXXXX",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(unit_dir));
	snprintf(unit_db_path, sizeof unit_db_path, "%s/unit.db", unit_dir);
	cat = unit_catalogue_ok(catalogue_text);
	if (db_open(unit_db_path, err, sizeof err) != 0)
		fail_msg("db_open: %s", err);
}

/* Commits what is open, closes, and removes every file. */
static inline void
unit_db_close(void)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char path[160];
	db_close();
	events_close();
	catalogue_free(cat);
	cat = NULL;
	for (size_t i = 0; i < NELEM(suffix); i++) {
		snprintf(path, sizeof path, "%s%s", unit_db_path, suffix[i]);
		unlink(path);
	}
	rmdir(unit_dir);
}

/* The cmocka teardown of a test with a database. */
static inline int
unit_db_teardown(void **state)
{
	(void)state;
	unit_db_close();
	return 0;
}

#endif
