/* registry.c - devices, gateways and their keys, cached in memory over the store. */
#include "auth/registry.h"

#include "core/log.h"
#include "core/strmap.h"
#include "core/timeutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keyref {
    enum principal_kind kind;
    char id[65];
};

struct registry {
    struct store *st;
    pthread_rwlock_t lock;  /* readers: every request; writers: brief map updates */
    pthread_mutex_t wmu;    /* serializes changes; held across store I/O, which
                             * then never blocks authentication. Holders may
                             * read the maps without the rwlock (only they
                             * change them, under both locks). */
    struct strmap devices;  /* id -> struct device* */
    struct strmap gateways; /* id -> struct gateway* (devices sorted) */
    struct strmap keys;     /* key hash -> struct keyref* */
};

static char *sdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

bool device_copy(struct device *dst, const struct device *src)
{
    *dst = *src;
    dst->name = sdup(src->name);
    dst->location = sdup(src->location);
    dst->owner = sdup(src->owner);
    dst->thresholds = sdup(src->thresholds);
    dst->calibration = sdup(src->calibration);
    dst->notify = sdup(src->notify);
    if ((src->notify && !dst->notify) || (src->name && !dst->name) ||
        (src->location && !dst->location) || (src->owner && !dst->owner) ||
        (src->thresholds && !dst->thresholds) || (src->calibration && !dst->calibration)) {
        device_clear(dst);
        return false;
    }
    return true;
}

