/* SPDX-License-Identifier: Apache-2.0 */
/* The core's log seam (common/b2c_log.h) onto httpd's error log. httpd glue
 * shared by both modules. */
#ifndef B2C_GLUE_LOG_H
#define B2C_GLUE_LOG_H

#include <httpd.h>

/* In post_config (before any thread): the core's log lines (b2c_log) go to
 * s's error log under the calling module's name and LogLevel, in this
 * process and the children it forks. */
void b2c_glue_log_init(server_rec *s);

#endif
