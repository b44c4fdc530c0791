/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the whole token decision (b2c_validate) — order of checks,
 * issuer/audience/time rules, Microsoft specifics (nonce, key issuer). */
#include "unit.h"
#include "b2c_json.h"
#include "b2c_util.h"
#include "b2c_validate.h"

#include <apr_strings.h>
#include <limits.h>
#include <openssl/x509.h>
#include <string.h>

#define ISS          "https://issuer.example/tenant/v2.0"
#define MS_TEMPLATE  "https://login.microsoftonline.com/{tenantid}/v2.0"
#define TID          "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define MS_ISS       "https://login.microsoftonline.com/" TID "/v2.0"
#define CONSUMER_TID "9188040d-6c67-4c5b-b112-36a304b66dad"
#define CONSUMER_ISS "https://login.microsoftonline.com/" CONSUMER_TID "/v2.0"
#define AUD          "api://my-api"
#define ALL_ALGS     0x1ffu

static b2c_jwks_t *jwks;
static b2c_validation_params_t params;
static b2c_validation_result_t res;

static void setup(void)
{
    apr_array_header_t *iss, *aud;

    ut_setup();
    jwks = tk_jwks(ut_pool, tk_jwk(tk_rsa2048, "k-rsa", NULL, "sig", NULL),
                   tk_jwk(tk_ec256, "k-ec256", NULL, NULL, NULL),
                   tk_jwk(tk_ec384, "k-ec384", NULL, NULL, NULL),
                   tk_jwk(tk_ec521, "k-ec521", NULL, NULL, NULL),
                   tk_jwk(tk_rsa2048, "k-rs-only", "RS256", "sig", NULL),
                   tk_jwk(tk_rsa2048, "k-entra", NULL, "sig", MS_TEMPLATE),
                   tk_jwk(tk_rsa2048, "k-consumer", NULL, "sig", CONSUMER_ISS),
                   NULL);
    iss = apr_array_make(ut_pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(iss, const char *) = ISS;
    APR_ARRAY_PUSH(iss, const char *) = MS_TEMPLATE;
    aud = apr_array_make(ut_pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(aud, const char *) = AUD;
    APR_ARRAY_PUSH(aud, const char *) = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
    params.issuers = iss;
    params.audiences = aud;
    params.algs = ALL_ALGS;
    params.clock_skew = 300;
    params.now = UT_NOW;
    memset(&res, 0, sizeof(res));
}

static json_t *hdr(const char *alg, const char *kid)
{
    json_t *h = json_pack("{s:s,s:s}", "alg", alg, "typ", "JWT");
    if (kid)
        json_object_set_new(h, "kid", json_string(kid));
    return h;
}

static json_t *claims(void)
{
    return json_pack("{s:s,s:s,s:I,s:I,s:I,s:s,s:s}", "iss", ISS, "aud", AUD,
                     "exp", (json_int_t)(UT_NOW + 3600), "nbf",
                     (json_int_t)(UT_NOW - 60), "iat",
                     (json_int_t)(UT_NOW - 60), "tid", TID, "sub", "subject");
}

/* Sign (header and claims are stolen) and validate. */
static b2c_token_status_t check(EVP_PKEY *key, const char *alg, json_t *h,
                                json_t *c)
{
    char *tok =
        tk_sign(ut_pool, key, alg, tk_json(ut_pool, h), tk_json(ut_pool, c));
    return b2c_validate_token(ut_pool, tok, strlen(tok), jwks, &params, &res);
}

static b2c_token_status_t check_str(const char *tok)
{
    return b2c_validate_token(ut_pool, tok, strlen(tok), jwks, &params, &res);
}

/* A claims set with one member replaced (value stolen) or removed (NULL). */
static json_t *claims_with(const char *name, json_t *value)
{
    json_t *c = claims();
    if (value)
        json_object_set_new(c, name, value);
    else
        json_object_del(c, name);
    return c;
}

#define RS(c)                 check(tk_rsa2048, "RS256", hdr("RS256", "k-rsa"), (c))
#define ST(s)                 b2c_token_status_name(s)
#define ck_status(expr, want) ck_assert_str_eq(ST(expr), ST(want))

START_TEST(valid_every_alg)
{
    static const struct {
        const char *alg, *kid;
    } cases[] = {
        { "RS256", "k-rsa" },   { "RS384", "k-rsa" },   { "RS512", "k-rsa" },
        { "PS256", "k-rsa" },   { "PS384", "k-rsa" },   { "PS512", "k-rsa" },
        { "ES256", "k-ec256" }, { "ES384", "k-ec384" }, { "ES512", "k-ec521" },
    };
    EVP_PKEY *keys[] = { tk_rsa2048, tk_rsa2048, tk_rsa2048,
                         tk_rsa2048, tk_rsa2048, tk_rsa2048,
                         tk_ec256,   tk_ec384,   tk_ec521 };
    size_t i;

    for (i = 0; i < 9; i++) {
        ck_assert_msg(check(keys[i], cases[i].alg,
                            hdr(cases[i].alg, cases[i].kid), claims())
                          == B2C_VERDICT_VALID,
                      "%s: %s", cases[i].alg, res.reason);
        ck_assert(res.exp == UT_NOW + 3600);
        ck_assert_ptr_nonnull(res.jwt);
        ck_assert_str_eq(res.kid, cases[i].kid);
    }
}
END_TEST

START_TEST(alg_allow_list)
{
    params.algs = B2C_ALG_RS256;
    ck_status(check(tk_rsa2048, "PS256", hdr("PS256", "k-rsa"), claims()),
              B2C_VERDICT_BAD_ALG);
    ck_status(check(tk_ec256, "ES256", hdr("ES256", "k-ec256"), claims()),
              B2C_VERDICT_BAD_ALG);
    ck_status(RS(claims()), B2C_VERDICT_VALID);
    params.algs = 0;
    ck_status(RS(claims()), B2C_VERDICT_BAD_ALG);
}
END_TEST

START_TEST(alg_none_and_hmac)
{
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(tk_rsa2048, &der);
    char *none =
        tk_compact(ut_pool, "{\"alg\":\"none\",\"kid\":\"k-rsa\"}",
                   tk_json(ut_pool, claims()), (const unsigned char *)"x", 1);
    char *hs = tk_sign_hs256(ut_pool, der, (size_t)der_len,
                             "{\"alg\":\"HS256\",\"kid\":\"k-rsa\"}",
                             tk_json(ut_pool, claims()));

    OPENSSL_free(der);
    ck_status(check_str(none), B2C_VERDICT_BAD_ALG);
    ck_status(check_str(hs), B2C_VERDICT_BAD_ALG);
    /* "none" with the empty signature it really uses is not even a JWS */
    ck_status(check_str(apr_pstrndup(
                  ut_pool, none, (apr_size_t)(strrchr(none, '.') - none + 1))),
              B2C_VERDICT_MALFORMED);
}
END_TEST

START_TEST(unknown_kid)
{
    char *long_kid = apr_pstrcat(ut_pool, "bad/kid\n<x>",
                                 apr_psprintf(ut_pool, "%0100d", 7), NULL);

    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "nope"), claims()),
              B2C_VERDICT_UNKNOWN_KID);
    ck_assert_str_eq(res.kid, "nope");
    ck_assert_ptr_null(strstr(res.reason, "nope")); /* reason never quotes */
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", long_kid), claims()),
              B2C_VERDICT_UNKNOWN_KID);
    ck_assert_uint_eq(strlen(res.kid), 64);
    ck_assert_str_eq(apr_pstrndup(ut_pool, res.kid, 12), "bad_kid__x_0");
    /* no kid among several keys */
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", NULL), claims()),
              B2C_VERDICT_UNKNOWN_KID);
    ck_assert_ptr_null(res.kid);
    /* no key set at all */
    {
        char *tok = tk_sign(ut_pool, tk_rsa2048, "RS256",
                            tk_json(ut_pool, hdr("RS256", "k-rsa")),
                            tk_json(ut_pool, claims()));
        ck_status(
            b2c_validate_token(ut_pool, tok, strlen(tok), NULL, &params, &res),
            B2C_VERDICT_UNKNOWN_KID);
    }
}
END_TEST

