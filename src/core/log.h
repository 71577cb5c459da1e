/* log.h - structured logs: one JSON object per line on stderr. */
#ifndef CARBON_LOG_H
#define CARBON_LOG_H
#include <jansson.h>
#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

/* Parses "debug|info|warn|error|off". False if unknown. */
bool log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level lvl);
bool log_enabled(enum log_level lvl);

/* Writes {"time","level","msg", ...fields} as one line. Takes ownership of
 * fields (an object or NULL). Never put secrets in fields. Thread-safe. */
void log_json(enum log_level lvl, const char *msg, json_t *fields);
/* printf-style message with no extra fields. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
