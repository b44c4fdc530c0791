/* SPDX-License-Identifier: Apache-2.0 */
/* For the glue .c files only. They are compiled once into each module
 * (Makefile.am names the module with -DB2C_GLUE_MODULE=b2c_auth or
 * b2c_client): their log lines then carry that module's name, and its
 * LogLevel applies to them. */
#ifndef B2C_GLUE_MODULE_H
#define B2C_GLUE_MODULE_H

#include <http_config.h>
#include <http_log.h>

/* expands the module name before APLOG_USE_MODULE pastes _module to it */
#define B2C_GLUE_USE_MODULE(m) APLOG_USE_MODULE(m)
#ifdef B2C_GLUE_MODULE
B2C_GLUE_USE_MODULE(B2C_GLUE_MODULE);
#endif

#endif