START_TEST(no_kid_single_key)
{
    jwks = tk_jwks(ut_pool, tk_jwk(tk_rsa2048, NULL, NULL, NULL, NULL), NULL);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", NULL), claims()),
              B2C_VERDICT_VALID);
    jwks = tk_jwks(ut_pool, tk_jwk(tk_rsa2048, "only", NULL, NULL, NULL), NULL);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", NULL), claims()),
              B2C_VERDICT_VALID);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "other"), claims()),
              B2C_VERDICT_UNKNOWN_KID);
}
END_TEST

START_TEST(key_use_and_alg_rules)
{
    b2c_jwk_t enc_key = { "k-enc",           "RSA", "enc", NULL, NULL, NULL,
                          jwks->keys[0].pkey };
    b2c_jwks_t enc_set = { 1, &enc_key, 0 };

    ck_status(check(tk_rsa2048, "PS256", hdr("PS256", "k-rs-only"), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-rs-only"), claims()),
              B2C_VERDICT_VALID);
    /* a hand-made set holding an encryption key (the parser skips those) */
    jwks = &enc_set;
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-enc"), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
}
END_TEST

START_TEST(key_type_confusion)
{
    /* RS256 naming an EC key; ES256 naming an RSA key; ES384 naming P-256 */
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-ec256"), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
    ck_status(check(tk_ec256, "ES256", hdr("ES256", "k-rsa"), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
    ck_status(check(tk_ec384, "ES384", hdr("ES384", "k-ec256"), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
}
END_TEST

START_TEST(wrong_key_and_tampering)
{
    char *tok, *forged, *evil;
    const char *d1, *d2;

    ck_status(check(tk_rsa2048_other, "RS256", hdr("RS256", "k-rsa"), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
    tok = tk_sign(ut_pool, tk_rsa2048, "RS256",
                  tk_json(ut_pool, hdr("RS256", "k-rsa")),
                  tk_json(ut_pool, claims()));
    evil = b2c_b64url_encode(
        ut_pool,
        (const unsigned char *)"{\"iss\":\"" ISS "\",\"aud\":\"" AUD
                               "\",\"exp\":99999999999,\"roles\":[\"Admin\"]}",
        strlen("{\"iss\":\"" ISS "\",\"aud\":\"" AUD
               "\",\"exp\":99999999999,\"roles\":[\"Admin\"]}"));
    d1 = strchr(tok, '.');
    d2 = strrchr(tok, '.');
    forged = apr_pstrcat(ut_pool,
                         apr_pstrndup(ut_pool, tok, (apr_size_t)(d1 - tok + 1)),
                         evil, d2, NULL);
    ck_status(check_str(forged), B2C_VERDICT_BAD_SIGNATURE);
    ck_status(check_str(tok), B2C_VERDICT_VALID);
}
END_TEST

/* jku/x5u/jwk/x5c are attacker-controlled: never used to find a key. */
START_TEST(embedded_key_headers_ignored)
{
    json_t *attacker = tk_jwk(tk_rsa2048_other, "k-rsa", NULL, NULL, NULL);
    json_t *h = hdr("RS256", "k-rsa");

    json_object_set_new(h, "jwk", attacker);
    json_object_set_new(h, "jku", json_string("https://evil.example/keys"));
    json_object_set_new(h, "x5u", json_string("https://evil.example/cert.pem"));
    json_object_set_new(h, "x5c", json_pack("[s]", "MIIBIjANBg"));
    ck_status(check(tk_rsa2048_other, "RS256", json_deep_copy(h), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
    /* without kid the embedded key does not help either */
    json_object_del(h, "kid");
    ck_status(check(tk_rsa2048_other, "RS256", json_deep_copy(h), claims()),
              B2C_VERDICT_UNKNOWN_KID);
    /* and a genuine token that happens to carry them is still fine */
    json_object_set_new(h, "kid", json_string("k-rsa"));
    ck_status(check(tk_rsa2048, "RS256", h, claims()), B2C_VERDICT_VALID);
}
END_TEST

START_TEST(nonce_header_is_foreign)
{
    json_t *h = hdr("RS256", "k-rsa");
    char *tok;

    json_object_set_new(h, "nonce", json_string("AQABAAAAAAD"));
    tok = tk_compact(ut_pool, tk_json(ut_pool, h), tk_json(ut_pool, claims()),
                     (const unsigned char *)"sig", 3);
    ck_status(check_str(tok), B2C_VERDICT_FOREIGN);
    ck_assert_ptr_nonnull(strstr(res.reason, "Microsoft Graph"));
    /* even before the alg allow-list and kid lookup */
    params.algs = B2C_ALG_ES256;
    ck_status(check_str(tok), B2C_VERDICT_FOREIGN);
}
END_TEST

START_TEST(crit_header_malformed)
{
    json_t *h = hdr("RS256", "k-rsa");

    json_object_set_new(h, "crit", json_pack("[s]", "b64"));
    json_object_set_new(h, "b64", json_false());
    ck_status(check(tk_rsa2048, "RS256", h, claims()), B2C_VERDICT_MALFORMED);
}
END_TEST

START_TEST(time_rules)
{
    ck_status(RS(claims_with("exp", NULL)), B2C_VERDICT_BAD_TIME);
    ck_status(RS(claims_with("exp", json_string("1700003600"))),
              B2C_VERDICT_BAD_TIME);
    ck_status(RS(claims_with("exp", json_real(1700003600.5))),
              B2C_VERDICT_BAD_TIME);
    ck_status(RS(claims_with("exp", json_real(1700003600.0))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with("exp", json_null())), B2C_VERDICT_BAD_TIME);
    ck_status(RS(claims_with("exp", json_integer(UT_NOW - 301))),
              B2C_VERDICT_EXPIRED);
    ck_status(RS(claims_with("exp", json_integer(UT_NOW - 300))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with("exp", json_integer(UT_NOW - 299))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with("exp", json_integer(UT_NOW - 100000))),
              B2C_VERDICT_EXPIRED);
    ck_status(RS(claims_with("nbf", json_integer(UT_NOW + 301))),
              B2C_VERDICT_NOT_YET_VALID);
    ck_status(RS(claims_with("nbf", json_integer(UT_NOW + 300))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with("nbf", json_integer(UT_NOW + 299))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with("nbf", NULL)), B2C_VERDICT_VALID);
    ck_status(RS(claims_with("nbf", json_string("0"))), B2C_VERDICT_BAD_TIME);
    ck_status(RS(claims_with("iat", json_string("1700000000"))),
              B2C_VERDICT_BAD_TIME);
    ck_status(RS(claims_with("iat", json_true())), B2C_VERDICT_BAD_TIME);
    ck_status(RS(claims_with("iat", NULL)), B2C_VERDICT_VALID);
    ck_status(RS(claims_with("exp", json_integer(LLONG_MAX))),
              B2C_VERDICT_BAD_TIME);
    params.clock_skew = 0;
    ck_status(RS(claims_with("exp", json_integer(UT_NOW - 1))),
              B2C_VERDICT_EXPIRED);
    ck_status(RS(claims_with("exp", json_integer(UT_NOW))), B2C_VERDICT_VALID);
    params.clock_skew = -5; /* treated as 0 */
    ck_status(RS(claims_with("nbf", json_integer(UT_NOW + 1))),
              B2C_VERDICT_NOT_YET_VALID);
}
END_TEST

START_TEST(issuer_exact)
{
    ck_status(RS(claims_with("iss",
                             json_string("https://issuer.example/other/v2.0"))),
              B2C_VERDICT_BAD_ISSUER);
    ck_status(RS(claims_with(
                  "iss", json_string("https://ISSUER.example/tenant/v2.0"))),
              B2C_VERDICT_BAD_ISSUER);
    ck_status(RS(claims_with("iss", json_string(ISS "/"))),
              B2C_VERDICT_BAD_ISSUER);
    ck_status(RS(claims_with("iss", json_string(""))), B2C_VERDICT_BAD_ISSUER);
    ck_status(RS(claims_with("iss", NULL)), B2C_VERDICT_BAD_ISSUER);
    ck_status(RS(claims_with("iss", json_integer(1))), B2C_VERDICT_BAD_ISSUER);
    ck_status(RS(claims_with("iss", json_pack("[s]", ISS))),
              B2C_VERDICT_BAD_ISSUER);
    params.issuers = apr_array_make(ut_pool, 1, sizeof(const char *));
    ck_status(RS(claims()),
              B2C_VERDICT_BAD_ISSUER); /* nothing configured: fail closed */
}
END_TEST

START_TEST(issuer_tenant_template)
{
    json_t *c;

    ck_status(RS(claims_with("iss", json_string(MS_ISS))), B2C_VERDICT_VALID);
    /* iss names another tenant than tid */
    c = claims_with("iss", json_string(MS_ISS));
    json_object_set_new(c, "tid", json_string(CONSUMER_TID));
    ck_status(RS(c), B2C_VERDICT_BAD_ISSUER);
    /* tid smuggling a path */
    c = claims_with("iss",
                    json_string("https://login.microsoftonline.com/x/y/v2.0"));
    json_object_set_new(c, "tid", json_string("x/y"));
    ck_status(RS(c), B2C_VERDICT_BAD_ISSUER);
    /* missing, empty or non-string tid */
    c = claims_with("iss", json_string(MS_ISS));
    json_object_del(c, "tid");
    ck_status(RS(c), B2C_VERDICT_BAD_ISSUER);
    c = claims_with("iss",
                    json_string("https://login.microsoftonline.com//v2.0"));
    json_object_set_new(c, "tid", json_string(""));
    ck_status(RS(c), B2C_VERDICT_BAD_ISSUER);
    c = claims_with("iss",
                    json_string("https://login.microsoftonline.com/5/v2.0"));
    json_object_set_new(c, "tid", json_integer(5));
    ck_status(RS(c), B2C_VERDICT_BAD_ISSUER);
    /* the template itself is not an issuer */
    c = claims_with("iss", json_string(MS_TEMPLATE));
    json_object_set_new(c, "tid", json_string("{tenantid}"));
    ck_status(RS(c), B2C_VERDICT_BAD_ISSUER);
}
END_TEST

START_TEST(issuer_matches_function)
{
    ck_assert(b2c_issuer_matches(ISS, ISS, NULL));
    ck_assert(b2c_issuer_matches(ISS, ISS, "x/y"));
    ck_assert(!b2c_issuer_matches(ISS, ISS "x", NULL));
    ck_assert(!b2c_issuer_matches(ISS "x", ISS, NULL));
    ck_assert(b2c_issuer_matches(MS_TEMPLATE, MS_ISS, TID));
    ck_assert(!b2c_issuer_matches(MS_TEMPLATE, MS_ISS, CONSUMER_TID));
    ck_assert(!b2c_issuer_matches(MS_TEMPLATE, MS_ISS, NULL));
    ck_assert(!b2c_issuer_matches(MS_TEMPLATE, MS_ISS, ""));
    ck_assert(!b2c_issuer_matches(MS_TEMPLATE, MS_TEMPLATE, "{tenantid}"));
    ck_assert(!b2c_issuer_matches(
        MS_TEMPLATE, "https://login.microsoftonline.com/a.b/v2.0", "a.b"));
    ck_assert(!b2c_issuer_matches(MS_TEMPLATE, MS_ISS "/", TID));
    ck_assert(!b2c_issuer_matches(
        MS_TEMPLATE, "https://login.microsoftonline.com/" TID, TID));
    ck_assert(
        b2c_issuer_matches("https://{tenantid}.b2clogin.com/{tenantid}/v2.0/",
                           "https://abc.b2clogin.com/abc/v2.0/", "abc"));
    ck_assert(!b2c_issuer_matches(NULL, ISS, NULL));
    ck_assert(!b2c_issuer_matches(ISS, NULL, NULL));
    ck_assert(!b2c_issuer_matches("", "", NULL));
}
END_TEST

/* Microsoft's per-key "issuer" member binds a key to its tenant(s). */
START_TEST(key_issuer_rule)
{
    json_t *c;

    /* template key, token of tenant TID */
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-entra"),
                    claims_with("iss", json_string(MS_ISS))),
              B2C_VERDICT_VALID);
    /* template key, token with an issuer we accept but the key does not */
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-entra"), claims()),
              B2C_VERDICT_BAD_ISSUER);
    /* template key, token without tid */
    c = claims_with("iss", json_string(MS_ISS));
    json_object_del(c, "tid");
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-entra"), c),
              B2C_VERDICT_BAD_ISSUER);
    /* consumer-tenant key cannot sign for another tenant */
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-consumer"),
                    claims_with("iss", json_string(MS_ISS))),
              B2C_VERDICT_BAD_ISSUER);
    c = claims_with("iss", json_string(CONSUMER_ISS));
    json_object_set_new(c, "tid", json_string(CONSUMER_TID));
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-consumer"), c),
              B2C_VERDICT_VALID);
}
END_TEST

/* Keys carry v2 issuers only; a v1 token of the same tenant is vouched for
 * by them (as Microsoft.IdentityModel allows), another tenant's is not. */
START_TEST(key_issuer_accepts_v1_token_of_same_tenant)
{
    json_t *c;

    APR_ARRAY_PUSH((apr_array_header_t *)params.issuers, const char *) =
        "https://sts.windows.net/{tenantid}/";
    ck_status(
        check(tk_rsa2048, "RS256", hdr("RS256", "k-entra"),
              claims_with("iss",
                          json_string("https://sts.windows.net/" TID "/"))),
        B2C_VERDICT_VALID);
    /* v1 form without the trailing slash is not Microsoft's v1 issuer */
    ck_status(
        check(tk_rsa2048, "RS256", hdr("RS256", "k-entra"),
              claims_with("iss", json_string("https://sts.windows.net/" TID))),
        B2C_VERDICT_BAD_ISSUER);
    /* a v1 token naming another tenant than its tid */
    c = claims_with("iss",
                    json_string("https://sts.windows.net/" CONSUMER_TID "/"));
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "k-entra"), c),
              B2C_VERDICT_BAD_ISSUER);
    /* the consumer key does not vouch for a v1 token of tenant TID */
    ck_status(
        check(tk_rsa2048, "RS256", hdr("RS256", "k-consumer"),
              claims_with("iss",
                          json_string("https://sts.windows.net/" TID "/"))),
        B2C_VERDICT_BAD_ISSUER);
}
END_TEST

