/* secret.c - API keys: generation, hashing for storage, constant-time checks. */
#include "core/secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

bool secret_new_key(const char *prefix, char out[SECRET_KEY_LEN])
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return false;
    static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t p = strlen(prefix);
    if (p > 4)
        return false;
    memcpy(out, prefix, p);
    /* 32 bytes -> 43 characters: 10 full groups of 3 bytes, then 2 bytes. */
    size_t o = p;
    for (size_t i = 0; i < 30; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = b64u[v >> 18 & 63];
        out[o++] = b64u[v >> 12 & 63];
        out[o++] = b64u[v >> 6 & 63];
        out[o++] = b64u[v & 63];
    }
    unsigned v = (unsigned)raw[30] << 16 | (unsigned)raw[31] << 8;
    out[o++] = b64u[v >> 18 & 63];
    out[o++] = b64u[v >> 12 & 63];
    out[o++] = b64u[v >> 6 & 63];
    out[o] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return true;
}

void secret_hash(const char *s, size_t len, char out[SECRET_HASH_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, len, md); /* one-shot: no EVP fetch per call */
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

bool secret_equal(const char *a, const char *b)
{
    char ha[SECRET_HASH_LEN], hb[SECRET_HASH_LEN];
    secret_hash(a, strlen(a), ha);
    secret_hash(b, strlen(b), hb);
    return CRYPTO_memcmp(ha, hb, 64) == 0;
}
