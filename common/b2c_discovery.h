/* SPDX-License-Identifier: Apache-2.0 */
/* OpenID Connect discovery documents (OpenID Connect Discovery 1.0 §3). */
#ifndef B2C_DISCOVERY_H
#define B2C_DISCOVERY_H

#include <apr_pools.h>

typedef struct {
    const char *issuer;         /* required */
    const char *jwks_uri;       /* required, http(s) URL */
    const char *token_endpoint; /* optional */
} b2c_discovery_t;

/* Parse a discovery document; issuer and jwks_uri must be non-empty strings,
 * jwks_uri must start with https:// or http:// and hold no spaces or
 * control characters. token_endpoint is NULL when absent or not such a URL
 * (it is optional, so a bad one does not fail the document). */
apr_status_t b2c_discovery_parse(apr_pool_t *p, const char *buf, size_t len,
                                 b2c_discovery_t **out, const char **err);

#endif