/* Our key in Microsoft's real set, as the test identity platform serves it. */
START_TEST(real_entra_set_with_own_key)
{
    size_t len;
    char *doc = tk_read_data(ut_pool, "entra-common/jwks.json", &len);
    json_error_t jerr;
    json_t *root = json_loadb(doc, len, 0, &jerr);
    const char *err;
    char *mixed;

    json_array_append_new(json_object_get(root, "keys"),
                          tk_jwk(tk_rsa2048, "own", NULL, "sig", MS_TEMPLATE));
    mixed = tk_json(ut_pool, root);
    ck_assert_int_eq(b2c_jwks_parse(ut_pool, mixed, strlen(mixed), &jwks, &err),
                     APR_SUCCESS);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "own"),
                    claims_with("iss", json_string(MS_ISS))),
              B2C_VERDICT_VALID);
    /* a real Microsoft kid with our signature */
    ck_status(check(tk_rsa2048, "RS256",
                    hdr("RS256", "Mc7l3Iz93g7uwgNeEmmw_WYGPko"),
                    claims_with("iss", json_string(MS_ISS))),
              B2C_VERDICT_BAD_SIGNATURE);
}
END_TEST

START_TEST(audience_rules)
{
    ck_status(RS(claims_with("aud", json_pack("[s,s]", "other", AUD))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with(
                  "aud", json_string("6e74172b-be56-4843-9ff4-e66a39bb12e3"))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with("aud", json_pack("[s,s]", "a", "b"))),
              B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", json_pack("[]"))),
              B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", json_pack("[i,s]", 1, AUD))),
              B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", json_pack("[[s]]", AUD))),
              B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", NULL)), B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", json_string("API://my-api"))),
              B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", json_string("api://my-api/"))),
              B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", json_string(""))),
              B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", json_integer(1))),
              B2C_VERDICT_BAD_AUDIENCE);
    ck_status(RS(claims_with("aud", json_pack("{s:s}", "a", AUD))),
              B2C_VERDICT_BAD_AUDIENCE);
    params.audiences = apr_array_make(ut_pool, 1, sizeof(const char *));
    ck_status(RS(claims()), B2C_VERDICT_BAD_AUDIENCE); /* fail closed */
}
END_TEST

