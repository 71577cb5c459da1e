/* test_strmap.c - the open-addressing string map (src/core/strmap.c):
 * put/get/replace/delete, deletion inside probe chains (including chains
 * that wrap around the table), and 10k random operations checked against a
 * naive array model. */
#include "core/strmap.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define V(x) ((void *)(uintptr_t)(x))

static void test_empty(void **state)
{
    struct strmap m = {0};
    assert_null(strmap_get(&m, "a"));
    assert_null(strmap_del(&m, "a"));
    assert_null(strmap_get(&m, ""));
    strmap_free(&m);
}

static void test_put_get_replace_del(void **state)
{
    struct strmap m = {0};
    void *old = V(1);
    assert_true(strmap_put(&m, "alpha", V(10), &old));
    assert_null(old);
    assert_true(strmap_put(&m, "beta", V(20), NULL));
    assert_true(strmap_put(&m, "", V(30), &old)); /* the empty key is a key */
    assert_int_equal(m.n, 3);
    assert_ptr_equal(strmap_get(&m, "alpha"), V(10));
    assert_ptr_equal(strmap_get(&m, "beta"), V(20));
    assert_ptr_equal(strmap_get(&m, ""), V(30));
    assert_null(strmap_get(&m, "gamma"));
    assert_null(strmap_get(&m, "alph"));
    assert_null(strmap_get(&m, "alphaa"));
    /* replace returns the old value and keeps the count */
    assert_true(strmap_put(&m, "alpha", V(11), &old));
    assert_ptr_equal(old, V(10));
    assert_int_equal(m.n, 3);
    assert_ptr_equal(strmap_get(&m, "alpha"), V(11));
    /* delete */
    assert_ptr_equal(strmap_del(&m, "alpha"), V(11));
    assert_null(strmap_get(&m, "alpha"));
    assert_null(strmap_del(&m, "alpha"));
    assert_int_equal(m.n, 2);
    assert_ptr_equal(strmap_get(&m, "beta"), V(20));
    /* re-insert after delete */
    assert_true(strmap_put(&m, "alpha", V(12), &old));
    assert_null(old);
    assert_ptr_equal(strmap_get(&m, "alpha"), V(12));
    strmap_free(&m);
    assert_int_equal(m.n, 0);
    assert_null(m.slots);
    /* usable again after free */
    assert_true(strmap_put(&m, "x", V(1), NULL));
    assert_ptr_equal(strmap_get(&m, "x"), V(1));
    strmap_free(&m);
}

static void test_key_is_copied(void **state)
{
    struct strmap m = {0};
    char key[16] = "mutable";
    assert_true(strmap_put(&m, key, V(5), NULL));
    snprintf(key, sizeof key, "changed");
    assert_ptr_equal(strmap_get(&m, "mutable"), V(5));
    assert_null(strmap_get(&m, "changed"));
    strmap_free(&m);
}

/* The map's hash (FNV-1a folded), duplicated here only to build keys that
 * collide on purpose. If the map's hash changes, these keys merely stop
 * colliding: the checks stay correct, only weaker. */
static size_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

/* Finds n keys whose home slot in a 64-slot table is `home`. */
static void colliding_keys(size_t home, char keys[][16], size_t n)
{
    size_t found = 0;
    for (unsigned i = 0; found < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "c%u", i);
        if ((fnv(k) & 63) == home)
            memcpy(keys[found++], k, sizeof k);
    }
}

static void check_all(struct strmap *m, char keys[][16], const bool *present, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *v = strmap_get(m, keys[i]);
        if (present[i] && v != V(i + 1))
            fail_msg("key %s lost (got %p)", keys[i], v);
        if (!present[i] && v)
            fail_msg("deleted key %s still found", keys[i]);
    }
}

/* Deleting from the head, middle and tail of one long probe chain (and of a
 * chain that wraps from the last slot to the first) keeps every other key
 * reachable. The table stays at 64 slots (at most 47 keys). */
static void chain_case(size_t home, const size_t *del_order, size_t ndel)
{
    enum { N = 12 };
    char keys[N + 4][16];
    bool present[N + 4];
    colliding_keys(home, keys, N);
    /* neighbours homed just after `home`, interleaved in the chain */
    colliding_keys((home + 1) & 63, keys + N, 2);
    colliding_keys((home + 3) & 63, keys + N + 2, 2);
    struct strmap m = {0};
    for (size_t i = 0; i < N + 4; i++) {
        assert_true(strmap_put(&m, keys[i], V(i + 1), NULL));
        present[i] = true;
    }
    assert_int_equal(m.cap, 64);
    check_all(&m, keys, present, N + 4);
    for (size_t d = 0; d < ndel; d++) {
        size_t i = del_order[d];
        assert_ptr_equal(strmap_del(&m, keys[i]), V(i + 1));
        present[i] = false;
        check_all(&m, keys, present, N + 4);
    }
    /* and put them back */
    for (size_t d = 0; d < ndel; d++) {
        size_t i = del_order[d];
        void *old = V(99);
        assert_true(strmap_put(&m, keys[i], V(i + 1), &old));
        assert_null(old);
        present[i] = true;
    }
    check_all(&m, keys, present, N + 4);
    assert_int_equal(m.n, N + 4);
    strmap_free(&m);
}

