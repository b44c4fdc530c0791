/* SPDX-License-Identifier: Apache-2.0 */
/* Shared declarations of the mod_b2c_client glue: named client definitions
 * (server config), per-location settings, and the per-process token state.
 * Token requests themselves are common/b2c_token_request.c. */
#ifndef MOD_B2C_CLIENT_H
#define MOD_B2C_CLIENT_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include <apr_hash.h>

#include "b2c_shared_cache.h"
#include "b2c_authority.h"
#include "b2c_backoff.h"
#include "b2c_client_cert.h"
#include "b2c_token_request.h"

extern module AP_MODULE_DECLARE_DATA b2c_client_module;

#if defined(APLOG_USE_MODULE) && !defined(B2C_CLIENT_MODULE_FILE)
APLOG_USE_MODULE(b2c_client);
#endif

#include "b2c_logno.h"

#ifndef B2C_VERSION /* configure.ac's AC_INIT, passed by Makefile.am */
#define B2C_VERSION "unknown"
#endif

/* One <B2CClient name> section. */
typedef struct {
    const char *name;
    const char *defined_at;     /* "file:line", for messages */
    const char *token_endpoint; /* NULL when discovered */
    const char *discovery_url;  /* B2CAuthority naming a discovery document */
    const char *client_id;
    const char *secret; /* resolved bytes; never logged */
    int secret_is_literal;
    b2c_client_cert_t *cert;
    b2c_client_auth_t auth;
    int auth_set;
    apr_array_header_t *scopes; /* of const char * */
    int index;                  /* slot in the per-process state */
    int used;                   /* named by some B2CClientToken */
} b2c_client_def_t;

/* Main server config: the client registry. */
typedef struct {
    apr_hash_t *clients;               /* name → b2c_client_def_t* */
    apr_array_header_t *ordered;       /* of b2c_client_def_t*, by index */
    b2c_shared_cache_t *cache;         /* NULL: per process only */
    int cache_set;                     /* B2CClientCache given */
    const b2c_seal_ring_t *cache_ring; /* B2CClientCacheKey; NULL: none */
    int server_tokens;                 /* B2CClientServerTokens On */
} b2c_client_server_conf_t;

/* <Location>/<Proxy>/<VirtualHost> settings. */
typedef struct {
    const char *client_name; /* NULL unset; "off" turns inheritance off */
    const char *header;      /* NULL unset: Authorization */
} b2c_client_dir_conf_t;

#define B2C_CLIENT_DEFAULT_HEADER "Authorization"
#define B2C_CLIENT_TIMEOUT_MS     10000L
#define B2C_CLIENT_DEFAULT_CACHE  "shmcb"
#define B2C_CLIENT_MUTEX          "b2c-client" /* b2c-client-fetch, b2c-client-cache */

#endif
