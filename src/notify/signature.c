/* signature.c - X-Twilio-Signature (HMAC-SHA1 over the URL and the sorted
 * parameters, base64), with OpenSSL. */
#include "notify/signature.h"

#include "core/buf.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int pair_cmp(const void *a, const void *b)
{
    const struct form_pair *x = *(const struct form_pair *const *)a;
    const struct form_pair *y = *(const struct form_pair *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

bool twilio_sig_compute(const char *token, const char *url, const struct form_pair *p, size_t n,
                        char out[TWILIO_SIG_LEN + 1])
{
    bool ok = false;
    const struct form_pair **sorted = NULL;
    struct buf data;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;

    out[0] = '\0';
    buf_init(&data, TWILIO_SIG_MAX_DATA);
    if (!token || !*token || !url)
        goto out;
    if (n) {
        sorted = malloc(n * sizeof *sorted);
        if (!sorted)
            goto out;
        for (size_t i = 0; i < n; i++)
            sorted[i] = &p[i];
        qsort(sorted, n, sizeof *sorted, pair_cmp);
    }
    if (!buf_puts(&data, url))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (!buf_puts(&data, sorted[i]->name) || !buf_puts(&data, sorted[i]->value))
            goto out;
    if (!HMAC(EVP_sha1(), token, (int)strlen(token),
              (const unsigned char *)(data.data ? data.data : ""), data.len, mac, &maclen) ||
        maclen != 20)
        goto out;
    ok = EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen) == TWILIO_SIG_LEN;
    if (!ok)
        out[0] = '\0';
out:
    OPENSSL_cleanse(mac, sizeof mac);
    buf_free(&data);
    free(sorted);
    return ok;
}

/* Where the authority's port would go: the offset just after the host (and
 * the port length if one is there). False if url is not http(s)://... */
static bool find_port(const char *url, const char **default_port, size_t *host_end,
                      size_t *port_len)
{
    size_t skip;
    if (strncasecmp(url, "https://", 8) == 0) {
        *default_port = "443";
        skip = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        *default_port = "80";
        skip = 7;
    } else {
        return false;
    }
    size_t auth_len = strcspn(url + skip, "/?#");
    const char *auth = url + skip;
    /* userinfo ends at the last '@' of the authority */
    size_t host = 0;
    for (size_t i = 0; i < auth_len; i++)
        if (auth[i] == '@')
            host = i + 1;
    size_t i = host;
    if (i < auth_len && auth[i] == '[') { /* IPv6 literal */
        while (i < auth_len && auth[i] != ']')
            i++;
        if (i == auth_len)
            return false;
        i++;
    } else {
        while (i < auth_len && auth[i] != ':')
            i++;
    }
    *host_end = skip + i;
    *port_len = 0;
    if (i < auth_len && auth[i] == ':')
        *port_len = auth_len - i; /* ":" and the digits */
    return true;
}

/* The URL with its default port added (if it has none) or removed (if it has
 * exactly the default); NULL when there is no such variant. Caller frees. */
static char *port_variant(const char *url)
{
    const char *def;
    size_t he, pl;
    if (!find_port(url, &def, &he, &pl))
        return NULL;
    size_t len = strlen(url), dl = strlen(def);
    char *v;
    if (pl == 0) {
        v = malloc(len + dl + 2);
        if (!v)
            return NULL;
        memcpy(v, url, he);
        v[he] = ':';
        memcpy(v + he + 1, def, dl);
        memcpy(v + he + 1 + dl, url + he, len - he + 1);
        return v;
    }
    if (pl != dl + 1 || memcmp(url + he + 1, def, dl) != 0)
        return NULL;
    v = malloc(len - pl + 1);
    if (!v)
        return NULL;
    memcpy(v, url, he);
    memcpy(v + he, url + he + pl, len - he - pl + 1);
    return v;
}

static bool matches(const char *token, const char *url, const struct form_pair *p, size_t n,
                    const char *signature)
{
    char want[TWILIO_SIG_LEN + 1];
    if (!twilio_sig_compute(token, url, p, n, want))
        return false;
    return CRYPTO_memcmp(want, signature, TWILIO_SIG_LEN + 1) == 0;
}

bool twilio_sig_verify(const char *token, const char *url, const struct form_pair *p, size_t n,
                       const char *signature)
{
    if (!signature || !url || strlen(signature) != TWILIO_SIG_LEN)
        return false;
    if (matches(token, url, p, n, signature))
        return true;
    char *alt = port_variant(url);
    bool ok = alt && matches(token, alt, p, n, signature);
    free(alt);
    return ok;
}

bool twilio_sig_verify_body(const char *token, const char *url, const void *body, size_t len,
                            const char *signature)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char want[2 * SHA256_DIGEST_LENGTH + 1], got[2 * SHA256_DIGEST_LENGTH + 1];
    struct form q;
    bool ok = false;

    if (!signature || !url || form_parse_query(&q, url, NULL) != CB_OK)
        return false;
    const char *h = form_get(&q, "bodySHA256");
    if (!h || strlen(h) != 2 * SHA256_DIGEST_LENGTH)
        goto out;
    if (!EVP_Digest(body ? body : "", len, digest, NULL, EVP_sha256(), NULL))
        goto out;
    for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        want[2 * i] = hex[digest[i] >> 4];
        want[2 * i + 1] = hex[digest[i] & 15];
    }
    want[sizeof want - 1] = '\0';
    for (size_t i = 0; i < sizeof got; i++)
        got[i] = (char)((h[i] >= 'A' && h[i] <= 'F') ? h[i] - 'A' + 'a' : h[i]);
    ok = CRYPTO_memcmp(want, got, sizeof want) == 0 &&
         twilio_sig_verify(token, url, NULL, 0, signature);
out:
    form_free(&q);
    return ok;
}
