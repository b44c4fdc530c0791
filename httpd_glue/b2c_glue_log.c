/* SPDX-License-Identifier: Apache-2.0 */
/* The core's log seam (common/b2c_log.h) onto httpd's error log, under the
 * module this copy of the glue is compiled into (b2c_glue_module.h). */
#include "b2c_glue_log.h"
#include "b2c_glue_module.h"
#include "b2c_log.h"

static int enabled(void *baton, int level)
{
    return APLOG_IS_LEVEL((server_rec *)baton, level);
}

static void print(void *baton, int level, const char *line)
{
    ap_log_error(APLOG_MARK, level, 0, (server_rec *)baton, "%s", line);
}

void b2c_glue_log_init(server_rec *s)
{
    b2c_log_set(enabled, print, s);
}
