/* SPDX-License-Identifier: Apache-2.0 */
/* The version line each module logs at start and what it adds to httpd's
 * Server header (B2CAuthServerTokens / B2CClientServerTokens). httpd glue
 * shared by both modules. */
#ifndef B2C_VERSION_GLUE_H
#define B2C_VERSION_GLUE_H

#include <httpd.h>

/* In post_config: logs "NAME VERSION loaded" (a line starting with logno)
 * once per start or restart, and adds NAME/VERSION to the Server header
 * when server_tokens is set. */
void b2c_version_announce(apr_pool_t *pconf, server_rec *s, const char *name,
                          int server_tokens, const char *logno);

#endif
