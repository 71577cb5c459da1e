/* store.h - the storage interface: operations, not SQL. One opaque handle and
 * an ops table per backend (SQLite now, DynamoDB later), like SQLite's VFS. */
#ifndef CARBON_STORE_H
#define CARBON_STORE_H
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_MAX_QUERY 1000000 /* most readings one query_readings returns */
#define READING_HAS_TEMP 1u
#define READING_HAS_HUM 2u

/* One stored reading. 40 bytes; also the SQLite journal's record layout. */
struct reading {
    uint32_t dev;   /* device sequence number (struct device.seq) */
    uint32_t flags; /* READING_HAS_* */
    int64_t ts_ms;  /* the reading's own time, epoch milliseconds (part of its identity) */
    double co_ppm;
    double temp_c;
    double hum_pct;
};

struct device {
    uint32_t seq; /* assigned by the store, never reused */
    char id[65];
    char *name, *location, *owner; /* heap strings or NULL */
    char *thresholds;              /* JSON object text or NULL */
    char *calibration;             /* JSON object text or NULL */
    char *notify;                  /* notification policy, JSON object text or NULL */
    int64_t offline_after_s;
    int64_t created_ms;
    char key_hash[65]; /* SHA-256 hex of the device key */
};

struct gateway {
    char id[65];
    char *name;
    char key_hash[65];
    int64_t created_ms;
    char (*devices)[65]; /* ids of the devices it may write for */
    size_t ndevices;
};

/* A person (SPEC 4). Ids are ULIDs. */
struct user {
    char id[27];
    char *name;          /* 1..128 bytes */
    char *email;         /* lower-case, or NULL */
    char *phone;         /* E.164, or NULL */
    char *secondary;     /* JSON array of E.164 numbers, or NULL */
    char *emergency;     /* JSON object label -> E.164, or NULL */
    char *password_hash; /* Argon2id encoded hash, or NULL: cannot log in */
    bool admin;
    int64_t created_ms;
};

/* A login session: only the SHA-256 of its token is stored. */
struct session {
    char token_hash[65];
    char user_id[27];
    int64_t created_ms, expires_ms;
};
typedef void (*store_user_fn)(void *arg, const struct user *u);
typedef void (*store_session_fn)(void *arg, const struct session *s);

/* One alarm of one device (SPEC 5); the alarm engine's events become these
 * records. State: active/cleared x acknowledged or not. */
struct alert {
    int64_t id; /* assigned by the store on first write (0 = new) */
    uint32_t dev;
    uint8_t kind;     /* enum alarm_kind */
    uint8_t severity; /* enum alarm_severity */
    bool active, acked;
    int64_t raised_ms;  /* when the condition began (reading ts; clock for offline/manual) */
    int64_t updated_ms; /* last change of peak, severity or state */
    int64_t cleared_ms; /* 0 = not cleared */
    int64_t acked_ms;   /* 0 = not acknowledged */
    int64_t muted_until_ms;
    int64_t recorded_ms; /* server clock when it was raised */
    double trigger_ppm, peak_ppm;
    char acked_by[65];
    char message[257]; /* manual alarms */
};

/* Which alerts alerts_query returns: newest first (by id). */
struct alert_filter {
    uint32_t dev;      /* 0 = any */
    int kind;          /* -1 = any */
    int active, acked; /* -1 = any, else 0 / 1 */
    int64_t from, to;  /* raised_ms in [from, to) */
    int64_t before_id; /* cursor: ids below this (0 = from the newest) */
    size_t limit;
    const char *owner; /* NULL = any; else only devices this user owns */
};

/* The alarm engine's state of a device, as opaque bytes. */
struct alarm_blob {
    uint32_t dev;
    const void *data;
    size_t len;
};
/* One message of the notification outbox (SPEC 5): written before it is
 * sent, updated by every attempt and by the provider's status callbacks. */
