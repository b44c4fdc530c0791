/* SPDX-License-Identifier: Apache-2.0 */
/* JSON Web Key Sets (RFC 7517/7518): turn a JWKS document into verified
 * OpenSSL public keys, skipping keys we cannot or must not use so that one
 * odd key never takes the whole set down. Only n/e and crv/x/y are read:
 * x5c/x5t are ignored, the key material is the JWK members. */
#include "b2c_jwks.h"
#include "b2c_json.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <string.h>

#define RSA_MIN_BITS    2048
#define RSA_MAX_BITS    16384 /* bounds verification cost per key */
#define RSA_MAX_E_BYTES 8 /* OpenSSL caps large-modulus exponents at 64 bits */

/* Members that only private or symmetric keys carry. */
static const char *const private_members[] = { "d",  "p",   "q", "dp", "dq",
                                               "qi", "oth", "k", NULL };

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free((EVP_PKEY *)data);
    return APR_SUCCESS;
}

static apr_status_t rs256_cleanup(void *data)
{
    b2c_jwk_t *key = data;
    EVP_PKEY_CTX_free(key->rs256);
    EVP_MD_free(key->sha256);
    return APR_SUCCESS;
}

/* The RS256 template of an RSA key; without one (an OpenSSL that refuses)
 * verification sets itself up per call. */
static void prepare_rs256(apr_pool_t *p, b2c_jwk_t *key)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

    if (ctx && md && EVP_PKEY_verify_init(ctx) == 1
        && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
        && EVP_PKEY_CTX_set_signature_md(ctx, md) > 0) {
        key->rs256 = ctx;
        key->sha256 = md;
        apr_pool_cleanup_register(p, key, rs256_cleanup, apr_pool_cleanup_null);
        return;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_MD_free(md);
    ERR_clear_error();
}

/* Decode a base64url member into a byte string; NULL when absent, not a
 * string, empty or invalid. */
static const unsigned char *member_bytes(apr_pool_t *p, const json_t *jwk,
                                         const char *name, size_t *len)
{
    const char *s = b2c_json_string(jwk, name);
    unsigned char *out;

    if (s == NULL || *s == '\0')
        return NULL;
    if (b2c_b64url_decode(p, s, strlen(s), &out, len) != APR_SUCCESS
        || *len == 0)
        return NULL;
    return out;
}

