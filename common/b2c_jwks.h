/* SPDX-License-Identifier: Apache-2.0 */
/* JSON Web Keys and key sets (RFC 7517/7518): parse, look up by kid.
 * APR + OpenSSL + jansson; no httpd headers. */
#ifndef B2C_JWKS_H
#define B2C_JWKS_H

#include <apr_pools.h>
#include <openssl/evp.h>

typedef struct {
    const char *kid; /* may be NULL */
    const char *kty; /* "RSA" or "EC" */
    const char *use; /* NULL, or e.g. "sig" */
    const char *alg; /* NULL, or e.g. "RS256" */
    const char *
        issuer; /* NULL, or Microsoft's per-key issuer (may hold "{tenantid}") */
    const char *crv; /* EC only: "P-256", "P-384", "P-521" */
    EVP_PKEY *pkey; /* freed by a cleanup on the pool the set was parsed into */
    /* RSA only: an RS256 verification context set up once, which each
     * verification duplicates (OpenSSL 3 looks up algorithms on every set-up
     * otherwise), and SHA-256, fetched once. Same lifetime as pkey. */
    EVP_PKEY_CTX *rs256;
    EVP_MD *sha256;
} b2c_jwk_t;

typedef struct {
    int nkeys;
    b2c_jwk_t *keys; /* nkeys entries */
    int nskipped;    /* keys ignored (unsupported kty, enc-only, bad members) */
} b2c_jwks_t;

/* Parse a JWKS document ({"keys":[...]}). Keys of unsupported types, with
 * use other than "sig", or with malformed members are skipped (counted in
 * nskipped) rather than failing the whole set, as Microsoft's sets may grow
 * new key types. RSA keys need n and e (n of 2048 bits or more, e odd and > 1);
 * EC keys need crv, x and y on that curve. Private members (d, p, q, ...)
 * make a key skipped: a public JWKS never carries them. Symmetric ("oct")
 * keys are always skipped. A set with no usable key is an error.
 * Also skipped: RSA moduli over 16384 bits, EC points not on the curve,
 * "key_ops" without "verify", non-string kid/use/alg/issuer.
 * Everything is allocated from p; EVP_PKEYs are freed when p is cleared. */
apr_status_t b2c_jwks_parse(apr_pool_t *p, const char *buf, size_t len,
                            b2c_jwks_t **out, const char **err);

/* The key with this kid (exact match; the first one if repeated), or NULL. With kid NULL: the only
 * key if the set has exactly one, else NULL. */
const b2c_jwk_t *b2c_jwks_find_key(const b2c_jwks_t *jwks, const char *kid);

#endif
