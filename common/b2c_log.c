/* SPDX-License-Identifier: Apache-2.0 */
/* The core's log seam (see b2c_log.h). */
#include "b2c_log.h"

#include <apr_strings.h>
#include <stdarg.h>

static b2c_log_enabled_fn *log_enabled;
static b2c_log_print_fn *log_print;
static void *log_baton;

void b2c_log_set(b2c_log_enabled_fn *enabled, b2c_log_print_fn *print,
                 void *baton)
{
    log_enabled = enabled;
    log_print = print;
    log_baton = baton;
}

int b2c_log_enabled(int level)
{
    return log_print && (!log_enabled || log_enabled(log_baton, level));
}

void b2c_log(int level, apr_pool_t *p, const char *fmt, ...)
{
    va_list ap;
    const char *line;

    if (!b2c_log_enabled(level))
        return;
    va_start(ap, fmt);
    line = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    log_print(log_baton, level, line);
}
