/* test_config.c - settings (src/core/config.c): precedence flag > env > file >
 * default through an injected getenv, the KEY=VALUE file format and its
 * errors, secrets from *_FILE, and config_parse_listen. */
#include "core/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* ---- a fake environment ---- */

#define MAX_ENV 8
static struct {
    const char *name, *value;
} fake_env[MAX_ENV];
static int fake_env_lookups;

static void env_reset(void)
{
    memset(fake_env, 0, sizeof fake_env);
    fake_env_lookups = 0;
}

static void env_set(const char *name, const char *value)
{
    for (int i = 0; i < MAX_ENV; i++) {
        if (!fake_env[i].name) {
            fake_env[i].name = name;
            fake_env[i].value = value;
            return;
        }
    }
    fail_msg("fake environment full");
}

static const char *env_get(const char *name)
{
    fake_env_lookups++;
    for (int i = 0; i < MAX_ENV; i++)
        if (fake_env[i].name && strcmp(fake_env[i].name, name) == 0)
            return fake_env[i].value;
    return NULL;
}

/* ---- a scratch directory per test ---- */

struct fx {
    char dir[64];
    char path[128]; /* the config file */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/carbon-config-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/carbon.conf", f->dir);
    env_reset();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int rc = test_rm_tree(f->dir);
    free(f);
    return rc;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

/* A file path inside the test directory. */
static const char *in_dir(struct fx *f, const char *name)
{
    static char buf[4][160];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 160, "%s/%s", f->dir, name);
    return p;
}

static void expect(const struct config *c, enum config_key k, const char *value, const char *source)
{
    const char *v = config_get(c, k);
    if (!value) {
        if (v)
            fail_msg("%s = \"%s\", want unset", config_settings[k].env, v);
        return;
    }
    if (!v || strcmp(v, value) != 0)
        fail_msg("%s = \"%s\", want \"%s\"", config_settings[k].env, v ? v : "(null)", value);
    if (strcmp(c->source[k], source) != 0)
        fail_msg("%s comes from %s, want %s", config_settings[k].env, c->source[k], source);
}

/* Loads and expects failure with a message containing each of parts. */
static void expect_fail(const char *const flags[CFG__COUNT], const char *path, const char *part1,
                        const char *part2)
{
    struct config c;
    char err[512] = "";
    bool ok = config_load(&c, flags, path, env_get, err, sizeof err);
    config_free(&c); /* also after a failure: frees what was set */
    if (ok)
        fail_msg("config_load succeeded, want an error mentioning \"%s\"", part1);
    if (part1 && !strstr(err, part1))
        fail_msg("error \"%s\" does not mention \"%s\"", err, part1);
    if (part2 && !strstr(err, part2))
        fail_msg("error \"%s\" does not mention \"%s\"", err, part2);
}

/* ---- precedence ---- */

static void test_defaults(void **state)
{
    struct config c;
    char err[256];
    assert_true(config_load(&c, NULL, NULL, env_get, err, sizeof err));
    expect(&c, CFG_LISTEN, "127.0.0.1:8080", "default");
    expect(&c, CFG_DATA, "./carbon-data", "default");
    expect(&c, CFG_ADMIN_TOKEN, NULL, NULL);
    expect(&c, CFG_LOG_LEVEL, "info", "default");
    expect(&c, CFG_THREADS, "2", "default");
    assert_true(fake_env_lookups >= CFG__COUNT); /* the injected getenv is used */
    config_free(&c);
    for (int k = 0; k < CFG__COUNT; k++)
        assert_null(c.value[k]);
}

