/*
 * digest.c: SHA-256 and HMAC-SHA-256 from libcrypto. The algorithms are fetched once and the
 * keyed HMAC state is kept and duplicated per message: OpenSSL 3's one-shot calls look the
 * algorithm up in the provider on every call, which costs more than the hashing of a short
 * message. A few keys are kept so (the citizen id secret, each webhook's); past KEYS_MAX, the
 * one asked for longest ago makes room, so the citizen id secret, asked at every booking, stays.
 * Used by the loop thread only.
 */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include "digest.h"

static EVP_MD *sha256;
static EVP_MD_CTX *md_ctx;
static EVP_MAC *hmac;
#define KEYS_MAX 8
static struct keyed {
	EVP_MAC_CTX *ctx; /* initialised with KEY, never used directly: duplicated */
	unsigned char *key;
	size_t len;
	uint64_t used; /* when last asked for: a new key takes the entry asked for longest ago */
} keys[KEYS_MAX];
static uint64_t uses;

static void
hex(const unsigned char md[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = 0;
}

/* The SHA-256 of PARTS[0..N) (LENS[i] bytes each) joined by SEP when SEP is not 0. */
static int
sha(const void *const parts[], const size_t lens[], int n, char sep, unsigned char md[32])
{
	if (sha256 == NULL && (sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return -1;
	if (md_ctx == NULL && (md_ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (!EVP_DigestInit_ex2(md_ctx, sha256, NULL))
		return -1;
	for (int i = 0; i < n; i++)
		if ((i && sep && !EVP_DigestUpdate(md_ctx, &sep, 1)) ||
		    !EVP_DigestUpdate(md_ctx, parts[i], lens[i]))
			return -1;
	return EVP_DigestFinal_ex(md_ctx, md, NULL) ? 0 : -1;
}

int
digest_sha256(const char *const parts[], int n, char out[65])
{
	unsigned char md[32];
	size_t lens[16];
	out[0] = 0;
	if (n > 16)
		return -1;
	for (int i = 0; i < n; i++)
		lens[i] = strlen(parts[i]);
	if (sha((const void *const *)parts, lens, n, '|', md))
		return -1;
	hex(md, out);
	return 0;
}

int
digest_sha256_bytes(const void *data, size_t len, unsigned char md[32])
{
	const void *parts[] = {data};
	return sha(parts, &len, 1, 0, md);
}

static void
keyed_free(struct keyed *e)
{
	EVP_MAC_CTX_free(e->ctx);
	OPENSSL_clear_free(e->key, e->len);
	*e = (struct keyed){0};
}

/* The keyed state for K, made only when K is not among the keys kept (a reload may change them). */
static EVP_MAC_CTX *
keyed_for(const void *k, size_t len)
{
	struct keyed *e = &keys[0];
	for (int i = 0; i < KEYS_MAX; i++) {
		if (keys[i].ctx && keys[i].len == len && CRYPTO_memcmp(k, keys[i].key, len) == 0) {
			keys[i].used = ++uses;
			return keys[i].ctx;
		}
		if (keys[i].used < e->used)
			e = &keys[i];
	}
	if (hmac == NULL && (hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(hmac);
	unsigned char *copy = OPENSSL_malloc(len ? len : 1);
	if (c == NULL || copy == NULL || !EVP_MAC_init(c, k, len, params)) {
		EVP_MAC_CTX_free(c);
		OPENSSL_free(copy);
		return NULL;
	}
	memcpy(copy, k, len);
	keyed_free(e);
	*e = (struct keyed){c, copy, len, ++uses};
	return c;
}

int
digest_hmac(const void *k, size_t len, const char *msg, char out[65])
{
	unsigned char md[32];
	size_t mdlen = 0;
	out[0] = 0;
	EVP_MAC_CTX *base = keyed_for(k, len), *c;
	if (base == NULL || (c = EVP_MAC_CTX_dup(base)) == NULL)
		return -1;
	int ok = EVP_MAC_update(c, (const unsigned char *)msg, strlen(msg)) &&
	         EVP_MAC_final(c, md, &mdlen, sizeof md) && mdlen == sizeof md;
	EVP_MAC_CTX_free(c);
	if (!ok)
		return -1;
	hex(md, out);
	return 0;
}

void
digest_free(void)
{
	EVP_MD_CTX_free(md_ctx);
	EVP_MD_free(sha256);
	for (int i = 0; i < KEYS_MAX; i++)
		keyed_free(&keys[i]);
	EVP_MAC_free(hmac);
	md_ctx = NULL;
	sha256 = NULL;
	hmac = NULL;
	uses = 0;
}
