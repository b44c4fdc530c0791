/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: compact JWS parsing and signature verification (b2c_jwt). */
#include "unit.h"
#include "b2c_jwt.h"
#include "b2c_util.h"

#include <apr_strings.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

#define CLAIMS "{\"iss\":\"https://issuer.example/\",\"exp\":1700003600}"

static apr_status_t parse(const char *token, b2c_jwt_t **jwt, const char **err)
{
    return b2c_jwt_parse(ut_pool, token, strlen(token), jwt, err);
}

static char *header_for(const char *alg, const char *kid)
{
    return apr_psprintf(
        ut_pool, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid);
}

static const b2c_jwk_t *one_key(EVP_PKEY *pkey, const char *alg)
{
    b2c_jwks_t *set =
        tk_jwks(ut_pool, tk_jwk(pkey, "k", alg, "sig", NULL), NULL);
    return &set->keys[0];
}

START_TEST(alg_names)
{
    ck_assert_uint_eq(b2c_alg_from_name("RS256"), B2C_ALG_RS256);
    ck_assert_uint_eq(b2c_alg_from_name("ES512"), B2C_ALG_ES512);
    ck_assert_uint_eq(b2c_alg_from_name("PS384"), B2C_ALG_PS384);
    ck_assert_uint_eq(b2c_alg_from_name("rs256"), 0);
    ck_assert_uint_eq(b2c_alg_from_name("none"), 0);
    ck_assert_uint_eq(b2c_alg_from_name("HS256"), 0);
    ck_assert_uint_eq(b2c_alg_from_name(""), 0);
    ck_assert_uint_eq(b2c_alg_from_name(NULL), 0);
    ck_assert_str_eq(b2c_alg_name(B2C_ALG_PS512), "PS512");
    ck_assert_ptr_null(b2c_alg_name(0));
    ck_assert_ptr_null(b2c_alg_name(B2C_ALG_RS256 | B2C_ALG_RS384));
}
END_TEST

/* Every algorithm signs and verifies with the right key type. */
START_TEST(round_trip_all_algs)
{
    static const struct {
        const char *alg;
        int key;
    } cases[] = {
        { "RS256", 0 }, { "RS384", 0 }, { "RS512", 0 },
        { "PS256", 0 }, { "PS384", 0 }, { "PS512", 0 },
        { "ES256", 1 }, { "ES384", 2 }, { "ES512", 3 },
    };
    EVP_PKEY *keys[] = { tk_rsa2048, tk_ec256, tk_ec384, tk_ec521 };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        EVP_PKEY *pk = keys[cases[i].key];
        char *tok = tk_sign(ut_pool, pk, cases[i].alg,
                            header_for(cases[i].alg, "k"), CLAIMS);
        b2c_jwt_t *jwt = NULL;
        const char *err = NULL;
        ck_assert_int_eq(parse(tok, &jwt, &err), APR_SUCCESS);
        ck_assert_uint_eq(jwt->alg, b2c_alg_from_name(cases[i].alg));
        ck_assert_str_eq(jwt->kid, "k");
        ck_assert_str_eq(json_string_value(json_object_get(jwt->claims, "iss")),
                         "https://issuer.example/");
        ck_assert_msg(
            b2c_jwt_verify_signature(ut_pool, jwt, one_key(pk, NULL), &err)
                == APR_SUCCESS,
            "%s: %s", cases[i].alg, err);
        /* ...and with a key that names its alg */
        ck_assert_int_eq(b2c_jwt_verify_signature(
                             ut_pool, jwt, one_key(pk, cases[i].alg), &err),
                         APR_SUCCESS);
    }
}
END_TEST

START_TEST(wrong_key_fails)
{
    char *tok = tk_sign(ut_pool, tk_rsa2048_other, "RS256",
                        header_for("RS256", "k"), CLAIMS);
    b2c_jwt_t *jwt;
    const char *err;

    ck_assert_int_eq(parse(tok, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_rsa2048, NULL), &err),
        APR_SUCCESS);
}
END_TEST

