/* SPDX-License-Identifier: Apache-2.0 */
/* Test key material made at run time: RSA and EC key pairs, their public
 * JWKs, and compact JWS tokens signed with them (RS/PS/ES, and HS256 to
 * prove it is refused). Fixtures only; the code under test never sees a
 * private key. */
#include "unit.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

EVP_PKEY *tk_rsa2048, *tk_rsa2048_other, *tk_rsa1024;
EVP_PKEY *tk_ec256, *tk_ec384, *tk_ec521;
apr_pool_t *ut_pool;

void ut_setup(void)
{
    apr_pool_create(&ut_pool, NULL);
}

void ut_teardown(void)
{
    apr_pool_destroy(ut_pool);
    ut_pool = NULL;
}

static EVP_PKEY *gen_rsa(size_t bits)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);
    if (k == NULL) {
        fprintf(stderr, "RSA key generation failed\n");
        abort();
    }
    return k;
}

static EVP_PKEY *gen_ec(const char *group)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
    if (k == NULL) {
        fprintf(stderr, "EC key generation failed\n");
        abort();
    }
    return k;
}

void tk_init(void)
{
    tk_rsa2048 = gen_rsa(2048);
    tk_rsa2048_other = gen_rsa(2048);
    tk_rsa1024 = gen_rsa(1024);
    tk_ec256 = gen_ec("P-256");
    tk_ec384 = gen_ec("P-384");
    tk_ec521 = gen_ec("P-521");
}

void tk_cleanup(void)
{
    EVP_PKEY_free(tk_rsa2048);
    EVP_PKEY_free(tk_rsa2048_other);
    EVP_PKEY_free(tk_rsa1024);
    EVP_PKEY_free(tk_ec256);
    EVP_PKEY_free(tk_ec384);
    EVP_PKEY_free(tk_ec521);
}

/* base64url of a BIGNUM, left-padded with zeros to pad bytes (0: minimal). */
static json_t *bn_b64(EVP_PKEY *key, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;
    apr_pool_t *p;
    json_t *out;

    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
        abort();
    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    if (n <= 0)
        abort();
    apr_pool_create(&p, NULL);
    out = json_string(b2c_b64url_encode(p, buf, (size_t)n));
    apr_pool_destroy(p);
    return out;
}

json_t *tk_jwk(EVP_PKEY *key, const char *kid, const char *alg, const char *use,
               const char *issuer)
{
    json_t *jwk = json_object();

    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        json_object_set_new(jwk, "kty", json_string("RSA"));
        json_object_set_new(jwk, "n", bn_b64(key, OSSL_PKEY_PARAM_RSA_N, 0));
        json_object_set_new(jwk, "e", bn_b64(key, OSSL_PKEY_PARAM_RSA_E, 0));
    }
    else {
        int bits = EVP_PKEY_get_bits(key);
        int coord = (bits + 7) / 8;
        json_object_set_new(jwk, "kty", json_string("EC"));
        json_object_set_new(jwk, "crv",
                            json_string(bits == 256   ? "P-256"
                                        : bits == 384 ? "P-384"
                                                      : "P-521"));
        json_object_set_new(jwk, "x",
                            bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, coord));
        json_object_set_new(jwk, "y",
                            bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, coord));
    }
    if (kid)
        json_object_set_new(jwk, "kid", json_string(kid));
    if (alg)
        json_object_set_new(jwk, "alg", json_string(alg));
    if (use)
        json_object_set_new(jwk, "use", json_string(use));
    if (issuer)
        json_object_set_new(jwk, "issuer", json_string(issuer));
    return jwk;
}

char *tk_json(apr_pool_t *p, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *out = apr_pstrdup(p, s);

    free(s);
    json_decref(v);
    return out;
}

static char *jwks_doc_va(apr_pool_t *p, json_t *first, va_list ap)
{
    json_t *keys = json_array(), *k;

    for (k = first; k != NULL; k = va_arg(ap, json_t *))
        json_array_append_new(keys, k);
    return tk_json(p, json_pack("{s:o}", "keys", keys));
}

