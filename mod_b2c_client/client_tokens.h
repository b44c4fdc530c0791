/* SPDX-License-Identifier: Apache-2.0 */
/* Per-process client tokens: obtained on first need or ahead of time by a
 * background refresher, reused until shortly before expiry, retried with
 * backoff, and never fetched by more than one thread of a process at once. */
#ifndef B2C_CLIENT_TOKENS_H
#define B2C_CLIENT_TOKENS_H

#include "mod_b2c_client.h"
#include "b2c_shared_cache.h"

typedef struct b2c_client_tokens b2c_client_tokens_t;

/* cache: the shared cache (NULL: per process only). */
apr_status_t b2c_client_tokens_create(apr_pool_t *p, server_rec *s,
                                      b2c_shared_cache_t *cache,
                                      const apr_array_header_t *defs,
                                      b2c_client_tokens_t **out);

/* A usable token for def, copied into r's pool. When none can be had
 * now: APR_EAGAIN and *retry_after (seconds) for the 503 answer. A
 * request only waits for the token endpoint when the process has never
 * had a token for this client (or the last one expired). */
apr_status_t b2c_client_tokens_get(b2c_client_tokens_t *t,
                                   const b2c_client_def_t *def, request_rec *r,
                                   const char **token, long long *retry_after);

/* Background work: refresh tokens that are due, fetch missing ones whose
 * backoff has passed. Called about once a second; p is a scratch pool. */
void b2c_client_tokens_maintain(b2c_client_tokens_t *t, apr_pool_t *p);

#endif