START_TEST(key_alg_mismatch_fails)
{
    char *tok =
        tk_sign(ut_pool, tk_rsa2048, "PS256", header_for("PS256", "k"), CLAIMS);
    b2c_jwt_t *jwt;
    const char *err;

    ck_assert_int_eq(parse(tok, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(b2c_jwt_verify_signature(
                         ut_pool, jwt, one_key(tk_rsa2048, "RS256"), &err),
                     APR_SUCCESS);
}
END_TEST

/* RS256 token against an EC key, ES256 against RSA, ES384 against P-256. */
START_TEST(alg_key_type_confusion)
{
    b2c_jwt_t *jwt;
    const char *err;
    char *rs =
        tk_sign(ut_pool, tk_rsa2048, "RS256", header_for("RS256", "k"), CLAIMS);
    char *es =
        tk_sign(ut_pool, tk_ec256, "ES256", header_for("ES256", "k"), CLAIMS);
    char *es384 =
        tk_sign(ut_pool, tk_ec384, "ES384", header_for("ES384", "k"), CLAIMS);
    char *rs_as_ps;

    ck_assert_int_eq(parse(rs, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_ec256, NULL), &err),
        APR_SUCCESS);
    ck_assert_int_eq(parse(es, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_rsa2048, NULL), &err),
        APR_SUCCESS);
    ck_assert_int_eq(parse(es384, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_ec256, NULL), &err),
        APR_SUCCESS);
    /* An RS256 signature relabelled PS256 must not verify. */
    ck_assert_int_eq(parse(rs, &jwt, &err), APR_SUCCESS);
    rs_as_ps = tk_compact(ut_pool, header_for("PS256", "k"), CLAIMS, jwt->sig,
                          jwt->sig_len);
    ck_assert_int_eq(parse(rs_as_ps, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_rsa2048, NULL), &err),
        APR_SUCCESS);
}
END_TEST

