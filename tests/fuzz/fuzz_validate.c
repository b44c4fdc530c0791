/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: whole-token validation (b2c_validate_token) against the
 * fixed key set and parameters of fuzz_keys.h, at a fixed clock, then what
 * mod_b2c_auth does with the claims of a valid token.
 *
 * Two input forms:
 *   a compact JWS (the seeds: tokens signed by the fixed keys, and
 *   attacks: alg none, HS256, crit, nonce header, 2/4 segments, ...);
 *   "HEADER\nCLAIMS" starting with '{' (never a valid token otherwise):
 *   the target base64url-encodes both byte strings as they are and signs
 *   them with the fixed key the header's alg names, so fuzzing reaches the
 *   issuer / audience / time checks behind the signature. */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "b2c_claims.h"
#include "b2c_validate.h"

#include <string.h>

void fz_target_init(void)
{
    fz_keys_init();
}

static void use_claims(apr_pool_t *p, const json_t *claims)
{
    const char *name, *text;
    json_t *v;

    json_object_foreach((json_t *)claims, name, v)
    {
        text = b2c_claim_text(p, claims, name);
        FZ_CHECK(text == NULL || !fz_has_ctl(text, strlen(text)));
        b2c_claim_env_name(p, name);
    }
    b2c_claims_has_role(claims, "Admin");
    b2c_claims_has_scope(claims, "access_as_user");
    b2c_claims_match(claims, "tid", FZ_TID);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    b2c_validation_params_t params;
    b2c_validation_result_t res;
    const char *token = (const char *)data;
    size_t len = size;
    b2c_token_status_t st;

    if (size > 0 && data[0] == '{') {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t hlen = nl ? (size_t)(nl - data) : size;
        const char *claims = nl ? (const char *)nl + 1 : "";
        size_t clen = nl ? size - hlen - 1 : 0;
        token = fz_sign(p, (const char *)data, hlen, claims, clen);
        FZ_CHECK(token != NULL);
        len = strlen(token);
    }

    fz_params(p, &params);
    st = b2c_validate_token(p, token, len, fz_jwks(), &params, &res);
    FZ_CHECK(st == res.status && res.reason != NULL);
    FZ_CHECK(b2c_token_status_name(st) != NULL);
    FZ_CHECK((res.jwt == NULL) == (st == B2C_VERDICT_MALFORMED));
    if (res.kid)
        FZ_CHECK(
            strlen(res.kid) <= 64
            && strspn(res.kid,
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789._-")
                   == strlen(res.kid));
    if (st == B2C_VERDICT_VALID) {
        /* only the fixed keys sign, and only accepted claims pass */
        FZ_CHECK(res.jwt->alg != 0 && res.jwt->kid != NULL);
        FZ_CHECK(res.exp + FZ_SKEW >= FZ_NOW);
        FZ_CHECK(json_object_get(res.jwt->header, "nonce") == NULL);
        use_claims(p, res.jwt->claims);
    }
    apr_pool_destroy(p);
    return 0;
}
