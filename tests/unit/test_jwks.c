/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: JWKS parsing (b2c_jwks) against the real Entra and Google
 * documents in tests/data and against generated keys. */
#include "unit.h"
#include "b2c_jwks.h"

#include <apr_strings.h>
#include <string.h>

static b2c_jwks_t *parse_file(const char *rel, int nkeys)
{
    size_t len;
    char *doc = tk_read_data(ut_pool, rel, &len);
    b2c_jwks_t *set = NULL;
    const char *err = NULL;

    ck_assert_msg(b2c_jwks_parse(ut_pool, doc, len, &set, &err) == APR_SUCCESS,
                  "%s: %s", rel, err);
    ck_assert_int_eq(set->nkeys, nkeys);
    ck_assert_int_eq(set->nskipped, 0);
    return set;
}

static apr_status_t parse_str(const char *doc, b2c_jwks_t **set,
                              const char **err)
{
    return b2c_jwks_parse(ut_pool, doc, strlen(doc), set, err);
}

START_TEST(real_entra_common)
{
    b2c_jwks_t *set = parse_file("entra-common/jwks.json", 7);
    const b2c_jwk_t *k;
    int i;

    for (i = 0; i < set->nkeys; i++) {
        ck_assert_str_eq(set->keys[i].kty, "RSA");
        ck_assert_str_eq(set->keys[i].use, "sig");
        ck_assert_ptr_nonnull(set->keys[i].issuer);
        ck_assert_ptr_nonnull(set->keys[i].pkey);
        ck_assert_ptr_null(set->keys[i].alg);
    }
    k = b2c_jwks_find_key(set, "d-Zi0Gbus4sEaOqXgU8pMvYc3KI");
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->issuer,
                     "https://login.microsoftonline.com/{tenantid}/v2.0");
    k = b2c_jwks_find_key(set, "iE89_EVhreMiV2-8rKE2zWBUm3M");
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->issuer, "https://login.microsoftonline.com/"
                                "9188040d-6c67-4c5b-b112-36a304b66dad/v2.0");
    ck_assert_ptr_null(b2c_jwks_find_key(set, "no-such-kid"));
    ck_assert_ptr_null(
        b2c_jwks_find_key(set, "d-zi0gbus4seaoqxgu8pmvyc3ki")); /* exact */
    ck_assert_ptr_null(b2c_jwks_find_key(set, NULL)); /* several keys, no kid */
}
END_TEST

START_TEST(real_entra_organizations)
{
    b2c_jwks_t *set = parse_file("entra-organizations/jwks.json", 6);

    ck_assert_ptr_nonnull(
        b2c_jwks_find_key(set, "Fdkuxg4kKVKOWUdliHLR1HArDmg"));
    ck_assert_str_eq(
        b2c_jwks_find_key(set, "Mc7l3Iz93g7uwgNeEmmw_WYGPko")->issuer,
        "https://login.microsoftonline.com/{tenantid}/v2.0");
}
END_TEST

START_TEST(real_google)
{
    b2c_jwks_t *set = parse_file("google/jwks.json", 2);
    const b2c_jwk_t *k =
        b2c_jwks_find_key(set, "c88d809f4db943df53da7accfd47764d05ba391f");

    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->alg, "RS256");
    ck_assert_ptr_null(k->issuer);
    ck_assert_str_eq(set->keys[0].alg, "RS256");
}
END_TEST

/* Our own key dropped into Microsoft's real set, as the test IdP serves it. */
START_TEST(real_entra_mixed_with_own_key)
{
    size_t len;
    char *doc = tk_read_data(ut_pool, "entra-common/jwks.json", &len);
    json_error_t jerr;
    json_t *root = json_loadb(doc, len, 0, &jerr);
    b2c_jwks_t *set = NULL;
    const char *err;
    char *mixed;

    ck_assert_ptr_nonnull(root);
    json_array_append_new(
        json_object_get(root, "keys"),
        tk_jwk(tk_rsa2048, "own-key", NULL, "sig",
               "https://login.microsoftonline.com/{tenantid}/v2.0"));
    json_array_append_new(json_object_get(root, "keys"),
                          tk_jwk(tk_ec256, "own-ec", "ES256", NULL, NULL));
    mixed = tk_json(ut_pool, root);
    ck_assert_int_eq(parse_str(mixed, &set, &err), APR_SUCCESS);
    ck_assert_int_eq(set->nkeys, 9);
    ck_assert_ptr_nonnull(b2c_jwks_find_key(set, "own-key"));
    ck_assert_str_eq(b2c_jwks_find_key(set, "own-ec")->crv, "P-256");
    ck_assert_ptr_nonnull(
        b2c_jwks_find_key(set, "Mc7l3Iz93g7uwgNeEmmw_WYGPko"));
}
END_TEST

