/* SPDX-License-Identifier: Apache-2.0 */
/* Per-process cache of validated tokens: (validation context, token) →
 * verdict (the claims and their rendered export), until the token expires.
 * A repeated token then costs a short hash, one memcmp and a lock of one of
 * several shards instead of a signature verification, a JSON parse and the
 * rendering of every claim. Pure APR (no httpd), used by mod_b2c_auth and
 * unit-tested in tests/unit/test_token_cache.c. */
#ifndef B2C_TOKEN_CACHE_H
#define B2C_TOKEN_CACHE_H

#include <apr_pools.h>
#include <jansson.h>

#include "b2c_claims.h"

typedef struct b2c_token_cache b2c_token_cache_t;

/* What a validated token grants: read-only, shared by the requests that
 * carry the token. */
typedef struct {
    json_t *claims;
    const b2c_claim_export_t *exports;
    int nexports;
} b2c_verdict_t;

/* max_entries 0 makes a cache that stores nothing. */
apr_status_t b2c_token_cache_create(apr_pool_t *p, int max_entries,
                                    b2c_token_cache_t **out);

/* 0 when configured with no entries (B2CAuthTokenCacheEntries 0). */
int b2c_token_cache_enabled(const b2c_token_cache_t *cache);

/* The verdict for token as validated under context (which names the
 * metadata, issuers, audiences, algorithms and skew in force), if cached and
 * not past its expiry (seconds since the epoch). What *out points to stays
 * valid until p is cleared. */
int b2c_token_cache_get(b2c_token_cache_t *cache, const char *context,
                        const char *token, size_t len, long long now,
                        apr_pool_t *p, b2c_verdict_t *out);

/* Remember a copy of verdict (a new reference to its claims) until
 * expires_at. A full shard first drops expired entries, then declines. */
void b2c_token_cache_put(b2c_token_cache_t *cache, const char *context,
                         const char *token, size_t len,
                         const b2c_verdict_t *verdict, long long expires_at,
                         long long now);

#endif
