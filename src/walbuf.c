/*
 * walbuf.c: a VFS over SQLite's default one that gathers the WAL frames the loop's connection
 * writes for one commit and hands them to the kernel in a few large writes, instead of two
 * syscalls a frame. Nothing changes for SQLite but the number of syscalls: the gathered frames
 * are written when the commit frame's page is written (its header carries the database size),
 * so that write answers for all of them and a failure fails the commit as it would have
 * anyway; and before anything reads, syncs, truncates or sizes the WAL, or the WAL index
 * publishes frames (xShmBarrier, a safety net). Every other file, and every other
 * connection's WAL, passes straight through.
 */
#include <stdlib.h>
#include <string.h>

#include "walbuf.h"

#define GATHER_MAX (32 << 20) /* bytes held at most before they are written anyway */

struct wfile {
	sqlite3_file base;
	sqlite3_file *real; /* the default VFS's file, in the bytes right after this struct */
	struct wfile *wal;   /* on the database file: its gathered WAL */
	struct wfile *owner; /* on a gathered WAL: its database file */
	int gather;
	int commit; /* the header of a commit frame was just gathered: its page ends the commit */
	char *buf;
	size_t len, cap;
	sqlite3_int64 off;
	int err; /* gathered frames that failed to be written at a barrier: the WAL is untrusted */
};

static sqlite3_vfs *orig;
static sqlite3_vfs vfs;
static const sqlite3_io_methods methods;

/* The default VFS writes at most 128 KiB - 1 bytes a call (it never needs more: a page). */
#define WRITE_MAX (64 << 10)

static int
flush(struct wfile *f)
{
	int rc = SQLITE_OK;
	f->commit = 0;
	if (f->len == 0)
		return SQLITE_OK;
	for (size_t done = 0; rc == SQLITE_OK && done < f->len; done += WRITE_MAX) {
		size_t n = f->len - done < WRITE_MAX ? f->len - done : WRITE_MAX;
		rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)n, f->off + (sqlite3_int64)done);
	}
	f->len = 0;
	return rc;
}

static int
w_close(sqlite3_file *file)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);
	if (f->owner)
		f->owner->wal = NULL;
	if (f->wal)
		f->wal->owner = NULL;
	free(f->buf);
	f->buf = NULL;
	int rc2 = f->real->pMethods->xClose(f->real);
	return rc != SQLITE_OK ? rc : rc2;
}

static int
w_read(sqlite3_file *file, void *out, int n, sqlite3_int64 off)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, out, n, off);
}

static int
w_write(sqlite3_file *file, const void *data, int n, sqlite3_int64 off)
{
	struct wfile *f = (struct wfile *)file;
	if (!f->gather)
		return f->real->pMethods->xWrite(f->real, data, n, off);
	if (f->len && (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)n > GATHER_MAX)) {
		int rc = flush(f);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (f->len + (size_t)n > f->cap) {
		size_t cap = f->cap ? f->cap : 256 << 10;
		while (cap < f->len + (size_t)n)
			cap *= 2;
		char *b = realloc(f->buf, cap);
		if (b == NULL) {
			int rc = flush(f);
			return rc != SQLITE_OK ? rc : f->real->pMethods->xWrite(f->real, data, n, off);
		}
		f->buf = b;
		f->cap = cap;
	}
	if (f->len == 0)
		f->off = off;
	memcpy(f->buf + f->len, data, (size_t)n);
	f->len += (size_t)n;
	if (f->commit) {
		f->commit = 0;
		return flush(f);
	}
	/* A frame's 24-byte header; bytes 4-7, the database size in pages, are set on a commit. */
	const unsigned char *h = data;
	if (n == 24 && (h[4] | h[5] | h[6] | h[7]))
		f->commit = 1;
	return SQLITE_OK;
}

static int
w_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int
w_sync(sqlite3_file *file, int flags)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int
w_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct wfile *f = (struct wfile *)file;
	int rc = flush(f);
	return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static void
w_barrier(sqlite3_file *file)
{
	struct wfile *f = (struct wfile *)file;
	if (f->wal && flush(f->wal) != SQLITE_OK)
		f->wal->err = 1; /* frames about to be published are not in the file */
	f->real->pMethods->xShmBarrier(f->real);
}

