/* test_registry.c - devices, gateways and keys cached over the store
 * (src/auth/registry.c), on the real SQLite store in a mkdtemp directory:
 * authentication by key, rotation, registry_check_write for every kind of
 * principal, persistence across reopen, and store failures (through a
 * wrapper store whose operations can be told to fail). */
#include "auth/registry.h"
#include "core/log.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* ---- a store wrapper that can fail on demand ---- */

struct flaky {
    struct store base;
    struct store *inner;
    cb_err fail_device_create, fail_device_update, fail_device_delete, fail_devices_load;
    cb_err fail_gateway_create, fail_gateway_update, fail_gateway_delete;
};

#define INNER(s) (((struct flaky *)(s))->inner)
#define FLAKY(s) ((struct flaky *)(s))

static void fl_close(struct store *s)
{
    INNER(s)->ops->close(INNER(s));
    free(s);
}
static cb_err fl_ready(struct store *s)
{
    return INNER(s)->ops->ready(INNER(s));
}
static cb_err fl_put(struct store *s, const struct reading *r, size_t n, uint8_t *dup,
                     int64_t now_ms, store_done_fn done, void *arg)
{
    return INNER(s)->ops->put_readings(INNER(s), r, n, dup, now_ms, done, arg);
}
static cb_err fl_query(struct store *s, uint32_t dev, int64_t from, int64_t to, bool desc,
                       size_t limit, struct reading **out, size_t *n)
{
    return INNER(s)->ops->query_readings(INNER(s), dev, from, to, desc, limit, out, n);
}
static cb_err fl_scan(struct store *s, uint32_t dev, int64_t from, int64_t to, store_scan_fn fn,
                      void *arg)
{
    return INNER(s)->ops->scan_readings(INNER(s), dev, from, to, fn, arg);
}
static cb_err fl_live(struct store *s, uint32_t dev, struct device_live *out)
{
    return INNER(s)->ops->device_live(INNER(s), dev, out);
}
static cb_err fl_device_create(struct store *s, struct device *d)
{
    if (FLAKY(s)->fail_device_create)
        return FLAKY(s)->fail_device_create;
    return INNER(s)->ops->device_create(INNER(s), d);
}
static cb_err fl_device_update(struct store *s, const struct device *d)
{
    if (FLAKY(s)->fail_device_update)
        return FLAKY(s)->fail_device_update;
    return INNER(s)->ops->device_update(INNER(s), d);
}
static cb_err fl_device_delete(struct store *s, const struct device *d)
{
    if (FLAKY(s)->fail_device_delete)
        return FLAKY(s)->fail_device_delete;
    return INNER(s)->ops->device_delete(INNER(s), d);
}
static cb_err fl_devices_load(struct store *s, store_device_fn fn, void *arg)
{
    if (FLAKY(s)->fail_devices_load)
        return FLAKY(s)->fail_devices_load;
    return INNER(s)->ops->devices_load(INNER(s), fn, arg);
}
static cb_err fl_gateway_create(struct store *s, const struct gateway *g)
{
    if (FLAKY(s)->fail_gateway_create)
        return FLAKY(s)->fail_gateway_create;
    return INNER(s)->ops->gateway_create(INNER(s), g);
}
static cb_err fl_gateway_update(struct store *s, const struct gateway *g)
{
    if (FLAKY(s)->fail_gateway_update)
        return FLAKY(s)->fail_gateway_update;
    return INNER(s)->ops->gateway_update(INNER(s), g);
}
static cb_err fl_gateway_delete(struct store *s, const char *id)
{
    if (FLAKY(s)->fail_gateway_delete)
        return FLAKY(s)->fail_gateway_delete;
    return INNER(s)->ops->gateway_delete(INNER(s), id);
}
static cb_err fl_gateways_load(struct store *s, store_gateway_fn fn, void *arg)
{
    return INNER(s)->ops->gateways_load(INNER(s), fn, arg);
}

