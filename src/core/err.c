/* err.c - names and HTTP statuses of the project's error codes. */
#include "core/err.h"

static const struct {
    const char *code;
    const char *msg;
    unsigned status;
} err_table[CB_ERR__COUNT] = {
    [CB_OK] = {"ok", "success", 200},
    [CB_ERR_BAD_REQUEST] = {"bad_request", "the request is malformed", 400},
    [CB_ERR_INVALID_JSON] = {"invalid_json", "the body is not valid JSON", 400},
    [CB_ERR_VALIDATION] = {"validation_failed", "the request has invalid values", 422},
    [CB_ERR_UNAUTHORIZED] = {"unauthorized", "missing or invalid credentials", 401},
    [CB_ERR_FORBIDDEN] = {"forbidden", "these credentials may not do this", 403},
    [CB_ERR_NOT_FOUND] = {"not_found", "no such resource", 404},
    [CB_ERR_METHOD] = {"method_not_allowed", "method not allowed on this resource", 405},
    [CB_ERR_CONFLICT] = {"conflict", "the resource already exists", 409},
    [CB_ERR_TOO_LARGE] = {"payload_too_large", "the request body is too large", 413},
    [CB_ERR_MEDIA_TYPE] = {"unsupported_media_type", "the body must be application/json", 415},
    [CB_ERR_NOT_ACCEPTABLE] = {"not_acceptable", "the requested format is not available", 406},
    [CB_ERR_RATE_LIMITED] = {"rate_limited", "too many requests", 429},
    [CB_ERR_NOMEM] = {"out_of_memory", "the server is out of memory", 503},
    [CB_ERR_IO] = {"storage_error", "storage failure", 500},
    [CB_ERR_UNAVAILABLE] = {"unavailable", "the server is not available", 503},
    [CB_ERR_INTERNAL] = {"internal_error", "internal error", 500},
};

const char *cb_err_code(cb_err e)
{
    return (unsigned)e < CB_ERR__COUNT ? err_table[e].code : "internal_error";
}

const char *cb_strerror(cb_err e)
{
    return (unsigned)e < CB_ERR__COUNT ? err_table[e].msg : "internal error";
}

unsigned cb_err_http_status(cb_err e)
{
    return (unsigned)e < CB_ERR__COUNT ? err_table[e].status : 500;
}
