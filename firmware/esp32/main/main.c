/* main.c - the Car-Bon sensor on an ESP32: wires the portable core's port
 * (firmware/core/fw_device.h) to the pins, the ADC, the heater PWM, NVS,
 * Wi-Fi, SNTP and HTTPS, then steps the core every 100 ms. Everything the
 * sensor does is decided in the core; this file only performs it. */
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
#include "freertos/task.h"
#include "nvs.h"
#include "nvs_flash.h"

#include "fw_device.h"

static const char *TAG = "carbon";

#define HEATER_BITS LEDC_TIMER_8_BIT
#define HEATER_FULL (1u << 8) /* LEDC duty 2^bits = always on */
#define HTTP_TIMEOUT_MS 10000 /* below the core's 15 s http_budget_ms */
#define NVS_NS "carbon"
#define NVS_KEY "persist"
#define BUTTON_HOLD_MS 3000
#define EPOCH_2023 1700000000 /* a wall clock before this has not been set */

/* Everything the port needs, in one place (the core has its own struct). */
struct esp_port {
    adc_oneshot_unit_handle_t adc;
    adc_cali_handle_t cali;
    volatile bool wifi_up;
    volatile enum fw_output output; /* read by the pattern timer */
};

static struct esp_port port_state;
static struct fw_device dev; /* about 56 KiB with 512 readings: static, not on a stack */

/* ---- heater, ADC, alarm output ---- */

static void port_set_heater(void *ctx, enum fw_heater_level level)
{
    uint32_t duty = level == FW_HEATER_HIGH  ? HEATER_FULL
                    : level == FW_HEATER_LOW ? CONFIG_CARBON_HEATER_LOW_DUTY
                                             : 0;
    ledc_set_duty(LEDC_LOW_SPEED_MODE, LEDC_CHANNEL_0, duty);
    ledc_update_duty(LEDC_LOW_SPEED_MODE, LEDC_CHANNEL_0);
}

static bool port_read_adc(void *ctx, uint32_t *raw)
{
    struct esp_port *p = ctx;
    int v = 0;
    if (adc_oneshot_read(p->adc, (adc_channel_t)CONFIG_CARBON_ADC_CHANNEL, &v) != ESP_OK || v < 0)
        return false;
    *raw = (uint32_t)v;
    return true;
}

static void port_set_alarm_output(void *ctx, enum fw_output level)
{
    struct esp_port *p = ctx;
    p->output = level;
}

/* Patterns, every 50 ms. Critical: the temporal-four CO pattern (four
 * 100 ms beeps 100 ms apart, then 5 s quiet), LED steady. Warning: one beep
 * every 30 s, LED blinking. Fault: one chirp a minute, LED short flash. */
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

static int port_http_post(void *ctx, const char *path, const struct fw_http_header *headers,
                          size_t nheaders, const char *body, size_t len, uint32_t *retry_after_s)
{
    struct esp_port *p = ctx;
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

/* The eFuse calibration as the core's two-point linear correction: convert
 * two counts with it and fit gain and offset against the nominal line. */
static void adc_start(struct esp_port *p, struct mq7_calibration *cal)
{
    adc_oneshot_unit_init_cfg_t unit = {.unit_id = ADC_UNIT_1};
    ESP_ERROR_CHECK(adc_oneshot_new_unit(&unit, &p->adc));
    adc_oneshot_chan_cfg_t ch = {.atten = ADC_ATTEN_DB_12, .bitwidth = ADC_BITWIDTH_12};
    ESP_ERROR_CHECK(
        adc_oneshot_config_channel(p->adc, (adc_channel_t)CONFIG_CARBON_ADC_CHANNEL, &ch));
#if ADC_CALI_SCHEME_LINE_FITTING_SUPPORTED
    adc_cali_line_fitting_config_t cc = {
        .unit_id = ADC_UNIT_1, .atten = ADC_ATTEN_DB_12, .bitwidth = ADC_BITWIDTH_12};
#if CONFIG_IDF_TARGET_ESP32
    cc.default_vref = 1100; /* the nominal Vref, used only if the chip has no eFuse Vref */
#endif
    if (adc_cali_create_scheme_line_fitting(&cc, &p->cali) == ESP_OK) {
        const int r1 = 500, r2 = 3500;
        int mv1, mv2;
        if (adc_cali_raw_to_voltage(p->cali, r1, &mv1) == ESP_OK &&
            adc_cali_raw_to_voltage(p->cali, r2, &mv2) == ESP_OK && mv2 > mv1) {
            double n1 = r1 * cal->vref_v / 4095.0, n2 = r2 * cal->vref_v / 4095.0;
            cal->adc_gain = (mv2 - mv1) / 1000.0 / (n2 - n1);
            cal->adc_offset_v = mv1 / 1000.0 - n1 * cal->adc_gain;
            ESP_LOGI(TAG, "ADC eFuse calibration: gain %.4f offset %.4f V", cal->adc_gain,
                     cal->adc_offset_v);
        }
    }
#endif
    if (!p->cali)
        ESP_LOGW(TAG, "no ADC eFuse calibration: using the nominal 0..%.2f V", cal->vref_v);
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

    struct esp_port *p = &port_state;
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
                     : r == ALARM_MUTE_TOO_HIGH ? "refused: CO too high"
                                                : "nothing to mute");
        }
        was_down = down;
        fw_step(&dev, now);
        vTaskDelay(pdMS_TO_TICKS(100));
    }
}
