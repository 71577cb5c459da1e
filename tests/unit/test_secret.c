/* test_secret.c - API keys (src/core/secret.c): key format, uniqueness,
 * SHA-256 hex hashing against FIPS 180-2 vectors, constant-time equality. */
#include "core/secret.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static int b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : 63;
}

static void check_key(const char *key, const char *prefix)
{
    size_t p = strlen(prefix);
    if (strncmp(key, prefix, p) != 0)
        fail_msg("key %s lacks prefix %s", key, prefix);
    if (strlen(key) != p + 43)
        fail_msg("key %s has length %zu, want %zu", key, strlen(key), p + 43);
    for (size_t i = p; key[i]; i++)
        if (!is_b64url(key[i]))
            fail_msg("key %s has non-base64url character at %zu", key, i);
    /* 32 bytes in 43 characters: the last one carries 4 bits, low 2 bits zero */
    if (b64url_val(key[p + 42]) & 3)
        fail_msg("key %s is not a canonical base64url encoding of 32 bytes", key);
}

static void test_key_format(void **state)
{
    char key[SECRET_KEY_LEN];
    assert_true(secret_new_key("cbk_", key));
    check_key(key, "cbk_");
    assert_int_equal(strlen(key), 47);
    assert_true(secret_new_key("cbg_", key));
    check_key(key, "cbg_");
    assert_true(secret_new_key("", key));
    check_key(key, "");
    assert_true(secret_new_key("x", key));
    check_key(key, "x");
}

static void test_key_prefix_too_long(void **state)
{
    char key[SECRET_KEY_LEN];
    memset(key, 'Z', sizeof key);
    /* a prefix that would overflow the fixed-size key is refused */
    assert_false(secret_new_key("cbk__", key));
    assert_false(secret_new_key("a-much-longer-prefix_", key));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_key_uniqueness_and_spread(void **state)
{
    enum { N = 1000 };
    char(*keys)[SECRET_KEY_LEN] = calloc(N, SECRET_KEY_LEN);
    assert_non_null(keys);
    unsigned counts[64] = {0};
    for (int i = 0; i < N; i++) {
        assert_true(secret_new_key("cbk_", keys[i]));
        check_key(keys[i], "cbk_");
        for (int j = 4; j < 4 + 42; j++)
            counts[b64url_val(keys[i][j])]++;
    }
    qsort(keys, N, SECRET_KEY_LEN, cmp_str);
    for (int i = 1; i < N; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            fail_msg("duplicate key %s", keys[i]);
    /* 42000 uniform characters: each of 64 values expected ~656 times. A
     * broken generator (constant, few values) fails this by far. */
    for (int c = 0; c < 64; c++)
        if (counts[c] < 450 || counts[c] > 900)
            fail_msg("character value %d appeared %u times in 42000", c, counts[c]);
    free(keys);
}

static void test_hash_vectors(void **state)
{
    char h[SECRET_HASH_LEN];
    /* FIPS 180-2 appendix B */
    secret_hash("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    secret_hash("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    secret_hash(m, strlen(m), h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* only len bytes are hashed, embedded NULs included */
    secret_hash("abcdef", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char with_nul[2] = {'\0', '\0'};
    secret_hash(with_nul, 1, h);
    assert_string_equal(h, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    assert_int_equal(strlen(h), 64);
    for (int i = 0; i < 64; i++)
        assert_true((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'));
}

static void test_hash_of_keys_distinct(void **state)
{
    char k1[SECRET_KEY_LEN], k2[SECRET_KEY_LEN], h1[SECRET_HASH_LEN], h2[SECRET_HASH_LEN];
    assert_true(secret_new_key("cbk_", k1));
    assert_true(secret_new_key("cbk_", k2));
    secret_hash(k1, strlen(k1), h1);
    secret_hash(k2, strlen(k2), h2);
    assert_string_not_equal(h1, h2);
    secret_hash(k1, strlen(k1), h2);
    assert_string_equal(h1, h2); /* deterministic */
}

static void test_secret_equal(void **state)
{
    assert_true(secret_equal("s3cret-token", "s3cret-token"));
    assert_true(secret_equal("", ""));
    assert_false(secret_equal("s3cret-token", "s3cret-tokeN"));
    assert_false(secret_equal("s3cret-token", "s3cret-toke")); /* prefix */
    assert_false(secret_equal("s3cret-toke", "s3cret-token"));
    assert_false(secret_equal("s3cret-token", "s3cret-token ")); /* trailing space */
    assert_false(secret_equal("", "x"));
    assert_false(secret_equal("x", ""));
    char k[SECRET_KEY_LEN], k2[SECRET_KEY_LEN];
    assert_true(secret_new_key("cbk_", k));
    memcpy(k2, k, sizeof k);
    assert_true(secret_equal(k, k2));
    k2[46] = k2[46] == 'A' ? 'B' : 'A';
    assert_false(secret_equal(k, k2));
    /* long inputs */
    char a[5000], b[5000];
    memset(a, 'q', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof a);
    assert_true(secret_equal(a, b));
    b[4000] = 'r';
    assert_false(secret_equal(a, b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_format),
        cmocka_unit_test(test_key_prefix_too_long),
        cmocka_unit_test(test_key_uniqueness_and_spread),
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_hash_of_keys_distinct),
        cmocka_unit_test(test_secret_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
