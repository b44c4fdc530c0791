/* SPDX-License-Identifier: Apache-2.0 */
/* The core's log seam, as mod_md's md_log_set: the core says what happened,
 * the glue decides where it goes (httpd's error log, under the calling
 * module's name and LogLevel: see httpd_glue/b2c_glue_log.c). With no seam
 * set (the unit tests, unless they set one) nothing is logged. Levels are
 * syslog's numbers, as httpd's APLOG_* are. Set once, before threads. */
#ifndef B2C_LOG_H
#define B2C_LOG_H

#include <apr_pools.h>

#define B2C_LOG_ERR     3
#define B2C_LOG_WARNING 4
#define B2C_LOG_NOTICE  5
#define B2C_LOG_INFO    6
#define B2C_LOG_DEBUG   7

/* 1 when a line at level would be written (saves formatting it). */
typedef int b2c_log_enabled_fn(void *baton, int level);
/* Write one line (it starts with its B2CLOGNO id). */
typedef void b2c_log_print_fn(void *baton, int level, const char *line);

void b2c_log_set(b2c_log_enabled_fn *enabled, b2c_log_print_fn *print,
                 void *baton);

int b2c_log_enabled(int level);

/* Formats from p only when the level is enabled. Never pass token,
 * secret or cache-entry bytes. */
void b2c_log(int level, apr_pool_t *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