static void test_precedence(void **state)
{
    struct fx *f = *state;
    write_file(f->path, "CARBON_LISTEN=10.0.0.1:1\n"
                        "CARBON_DATA=/file/data\n"
                        "CARBON_LOG_LEVEL=warn\n"
                        "CARBON_ADMIN_TOKEN=file-token\n");
    env_set("CARBON_LISTEN", "10.0.0.2:2");
    env_set("CARBON_DATA", "/env/data");
    env_set("CARBON_ADMIN_TOKEN", "env-token");
    const char *flags[CFG__COUNT] = {0};
    flags[CFG_LISTEN] = "10.0.0.3:3";
    struct config c;
    char err[256];
    assert_true(config_load(&c, flags, f->path, env_get, err, sizeof err));
    expect(&c, CFG_LISTEN, "10.0.0.3:3", "flag");    /* flag > env > file */
    expect(&c, CFG_DATA, "/env/data", "env");        /* env > file */
    expect(&c, CFG_ADMIN_TOKEN, "env-token", "env"); /* env > file, secret too */
    expect(&c, CFG_LOG_LEVEL, "warn", "file");       /* file > default */
    expect(&c, CFG_THREADS, "2", "default");
    config_free(&c);

    /* take the flag away: env wins; take env away: the file wins */
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_LISTEN, "10.0.0.2:2", "env");
    config_free(&c);
    env_reset();
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_LISTEN, "10.0.0.1:1", "file");
    expect(&c, CFG_DATA, "/file/data", "file");
    expect(&c, CFG_ADMIN_TOKEN, "file-token", "file");
    config_free(&c);

    /* every flag at once, over everything */
    env_set("CARBON_THREADS", "8");
    const char *all[CFG__COUNT] = {
        [CFG_LISTEN] = ":1", [CFG_DATA] = "/d", [CFG_LOG_LEVEL] = "debug", [CFG_THREADS] = "16"};
    assert_true(config_load(&c, all, f->path, env_get, err, sizeof err));
    expect(&c, CFG_LISTEN, ":1", "flag");
    expect(&c, CFG_DATA, "/d", "flag");
    expect(&c, CFG_LOG_LEVEL, "debug", "flag");
    expect(&c, CFG_THREADS, "16", "flag");
    expect(&c, CFG_ADMIN_TOKEN, "file-token", "file");
    config_free(&c);
}

static void test_env_empty_value(void **state)
{
    env_set("CARBON_DATA", "");
    struct config c;
    char err[256];
    assert_true(config_load(&c, NULL, NULL, env_get, err, sizeof err));
    expect(&c, CFG_DATA, "", "env");
    config_free(&c);
}

/* ---- the file format ---- */

static void test_file_syntax(void **state)
{
    struct fx *f = *state;
    write_file(f->path, "# Car-Bon settings\n"
                        "\n"
                        "   # an indented comment\n"
                        "\t\n"
                        "  CARBON_LISTEN =  0.0.0.0:9090  \n"
                        "CARBON_DATA=\"/var/lib/car bon\"\n"
                        "CARBON_LOG_LEVEL='error'\r\n"
                        "CARBON_THREADS\t=\t4\n"
                        "CARBON_ADMIN_TOKEN=a=b=c"); /* no final newline, '=' in value */
    struct config c;
    char err[256];
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_LISTEN, "0.0.0.0:9090", "file");
    expect(&c, CFG_DATA, "/var/lib/car bon", "file");
    expect(&c, CFG_LOG_LEVEL, "error", "file");
    expect(&c, CFG_THREADS, "4", "file");
    expect(&c, CFG_ADMIN_TOKEN, "a=b=c", "file");
    config_free(&c);
}

static void test_file_quotes_edge_cases(void **state)
{
    struct fx *f = *state;
    write_file(f->path, "CARBON_DATA=\"\"\n"       /* empty quoted value */
                        "CARBON_LISTEN=\"mixed'\n" /* mismatched quotes stay */
                        "CARBON_LOG_LEVEL=\"\n"    /* a lone quote stays */
                        "CARBON_THREADS=\n");      /* empty value */
    struct config c;
    char err[256];
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_DATA, "", "file");
    expect(&c, CFG_LISTEN, "\"mixed'", "file");
    expect(&c, CFG_LOG_LEVEL, "\"", "file");
    expect(&c, CFG_THREADS, "", "file");
    config_free(&c);
}