static const struct store_ops flaky_ops = {
    .name = "flaky",
    .close = fl_close,
    .ready = fl_ready,
    .put_readings = fl_put,
    .query_readings = fl_query,
    .scan_readings = fl_scan,
    .device_live = fl_live,
    .device_create = fl_device_create,
    .device_update = fl_device_update,
    .device_delete = fl_device_delete,
    .devices_load = fl_devices_load,
    .gateway_create = fl_gateway_create,
    .gateway_update = fl_gateway_update,
    .gateway_delete = fl_gateway_delete,
    .gateways_load = fl_gateways_load,
};

/* ---- fixture ---- */

struct fx {
    char dir[64];
    struct flaky *st;
    struct registry *reg;
};

static bool open_all(struct fx *f)
{
    f->st = calloc(1, sizeof *f->st);
    if (!f->st)
        return false;
    f->st->base.ops = &flaky_ops;
    f->st->inner = store_sqlite_open(f->dir);
    if (!f->st->inner) {
        free(f->st);
        f->st = NULL;
        return false;
    }
    f->reg = registry_open(&f->st->base);
    return f->reg != NULL;
}

static void close_all(struct fx *f)
{
    registry_close(f->reg);
    f->reg = NULL;
    if (f->st)
        f->st->base.ops->close(&f->st->base);
    f->st = NULL;
}

static void reopen(struct fx *f)
{
    close_all(f);
    assert_true(open_all(f));
}

