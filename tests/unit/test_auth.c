/* test_auth.c - credentials to principals and the route access gate
 * (src/auth/auth.c), over a registry on the real SQLite store. */
#include "auth/auth.h"
#include "core/log.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define ADMIN "admin-token-0123456789"

struct fx {
    char dir[64];
    struct store *st;
    struct registry *reg;
    char dkey[SECRET_KEY_LEN], gkey[SECRET_KEY_LEN];
};

static int setup(void **state)
{
    log_set_level(LOG_WARN);
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/carbon-auth-XXXXXX");
    if (!mkdtemp(f->dir) || !(f->st = store_sqlite_open(f->dir)) ||
        !(f->reg = registry_open(f->st)))
        return -1;
    struct device d = {.offline_after_s = 600};
    snprintf(d.id, sizeof d.id, "dev-1");
    if (registry_device_create(f->reg, &d, f->dkey) != CB_OK)
        return -1;
    char list[1][65] = {"dev-1"};
    struct gateway g = {.devices = list, .ndevices = 1};
    snprintf(g.id, sizeof g.id, "gw-1");
    if (registry_gateway_create(f->reg, &g, f->gkey) != CB_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    registry_close(f->reg);
    f->st->ops->close(f->st);
    int rc = test_rm_tree(f->dir);
    free(f);
    return rc ? -1 : 0;
}

static void expect_identify(struct fx *f, const char *admin, const char *authz, const char *api_key,
                            cb_err want, enum principal_kind kind, const char *id)
{
    struct principal p;
    memset(&p, 0x5a, sizeof p);
    cb_err e = auth_identify(admin, f->reg, NULL, 0, authz, api_key, &p);
    if (e != want)
        fail_msg("auth_identify(admin=%s, Authorization=%s, X-Api-Key=%s) = %s, want %s",
                 admin ? admin : "-", authz ? authz : "-", api_key ? api_key : "-", cb_err_code(e),
                 cb_err_code(want));
    if (want != CB_OK) {
        assert_int_equal(p.kind, PRINCIPAL_NONE); /* nothing half-filled */
        return;
    }
    assert_int_equal(p.kind, kind);
    if (id)
        assert_string_equal(p.id, id);
}

static void test_no_credentials(void **state)
{
    struct fx *f = *state;
    expect_identify(f, ADMIN, NULL, NULL, CB_OK, PRINCIPAL_NONE, "");
    expect_identify(f, NULL, NULL, NULL, CB_OK, PRINCIPAL_NONE, "");
}

static void test_admin_token(void **state)
{
    struct fx *f = *state;
    expect_identify(f, ADMIN, "Bearer " ADMIN, NULL, CB_OK, PRINCIPAL_ADMIN, NULL);
    expect_identify(f, ADMIN, "bearer " ADMIN, NULL, CB_OK, PRINCIPAL_ADMIN, NULL);
    expect_identify(f, ADMIN, "BEARER " ADMIN, NULL, CB_OK, PRINCIPAL_ADMIN, NULL);
    expect_identify(f, ADMIN, "Bearer    " ADMIN, NULL, CB_OK, PRINCIPAL_ADMIN, NULL);
    expect_identify(f, ADMIN, NULL, ADMIN, CB_OK, PRINCIPAL_ADMIN, NULL);
    /* near misses */
    expect_identify(f, ADMIN, "Bearer " ADMIN "x", NULL, CB_ERR_UNAUTHORIZED, 0, NULL);
    expect_identify(f, ADMIN, "Bearer admin-token-012345678", NULL, CB_ERR_UNAUTHORIZED, 0, NULL);
    expect_identify(f, ADMIN, "Bearer ADMIN-TOKEN-0123456789", NULL, CB_ERR_UNAUTHORIZED, 0, NULL);
    /* no admin token configured: none is accepted, not even an empty one */
    expect_identify(f, NULL, "Bearer " ADMIN, NULL, CB_ERR_UNAUTHORIZED, 0, NULL);
    expect_identify(f, "", "Bearer " ADMIN, NULL, CB_ERR_UNAUTHORIZED, 0, NULL);
    expect_identify(f, "", "Bearer ", NULL, CB_ERR_UNAUTHORIZED, 0, NULL);
    expect_identify(f, "", NULL, "", CB_ERR_UNAUTHORIZED, 0, NULL);
}

static void test_malformed_authorization(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {
        "Basic YWRtaW46cGFzcw==", "Bearer", "Bearer ", "Bearer     ",
        "Token " ADMIN,           ADMIN,    "",        "Bearer\t" ADMIN,
        "BearerX " ADMIN};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_identify(f, ADMIN, bad[i], NULL, CB_ERR_UNAUTHORIZED, 0, NULL);
    /* a malformed Authorization is not rescued by a good X-Api-Key */
    expect_identify(f, ADMIN, "Basic x", f->dkey, CB_ERR_UNAUTHORIZED, 0, NULL);
    expect_identify(f, ADMIN, NULL, "", CB_ERR_UNAUTHORIZED, 0, NULL);
}

static void test_keys(void **state)
{
    struct fx *f = *state;
    char authz[80];
    snprintf(authz, sizeof authz, "Bearer %s", f->dkey);
    expect_identify(f, ADMIN, authz, NULL, CB_OK, PRINCIPAL_DEVICE, "dev-1");
    expect_identify(f, ADMIN, NULL, f->dkey, CB_OK, PRINCIPAL_DEVICE, "dev-1");
    expect_identify(f, NULL, NULL, f->dkey, CB_OK, PRINCIPAL_DEVICE, "dev-1");
    snprintf(authz, sizeof authz, "Bearer %s", f->gkey);
    expect_identify(f, ADMIN, authz, NULL, CB_OK, PRINCIPAL_GATEWAY, "gw-1");
    expect_identify(f, ADMIN, NULL, f->gkey, CB_OK, PRINCIPAL_GATEWAY, "gw-1");
    /* Authorization wins over X-Api-Key */
    expect_identify(f, ADMIN, authz, f->dkey, CB_OK, PRINCIPAL_GATEWAY, "gw-1");
    expect_identify(f, ADMIN, "Bearer " ADMIN, f->dkey, CB_OK, PRINCIPAL_ADMIN, NULL);
    /* unknown or altered keys */
    char wrong[SECRET_KEY_LEN];
    memcpy(wrong, f->dkey, sizeof wrong);
    wrong[20] = wrong[20] == 'x' ? 'y' : 'x';
    expect_identify(f, ADMIN, NULL, wrong, CB_ERR_UNAUTHORIZED, 0, NULL);
    expect_identify(f, ADMIN, NULL, "cbk_", CB_ERR_UNAUTHORIZED, 0, NULL);
    /* a rotated key stops at once */
    char fresh[SECRET_KEY_LEN];
    assert_int_equal(registry_device_rotate(f->reg, "dev-1", fresh), CB_OK);
    expect_identify(f, ADMIN, NULL, f->dkey, CB_ERR_UNAUTHORIZED, 0, NULL);
    expect_identify(f, ADMIN, NULL, fresh, CB_OK, PRINCIPAL_DEVICE, "dev-1");
}

static void test_token_length_cap(void **state)
{
    struct fx *f = *state;
    char tok[300];
    memset(tok, 'a', sizeof tok - 1);
    tok[sizeof tok - 1] = '\0';
    tok[256] = '\0'; /* 256 characters: the longest looked at */
    expect_identify(f, tok, NULL, tok, CB_OK, PRINCIPAL_ADMIN, NULL);
    tok[256] = 'a';
    tok[257] = '\0'; /* 257: refused even though it equals the admin token */
    expect_identify(f, tok, NULL, tok, CB_ERR_UNAUTHORIZED, 0, NULL);
}

static void test_auth_check(void **state)
{
    struct principal none = {.kind = PRINCIPAL_NONE}, admin = {.kind = PRINCIPAL_ADMIN},
                     dev = {.kind = PRINCIPAL_DEVICE, .id = "d"},
                     gw = {.kind = PRINCIPAL_GATEWAY, .id = "g"},
                     user = {.kind = PRINCIPAL_USER, .id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"};
#define U CB_ERR_UNAUTHORIZED
#define F CB_ERR_FORBIDDEN
#define OK CB_OK
    static const struct {
        enum access a;
        cb_err none, admin, dev, gw, user;
    } m[] = {
        {ACCESS_PUBLIC, OK, OK, OK, OK, OK}, {ACCESS_ADMIN, U, OK, F, F, F},
        {ACCESS_WRITER, U, OK, OK, OK, F},   {ACCESS_USER, U, OK, F, F, OK},
        {ACCESS_OWNER, U, OK, F, F, OK},     {ACCESS_DEVICE, U, OK, OK, F, OK},
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        assert_int_equal(auth_check(m[i].a, &none), m[i].none);
        assert_int_equal(auth_check(m[i].a, &admin), m[i].admin);
        assert_int_equal(auth_check(m[i].a, &dev), m[i].dev);
        assert_int_equal(auth_check(m[i].a, &gw), m[i].gw);
        assert_int_equal(auth_check(m[i].a, &user), m[i].user);
    }
#undef U
#undef F
#undef OK
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_no_credentials), T(test_admin_token),      T(test_malformed_authorization),
        T(test_keys),           T(test_token_length_cap), cmocka_unit_test(test_auth_check),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
