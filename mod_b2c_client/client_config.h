/* SPDX-License-Identifier: Apache-2.0 */
/* Directives of mod_b2c_client: <B2CClient> sections (server config only,
 * secrets never in .htaccess) and the per-location B2CClientToken. */
#ifndef B2C_CLIENT_CONFIG_H
#define B2C_CLIENT_CONFIG_H

#include "mod_b2c_client.h"

extern const command_rec b2c_client_cmds[];

void *b2c_client_create_dir_conf(apr_pool_t *p, char *dir);
void *b2c_client_merge_dir_conf(apr_pool_t *p, void *base, void *add);
void *b2c_client_create_server_conf(apr_pool_t *p, server_rec *s);

/* Called from pre_config: forget the references of a previous read. */
void b2c_client_config_reset(apr_pool_t *pconf);

/* Every B2CClientToken must name a defined client; NULL or an error. */
const char *b2c_client_check_references(apr_pool_t *p, server_rec *main_server);

#endif