/* The classic confusion: HS256 keyed with the RSA public key's bytes. */
START_TEST(hs256_with_public_key_as_secret)
{
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(tk_rsa2048, &der);
    json_t *jwk = tk_jwk(tk_rsa2048, "k", NULL, NULL, NULL);
    const char *n = json_string_value(json_object_get(jwk, "n"));
    char *tok1, *tok2;
    b2c_jwt_t *jwt;
    const char *err;
    const b2c_jwk_t *key = one_key(tk_rsa2048, NULL);

    ck_assert_int_gt(der_len, 0);
    tok1 = tk_sign_hs256(ut_pool, der, (size_t)der_len,
                         header_for("HS256", "k"), CLAIMS);
    tok2 = tk_sign_hs256(ut_pool, (const unsigned char *)n, strlen(n),
                         header_for("HS256", "k"), CLAIMS);
    OPENSSL_free(der);
    json_decref(jwk);
    ck_assert_int_eq(parse(tok1, &jwt, &err), APR_SUCCESS);
    ck_assert_uint_eq(jwt->alg, 0);
    ck_assert_int_ne(b2c_jwt_verify_signature(ut_pool, jwt, key, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(parse(tok2, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(b2c_jwt_verify_signature(ut_pool, jwt, key, &err),
                     APR_SUCCESS);
}
END_TEST

START_TEST(alg_none_refused)
{
    /* "none" with an empty signature is not even a valid compact JWS here. */
    char *tok = apr_pstrcat(
        ut_pool,
        b2c_b64url_encode(ut_pool, (const unsigned char *)"{\"alg\":\"none\"}",
                          14),
        ".",
        b2c_b64url_encode(ut_pool, (const unsigned char *)CLAIMS,
                          strlen(CLAIMS)),
        ".", NULL);
    b2c_jwt_t *jwt;
    const char *err;

    ck_assert_int_eq(parse(tok, &jwt, &err), APR_EINVAL);
    tok = tk_compact(ut_pool, "{\"alg\":\"none\"}", CLAIMS,
                     (unsigned char *)"\0", 1);
    ck_assert_int_eq(parse(tok, &jwt, &err), APR_SUCCESS);
    ck_assert_uint_eq(jwt->alg, 0);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_rsa2048, NULL), &err),
        APR_SUCCESS);
}
END_TEST

/* CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify. */
START_TEST(es_zero_signature)
{
    static const unsigned char zeros[132];
    static const size_t lens[] = { 64, 96, 132 };
    static const char *algs[] = { "ES256", "ES384", "ES512" };
    EVP_PKEY *keys[] = { tk_ec256, tk_ec384, tk_ec521 };
    b2c_jwt_t *jwt;
    const char *err;
    int i;

    for (i = 0; i < 3; i++) {
        char *tok = tk_compact(ut_pool, header_for(algs[i], "k"), CLAIMS, zeros,
                               lens[i]);
        ck_assert_int_eq(parse(tok, &jwt, &err), APR_SUCCESS);
        ck_assert_int_ne(b2c_jwt_verify_signature(ut_pool, jwt,
                                                  one_key(keys[i], NULL), &err),
                         APR_SUCCESS);
    }
}
END_TEST

START_TEST(es_wrong_length_signature)
{
    char *good =
        tk_sign(ut_pool, tk_ec256, "ES256", header_for("ES256", "k"), CLAIMS);
    const b2c_jwk_t *key = one_key(tk_ec256, NULL);
    b2c_jwt_t *jwt;
    const char *err;
    unsigned char *sig;
    size_t sig_len;
    char *head =
        apr_pstrndup(ut_pool, good, (apr_size_t)(strrchr(good, '.') - good));

    ck_assert_int_eq(parse(good, &jwt, &err), APR_SUCCESS);
    ck_assert_int_eq(b2c_jwt_verify_signature(ut_pool, jwt, key, &err),
                     APR_SUCCESS);
    sig = jwt->sig;
    sig_len = jwt->sig_len;
    /* 63 and 65 bytes, and a DER signature, are all wrong for ES256. */
    ck_assert_int_eq(
        parse(apr_pstrcat(ut_pool, head, ".",
                          b2c_b64url_encode(ut_pool, sig, sig_len - 1), NULL),
              &jwt, &err),
        APR_SUCCESS);
    ck_assert_int_ne(b2c_jwt_verify_signature(ut_pool, jwt, key, &err),
                     APR_SUCCESS);
    {
        unsigned char longer[65];
        memcpy(longer, sig, 64);
        longer[64] = 0;
        ck_assert_int_eq(
            parse(apr_pstrcat(ut_pool, head, ".",
                              b2c_b64url_encode(ut_pool, longer, 65), NULL),
                  &jwt, &err),
            APR_SUCCESS);
        ck_assert_int_ne(b2c_jwt_verify_signature(ut_pool, jwt, key, &err),
                         APR_SUCCESS);
    }
}
END_TEST

START_TEST(tampered_payload)
{
    char *tok =
        tk_sign(ut_pool, tk_rsa2048, "RS256", header_for("RS256", "k"), CLAIMS);
    char *other =
        tk_compact(ut_pool, header_for("RS256", "k"),
                   "{\"iss\":\"https://evil.example/\",\"exp\":1700003600}",
                   (unsigned char *)"x", 1);
    const char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    const char *odot1 = strchr(other, '.'), *odot2 = strrchr(other, '.');
    char *forged = apr_pstrcat(
        ut_pool, apr_pstrndup(ut_pool, tok, (apr_size_t)(dot1 - tok + 1)),
        apr_pstrndup(ut_pool, odot1 + 1, (apr_size_t)(odot2 - odot1 - 1)), dot2,
        NULL);
    b2c_jwt_t *jwt;
    const char *err;

    ck_assert_int_eq(parse(forged, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_rsa2048, NULL), &err),
        APR_SUCCESS);
    /* flip one signature bit */
    ck_assert_int_eq(parse(tok, &jwt, &err), APR_SUCCESS);
    jwt->sig[10] ^= 1;
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_rsa2048, NULL), &err),
        APR_SUCCESS);
}
END_TEST

