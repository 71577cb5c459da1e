/* main.c - the Car-Bon sensor on an ESP32: wires the portable core's port
 * (firmware/core/fw_device.h) to the pins, the ADC, the heater PWM, NVS,
 * Wi-Fi, SNTP and HTTPS, then steps the core every 100 ms. Everything the
 * sensor does is decided in the core; this file only performs it.
 *
 * Uploads run in their own FreeRTOS task (the port's asynchronous
 * http_post): esp_http_client's timeout applies per operation (connect,
 * TLS, each read) and DNS has none, so one POST can take 30 s and more; in
 * the main task that would delay heater switches and samples. The main
 * task only queues the request and picks up the answer.
 *
 * Target esp32 only (the ADC1 channel map in Kconfig, the 11/12 dB range
 * of 0..2.45 V, and its line-fitting calibration); see esp32/README.md. */
#include "sdkconfig.h"
#if !CONFIG_IDF_TARGET_ESP32
#error "the Car-Bon app supports target esp32 only (idf.py set-target esp32): see README.md"
#endif

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "driver/gpio.h"
#include "driver/ledc.h"
#include "esp_adc/adc_cali.h"
#include "esp_adc/adc_cali_scheme.h"
#include "esp_adc/adc_oneshot.h"
#include "esp_crt_bundle.h"
#include "esp_event.h"
#include "esp_http_client.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_random.h"
#include "esp_sntp.h"
#include "esp_timer.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "nvs.h"
#include "nvs_flash.h"

#include "fw_device.h"

static const char *TAG = "carbon";

#define HEATER_BITS LEDC_TIMER_8_BIT
#define HEATER_FULL (1u << 8) /* LEDC duty 2^bits = always on */
#define HTTP_TIMEOUT_MS 10000 /* per operation (connect, TLS, each read); DNS has none */
#define ADC_MAX 4095          /* 12 bits */
#define MAIN_PRIO 5           /* the core's loop: above the upload task */
#define UPLOAD_PRIO 3
#define UPLOAD_STACK 8192 /* TLS (mbedTLS) runs here now */
#define NVS_NS "carbon"
#define NVS_KEY "persist"
#define BUTTON_HOLD_MS 3000
#define EPOCH_2023 1700000000 /* a wall clock before this has not been set */

/* One POST for the upload task. The core keeps path, headers and body
 * valid and unchanged until fw_http_result (fw_device.h), so no copy. */
struct upload_req {
    const char *path;
    const struct fw_http_header *headers;
    size_t nheaders;
    const char *body;
    size_t len;
};
struct upload_res {
    int status;
    uint32_t retry_after_s;
};

/* Everything the port needs, in one place (the core has its own struct). */
struct esp_port {
    adc_oneshot_unit_handle_t adc;
    adc_cali_handle_t cali;
    double full_scale_mv; /* the core's vref_v, in mV: count ADC_MAX */
    uint32_t rail;        /* the core's rail_counts */
    QueueHandle_t up_req, up_res;
    bool uploads; /* the upload task runs */
    volatile bool wifi_up;
    volatile enum fw_output output; /* read by the pattern timer */
};

static struct esp_port port_state;
/* The whole core: about 58 KiB with 512 readings (each 80 bytes on Xtensa,
 * 40 KiB of ring, plus the 16 KiB request body): static, not on a stack. */
static struct fw_device dev;

/* ---- heater, ADC, alarm output ---- */

static void port_set_heater(void *ctx, enum fw_heater_level level)
{
    uint32_t duty = level == FW_HEATER_HIGH  ? HEATER_FULL
                    : level == FW_HEATER_LOW ? CONFIG_CARBON_HEATER_LOW_DUTY
                                             : 0;
    ledc_set_duty(LEDC_LOW_SPEED_MODE, LEDC_CHANNEL_0, duty);
    ledc_update_duty(LEDC_LOW_SPEED_MODE, LEDC_CHANNEL_0);
}

