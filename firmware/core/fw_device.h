/* fw_device.h - one Car-Bon sensor: the whole portable firmware, stepped by
 * the caller's clock.
 *
 * A struct fw_device holds every piece of state (no globals, no heap), so a
 * simulator can run many devices in one process with compressed time, and
 * the ESP32 app runs exactly one. The hardware and the network come in
 * through struct fw_port, a table of function pointers; time comes in as
 * the argument of fw_step (a monotonic millisecond clock of the caller's
 * choosing), the wall clock through port.wall_ms.
 *
 * Each fw_step(dev, now):
 *  1. runs the MQ-7 heater cycle (fw_heater.h): 5.0 V for 60 s, 1.4 V for
 *     90 s, and at the end of each low phase a sample: a burst of adc_burst
 *     ADC reads, their median (smoothing against spikes), converted to ppm
 *     by mq7.h; faults (open, short, rails, ADC error) stay faults;
 *  2. feeds every sample to the shared alarm engine (src/alarm/alarm.c, the
 *     server's own code) and drives the local alarm output (off / fault /
 *     warning / critical), so the device alarms with no network;
 *  3. folds samples into one reading per report interval (peak kept,
 *     fw_reading.h) and queues it in the offline ring (fw_ring.h);
 *  4. when the network is due and the heater leaves time, POSTs the oldest
 *     readings as one batch (fw_payload.h) to /v1/readings with the device
 *     key (through a synchronous port, or an asynchronous one answering
 *     later via fw_http_result), and retries with exponential backoff and
 *     jitter (fw_backoff.h).
 * Warm-up: the first use preheats for warmup_first_ms (the datasheet's 48 h,
 * accumulated across reboots: the progress is saved every hour), later
 * boots warm up for warmup_ms; readings taken meanwhile are flagged
 * FW_RD_WARMUP, not acted on by the alarm engine, and not sent unless
 * send_warmup. The output shows FW_OUT_WARMUP ("not yet protecting"), and
 * a sample at or above warmup_alarm_ppm still drives FW_OUT_CRITICAL.
 * A shorted sensor (MQ7_E_SHORT) drives FW_OUT_CRITICAL at any time: it
 * cannot be told from lethal CO.
 * See firmware/README.md for the design and its sources. */
#ifndef CARBON_FW_DEVICE_H
#define CARBON_FW_DEVICE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarm/alarm.h"
#include "fw_backoff.h"
#include "fw_heater.h"
#include "fw_payload.h"
#include "fw_reading.h"
#include "fw_ring.h"
#include "mq7.h"

#define FW_READINGS_PATH "/v1/readings"
#define FW_BATCH_MAX 1000 /* the server's cap on readings per POST */
#ifndef FW_BODY_CAP
#define FW_BODY_CAP 16384 /* request body buffer: about 100 readings */
#endif
#define FW_KEY_MAX 256 /* the server's longest token */
#define FW_ADC_BURST_MAX 15
/* The local alarm engine runs on the step clock shifted by this, because it
 * reads a time of 0 as "never". */
#define FW_ALARM_CLOCK_BASE_MS 86400000LL
/* The first-use preheat's progress is saved this often (NVS: 48 writes). */
#define FW_PREHEAT_SAVE_MS 3600000LL
/* port.http_post's answer for "started; the status comes later through
 * fw_http_result" (not an HTTP status). */
#define FW_HTTP_PENDING 1000

enum fw_heater_level { FW_HEATER_OFF, FW_HEATER_HIGH, FW_HEATER_LOW };

/* The local alarm output, from the alarm engine's active, unmuted kinds
 * (offline is a server matter and not shown) and the device's own checks
 * (a short, danger or a fault during warm-up, an implausible supply).
 * Ordered by urgency. FW_OUT_WARMUP takes the place of FW_OUT_OFF while
 * the sensor warms up; its value is below FW_OUT_OFF so that code keeping
 * the highest level seen (carbon sim) still reads it as "no alarm". */
enum fw_output {
    FW_OUT_WARMUP = -1, /* warming up, nothing else on: NOT YET PROTECTING (slow blink) */
    FW_OUT_OFF = 0,
    FW_OUT_FAULT,    /* sensor_fault, a fault during warm-up, supply out of range: a chirp */
    FW_OUT_WARNING,  /* a warning (co_high >= warn_ppm, co_rising) */
    FW_OUT_CRITICAL, /* critical (co_high >= alarm_ppm, co_exposure, manual; a shorted
                      * sensor; warm-up reading >= warmup_alarm_ppm) */
};

