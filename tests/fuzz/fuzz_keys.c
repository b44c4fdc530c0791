/* SPDX-License-Identifier: Apache-2.0 */
/* Fixed keys, parameters and signing for the token targets; see
 * fuzz_keys.h. The private halves come from fuzz_keys_data.h (test keys,
 * published on purpose); the code under test only ever sees the public
 * JWKS, parsed by b2c_jwks_parse like a real one. */
#include "fuzz_keys.h"
#include "fuzz_keys_data.h"

#include "b2c_jwt.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static apr_pool_t *keys_pool;
static EVP_PKEY *rsa_key, *ec_key;
static const char *jwks_doc;
static b2c_jwks_t *jwks_set;

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "fuzz_keys: %s\n", what);
    abort();
}

/* A base64url member of a JWK as a BIGNUM pushed into bld. */
static void push_bn(OSSL_PARAM_BLD *bld, json_t *jwk, const char *member,
                    const char *param, BIGNUM **keep)
{
    const char *s = json_string_value(json_object_get(jwk, member));
    unsigned char *raw;
    size_t len;
    BIGNUM *bn;

    if (s == NULL
        || b2c_b64url_decode(keys_pool, s, strlen(s), &raw, &len)
               != APR_SUCCESS)
        die(member);
    bn = BN_bin2bn(raw, (int)len, NULL);
    if (bn == NULL || !OSSL_PARAM_BLD_push_BN(bld, param, bn))
        die(member);
    *keep = bn;
}

static EVP_PKEY *keypair(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
        die(type);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_from_private_jwk(json_t *jwk)
{
    static const char *const members[] = { "n", "e",  "d",  "p",
                                           "q", "dp", "dq", "qi" };
    static const char *const params[] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1
    };
    BIGNUM *bns[8] = { 0 };
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey;
    int i;

    if (bld == NULL)
        die("OSSL_PARAM_BLD_new");
    for (i = 0; i < 8; i++)
        push_bn(bld, jwk, members[i], params[i], &bns[i]);
    pkey = keypair("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    for (i = 0; i < 8; i++)
        BN_free(bns[i]);
    return pkey;
}

static EVP_PKEY *ec_from_private_jwk(json_t *jwk)
{
    const char *xs = json_string_value(json_object_get(jwk, "x"));
    const char *ys = json_string_value(json_object_get(jwk, "y"));
    unsigned char *x, *y, point[65];
    size_t xlen, ylen;
    BIGNUM *d = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey;

    if (bld == NULL || xs == NULL || ys == NULL
        || b2c_b64url_decode(keys_pool, xs, strlen(xs), &x, &xlen)
               != APR_SUCCESS
        || b2c_b64url_decode(keys_pool, ys, strlen(ys), &y, &ylen)
               != APR_SUCCESS
        || xlen != 32 || ylen != 32)
        die("EC x/y");
    point[0] = 0x04;
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         "prime256v1", 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point, sizeof(point)))
        die("EC params");
    push_bn(bld, jwk, "d", OSSL_PKEY_PARAM_PRIV_KEY, &d);
    pkey = keypair("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return pkey;
}

/* The public members of a private JWK plus kid/alg/use/issuer. */
static json_t *public_jwk(json_t *priv, const char *kid, const char *alg,
                          const char *issuer)
{
    static const char *const pub[] = { "kty", "n", "e", "crv", "x", "y", NULL };
    json_t *jwk = json_object();
    int i;

    for (i = 0; pub[i]; i++) {
        json_t *v = json_object_get(priv, pub[i]);
        if (v)
            json_object_set(jwk, pub[i], v);
    }
    json_object_set_new(jwk, "kid", json_string(kid));
    json_object_set_new(jwk, "use", json_string("sig"));
    if (alg)
        json_object_set_new(jwk, "alg", json_string(alg));
    if (issuer)
        json_object_set_new(jwk, "issuer", json_string(issuer));
    return jwk;
}

void fz_keys_init(void)
{
    json_t *rsa, *ec, *doc;
    json_error_t jerr;
    const char *err = NULL;
    char *s;

    if (keys_pool)
        return;
    if (apr_pool_create(&keys_pool, NULL) != APR_SUCCESS)
        die("pool");
    rsa = json_loads(FZ_RSA_PRIVATE_JWK, 0, &jerr);
    ec = json_loads(FZ_EC_PRIVATE_JWK, 0, &jerr);
    if (rsa == NULL || ec == NULL)
        die("embedded JWK is not JSON");
    rsa_key = rsa_from_private_jwk(rsa);
    ec_key = ec_from_private_jwk(ec);

    doc = json_pack("{s:[o,o,o]}", "keys",
                    public_jwk(rsa, FZ_KID_RSA, NULL, FZ_ISS_TEMPLATE),
                    public_jwk(rsa, FZ_KID_RSA_PS, "PS256", NULL),
                    public_jwk(ec, FZ_KID_EC, "ES256", NULL));
    s = json_dumps(doc, JSON_COMPACT);
    if (s == NULL)
        die("json_dumps");
    jwks_doc = apr_pstrdup(keys_pool, s);
    free(s);
    json_decref(doc);
    json_decref(rsa);
    json_decref(ec);
    if (b2c_jwks_parse(keys_pool, jwks_doc, strlen(jwks_doc), &jwks_set, &err)
            != APR_SUCCESS
        || jwks_set->nkeys != 3)
        die(err ? err : "key set");
    ERR_clear_error();
}

