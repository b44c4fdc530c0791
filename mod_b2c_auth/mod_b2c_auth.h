/* SPDX-License-Identifier: Apache-2.0 */
/* Shared declarations of the mod_b2c_auth glue: configuration records, the
 * per-request state passed from authentication to authorization, and the
 * module record. The validation logic itself lives in common/. */
#ifndef MOD_B2C_AUTH_H
#define MOD_B2C_AUTH_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <jansson.h>

#include "b2c_claims.h"

#include "b2c_jwt.h"
#include "b2c_shared_cache.h"

extern module AP_MODULE_DECLARE_DATA b2c_auth_module;

/* mod_b2c_auth.c declares the module itself (which implies this). */
#if defined(APLOG_USE_MODULE) && !defined(B2C_AUTH_MODULE_FILE)
APLOG_USE_MODULE(b2c_auth);
#endif

#include "b2c_logno.h"

#ifndef B2C_VERSION /* configure.ac's AC_INIT, passed by Makefile.am */
#define B2C_VERSION "unknown"
#endif

#define B2C_AUTH_TYPE           "Bearer"
#define B2C_CLAIM_ENV_PREFIX    "B2C_CLAIM_"
#define B2C_CLAIM_HEADER_PREFIX "X-B2C-Claim-"
/* Bounds of the X-B2C-Claim-* headers one request passes on (see
 * docs/mod_b2c_auth.md): well inside httpd's default LimitRequestFields
 * (100) and LimitRequestFieldSize (8190) at a backend. */
#define B2C_CLAIM_HEADERS_MAX       50
#define B2C_CLAIM_HEADER_MAX_BYTES  4096
#define B2C_CLAIM_HEADERS_MAX_BYTES 32768

/* Per-directory settings; "unset" values let merging inherit. */
typedef struct {
    const char *metadata_url;      /* NULL: unset */
    int metadata_from_htaccess;    /* its keys must come from its origin */
    apr_array_header_t *issuers;   /* NULL: the discovery issuer */
    apr_array_header_t *audiences; /* NULL: unset (a startup error) */
    unsigned algs;                 /* 0: unset (RS256) */
    int clock_skew;                /* -1: unset (300) */
    const char *remote_user_claim; /* NULL: unset ("sub") */
    int claims_env;                /* -1: unset (on) */
    int claims_headers;            /* -1: unset (off) */
    int bearer;                    /* AuthType Bearer seen here; -1 unset */
} b2c_auth_dir_conf_t;

/* Server (virtual host) settings. */
typedef struct {
    apr_array_header_t *metadata_allow;       /* NULL: Microsoft hosts only */
    apr_array_header_t *metadata_allow_addrs; /* their numeric hosts */
    int refresh_interval;                     /* seconds, -1: unset */
    int kid_refresh_interval;                 /* seconds, -1: unset */
    int fetch_timeout;                        /* seconds, -1: unset */
    const char *ca_file;                      /* NULL: system store */
    int token_cache_entries;                  /* -1: unset */
    int max_stale;                            /* seconds, -1: unset */
    /* main server only: */
    b2c_shared_cache_t *cache;         /* NULL: per-process only */
    int cache_set;                     /* B2CAuthCache given */
    const b2c_seal_ring_t *cache_ring; /* B2CAuthCacheKey; NULL: none */
    int server_tokens;                 /* B2CAuthServerTokens On */
} b2c_auth_server_conf_t;

#define B2C_DEFAULT_ALGS          B2C_ALG_RS256
#define B2C_DEFAULT_SKEW          300
#define B2C_DEFAULT_REMOTE_USER   "sub"
#define B2C_DEFAULT_REFRESH       3600
#define B2C_DEFAULT_KID_REFRESH   300
#define B2C_DEFAULT_FETCH_TIMEOUT 5
#define B2C_DEFAULT_TOKEN_CACHE   10000
#define B2C_DEFAULT_MAX_STALE     86400
#define B2C_DEFAULT_CACHE         "shmcb"
#define B2C_AUTH_MUTEX            "b2c-auth" /* Mutex b2c-auth-fetch / b2c-auth-cache */

/* The per-request state: auth_request.h */
#include "auth_request.h"

/* Effective values with defaults applied. */
unsigned b2c_conf_algs(const b2c_auth_dir_conf_t *c);
int b2c_conf_skew(const b2c_auth_dir_conf_t *c);
const char *b2c_conf_remote_user(const b2c_auth_dir_conf_t *c);
int b2c_sconf_int(int value, int dflt);

/* Provided by authz_providers.c */
void b2c_auth_register_authz_providers(apr_pool_t *p);

#endif