enum fw_log_level { FW_LOG_DEBUG, FW_LOG_INFO, FW_LOG_WARN, FW_LOG_ERROR };

/* What the device keeps across reboots (through port.nvs_*). preheat_min
 * was padding (always 0) before it counted the preheat, so records saved by
 * earlier firmware load as they are (preheat not started, or done). */
#define FW_PERSIST_MAGIC 0x57464243u /* "CBFW" */
#define FW_PERSIST_VERSION 1u
#define FW_PERSIST_PREHEATED 1u  /* the first 48 h preheat is done */
#define FW_PERSIST_CALIBRATED 2u /* r0_ohm comes from a clean-air calibration */
struct fw_persist {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t preheat_min; /* minutes of first-use preheat done (saved hourly) */
    double r0_ohm;
};

struct fw_http_header {
    const char *name;
    const char *value;
};

/* The platform, as a table of functions; ctx is passed back to each. The
 * calls happen only inside fw_device_init, fw_step and the fw_* commands,
 * on the caller's thread. Strings passed in are valid during the call only
 * (except an http_post answered FW_HTTP_PENDING: see there). */
struct fw_port {
    void *ctx;
    /* Required. Set the heater: HIGH = 5.0 V, LOW = 1.4 V average, OFF. */
    void (*set_heater)(void *ctx, enum fw_heater_level level);
    /* Required. One ADC conversion of the sensor pin, in counts; false if the
     * ADC failed. Called adc_burst times in a row for each sample. */
    bool (*read_adc)(void *ctx, uint32_t *raw);
    /* Required. Show the alarm level (buzzer/LED pattern); called on change. */
    void (*set_alarm_output)(void *ctx, enum fw_output level);
    /* The wall clock: true and *epoch_ms set once it is known (SNTP). Needed
     * to send (readings carry ts); readings made before it are stamped later
     * from the step clock. NULL: never known, nothing is sent. */
    bool (*wall_ms)(void *ctx, int64_t *epoch_ms);
    /* Optional. Temperature and humidity: returns FW_RD_TEMP and/or FW_RD_HUM
     * for the values it set. */
    unsigned (*read_env)(void *ctx, double *temp_c, double *hum_pct);
    /* Optional. Load / save the persisted record; false if none / failed. */
    bool (*nvs_load)(void *ctx, struct fw_persist *p);
    bool (*nvs_save)(void *ctx, const struct fw_persist *p);
    /* POST body (len bytes of JSON) to the server's path, with the headers
     * given (Authorization and Content-Type; the port adds Host and
     * Content-Length). Either synchronous: returns the HTTP status, or a
     * negative number when no answer came (no link, DNS, TLS, timeout), and
     * *retry_after_s: a Retry-After in seconds if the answer had one, else
     * left 0; it should return within http_budget_ms (the core starts a POST
     * only when no heater event is due sooner). Or asynchronous: returns
     * FW_HTTP_PENDING at once, performs the POST elsewhere (another task)
     * and later, on the core's thread, calls fw_http_result with the status
     * and Retry-After; until then path, headers and body stay valid and
     * unchanged, no other POST is started, and *retry_after_s is ignored.
     * An asynchronous port must always answer (its own timeouts), else
     * uploads stop. NULL: an offline device. */
    int (*http_post)(void *ctx, const char *path, const struct fw_http_header *headers,
                     size_t nheaders, const char *body, size_t len, uint32_t *retry_after_s);
    /* Optional. A random 32-bit number for the backoff's jitter. */
    uint32_t (*random)(void *ctx);
    /* Optional. A log line: msg, an optional detail (may be NULL) and a value. */
    void (*log)(void *ctx, enum fw_log_level level, const char *msg, const char *detail,
                int64_t value);
    /* Optional. The measured circuit voltage Vc (the sensor's 5 V rail) in
     * volts, read once per sample; a negative number or NaN when no
     * measurement is available. Within supply_min_v..supply_max_v it
     * replaces mq7.vc_v in that sample's conversion (a rail 3 % low
     * otherwise reads 50 ppm as ~40); outside, the sample is converted with
     * the nominal vc_v, flagged FW_RD_SUPPLY, counted, and the output shows
     * FW_OUT_FAULT (unless an alarm is more urgent). NULL: always vc_v. */
    double (*read_supply_v)(void *ctx);
};

