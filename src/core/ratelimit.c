/* ratelimit.c - token buckets per key, bounded memory, thread-safe. */
#include "core/ratelimit.h"

#include <limits.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
/* Slack in token comparisons, so that rounding in the refill arithmetic
 * (e.g. 60 s at 1/60 token a second) never refuses a token that is due. */
#define EPS 1e-9

/* One bucket. Lives in the pool; linked into a hash chain and the LRU list
 * while held, into the free list (via next) otherwise. */
struct entry {
    uint64_t hash;
    double tokens;   /* as of last_ms */
    int64_t last_ms; /* latest time seen: the clock never runs back here */
    uint32_t next;   /* hash chain, or free list */
    uint32_t newer;  /* LRU list: towards the most recently used */
    uint32_t older;  /* LRU list: towards the least recently used */
    unsigned char len;
    char key[RATELIMIT_KEY_MAX];
};

struct ratelimit {
    double rate_per_s;
    double burst;
    uint32_t max_keys, n;
    uint32_t mask;      /* nchains - 1 */
    uint32_t *chains;   /* heads, NIL = empty */
    struct entry *pool; /* max_keys entries */
    uint32_t free_head; /* free list through entry.next (entries once held) */
    uint32_t unused;    /* pool[unused..max_keys) never held yet */
    uint32_t mru, lru;  /* LRU list ends, NIL when empty */
    pthread_mutex_t mu; /* guards everything above except the constants */
    EVP_MAC *mac;
    EVP_MAC_CTX *tmpl;  /* keyed template, only read (duplicated) after new */
    EVP_MAC_CTX *spare; /* under mu: hashing when a duplicate cannot be made */
    unsigned char sipkey[16];
};

static size_t key_len(const char *key)
{
    const char *z = memchr(key, 0, RATELIMIT_KEY_MAX);
    return z ? (size_t)(z - key) : RATELIMIT_KEY_MAX;
}

static uint64_t mac_hash(EVP_MAC_CTX *c, const char *key, size_t len, bool *ok)
{
    unsigned char out[8] = {0};
    size_t outl = 0;
    *ok = EVP_MAC_update(c, (const unsigned char *)key, len) &&
          EVP_MAC_final(c, out, &outl, sizeof out) && outl == sizeof out;
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = h << 8 | out[i];
    return h;
}

/* SipHash-2-4 of the (truncated) key, computed without the lock. Falls back
 * to the spare context under the lock when the template cannot be duplicated
 * (out of memory); *locked then says the caller holds mu. */
static uint64_t hash_key(struct ratelimit *rl, const char *key, size_t len, bool *locked)
{
    bool ok = false;
    uint64_t h = 0;
    ERR_set_mark(); /* a failure here must not leave errors for other code */
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(rl->tmpl);
    if (c) {
        h = mac_hash(c, key, len, &ok);
        EVP_MAC_CTX_free(c);
    }
    ERR_pop_to_mark();
    *locked = false;
    if (ok)
        return h;
    pthread_mutex_lock(&rl->mu);
    *locked = true;
    ERR_set_mark();
    if (EVP_MAC_init(rl->spare, rl->sipkey, sizeof rl->sipkey, NULL))
        h = mac_hash(rl->spare, key, len, &ok);
    ERR_pop_to_mark();
    /* If even that fails the key still gets a bucket, only a predictable
     * chain: correctness does not depend on the hash. */
    return ok ? h : 0;
}

struct ratelimit *ratelimit_new(double rate_per_s, double burst, size_t max_keys)
{
    if (!(rate_per_s > 0))
        return NULL;
    struct ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    if (pthread_mutex_init(&rl->mu, NULL) != 0) {
        free(rl);
        return NULL;
    }
    rl->rate_per_s = rate_per_s;
    rl->burst = burst >= 1 ? burst : 1; /* NaN too */
    if (max_keys < 1)
        max_keys = 1;
    if (max_keys > RATELIMIT_MAX_KEYS)
        max_keys = RATELIMIT_MAX_KEYS;
    rl->max_keys = (uint32_t)max_keys;
    uint32_t nchains = 1;
    while (nchains < rl->max_keys)
        nchains <<= 1;
    rl->mask = nchains - 1;
    rl->mru = rl->lru = NIL;
    rl->chains = malloc(nchains * sizeof *rl->chains);
    /* calloc: pages of a large pool are only touched as keys arrive. */
    rl->pool = calloc(rl->max_keys, sizeof *rl->pool);
    size_t sz = 8;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &sz),
                           OSSL_PARAM_construct_end()};
    rl->mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    rl->tmpl = rl->mac ? EVP_MAC_CTX_new(rl->mac) : NULL;
    rl->spare = rl->mac ? EVP_MAC_CTX_new(rl->mac) : NULL;
    if (!rl->chains || !rl->pool || !rl->tmpl || !rl->spare ||
        RAND_bytes(rl->sipkey, sizeof rl->sipkey) != 1 ||
        !EVP_MAC_init(rl->tmpl, rl->sipkey, sizeof rl->sipkey, params) ||
        !EVP_MAC_init(rl->spare, rl->sipkey, sizeof rl->sipkey, params)) {
        ratelimit_free(rl);
        return NULL;
    }
    for (uint32_t i = 0; i < nchains; i++)
        rl->chains[i] = NIL;
    rl->free_head = NIL;
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->mu);
    EVP_MAC_CTX_free(rl->tmpl);
    EVP_MAC_CTX_free(rl->spare);
    EVP_MAC_free(rl->mac);
    OPENSSL_cleanse(rl->sipkey, sizeof rl->sipkey);
    free(rl->chains);
    free(rl->pool);
    free(rl);
}