START_TEST(generated_keys_all_types)
{
    b2c_jwks_t *set =
        tk_jwks(ut_pool, tk_jwk(tk_rsa2048, "r", NULL, NULL, NULL),
                tk_jwk(tk_ec256, "e256", NULL, NULL, NULL),
                tk_jwk(tk_ec384, "e384", NULL, NULL, NULL),
                tk_jwk(tk_ec521, "e521", NULL, NULL, NULL), NULL);

    ck_assert_int_eq(set->nkeys, 4);
    ck_assert_str_eq(b2c_jwks_find_key(set, "e521")->crv, "P-521");
    ck_assert_str_eq(b2c_jwks_find_key(set, "e384")->kty, "EC");
    ck_assert_str_eq(b2c_jwks_find_key(set, "r")->kty, "RSA");
}
END_TEST

START_TEST(single_key_without_kid)
{
    b2c_jwks_t *set =
        tk_jwks(ut_pool, tk_jwk(tk_rsa2048, NULL, NULL, NULL, NULL), NULL);

    ck_assert_ptr_eq(b2c_jwks_find_key(set, NULL), &set->keys[0]);
    ck_assert_ptr_null(b2c_jwks_find_key(set, "x"));
}
END_TEST

START_TEST(unusable_keys_skipped)
{
    json_t *priv = tk_jwk(tk_rsa2048, "priv", NULL, NULL, NULL);
    json_t *enc = tk_jwk(tk_rsa2048, "enc", NULL, "enc", NULL);
    json_t *bad_kid = tk_jwk(tk_rsa2048, NULL, NULL, NULL, NULL);
    json_t *bad_issuer = tk_jwk(tk_rsa2048, "bi", NULL, NULL, NULL);
    json_t *ops = tk_jwk(tk_rsa2048, "ops", NULL, NULL, NULL);
    b2c_jwks_t *set;

    json_object_set_new(priv, "d", json_string("AQAB"));
    json_object_set_new(bad_kid, "kid", json_integer(7));
    json_object_set_new(bad_issuer, "issuer", json_true());
    json_object_set_new(ops, "key_ops", json_pack("[s]", "encrypt"));
    set = tk_jwks(
        ut_pool, priv, enc, bad_kid, bad_issuer, ops,
        json_pack("{s:s,s:s,s:s}", "kty", "oct", "kid", "hmac", "k",
                  "c2VjcmV0"),
        json_pack("{s:s,s:s,s:s,s:s}", "kty", "OKP", "crv", "Ed25519", "x",
                  "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid", "ed"),
        json_pack("{s:s}", "kid", "no-kty"), json_string("not an object"),
        tk_jwk(tk_ec256, "good", NULL, "sig", NULL), NULL);
    ck_assert_int_eq(set->nkeys, 1);
    ck_assert_int_eq(set->nskipped, 9);
    ck_assert_ptr_nonnull(b2c_jwks_find_key(set, "good"));
    ck_assert_ptr_null(b2c_jwks_find_key(set, "hmac"));
    ck_assert_ptr_null(b2c_jwks_find_key(set, "enc"));
    ck_assert_ptr_null(b2c_jwks_find_key(set, "priv"));
}
END_TEST

START_TEST(rsa_1024_refused)
{
    char *doc = tk_jwks_doc(
        ut_pool, tk_jwk(tk_rsa1024, "small", NULL, NULL, NULL), NULL);
    b2c_jwks_t *set;
    const char *err = NULL;

    ck_assert_int_eq(parse_str(doc, &set, &err),
                     APR_EINVAL); /* no usable key */
    ck_assert_ptr_nonnull(err);
    set = tk_jwks(ut_pool, tk_jwk(tk_rsa1024, "small", NULL, NULL, NULL),
                  tk_jwk(tk_rsa2048, "big", NULL, NULL, NULL), NULL);
    ck_assert_int_eq(set->nkeys, 1);
    ck_assert_ptr_null(b2c_jwks_find_key(set, "small"));
}
END_TEST

