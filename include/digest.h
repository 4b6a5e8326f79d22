/* digest.h: SHA-256 and HMAC-SHA-256 from libcrypto, as 64 lowercase hex digits. */
#ifndef HANGDOI_DIGEST_H
#define HANGDOI_DIGEST_H

#include <stddef.h>

/* SHA-256 of PARTS[0..N) (N <= 16) joined by '|'. 0, or -1 when libcrypto fails (OUT is ""). */
int digest_sha256(const char *const parts[], int n, char out[65]);
/* SHA-256 of LEN bytes, the 32 bytes themselves. 0, or -1 when libcrypto fails. */
int digest_sha256_bytes(const void *data, size_t len, unsigned char md[32]);
/* HMAC-SHA-256 of MSG under KEY. 0, or -1 when libcrypto fails (OUT is then ""). */
int digest_hmac(const void *key, size_t keylen, const char *msg, char out[65]);
/* Frees what the first calls fetched; the next call fetches again. */
void digest_free(void);

#endif