/* One conversion of ch as a count on the core's nominal scale (0..ADC_MAX
 * for 0..vref_v): the eFuse calibration's millivolts (adc_cali_raw_to_voltage,
 * which on the ESP32 at 11/12 dB switches to a lookup table for raw >= 2880,
 * the non-linear top where the alarm levels are) mapped back through the
 * nominal line. So the core needs no correction of its own (adc_gain 1,
 * adc_offset_v 0), and the counts it sends as co_raw convert on the server
 * with those defaults. Raw counts at a rail stay at that rail: an open sensor
 * still reads 0 (the calibration maps raw 0 to ~75-140 mV, which would look
 * like very clean air), and nothing else lands on a rail. */
static bool read_linear(struct esp_port *p, adc_channel_t ch, uint32_t *out)
{
    int raw = 0, mv = 0;
    if (adc_oneshot_read(p->adc, ch, &raw) != ESP_OK || raw < 0 || raw > ADC_MAX)
        return false;
    if (!p->cali || (uint32_t)raw <= p->rail || (uint32_t)raw >= ADC_MAX - p->rail) {
        *out = (uint32_t)raw;
        return true;
    }
    if (adc_cali_raw_to_voltage(p->cali, raw, &mv) != ESP_OK)
        return false;
    long c = lround(mv * (double)ADC_MAX / p->full_scale_mv);
    long lo = (long)p->rail + 1, hi = (long)(ADC_MAX - p->rail) - 1;
    *out = (uint32_t)(c < lo ? lo : c > hi ? hi : c);
    return true;
}

static bool port_read_adc(void *ctx, uint32_t *raw)
{
    return read_linear(ctx, (adc_channel_t)CONFIG_CARBON_ADC_CHANNEL, raw);
}

#if CONFIG_CARBON_SUPPLY_SENSE
/* The sensor's 5 V rail (Vc) through its own divider on a second ADC1
 * channel: the median of 5 reads, in volts. The core checks plausibility
 * (4.5-5.5 V): a broken divider reads 0 V or full scale and shows a fault. */
static double port_read_supply_v(void *ctx)
{
    struct esp_port *p = ctx;
    uint32_t v[5];
    for (int i = 0; i < 5; i++) {
        uint32_t x;
        if (!read_linear(p, (adc_channel_t)CONFIG_CARBON_SUPPLY_ADC_CHANNEL, &x))
            return -1; /* no measurement this time: the core uses vc_v */
        int j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    double pin_v = v[2] * p->full_scale_mv / 1000.0 / ADC_MAX;
    return pin_v *
           (double)(CONFIG_CARBON_SUPPLY_DIV_TOP_OHMS + CONFIG_CARBON_SUPPLY_DIV_BOTTOM_OHMS) /
           CONFIG_CARBON_SUPPLY_DIV_BOTTOM_OHMS;
}
#endif

static void port_set_alarm_output(void *ctx, enum fw_output level)
{
    struct esp_port *p = ctx;
    p->output = level;
}

/* Patterns, every 50 ms. Critical: the temporal-four CO pattern (four
 * 100 ms beeps 100 ms apart, then 5 s quiet), LED steady. Warning: one beep
 * every 30 s, LED blinking (0.5 s on, 0.5 s off). Fault: one chirp a
 * minute, LED short flash every 5 s. Warm-up ("not yet protecting"): no
 * sound, LED slow blink (1.5 s on, 1.5 s off). Off: dark and quiet. */
static void pattern_tick(void *arg)
{
    struct esp_port *p = arg;
    int64_t ms = esp_timer_get_time() / 1000;
    bool buzz = false, led = false;
    switch (p->output) {
    case FW_OUT_CRITICAL: {
        int64_t t = ms % 5800;
        buzz = t < 800 && (t / 100) % 2 == 0;
        led = true;
        break;
    }
    case FW_OUT_WARNING:
        buzz = ms % 30000 < 150;
        led = ms % 1000 < 500;
        break;
    case FW_OUT_FAULT:
        buzz = ms % 60000 < 50;
        led = ms % 5000 < 100;
        break;
    case FW_OUT_WARMUP:
        led = ms % 3000 < 1500;
        break;
    case FW_OUT_OFF:
        break;
    }
    gpio_set_level(CONFIG_CARBON_BUZZER_GPIO, buzz);
    gpio_set_level(CONFIG_CARBON_LED_GPIO, led);
}

/* ---- clock, NVS, randomness, log ---- */

static bool port_wall_ms(void *ctx, int64_t *epoch_ms)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec < EPOCH_2023)
        return false; /* SNTP has not answered yet */
    *epoch_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    return true;
}

