/* SPDX-License-Identifier: Apache-2.0 */
/* Fetching a metadata URL's keys: the discovery document, then the JWKS
 * it names (on the same origin when the metadata URL came from .htaccess),
 * with size caps and the fetch timeout. Pure core (libcurl behind
 * b2c_http); the key store calls it with no lock held. */
#ifndef B2C_KEY_FETCH_H
#define B2C_KEY_FETCH_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Generous caps: Microsoft's JWKS is ~12 KB, discovery ~2 KB. */
#define B2C_KEY_DISCOVERY_MAX_BYTES (256 * 1024)
#define B2C_KEY_JWKS_MAX_BYTES      (1024 * 1024)

/* The issuer and the JWKS text (in p), or an error and *err saying why.
 * jwks_same_origin (metadata named in .htaccess) also refuses internal
 * addresses after DNS, but the numeric ones in allowed_addrs (or NULL). */
apr_status_t b2c_key_fetch_documents(apr_pool_t *p, const char *url,
                                     int jwks_same_origin,
                                     const apr_array_header_t *allowed_addrs,
                                     long timeout_ms, const char *ca_file,
                                     const char **issuer, const char **jwks,
                                     size_t *jwks_len, const char **err);

/* Everything that changes what a fetch of url trusts: the origin rule (and
 * with it the private-address guard and its allowed addresses), the CA
 * bundle and the URL, as one string. Key stores keyed by it keep virtual
 * hosts that differ in any of these apart, so one vhost's keys or retry
 * pause never reach another. Fields are separated by "\n", which none
 * holds. */
const char *b2c_key_fetch_trust_key(apr_pool_t *p, const char *url,
                                    int same_origin, const char *ca_file,
                                    const apr_array_header_t *allowed_addrs);

#endif