START_TEST(pss_with_wrong_salt_fails)
{
    /* PS256 signed with salt length 0: RFC 7518 wants salt = hash length. */
    const char *h = header_for("PS256", "k");
    char *input = apr_pstrcat(
        ut_pool,
        b2c_b64url_encode(ut_pool, (const unsigned char *)h, strlen(h)), ".",
        b2c_b64url_encode(ut_pool, (const unsigned char *)CLAIMS,
                          strlen(CLAIMS)),
        NULL);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    b2c_jwt_t *jwt;
    const char *err;

    ck_assert_int_eq(EVP_DigestSignInit(m, &pc, EVP_sha256(), NULL, tk_rsa2048),
                     1);
    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 0);
    ck_assert_int_eq(
        EVP_DigestSign(m, sig, &sig_len, (unsigned char *)input, strlen(input)),
        1);
    EVP_MD_CTX_free(m);
    ck_assert_int_eq(
        parse(apr_pstrcat(ut_pool, input, ".",
                          b2c_b64url_encode(ut_pool, sig, sig_len), NULL),
              &jwt, &err),
        APR_SUCCESS);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_rsa2048, NULL), &err),
        APR_SUCCESS);
}
END_TEST

START_TEST(rsa_1024_key_refused_at_verify)
{
    /* A key that slipped past the parser (built by hand) is still refused. */
    b2c_jwk_t key = { "k", "RSA", NULL, NULL, NULL, NULL, tk_rsa1024 };
    char *tok =
        tk_sign(ut_pool, tk_rsa1024, "RS256", header_for("RS256", "k"), CLAIMS);
    b2c_jwt_t *jwt;
    const char *err;

    ck_assert_int_eq(parse(tok, &jwt, &err), APR_SUCCESS);
    ck_assert_int_ne(b2c_jwt_verify_signature(ut_pool, jwt, &key, &err),
                     APR_SUCCESS);
}
END_TEST

START_TEST(segment_counts_and_empty_segments)
{
    static const char *bad[] = { "",
                                 ".",
                                 "..",
                                 "...",
                                 "a",
                                 "a.b",
                                 "a.b.c.d",
                                 "a.b.c.d.e",
                                 ".eyJhIjoxfQ.AAAA",
                                 "eyJhbGciOiJSUzI1NiJ9..AAAA",
                                 "eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.",
                                 "eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.AAAA." };
    b2c_jwt_t *jwt;
    const char *err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse(bad[i], &jwt, &err) == APR_EINVAL,
                      "accepted case %zu", i);
    ck_assert_int_eq(b2c_jwt_parse(ut_pool, NULL, 0, &jwt, &err), APR_EINVAL);
}
END_TEST

START_TEST(oversized_token)
{
    size_t n = B2C_JWT_MAX_BYTES + 1;
    char *big = apr_palloc(ut_pool, n + 1);
    b2c_jwt_t *jwt;
    const char *err = NULL;

    memset(big, 'A', n);
    big[10] = '.';
    big[20] = '.';
    big[n] = '\0';
    ck_assert_int_eq(parse(big, &jwt, &err), APR_EINVAL);
    ck_assert_str_eq(err, "token too large");
}
END_TEST

START_TEST(header_rules)
{
    static const char *bad_headers[] = {
        "{\"alg\":\"RS256\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"RS256\",\"crit\":[]}",
        "{\"kid\":\"k\"}",
        "{\"alg\":256}",
        "{\"alg\":\"RS256\",\"kid\":5}",
        "{\"alg\":\"RS256\",\"typ\":\"JWE\"}",
        "{\"alg\":\"RS256\",\"typ\":7}",
        "{\"alg\":\"RS256\",\"alg\":\"RS256\"}",
        "[\"RS256\"]",
        "{\"alg\":\"RS256\"} "
    };
    static const char *good_typ[] = { "JWT", "jwt", "at+jwt",
                                      "application/at+jwt", "Application/JWT" };
    static const unsigned char sig[] = { 1, 2, 3 };
    b2c_jwt_t *jwt;
    const char *err;
    size_t i;

    for (i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        char *tok =
            tk_compact(ut_pool, bad_headers[i], CLAIMS, sig, sizeof(sig));
        if (i == sizeof(bad_headers) / sizeof(bad_headers[0]) - 1) {
            /* trailing whitespace inside the JSON is legal JSON */
            ck_assert_int_eq(parse(tok, &jwt, &err), APR_SUCCESS);
            continue;
        }
        ck_assert_msg(parse(tok, &jwt, &err) == APR_EINVAL,
                      "accepted header %zu", i);
    }
    for (i = 0; i < sizeof(good_typ) / sizeof(good_typ[0]); i++) {
        char *h = apr_psprintf(ut_pool, "{\"alg\":\"RS256\",\"typ\":\"%s\"}",
                               good_typ[i]);
        ck_assert_int_eq(
            parse(tk_compact(ut_pool, h, CLAIMS, sig, sizeof(sig)), &jwt, &err),
            APR_SUCCESS);
        ck_assert_ptr_null(jwt->kid);
    }
}
END_TEST