static bool port_nvs_load(void *ctx, struct fw_persist *rec)
{
    nvs_handle_t h;
    size_t len = sizeof *rec;
    if (nvs_open(NVS_NS, NVS_READONLY, &h) != ESP_OK)
        return false;
    esp_err_t err = nvs_get_blob(h, NVS_KEY, rec, &len);
    nvs_close(h);
    return err == ESP_OK && len == sizeof *rec;
}

static bool port_nvs_save(void *ctx, const struct fw_persist *rec)
{
    nvs_handle_t h;
    if (nvs_open(NVS_NS, NVS_READWRITE, &h) != ESP_OK)
        return false;
    esp_err_t err = nvs_set_blob(h, NVS_KEY, rec, sizeof *rec);
    if (err == ESP_OK)
        err = nvs_commit(h);
    nvs_close(h);
    return err == ESP_OK;
}

static uint32_t port_random(void *ctx)
{
    return esp_random();
}

static void port_log(void *ctx, enum fw_log_level level, const char *msg, const char *detail,
                     int64_t value)
{
    const char *d = detail ? detail : "";
    switch (level) {
    case FW_LOG_ERROR:
        ESP_LOGE(TAG, "%s %s %lld", msg, d, (long long)value);
        break;
    case FW_LOG_WARN:
        ESP_LOGW(TAG, "%s %s %lld", msg, d, (long long)value);
        break;
    case FW_LOG_INFO:
        ESP_LOGI(TAG, "%s %s %lld", msg, d, (long long)value);
        break;
    case FW_LOG_DEBUG:
        ESP_LOGD(TAG, "%s %s %lld", msg, d, (long long)value);
        break;
    }
}

/* ---- HTTPS ---- */

static esp_err_t http_event(esp_http_client_event_t *evt)
{
    uint32_t *retry_after_s = evt->user_data;
    if (evt->event_id == HTTP_EVENT_ON_HEADER && strcasecmp(evt->header_key, "Retry-After") == 0) {
        char *end;
        unsigned long v = strtoul(evt->header_value, &end, 10);
        if (end != evt->header_value && *end == '\0' && v < 86400)
            *retry_after_s = (uint32_t)v;
    }
    return ESP_OK;
}

/* The POST itself, blocking: runs in the upload task only. */
static int http_post_blocking(struct esp_port *p, const char *path,
                              const struct fw_http_header *headers, size_t nheaders,
                              const char *body, size_t len, uint32_t *retry_after_s)
{
    static char url[sizeof CONFIG_CARBON_SERVER_URL + 32];
    if (!p->wifi_up)
        return -1;
    size_t base = strlen(CONFIG_CARBON_SERVER_URL);
    if (base + strlen(path) >= sizeof url)
        return -1;
    memcpy(url, CONFIG_CARBON_SERVER_URL, base);
    memcpy(url + base, path, strlen(path) + 1);
    esp_http_client_config_t cfg = {
        .url = url,
        .method = HTTP_METHOD_POST,
        .timeout_ms = HTTP_TIMEOUT_MS,
        .crt_bundle_attach = esp_crt_bundle_attach, /* verify the server's certificate */
        .event_handler = http_event,
        .user_data = retry_after_s,
    };
    esp_http_client_handle_t c = esp_http_client_init(&cfg);
    if (!c)
        return -1;
    for (size_t i = 0; i < nheaders; i++)
        esp_http_client_set_header(c, headers[i].name, headers[i].value);
    esp_http_client_set_post_field(c, body, (int)len);
    int status = -1;
    if (esp_http_client_perform(c) == ESP_OK)
        status = esp_http_client_get_status_code(c);
    esp_http_client_cleanup(c);
    return status;
}

