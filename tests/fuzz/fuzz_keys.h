/* SPDX-License-Identifier: Apache-2.0 */
/* The fixed key set, validation parameters and token signing shared by
 * fuzz_validate, fuzz_jwt_parse and mkseeds (the seed generator). */
#ifndef B2C_FUZZ_KEYS_H
#define B2C_FUZZ_KEYS_H

#include <apr_pools.h>
#include <stddef.h>

#include "b2c_jwks.h"
#include "b2c_validate.h"

/* The fixed clock: 2023-11-14T22:13:20Z (as the unit tests). */
#define FZ_NOW  1700000000LL
#define FZ_SKEW 300LL

/* Accepted issuers: Entra's multi-tenant templates (v2.0 and v1.0 tokens)
 * and a B2C tenant. */
#define FZ_ISS_TEMPLATE    "https://login.microsoftonline.com/{tenantid}/v2.0"
#define FZ_ISS_V1_TEMPLATE "https://sts.windows.net/{tenantid}/"
#define FZ_ISS_B2C                                                             \
    "https://contoso.b2clogin.com/11111111-2222-3333-4444-555555555555/v2.0/"
#define FZ_TID "72f988bf-86f1-41af-91ab-2d7cd011db47"
/* Accepted audiences: an App ID URI and a client id. */
#define FZ_AUD    "api://mod-b2c-fuzz"
#define FZ_AUD_ID "6e74172b-be56-4843-9ff4-e66a39bb12e3"

/* Key ids in the set: the RSA key twice (no alg but a per-key issuer, as
 * Microsoft's multi-tenant sets; alg PS256), the EC key with alg ES256. */
#define FZ_KID_RSA    "fz-rsa"
#define FZ_KID_RSA_PS "fz-rsa-ps"
#define FZ_KID_EC     "fz-ec"

/* Build the private keys and the parsed public set; once per process.
 * Everything lives in a pool that is never destroyed (still reachable, so
 * not a leak for LSan). */
void fz_keys_init(void);

/* The public JWKS document ({"keys":[...]}) and its parsed form. */
const char *fz_jwks_json(void);
const b2c_jwks_t *fz_jwks(void);

/* Validation parameters (issuers, audiences, all algorithms, skew, now),
 * arrays allocated from p. */
void fz_params(apr_pool_t *p, b2c_validation_params_t *params);

/* A compact JWS over the exact header and claims bytes given (base64url
 * encoded as they are, not re-serialised). The key and algorithm follow
 * the header's "alg" when the header is JSON naming one we can make:
 * ES* → the EC key, ES256; PS256/384/512 and RS384/512 → the RSA key with
 * that algorithm; anything else → RS256. Returns NULL only on an OpenSSL
 * failure. */
char *fz_sign(apr_pool_t *p, const char *header, size_t hlen,
              const char *claims, size_t clen);

#endif
