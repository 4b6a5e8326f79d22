/*
 * pcache.c: SQLite's own page cache, with one page number kept out of its way.
 *
 * When a B-tree balance swaps the numbers of two pages, SQLite parks one of them for a moment
 * at the number of the lock page (the page that holds the "pending byte" at 1 GiB; no data
 * ever lives there: page 524289 with 2 KiB pages). The default cache remembers that number as
 * its largest key, and at the end of the next transaction it drops the pages past the end of
 * the file by walking its whole hash table, since its largest key lies far past that end. With
 * indexes on random keys (codes, citizens) a balance happens in most group commits, and the
 * walk took 5 % of the loop under load, growing with the cache.
 *
 * This cache is SQLite's default one (SQLITE_CONFIG_GETPCACHE2) with the lock page's number
 * stored under key 0, which no page has. Its largest key stays the end of the file, and the
 * end-of-transaction truncation looks at a few buckets. Every other key passes unchanged.
 * (balance_nonroot's use of that number was read in SQLite 3.40, Debian 12's, and is there
 * still in current SQLite; should a later one stop using it, nothing here changes anything.)
 */
#include <stddef.h>

#include <sqlite3.h>

#include "pcache.h"

#define PENDING_BYTE 0x40000000u /* SQLite's default; moved only by a test control */

struct cache {
	sqlite3_pcache *real;
	unsigned lock_page;
};

static sqlite3_pcache_methods2 base;

static unsigned
key(const struct cache *c, unsigned k)
{
	return k == c->lock_page ? 0 : k;
}

static int
x_init(void *arg)
{
	(void)arg;
	return base.xInit ? base.xInit(base.pArg) : SQLITE_OK;
}

static void
x_shutdown(void *arg)
{
	(void)arg;
	if (base.xShutdown)
		base.xShutdown(base.pArg);
}

static sqlite3_pcache *
x_create(int page_size, int extra, int purgeable)
{
	struct cache *c = sqlite3_malloc(sizeof *c);
	if (c == NULL)
		return NULL;
	if ((c->real = base.xCreate(page_size, extra, purgeable)) == NULL) {
		sqlite3_free(c);
		return NULL;
	}
	c->lock_page = PENDING_BYTE / (unsigned)page_size + 1;
	return (sqlite3_pcache *)c;
}

static void
x_cachesize(sqlite3_pcache *p, int n)
{
	base.xCachesize(((struct cache *)p)->real, n);
}

static int
x_pagecount(sqlite3_pcache *p)
{
	return base.xPagecount(((struct cache *)p)->real);
}

static sqlite3_pcache_page *
x_fetch(sqlite3_pcache *p, unsigned k, int create)
{
	struct cache *c = (struct cache *)p;
	return base.xFetch(c->real, key(c, k), create);
}

static void
x_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard)
{
	base.xUnpin(((struct cache *)p)->real, pg, discard);
}

static void
x_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned from, unsigned to)
{
	struct cache *c = (struct cache *)p;
	base.xRekey(c->real, pg, key(c, from), key(c, to));
}

static void
x_truncate(sqlite3_pcache *p, unsigned limit)
{
	base.xTruncate(((struct cache *)p)->real, limit);
}

static void
x_destroy(sqlite3_pcache *p)
{
	struct cache *c = (struct cache *)p;
	base.xDestroy(c->real);
	sqlite3_free(c);
}

static void
x_shrink(sqlite3_pcache *p)
{
	base.xShrink(((struct cache *)p)->real);
}

int
pcache_register(void)
{
	static const sqlite3_pcache_methods2 ours = {
	    .iVersion = 1,
	    .xInit = x_init,
	    .xShutdown = x_shutdown,
	    .xCreate = x_create,
	    .xCachesize = x_cachesize,
	    .xPagecount = x_pagecount,
	    .xFetch = x_fetch,
	    .xUnpin = x_unpin,
	    .xRekey = x_rekey,
	    .xTruncate = x_truncate,
	    .xDestroy = x_destroy,
	    .xShrink = x_shrink,
	};
	if (base.xCreate)
		return 0;
	if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &base) != SQLITE_OK || base.xCreate == NULL ||
	    sqlite3_config(SQLITE_CONFIG_PCACHE2, &ours) != SQLITE_OK) {
		base.xCreate = NULL;
		return -1;
	}
	return 0;
}
