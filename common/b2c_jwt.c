/* SPDX-License-Identifier: Apache-2.0 */
/* Compact JWS parsing and signature verification (RFC 7515/7518/7519).
 * Only asymmetric algorithms exist here: "none" and HMAC have no bit, so a
 * public key can never be used as an HMAC secret. The key type is checked
 * against the algorithm before OpenSSL sees anything. */
#include "b2c_jwt.h"
#include "b2c_json.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    unsigned bit;
} alg_table[] = {
    { "RS256", B2C_ALG_RS256 }, { "RS384", B2C_ALG_RS384 },
    { "RS512", B2C_ALG_RS512 }, { "PS256", B2C_ALG_PS256 },
    { "PS384", B2C_ALG_PS384 }, { "PS512", B2C_ALG_PS512 },
    { "ES256", B2C_ALG_ES256 }, { "ES384", B2C_ALG_ES384 },
    { "ES512", B2C_ALG_ES512 },
};
#define N_ALGS (sizeof(alg_table) / sizeof(alg_table[0]))

#define ALG_RS (B2C_ALG_RS256 | B2C_ALG_RS384 | B2C_ALG_RS512)
#define ALG_PS (B2C_ALG_PS256 | B2C_ALG_PS384 | B2C_ALG_PS512)
#define ALG_ES (B2C_ALG_ES256 | B2C_ALG_ES384 | B2C_ALG_ES512)

unsigned b2c_alg_from_name(const char *name)
{
    size_t i;

    if (name == NULL)
        return 0;
    for (i = 0; i < N_ALGS; i++) {
        if (strcmp(alg_table[i].name, name) == 0)
            return alg_table[i].bit;
    }
    return 0;
}

const char *b2c_alg_name(unsigned alg)
{
    size_t i;

    for (i = 0; i < N_ALGS; i++) {
        if (alg_table[i].bit == alg)
            return alg_table[i].name;
    }
    return NULL;
}

/* "typ" values that mean "this is a JWT access token" (RFC 7519 §5.1,
 * RFC 9068 §2.1); media types compare case-insensitively. */
static int typ_acceptable(const char *typ)
{
    if (strncasecmp(typ, "application/", 12) == 0)
        typ += 12;
    return strcasecmp(typ, "JWT") == 0 || strcasecmp(typ, "at+jwt") == 0;
}

static apr_status_t decode_json_segment(apr_pool_t *p, const char *seg,
                                        size_t len, json_t **out,
                                        const char **text, const char **err,
                                        const char *what)
{
    unsigned char *raw;
    size_t rawlen;
    const char *jerr;

    if (b2c_b64url_decode(p, seg, len, &raw, &rawlen) != APR_SUCCESS) {
        *err = apr_pstrcat(p, what, " is not base64url", NULL);
        return APR_EINVAL;
    }
    if (b2c_json_parse_object(p, (const char *)raw, rawlen, out, &jerr)
        != APR_SUCCESS) {
        *err = apr_pstrcat(p, what, ": ", jerr, NULL);
        return APR_EINVAL;
    }
    *text = (const char *)raw;
    return APR_SUCCESS;
}

apr_status_t b2c_jwt_parse(apr_pool_t *p, const char *token, size_t len,
                           b2c_jwt_t **out, const char **err)
{
    const char *dot1, *dot2, *payload, *sig, *header_json;
    size_t hlen, plen, slen;
    b2c_jwt_t *jwt;
    json_t *v;

    *out = NULL;
    if (token == NULL || len == 0) {
        *err = "empty token";
        return APR_EINVAL;
    }
    if (len > B2C_JWT_MAX_BYTES) {
        *err = "token too large";
        return APR_EINVAL;
    }
    dot1 = memchr(token, '.', len);
    dot2 =
        dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL
        || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
        *err = "token is not three dot-separated segments";
        return APR_EINVAL;
    }
    payload = dot1 + 1;
    sig = dot2 + 1;
    hlen = (size_t)(dot1 - token);
    plen = (size_t)(dot2 - payload);
    slen = len - (size_t)(sig - token);
    if (hlen == 0 || plen == 0 || slen == 0) {
        *err = "token has an empty segment";
        return APR_EINVAL;
    }

    jwt = apr_pcalloc(p, sizeof(*jwt));
    if (decode_json_segment(p, token, hlen, &jwt->header, &header_json, err,
                            "header")
        != APR_SUCCESS)
        return APR_EINVAL;

    v = json_object_get(jwt->header, "alg");
    if (!json_is_string(v)) {
        *err = "header alg missing or not a string";
        return APR_EINVAL;
    }
    jwt->alg_name = json_string_value(v);
    jwt->alg = b2c_alg_from_name(jwt->alg_name);

    v = json_object_get(jwt->header, "kid");
    if (v != NULL && !json_is_string(v)) {
        *err = "header kid is not a string";
        return APR_EINVAL;
    }
    jwt->kid = v ? json_string_value(v) : NULL;

    /* RFC 7515 §4.1.11: we implement no extension, so any "crit" fails. */
    if (json_object_get(jwt->header, "crit") != NULL) {
        *err = "header has crit (unsupported extensions)";
        return APR_EINVAL;
    }
    v = json_object_get(jwt->header, "typ");
    if (v != NULL
        && (!json_is_string(v) || !typ_acceptable(json_string_value(v)))) {
        *err = "header typ is not JWT";
        return APR_EINVAL;
    }

    if (decode_json_segment(p, payload, plen, &jwt->claims, &jwt->claims_json,
                            err, "claims")
        != APR_SUCCESS)
        return APR_EINVAL;
    if (b2c_b64url_decode(p, sig, slen, &jwt->sig, &jwt->sig_len) != APR_SUCCESS
        || jwt->sig_len == 0) {
        *err = "signature is not base64url";
        return APR_EINVAL;
    }
    jwt->signing_input = token;
    jwt->signing_input_len = (size_t)(dot2 - token);
    *out = jwt;
    return APR_SUCCESS;
}