static void test_file_later_line_wins(void **state)
{
    struct fx *f = *state;
    write_file(f->path, "CARBON_DATA=/first\nCARBON_DATA=/second\n");
    struct config c;
    char err[256];
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_DATA, "/second", "file");
    config_free(&c);
}

static void test_file_errors(void **state)
{
    struct fx *f = *state;
    write_file(f->path, "# ok\nCARBON_DATA=/x\nCARBON_COLOUR=blue\n");
    expect_fail(NULL, f->path, ":3:", "unknown setting CARBON_COLOUR");

    write_file(f->path, "CARBON_DATA=/x\n\n\nthis line has no equals sign\n");
    expect_fail(NULL, f->path, ":4:", "expected KEY=VALUE");

    /* names are exact: no lower case, no missing prefix */
    write_file(f->path, "carbon_data=/x\n");
    expect_fail(NULL, f->path, ":1:", "unknown setting");
    write_file(f->path, "DATA=/x\n");
    expect_fail(NULL, f->path, ":1:", "unknown setting");
    write_file(f->path, "=value\n");
    expect_fail(NULL, f->path, ":1:", "unknown setting");

    /* the message names the file */
    write_file(f->path, "nonsense\n");
    expect_fail(NULL, f->path, f->path, NULL);

    /* a missing file */
    expect_fail(NULL, in_dir(f, "does-not-exist.conf"), "cannot open config file",
                "does-not-exist.conf");
}

/* Only secrets may come from a file: CARBON_LISTEN_FILE is an unknown
 * setting, and the message should name the line's key as written. */
static void test_file_form_only_for_secrets(void **state)
{
    struct fx *f = *state;
    write_file(f->path, "CARBON_LISTEN_FILE=/etc/hostname\n");
    expect_fail(NULL, f->path, ":1:", "unknown setting CARBON_LISTEN_FILE");
    write_file(f->path, "CARBON_NOPE_FILE=/etc/hostname\n");
    expect_fail(NULL, f->path, ":1:", "unknown setting CARBON_NOPE_FILE");
}

/* A line longer than the reader's 4 KiB buffer must not be split into two
 * lines (the second reported as line 2, the value silently truncated). */
static void test_file_long_line(void **state)
{
    struct fx *f = *state;
    size_t n = 5000;
    char *text = malloc(n + 32);
    assert_non_null(text);
    int k = snprintf(text, n + 32, "CARBON_DATA=");
    memset(text + k, 'a', n);
    snprintf(text + k + n, 32, "\n");
    write_file(f->path, text);
    free(text);
    struct config c;
    char err[256] = "";
    bool ok = config_load(&c, NULL, f->path, env_get, err, sizeof err);
    size_t got = ok && config_get(&c, CFG_DATA) ? strlen(config_get(&c, CFG_DATA)) : 0;
    config_free(&c);
    if (ok && got != n)
        fail_msg("a %zu-character value was read as %zu characters", n, got);
    if (!ok && !strstr(err, ":1:"))
        fail_msg("one-line file refused with \"%s\" (want line 1 named)", err);
}

/* ---- secrets from files ---- */

static void test_secret_file_from_env(void **state)
{
    struct fx *f = *state;
    const char *tok = in_dir(f, "admin_token");
    write_file(tok, "s3cret-from-file\r\n\n");
    env_set("CARBON_ADMIN_TOKEN_FILE", tok);
    struct config c;
    char err[256];
    assert_true(config_load(&c, NULL, NULL, env_get, err, sizeof err));
    expect(&c, CFG_ADMIN_TOKEN, "s3cret-from-file", "env"); /* trailing newlines stripped */
    config_free(&c);

    /* env's _FILE beats the config file's plain value */
    write_file(f->path, "CARBON_ADMIN_TOKEN=from-config\n");
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_ADMIN_TOKEN, "s3cret-from-file", "env");
    config_free(&c);

    /* inner newlines and spaces are content */
    write_file(tok, " two\nlines \n");
    assert_true(config_load(&c, NULL, NULL, env_get, err, sizeof err));
    expect(&c, CFG_ADMIN_TOKEN, " two\nlines ", "env");
    config_free(&c);
}