START_TEST(check_order)
{
    json_t *c;

    /* bad signature wins over everything after it */
    c = claims_with("exp", json_integer(1));
    json_object_set_new(c, "aud", json_string("x"));
    ck_status(check(tk_rsa2048_other, "RS256", hdr("RS256", "k-rsa"), c),
              B2C_VERDICT_BAD_SIGNATURE);
    /* issuer before audience before time */
    c = claims_with("exp", json_integer(1));
    json_object_set_new(c, "aud", json_string("x"));
    json_object_set_new(c, "iss", json_string("x"));
    ck_status(RS(c), B2C_VERDICT_BAD_ISSUER);
    c = claims_with("exp", json_integer(1));
    json_object_set_new(c, "aud", json_string("x"));
    ck_status(RS(c), B2C_VERDICT_BAD_AUDIENCE);
    /* alg before kid */
    params.algs = B2C_ALG_ES256;
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "nope"), claims()),
              B2C_VERDICT_BAD_ALG);
}
END_TEST

START_TEST(malformed_tokens)
{
    static const char *bad[] = {
        "",    "abc",  "a.b",          "a.b.c.d",           "..",
        "...", "a..c", "Bearer x.y.z", "\xff\xfe.\x01.\x02"
    };
    char *tok = tk_sign(ut_pool, tk_rsa2048, "RS256",
                        tk_json(ut_pool, hdr("RS256", "k-rsa")),
                        tk_json(ut_pool, claims()));
    size_t i, n = B2C_JWT_MAX_BYTES + 10;
    char *big = apr_palloc(ut_pool, n + 1);
    unsigned char noise[512];

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_status(check_str(bad[i]), B2C_VERDICT_MALFORMED);
        ck_assert_ptr_null(res.jwt);
    }
    ck_status(
        check_str(apr_pstrcat(ut_pool, tok, ".", strrchr(tok, '.') + 1, NULL)),
        B2C_VERDICT_MALFORMED);
    ck_status(check_str(apr_pstrndup(ut_pool, tok,
                                     (apr_size_t)(strrchr(tok, '.') - tok))),
              B2C_VERDICT_MALFORMED);
    memset(big, 'A', n);
    memcpy(big, tok, strlen(tok));
    big[n] = '\0';
    ck_status(check_str(big), B2C_VERDICT_MALFORMED);
    /* random bytes in every length never crash */
    for (i = 0; i < sizeof(noise); i++)
        noise[i] = (unsigned char)((i * 131 + 7) ^ (i >> 3));
    for (i = 0; i < sizeof(noise); i++)
        ck_status(b2c_validate_token(ut_pool, (const char *)noise, i, jwks,
                                     &params, &res),
                  B2C_VERDICT_MALFORMED);
    ck_status(b2c_validate_token(ut_pool, NULL, 0, jwks, &params, &res),
              B2C_VERDICT_MALFORMED);
    /* a JSON claims set that is not an object */
    ck_status(
        check_str(tk_compact(ut_pool, "{\"alg\":\"RS256\",\"kid\":\"k-rsa\"}",
                             "[1]", (const unsigned char *)"s", 1)),
        B2C_VERDICT_MALFORMED);
}
END_TEST