static const EVP_MD *alg_digest(unsigned alg)
{
    if (alg & (B2C_ALG_RS256 | B2C_ALG_PS256 | B2C_ALG_ES256))
        return EVP_sha256();
    if (alg & (B2C_ALG_RS384 | B2C_ALG_PS384 | B2C_ALG_ES384))
        return EVP_sha384();
    if (alg & (B2C_ALG_RS512 | B2C_ALG_PS512 | B2C_ALG_ES512))
        return EVP_sha512();
    return NULL;
}

/* The curve an ES algorithm requires, and its coordinate size. */
static int es_curve(unsigned alg, size_t *coord)
{
    if (alg == B2C_ALG_ES256) {
        *coord = 32;
        return NID_X9_62_prime256v1;
    }
    if (alg == B2C_ALG_ES384) {
        *coord = 48;
        return NID_secp384r1;
    }
    *coord = 66;
    return NID_secp521r1;
}

static int pkey_curve_nid(const EVP_PKEY *pkey)
{
    char name[80];
    size_t len = 0;

    if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1)
        return NID_undef;
    return OBJ_txt2nid(name);
}

/* JOSE r||s (RFC 7518 §3.4) → DER ECDSA-Sig-Value for OpenSSL. NULL when the
 * length is wrong or r or s is zero (which never verifies legitimately and
 * has broken verifiers before: CVE-2022-21449). */
static unsigned char *es_sig_to_der(apr_pool_t *p, const unsigned char *sig,
                                    size_t sig_len, size_t coord,
                                    size_t *der_len)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r, *s;
    unsigned char *der = NULL, *cursor;
    int n;

    if (sig_len != 2 * coord)
        return NULL;
    r = BN_bin2bn(sig, (int)coord, NULL);
    s = BN_bin2bn(sig + coord, (int)coord, NULL);
    if (r == NULL || s == NULL || BN_is_zero(r) || BN_is_zero(s)
        || (es = ECDSA_SIG_new()) == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    /* es owns r and s now */
    n = i2d_ECDSA_SIG(es, NULL);
    if (n > 0) {
        der = cursor = apr_palloc(p, (apr_size_t)n);
        if (i2d_ECDSA_SIG(es, &cursor) != n)
            der = NULL;
    }
    ECDSA_SIG_free(es);
    *der_len = der ? (size_t)n : 0;
    return der;
}

static apr_status_t verify_fail(const char **err, const char *why)
{
    ERR_clear_error();
    *err = why;
    return APR_EGENERAL;
}

apr_status_t b2c_jwt_verify_signature(apr_pool_t *p, const b2c_jwt_t *jwt,
                                      const b2c_jwk_t *key, const char **err)
{
    const EVP_MD *md;
    const unsigned char *sig;
    size_t sig_len;
    EVP_MD_CTX *mctx;
    EVP_PKEY_CTX *pctx = NULL;
    int ok;

    if (jwt == NULL || key == NULL || key->pkey == NULL)
        return verify_fail(err, "no key");
    md = alg_digest(jwt->alg);
    if (jwt->alg == 0 || md == NULL || b2c_alg_name(jwt->alg) == NULL)
        return verify_fail(err, "unsupported alg");
    if (key->alg != NULL && strcmp(key->alg, b2c_alg_name(jwt->alg)) != 0)
        return verify_fail(err, "key alg differs from token alg");
    sig = jwt->sig;
    sig_len = jwt->sig_len;

    if (jwt->alg & (ALG_RS | ALG_PS)) {
        if (EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_RSA)
            return verify_fail(err, "key type does not fit alg");
        if (EVP_PKEY_get_bits(key->pkey) < 2048)
            return verify_fail(err, "RSA key too small");
        if (sig_len != (size_t)EVP_PKEY_get_size(key->pkey))
            return verify_fail(err, "signature length wrong");
    }
    else {
        size_t coord;
        int nid = es_curve(jwt->alg, &coord);
        if (EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_EC
            || pkey_curve_nid(key->pkey) != nid)
            return verify_fail(err, "key type does not fit alg");
        sig = es_sig_to_der(p, jwt->sig, jwt->sig_len, coord, &sig_len);
        if (sig == NULL)
            return verify_fail(err, "ECDSA signature malformed");
    }

    if (jwt->alg == B2C_ALG_RS256 && key->rs256) {
        /* the common case: a copy of the key's prepared context */
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        EVP_PKEY_CTX *vctx;

        ok = EVP_Digest(jwt->signing_input, jwt->signing_input_len, digest,
                        &dlen, key->sha256, NULL)
                 == 1
             && (vctx = EVP_PKEY_CTX_dup(key->rs256)) != NULL;
        if (ok) {
            ok = EVP_PKEY_verify(vctx, sig, sig_len, digest, dlen) == 1;
            EVP_PKEY_CTX_free(vctx);
        }
        return ok ? APR_SUCCESS : verify_fail(err, "signature does not verify");
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        return verify_fail(err, "out of memory");
    ok = EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key->pkey) == 1;
    if (ok && (jwt->alg & ALG_RS))
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    if (ok && (jwt->alg & ALG_PS)) {
        /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
             && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST)
                    > 0;
    }
    if (ok)
        ok = EVP_DigestVerify(mctx, sig, sig_len,
                              (const unsigned char *)jwt->signing_input,
                              jwt->signing_input_len)
             == 1;
    EVP_MD_CTX_free(mctx);
    if (!ok)
        return verify_fail(err, "signature does not verify");
    return APR_SUCCESS;
}