static void test_secret_file_in_config_file(void **state)
{
    struct fx *f = *state;
    const char *tok = in_dir(f, "token.txt");
    write_file(tok, "token-via-config\n");
    char text[256];
    snprintf(text, sizeof text, "CARBON_ADMIN_TOKEN_FILE=%s\n", tok);
    write_file(f->path, text);
    struct config c;
    char err[256];
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_ADMIN_TOKEN, "token-via-config", "file");
    config_free(&c);
    /* quoted path */
    snprintf(text, sizeof text, "CARBON_ADMIN_TOKEN_FILE=\"%s\"\n", tok);
    write_file(f->path, text);
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_ADMIN_TOKEN, "token-via-config", "file");
    config_free(&c);
    /* the environment's plain value beats the file's _FILE */
    env_set("CARBON_ADMIN_TOKEN", "env-wins");
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_ADMIN_TOKEN, "env-wins", "env");
    config_free(&c);
}

static void test_secret_both_set_in_env(void **state)
{
    struct fx *f = *state;
    const char *tok = in_dir(f, "t");
    write_file(tok, "x\n");
    env_set("CARBON_ADMIN_TOKEN", "plain");
    env_set("CARBON_ADMIN_TOKEN_FILE", tok);
    expect_fail(NULL, NULL, "CARBON_ADMIN_TOKEN", "not both");
}

/* The config file may also set a secret both ways: as ambiguous as in the
 * environment, so it should be refused the same way (not last-line-wins). */
static void test_secret_both_set_in_file(void **state)
{
    struct fx *f = *state;
    const char *tok = in_dir(f, "t");
    write_file(tok, "from-file\n");
    char text[256];
    snprintf(text, sizeof text, "CARBON_ADMIN_TOKEN=plain\nCARBON_ADMIN_TOKEN_FILE=%s\n", tok);
    write_file(f->path, text);
    expect_fail(NULL, f->path, ":2:", "not both");
    snprintf(text, sizeof text, "CARBON_ADMIN_TOKEN_FILE=%s\n# x\nCARBON_ADMIN_TOKEN=plain\n", tok);
    write_file(f->path, text);
    expect_fail(NULL, f->path, ":3:", "not both");
    /* the same form twice is just a later line winning */
    snprintf(text, sizeof text, "CARBON_ADMIN_TOKEN_FILE=%s\nCARBON_ADMIN_TOKEN_FILE=%s\n", tok,
             tok);
    write_file(f->path, text);
    struct config c;
    char err[256];
    assert_true(config_load(&c, NULL, f->path, env_get, err, sizeof err));
    expect(&c, CFG_ADMIN_TOKEN, "from-file", "file");
    config_free(&c);
}

static void test_secret_file_errors(void **state)
{
    struct fx *f = *state;
    /* missing */
    env_set("CARBON_ADMIN_TOKEN_FILE", in_dir(f, "missing-token"));
    expect_fail(NULL, NULL, "cannot read secret file", "missing-token");
    env_reset();
    /* over 4 KiB */
    const char *big = in_dir(f, "big-token");
    char *text = malloc(5001);
    assert_non_null(text);
    memset(text, 'z', 5000);
    text[5000] = '\0';
    write_file(big, text);
    free(text);
    env_set("CARBON_ADMIN_TOKEN_FILE", big);
    expect_fail(NULL, NULL, "over 4 KiB", NULL);
    env_reset();
    /* the same through the config file */
    char line[256];
    snprintf(line, sizeof line, "CARBON_ADMIN_TOKEN_FILE=%s\n", in_dir(f, "nope"));
    write_file(f->path, line);
    expect_fail(NULL, f->path, "cannot read secret file", NULL);
}