static int setup(void **state)
{
    log_set_level(LOG_WARN);
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/carbon-registry-XXXXXX");
    if (!mkdtemp(f->dir) || !open_all(f)) {
        close_all(f);
        rmdir(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    close_all(f);
    int rc = test_rm_tree(f->dir);
    free(f);
    return rc;
}

/* ---- helpers ---- */

static uint32_t add_device(struct registry *r, const char *id, char key[SECRET_KEY_LEN])
{
    struct device d = {.offline_after_s = 600};
    snprintf(d.id, sizeof d.id, "%s", id);
    char local[SECRET_KEY_LEN];
    assert_int_equal(registry_device_create(r, &d, key ? key : local), CB_OK);
    assert_true(d.seq > 0);
    return d.seq;
}

static void add_gateway(struct registry *r, const char *id, const char *const *devs, size_t n,
                        char key[SECRET_KEY_LEN])
{
    char(*list)[65] = n ? calloc(n, 65) : NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(list[i], 65, "%s", devs[i]);
    struct gateway g = {.devices = list, .ndevices = n};
    snprintf(g.id, sizeof g.id, "%s", id);
    char local[SECRET_KEY_LEN];
    assert_int_equal(registry_gateway_create(r, &g, key ? key : local), CB_OK);
    free(list);
}

static void expect_auth(struct registry *r, const char *key, enum principal_kind kind,
                        const char *id)
{
    struct principal p;
    memset(&p, 0x55, sizeof p);
    bool ok = registry_authenticate(r, key, &p);
    if (kind == PRINCIPAL_NONE) {
        if (ok)
            fail_msg("key %s authenticated as %d/%s, want nothing", key, p.kind, p.id);
        return;
    }
    if (!ok)
        fail_msg("key %s did not authenticate (want %s)", key, id);
    assert_int_equal(p.kind, kind);
    assert_string_equal(p.id, id);
}

static enum write_check check(struct registry *r, enum principal_kind kind, const char *who,
                              const char *device, uint32_t *seq)
{
    struct principal p = {.kind = kind};
    snprintf(p.id, sizeof p.id, "%s", who ? who : "");
    uint32_t local = 0xdeadbeef;
    registry_rdlock(r);
    enum write_check w = registry_check_write(r, &p, device, seq ? seq : &local);
    registry_unlock(r);
    return w;
}

/* ---- devices ---- */

static void test_device_create_and_authenticate(void **state)
{
    struct fx *f = *state;
    struct registry *r = f->reg;
    struct device d = {.offline_after_s = 900, .name = "Kitchen"};
    snprintf(d.id, sizeof d.id, "kitchen");
    char key[SECRET_KEY_LEN];
    assert_int_equal(registry_device_create(r, &d, key), CB_OK);
    assert_true(d.seq > 0);
    assert_int_equal(strncmp(key, "cbk_", 4), 0);
    assert_int_equal(strlen(key), 47);
    char h[SECRET_HASH_LEN];
    secret_hash(key, strlen(key), h);
    assert_string_equal(d.key_hash, h); /* only the hash is kept */
    assert_true(d.created_ms > 1700000000000);

    expect_auth(r, key, PRINCIPAL_DEVICE, "kitchen");
    char wrong[SECRET_KEY_LEN];
    memcpy(wrong, key, sizeof wrong);
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    expect_auth(r, wrong, PRINCIPAL_NONE, NULL);
    expect_auth(r, "", PRINCIPAL_NONE, NULL);
    expect_auth(r, h, PRINCIPAL_NONE, NULL); /* the hash is not a key */

    uint32_t seq = 0;
    assert_int_equal(registry_device_seq(r, "kitchen", &seq), CB_OK);
    assert_int_equal(seq, d.seq);
    assert_int_equal(registry_device_seq(r, "nope", &seq), CB_ERR_NOT_FOUND);

    struct device got;
    assert_int_equal(registry_device_get(r, "kitchen", &got), CB_OK);
    assert_string_equal(got.name, "Kitchen");
    assert_int_equal(got.offline_after_s, 900);
    assert_int_equal(got.seq, d.seq);
    got.name[0] = 'X'; /* a deep copy: the registry's stays as it was */
    device_clear(&got);
    assert_int_equal(registry_device_get(r, "kitchen", &got), CB_OK);
    assert_string_equal(got.name, "Kitchen");
    device_clear(&got);
    assert_int_equal(registry_device_get(r, "nope", &got), CB_ERR_NOT_FOUND);

    /* the same id again: conflict, and the second key opens nothing */
    struct device again = {.offline_after_s = 600};
    snprintf(again.id, sizeof again.id, "kitchen");
    char key2[SECRET_KEY_LEN];
    assert_int_equal(registry_device_create(r, &again, key2), CB_ERR_CONFLICT);
    expect_auth(r, key2, PRINCIPAL_NONE, NULL);
    expect_auth(r, key, PRINCIPAL_DEVICE, "kitchen");
}

static void test_device_keys_distinct(void **state)
{
    struct fx *f = *state;
    char k1[SECRET_KEY_LEN], k2[SECRET_KEY_LEN];
    add_device(f->reg, "one", k1);
    add_device(f->reg, "two", k2);
    assert_string_not_equal(k1, k2);
    expect_auth(f->reg, k1, PRINCIPAL_DEVICE, "one");
    expect_auth(f->reg, k2, PRINCIPAL_DEVICE, "two");
}

static void test_device_rotate(void **state)
{
    struct fx *f = *state;
    struct registry *r = f->reg;
    char old[SECRET_KEY_LEN], fresh[SECRET_KEY_LEN], other[SECRET_KEY_LEN];
    uint32_t seq = add_device(r, "d1", old);
    add_device(r, "d2", other);
    assert_int_equal(registry_device_rotate(r, "d1", fresh), CB_OK);
    assert_string_not_equal(old, fresh);
    expect_auth(r, old, PRINCIPAL_NONE, NULL); /* stops working at once */
    expect_auth(r, fresh, PRINCIPAL_DEVICE, "d1");
    expect_auth(r, other, PRINCIPAL_DEVICE, "d2");
    uint32_t s2;
    assert_int_equal(registry_device_seq(r, "d1", &s2), CB_OK);
    assert_int_equal(s2, seq);
    char k3[SECRET_KEY_LEN];
    assert_int_equal(registry_device_rotate(r, "nope", k3), CB_ERR_NOT_FOUND);
    expect_auth(r, k3, PRINCIPAL_NONE, NULL);
    /* twice in a row: only the newest works */
    char newest[SECRET_KEY_LEN];
    assert_int_equal(registry_device_rotate(r, "d1", newest), CB_OK);
    expect_auth(r, fresh, PRINCIPAL_NONE, NULL);
    expect_auth(r, newest, PRINCIPAL_DEVICE, "d1");
    /* and it is what the store holds */
    reopen(f);
    expect_auth(f->reg, old, PRINCIPAL_NONE, NULL);
    expect_auth(f->reg, fresh, PRINCIPAL_NONE, NULL);
    expect_auth(f->reg, newest, PRINCIPAL_DEVICE, "d1");
    expect_auth(f->reg, other, PRINCIPAL_DEVICE, "d2");
}

static void test_device_update(void **state)
{
    struct fx *f = *state;
    struct registry *r = f->reg;
    char key[SECRET_KEY_LEN];
    uint32_t seq = add_device(r, "d", key);
    struct device before;
    assert_int_equal(registry_device_get(r, "d", &before), CB_OK);

    struct device u = {.offline_after_s = 60,
                       .name = "Hall",
                       .owner = "alice",
                       .thresholds = "{\"alarm_ppm\":70}",
                       .seq = 777,
                       .created_ms = 5};
    snprintf(u.id, sizeof u.id, "d");
    memset(u.key_hash, 'f', 64); /* ignored: keys change only by rotation */
    u.key_hash[64] = '\0';
    assert_int_equal(registry_device_update(r, &u), CB_OK);
    struct device got;
    assert_int_equal(registry_device_get(r, "d", &got), CB_OK);
    assert_string_equal(got.name, "Hall");
    assert_string_equal(got.owner, "alice");
    assert_string_equal(got.thresholds, "{\"alarm_ppm\":70}");
    assert_null(got.location);
    assert_int_equal(got.offline_after_s, 60);
    assert_int_equal(got.seq, seq);                      /* kept */
    assert_int_equal(got.created_ms, before.created_ms); /* kept */
    assert_string_equal(got.key_hash, before.key_hash);  /* kept */
    device_clear(&got);
    device_clear(&before);
    expect_auth(r, key, PRINCIPAL_DEVICE, "d");

    snprintf(u.id, sizeof u.id, "nope");
    assert_int_equal(registry_device_update(r, &u), CB_ERR_NOT_FOUND);

    reopen(f);
    assert_int_equal(registry_device_get(f->reg, "d", &got), CB_OK);
    assert_string_equal(got.name, "Hall");
    assert_int_equal(got.offline_after_s, 60);
    device_clear(&got);
    expect_auth(f->reg, key, PRINCIPAL_DEVICE, "d");
}

static void test_device_delete(void **state)
{
    struct fx *f = *state;
    struct registry *r = f->reg;
    char key[SECRET_KEY_LEN], keep[SECRET_KEY_LEN];
    uint32_t seq = add_device(r, "gone", key);
    add_device(r, "stays", keep);
    assert_int_equal(registry_device_delete(r, "gone"), CB_OK);
    expect_auth(r, key, PRINCIPAL_NONE, NULL);
    expect_auth(r, keep, PRINCIPAL_DEVICE, "stays");
    struct device got;
    assert_int_equal(registry_device_get(r, "gone", &got), CB_ERR_NOT_FOUND);
    assert_int_equal(registry_device_delete(r, "gone"), CB_ERR_NOT_FOUND);
    char k2[SECRET_KEY_LEN];
    assert_int_equal(registry_device_rotate(r, "gone", k2), CB_ERR_NOT_FOUND);
    /* the id can be registered again, as a new device */
    char key3[SECRET_KEY_LEN];
    uint32_t seq2 = add_device(r, "gone", key3);
    assert_true(seq2 != seq);
    expect_auth(r, key, PRINCIPAL_NONE, NULL);
    expect_auth(r, key3, PRINCIPAL_DEVICE, "gone");
    reopen(f);
    expect_auth(f->reg, key, PRINCIPAL_NONE, NULL);
    expect_auth(f->reg, key3, PRINCIPAL_DEVICE, "gone");
}

static void test_device_list_sorted(void **state)
{
    struct fx *f = *state;
    struct device *list = NULL;
    size_t n = 99;
    assert_int_equal(registry_device_list(f->reg, &list, &n), CB_OK);
    assert_int_equal(n, 0);
    free(list);
    static const char *const ids[] = {"m", "c", "z", "a", "b-2", "b-10", "B"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        add_device(f->reg, ids[i], NULL);
    assert_int_equal(registry_device_list(f->reg, &list, &n), CB_OK);
    assert_int_equal(n, 7);
    static const char *const want[] = {"B", "a", "b-10", "b-2", "c", "m", "z"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(list[i].id, want[i]);
        device_clear(&list[i]);
    }
    free(list);
}

/* ---- gateways ---- */

static void test_gateway_lifecycle(void **state)
{
    struct fx *f = *state;
    struct registry *r = f->reg;
    add_device(r, "a", NULL);
    add_device(r, "b", NULL);
    static const char *const devs[] = {"b", "a"};
    char key[SECRET_KEY_LEN];
    add_gateway(r, "hub", devs, 2, key);
    assert_int_equal(strncmp(key, "cbg_", 4), 0);
    assert_int_equal(strlen(key), 47);
    expect_auth(r, key, PRINCIPAL_GATEWAY, "hub");

    struct gateway g;
    assert_int_equal(registry_gateway_get(r, "hub", &g), CB_OK);
    assert_int_equal(g.ndevices, 2);
    assert_string_equal(g.devices[0], "a"); /* sorted */
    assert_string_equal(g.devices[1], "b");
    int64_t created = g.created_ms;
    gateway_clear(&g);
    assert_int_equal(registry_gateway_get(r, "nope", &g), CB_ERR_NOT_FOUND);

    /* the same id: conflict */
    char k2[SECRET_KEY_LEN];
    struct gateway dup = {0};
    snprintf(dup.id, sizeof dup.id, "hub");
    assert_int_equal(registry_gateway_create(r, &dup, k2), CB_ERR_CONFLICT);
    expect_auth(r, k2, PRINCIPAL_NONE, NULL);

    /* update: name and list replaced, key and creation time kept */
    char l2[1][65] = {"b"};
    struct gateway u = {.name = "Hub 2", .devices = l2, .ndevices = 1, .created_ms = 1};
    snprintf(u.id, sizeof u.id, "hub");
    assert_int_equal(registry_gateway_update(r, &u), CB_OK);
    assert_int_equal(registry_gateway_get(r, "hub", &g), CB_OK);
    assert_string_equal(g.name, "Hub 2");
    assert_int_equal(g.ndevices, 1);
    assert_string_equal(g.devices[0], "b");
    assert_int_equal(g.created_ms, created);
    gateway_clear(&g);
    expect_auth(r, key, PRINCIPAL_GATEWAY, "hub");
    snprintf(u.id, sizeof u.id, "nope");
    assert_int_equal(registry_gateway_update(r, &u), CB_ERR_NOT_FOUND);

    /* rotate */
    char fresh[SECRET_KEY_LEN];
    assert_int_equal(registry_gateway_rotate(r, "hub", fresh), CB_OK);
    expect_auth(r, key, PRINCIPAL_NONE, NULL);
    expect_auth(r, fresh, PRINCIPAL_GATEWAY, "hub");
    assert_int_equal(registry_gateway_rotate(r, "nope", k2), CB_ERR_NOT_FOUND);
    assert_int_equal(registry_gateway_get(r, "hub", &g), CB_OK);
    assert_int_equal(g.ndevices, 1); /* rotation keeps the list */
    gateway_clear(&g);

    /* list */
    add_gateway(r, "alpha", NULL, 0, NULL);
    struct gateway *list;
    size_t n;
    assert_int_equal(registry_gateway_list(r, &list, &n), CB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "alpha");
    assert_string_equal(list[1].id, "hub");
    assert_int_equal(list[0].ndevices, 0);
    for (size_t i = 0; i < n; i++)
        gateway_clear(&list[i]);
    free(list);

    /* persistence */
    reopen(f);
    r = f->reg;
    expect_auth(r, fresh, PRINCIPAL_GATEWAY, "hub");
    expect_auth(r, key, PRINCIPAL_NONE, NULL);
    assert_int_equal(registry_gateway_get(r, "hub", &g), CB_OK);
    assert_string_equal(g.name, "Hub 2");
    assert_int_equal(g.ndevices, 1);
    gateway_clear(&g);

    /* delete */
    assert_int_equal(registry_gateway_delete(r, "hub"), CB_OK);
    expect_auth(r, fresh, PRINCIPAL_NONE, NULL);
    assert_int_equal(registry_gateway_delete(r, "hub"), CB_ERR_NOT_FOUND);
    assert_int_equal(registry_gateway_get(r, "hub", &g), CB_ERR_NOT_FOUND);
}

/* ---- who may write for which device ---- */

static void test_check_write(void **state)
{
    struct fx *f = *state;
    struct registry *r = f->reg;
    uint32_t a = add_device(r, "a", NULL), b = add_device(r, "b", NULL);
    /* ghost: not a device; a gateway keeps only devices that exist when its
     * list is written, so a later device with that id is not granted */
    static const char *const devs[] = {"a", "ghost"};
    add_gateway(r, "g", devs, 2, NULL);
    uint32_t seq = 0;

    /* admin: any existing device; unknown devices are reported as such */
    assert_int_equal(check(r, PRINCIPAL_ADMIN, NULL, "a", &seq), WRITE_OK);
    assert_int_equal(seq, a);
    assert_int_equal(check(r, PRINCIPAL_ADMIN, NULL, "b", &seq), WRITE_OK);
    assert_int_equal(seq, b);
    assert_int_equal(check(r, PRINCIPAL_ADMIN, NULL, "nope", NULL), WRITE_UNKNOWN_DEVICE);

    /* a device: only itself; others are forbidden whether they exist or not */
    seq = 0;
    assert_int_equal(check(r, PRINCIPAL_DEVICE, "a", "a", &seq), WRITE_OK);
    assert_int_equal(seq, a);
    assert_int_equal(check(r, PRINCIPAL_DEVICE, "a", "b", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_DEVICE, "a", "nope", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_DEVICE, "a", "A", NULL), WRITE_FORBIDDEN);

    /* a gateway: exactly its list */
    seq = 0;
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "a", &seq), WRITE_OK);
    assert_int_equal(seq, a);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "b", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "nope", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "ghost", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "unknown-gw", "a", NULL), WRITE_FORBIDDEN);

    /* no credentials */
    assert_int_equal(check(r, PRINCIPAL_NONE, NULL, "a", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_NONE, NULL, "nope", NULL), WRITE_FORBIDDEN);

    /* ghost registered later: still not the gateway's */
    add_device(r, "ghost", NULL);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "ghost", NULL), WRITE_FORBIDDEN);

    /* list changes take effect at once */
    char l2[1][65] = {"b"};
    struct gateway u = {.devices = l2, .ndevices = 1};
    snprintf(u.id, sizeof u.id, "g");
    assert_int_equal(registry_gateway_update(r, &u), CB_OK);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "a", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "b", NULL), WRITE_OK);

    /* a deleted gateway writes nothing */
    assert_int_equal(registry_gateway_delete(r, "g"), CB_OK);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "b", NULL), WRITE_FORBIDDEN);
}