const char *fz_jwks_json(void)
{
    return jwks_doc;
}

const b2c_jwks_t *fz_jwks(void)
{
    return jwks_set;
}

void fz_params(apr_pool_t *p, b2c_validation_params_t *params)
{
    apr_array_header_t *iss = apr_array_make(p, 3, sizeof(const char *));
    apr_array_header_t *aud = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(iss, const char *) = FZ_ISS_TEMPLATE;
    APR_ARRAY_PUSH(iss, const char *) = FZ_ISS_V1_TEMPLATE;
    APR_ARRAY_PUSH(iss, const char *) = FZ_ISS_B2C;
    APR_ARRAY_PUSH(aud, const char *) = FZ_AUD;
    APR_ARRAY_PUSH(aud, const char *) = FZ_AUD_ID;
    memset(params, 0, sizeof(*params));
    params->issuers = iss;
    params->audiences = aud;
    params->algs = B2C_ALG_RS256 | B2C_ALG_RS384 | B2C_ALG_RS512 | B2C_ALG_PS256
                   | B2C_ALG_PS384 | B2C_ALG_PS512 | B2C_ALG_ES256
                   | B2C_ALG_ES384 | B2C_ALG_ES512;
    params->clock_skew = FZ_SKEW;
    params->now = FZ_NOW;
}

/* Signature over input with the key and algorithm alg names (see fz_sign);
 * ES signatures converted from DER to JOSE r||s. */
static unsigned char *sign_raw(apr_pool_t *p, unsigned alg, const char *input,
                               size_t len, size_t *sig_len)
{
    int es = (alg & (B2C_ALG_ES256 | B2C_ALG_ES384 | B2C_ALG_ES512)) != 0;
    int ps = (alg & (B2C_ALG_PS256 | B2C_ALG_PS384 | B2C_ALG_PS512)) != 0;
    const EVP_MD *md = (alg & (B2C_ALG_RS384 | B2C_ALG_PS384))   ? EVP_sha384()
                       : (alg & (B2C_ALG_RS512 | B2C_ALG_PS512)) ? EVP_sha512()
                                                                 : EVP_sha256();
    EVP_PKEY *key = es ? ec_key : rsa_key;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL, *der;
    size_t n = 0;
    int ok;

    if (es)
        md = EVP_sha256();
    ok = mctx != NULL && EVP_DigestSignInit(mctx, &pctx, md, NULL, key) == 1;
    if (ok && ps)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
             && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
                    > 0;
    if (ok)
        ok = EVP_DigestSign(mctx, NULL, &n, (const unsigned char *)input, len)
             == 1;
    if (ok) {
        der = apr_palloc(p, n);
        ok = EVP_DigestSign(mctx, der, &n, (const unsigned char *)input, len)
             == 1;
        sig = der;
    }
    EVP_MD_CTX_free(mctx);
    if (ok && es) {
        const unsigned char *cursor = der;
        ECDSA_SIG *ecs = d2i_ECDSA_SIG(NULL, &cursor, (long)n);
        const BIGNUM *r, *s;
        if (ecs == NULL)
            return NULL;
        ECDSA_SIG_get0(ecs, &r, &s);
        sig = apr_palloc(p, 64);
        ok = BN_bn2binpad(r, sig, 32) == 32
             && BN_bn2binpad(s, sig + 32, 32) == 32;
        ECDSA_SIG_free(ecs);
        n = 64;
    }
    if (!ok) {
        ERR_clear_error();
        return NULL;
    }
    *sig_len = n;
    return sig;
}

char *fz_sign(apr_pool_t *p, const char *header, size_t hlen,
              const char *claims, size_t clen)
{
    json_error_t jerr;
    json_t *h = json_loadb(header, hlen, 0, &jerr);
    unsigned alg =
        b2c_alg_from_name(json_string_value(json_object_get(h, "alg")));
    char *input;
    unsigned char *sig;
    size_t sig_len;

    json_decref(h);
    if (alg & (B2C_ALG_ES384 | B2C_ALG_ES512))
        alg = B2C_ALG_ES256;
    if (alg == 0)
        alg = B2C_ALG_RS256;
    input = apr_pstrcat(
        p, b2c_b64url_encode(p, (const unsigned char *)header, hlen), ".",
        b2c_b64url_encode(p, (const unsigned char *)claims, clen), NULL);
    sig = sign_raw(p, alg, input, strlen(input), &sig_len);
    if (sig == NULL)
        return NULL;
    return apr_pstrcat(p, input, ".", b2c_b64url_encode(p, sig, sig_len), NULL);
}