/* Secret files up to 4 KiB are accepted ("over 4 KiB" is the refusal). */
static void test_secret_file_size_limit(void **state)
{
    struct fx *f = *state;
    const char *p = in_dir(f, "edge");
    char *text = malloc(4098);
    assert_non_null(text);
    env_set("CARBON_ADMIN_TOKEN_FILE", p);
    static const size_t sizes[] = {4000, 4094, 4095, 4096}; /* 4096 is 4 KiB, not over */
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        memset(text, 'e', sizes[i]);
        text[sizes[i]] = '\0';
        write_file(p, text);
        struct config c;
        char err[256] = "";
        bool ok = config_load(&c, NULL, NULL, env_get, err, sizeof err);
        size_t got = ok ? strlen(config_get(&c, CFG_ADMIN_TOKEN)) : 0;
        config_free(&c);
        if (!ok || got != sizes[i]) {
            free(text);
            fail_msg("a %zu-byte secret file: %s (read %zu bytes)", sizes[i], ok ? "accepted" : err,
                     got);
        }
    }
    /* one byte over 4 KiB is refused */
    memset(text, 'e', 4097);
    text[4097] = '\0';
    write_file(p, text);
    free(text);
    expect_fail(NULL, NULL, "over 4 KiB", NULL);
}

/* ---- config_parse_listen ---- */

static void test_parse_listen_ok(void **state)
{
    static const struct {
        const char *in, *host;
        unsigned port;
    } v[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {"[::1]:80", "::1", 80},
        {"[2001:db8::1]:443", "2001:db8::1", 443},
        {":9000", "0.0.0.0", 9000},
        {"localhost:0", "localhost", 0},
        {"example.org:65535", "example.org", 65535},
        {"0.0.0.0:1", "0.0.0.0", 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char host[256] = "";
        unsigned port = 12345;
        if (!config_parse_listen(v[i].in, host, sizeof host, &port))
            fail_msg("config_parse_listen rejected \"%s\"", v[i].in);
        if (strcmp(host, v[i].host) != 0 || port != v[i].port)
            fail_msg("\"%s\" -> %s port %u", v[i].in, host, port);
    }
}

static void test_parse_listen_bad(void **state)
{
    static const char *const bad[] = {
        "host",     "host:99999",
        "host:",    "host:65536",
        "",         ":",
        "host:80x", "host:x80",
        "host:-1",  "[::1]",
        "[::1]80",  "[::1:80",
        "[::1]:",   "127.0.0.1:18446744073709551617",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char host[256] = "untouched";
        unsigned port = 12345;
        if (config_parse_listen(bad[i], host, sizeof host, &port))
            fail_msg("config_parse_listen accepted \"%s\" as %s port %u", bad[i], host, port);
        assert_string_equal(host, "untouched");
        assert_int_equal(port, 12345);
    }
}

static void test_parse_listen_host_buffer(void **state)
{
    char host[10];
    unsigned port;
    assert_true(config_parse_listen("123456789:1", host, sizeof host, &port)); /* 9 + NUL */
    assert_string_equal(host, "123456789");
    assert_false(config_parse_listen("1234567890:1", host, sizeof host, &port));
    char tiny[7];
    assert_false(config_parse_listen(":80", tiny, sizeof tiny, &port)); /* "0.0.0.0" needs 8 */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_precedence),
        T(test_env_empty_value),
        T(test_file_syntax),
        T(test_file_quotes_edge_cases),
        T(test_file_later_line_wins),
        T(test_file_errors),
        T(test_file_form_only_for_secrets),
        T(test_file_long_line),
        T(test_secret_file_from_env),
        T(test_secret_file_in_config_file),
        T(test_secret_both_set_in_env),
        T(test_secret_both_set_in_file),
        T(test_secret_file_errors),
        T(test_secret_file_size_limit),
        cmocka_unit_test(test_parse_listen_ok),
        cmocka_unit_test(test_parse_listen_bad),
        cmocka_unit_test(test_parse_listen_host_buffer),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
