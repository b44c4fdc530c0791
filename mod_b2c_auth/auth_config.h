/* SPDX-License-Identifier: Apache-2.0 */
/* Directives of mod_b2c_auth and their checks. */
#ifndef B2C_AUTH_CONFIG_H
#define B2C_AUTH_CONFIG_H

#include "mod_b2c_auth.h"

extern const command_rec b2c_auth_cmds[];

void *b2c_auth_create_dir_conf(apr_pool_t *p, char *dir);
void *b2c_auth_merge_dir_conf(apr_pool_t *p, void *base, void *add);
void *b2c_auth_create_server_conf(apr_pool_t *p, server_rec *s);
void *b2c_auth_merge_server_conf(apr_pool_t *p, void *base, void *add);

/* Startup check of every <Directory>/<Location>/<Files> section of every
 * virtual host that says AuthType Bearer: its effective settings (merged
 * with the enclosing sections) must name metadata and audiences. Returns
 * NULL or an error message. */
const char *b2c_auth_check_sections(apr_pool_t *p, server_rec *s);

/* The same check for a request's merged configuration; NULL when usable. */
const char *b2c_auth_conf_incomplete(const b2c_auth_dir_conf_t *c);

#endif
