/* test_digest.c: src/digest.c: SHA-256 and HMAC-SHA-256 with libcrypto's state kept. */
#include <openssl/evp.h>

#include "unit.h"

#include "digest.h"

/* FIPS 180-2's "abc", whole and as raw bytes. */
static void
sha256_of_abc(void **state)
{
	(void)state;
	const char *parts[] = {"abc"};
	char out[65];
	unsigned char md[32];
	assert_int_equal(digest_sha256(parts, 1, out), 0);
	assert_string_equal(out,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(digest_sha256_bytes("abc", 3, md), 0);
	assert_int_equal(md[0], 0xba);
	assert_int_equal(md[31], 0xad);
}

/* Parts are joined by '|', empty ones too: the audit chain hashes "prev|42|p1||x". */
static void
parts_are_joined_by_a_bar(void **state)
{
	(void)state;
	const char *parts[] = {"prev", "42", "p1", "", "x"};
	char out[65];
	assert_int_equal(digest_sha256(parts, 5, out), 0);
	assert_string_equal(out,
	                    "babd3f2d702256884033363deb18b078249cbbdaf69311037c9ac2a531180264");
}

/* The state is kept between calls and freed on demand: each call still hashes its own input. */
static void
state_is_reused_and_freed(void **state)
{
	(void)state;
	const char *empty[] = {""}, *abc[] = {"abc"};
	char a[65], b[65], c[65];
	assert_int_equal(digest_sha256(empty, 1, a), 0);
	assert_int_equal(digest_sha256(abc, 1, b), 0);
	digest_free();
	assert_int_equal(digest_sha256(empty, 1, c), 0);
	assert_string_equal(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(a, c);
	assert_string_not_equal(a, b);
	digest_free();
}

/* RFC 4231 case 2, then another key, then the first again: the kept keyed state follows. */
static void
hmac_follows_the_key(void **state)
{
	(void)state;
	char a[65], b[65], c[65];
	assert_int_equal(digest_hmac("Jefe", 4, "what do ya want for nothing?", a), 0);
	assert_int_equal(digest_hmac("Jeff", 4, "what do ya want for nothing?", b), 0);
	assert_int_equal(digest_hmac("Jefe", 4, "what do ya want for nothing?", c), 0);
	assert_string_equal(a, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	assert_string_not_equal(a, b);
	assert_string_equal(a, c);
	digest_free();
}

/* More keys in turn than are kept (the citizen secret and each webhook's): each still signs as
 * itself, kept or made again. */
static void
hmac_of_many_keys_in_turn(void **state)
{
	(void)state;
	char first[12][65], again[65], key[16];
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 12; i++) {
			snprintf(key, sizeof key, "key-%02d", i);
			assert_int_equal(digest_hmac(key, strlen(key), "the same body", again), 0);
			if (round == 0) {
				/* libcrypto's one-shot HMAC, with no state kept: the reference */
				unsigned char md[32];
				size_t len = 0;
				char hexd[65];
				assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, strlen(key),
				                          (const unsigned char *)"the same body", 13, md,
				                          sizeof md, &len));
				assert_int_equal(len, 32);
				for (int b = 0; b < 32; b++)
					snprintf(hexd + 2 * b, 3, "%02x", md[b]);
				assert_string_equal(again, hexd);
				memcpy(first[i], again, sizeof again);
			} else
				assert_string_equal(again, first[i]);
			for (int j = 0; round == 0 && j < i; j++)
				assert_string_not_equal(first[i], first[j]);
		}
	assert_int_equal(digest_hmac("Jefe", 4, "what do ya want for nothing?", again), 0);
	assert_string_equal(again, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	digest_free();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sha256_of_abc),
	    cmocka_unit_test(parts_are_joined_by_a_bar),
	    cmocka_unit_test(state_is_reused_and_freed),
	    cmocka_unit_test(hmac_follows_the_key),
	    cmocka_unit_test(hmac_of_many_keys_in_turn),
	};
	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}
