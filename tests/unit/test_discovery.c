/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: OpenID Connect discovery documents (b2c_discovery), real and
 * malformed. */
#include "unit.h"
#include "b2c_discovery.h"

#include <string.h>

static b2c_discovery_t *parse_file(const char *rel)
{
    size_t len;
    char *doc = tk_read_data(ut_pool, rel, &len);
    b2c_discovery_t *d = NULL;
    const char *err = NULL;

    ck_assert_msg(b2c_discovery_parse(ut_pool, doc, len, &d, &err)
                      == APR_SUCCESS,
                  "%s: %s", rel, err);
    return d;
}

static apr_status_t parse_str(const char *doc, b2c_discovery_t **d,
                              const char **err)
{
    return b2c_discovery_parse(ut_pool, doc, strlen(doc), d, err);
}

START_TEST(real_entra_common)
{
    b2c_discovery_t *d = parse_file("entra-common/openid-configuration.json");

    ck_assert_str_eq(d->issuer,
                     "https://login.microsoftonline.com/{tenantid}/v2.0");
    ck_assert_str_eq(
        d->jwks_uri,
        "https://login.microsoftonline.com/common/discovery/v2.0/keys");
    ck_assert_str_eq(
        d->token_endpoint,
        "https://login.microsoftonline.com/common/oauth2/v2.0/token");
}
END_TEST

START_TEST(real_entra_organizations)
{
    b2c_discovery_t *d =
        parse_file("entra-organizations/openid-configuration.json");

    ck_assert_str_eq(d->issuer,
                     "https://login.microsoftonline.com/{tenantid}/v2.0");
    ck_assert_str_eq(
        d->jwks_uri,
        "https://login.microsoftonline.com/organizations/discovery/v2.0/keys");
}
END_TEST

START_TEST(real_google)
{
    b2c_discovery_t *d = parse_file("google/openid-configuration.json");

    ck_assert_str_eq(d->issuer, "https://accounts.google.com");
    ck_assert_str_eq(d->jwks_uri, "https://www.googleapis.com/oauth2/v3/certs");
    ck_assert_str_eq(d->token_endpoint, "https://oauth2.googleapis.com/token");
}
END_TEST

START_TEST(minimal_and_optional)
{
    b2c_discovery_t *d;
    const char *err;

    ck_assert_int_eq(parse_str("{\"issuer\":\"https://i/"
                               "\",\"jwks_uri\":\"http://127.0.0.1:8080/k\"}",
                               &d, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(d->jwks_uri, "http://127.0.0.1:8080/k");
    ck_assert_ptr_null(d->token_endpoint);
    ck_assert_int_eq(parse_str("{\"issuer\":\"i\",\"jwks_uri\":\"https://k\","
                               "\"token_endpoint\":5}",
                               &d, &err),
                     APR_SUCCESS);
    ck_assert_ptr_null(d->token_endpoint);
    ck_assert_int_eq(parse_str("{\"issuer\":\"i\",\"jwks_uri\":\"https://k\","
                               "\"token_endpoint\":\"ftp://t\"}",
                               &d, &err),
                     APR_SUCCESS);
    ck_assert_ptr_null(d->token_endpoint);
}
END_TEST

START_TEST(malformed)
{
    static const char *docs[] = {
        "",
        "[]",
        "null",
        "{}",
        "{\"issuer\":\"i\"}",
        "{\"jwks_uri\":\"https://k\"}",
        "{\"issuer\":\"\",\"jwks_uri\":\"https://k\"}",
        "{\"issuer\":5,\"jwks_uri\":\"https://k\"}",
        "{\"issuer\":\"i\",\"jwks_uri\":\"\"}",
        "{\"issuer\":\"i\",\"jwks_uri\":[\"https://k\"]}",
        "{\"issuer\":\"i\",\"jwks_uri\":\"file:///etc/passwd\"}",
        "{\"issuer\":\"i\",\"jwks_uri\":\"https://\"}",
        "{\"issuer\":\"i\",\"jwks_uri\":\"//k/keys\"}",
        "{\"issuer\":\"i\",\"jwks_uri\":\"https://k/a b\"}",
        "{\"issuer\":\"i\",\"jwks_uri\":\"https://k/\\r\\nX: y\"}",
        "{\"issuer\":\"i\",\"issuer\":\"j\",\"jwks_uri\":\"https://k\"}",
        "{\"issuer\":\"i\",\"jwks_uri\":\"https://k\"} trailing",
        "{\"issuer\":\"i\",\"jwks_uri\":\"https://k\"",
    };
    b2c_discovery_t *d;
    const char *err;
    size_t i;

    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        err = NULL;
        ck_assert_msg(parse_str(docs[i], &d, &err) == APR_EINVAL,
                      "accepted case %zu", i);
        ck_assert_ptr_null(d);
        ck_assert_ptr_nonnull(err);
    }
    {
        static const char nul[] =
            "{\"issuer\":\"i\",\"jwks_uri\":\"https://k\"}\0";
        ck_assert_int_eq(
            b2c_discovery_parse(ut_pool, nul, sizeof(nul) - 1, &d, &err),
            APR_EINVAL);
    }
}
END_TEST

Suite *discovery_suite(void)
{
    Suite *s = suite_create("discovery");
    TCase *t = tcase_create("discovery");

    tcase_add_checked_fixture(t, ut_setup, ut_teardown);
    tcase_add_test(t, real_entra_common);
    tcase_add_test(t, real_entra_organizations);
    tcase_add_test(t, real_google);
    tcase_add_test(t, minimal_and_optional);
    tcase_add_test(t, malformed);
    suite_add_tcase(s, t);
    return s;
}
