/* SPDX-License-Identifier: Apache-2.0 */
/* "Is this token valid for this configuration at this time?" — the whole
 * decision, pure: no httpd, no network, the clock passed in. */
#ifndef B2C_VALIDATE_H
#define B2C_VALIDATE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include "b2c_jwks.h"
#include "b2c_jwt.h"

typedef enum {
    B2C_VERDICT_VALID = 0,
    B2C_VERDICT_MALFORMED,     /* not a compact JWS / bad JSON / bad typ   */
    B2C_VERDICT_BAD_ALG,       /* alg not in the allow-list                */
    B2C_VERDICT_UNKNOWN_KID,   /* no key with this kid: caller may refresh */
    B2C_VERDICT_BAD_SIGNATURE, /* includes key/alg mismatch                */
    B2C_VERDICT_BAD_ISSUER,    /* iss missing/mismatch, or key issuer rule */
    B2C_VERDICT_BAD_AUDIENCE,
    B2C_VERDICT_EXPIRED,       /* exp in the past (beyond skew)            */
    B2C_VERDICT_NOT_YET_VALID, /* nbf in the future (beyond skew)          */
    B2C_VERDICT_BAD_TIME,      /* exp missing, or a time claim not numeric */
    B2C_VERDICT_FOREIGN /* minted for another resource (e.g. Graph, nonce header) */
} b2c_token_status_t;

typedef struct {
    /* Accepted issuers; an entry may hold "{tenantid}", replaced by the
     * token's "tid" claim before comparing. At least one is required. */
    const apr_array_header_t *issuers;   /* of const char * */
    const apr_array_header_t *audiences; /* of const char *, at least one */
    unsigned algs;                       /* allow-list of b2c_alg_t bits */
    long long clock_skew;                /* seconds */
    long long now;                       /* seconds since the epoch */
} b2c_validation_params_t;

typedef struct {
    b2c_token_status_t status;
    const char
        *reason; /* short, for the log and error_description; no token bytes */
    const b2c_jwt_t *jwt; /* set once parsed (also on most failures) */
    const char *kid;      /* header kid, for UNKNOWN_KID logging (sanitised) */
    long long exp;        /* valid tokens: their exp */
} b2c_validation_result_t;

/* Validate token (the raw compact JWS) with the given key set. Order:
 * parse → alg allow-list → key by kid → key "use"/"alg" → signature →
 * key "issuer" rule → iss → aud → exp/nbf (and iat when present must be a
 * number). All checks always run to a single verdict in *res. Returns
 * res->status for convenience. */
b2c_token_status_t b2c_validate_token(apr_pool_t *p, const char *token,
                                      size_t len, const b2c_jwks_t *jwks,
                                      const b2c_validation_params_t *params,
                                      b2c_validation_result_t *res);

/* Does iss equal template after replacing "{tenantid}" by tid? A template
 * without the placeholder compares exactly; with it, tid must be non-empty
 * and made only of [A-Za-z0-9-] (no smuggling '/' through tid). */
int b2c_issuer_matches(const char *template_iss, const char *iss,
                       const char *tid);

const char *b2c_token_status_name(b2c_token_status_t s);

#endif
