/* SPDX-License-Identifier: Apache-2.0 */
/* Compact JWS parsing and signature verification (RFC 7515/7518/7519).
 * APR + OpenSSL + jansson; no httpd headers. */
#ifndef B2C_JWT_H
#define B2C_JWT_H

#include <apr_pools.h>
#include <jansson.h>
#include "b2c_jwks.h"

/* Largest token accepted, in bytes (Entra tokens are 1-3 KB). */
#define B2C_JWT_MAX_BYTES (16 * 1024)

/* Signature algorithms, as bits so an allow-list is one unsigned. */
typedef enum {
    B2C_ALG_RS256 = 1 << 0,
    B2C_ALG_RS384 = 1 << 1,
    B2C_ALG_RS512 = 1 << 2,
    B2C_ALG_PS256 = 1 << 3,
    B2C_ALG_PS384 = 1 << 4,
    B2C_ALG_PS512 = 1 << 5,
    B2C_ALG_ES256 = 1 << 6,
    B2C_ALG_ES384 = 1 << 7,
    B2C_ALG_ES512 = 1 << 8
} b2c_alg_t;

/* The bit for a name like "RS256" (case-sensitive), or 0 if unsupported
 * (which includes "none" and every HMAC algorithm). */
unsigned b2c_alg_from_name(const char *name);
const char *b2c_alg_name(unsigned alg);

typedef struct {
    json_t *header;            /* parsed JOSE header (released with the pool) */
    json_t *claims;            /* parsed claims set (released with the pool) */
    const char *claims_json;   /* the claims as decoded, NUL-terminated */
    const char *alg_name;      /* header "alg" */
    unsigned alg;              /* its bit, 0 when unsupported */
    const char *kid;           /* header "kid" or NULL */
    const char *signing_input; /* "header.payload", not NUL-terminated */
    size_t signing_input_len;
    unsigned char *sig; /* decoded signature */
    size_t sig_len;
} b2c_jwt_t;

/* Split and decode a compact JWS: exactly three base64url segments, none
 * empty except that an empty signature is rejected too; header and claims
 * must be JSON objects without duplicate members; header "alg" must be a
 * string; "kid" if present a string; "crit" if present is rejected (we
 * understand no extensions); "typ" if present must be "JWT" or "at+jwt"
 * (case-insensitive, with or without "application/"). Oversized tokens
 * (> B2C_JWT_MAX_BYTES) are rejected. *err says why, never quoting bytes. */
apr_status_t b2c_jwt_parse(apr_pool_t *p, const char *token, size_t len,
                           b2c_jwt_t **out, const char **err);

/* Verify jwt's signature with key. Fails when jwt->alg is 0, when the key
 * type does not fit the algorithm (RSA for RS/PS, EC with the matching curve
 * for ES), when the key has an "alg" that differs, or when the signature
 * does not verify. RSA keys under 2048 bits are refused. ES signatures are
 * the JOSE r||s form, converted to DER for OpenSSL; all-zero r or s fails. */
apr_status_t b2c_jwt_verify_signature(apr_pool_t *p, const b2c_jwt_t *jwt,
                                      const b2c_jwk_t *key, const char **err);

#endif