enum notif_state {
    NOTIF_PENDING,   /* waiting for its (next) attempt at next_ms */
    NOTIF_SENDING,   /* an attempt is (or was, if we crashed) with the provider */
    NOTIF_ACCEPTED,  /* the provider took it (sid); delivery status follows */
    NOTIF_FAILED,    /* permanently refused (e.g. an invalid number) */
    NOTIF_CANCELLED, /* not sent: the alert was acknowledged or cleared first */
};
enum notif_channel { NOTIF_SMS, NOTIF_CALL };
struct notification {
    int64_t id;       /* assigned by the store */
    int64_t alert_id; /* 0: not about an alert (a test message) */
    char user_id[27]; /* the person it is for, "" if only a number is known */
    uint8_t stage;    /* enum notify_stage (notify/policy.h) */
    uint8_t round;    /* 0 = first time; n = the n-th reminder */
    uint8_t channel;  /* enum notif_channel */
    uint8_t state;    /* enum notif_state */
    char to[20];      /* E.164 */
    char body[1601];  /* SMS text, or what a call says */
    int attempts;
    bool maybe_dup; /* an attempt may have reached the provider before a crash or timeout */
    int64_t created_ms, next_ms, sent_ms, updated_ms;
    char sid[64];             /* provider id, "" until accepted */
    char provider_status[32]; /* from status callbacks: delivered, no-answer, ... */
    int error_code;           /* provider error code (0 = none) */
    char last_error[160];
};
typedef void (*store_notif_fn)(void *arg, const struct notification *n);

typedef void (*store_blob_fn)(void *arg, uint32_t dev, const void *data, size_t len);

/* Live per-device facts kept by the store (not part of the device record). */
struct device_live {
    int64_t last_seen_ms; /* receipt time of the last stored reading; 0 = never */
    bool has_last;
    struct reading last; /* the reading with the greatest ts */
};

/* Called once per put_readings, from a store thread, after the readings are
 * durable (err == CB_OK) or definitely not stored (err != CB_OK). */
typedef void (*store_done_fn)(void *arg, cb_err err);
/* Called for each reading of a scan, in ascending ts; returns false to stop. */
typedef bool (*store_scan_fn)(void *arg, const struct reading *r);
/* One time bucket of a series: [start, start + step). */
struct store_bucket {
    int64_t start;
    uint64_t count;
    double co_min, co_max, co_sum;
    uint64_t temp_n, hum_n; /* readings that carried temperature / humidity */
    double temp_sum, hum_sum;
};
/* Called for each non-empty bucket in ascending start; returns false to stop. */
typedef bool (*store_bucket_fn)(void *arg, const struct store_bucket *b);
typedef void (*store_device_fn)(void *arg, const struct device *d);
typedef void (*store_gateway_fn)(void *arg, const struct gateway *g);

/* Counters a backend reports for /metrics. */
struct store_stats {
    uint64_t commits;          /* group commits of readings */
    uint64_t readings_written; /* readings made durable */
    uint64_t compactions;      /* journal -> table moves */
    uint64_t pending;          /* readings journaled, not yet in the table */
    uint64_t dedup_lookups;    /* duplicate checks that needed a table lookup */
};

struct store;

struct store_ops {
    const char *name;
    void (*close)(struct store *s);
    /* CB_OK when the backend can serve requests. */
    cb_err (*ready)(struct store *s);
    void (*stats)(struct store *s, struct store_stats *out);

    /* Readings. put_readings queues n readings (the array stays owned by the
     * caller and must live until done is called); dup[i] is set to 1 for a
     * reading already stored (same dev and ts_ms), which is then not written
     * again. done is called after the group commit that holds them. */
    cb_err (*put_readings)(struct store *s, const struct reading *r, size_t n, uint8_t *dup,
                           int64_t now_ms, store_done_fn done, void *arg);
    /* Readings of dev with from <= ts < to, ascending (or descending), at most
     * limit (itself capped at STORE_MAX_QUERY). *out is malloc'd (caller
     * frees), *n its length. */
    cb_err (*query_readings)(struct store *s, uint32_t dev, int64_t from, int64_t to, bool desc,
                             size_t limit, struct reading **out, size_t *n);
    /* Every reading of dev with from <= ts < to, ascending, to fn. */
    cb_err (*scan_readings)(struct store *s, uint32_t dev, int64_t from, int64_t to,
                            store_scan_fn fn, void *arg);
    /* Rollup: the readings of dev in [from, to) aggregated per bucket of
     * step_ms (aligned to the epoch), non-empty buckets only, ascending. */
    cb_err (*series)(struct store *s, uint32_t dev, int64_t from, int64_t to, int64_t step_ms,
                     store_bucket_fn fn, void *arg);
    /* The live facts of a device. */
    cb_err (*device_live)(struct store *s, uint32_t dev, struct device_live *out);

    /* Devices. create assigns d->seq; CB_ERR_CONFLICT when the id exists. */
    cb_err (*device_create)(struct store *s, struct device *d);
    cb_err (*device_update)(struct store *s, const struct device *d);
    /* Deletes the device, its readings, and its place in gateway lists. */
    cb_err (*device_delete)(struct store *s, const struct device *d);
    cb_err (*devices_load)(struct store *s, store_device_fn fn, void *arg);