START_TEST(claims_must_be_object)
{
    static const unsigned char sig[] = { 1, 2, 3 };
    static const char *bad[] = { "[]", "\"x\"", "{\"a\":1,\"a\":2}", "{", "" };
    b2c_jwt_t *jwt;
    const char *err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(
            parse(tk_compact(ut_pool, "{\"alg\":\"RS256\"}", bad[i], sig, 3),
                  &jwt, &err)
                == APR_EINVAL,
            "accepted claims %zu", i);
}
END_TEST

START_TEST(bad_base64_in_segments)
{
    b2c_jwt_t *jwt;
    const char *err;
    char *tok =
        tk_sign(ut_pool, tk_rsa2048, "RS256", header_for("RS256", "k"), CLAIMS);

    ck_assert_int_eq(parse(apr_pstrcat(ut_pool, tok, "=", NULL), &jwt, &err),
                     APR_EINVAL);
    ck_assert_int_eq(parse(apr_pstrcat(ut_pool, "=", tok, NULL), &jwt, &err),
                     APR_EINVAL);
    /* RS256/2048 signatures are 342 characters: 3 more make len % 4 == 1 */
    ck_assert_int_eq(parse(apr_pstrcat(ut_pool, tok, "AAA", NULL), &jwt, &err),
                     APR_EINVAL);
    /* one more well-formed byte decodes, but no longer verifies */
    ck_assert_int_eq(parse(apr_pstrcat(ut_pool, tok, "A", NULL), &jwt, &err),
                     APR_SUCCESS);
    ck_assert_int_ne(
        b2c_jwt_verify_signature(ut_pool, jwt, one_key(tk_rsa2048, NULL), &err),
        APR_SUCCESS);
    /* embedded NUL inside the given length */
    {
        size_t n = strlen(tok);
        char *copy = apr_pstrdup(ut_pool, tok);
        copy[n / 2] = '\0';
        ck_assert_int_eq(b2c_jwt_parse(ut_pool, copy, n, &jwt, &err),
                         APR_EINVAL);
    }
}
END_TEST

START_TEST(error_never_quotes_token)
{
    char *tok =
        tk_compact(ut_pool, "{\"alg\":\"SECRETALG\",\"typ\":\"SECRETTYP\"}",
                   CLAIMS, (unsigned char *)"s", 1);
    b2c_jwt_t *jwt;
    const char *err = NULL;

    ck_assert_int_eq(parse(tok, &jwt, &err), APR_EINVAL);
    ck_assert_ptr_null(strstr(err, "SECRET"));
}
END_TEST

Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *v = tcase_create("verify");
    TCase *p = tcase_create("parse");

    tcase_add_checked_fixture(v, ut_setup, ut_teardown);
    tcase_add_test(v, alg_names);
    tcase_add_test(v, round_trip_all_algs);
    tcase_add_test(v, wrong_key_fails);
    tcase_add_test(v, key_alg_mismatch_fails);
    tcase_add_test(v, alg_key_type_confusion);
    tcase_add_test(v, hs256_with_public_key_as_secret);
    tcase_add_test(v, alg_none_refused);
    tcase_add_test(v, es_zero_signature);
    tcase_add_test(v, es_wrong_length_signature);
    tcase_add_test(v, tampered_payload);
    tcase_add_test(v, pss_with_wrong_salt_fails);
    tcase_add_test(v, rsa_1024_key_refused_at_verify);
    suite_add_tcase(s, v);

    tcase_add_checked_fixture(p, ut_setup, ut_teardown);
    tcase_add_test(p, segment_counts_and_empty_segments);
    tcase_add_test(p, oversized_token);
    tcase_add_test(p, header_rules);
    tcase_add_test(p, claims_must_be_object);
    tcase_add_test(p, bad_base64_in_segments);
    tcase_add_test(p, error_never_quotes_token);
    suite_add_tcase(s, p);
    return s;
}
