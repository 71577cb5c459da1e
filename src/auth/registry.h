/* registry.h - devices, gateways and their keys, cached in memory over the
 * store (write-through). Thread-safe: readers share a rwlock. */
#ifndef CARBON_REGISTRY_H
#define CARBON_REGISTRY_H
#include "core/secret.h"
#include "store/store.h"

enum principal_kind {
    PRINCIPAL_NONE,
    PRINCIPAL_ADMIN,   /* the admin token (id "") or an admin user's session (id = user) */
    PRINCIPAL_DEVICE,  /* a device key (id = device) */
    PRINCIPAL_GATEWAY, /* a gateway key (id = gateway) */
    PRINCIPAL_USER,    /* a user's session (id = user) */
};

/* Who is calling: resolved once per request by auth_identify(). */
struct principal {
    enum principal_kind kind;
    char id[65]; /* device, gateway or user id */
};

enum write_check { WRITE_OK, WRITE_UNKNOWN_DEVICE, WRITE_FORBIDDEN };

struct registry;

/* Loads every device and gateway from st. NULL on failure (logged). */
struct registry *registry_open(struct store *st);
void registry_close(struct registry *r);

/* Finds the device or gateway holding key. False if none. */
bool registry_authenticate(struct registry *r, const char *key, struct principal *out);

/* May p write readings for device_id? Sets *seq when the device exists.
 * Call between registry_rdlock and registry_unlock (to check a batch under one
 * lock). Unknown devices are reported as WRITE_UNKNOWN_DEVICE only to callers
 * who could write them if they existed (admin); others get WRITE_FORBIDDEN. */
void registry_rdlock(struct registry *r);
void registry_unlock(struct registry *r);
enum write_check registry_check_write(struct registry *r, const struct principal *p,
                                      const char *device_id, uint32_t *seq);
/* The stored calibration text of a device (NULL: none or no such device).
 * Borrowed: valid only until registry_unlock, so call it under
 * registry_rdlock (POST /v1/readings converts co_raw there). */
const char *registry_device_calibration_locked(struct registry *r, const char *device_id);

/* The store sequence number of device id; CB_ERR_NOT_FOUND if absent. */
cb_err registry_device_seq(struct registry *r, const char *id, uint32_t *seq);
/* The owner (user id, "" if none) of a device. CB_ERR_NOT_FOUND if there is
 * no such device. */
cb_err registry_device_owner(struct registry *r, const char *id, char owner[65]);
/* Deep copy of a device (free with device_clear). CB_ERR_NOT_FOUND if absent. */
cb_err registry_device_get(struct registry *r, const char *id, struct device *out);
/* All devices sorted by id, deep copies; free each with device_clear, then the array. */
cb_err registry_device_list(struct registry *r, struct device **out, size_t *n);
/* The same, only the devices owner owns (NULL: all). */
cb_err registry_device_list_owned(struct registry *r, const char *owner, struct device **out,
                                  size_t *n);
/* Creates d (its seq and key_hash are set here) and writes a new key to key. */
cb_err registry_device_create(struct registry *r, struct device *d, char key[SECRET_KEY_LEN]);
/* Replaces the mutable fields of the device with d's (matched by id). */
cb_err registry_device_update(struct registry *r, const struct device *d);
cb_err registry_device_delete(struct registry *r, const char *id);
/* Makes owner (a user id, or NULL for none) the owner of device id. */
cb_err registry_set_owner(struct registry *r, const char *id, const char *owner);
/* The store has removed owner from its devices (user deleted): so does the cache. */
void registry_forget_owner(struct registry *r, const char *owner);
/* Issues a new key for the device; the old one stops working at once. */
cb_err registry_device_rotate(struct registry *r, const char *id, char key[SECRET_KEY_LEN]);

cb_err registry_gateway_get(struct registry *r, const char *id, struct gateway *out);
cb_err registry_gateway_list(struct registry *r, struct gateway **out, size_t *n);
/* Create and update bring g's device list to its stored form in place:
 * sorted, unique, registered devices only. */
cb_err registry_gateway_create(struct registry *r, struct gateway *g, char key[SECRET_KEY_LEN]);
/* Replaces name and device list (matched by id). */
cb_err registry_gateway_update(struct registry *r, struct gateway *g);
cb_err registry_gateway_delete(struct registry *r, const char *id);
cb_err registry_gateway_rotate(struct registry *r, const char *id, char key[SECRET_KEY_LEN]);

/* Deep copies; false on allocation failure (dst then holds nothing to free). */
bool device_copy(struct device *dst, const struct device *src);
bool gateway_copy(struct gateway *dst, const struct gateway *src);

#endif
