/* Per-process cache of validated tokens: SHA-256(validation context, token)
 * → claims, until the token expires, so a repeated token costs one hash and
 * one lookup instead of a signature verification. */
#ifndef B2C_TOKEN_CACHE_H
#define B2C_TOKEN_CACHE_H

#include <apr_pools.h>
#include <jansson.h>

typedef struct b2c_token_cache b2c_token_cache_t;

#define B2C_TOKEN_KEY_LEN 32

/* max_entries 0 makes a cache that stores nothing. */
apr_status_t b2c_token_cache_create(apr_pool_t *p, int max_entries,
                                    b2c_token_cache_t **out);

/* Call once per process before threads start (child_init). */
void b2c_token_cache_prepare(apr_pool_t *pchild);

/* 0 when configured with no entries (B2CAuthTokenCacheEntries 0). */
int b2c_token_cache_enabled(const b2c_token_cache_t *cache);

/* The cache key for token as validated under context (which names the
 * metadata, issuers, audiences, algorithms and skew in force). */
void b2c_token_cache_key(const char *context, const char *token, size_t len,
                         unsigned char key[B2C_TOKEN_KEY_LEN]);

/* Claims for key if cached and not past expires_at (seconds since the
 * epoch); the returned reference is released when p is cleared. */
json_t *b2c_token_cache_get(b2c_token_cache_t *cache,
                            const unsigned char key[B2C_TOKEN_KEY_LEN],
                            long long now, apr_pool_t *p);

/* Remember claims (a new reference is taken) until expires_at. A full
 * cache first drops expired entries, then declines to store. */
void b2c_token_cache_put(b2c_token_cache_t *cache,
                         const unsigned char key[B2C_TOKEN_KEY_LEN],
                         json_t *claims, long long expires_at, long long now);

#endif
