/* ulid.c - ULIDs (github.com/ulid/spec): ids that sort by creation time. */
#include "core/ulid.h"

#include "core/timeutil.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#define ULID_MAX_MS ((INT64_C(1) << 48) - 1)

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The 5-bit value of one character (either case), -1 if not in the alphabet. */
static int b32_val(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        c = (unsigned char)(c - 'a' + 'A');
    const char *p = memchr(alphabet, c, 32);
    return p ? (int)(p - alphabet) : -1;
}

bool ulid_valid(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < ULID_LEN; i++) {
        int v = b32_val((unsigned char)s[i]); /* NUL is not in the alphabet: stops here */
        if (v < 0 || (i == 0 && v > 7))
            return false;
    }
    return s[ULID_LEN] == '\0';
}

bool ulid_decode(const char *s, uint8_t out[16])
{
    if (!ulid_valid(s))
        return false;
    /* First character: 3 bits (the top 2 of its 5 are the spare bits, zero as
     * checked above), then 25 characters of 5 bits: 128 bits in all. */
    unsigned acc = (unsigned)b32_val((unsigned char)s[0]);
    int nbits = 3, o = 0;
    for (int i = 1; i < ULID_LEN; i++) {
        acc = acc << 5 | (unsigned)b32_val((unsigned char)s[i]);
        nbits += 5;
        if (nbits >= 8) {
            nbits -= 8;
            out[o++] = (uint8_t)(acc >> nbits);
            acc &= (1u << nbits) - 1;
        }
    }
    return true;
}

void ulid_encode(const uint8_t in[16], char out[ULID_LEN + 1])
{
    out[0] = alphabet[in[0] >> 5];
    unsigned acc = in[0] & 31u;
    int nbits = 5, i = 1;
    for (int o = 1; o < ULID_LEN; o++) {
        if (nbits < 5) {
            acc = acc << 8 | in[i++];
            nbits += 8;
        }
        nbits -= 5;
        out[o] = alphabet[acc >> nbits];
        acc &= (1u << nbits) - 1;
    }
    out[ULID_LEN] = '\0';
}

int64_t ulid_time_ms(const char *s)
{
    uint8_t b[16];
    if (!ulid_decode(s, b))
        return -1;
    int64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | b[i];
    return ms;
}

bool ulid_canonical(char *s)
{
    if (!ulid_valid(s))
        return false;
    for (int i = 0; i < ULID_LEN; i++)
        if (s[i] >= 'a' && s[i] <= 'z')
            s[i] = (char)(s[i] - 'a' + 'A');
    return true;
}

bool ulid_next(struct ulid_state *st, int64_t ms, const uint8_t rnd[10], char out[ULID_LEN + 1])
{
    if (ms < 0 || ms > ULID_MAX_MS)
        return false;
    uint8_t b[16];
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    if (st->have && ms == st->last_ms) {
        /* Same millisecond: the previous random part + 1, as an 80-bit
         * big-endian integer; carrying out of byte 6 is overflow. */
        memcpy(b + 6, st->last + 6, 10);
        int i = 15;
        while (i >= 6 && ++b[i] == 0)
            i--;
        if (i < 6)
            return false;
    } else {
        memcpy(b + 6, rnd, 10);
    }
    memcpy(st->last, b, sizeof b);
    st->last_ms = ms;
    st->have = true;
    ulid_encode(b, out);
    return true;
}

/* The process-wide generator behind ulid_new. */
static pthread_mutex_t gen_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ulid_state gen_state;

bool ulid_new(int64_t ms, char out[ULID_LEN + 1])
{
    if (ms < 0)
        ms = time_now_ms();
    if (ms > ULID_MAX_MS)
        return false;
    bool ok = false;
    uint8_t rnd[10] = {0};
    pthread_mutex_lock(&gen_mu);
    if (gen_state.have && ms < gen_state.last_ms)
        ms = gen_state.last_ms; /* the clock went backwards: stay monotonic */
    /* Fresh randomness only when it will be used (a new millisecond). */
    if (!(gen_state.have && ms == gen_state.last_ms) && RAND_bytes(rnd, sizeof rnd) != 1)
        goto out;
    ok = ulid_next(&gen_state, ms, rnd, out);
out:
    pthread_mutex_unlock(&gen_mu);
    return ok;
}