/* Build a public key from OSSL params; NULL on any failure. */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(apr_pool_t *tmp, const json_t *jwk)
{
    size_t nlen, elen;
    const unsigned char *n = member_bytes(tmp, jwk, "n", &nlen);
    const unsigned char *e = member_bytes(tmp, jwk, "e", &elen);
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    int nbits;

    if (n == NULL || e == NULL || elen > RSA_MAX_E_BYTES
        || nlen > RSA_MAX_BITS / 8 + 1)
        return NULL;
    bn_n = BN_bin2bn(n, (int)nlen, NULL);
    bn_e = BN_bin2bn(e, (int)elen, NULL);
    if (bn_n == NULL || bn_e == NULL)
        goto out;
    nbits = BN_num_bits(bn_n);
    /* e must be odd and > 1; n odd (a product of odd primes) and sized. */
    if (nbits < RSA_MIN_BITS || nbits > RSA_MAX_BITS || !BN_is_odd(bn_n)
        || !BN_is_odd(bn_e) || BN_is_one(bn_e) || BN_cmp(bn_e, bn_n) >= 0)
        goto out;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    if (params != NULL)
        pkey = pkey_from_params("RSA", params);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* JOSE curve name → OpenSSL group name and coordinate size in bytes. */
static const char *ec_group_for(const char *crv, size_t *coord_len)
{
    if (crv == NULL)
        return NULL;
    if (strcmp(crv, "P-256") == 0) {
        *coord_len = 32;
        return "prime256v1";
    }
    if (strcmp(crv, "P-384") == 0) {
        *coord_len = 48;
        return "secp384r1";
    }
    if (strcmp(crv, "P-521") == 0) {
        *coord_len = 66;
        return "secp521r1";
    }
    return NULL;
}

static EVP_PKEY *ec_from_jwk(apr_pool_t *tmp, const json_t *jwk,
                             const char *crv)
{
    size_t coord = 0, xlen, ylen;
    const char *group = ec_group_for(crv, &coord);
    const unsigned char *x = member_bytes(tmp, jwk, "x", &xlen);
    const unsigned char *y = member_bytes(tmp, jwk, "y", &ylen);
    unsigned char *point;
    OSSL_PARAM params[3];
    EVP_PKEY *pkey;
    EVP_PKEY_CTX *check;

    /* RFC 7518 §6.2.1.2: coordinates are full-length, never shortened. */
    if (group == NULL || x == NULL || y == NULL || xlen != coord
        || ylen != coord)
        return NULL;
    point = apr_palloc(tmp, 1 + 2 * coord);
    point[0] = 0x04; /* uncompressed SEC1 point */
    memcpy(point + 1, x, coord);
    memcpy(point + 1 + coord, y, coord);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  point, 1 + 2 * coord);
    params[2] = OSSL_PARAM_construct_end();
    pkey = pkey_from_params("EC", params);
    if (pkey == NULL)
        return NULL;
    /* Invalid-curve attacks: make sure the point is on the curve and in the
     * right subgroup, whatever the import did. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(check);
    return pkey;
}

/* Optional string member: returns 1 and sets *out (NULL when absent), or 0
 * when present with another type (the key is then malformed). */
static int optional_string(const json_t *jwk, const char *name,
                           const char **out)
{
    json_t *v = json_object_get(jwk, name);

    *out = NULL;
    if (v == NULL)
        return 1;
    if (!json_is_string(v))
        return 0;
    *out = json_string_value(v);
    return 1;
}

/* key_ops (RFC 7517 §4.3), when present, must allow "verify". */
static int key_ops_allow_verify(const json_t *jwk)
{
    json_t *ops = json_object_get(jwk, "key_ops"), *op;
    size_t i;

    if (ops == NULL)
        return 1;
    if (!json_is_array(ops))
        return 0;
    json_array_foreach(ops, i, op)
    {
        if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
            return 1;
    }
    return 0;
}

/* Fill *key from one JWK; returns 0 when the key must be skipped. Strings
 * are copied into p: the JSON document lives only in tmp. */
static int parse_key(apr_pool_t *p, apr_pool_t *tmp, const json_t *jwk,
                     b2c_jwk_t *key)
{
    const char *kty, *kid, *use, *alg, *issuer, *crv = NULL;
    EVP_PKEY *pkey;
    int i;

    if (!json_is_object(jwk))
        return 0;
    kty = b2c_json_string(jwk, "kty");
    if (kty == NULL)
        return 0;
    for (i = 0; private_members[i] != NULL; i++) {
        if (json_object_get(jwk, private_members[i]) != NULL)
            return 0;
    }
    if (!optional_string(jwk, "kid", &kid) || !optional_string(jwk, "use", &use)
        || !optional_string(jwk, "alg", &alg)
        || !optional_string(jwk, "issuer", &issuer))
        return 0;
    if (use != NULL && strcmp(use, "sig") != 0)
        return 0;
    if (!key_ops_allow_verify(jwk))
        return 0;

    if (strcmp(kty, "RSA") == 0) {
        pkey = rsa_from_jwk(tmp, jwk);
    }
    else if (strcmp(kty, "EC") == 0) {
        crv = b2c_json_string(jwk, "crv");
        pkey = ec_from_jwk(tmp, jwk, crv);
    }
    else {
        return 0; /* "oct", "OKP" and future types */
    }
    if (pkey == NULL) {
        ERR_clear_error(); /* don't leave our failures for other code to find */
        return 0;
    }
    apr_pool_cleanup_register(p, pkey, pkey_cleanup, apr_pool_cleanup_null);
    key->pkey = pkey;
    key->kty = crv ? "EC" : "RSA";
    key->crv = crv ? apr_pstrdup(p, crv) : NULL;
    key->kid = kid ? apr_pstrdup(p, kid) : NULL;
    key->use = use ? apr_pstrdup(p, use) : NULL;
    key->alg = alg ? apr_pstrdup(p, alg) : NULL;
    key->issuer = issuer ? apr_pstrdup(p, issuer) : NULL;
    key->rs256 = NULL;
    key->sha256 = NULL;
    if (!crv)
        prepare_rs256(p, key);
    return 1;
}

apr_status_t b2c_jwks_parse(apr_pool_t *p, const char *buf, size_t len,
                            b2c_jwks_t **out, const char **err)
{
    apr_pool_t *tmp;
    json_t *root, *keys;
    b2c_jwks_t *set;
    apr_status_t rv;
    size_t i, n;

    *out = NULL;
    rv = apr_pool_create(&tmp, p);
    if (rv != APR_SUCCESS) {
        *err = "out of memory";
        return rv;
    }
    rv = b2c_json_parse_object(tmp, buf, len, &root, err);
    if (rv != APR_SUCCESS) {
        *err = apr_pstrcat(p, "JWKS: ", *err, NULL);
        goto out;
    }
    keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        *err = "JWKS: no \"keys\" array";
        rv = APR_EINVAL;
        goto out;
    }
    n = json_array_size(keys);
    set = apr_pcalloc(p, sizeof(*set));
    set->keys = apr_pcalloc(p, (n ? n : 1) * sizeof(b2c_jwk_t));
    for (i = 0; i < n; i++) {
        if (parse_key(p, tmp, json_array_get(keys, i), &set->keys[set->nkeys]))
            set->nkeys++;
        else
            set->nskipped++;
    }
    if (set->nkeys == 0) {
        *err = "JWKS: no usable signing key";
        rv = APR_EINVAL;
        goto out;
    }
    *out = set;
out:
    apr_pool_destroy(tmp); /* releases the JSON document */
    return rv;
}

const b2c_jwk_t *b2c_jwks_find_key(const b2c_jwks_t *jwks, const char *kid)
{
    int i;

    if (jwks == NULL || jwks->nkeys <= 0)
        return NULL;
    if (kid == NULL)
        return jwks->nkeys == 1 ? &jwks->keys[0] : NULL;
    for (i = 0; i < jwks->nkeys; i++) {
        if (jwks->keys[i].kid != NULL && strcmp(jwks->keys[i].kid, kid) == 0)
            return &jwks->keys[i];
    }
    return NULL;
}
