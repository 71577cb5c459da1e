/* strmap.h - string-keyed hash map (open addressing), values are pointers. */
#ifndef CARBON_STRMAP_H
#define CARBON_STRMAP_H
#include <stdbool.h>
#include <stddef.h>

struct strmap {
    struct strmap_slot {
        char *key; /* owned copy; NULL = empty */
        void *val;
    } * slots;
    size_t cap, n;
};

/* Inserts or replaces; the map copies key. Returns false on allocation
 * failure. *old (if non-NULL) receives the replaced value or NULL. */
bool strmap_put(struct strmap *m, const char *key, void *val, void **old);
void *strmap_get(const struct strmap *m, const char *key);
/* Removes key and returns its value (NULL if absent). */
void *strmap_del(struct strmap *m, const char *key);
/* Calls fn for every entry (order unspecified); do not modify the map in fn. */
void strmap_each(const struct strmap *m, void (*fn)(void *arg, const char *key, void *val),
                 void *arg);
/* Frees keys and slots (not values). */
void strmap_free(struct strmap *m);

#endif