START_TEST(status_names)
{
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_VALID), "valid");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_MALFORMED), "malformed");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_BAD_ALG), "bad_alg");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_UNKNOWN_KID),
                     "unknown_kid");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_BAD_SIGNATURE),
                     "bad_signature");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_BAD_ISSUER),
                     "bad_issuer");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_BAD_AUDIENCE),
                     "bad_audience");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_EXPIRED), "expired");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_NOT_YET_VALID),
                     "not_yet_valid");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_BAD_TIME), "bad_time");
    ck_assert_str_eq(b2c_token_status_name(B2C_VERDICT_FOREIGN), "foreign");
    ck_assert_str_eq(b2c_token_status_name((b2c_token_status_t)99), "unknown");
}
END_TEST

/* issue 11, finding 10: an iat beyond the clock skew in the future */
START_TEST(iat_in_future_refused)
{
    ck_status(RS(claims_with("iat", json_integer(UT_NOW + 301))),
              B2C_VERDICT_NOT_YET_VALID);
    ck_assert_str_eq(res.reason, "token issued in the future (iat)");
    ck_status(RS(claims_with("iat", json_integer(UT_NOW + 300))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with("iat", json_integer(UT_NOW + 86400 * 365))),
              B2C_VERDICT_NOT_YET_VALID);
    ck_status(RS(claims_with("iat", json_integer(9007199254740992LL))),
              B2C_VERDICT_NOT_YET_VALID);
    params.clock_skew = 0;
    ck_status(RS(claims_with("iat", json_integer(UT_NOW + 1))),
              B2C_VERDICT_NOT_YET_VALID);
    ck_status(RS(claims_with("iat", json_integer(UT_NOW))), B2C_VERDICT_VALID);
}
END_TEST