/* Deleting a device takes it out of gateway lists: a later device that
 * reuses the id is not writable by the old gateway, now or after reopen. */
static void test_check_write_after_device_delete(void **state)
{
    struct fx *f = *state;
    struct registry *r = f->reg;
    add_device(r, "a", NULL);
    add_device(r, "b", NULL);
    static const char *const devs[] = {"a", "b"};
    add_gateway(r, "g", devs, 2, NULL);
    assert_int_equal(registry_device_delete(r, "a"), CB_OK);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "a", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_ADMIN, NULL, "a", NULL), WRITE_UNKNOWN_DEVICE);
    struct gateway g;
    assert_int_equal(registry_gateway_get(r, "g", &g), CB_OK);
    assert_int_equal(g.ndevices, 1);
    assert_string_equal(g.devices[0], "b");
    gateway_clear(&g);
    uint32_t a2 = add_device(r, "a", NULL), seq = 0;
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "a", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "b", NULL), WRITE_OK);
    assert_int_equal(check(r, PRINCIPAL_ADMIN, NULL, "a", &seq), WRITE_OK);
    assert_int_equal(seq, a2);
    reopen(f);
    assert_int_equal(check(f->reg, PRINCIPAL_GATEWAY, "g", "a", NULL), WRITE_FORBIDDEN);
    assert_int_equal(check(f->reg, PRINCIPAL_GATEWAY, "g", "b", NULL), WRITE_OK);
}

