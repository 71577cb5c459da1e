/* test_sim_keys.c - `carbon sim --keys FILE` (src/sim/keys.c): "id,key"
 * lines read in order, blank lines and '#' comments skipped, CRLF endings,
 * the longest id and key; at most max entries with *more set; refusals
 * naming the line (no comma, empty or spaced key, bad or overlong id,
 * overlong key, a file of comments only, an empty file); a missing file.
 * Files are written under /tmp with unique names and removed. */
#include "sim/keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* A new file under /tmp holding text; its name in path. */
static void write_tmp(char *path, size_t cap, const char *text)
{
    assert_true(cap > 32);
    strcpy(path, "/tmp/carbon-test-keys-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

struct result {
    int rc;
    struct sim_key *v;
    size_t n;
    bool more;
    char err[512];
    char path[64];
};

/* sim_keys_read of a temporary file holding text (removed again). */
static void read_text(struct result *r, const char *text, size_t max)
{
    memset(r, 0, sizeof *r);
    write_tmp(r->path, sizeof r->path, text);
    static struct sim_key junk;
    r->v = &junk; /* must be reset */
    r->more = true;
    r->rc = sim_keys_read(r->path, max, &r->v, &r->n, &r->more, r->err, sizeof r->err);
    assert_int_equal(unlink(r->path), 0);
    if (r->rc == 0) {
        assert_non_null(r->v);
        assert_true(r->n >= 1);
    } else {
        assert_null(r->v);
        assert_true(r->err[0] != '\0');
    }
}

/* text is read (max entries at most) as n entries, *more as given; the
 * caller checks them and frees r->v. */
static void read_ok(struct result *r, const char *text, size_t max, size_t n, bool more)
{
    read_text(r, text, max);
    assert_int_equal(r->rc, 0);
    assert_int_equal(r->n, n);
    assert_int_equal(r->more, more);
}

/* text is refused as malformed (2), err naming the file and line. */
static void malformed(const char *text, unsigned line)
{
    struct result r;
    read_text(&r, text, 100);
    assert_int_equal(r.rc, 2);
    char want[96];
    snprintf(want, sizeof want, "%s:%u: expected device_id,key", r.path, line);
    if (strcmp(r.err, want) != 0)
        fail_msg("'%s': '%s', expected '%s'", text, r.err, want);
}

static void test_read(void **state)
{
    struct result r;
    read_ok(&r,
            "# devices of the test house\n"
            "\n"
            "kitchen-1,cbk_aaaa\n"
            "#garage-2,cbk_commented\n"
            "garage.2:b_c,cbk_bbbb\r\n"
            "\r\n"
            "attic,k", /* no final newline */
            100, 3, false);
    assert_string_equal(r.v[0].id, "kitchen-1");
    assert_string_equal(r.v[0].key, "cbk_aaaa");
    assert_string_equal(r.v[1].id, "garage.2:b_c");
    assert_string_equal(r.v[1].key, "cbk_bbbb");
    assert_string_equal(r.v[2].id, "attic");
    assert_string_equal(r.v[2].key, "k");
    free(r.v);

    /* The longest id (64) and key (FW_KEY_MAX). */
    char text[400], id[65], key[FW_KEY_MAX + 1];
    memset(id, 'i', 64);
    id[64] = '\0';
    memset(key, 'k', FW_KEY_MAX);
    key[FW_KEY_MAX] = '\0';
    snprintf(text, sizeof text, "%s,%s\n", id, key);
    read_ok(&r, text, 100, 1, false);
    assert_string_equal(r.v[0].id, id);
    assert_string_equal(r.v[0].key, key);
    free(r.v);
}

/* Past the first chunk of 64 entries, and at most max of them. */
static void test_many_and_max(void **state)
{
    enum { N = 300 };
    char *text = malloc(N * 32);
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(text + len, "dev-%d,key-%d\n", i, i);
    struct result r;
    read_ok(&r, text, N, N, false);
    for (int i = 0; i < N; i++) {
        char id[32], key[32];
        snprintf(id, sizeof id, "dev-%d", i);
        snprintf(key, sizeof key, "key-%d", i);
        assert_string_equal(r.v[i].id, id);
        assert_string_equal(r.v[i].key, key);
    }
    free(r.v);
    /* Too many: the first max kept, *more set. */
    read_ok(&r, text, 10, 10, true);
    assert_string_equal(r.v[9].id, "dev-9");
    free(r.v);
    read_ok(&r, "a,1\nb,2\n", 1, 1, true);
    assert_string_equal(r.v[0].id, "a");
    free(r.v);
    /* Exactly max: nothing more. */
    read_ok(&r, "a,1\nb,2\n# the end\n\n", 2, 2, false);
    free(r.v);
    free(text);
}

static void test_malformed(void **state)
{
    malformed("kitchen-1\n", 1);                /* no comma */
    malformed("kitchen-1,\n", 1);               /* no key */
    malformed(",cbk_a\n", 1);                   /* no id */
    malformed("a,1\n\nkitchen 1,cbk_a\n", 3);   /* a space in the id */
    malformed("a,1\nkitchen/1,cbk_a\n", 2);     /* not an id character */
    malformed("kitchen-1,cbk a\n", 1);          /* a space in the key */
    malformed("kitchen-1, cbk_a\n", 1);         /* a space before it */
    malformed("kitchen-1,cbk_a \n", 1);         /* a space after it */
    malformed("   \n", 1);                      /* spaces are not a blank line */
    malformed(" # indented comment\n", 1);      /* nor is this a comment */
    malformed("a,1\nb,2\n# ok\nc;3\nd,4\n", 4); /* the first bad line is named */
    char text[400], id[66], key[FW_KEY_MAX + 2];
    memset(id, 'i', 65);
    id[65] = '\0';
    snprintf(text, sizeof text, "%s,k\n", id);
    malformed(text, 1); /* a 65-character id */
    memset(key, 'k', FW_KEY_MAX + 1);
    key[FW_KEY_MAX + 1] = '\0';
    snprintf(text, sizeof text, "a,1\nid,%s\n", key);
    malformed(text, 2); /* a key over FW_KEY_MAX */
}

static void test_no_entries(void **state)
{
    struct result r;
    read_text(&r, "", 10);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "holds no device_id,key line"));
    read_text(&r, "# only a comment\n\n\r\n#another\n", 10);
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "holds no device_id,key line"));
    assert_non_null(strstr(r.err, r.path));
}

static void test_missing_file(void **state)
{
    char path[64];
    write_tmp(path, sizeof path, "a,1\n");
    assert_int_equal(unlink(path), 0); /* a name that is surely free */
    static struct sim_key junk;
    struct sim_key *v = &junk;
    size_t n = 7;
    bool more = true;
    char err[256];
    assert_int_equal(sim_keys_read(path, 10, &v, &n, &more, err, sizeof err), 1);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_false(more);
    assert_non_null(strstr(err, "cannot read"));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
    /* A directory cannot be read as one either. */
    v = NULL;
    int rc = sim_keys_read("/tmp", 10, &v, &n, &more, err, sizeof err);
    assert_int_equal(rc, 1);
    assert_null(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),         cmocka_unit_test(test_many_and_max),
        cmocka_unit_test(test_malformed),    cmocka_unit_test(test_no_entries),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