/* The upload task: one request at a time, as long as it takes. */
static void upload_task(void *arg)
{
    struct esp_port *p = arg;
    for (;;) {
        struct upload_req r;
        if (xQueueReceive(p->up_req, &r, portMAX_DELAY) != pdTRUE)
            continue;
        struct upload_res res = {.status = -1, .retry_after_s = 0};
        res.status =
            http_post_blocking(p, r.path, r.headers, r.nheaders, r.body, r.len, &res.retry_after_s);
        xQueueSend(p->up_res, &res, portMAX_DELAY);
    }
}

/* The core's http_post, asynchronous: hand the request to the upload task
 * and return at once; the main loop gives the answer to fw_http_result. */
static int port_http_post(void *ctx, const char *path, const struct fw_http_header *headers,
                          size_t nheaders, const char *body, size_t len, uint32_t *retry_after_s)
{
    struct esp_port *p = ctx;
    if (!p->uploads || !p->wifi_up)
        return -1; /* no link: answer now, the core backs off */
    struct upload_req r = {path, headers, nheaders, body, len};
    if (xQueueSend(p->up_req, &r, 0) != pdTRUE)
        return -1;
    return FW_HTTP_PENDING;
}

/* ---- setup ---- */

static void wifi_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    struct esp_port *p = arg;
    if (base == WIFI_EVENT && id == WIFI_EVENT_STA_START) {
        esp_wifi_connect();
    } else if (base == WIFI_EVENT && id == WIFI_EVENT_STA_DISCONNECTED) {
        p->wifi_up = false;
        esp_wifi_connect(); /* the core buffers readings meanwhile */
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        p->wifi_up = true;
    }
}

static void wifi_start(struct esp_port *p)
{
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    esp_netif_create_default_wifi_sta();
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_wifi_init(&init));
    ESP_ERROR_CHECK(esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, wifi_event, p));
    ESP_ERROR_CHECK(esp_event_handler_register(IP_EVENT, IP_EVENT_STA_GOT_IP, wifi_event, p));
    wifi_config_t wc = {0};
    strncpy((char *)wc.sta.ssid, CONFIG_CARBON_WIFI_SSID, sizeof wc.sta.ssid - 1);
    strncpy((char *)wc.sta.password, CONFIG_CARBON_WIFI_PASSWORD, sizeof wc.sta.password - 1);
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
    ESP_ERROR_CHECK(esp_wifi_start());
}

static void sntp_start(void)
{
    esp_sntp_setoperatingmode(ESP_SNTP_OPMODE_POLL);
    esp_sntp_setservername(0, CONFIG_CARBON_SNTP_SERVER);
    esp_sntp_init();
}

/* ADC1 at 12 bits, 11/12 dB (150-2450 mV usable), and the chip's eFuse
 * line-fitting calibration, used per read by read_linear (no two-point fit
 * into the core's adc_gain/adc_offset_v: on the ESP32 the calibration is
 * not a line above raw 2880, where the alarm levels are). */
