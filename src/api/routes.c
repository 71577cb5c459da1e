/* routes.c - the route table: every route, who may call it, its handler. */
#include "api/api.h"

const struct route api_routes[] = {
    /* Readings (SPEC 3) */
    {"POST", "/v1/readings", api_readings_post, ACCESS_WRITER},
    {"GET", "/v1/devices/{id}/readings", api_readings_list, ACCESS_READER},
    {"GET", "/v1/devices/{id}/readings/latest", api_readings_latest, ACCESS_READER},
    {"GET", "/v1/devices/{id}/series", api_series, ACCESS_READER},
    {"GET", "/v1/devices/{id}/graph", api_graph, ACCESS_READER},
    /* Devices and keys (SPEC 2, 4) */
    {"POST", "/v1/devices", api_devices_create, ACCESS_ADMIN},
    {"GET", "/v1/devices", api_devices_list, ACCESS_READER},
    {"GET", "/v1/devices/{id}", api_devices_get, ACCESS_READER},
    {"PATCH", "/v1/devices/{id}", api_devices_patch, ACCESS_ADMIN},
    {"DELETE", "/v1/devices/{id}", api_devices_delete, ACCESS_ADMIN},
    {"POST", "/v1/devices/{id}/keys", api_devices_rotate, ACCESS_ADMIN},
    {"POST", "/v1/gateways", api_gateways_create, ACCESS_ADMIN},
    {"GET", "/v1/gateways", api_gateways_list, ACCESS_ADMIN},
    {"GET", "/v1/gateways/{id}", api_gateways_get, ACCESS_ADMIN},
    {"PATCH", "/v1/gateways/{id}", api_gateways_patch, ACCESS_ADMIN},
    {"DELETE", "/v1/gateways/{id}", api_gateways_delete, ACCESS_ADMIN},
    {"POST", "/v1/gateways/{id}/keys", api_gateways_rotate, ACCESS_ADMIN},
    /* Alarms (SPEC 5) */
    {"GET", "/v1/alerts", api_alerts_list, ACCESS_READER},
    {"POST", "/v1/alerts", api_alerts_create, ACCESS_READER},
    {"GET", "/v1/alerts/{id}", api_alerts_get, ACCESS_READER},
    {"POST", "/v1/alerts/{id}/ack", api_alerts_ack, ACCESS_READER},
    {"POST", "/v1/alerts/{id}/mute", api_alerts_mute, ACCESS_READER},
    /* The seed's reading routes (SPEC 8) */
    {"GET", "/Dynamo/tables", api_seed_tables, ACCESS_READER},
    {"GET", "/Dynamo/items/latest", api_seed_items_latest, ACCESS_READER},
    {"GET", "/Dynamo/items/{item_id}/{timestamp}", api_seed_item_get, ACCESS_READER},
    {"GET", "/Dynamo/items", api_seed_items, ACCESS_READER},
    {"POST", "/Dynamo/item", api_seed_item_post, ACCESS_WRITER},
    /* The seed's graph route (SPEC 8) */
    {"GET", "/graph/generate", api_seed_graph, ACCESS_READER},
    /* Operations (SPEC 9) */
    {"GET", "/healthz", api_healthz, ACCESS_PUBLIC},
    {"GET", "/readyz", api_readyz, ACCESS_PUBLIC},
    {"GET", "/metrics", api_metrics, ACCESS_PUBLIC},
    {"GET", "/openapi.json", api_openapi, ACCESS_PUBLIC},
};

const size_t api_nroutes = sizeof api_routes / sizeof *api_routes;