#define REAL(f) (((struct wfile *)(f))->real)
static int w_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int w_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int w_reserved(sqlite3_file *f, int *out) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }
static int w_control(sqlite3_file *f, int op, void *arg) { return REAL(f)->pMethods->xFileControl(REAL(f), op, arg); }
static int w_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int w_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int w_shm_map(sqlite3_file *f, int i, int sz, int ext, void volatile **p) { return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p); }
static int w_shm_lock(sqlite3_file *f, int off, int n, int flags) { return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags); }
static int w_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int w_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p) { return REAL(f)->pMethods->xFetch(REAL(f), off, n, p); }
static int w_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), off, p); }

static const sqlite3_io_methods methods = {
    3,        w_close,  w_read,     w_write,     w_truncate, w_sync,      w_size,
    w_lock,   w_unlock, w_reserved, w_control,   w_sector,   w_device,    w_shm_map,
    w_shm_lock, w_barrier, w_shm_unmap, w_fetch, w_unfetch,
};

static int
w_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *file, int flags, int *out)
{
	struct wfile *f = (struct wfile *)file;
	(void)v;
	memset(f, 0, sizeof *f);
	f->real = (sqlite3_file *)&f[1];
	int rc = orig->xOpen(orig, name, f->real, flags, out);
	/* SQLite closes a file only when its open succeeded and set methods. */
	f->base.pMethods = rc == SQLITE_OK && f->real->pMethods ? &methods : NULL;
	return rc;
}

static int v_delete(sqlite3_vfs *v, const char *n, int sync) { (void)v; return orig->xDelete(orig, n, sync); }
static int v_access(sqlite3_vfs *v, const char *n, int flags, int *out) { (void)v; return orig->xAccess(orig, n, flags, out); }
static int v_full(sqlite3_vfs *v, const char *n, int len, char *out) { (void)v; return orig->xFullPathname(orig, n, len, out); }
static void *v_dlopen(sqlite3_vfs *v, const char *n) { (void)v; return orig->xDlOpen(orig, n); }
static void v_dlerror(sqlite3_vfs *v, int n, char *out) { (void)v; orig->xDlError(orig, n, out); }
static void (*v_dlsym(sqlite3_vfs *v, void *h, const char *s))(void) { (void)v; return orig->xDlSym(orig, h, s); }
static void v_dlclose(sqlite3_vfs *v, void *h) { (void)v; orig->xDlClose(orig, h); }
static int v_random(sqlite3_vfs *v, int n, char *out) { (void)v; return orig->xRandomness(orig, n, out); }
static int v_sleep(sqlite3_vfs *v, int us) { (void)v; return orig->xSleep(orig, us); }
static int v_time(sqlite3_vfs *v, double *out) { (void)v; return orig->xCurrentTime(orig, out); }
static int v_error(sqlite3_vfs *v, int n, char *out) { (void)v; return orig->xGetLastError(orig, n, out); }
static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out) { (void)v; return orig->xCurrentTimeInt64(orig, out); }

int
walbuf_register(void)
{
	if (orig)
		return 0;
	if ((orig = sqlite3_vfs_find(NULL)) == NULL || orig->iVersion < 2)
		return -1;
	vfs = (sqlite3_vfs){
	    .iVersion = 2, .szOsFile = (int)sizeof(struct wfile) + orig->szOsFile,
	    .mxPathname = orig->mxPathname, .zName = "hangdoi", .xOpen = w_open,
	    .xDelete = v_delete, .xAccess = v_access, .xFullPathname = v_full, .xDlOpen = v_dlopen,
	    .xDlError = v_dlerror, .xDlSym = v_dlsym, .xDlClose = v_dlclose, .xRandomness = v_random,
	    .xSleep = v_sleep, .xCurrentTime = v_time, .xGetLastError = v_error,
	    .xCurrentTimeInt64 = v_time64,
	};
	return sqlite3_vfs_register(&vfs, 1) == SQLITE_OK ? 0 : -1;
}

int
walbuf_attach(sqlite3 *db)
{
	sqlite3_file *d = NULL, *w = NULL;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &d) != SQLITE_OK ||
	    sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &w) != SQLITE_OK || d == NULL ||
	    w == NULL || d->pMethods != &methods || w->pMethods != &methods)
		return -1;
	struct wfile *df = (struct wfile *)d, *wf = (struct wfile *)w;
	df->wal = wf;
	wf->owner = df;
	wf->gather = 1;
	return 0;
}

int
walbuf_failed(sqlite3 *db)
{
	sqlite3_file *w = NULL;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &w) != SQLITE_OK || w == NULL ||
	    w->pMethods != &methods)
		return 0;
	struct wfile *f = (struct wfile *)w;
	return f->gather && f->err;
}
