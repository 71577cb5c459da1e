/* routes.c - the route table: every route, who may call it, what object it
 * acts on, its handler. The server enforces access and object ownership
 * (src/auth/auth.c) before any handler runs. */
#include "api/api.h"

#define DEV OBJ_DEVICE, NULL
#define ALERT OBJ_ALERT, NULL
#define USER OBJ_USER, NULL
#define NONE OBJ_NONE, NULL

const struct route api_routes[] = {
    /* Readings (SPEC 3) */
    {"POST", "/v1/readings", api_readings_post, ACCESS_WRITER, NONE},
    {"GET", "/v1/devices/{id}/readings", api_readings_list, ACCESS_DEVICE, DEV},
    {"GET", "/v1/devices/{id}/readings/latest", api_readings_latest, ACCESS_DEVICE, DEV},
    {"GET", "/v1/devices/{id}/series", api_series, ACCESS_DEVICE, DEV},
    {"GET", "/v1/devices/{id}/graph", api_graph, ACCESS_DEVICE, DEV},
    /* Devices and keys (SPEC 2, 4) */
    {"POST", "/v1/devices", api_devices_create, ACCESS_USER, NONE},
    {"GET", "/v1/devices", api_devices_list, ACCESS_USER, NONE},
    {"GET", "/v1/devices/{id}", api_devices_get, ACCESS_DEVICE, DEV},
    {"PATCH", "/v1/devices/{id}", api_devices_patch, ACCESS_OWNER, DEV},
    {"DELETE", "/v1/devices/{id}", api_devices_delete, ACCESS_OWNER, DEV},
    {"POST", "/v1/devices/{id}/keys", api_devices_rotate, ACCESS_OWNER, DEV},
    {"POST", "/v1/gateways", api_gateways_create, ACCESS_ADMIN, NONE},
    {"GET", "/v1/gateways", api_gateways_list, ACCESS_ADMIN, NONE},
    {"GET", "/v1/gateways/{id}", api_gateways_get, ACCESS_ADMIN, NONE},
    {"PATCH", "/v1/gateways/{id}", api_gateways_patch, ACCESS_ADMIN, NONE},
    {"DELETE", "/v1/gateways/{id}", api_gateways_delete, ACCESS_ADMIN, NONE},
    {"POST", "/v1/gateways/{id}/keys", api_gateways_rotate, ACCESS_ADMIN, NONE},
    /* Users, login (SPEC 2, 4) */
    {"POST", "/v1/users", api_users_create, ACCESS_ADMIN, NONE},
    {"GET", "/v1/users", api_users_list, ACCESS_ADMIN, NONE},
    {"GET", "/v1/users/{id}", api_users_get, ACCESS_OWNER, USER},
    {"PATCH", "/v1/users/{id}", api_users_patch, ACCESS_OWNER, USER},
    {"DELETE", "/v1/users/{id}", api_users_delete, ACCESS_OWNER, USER},
    {"GET", "/v1/users/{id}/contacts", api_users_contacts, ACCESS_OWNER, USER},
    {"POST", "/v1/auth/login", api_auth_login, ACCESS_PUBLIC, NONE},
    {"POST", "/v1/auth/logout", api_auth_logout, ACCESS_USER, NONE},
    {"GET", "/v1/me", api_me, ACCESS_USER, NONE},
    /* Alarms (SPEC 5) */
    {"GET", "/v1/alerts", api_alerts_list, ACCESS_USER, NONE},
    {"POST", "/v1/alerts", api_alerts_create, ACCESS_USER, NONE},
    {"GET", "/v1/alerts/{id}", api_alerts_get, ACCESS_OWNER, ALERT},
    {"POST", "/v1/alerts/{id}/ack", api_alerts_ack, ACCESS_OWNER, ALERT},
    {"POST", "/v1/alerts/{id}/mute", api_alerts_mute, ACCESS_OWNER, ALERT},
    /* Notifications (SPEC 5): a test message; Twilio's webhooks are public
     * and each checks X-Twilio-Signature itself. */
    {"POST", "/v1/notify/test", api_notify_test, ACCESS_USER, NONE},
    {"POST", "/twilio/status", api_twilio_status, ACCESS_PUBLIC, NONE},
    {"POST", "/twilio/inbound", api_twilio_inbound, ACCESS_PUBLIC, NONE},
    {"POST", "/twilio/voice/{alert}", api_twilio_voice, ACCESS_PUBLIC, NONE},
    /* The seed's routes (SPEC 8) */
    {"GET", "/Dynamo/tables", api_seed_tables, ACCESS_USER, NONE},
    {"GET", "/Dynamo/items/latest", api_seed_items_latest, ACCESS_DEVICE, OBJ_DEVICE, "item_id"},
    {"GET", "/Dynamo/items/{item_id}/{timestamp}", api_seed_item_get, ACCESS_DEVICE, DEV},
    {"GET", "/Dynamo/items", api_seed_items, ACCESS_DEVICE, OBJ_DEVICE, "item_id"},
    {"POST", "/Dynamo/item", api_seed_item_post, ACCESS_WRITER, NONE},
    {"POST", "/user/new", api_seed_user_new, ACCESS_ADMIN, NONE},
    {"GET", "/user/contacts", api_seed_user_contacts, ACCESS_OWNER, OBJ_USER, "user_id"},
    {"GET", "/graph/generate", api_seed_graph, ACCESS_DEVICE, OBJ_DEVICE, "device"},
    {"POST", "/notify/send_sms", api_seed_send_sms, ACCESS_OWNER, OBJ_USER, "user_id"},
    {"POST", "/notify/make_call", api_seed_make_call, ACCESS_OWNER, OBJ_USER, "user_id"},
    /* Operations (SPEC 9) */
    {"GET", "/healthz", api_healthz, ACCESS_PUBLIC, NONE},
    {"GET", "/readyz", api_readyz, ACCESS_PUBLIC, NONE},
    {"GET", "/metrics", api_metrics, ACCESS_PUBLIC, NONE},
    {"GET", "/openapi.json", api_openapi, ACCESS_PUBLIC, NONE},
};

const size_t api_nroutes = sizeof api_routes / sizeof *api_routes;
