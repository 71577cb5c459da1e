/* strmap.c - string-keyed hash map (open addressing), values are pointers. */
#include "core/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h ^ (h >> 32));
}

static bool grow(struct strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct strmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t j = hash_str(m->slots[i].key) & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return true;
}

static size_t find(const struct strmap *m, const char *key)
{
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->slots[j].key && strcmp(m->slots[j].key, key) != 0)
        j = (j + 1) & (m->cap - 1);
    return j;
}

bool strmap_put(struct strmap *m, const char *key, void *val, void **old)
{
    if (old)
        *old = NULL;
    if ((m->n + 1) * 4 > m->cap * 3 && !grow(m))
        return false;
    size_t j = find(m, key);
    if (m->slots[j].key) {
        if (old)
            *old = m->slots[j].val;
        m->slots[j].val = val;
        return true;
    }
    char *k = strdup(key);
    if (!k)
        return false;
    m->slots[j].key = k;
    m->slots[j].val = val;
    m->n++;
    return true;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t j = find(m, key);
    return m->slots[j].key ? m->slots[j].val : NULL;
}

void *strmap_del(struct strmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1, j = find(m, key);
    if (!m->slots[j].key)
        return NULL;
    void *val = m->slots[j].val;
    free(m->slots[j].key);
    size_t hole = j;
    for (size_t k = (j + 1) & mask; m->slots[k].key; k = (k + 1) & mask) {
        size_t home = hash_str(m->slots[k].key) & mask;
        bool in_range = hole <= k ? (home > hole && home <= k) : (home > hole || home <= k);
        if (!in_range) {
            m->slots[hole] = m->slots[k];
            hole = k;
        }
    }
    m->slots[hole].key = NULL;
    m->slots[hole].val = NULL;
    m->n--;
    return val;
}

void strmap_each(const struct strmap *m, void (*fn)(void *arg, const char *key, void *val),
                 void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            fn(arg, m->slots[i].key, m->slots[i].val);
}

void strmap_free(struct strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