/* Tokens in e at now_ms, without changing e. */
static double tokens_at(const struct ratelimit *rl, const struct entry *e, int64_t now_ms)
{
    if (now_ms <= e->last_ms)
        return e->tokens;
    /* The difference in uint64_t: no signed overflow at any two int64_t. */
    double dt = (double)((uint64_t)now_ms - (uint64_t)e->last_ms);
    double t = e->tokens + dt * rl->rate_per_s / 1000.0;
    return t < rl->burst ? t : rl->burst;
}

static void lru_unlink(struct ratelimit *rl, uint32_t i)
{
    struct entry *e = &rl->pool[i];
    if (e->newer != NIL)
        rl->pool[e->newer].older = e->older;
    else
        rl->mru = e->older;
    if (e->older != NIL)
        rl->pool[e->older].newer = e->newer;
    else
        rl->lru = e->newer;
}

static void lru_push(struct ratelimit *rl, uint32_t i)
{
    struct entry *e = &rl->pool[i];
    e->newer = NIL;
    e->older = rl->mru;
    if (rl->mru != NIL)
        rl->pool[rl->mru].newer = i;
    else
        rl->lru = i;
    rl->mru = i;
}

/* Index of key in the table, NIL if absent; *link receives the link that
 * points at it (for unlinking). */
static uint32_t find(struct ratelimit *rl, uint64_t h, const char *key, size_t len, uint32_t **link)
{
    uint32_t *l = &rl->chains[h & rl->mask];
    while (*l != NIL) {
        struct entry *e = &rl->pool[*l];
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            break;
        l = &e->next;
    }
    if (link)
        *link = l;
    return *l;
}

/* Removes held entry i from its chain and the LRU list, onto the free list. */
static void forget(struct ratelimit *rl, uint32_t i)
{
    struct entry *e = &rl->pool[i];
    uint32_t *l = &rl->chains[e->hash & rl->mask];
    while (*l != i)
        l = &rl->pool[*l].next;
    *l = e->next;
    lru_unlink(rl, i);
    e->next = rl->free_head;
    rl->free_head = i;
    rl->n--;
}

/* Frees one entry when the pool is full: among the RATELIMIT_EVICT_SAMPLE
 * least recently used, the one with the most tokens at now_ms (ties: the
 * least recently used). */
static void evict(struct ratelimit *rl, int64_t now_ms)
{
    uint32_t victim = rl->lru;
    double best = tokens_at(rl, &rl->pool[victim], now_ms);
    uint32_t i = rl->pool[victim].newer;
    for (int k = 1; k < RATELIMIT_EVICT_SAMPLE && i != NIL && best < rl->burst; k++) {
        double t = tokens_at(rl, &rl->pool[i], now_ms);
        if (t > best) {
            best = t;
            victim = i;
        }
        i = rl->pool[i].newer;
    }
    forget(rl, victim);
}

static int seconds_until(double need, double rate_per_s)
{
    double s = ceil(need / rate_per_s - EPS);
    if (!(s >= 1))
        return 1;
    return s < INT_MAX ? (int)s : INT_MAX;
}

bool ratelimit_take(struct ratelimit *rl, const char *key, double cost, int64_t now_ms,
                    int *retry_after_s)
{
    int retry = 0;
    bool allowed = true;
    if (!rl)
        goto out;
    if (!key)
        key = "";
    if (!(cost > 0))
        cost = 0;
    size_t len = key_len(key);
    bool locked;
    uint64_t h = hash_key(rl, key, len, &locked);
    if (!locked)
        pthread_mutex_lock(&rl->mu);

    uint32_t *link;
    uint32_t i = find(rl, h, key, len, &link);
    struct entry *e;
    if (i != NIL) {
        e = &rl->pool[i];
        e->tokens = tokens_at(rl, e, now_ms);
        if (now_ms > e->last_ms)
            e->last_ms = now_ms;
        lru_unlink(rl, i);
    } else {
        if (rl->free_head == NIL && rl->unused == rl->max_keys) {
            evict(rl, now_ms);
            find(rl, h, key, len, &link); /* the victim may have been on our chain */
        }
        if (rl->free_head != NIL) {
            i = rl->free_head;
            rl->free_head = rl->pool[i].next;
        } else {
            i = rl->unused++;
        }
        e = &rl->pool[i];
        e->hash = h;
        e->len = (unsigned char)len;
        memcpy(e->key, key, len);
        e->tokens = rl->burst;
        e->last_ms = now_ms;
        e->next = NIL;
        *link = i;
        rl->n++;
    }
    lru_push(rl, i);
    if (cost <= rl->burst && e->tokens + EPS >= cost) {
        e->tokens = e->tokens > cost ? e->tokens - cost : 0;
    } else {
        allowed = false;
        double need = cost <= rl->burst ? cost - e->tokens : rl->burst - e->tokens;
        retry = seconds_until(need, rl->rate_per_s);
    }
    pthread_mutex_unlock(&rl->mu);
out:
    if (retry_after_s)
        *retry_after_s = retry;
    return allowed;
}

void ratelimit_reset(struct ratelimit *rl, const char *key)
{
    if (!rl)
        return;
    if (!key)
        key = "";
    size_t len = key_len(key);
    bool locked;
    uint64_t h = hash_key(rl, key, len, &locked);
    if (!locked)
        pthread_mutex_lock(&rl->mu);
    uint32_t i = find(rl, h, key, len, NULL);
    if (i != NIL)
        forget(rl, i);
    pthread_mutex_unlock(&rl->mu);
}

size_t ratelimit_size(struct ratelimit *rl)
{
    if (!rl)
        return 0;
    pthread_mutex_lock(&rl->mu);
    size_t n = rl->n;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