/* issue 11, finding 5: times are clamped before any arithmetic, so exp
 * 2^53 yields an exp a caller can turn into microseconds and add to */
START_TEST(huge_times_clamped)
{
    ck_status(RS(claims_with("exp", json_integer(9007199254740992LL))),
              B2C_VERDICT_VALID);
    ck_assert(res.exp == B2C_TIME_MAX);
    ck_assert(res.exp * 1000000 / 1000000 == B2C_TIME_MAX);
    ck_status(RS(claims_with("exp", json_integer(B2C_TIME_MAX + 1))),
              B2C_VERDICT_VALID);
    ck_assert(res.exp == B2C_TIME_MAX);
    ck_status(RS(claims_with("exp", json_integer(B2C_TIME_MAX))),
              B2C_VERDICT_VALID);
    ck_assert(res.exp == B2C_TIME_MAX);
    ck_status(RS(claims_with("nbf", json_integer(-9007199254740992LL))),
              B2C_VERDICT_VALID);
    ck_status(RS(claims_with("exp", json_integer(-9007199254740992LL))),
              B2C_VERDICT_EXPIRED);
    ck_status(RS(claims_with("nbf", json_integer(9007199254740992LL))),
              B2C_VERDICT_NOT_YET_VALID);
    params.now = LLONG_MAX; /* a caller's absurd clock is clamped too */
    ck_status(RS(claims()), B2C_VERDICT_EXPIRED);
    ck_assert(b2c_time_clamp(LLONG_MIN) == -B2C_TIME_MAX);
    ck_assert(b2c_time_clamp(0) == 0);
}
END_TEST

