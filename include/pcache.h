/* pcache.h: SQLite's default page cache, with the lock page's number kept out of its way. */
#ifndef HANGDOI_PCACHE_H
#define HANGDOI_PCACHE_H

/* Installs it; before SQLite initializes (the first connection). 0, or -1: the default stays. */
int pcache_register(void);

#endif
