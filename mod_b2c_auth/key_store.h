/* Per-process store of identity platform metadata and signing keys, keyed
 * by metadata URL: fetched on first use, refreshed on a schedule and on an
 * unknown kid (rate-limited), and kept in use while refreshes fail. */
#ifndef B2C_KEY_STORE_H
#define B2C_KEY_STORE_H

#include <httpd.h>
#include "b2c_jwks.h"

typedef struct b2c_key_store b2c_key_store_t;

/* One immutable generation of metadata + keys; reference counted so a
 * refresh never frees keys a request is still verifying with. */
typedef struct {
    const char *issuer;       /* the discovery document's issuer */
    const b2c_jwks_t *jwks;
} b2c_keyset_t;

typedef struct {
    apr_interval_time_t refresh_interval;
    apr_interval_time_t kid_refresh_interval;
    long fetch_timeout_ms;
    const char *ca_file;
    /* Metadata named in .htaccess: its jwks_uri must be on the same
     * scheme://host:port, so the document cannot point our fetches at
     * another host (the allow-list vetted only the metadata URL). */
    int jwks_same_origin;
} b2c_key_store_options_t;

apr_status_t b2c_key_store_create(apr_pool_t *p, b2c_key_store_t **out);

/* The current keys for url, fetching them when there are none yet or the
 * schedule says so. The keyset stays valid until r's pool is cleared.
 * APR_SUCCESS, or an error when no keys could ever be obtained. */
apr_status_t b2c_key_store_get(b2c_key_store_t *store, request_rec *r,
                               const char *url,
                               const b2c_key_store_options_t *opts,
                               const b2c_keyset_t **out);

/* A token named a kid we lack: refetch once, unless a refetch for url ran
 * within kid_refresh_interval. APR_SUCCESS with a newer keyset in *out, or
 * APR_EAGAIN when rate-limited or the refetch failed. */
apr_status_t b2c_key_store_refresh(b2c_key_store_t *store, request_rec *r,
                                   const char *url,
                                   const b2c_key_store_options_t *opts,
                                   const b2c_keyset_t **out);

#endif
