/* SPDX-License-Identifier: Apache-2.0 */
/* Store of identity platform metadata and signing keys, keyed by metadata
 * URL and the options that decide what a fetch trusts (CA bundle,
 * .htaccess origin rule, allowed addresses): one generation per process,
 * shared with the machine's other processes (and a fleet's servers)
 * through the shared cache, fetched by
 * one process at a time, refreshed ahead of schedule by a watchdog thread,
 * refreshed on an unknown kid at most once per interval for the whole
 * fleet, and kept in use for a bounded stale period while the identity
 * platform is unreachable. */
#ifndef B2C_KEY_STORE_H
#define B2C_KEY_STORE_H

#include <httpd.h>
#include "b2c_jwks.h"
#include "b2c_shared_cache.h"

typedef struct b2c_key_store b2c_key_store_t;

/* One immutable generation of metadata + keys; reference counted so a
 * refresh never frees keys a request is still verifying with. */
typedef struct {
    const char *issuer; /* the discovery document's issuer */
    const b2c_jwks_t *jwks;
    apr_time_t fetched; /* when the identity platform served it */
} b2c_keyset_t;

typedef struct {
    apr_interval_time_t refresh_interval;
    apr_interval_time_t kid_refresh_interval;
    apr_interval_time_t max_stale; /* use past schedule, during outages */
    long fetch_timeout_ms;
    const char *ca_file;
    /* Metadata named in .htaccess: its jwks_uri must be on the same
     * scheme://host:port, so the document cannot point our fetches at
     * another host (the allow-list vetted only the metadata URL). */
    int jwks_same_origin;
    /* With jwks_same_origin: fetches refuse internal addresses (after DNS)
     * except these numeric ones, named by B2CAuthMetadataAllow. */
    const apr_array_header_t *allowed_addrs;
} b2c_key_store_options_t;

/* cache may be NULL (per-process only). background: a watchdog thread
 * calls b2c_key_store_maintain, so requests never fetch once warm. */
apr_status_t b2c_key_store_create(apr_pool_t *p, b2c_shared_cache_t *cache,
                                  int background, b2c_key_store_t **out);

/* The current keys for url, fetching them when there are none yet (or
 * none fresh enough and no background refresher). The keyset stays valid
 * until r's pool is cleared. APR_SUCCESS, or an error when no usable keys
 * can be had. */
apr_status_t b2c_key_store_get(b2c_key_store_t *store, request_rec *r,
                               const char *url,
                               const b2c_key_store_options_t *opts,
                               const b2c_keyset_t **out);

/* A token named a kid we lack: adopt newer keys another process fetched,
 * else refetch, unless a refetch for url ran within kid_refresh_interval
 * anywhere in the fleet. APR_SUCCESS with a newer keyset in *out,
 * APR_EBUSY when another thread of this process is fetching the URL right
 * now (no waiting for it: the caller answers 503), or APR_EAGAIN. */
apr_status_t b2c_key_store_refresh(b2c_key_store_t *store, request_rec *r,
                                   const char *url,
                                   const b2c_key_store_options_t *opts,
                                   const b2c_keyset_t **out);

/* Background work (watchdog thread): refresh every known URL whose
 * schedule is near. p is a scratch pool. */
void b2c_key_store_maintain(b2c_key_store_t *store, server_rec *s,
                            apr_pool_t *p);

#endif
