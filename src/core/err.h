/* err.h - the project's one error enum, its names and its HTTP status. */
#ifndef CARBON_ERR_H
#define CARBON_ERR_H

typedef enum {
    CB_OK = 0,
    CB_ERR_BAD_REQUEST,    /* malformed request (query, header, path) */
    CB_ERR_INVALID_JSON,   /* body is not valid JSON */
    CB_ERR_VALIDATION,     /* well-formed but invalid values */
    CB_ERR_UNAUTHORIZED,   /* missing or wrong credentials */
    CB_ERR_FORBIDDEN,      /* credentials valid, not for this object */
    CB_ERR_NOT_FOUND,      /* no such object (or not visible) */
    CB_ERR_METHOD,         /* method not allowed on this path */
    CB_ERR_CONFLICT,       /* object already exists */
    CB_ERR_TOO_LARGE,      /* body or batch over its cap */
    CB_ERR_MEDIA_TYPE,     /* wrong Content-Type */
    CB_ERR_NOT_ACCEPTABLE, /* Accept asks for a format we do not produce */
    CB_ERR_RATE_LIMITED,   /* too many requests */
    CB_ERR_NOMEM,          /* out of memory */
    CB_ERR_IO,             /* storage or OS failure */
    CB_ERR_UNAVAILABLE,    /* shutting down or not ready */
    CB_ERR_INTERNAL,       /* a bug */
    CB_ERR__COUNT
} cb_err;

/* Stable machine-readable code, e.g. "validation_failed". Never NULL. */
const char *cb_err_code(cb_err e);
/* Human readable default message. Never NULL. */
const char *cb_strerror(cb_err e);
/* The HTTP status for the error: the only place this mapping lives. */
unsigned cb_err_http_status(cb_err e);

#endif