char *tk_jwks_doc(apr_pool_t *p, json_t *first, ...)
{
    va_list ap;
    char *doc;

    va_start(ap, first);
    doc = jwks_doc_va(p, first, ap);
    va_end(ap);
    return doc;
}

b2c_jwks_t *tk_jwks(apr_pool_t *p, json_t *first, ...)
{
    va_list ap;
    char *doc;
    b2c_jwks_t *set = NULL;
    const char *err = NULL;

    va_start(ap, first);
    doc = jwks_doc_va(p, first, ap);
    va_end(ap);
    ck_assert_msg(b2c_jwks_parse(p, doc, strlen(doc), &set, &err)
                      == APR_SUCCESS,
                  "JWKS parse failed: %s", err);
    return set;
}

char *tk_compact(apr_pool_t *p, const char *header, const char *claims,
                 const unsigned char *sig, size_t sig_len)
{
    return apr_pstrcat(
        p, b2c_b64url_encode(p, (const unsigned char *)header, strlen(header)),
        ".",
        b2c_b64url_encode(p, (const unsigned char *)claims, strlen(claims)),
        ".", b2c_b64url_encode(p, sig, sig_len), NULL);
}

static const EVP_MD *md_for(const char *alg)
{
    const char *bits = alg + 2;
    if (strcmp(bits, "256") == 0)
        return EVP_sha256();
    if (strcmp(bits, "384") == 0)
        return EVP_sha384();
    return EVP_sha512();
}

char *tk_sign(apr_pool_t *p, EVP_PKEY *key, const char *alg, const char *header,
              const char *claims)
{
    char *input = apr_pstrcat(
        p, b2c_b64url_encode(p, (const unsigned char *)header, strlen(header)),
        ".",
        b2c_b64url_encode(p, (const unsigned char *)claims, strlen(claims)),
        NULL);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig;
    size_t sig_len = 0;

    if (EVP_DigestSignInit(mctx, &pctx, md_for(alg), NULL, key) != 1)
        abort();
    if (alg[0] == 'P') {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    if (EVP_DigestSign(mctx, NULL, &sig_len, (unsigned char *)input,
                       strlen(input))
        != 1)
        abort();
    sig = apr_palloc(p, sig_len);
    if (EVP_DigestSign(mctx, sig, &sig_len, (unsigned char *)input,
                       strlen(input))
        != 1)
        abort();
    EVP_MD_CTX_free(mctx);

    if (alg[0] == 'E') { /* DER → JOSE r||s */
        const unsigned char *cursor = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &cursor, (long)sig_len);
        int coord = (EVP_PKEY_get_bits(key) + 7) / 8;
        unsigned char *rs = apr_palloc(p, 2 * (size_t)coord);
        if (es == NULL)
            abort();
        BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, coord);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + coord, coord);
        ECDSA_SIG_free(es);
        sig = rs;
        sig_len = 2 * (size_t)coord;
    }
    return apr_pstrcat(p, input, ".", b2c_b64url_encode(p, sig, sig_len), NULL);
}

char *tk_sign_hs256(apr_pool_t *p, const unsigned char *secret, size_t len,
                    const char *header, const char *claims)
{
    char *input = apr_pstrcat(
        p, b2c_b64url_encode(p, (const unsigned char *)header, strlen(header)),
        ".",
        b2c_b64url_encode(p, (const unsigned char *)claims, strlen(claims)),
        NULL);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    if (HMAC(EVP_sha256(), secret, (int)len, (unsigned char *)input,
             strlen(input), mac, &mac_len)
        == NULL)
        abort();
    return apr_pstrcat(p, input, ".", b2c_b64url_encode(p, mac, mac_len), NULL);
}

char *tk_read_data(apr_pool_t *p, const char *relpath, size_t *len)
{
    const char *path = apr_pstrcat(p, TESTDATA_DIR, "/", relpath, NULL);
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    ck_assert(size >= 0);
    buf = apr_palloc(p, (apr_size_t)size + 1);
    ck_assert(fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    buf[size] = '\0';
    *len = (size_t)size;
    return buf;
}