START_TEST(rsa_bad_exponent_and_members)
{
    json_t *e1 = tk_jwk(tk_rsa2048, "e1", NULL, NULL, NULL);
    json_t *even = tk_jwk(tk_rsa2048, "even", NULL, NULL, NULL);
    json_t *padded = tk_jwk(tk_rsa2048, "pad", NULL, NULL, NULL);
    json_t *no_n = tk_jwk(tk_rsa2048, "non", NULL, NULL, NULL);
    b2c_jwks_t *set;

    json_object_set_new(e1, "e", json_string("AQ"));        /* e = 1 */
    json_object_set_new(even, "e", json_string("AQAA"));    /* e = 65536 */
    json_object_set_new(padded, "e", json_string("AQAB=")); /* not base64url */
    json_object_del(no_n, "n");
    set = tk_jwks(ut_pool, e1, even, padded, no_n,
                  tk_jwk(tk_rsa2048, "ok", NULL, NULL, NULL), NULL);
    ck_assert_int_eq(set->nkeys, 1);
    ck_assert_int_eq(set->nskipped, 4);
}
END_TEST

START_TEST(ec_bad_points_skipped)
{
    json_t *off = tk_jwk(tk_ec256, "off", NULL, NULL, NULL);
    json_t *shortx = tk_jwk(tk_ec256, "short", NULL, NULL, NULL);
    json_t *wrongcrv = tk_jwk(tk_ec256, "crv", NULL, NULL, NULL);
    json_t *k1 = tk_jwk(tk_ec256, "k1", NULL, NULL, NULL);
    b2c_jwks_t *set;
    const char *y;
    char *flipped;

    /* Change one character of y: the point leaves the curve. */
    y = json_string_value(json_object_get(off, "y"));
    flipped = apr_pstrdup(ut_pool, y);
    flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
    json_object_set_new(off, "y", json_string(flipped));
    json_object_set_new(shortx, "x", json_string("AQAB"));
    json_object_set_new(wrongcrv, "crv", json_string("P-384"));
    json_object_set_new(k1, "crv", json_string("secp256k1"));
    set = tk_jwks(ut_pool, off, shortx, wrongcrv, k1,
                  tk_jwk(tk_ec384, "ok", NULL, NULL, NULL), NULL);
    ck_assert_int_eq(set->nkeys, 1);
    ck_assert_int_eq(set->nskipped, 4);
}
END_TEST

START_TEST(bad_documents)
{
    static const char *docs[] = {
        "",
        "[]",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":[]}",
        "{\"keys\":\"x\"}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AQAB\"}]}",
        "{\"keys\":[],\"keys\":[]}",
        "{\"keys\":[1,2,3]}",
        "not json"
    };
    b2c_jwks_t *set;
    const char *err;
    size_t i;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        err = NULL;
        ck_assert_msg(parse_str(docs[i], &set, &err) == APR_EINVAL,
                      "accepted %zu", i);
        ck_assert_ptr_null(set);
        ck_assert_ptr_nonnull(err);
    }
}
END_TEST

START_TEST(find_key_null_set)
{
    ck_assert_ptr_null(b2c_jwks_find_key(NULL, "x"));
    ck_assert_ptr_null(b2c_jwks_find_key(NULL, NULL));
}
END_TEST

Suite *jwks_suite(void)
{
    Suite *s = suite_create("jwks");
    TCase *real = tcase_create("real documents");
    TCase *gen = tcase_create("generated keys");

    tcase_add_checked_fixture(real, ut_setup, ut_teardown);
    tcase_add_test(real, real_entra_common);
    tcase_add_test(real, real_entra_organizations);
    tcase_add_test(real, real_google);
    tcase_add_test(real, real_entra_mixed_with_own_key);
    suite_add_tcase(s, real);

    tcase_add_checked_fixture(gen, ut_setup, ut_teardown);
    tcase_add_test(gen, generated_keys_all_types);
    tcase_add_test(gen, single_key_without_kid);
    tcase_add_test(gen, unusable_keys_skipped);
    tcase_add_test(gen, rsa_1024_refused);
    tcase_add_test(gen, rsa_bad_exponent_and_members);
    tcase_add_test(gen, ec_bad_points_skipped);
    tcase_add_test(gen, bad_documents);
    tcase_add_test(gen, find_key_null_set);
    suite_add_tcase(s, gen);
    return s;
}
