/* test_buf.c - the capped growable buffer (src/core/buf.c): growth, the cap
 * (a refused append leaves the buffer unchanged), long printf, steal. */
#include "core/buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

static void test_init_empty(void **state)
{
    struct buf b;
    buf_init(&b, 100);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 100);
    buf_free(&b); /* freeing an unused buffer is fine */
    assert_null(b.data);
}

static void test_growth(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    /* an empty append still yields a terminated string */
    assert_true(buf_append(&b, "", 0));
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    char expect[100001];
    size_t n = 0;
    for (int i = 0; i < 10000; i++) {
        char piece[16];
        int k = snprintf(piece, sizeof piece, "%d,", i % 1000);
        assert_true(buf_append(&b, piece, (size_t)k));
        memcpy(expect + n, piece, (size_t)k);
        n += (size_t)k;
        assert_int_equal(b.len, n);
        assert_true(b.cap > b.len);         /* room for the NUL */
        assert_int_equal(b.data[b.len], 0); /* always terminated */
    }
    assert_memory_equal(b.data, expect, n);
    assert_int_equal(strlen(b.data), n);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_binary_data(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    const char bin[] = {'a', 0, 'b', (char)0xff, 0};
    assert_true(buf_append(&b, bin, sizeof bin));
    assert_int_equal(b.len, sizeof bin);
    assert_memory_equal(b.data, bin, sizeof bin);
    assert_true(buf_puts(&b, "xyz"));
    assert_int_equal(b.len, sizeof bin + 3);
    assert_memory_equal(b.data + sizeof bin, "xyz", 4);
    buf_free(&b);
}

static void test_cap_exact_and_refused(void **state)
{
    struct buf b;
    buf_init(&b, 10);
    assert_true(buf_puts(&b, "12345"));
    assert_true(buf_puts(&b, "67890")); /* exactly max bytes */
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "1234567890");
    assert_true(b.cap <= 11); /* never allocates past max + NUL */
    char *before = b.data;
    size_t cap = b.cap;
    /* one more byte is refused and nothing changes */
    assert_false(buf_append(&b, "x", 1));
    assert_false(buf_puts(&b, "x"));
    assert_false(buf_printf(&b, "%d", 7));
    assert_int_equal(b.len, 10);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.data, before);
    assert_string_equal(b.data, "1234567890");
    /* an empty append at the cap is fine */
    assert_true(buf_append(&b, "", 0));
    assert_int_equal(b.len, 10);
    buf_free(&b);
}

static void test_cap_refuses_whole_append(void **state)
{
    struct buf b;
    buf_init(&b, 8);
    assert_true(buf_puts(&b, "abc"));
    /* would end at 9 > 8: refused entirely, not partially written */
    assert_false(buf_puts(&b, "defghi"));
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    assert_true(buf_puts(&b, "defgh"));
    assert_string_equal(b.data, "abcdefgh");
    buf_free(&b);

    /* a first append bigger than the cap */
    buf_init(&b, 4);
    assert_false(buf_puts(&b, "hello"));
    assert_int_equal(b.len, 0);
    assert_true(b.data == NULL || b.data[0] == '\0');
    buf_free(&b);
}

static void test_cap_large(void **state)
{
    struct buf b;
    size_t max = 1024 * 1024;
    buf_init(&b, max);
    char chunk[4096];
    memset(chunk, 'q', sizeof chunk);
    size_t total = 0;
    while (buf_append(&b, chunk, sizeof chunk))
        total += sizeof chunk;
    assert_int_equal(total, max); /* 1 MiB is a multiple of 4 KiB */
    assert_int_equal(b.len, max);
    assert_int_equal(b.cap, max + 1);
    assert_true(buf_append(&b, chunk, 0));
    assert_false(buf_append(&b, chunk, 1));
    assert_int_equal(b.data[max], '\0');
    buf_free(&b);
}

static void test_huge_append_refused(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_true(buf_puts(&b, "keep"));
    /* sizes that would overflow are refused before touching memory */
    assert_false(buf_append(&b, "x", SIZE_MAX));
    assert_false(buf_append(&b, "x", SIZE_MAX / 2));
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    buf_free(&b);
}

static void test_printf_short_and_long(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_true(buf_printf(&b, "%s=%d;", "a", 1));
    assert_string_equal(b.data, "a=1;");
    /* longer than the internal 256-byte scratch: formatted in place */
    char big[5000];
    memset(big, 'L', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_true(buf_printf(&b, "[%s|%05d]", big, 42));
    assert_int_equal(b.len, 4 + 1 + 4999 + 7);
    assert_memory_equal(b.data, "a=1;[LLLL", 9);
    assert_string_equal(b.data + b.len - 7, "|00042]");
    assert_int_equal(strlen(b.data), b.len);
    /* exactly at the 255/256 boundary */
    buf_free(&b);
    for (int n = 250; n <= 260; n++) {
        buf_init(&b, 0);
        assert_true(buf_printf(&b, "%.*s", n, big));
        assert_int_equal(b.len, (size_t)n);
        assert_int_equal(strlen(b.data), (size_t)n);
        buf_free(&b);
    }
    /* a long printf over the cap is refused and changes nothing */
    buf_init(&b, 1000);
    assert_true(buf_printf(&b, "head"));
    assert_false(buf_printf(&b, "%s", big));
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "head");
    /* a long printf that fits the cap exactly */
    assert_true(buf_printf(&b, "%.*s", 996, big));
    assert_int_equal(b.len, 1000);
    assert_false(buf_printf(&b, "x"));
    buf_free(&b);
}

/* An encoding error in the format is refused, not appended. */
static void test_printf_format_error(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_true(buf_puts(&b, "keep"));
    /* In the C locale a wide character outside ASCII cannot be converted. */
    assert_false(buf_printf(&b, "%lc", (wint_t)0x20AC));
    assert_false(buf_printf(&b, "%300lc", (wint_t)0x20AC));
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    buf_free(&b);
}

static void test_steal(void **state)
{
    struct buf b;
    buf_init(&b, 64);
    assert_null(buf_steal(&b)); /* nothing to steal yet */
    assert_true(buf_puts(&b, "owned by caller"));
    char *p = buf_steal(&b);
    assert_string_equal(p, "owned by caller");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 64); /* the cap survives */
    /* the buffer is reusable and does not touch the stolen storage */
    assert_true(buf_puts(&b, "again"));
    assert_string_equal(b.data, "again");
    assert_string_equal(p, "owned by caller");
    free(p);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_empty),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_binary_data),
        cmocka_unit_test(test_cap_exact_and_refused),
        cmocka_unit_test(test_cap_refuses_whole_append),
        cmocka_unit_test(test_cap_large),
        cmocka_unit_test(test_huge_append_refused),
        cmocka_unit_test(test_printf_short_and_long),
        cmocka_unit_test(test_printf_format_error),
        cmocka_unit_test(test_steal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