    /* Gateways (keys scoped to a list of devices). */
    cb_err (*gateway_create)(struct store *s, const struct gateway *g);
    cb_err (*gateway_update)(struct store *s, const struct gateway *g);
    cb_err (*gateway_delete)(struct store *s, const char *id);
    cb_err (*gateways_load)(struct store *s, store_gateway_fn fn, void *arg);

    /* Users. create: CB_ERR_CONFLICT when the email or phone is taken.
     * delete: also their sessions; their devices lose their owner. */
    cb_err (*user_create)(struct store *s, const struct user *u);
    cb_err (*user_update)(struct store *s, const struct user *u);
    cb_err (*user_delete)(struct store *s, const char *id);
    cb_err (*users_load)(struct store *s, store_user_fn fn, void *arg);
    /* Sessions; load skips (and deletes) expired ones. */
    cb_err (*session_put)(struct store *s, const struct session *se);
    cb_err (*session_delete)(struct store *s, const char *token_hash);
    cb_err (*sessions_load)(struct store *s, int64_t now_ms, store_session_fn fn, void *arg);

    /* Alarms. alarm_commit writes alerts (inserting those with id 0 and
     * setting their id) and engine states in one durable transaction. */
    cb_err (*alarm_commit)(struct store *s, struct alert *a, size_t na, const struct alarm_blob *b,
                           size_t nb);
    /* Alerts matching f, newest first, at most f->limit; *out malloc'd. */
    cb_err (*alerts_query)(struct store *s, const struct alert_filter *f, struct alert **out,
                           size_t *n);
    /* CB_ERR_NOT_FOUND if there is no such alert. */
    cb_err (*alert_get)(struct store *s, int64_t id, struct alert *out);
    /* Every saved engine state, and every active alert (to resume them). */
    cb_err (*alarm_load)(struct store *s, store_blob_fn states,
                         void (*active)(void *, const struct alert *), void *arg);

    /* Notification outbox. notif_add inserts n durably and sets n->id;
     * CB_ERR_CONFLICT if this (alert, stage, round, channel, number) exists. */
    cb_err (*notif_add)(struct store *s, struct notification *n);
    /* Inserts v[0..n) in one durable transaction; rc[i] as for notif_add. */
    cb_err (*notif_add_many)(struct store *s, struct notification *v, size_t n, cb_err *rc);
    /* Writes n's state, attempts, times, sid, status and error durably, if
     * the stored state is still expect (-1: whatever it is); else
     * CB_ERR_CONFLICT and nothing written (an acknowledgement cancelled it
     * meanwhile). */
    cb_err (*notif_update)(struct store *s, const struct notification *n, int expect);
    /* A status callback: sets provider_status (and error_code when not 0) of
     * the message with this sid, only if it moves the message forward (the
     * ranks in sqlite_notify.c: a late "sent" after "undelivered" is
     * ignored, still CB_OK); *out is the row as stored. CB_ERR_NOT_FOUND. */
    cb_err (*notif_status)(struct store *s, const char *sid, const char *status, int error_code,
                           int64_t now_ms, struct notification *out);
    /* Every message of alert_id, oldest first (at most limit). */
    cb_err (*notif_list)(struct store *s, int64_t alert_id, size_t limit, struct notification **out,
                         size_t *n);
    cb_err (*notif_get)(struct store *s, int64_t id, struct notification *out);
    /* Messages still pending or sending (to resume them), oldest first. */
    cb_err (*notif_load_open)(struct store *s, store_notif_fn fn, void *arg);
    /* Pending messages of stage about the alerts of device dev become
     * cancelled (e.g. its all-clear, when it alarms again); *n how many. */
    cb_err (*notif_cancel_stage)(struct store *s, uint32_t dev, int stage, int64_t now_ms,
                                 size_t *n);
    /* Pending messages of alert_id become cancelled; *n how many. */
    cb_err (*notif_cancel)(struct store *s, int64_t alert_id, int64_t now_ms, size_t *n);
    /* Ids of the active, unacknowledged alerts that a message was sent (or
     * is being sent) to number about, newest first, at most cap. */
    cb_err (*notif_open_alerts_to)(struct store *s, const char *number, int64_t *ids, size_t cap,
                                   size_t *n);
};

struct store {
    const struct store_ops *ops;
};

/* Opens (creating and migrating as needed) the SQLite store in directory dir.
 * NULL on failure, with a message logged. */
struct store *store_sqlite_open(const char *dir);

/* Frees the heap fields of d / g / u (not d / g / u itself). */
void device_clear(struct device *d);
void user_clear(struct user *u);
void gateway_clear(struct gateway *g);

#endif