/* ---- store failures leave the cache as it was ---- */

static void test_store_failures(void **state)
{
    struct fx *f = *state;
    struct registry *r = f->reg;
    char key[SECRET_KEY_LEN], gkey[SECRET_KEY_LEN], k2[SECRET_KEY_LEN];
    add_device(r, "d", key);
    static const char *const devs[] = {"d"};
    add_gateway(r, "g", devs, 1, gkey);

    f->st->fail_device_create = CB_ERR_IO;
    struct device nd = {.offline_after_s = 600};
    snprintf(nd.id, sizeof nd.id, "new");
    assert_int_equal(registry_device_create(r, &nd, k2), CB_ERR_IO);
    expect_auth(r, k2, PRINCIPAL_NONE, NULL);
    uint32_t seq;
    assert_int_equal(registry_device_seq(r, "new", &seq), CB_ERR_NOT_FOUND);
    f->st->fail_device_create = CB_OK;

    f->st->fail_device_update = CB_ERR_IO;
    assert_int_equal(registry_device_rotate(r, "d", k2), CB_ERR_IO);
    expect_auth(r, key, PRINCIPAL_DEVICE, "d"); /* the old key still works */
    expect_auth(r, k2, PRINCIPAL_NONE, NULL);
    struct device u = {.offline_after_s = 30, .name = "changed"};
    snprintf(u.id, sizeof u.id, "d");
    assert_int_equal(registry_device_update(r, &u), CB_ERR_IO);
    struct device got;
    assert_int_equal(registry_device_get(r, "d", &got), CB_OK);
    assert_null(got.name);
    assert_int_equal(got.offline_after_s, 600);
    device_clear(&got);
    f->st->fail_device_update = CB_OK;

    f->st->fail_device_delete = CB_ERR_UNAVAILABLE;
    assert_int_equal(registry_device_delete(r, "d"), CB_ERR_UNAVAILABLE);
    expect_auth(r, key, PRINCIPAL_DEVICE, "d");
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "d", NULL), WRITE_OK);
    f->st->fail_device_delete = CB_OK;

    f->st->fail_gateway_create = CB_ERR_IO;
    struct gateway ng = {0};
    snprintf(ng.id, sizeof ng.id, "g2");
    assert_int_equal(registry_gateway_create(r, &ng, k2), CB_ERR_IO);
    expect_auth(r, k2, PRINCIPAL_NONE, NULL);
    struct gateway gg;
    assert_int_equal(registry_gateway_get(r, "g2", &gg), CB_ERR_NOT_FOUND);
    f->st->fail_gateway_create = CB_OK;

    f->st->fail_gateway_update = CB_ERR_IO;
    assert_int_equal(registry_gateway_rotate(r, "g", k2), CB_ERR_IO);
    expect_auth(r, gkey, PRINCIPAL_GATEWAY, "g");
    expect_auth(r, k2, PRINCIPAL_NONE, NULL);
    struct gateway gu = {.ndevices = 0};
    snprintf(gu.id, sizeof gu.id, "g");
    assert_int_equal(registry_gateway_update(r, &gu), CB_ERR_IO);
    assert_int_equal(check(r, PRINCIPAL_GATEWAY, "g", "d", NULL), WRITE_OK);
    f->st->fail_gateway_update = CB_OK;

    f->st->fail_gateway_delete = CB_ERR_IO;
    assert_int_equal(registry_gateway_delete(r, "g"), CB_ERR_IO);
    expect_auth(r, gkey, PRINCIPAL_GATEWAY, "g");
    f->st->fail_gateway_delete = CB_OK;

    /* and once the store works again, so does everything */
    assert_int_equal(registry_device_rotate(r, "d", k2), CB_OK);
    expect_auth(r, k2, PRINCIPAL_DEVICE, "d");
    expect_auth(r, key, PRINCIPAL_NONE, NULL);
}