static void test_delete_in_probe_chains(void **state)
{
    static const size_t order1[] = {0, 5, 11, 12, 1, 14, 6, 2, 15, 13};
    static const size_t order2[] = {11, 10, 9, 3, 4, 0};
    static const size_t order3[] = {6, 7, 5, 8, 4, 12, 13, 14, 15, 0, 1, 2, 3, 9, 10, 11};
    chain_case(10, order1, sizeof order1 / sizeof *order1);
    chain_case(10, order2, sizeof order2 / sizeof *order2);
    chain_case(10, order3, sizeof order3 / sizeof *order3);
    /* chains that wrap around the end of the table */
    chain_case(60, order1, sizeof order1 / sizeof *order1);
    chain_case(62, order2, sizeof order2 / sizeof *order2);
    chain_case(63, order3, sizeof order3 / sizeof *order3);
}

/* ---- random operations against a model ---- */

#define POOL 1500

struct model {
    char key[POOL][16];
    void *val[POOL];
    bool present[POOL];
    size_t n;
};

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

struct visit {
    const struct model *md;
    size_t count;
    bool bad;
};

static void visit_fn(void *arg, const char *key, void *val)
{
    struct visit *v = arg;
    v->count++;
    char *end;
    unsigned long idx = key[0] == 'k' ? strtoul(key + 1, &end, 10) : POOL;
    if (idx >= POOL || *end || !v->md->present[idx] || v->md->val[idx] != val)
        v->bad = true;
}

static void check_model(struct strmap *m, const struct model *md)
{
    assert_int_equal(m->n, md->n);
    for (size_t i = 0; i < POOL; i++) {
        void *v = strmap_get(m, md->key[i]);
        if (v != (md->present[i] ? md->val[i] : NULL))
            fail_msg("key %s: map has %p, model has %p", md->key[i], v,
                     md->present[i] ? md->val[i] : NULL);
    }
    struct visit v = {md, 0, false};
    strmap_each(m, visit_fn, &v);
    assert_false(v.bad);
    assert_int_equal(v.count, md->n);
}

static void run_random(size_t nops, unsigned put_pct, unsigned del_pct)
{
    static struct model md;
    memset(&md, 0, sizeof md);
    for (size_t i = 0; i < POOL; i++)
        snprintf(md.key[i], sizeof md.key[i], "k%zu", i);
    struct strmap m = {0};
    for (size_t op = 0; op < nops; op++) {
        size_t i = (size_t)(rng() % POOL);
        unsigned kind = (unsigned)(rng() % 100);
        if (kind < put_pct) {
            void *val = V((rng() | 1) & 0xffffffffu);
            void *old = V(1);
            assert_true(strmap_put(&m, md.key[i], val, &old));
            if (old != (md.present[i] ? md.val[i] : NULL))
                fail_msg("op %zu: put %s returned old %p", op, md.key[i], old);
            if (!md.present[i])
                md.n++;
            md.present[i] = true;
            md.val[i] = val;
        } else if (kind < put_pct + del_pct) {
            void *got = strmap_del(&m, md.key[i]);
            if (got != (md.present[i] ? md.val[i] : NULL))
                fail_msg("op %zu: del %s returned %p", op, md.key[i], got);
            if (md.present[i])
                md.n--;
            md.present[i] = false;
        } else {
            void *got = strmap_get(&m, md.key[i]);
            if (got != (md.present[i] ? md.val[i] : NULL))
                fail_msg("op %zu: get %s returned %p", op, md.key[i], got);
        }
        assert_int_equal(m.n, md.n);
        if (op % 500 == 0)
            check_model(&m, &md);
        assert_true(m.n * 4 <= m.cap * 3); /* load factor kept under 3/4 */
    }
    check_model(&m, &md);
    strmap_free(&m);
}

static void test_random_vs_model(void **state)
{
    run_random(10000, 50, 30);
    run_random(10000, 35, 45); /* delete-heavy: many holes in chains */
    run_random(10000, 70, 10); /* grows to well past 1000 keys */
}

static void test_many_keys_grow(void **state)
{
    struct strmap m = {0};
    char k[32];
    for (unsigned i = 0; i < 50000; i++) {
        snprintf(k, sizeof k, "device-%u", i);
        assert_true(strmap_put(&m, k, V(i + 1), NULL));
    }
    assert_int_equal(m.n, 50000);
    for (unsigned i = 0; i < 50000; i += 2) {
        snprintf(k, sizeof k, "device-%u", i);
        assert_ptr_equal(strmap_del(&m, k), V(i + 1));
    }
    for (unsigned i = 0; i < 50000; i++) {
        snprintf(k, sizeof k, "device-%u", i);
        void *v = strmap_get(&m, k);
        if (v != (i % 2 ? V(i + 1) : NULL))
            fail_msg("%s: %p", k, v);
    }
    assert_int_equal(m.n, 25000);
    strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),           cmocka_unit_test(test_put_get_replace_del),
        cmocka_unit_test(test_key_is_copied),   cmocka_unit_test(test_delete_in_probe_chains),
        cmocka_unit_test(test_random_vs_model), cmocka_unit_test(test_many_keys_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