static void adc_start(struct esp_port *p, const struct mq7_calibration *cal)
{
    p->full_scale_mv = cal->vref_v * 1000.0;
    p->rail = cal->rail_counts;
    adc_oneshot_unit_init_cfg_t unit = {.unit_id = ADC_UNIT_1};
    ESP_ERROR_CHECK(adc_oneshot_new_unit(&unit, &p->adc));
    adc_oneshot_chan_cfg_t ch = {.atten = ADC_ATTEN_DB_12, .bitwidth = ADC_BITWIDTH_12};
    ESP_ERROR_CHECK(
        adc_oneshot_config_channel(p->adc, (adc_channel_t)CONFIG_CARBON_ADC_CHANNEL, &ch));
#if CONFIG_CARBON_SUPPLY_SENSE
    ESP_ERROR_CHECK(
        adc_oneshot_config_channel(p->adc, (adc_channel_t)CONFIG_CARBON_SUPPLY_ADC_CHANNEL, &ch));
#endif
    adc_cali_line_fitting_config_t cc = {.unit_id = ADC_UNIT_1,
                                         .atten = ADC_ATTEN_DB_12,
                                         .bitwidth = ADC_BITWIDTH_12,
                                         /* used only if the chip has no eFuse Vref */
                                         .default_vref = 1100};
    if (adc_cali_create_scheme_line_fitting(&cc, &p->cali) == ESP_OK) {
        int mv_mid = 0, mv_top = 0;
        adc_cali_raw_to_voltage(p->cali, 2000, &mv_mid);
        adc_cali_raw_to_voltage(p->cali, 3700, &mv_top);
        ESP_LOGI(TAG, "ADC eFuse calibration: raw 2000 = %d mV, raw 3700 = %d mV", mv_mid, mv_top);
    } else {
        p->cali = NULL;
        ESP_LOGW(TAG, "no ADC eFuse calibration: using the nominal 0..%.2f V", cal->vref_v);
    }
}

static void pins_start(struct esp_port *p)
{
    ledc_timer_config_t t = {.speed_mode = LEDC_LOW_SPEED_MODE,
                             .duty_resolution = HEATER_BITS,
                             .timer_num = LEDC_TIMER_0,
                             .freq_hz = 1000,
                             .clk_cfg = LEDC_AUTO_CLK};
    ESP_ERROR_CHECK(ledc_timer_config(&t));
    ledc_channel_config_t c = {.gpio_num = CONFIG_CARBON_HEATER_GPIO,
                               .speed_mode = LEDC_LOW_SPEED_MODE,
                               .channel = LEDC_CHANNEL_0,
                               .timer_sel = LEDC_TIMER_0,
                               .duty = 0,
                               .hpoint = 0};
    ESP_ERROR_CHECK(ledc_channel_config(&c));
    gpio_config_t out = {.pin_bit_mask =
                             (1ULL << CONFIG_CARBON_BUZZER_GPIO) | (1ULL << CONFIG_CARBON_LED_GPIO),
                         .mode = GPIO_MODE_OUTPUT};
    ESP_ERROR_CHECK(gpio_config(&out));
    gpio_config_t in = {.pin_bit_mask = 1ULL << CONFIG_CARBON_BUTTON_GPIO,
                        .mode = GPIO_MODE_INPUT,
                        .pull_up_en = GPIO_PULLUP_ENABLE};
    ESP_ERROR_CHECK(gpio_config(&in));
    esp_timer_create_args_t ta = {.callback = pattern_tick, .arg = p, .name = "alarm"};
    esp_timer_handle_t timer;
    ESP_ERROR_CHECK(esp_timer_create(&ta, &timer));
    ESP_ERROR_CHECK(esp_timer_start_periodic(timer, 50 * 1000));
}

static int64_t now_ms(void)
{
    return esp_timer_get_time() / 1000;
}

static bool button_down(void)
{
    return gpio_get_level(CONFIG_CARBON_BUTTON_GPIO) == 0;
}