static void test_open_fails_when_load_fails(void **state)
{
    struct fx *f = *state;
    add_device(f->reg, "d", NULL);
    f->st->fail_devices_load = CB_ERR_IO;
    log_set_level(LOG_OFF); /* the expected failure logs an error */
    struct registry *r2 = registry_open(&f->st->base);
    log_set_level(LOG_WARN);
    assert_null(r2);
    f->st->fail_devices_load = CB_OK;
    r2 = registry_open(&f->st->base);
    assert_non_null(r2);
    uint32_t seq;
    assert_int_equal(registry_device_seq(r2, "d", &seq), CB_OK);
    registry_close(r2);
}

/* ---- deep copies ---- */

static void test_copies(void **state)
{
    struct device src = {.seq = 3,
                         .name = "n",
                         .location = "l",
                         .owner = NULL,
                         .thresholds = "{}",
                         .calibration = NULL,
                         .offline_after_s = 7};
    snprintf(src.id, sizeof src.id, "id");
    struct device dst;
    assert_true(device_copy(&dst, &src));
    assert_ptr_not_equal(dst.name, src.name);
    assert_string_equal(dst.name, "n");
    assert_string_equal(dst.location, "l");
    assert_null(dst.owner);
    assert_string_equal(dst.thresholds, "{}");
    assert_null(dst.calibration);
    assert_int_equal(dst.seq, 3);
    assert_string_equal(dst.id, "id");
    device_clear(&dst);
    assert_null(dst.name);

    char devs[2][65] = {"x", "y"};
    struct gateway gs = {.name = "g", .devices = devs, .ndevices = 2};
    struct gateway gd;
    assert_true(gateway_copy(&gd, &gs));
    assert_ptr_not_equal(gd.devices, gs.devices);
    assert_string_equal(gd.devices[1], "y");
    gateway_clear(&gd);
    assert_int_equal(gd.ndevices, 0);
    struct gateway empty = {0}, ed;
    assert_true(gateway_copy(&ed, &empty));
    assert_null(ed.devices);
    gateway_clear(&ed);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_device_create_and_authenticate),
        T(test_device_keys_distinct),
        T(test_device_rotate),
        T(test_device_update),
        T(test_device_delete),
        T(test_device_list_sorted),
        T(test_gateway_lifecycle),
        T(test_check_write),
        T(test_check_write_after_device_delete),
        T(test_store_failures),
        T(test_open_fails_when_load_fails),
        cmocka_unit_test(test_copies),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