/* issue 11, finding 10: a JWKS listing one kid twice; each key is tried */
START_TEST(duplicate_kids_each_tried)
{
    jwks = tk_jwks(ut_pool, tk_jwk(tk_rsa2048_other, "dup", NULL, "sig", NULL),
                   tk_jwk(tk_rsa2048, "dup", NULL, "sig", NULL), NULL);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "dup"), claims()),
              B2C_VERDICT_VALID);
    ck_status(check(tk_rsa2048_other, "RS256", hdr("RS256", "dup"), claims()),
              B2C_VERDICT_VALID);
    ck_status(check(tk_rsa1024, "RS256", hdr("RS256", "dup"), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
    /* a first key that may not sign does not hide the second */
    jwks = tk_jwks(ut_pool, tk_jwk(tk_rsa2048, "dup", NULL, "enc", NULL),
                   tk_jwk(tk_rsa2048, "dup", "PS256", "sig", NULL),
                   tk_jwk(tk_rsa2048, "dup", NULL, "sig", NULL), NULL);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "dup"), claims()),
              B2C_VERDICT_VALID);
    jwks = tk_jwks(ut_pool, tk_jwk(tk_rsa2048, "dup", NULL, "enc", NULL),
                   tk_jwk(tk_rsa2048, "dup", "PS256", "sig", NULL), NULL);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", "dup"), claims()),
              B2C_VERDICT_BAD_SIGNATURE);
    /* two keys and no kid: still nothing to pick */
    jwks = tk_jwks(ut_pool, tk_jwk(tk_rsa2048_other, "dup", NULL, "sig", NULL),
                   tk_jwk(tk_rsa2048, "dup", NULL, "sig", NULL), NULL);
    ck_status(check(tk_rsa2048, "RS256", hdr("RS256", NULL), claims()),
              B2C_VERDICT_UNKNOWN_KID);
}
END_TEST

Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *t = tcase_create("decision");

    tcase_add_checked_fixture(t, setup, ut_teardown);
    tcase_add_test(t, valid_every_alg);
    tcase_add_test(t, alg_allow_list);
    tcase_add_test(t, alg_none_and_hmac);
    tcase_add_test(t, unknown_kid);
    tcase_add_test(t, no_kid_single_key);
    tcase_add_test(t, key_use_and_alg_rules);
    tcase_add_test(t, key_type_confusion);
    tcase_add_test(t, wrong_key_and_tampering);
    tcase_add_test(t, embedded_key_headers_ignored);
    tcase_add_test(t, nonce_header_is_foreign);
    tcase_add_test(t, crit_header_malformed);
    tcase_add_test(t, time_rules);
    tcase_add_test(t, issuer_exact);
    tcase_add_test(t, issuer_tenant_template);
    tcase_add_test(t, issuer_matches_function);
    tcase_add_test(t, key_issuer_rule);
    tcase_add_test(t, key_issuer_accepts_v1_token_of_same_tenant);
    tcase_add_test(t, real_entra_set_with_own_key);
    tcase_add_test(t, audience_rules);
    tcase_add_test(t, check_order);
    tcase_add_test(t, malformed_tokens);
    tcase_add_test(t, status_names);
    tcase_add_test(t, iat_in_future_refused);
    tcase_add_test(t, huge_times_clamped);
    tcase_add_test(t, duplicate_kids_each_tried);
    suite_add_tcase(s, t);
    return s;
}