struct fw_config {
    char device_id[65];             /* as registered on the server */
    char api_key[FW_KEY_MAX + 1];   /* the device key (cbk_...) */
    struct mq7_calibration mq7;     /* r0_ohm is replaced by a persisted calibration */
    struct alarm_config alarm;      /* local alarm: the server's defaults */
    struct fw_heater_config heater; /* 60 s / 90 s */
    int64_t warmup_first_ms;        /* first use: 48 h (datasheet preheat) */
    int64_t warmup_ms;              /* later boots: 300 s (two heater cycles) */
    uint32_t adc_burst;             /* ADC reads per sample, median taken (5, odd, <= 15) */
    int64_t report_interval_ms;     /* one reading per this (150 s = every cycle) */
    bool report_peak;               /* reading's co_ppm is the peak (true) or the mean */
    bool send_warmup;               /* send readings taken during warm-up (false) */
    enum fw_payload_mode payload;   /* FW_PAYLOAD_PPM */
    uint32_t batch_max;             /* readings per POST: 1..FW_BATCH_MAX (100) */
    uint32_t ring_cap;              /* offline buffer: 1..FW_RING_CAP (FW_RING_CAP) */
    int64_t backoff_min_ms;         /* first retry after ~5 s ... */
    int64_t backoff_max_ms;         /* ... doubling up to 10 min */
    int64_t retry_after_max_ms;     /* a server's Retry-After is honoured up to 1 h */
    int64_t http_budget_ms;         /* POST only if no heater event is due within 15 s */
    double clean_air_ratio;         /* Rs/R0 in clean air: 27.5 (MQSensorsLib) */
    uint32_t calib_samples;         /* samples averaged by a calibration (10) */
    double calib_max_cv;            /* refuse a calibration whose Rs varied more (0.10) */
    double warmup_alarm_ppm;        /* during warm-up: critical at/above this (150) */
    double supply_min_v;            /* a measured Vc is plausible from ... (4.5) */
    double supply_max_v;            /* ... to (5.5) */
};

enum fw_cal_state {
    FW_CAL_IDLE,    /* never run since boot */
    FW_CAL_RUNNING, /* collecting samples */
    FW_CAL_DONE,    /* R0 updated and saved */
    FW_CAL_FAILED,  /* refused (see enum fw_cal_error): R0 unchanged */
};

/* Why the last calibration was refused. */
enum fw_cal_error {
    FW_CAL_E_NONE,
    FW_CAL_E_FAULT,    /* a sample failed (open, short, rails, ADC) */
    FW_CAL_E_UNSTABLE, /* Rs varied more than calib_max_cv: the air was not steady */
    FW_CAL_E_RANGE,    /* R0 outside mq7_calibration_check's 1-100 kOhm: not clean air */
};

struct fw_stats {
    uint32_t samples;              /* heater cycles sampled */
    uint32_t faults;               /* samples that failed */
    uint32_t readings;             /* readings made */
    uint32_t queued;               /* readings put in the ring */
    uint32_t sent;                 /* readings the server took (2xx) */
    uint32_t rejected;             /* readings the server refused alone (4xx): dropped */
    uint32_t posts;                /* POSTs tried */
    uint32_t post_failures;        /* POSTs that got no 2xx and were retried later */
    int last_status;               /* of the last POST */
    uint32_t supply_bad;           /* samples whose measured Vc was implausible (nominal used) */
    double supply_v;               /* the last plausible measured Vc (0: none yet) */
    uint32_t calib_failures;       /* calibrations refused since boot (R0 kept) */
    enum fw_cal_error calib_error; /* why the last one was refused */
    double calib_r0_refused;       /* the R0 it computed (0 when it failed on a fault) */
    double calib_cv;               /* Rs's coefficient of variation in the last run */
};

/* Why the device drives its output itself, beside the alarm engine. */
enum fw_local {
    FW_LOCAL_NONE,
    FW_LOCAL_SHORT,        /* the last sample was a short: critical */
    FW_LOCAL_WARMUP_CO,    /* warming up and >= warmup_alarm_ppm: critical */
    FW_LOCAL_WARMUP_FAULT, /* warming up and the sample failed: fault */
    FW_LOCAL_SUPPLY,       /* measured Vc out of range: fault */
};

