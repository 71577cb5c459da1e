/* secret.h - API keys: generation, hashing for storage, constant-time checks. */
#ifndef CARBON_SECRET_H
#define CARBON_SECRET_H
#include <stdbool.h>
#include <stddef.h>

#define SECRET_KEY_LEN 48  /* "cbk_" + 43 base64url characters + NUL fits 48 */
#define SECRET_HASH_LEN 65 /* SHA-256 as lower-case hex + NUL */

/* Fills out with prefix + 32 CSPRNG bytes in base64url (no padding).
 * Returns false if the CSPRNG fails. */
bool secret_new_key(const char *prefix, char out[SECRET_KEY_LEN]);
/* SHA-256 of s (len bytes) as lower-case hex. Keys are stored only this way. */
void secret_hash(const char *s, size_t len, char out[SECRET_HASH_LEN]);
/* Constant-time equality of two NUL-terminated secrets (compares hashes, so
 * neither content nor length leaks through timing). */
bool secret_equal(const char *a, const char *b);

#endif