void app_main(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    ESP_ERROR_CHECK(err);

    static struct fw_config cfg;
    fw_config_default(&cfg);
    strncpy(cfg.device_id, CONFIG_CARBON_DEVICE_ID, sizeof cfg.device_id - 1);
    strncpy(cfg.api_key, CONFIG_CARBON_DEVICE_KEY, sizeof cfg.api_key - 1);
    cfg.mq7.r0_ohm = CONFIG_CARBON_R0_OHMS;
    cfg.mq7.rl_ohm = CONFIG_CARBON_RL_OHMS;
    cfg.mq7.divider = (double)(CONFIG_CARBON_DIVIDER_TOP_OHMS + CONFIG_CARBON_DIVIDER_BOTTOM_OHMS) /
                      CONFIG_CARBON_DIVIDER_BOTTOM_OHMS;
    cfg.report_interval_ms = CONFIG_CARBON_REPORT_INTERVAL_S * 1000LL;
    cfg.warmup_first_ms = CONFIG_CARBON_PREHEAT_HOURS * 3600000LL;
    cfg.warmup_alarm_ppm = CONFIG_CARBON_WARMUP_ALARM_PPM;
    cfg.http_budget_ms = 0; /* uploads run in their own task: the heater never waits */

    /* The core's loop above the upload task, so TLS work never delays it. */
    vTaskPrioritySet(NULL, MAIN_PRIO);
    struct esp_port *p = &port_state;
    p->up_req = xQueueCreate(1, sizeof(struct upload_req));
    p->up_res = xQueueCreate(1, sizeof(struct upload_res));
    p->uploads = p->up_req && p->up_res &&
                 xTaskCreate(upload_task, "upload", UPLOAD_STACK, p, UPLOAD_PRIO, NULL) == pdPASS;
    if (!p->uploads)
        ESP_LOGE(TAG, "no upload task: readings stay buffered, the alarm works");
    pins_start(p);
    adc_start(p, &cfg.mq7);
    wifi_start(p);
    sntp_start();

    const struct fw_port port = {
        .ctx = p,
        .set_heater = port_set_heater,
        .read_adc = port_read_adc,
        .set_alarm_output = port_set_alarm_output,
        .wall_ms = port_wall_ms,
        .read_env = NULL, /* no temperature/humidity sensor on the reference board */
        .nvs_load = port_nvs_load,
        .nvs_save = port_nvs_save,
        .http_post = port_http_post,
        .random = port_random,
        .log = port_log,
#if CONFIG_CARBON_SUPPLY_SENSE
        .read_supply_v = port_read_supply_v,
#else
        .read_supply_v = NULL, /* Vc taken as 5.0 V: see README.md, "Supply voltage" */
#endif
    };
    const char *why = fw_device_init(&dev, &cfg, &port, now_ms());
    if (why) {
        /* A configuration error: say so loudly and keep the fault pattern on. */
        ESP_LOGE(TAG, "configuration refused: %s", why);
        p->output = FW_OUT_FAULT;
        for (;;)
            vTaskDelay(pdMS_TO_TICKS(1000));
    }

    /* Held at boot: calibrate in clean air as soon as the sensor is warm. */
    bool want_calibration = false;
    int64_t held_since = now_ms();
    while (button_down() && now_ms() - held_since < BUTTON_HOLD_MS)
        vTaskDelay(pdMS_TO_TICKS(50));
    if (button_down()) {
        want_calibration = true;
        ESP_LOGI(TAG, "clean-air calibration requested: it starts after warm-up");
    }

    bool was_down = button_down();
    for (;;) {
        int64_t now = now_ms();
        if (want_calibration && !fw_warming_up(&dev, now))
            want_calibration = !fw_calibrate_start(&dev, now);
        bool down = button_down();
        if (down && !was_down) {
            enum alarm_mute_result r = fw_mute(&dev, now, 5 * 60000);
            ESP_LOGI(TAG, "mute: %s",
                     r == ALARM_MUTE_OK         ? "muted for 5 min"
                     : r == ALARM_MUTE_TOO_HIGH ? "refused: CO too high (or sensor shorted)"
                                                : "nothing to mute");
        }
        was_down = down;
        struct upload_res res;
        while (p->uploads && xQueueReceive(p->up_res, &res, 0) == pdTRUE)
            fw_http_result(&dev, now, res.status, res.retry_after_s);
        fw_step(&dev, now);
        vTaskDelay(pdMS_TO_TICKS(100));
    }
}