struct fw_device {
    struct fw_config cfg;
    struct fw_port port;
    struct mq7_calibration cal; /* in use */
    struct fw_persist persist;
    struct fw_heater heater;
    int64_t warmup_end_ms;
    bool warm;
    int64_t boot_ms;          /* fw_device_init's time */
    int64_t preheat_base_ms;  /* first-use preheat done before this boot */
    int64_t preheat_saved_ms; /* when its progress was last saved */
    uint32_t per_report;      /* samples per reading */
    struct fw_agg agg;
    struct fw_reading last; /* the newest reading (seq 0: none yet) */
    uint32_t next_seq;
    struct fw_ring ring;
    struct alarm_state alarm;
    enum fw_output output;
    enum fw_local local;    /* from the last sample */
    double local_ppm;       /* that sample's ppm */
    int64_t local_muted_ms; /* local output muted until (step clock) */
    struct fw_backoff backoff;
    int64_t next_send_ms;
    uint32_t batch_cap; /* current, lowered while isolating a refused reading */
    struct {
        enum fw_cal_state state;
        uint32_t n;
        double sum_rs;
        double sum_rs2;
    } calib;
    struct {
        bool pending;      /* an asynchronous POST is out */
        uint32_t n;        /* readings in it */
        uint32_t last_seq; /* seq of its newest reading */
    } http;
    struct fw_http_header hdr[2];
    struct fw_stats stats;
    char auth[8 + FW_KEY_MAX];
    char body[FW_BODY_CAP];
};

/* Defaults for everything but device_id and api_key (empty). */
void fw_config_default(struct fw_config *c);
/* NULL when c is usable, else a static string saying what is wrong. */
const char *fw_config_check(const struct fw_config *c);

/* Sets up dev (caller-owned storage, fully overwritten) at step time now_ms:
 * loads the persisted record, starts warm-up and the heater cycle, turns the
 * alarm output off. Returns NULL, or a reason (bad config or missing
 * required port function) and dev is unusable. cfg and port are copied. */
const char *fw_device_init(struct fw_device *dev, const struct fw_config *cfg,
                           const struct fw_port *port, int64_t now_ms);

/* Runs everything due at now_ms (never earlier than the previous call).
 * Call it often: every 100-250 ms on a device; a simulator may step by
 * seconds (the heater keeps its schedule and events due together run in
 * order). */
void fw_step(struct fw_device *dev, int64_t now_ms);

/* Starts a clean-air calibration of R0 over the next calib_samples samples:
 * R0 = mean Rs / clean_air_ratio, then saved through port.nvs_save. It is
 * refused, R0 kept, counted and logged (fw_stats: calib_failures,
 * calib_error) when a sample fails, when Rs's coefficient of variation
 * over the samples exceeds calib_max_cv, or when R0 falls outside
 * mq7_calibration_check's 1-100 kOhm. False (nothing started) while
 * warming up or when one is running. */
bool fw_calibrate_start(struct fw_device *dev, int64_t now_ms);
enum fw_cal_state fw_calibration_state(const struct fw_device *dev);

/* Silences the local output for ms (at most alarm.mute_max_ms): every
 * active alarm kind, and the device's own output, is muted.
 * ALARM_MUTE_TOO_HIGH (nothing muted) while CO is at or above
 * alarm.mute_max_ppm or the sensor reads as shorted (it cannot be told from
 * lethal CO); ALARM_MUTE_NOT_ACTIVE if none is on. */
enum alarm_mute_result fw_mute(struct fw_device *dev, int64_t now_ms, int64_t ms);

/* The answer to an http_post that returned FW_HTTP_PENDING: status (< 0:
 * no answer) and the Retry-After in seconds (0: none). Call it on the
 * core's thread (between fw_step calls). False, and nothing done, when no
 * POST was pending. */
bool fw_http_result(struct fw_device *dev, int64_t now_ms, int status, uint32_t retry_after_s);

bool fw_warming_up(const struct fw_device *dev, int64_t now_ms);
/* Preheat done so far, in ms (warmup_first_ms once it is complete). */
int64_t fw_preheat_done_ms(const struct fw_device *dev, int64_t now_ms);
enum fw_output fw_output_level(const struct fw_device *dev);
const struct fw_stats *fw_get_stats(const struct fw_device *dev);
/* Readings waiting in the offline ring, and how many it has dropped. */
uint32_t fw_pending(const struct fw_device *dev);
uint32_t fw_dropped(const struct fw_device *dev);
/* The newest reading, or NULL before the first one. */
const struct fw_reading *fw_last_reading(const struct fw_device *dev);

const char *fw_output_name(enum fw_output level);

#endif