bool gateway_copy(struct gateway *dst, const struct gateway *src)
{
    *dst = *src;
    dst->name = sdup(src->name);
    dst->devices = NULL;
    if (src->ndevices) {
        dst->devices = malloc(src->ndevices * sizeof *dst->devices);
        if (dst->devices)
            memcpy(dst->devices, src->devices, src->ndevices * sizeof *dst->devices);
    }
    if ((src->name && !dst->name) || (src->ndevices && !dst->devices)) {
        gateway_clear(dst);
        return false;
    }
    return true;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static bool key_add(struct registry *r, const char *hash, enum principal_kind kind, const char *id)
{
    struct keyref *k = malloc(sizeof *k);
    if (!k)
        return false;
    k->kind = kind;
    snprintf(k->id, sizeof k->id, "%s", id);
    void *old = NULL;
    if (!strmap_put(&r->keys, hash, k, &old)) {
        free(k);
        return false;
    }
    free(old);
    return true;
}

static void key_del(struct registry *r, const char *hash)
{
    free(strmap_del(&r->keys, hash));
}

/* Caller holds the write lock (or is loading). Takes a deep copy. */
static bool device_insert(struct registry *r, const struct device *d)
{
    struct device *c = malloc(sizeof *c);
    if (!c || !device_copy(c, d)) {
        free(c);
        return false;
    }
    void *old = NULL;
    if (!key_add(r, c->key_hash, PRINCIPAL_DEVICE, c->id)) {
        device_clear(c);
        free(c);
        return false;
    }
    if (!strmap_put(&r->devices, c->id, c, &old)) {
        key_del(r, c->key_hash);
        device_clear(c);
        free(c);
        return false;
    }
    if (old) {
        device_clear(old);
        free(old);
    }
    return true;
}

static bool gateway_insert(struct registry *r, const struct gateway *g)
{
    struct gateway *c = malloc(sizeof *c);
    if (!c || !gateway_copy(c, g)) {
        free(c);
        return false;
    }
    /* Lists arrive sorted: normalized on create/update, ORDER BY on load. */
    void *old = NULL;
    if (!key_add(r, c->key_hash, PRINCIPAL_GATEWAY, c->id)) {
        gateway_clear(c);
        free(c);
        return false;
    }
    if (!strmap_put(&r->gateways, c->id, c, &old)) {
        key_del(r, c->key_hash);
        gateway_clear(c);
        free(c);
        return false;
    }
    if (old) {
        gateway_clear(old);
        free(old);
    }
    return true;
}

struct load_ctx {
    struct registry *r;
    bool ok;
};

static void load_device(void *arg, const struct device *d)
{
    struct load_ctx *c = arg;
    if (!device_insert(c->r, d))
        c->ok = false;
}

static void load_gateway(void *arg, const struct gateway *g)
{
    struct load_ctx *c = arg;
    if (!gateway_insert(c->r, g))
        c->ok = false;
}

struct registry *registry_open(struct store *st)
{
    struct registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->st = st;
    /* Writers (device and key changes) must not starve behind the steady
     * stream of authentications. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&r->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&r->wmu, NULL);
    struct load_ctx c = {r, true};
    if (st->ops->devices_load(st, load_device, &c) != CB_OK || !c.ok ||
        st->ops->gateways_load(st, load_gateway, &c) != CB_OK || !c.ok) {
        log_msg(LOG_ERROR, "cannot load devices and gateways");
        registry_close(r);
        return NULL;
    }
    return r;
}

static void free_device(void *arg, const char *key, void *val)
{
    device_clear(val);
    free(val);
}

static void free_gateway(void *arg, const char *key, void *val)
{
    gateway_clear(val);
    free(val);
}

static void free_plain(void *arg, const char *key, void *val)
{
    free(val);
}

void registry_close(struct registry *r)
{
    if (!r)
        return;
    strmap_each(&r->devices, free_device, NULL);
    strmap_each(&r->gateways, free_gateway, NULL);
    strmap_each(&r->keys, free_plain, NULL);
    strmap_free(&r->devices);
    strmap_free(&r->gateways);
    strmap_free(&r->keys);
    pthread_rwlock_destroy(&r->lock);
    pthread_mutex_destroy(&r->wmu);
    free(r);
}

bool registry_authenticate(struct registry *r, const char *key, struct principal *out)
{
    char hash[SECRET_HASH_LEN];
    secret_hash(key, strlen(key), hash);
    bool found = false;
    pthread_rwlock_rdlock(&r->lock);
    const struct keyref *k = strmap_get(&r->keys, hash);
    if (k) {
        out->kind = k->kind;
        memcpy(out->id, k->id, sizeof out->id);
        found = true;
    }
    pthread_rwlock_unlock(&r->lock);
    return found;
}

void registry_rdlock(struct registry *r)
{
    pthread_rwlock_rdlock(&r->lock);
}

void registry_unlock(struct registry *r)
{
    pthread_rwlock_unlock(&r->lock);
}

enum write_check registry_check_write(struct registry *r, const struct principal *p,
                                      const char *device_id, uint32_t *seq)
{
    const struct device *d = strmap_get(&r->devices, device_id);
    switch (p->kind) {
    case PRINCIPAL_ADMIN:
        break;
    case PRINCIPAL_DEVICE:
        if (strcmp(p->id, device_id) != 0)
            return WRITE_FORBIDDEN;
        break;
    case PRINCIPAL_GATEWAY: {
        const struct gateway *g = strmap_get(&r->gateways, p->id);
        if (!g || !bsearch(device_id, g->devices, g->ndevices, sizeof *g->devices, cmp_id))
            return WRITE_FORBIDDEN;
        break;
    }
    default:
        return WRITE_FORBIDDEN;
    }
    if (!d)
        return WRITE_UNKNOWN_DEVICE;
    *seq = d->seq;
    return WRITE_OK;
}

/* ---- devices ---- */

const char *registry_device_calibration_locked(struct registry *r, const char *device_id)
{
    const struct device *d = strmap_get(&r->devices, device_id);
    return d ? d->calibration : NULL;
}

cb_err registry_device_seq(struct registry *r, const char *id, uint32_t *seq)
{
    cb_err rc = CB_ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&r->lock);
    const struct device *d = strmap_get(&r->devices, id);
    if (d) {
        *seq = d->seq;
        rc = CB_OK;
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

cb_err registry_device_owner(struct registry *r, const char *id, char owner[65])
{
    cb_err rc = CB_ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&r->lock);
    const struct device *d = strmap_get(&r->devices, id);
    if (d) {
        snprintf(owner, 65, "%s", d->owner ? d->owner : "");
        rc = CB_OK;
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

cb_err registry_device_get(struct registry *r, const char *id, struct device *out)
{
    cb_err rc = CB_ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&r->lock);
    const struct device *d = strmap_get(&r->devices, id);
    if (d)
        rc = device_copy(out, d) ? CB_OK : CB_ERR_NOMEM;
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

struct list_ctx {
    void *items;
    size_t n;
    bool ok;
    const char *owner; /* devices: only this owner's (NULL: all) */
};

static void collect_device(void *arg, const char *key, void *val)
{
    struct list_ctx *c = arg;
    struct device *arr = c->items;
    const struct device *d = val;
    if (c->owner && !(d->owner && strcmp(d->owner, c->owner) == 0))
        return; /* compared in place: only the owner's devices are copied */
    if (c->ok && !device_copy(&arr[c->n++], val)) {
        c->n--;
        c->ok = false;
    }
}

static int cmp_device(const void *a, const void *b)
{
    return strcmp(((const struct device *)a)->id, ((const struct device *)b)->id);
}

cb_err registry_device_list(struct registry *r, struct device **out, size_t *n)
{
    return registry_device_list_owned(r, NULL, out, n);
}

cb_err registry_device_list_owned(struct registry *r, const char *owner, struct device **out,
                                  size_t *n)
{
    pthread_rwlock_rdlock(&r->lock);
    struct list_ctx c = {calloc(r->devices.n + 1, sizeof(struct device)), 0, true, owner};
    if (c.items)
        strmap_each(&r->devices, collect_device, &c);
    pthread_rwlock_unlock(&r->lock);
    if (!c.items || !c.ok) {
        for (size_t i = 0; i < c.n; i++)
            device_clear(&((struct device *)c.items)[i]);
        free(c.items);
        return CB_ERR_NOMEM;
    }
    qsort(c.items, c.n, sizeof(struct device), cmp_device);
    *out = c.items;
    *n = c.n;
    return CB_OK;
}

cb_err registry_device_create(struct registry *r, struct device *d, char key[SECRET_KEY_LEN])
{
    if (!secret_new_key("cbk_", key))
        return CB_ERR_INTERNAL;
    secret_hash(key, strlen(key), d->key_hash);
    d->created_ms = time_now_ms();
    pthread_mutex_lock(&r->wmu);
    cb_err rc =
        strmap_get(&r->devices, d->id) ? CB_ERR_CONFLICT : r->st->ops->device_create(r->st, d);
    if (rc == CB_OK) {
        pthread_rwlock_wrlock(&r->lock);
        if (!device_insert(r, d))
            rc = CB_ERR_NOMEM;
        pthread_rwlock_unlock(&r->lock);
    }
    pthread_mutex_unlock(&r->wmu);
    return rc;
}

cb_err registry_device_update(struct registry *r, const struct device *d)
{
    pthread_mutex_lock(&r->wmu);
    struct device *cur = strmap_get(&r->devices, d->id);
    cb_err rc = CB_ERR_NOT_FOUND;
    if (cur) {
        struct device upd = *d;
        upd.seq = cur->seq;
        upd.created_ms = cur->created_ms;
        memcpy(upd.key_hash, cur->key_hash, sizeof upd.key_hash);
        rc = r->st->ops->device_update(r->st, &upd);
        struct device c;
        if (rc == CB_OK && !device_copy(&c, &upd))
            rc = CB_ERR_NOMEM;
        if (rc == CB_OK) {
            pthread_rwlock_wrlock(&r->lock);
            device_clear(cur);
            *cur = c;
            pthread_rwlock_unlock(&r->lock);
        }
    }
    pthread_mutex_unlock(&r->wmu);
    return rc;
}

cb_err registry_set_owner(struct registry *r, const char *id, const char *owner)
{
    struct device d;
    cb_err rc = registry_device_get(r, id, &d);
    if (rc != CB_OK)
        return rc;
    free(d.owner);
    d.owner = owner ? strdup(owner) : NULL;
    rc = owner && !d.owner ? CB_ERR_NOMEM : registry_device_update(r, &d);
    device_clear(&d);
    return rc;
}

static void owner_forget(void *arg, const char *key, void *val)
{
    (void)key;
    struct device *d = val;
    if (d->owner && strcmp(d->owner, arg) == 0) {
        free(d->owner);
        d->owner = NULL;
    }
}

void registry_forget_owner(struct registry *r, const char *owner)
{
    pthread_mutex_lock(&r->wmu);
    pthread_rwlock_wrlock(&r->lock);
    strmap_each(&r->devices, owner_forget, (void *)owner);
    pthread_rwlock_unlock(&r->lock);
    pthread_mutex_unlock(&r->wmu);
}

static void gateway_forget(void *arg, const char *key, void *val)
{
    const char *id = arg;
    struct gateway *g = val;
    char(*hit)[65] = bsearch(id, g->devices, g->ndevices, sizeof *g->devices, cmp_id);
    if (!hit)
        return;
    size_t i = (size_t)(hit - g->devices);
    memmove(g->devices + i, g->devices + i + 1, (g->ndevices - i - 1) * sizeof *g->devices);
    g->ndevices--;
}

cb_err registry_device_delete(struct registry *r, const char *id)
{
    /* Unpublish first (its key stops working at once), then delete in the
     * store without the rwlock: purging a device's readings can take long,
     * and every request authenticates through that lock. */
    pthread_mutex_lock(&r->wmu);
    pthread_rwlock_wrlock(&r->lock);
    struct device *cur = strmap_del(&r->devices, id);
    if (cur)
        key_del(r, cur->key_hash);
    pthread_rwlock_unlock(&r->lock);
    if (!cur) {
        pthread_mutex_unlock(&r->wmu);
        return CB_ERR_NOT_FOUND;
    }
    cb_err rc = r->st->ops->device_delete(r->st, cur);
    pthread_rwlock_wrlock(&r->lock);
    if (rc == CB_OK) {
        /* No gateway may write for it any more, nor for a later device that
         * reuses the id. */
        strmap_each(&r->gateways, gateway_forget, cur->id);
    } else if (!device_insert(r, cur)) { /* still stored: publish it again */
        log_msg(LOG_ERROR,
                "device %s: delete failed and it could not be restored in memory; "
                "restart to see it again",
                cur->id);
    }
    pthread_rwlock_unlock(&r->lock);
    pthread_mutex_unlock(&r->wmu);
    device_clear(cur);
    free(cur);
    return rc;
}

cb_err registry_device_rotate(struct registry *r, const char *id, char key[SECRET_KEY_LEN])
{
    if (!secret_new_key("cbk_", key))
        return CB_ERR_INTERNAL;
    pthread_mutex_lock(&r->wmu);
    struct device *cur = strmap_get(&r->devices, id);
    cb_err rc = CB_ERR_NOT_FOUND;
    if (cur) {
        struct device upd = *cur;
        secret_hash(key, strlen(key), upd.key_hash);
        rc = r->st->ops->device_update(r->st, &upd);
        if (rc == CB_OK) {
            pthread_rwlock_wrlock(&r->lock);
            if (key_add(r, upd.key_hash, PRINCIPAL_DEVICE, cur->id)) {
                key_del(r, cur->key_hash);
                memcpy(cur->key_hash, upd.key_hash, sizeof cur->key_hash);
            } else {
                rc = CB_ERR_NOMEM;
            }
            pthread_rwlock_unlock(&r->lock);
        }
    }
    pthread_mutex_unlock(&r->wmu);
    return rc;
}

/* ---- gateways ---- */

cb_err registry_gateway_get(struct registry *r, const char *id, struct gateway *out)
{
    cb_err rc = CB_ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&r->lock);
    const struct gateway *g = strmap_get(&r->gateways, id);
    if (g)
        rc = gateway_copy(out, g) ? CB_OK : CB_ERR_NOMEM;
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

static void collect_gateway(void *arg, const char *key, void *val)
{
    struct list_ctx *c = arg;
    struct gateway *arr = c->items;
    if (c->ok && !gateway_copy(&arr[c->n++], val)) {
        c->n--;
        c->ok = false;
    }
}

static int cmp_gateway(const void *a, const void *b)
{
    return strcmp(((const struct gateway *)a)->id, ((const struct gateway *)b)->id);
}

cb_err registry_gateway_list(struct registry *r, struct gateway **out, size_t *n)
{
    pthread_rwlock_rdlock(&r->lock);
    struct list_ctx c = {calloc(r->gateways.n + 1, sizeof(struct gateway)), 0, true, NULL};
    if (c.items)
        strmap_each(&r->gateways, collect_gateway, &c);
    pthread_rwlock_unlock(&r->lock);
    if (!c.items || !c.ok) {
        for (size_t i = 0; i < c.n; i++)
            gateway_clear(&((struct gateway *)c.items)[i]);
        free(c.items);
        return CB_ERR_NOMEM;
    }
    qsort(c.items, c.n, sizeof(struct gateway), cmp_gateway);
    *out = c.items;
    *n = c.n;
    return CB_OK;
}

/* The one place a gateway's device list takes its stored form: sorted,
 * without repeats, and only devices that exist now (one deleted since the
 * caller checked must not be granted to a later device with its id).
 * Caller holds wmu. */
static void gateway_normalize(struct registry *r, struct gateway *g)
{
    if (g->ndevices > 1)
        qsort(g->devices, g->ndevices, sizeof *g->devices, cmp_id);
    size_t u = 0;
    for (size_t i = 0; i < g->ndevices; i++) {
        if (u && strcmp(g->devices[u - 1], g->devices[i]) == 0)
            continue;
        if (strmap_get(&r->devices, g->devices[i]))
            memmove(g->devices[u++], g->devices[i], sizeof *g->devices);
    }
    g->ndevices = u;
}

cb_err registry_gateway_create(struct registry *r, struct gateway *g, char key[SECRET_KEY_LEN])
{
    if (!secret_new_key("cbg_", key))
        return CB_ERR_INTERNAL;
    secret_hash(key, strlen(key), g->key_hash);
    g->created_ms = time_now_ms();
    pthread_mutex_lock(&r->wmu);
    gateway_normalize(r, g);
    cb_err rc =
        strmap_get(&r->gateways, g->id) ? CB_ERR_CONFLICT : r->st->ops->gateway_create(r->st, g);
    if (rc == CB_OK) {
        pthread_rwlock_wrlock(&r->lock);
        if (!gateway_insert(r, g))
            rc = CB_ERR_NOMEM;
        pthread_rwlock_unlock(&r->lock);
    }
    pthread_mutex_unlock(&r->wmu);
    return rc;
}

/* Caller holds wmu. */
static cb_err gateway_replace(struct registry *r, struct gateway *cur, const struct gateway *upd)
{
    cb_err rc = r->st->ops->gateway_update(r->st, upd);
    if (rc != CB_OK)
        return rc;
    char old_hash[SECRET_HASH_LEN];
    memcpy(old_hash, cur->key_hash, sizeof old_hash);
    pthread_rwlock_wrlock(&r->lock);
    if (!gateway_insert(r, upd)) { /* replaces cur (and frees it) */
        rc = CB_ERR_NOMEM;
    } else if (strcmp(old_hash, upd->key_hash) != 0) {
        key_del(r, old_hash);
    }
    pthread_rwlock_unlock(&r->lock);
    return rc;
}

cb_err registry_gateway_update(struct registry *r, struct gateway *g)
{
    pthread_mutex_lock(&r->wmu);
    struct gateway *cur = strmap_get(&r->gateways, g->id);
    cb_err rc = CB_ERR_NOT_FOUND;
    if (cur) {
        gateway_normalize(r, g);
        struct gateway upd = *g;
        memcpy(upd.key_hash, cur->key_hash, sizeof upd.key_hash);
        upd.created_ms = cur->created_ms;
        rc = gateway_replace(r, cur, &upd);
    }
    pthread_mutex_unlock(&r->wmu);
    return rc;
}

cb_err registry_gateway_delete(struct registry *r, const char *id)
{
    pthread_mutex_lock(&r->wmu);
    struct gateway *cur = strmap_get(&r->gateways, id);
    cb_err rc = CB_ERR_NOT_FOUND;
    if (cur) {
        rc = r->st->ops->gateway_delete(r->st, id);
        if (rc == CB_OK) {
            pthread_rwlock_wrlock(&r->lock);
            key_del(r, cur->key_hash);
            strmap_del(&r->gateways, id);
            pthread_rwlock_unlock(&r->lock);
            gateway_clear(cur);
            free(cur);
        }
    }
    pthread_mutex_unlock(&r->wmu);
    return rc;
}

cb_err registry_gateway_rotate(struct registry *r, const char *id, char key[SECRET_KEY_LEN])
{
    if (!secret_new_key("cbg_", key))
        return CB_ERR_INTERNAL;
    pthread_mutex_lock(&r->wmu);
    struct gateway *cur = strmap_get(&r->gateways, id);
    cb_err rc = CB_ERR_NOT_FOUND;
    if (cur) {
        struct gateway upd = *cur;
        secret_hash(key, strlen(key), upd.key_hash);
        rc = gateway_replace(r, cur, &upd);
    }
    pthread_mutex_unlock(&r->wmu);
    return rc;
}
