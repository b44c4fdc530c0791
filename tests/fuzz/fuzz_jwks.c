/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: JWKS documents (b2c_jwks_parse, b2c_jwks_find_key), and
 * every accepted key against b2c_jwt_verify_signature with a few fixed
 * tokens, so fuzzed keys meet the key-type / size / curve checks. */
#include "fuzz_common.h"
#include "b2c_jwks.h"
#include "b2c_jwt.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <string.h>

/* Parsed once: header {"alg":X,"kid":"k"}, claims {}, signature of the
 * length that alg needs with the 2048-bit / P-256 / P-384 / P-521 keys. */
static b2c_jwt_t *probes[6];
static apr_pool_t *probe_pool;

static b2c_jwt_t *probe(const char *alg, size_t sig_len)
{
    unsigned char sig[512];
    const char *hdr =
        apr_psprintf(probe_pool, "{\"alg\":\"%s\",\"kid\":\"k\"}", alg);
    const char *tok;
    b2c_jwt_t *jwt;
    const char *err;

    memset(sig, 0x5a, sizeof(sig));
    tok = apr_pstrcat(
        probe_pool,
        b2c_b64url_encode(probe_pool, (const unsigned char *)hdr, strlen(hdr)),
        ".e30.", b2c_b64url_encode(probe_pool, sig, sig_len), NULL);
    if (b2c_jwt_parse(probe_pool, tok, strlen(tok), &jwt, &err) != APR_SUCCESS)
        fz_fail(__FILE__, __LINE__, err);
    return jwt;
}

void fz_target_init(void)
{
    apr_pool_create(&probe_pool, NULL);
    probes[0] = probe("RS256", 256);
    probes[1] = probe("PS384", 256);
    probes[2] = probe("RS512", 512);
    probes[3] = probe("ES256", 64);
    probes[4] = probe("ES384", 96);
    probes[5] = probe("ES512", 132);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    b2c_jwks_t *set = NULL;
    const char *err = NULL;
    int i, j;

    if (b2c_jwks_parse(p, (const char *)data, size, &set, &err)
        == APR_SUCCESS) {
        FZ_CHECK(set != NULL && set->nkeys >= 1 && set->nskipped >= 0);
        FZ_CHECK((b2c_jwks_find_key(set, NULL) != NULL) == (set->nkeys == 1));
        FZ_CHECK(b2c_jwks_find_key(set, "\x01 no such kid") == NULL);
        for (i = 0; i < set->nkeys; i++) {
            const b2c_jwk_t *k = &set->keys[i];
            FZ_CHECK(k->pkey != NULL && k->kty != NULL);
            FZ_CHECK(strcmp(k->kty, "RSA") == 0 || strcmp(k->kty, "EC") == 0);
            FZ_CHECK((k->crv != NULL) == (strcmp(k->kty, "EC") == 0));
            FZ_CHECK(k->use == NULL || strcmp(k->use, "sig") == 0);
            if (k->kid) {
                const b2c_jwk_t *f = b2c_jwks_find_key(set, k->kid);
                FZ_CHECK(f != NULL && f <= k && strcmp(f->kid, k->kid) == 0);
            }
            for (j = 0; j < 6; j++) {
                const char *verr = NULL;
                /* random signatures never verify */
                FZ_CHECK(b2c_jwt_verify_signature(p, probes[j], k, &verr)
                         != APR_SUCCESS);
                FZ_CHECK(verr != NULL);
            }
        }
    }
    else {
        FZ_CHECK(set == NULL && err != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
