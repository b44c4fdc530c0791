/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the retry and expiry arithmetic of the token client
 * (b2c_backoff) and MSAL-style authority URLs (b2c_authority). */
#include "unit.h"
#include "b2c_authority.h"
#include "b2c_backoff.h"

#include <apr_date.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------------
 * timing
 */

START_TEST(retry_after_forms)
{
    ck_assert_int_eq(b2c_retry_after_seconds(NULL, UT_NOW), -1);
    ck_assert_int_eq(b2c_retry_after_seconds("", UT_NOW), -1);
    ck_assert_int_eq(b2c_retry_after_seconds("  ", UT_NOW), -1);
    ck_assert_int_eq(b2c_retry_after_seconds("0", UT_NOW), 0);
    ck_assert_int_eq(b2c_retry_after_seconds("120", UT_NOW), 120);
    ck_assert_int_eq(b2c_retry_after_seconds(" 120\t", UT_NOW), 120);
    ck_assert_int_eq(b2c_retry_after_seconds("86400", UT_NOW), 86400);
    ck_assert_int_eq(b2c_retry_after_seconds("86401", UT_NOW), 86400);
    ck_assert_int_eq(
        b2c_retry_after_seconds("99999999999999999999999999", UT_NOW), 86400);
    ck_assert_int_eq(b2c_retry_after_seconds("-1", UT_NOW), -1);
    ck_assert_int_eq(b2c_retry_after_seconds("+1", UT_NOW), -1);
    ck_assert_int_eq(b2c_retry_after_seconds("1.5", UT_NOW), -1);
    ck_assert_int_eq(b2c_retry_after_seconds("12abc", UT_NOW), -1);
    ck_assert_int_eq(b2c_retry_after_seconds("1 2", UT_NOW), -1);

    /* UT_NOW is Tue, 14 Nov 2023 22:13:20 GMT */
    ck_assert_int_eq(
        b2c_retry_after_seconds("Tue, 14 Nov 2023 22:14:20 GMT", UT_NOW), 60);
    ck_assert_int_eq(
        b2c_retry_after_seconds("Tue, 14 Nov 2023 22:13:20 GMT", UT_NOW), 0);
    ck_assert_int_eq(
        b2c_retry_after_seconds("Tue, 14 Nov 2023 22:12:20 GMT", UT_NOW), 0);
    ck_assert_int_eq(
        b2c_retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", UT_NOW), 0);
    ck_assert_int_eq(
        b2c_retry_after_seconds("Fri, 01 Jan 2100 00:00:00 GMT", UT_NOW),
        86400);
    ck_assert_int_eq(
        b2c_retry_after_seconds("Tuesday, 14-Nov-23 22:14:20 GMT", UT_NOW), 60);
    ck_assert_int_eq(
        b2c_retry_after_seconds("Tue Nov 14 22:14:20 2023", UT_NOW), 60);
    ck_assert_int_eq(
        b2c_retry_after_seconds("Tue, 99 Foo 2023 22:14:20 GMT", UT_NOW), -1);
    ck_assert_int_eq(b2c_retry_after_seconds("soon", UT_NOW), -1);
    ck_assert_int_eq(
        b2c_retry_after_seconds(
            "Tue, 14 Nov 2023 22:14:20 GMT                                   "
            "                                         x",
            UT_NOW),
        -1);
}
END_TEST

START_TEST(backoff)
{
    long long prev_lo = 0, prev_hi = 0;
    int f;

    /* equal jitter: between half and all of base * 2^(f-1), capped */
    ck_assert_int_eq(b2c_backoff_seconds(1, 2, 300, -1, 0.0), 1);
    ck_assert_int_eq(b2c_backoff_seconds(1, 2, 300, -1, 0.999), 2);
    ck_assert_int_eq(b2c_backoff_seconds(1, 1, 300, -1, 0.0), 1);
    ck_assert_int_eq(b2c_backoff_seconds(1, 1, 300, -1, 0.999), 1);
    ck_assert_int_eq(b2c_backoff_seconds(2, 5, 300, -1, 0.0), 5);
    ck_assert_int_eq(b2c_backoff_seconds(2, 5, 300, -1, 0.999), 10);
    ck_assert_int_eq(b2c_backoff_seconds(3, 5, 300, -1, 0.5), 15);
    ck_assert_int_eq(b2c_backoff_seconds(7, 5, 300, -1, 0.0), 150);
    ck_assert_int_eq(b2c_backoff_seconds(7, 5, 300, -1, 0.999), 300);
    for (f = 1; f <= 40; f++) {
        long long lo = b2c_backoff_seconds(f, 5, 300, -1, 0.0);
        long long hi = b2c_backoff_seconds(f, 5, 300, -1, 0.9999999);
        long long mid = b2c_backoff_seconds(f, 5, 300, -1, 0.5);
        ck_assert_int_ge(lo, prev_lo);
        ck_assert_int_ge(hi, prev_hi);
        ck_assert_int_le(lo, mid);
        ck_assert_int_le(mid, hi);
        ck_assert_int_ge(lo, 3);
        ck_assert_int_le(hi, 300);
        ck_assert_int_ge(2 * lo, hi);
        prev_lo = lo;
        prev_hi = hi;
        /* huge cap: no overflow, at most a day */
        ck_assert_int_le(b2c_backoff_seconds(f, 1000, LLONG_MAX, -1, 0.9999),
                         86400);
        ck_assert_int_ge(b2c_backoff_seconds(f, 1000, LLONG_MAX, -1, 0.0), 500);
    }
    ck_assert_int_eq(prev_lo, 150);
    ck_assert_int_eq(prev_hi, 300);
    ck_assert_int_eq(b2c_backoff_seconds(INT_MAX, 5, 300, -1, 0.0), 150);
    ck_assert_int_eq(b2c_backoff_seconds(INT_MAX, 1, LLONG_MAX, -1, 0.9999999),
                     86400);

    /* Retry-After wins, even beyond cap, but never beyond a day */
    ck_assert_int_eq(b2c_backoff_seconds(1, 5, 300, 1000, 0.0), 1000);
    ck_assert_int_eq(b2c_backoff_seconds(1, 5, 300, 200000, 0.0), 86400);
    ck_assert_int_eq(b2c_backoff_seconds(7, 5, 300, 10, 0.999), 300);
    ck_assert_int_eq(b2c_backoff_seconds(1, 5, 300, 0, 0.0), 3);

    /* odd inputs */
    ck_assert_int_eq(b2c_backoff_seconds(0, 5, 300, -1, 0.5), 0);
    ck_assert_int_eq(b2c_backoff_seconds(-3, 5, 300, 7, 0.5), 7);
    ck_assert_int_eq(b2c_backoff_seconds(3, 0, 300, -1, 0.5), 0);
    ck_assert_int_eq(b2c_backoff_seconds(3, -5, 300, -1, 0.5), 0);
    ck_assert_int_eq(b2c_backoff_seconds(1, 500, 300, -1, 0.0),
                     150); /* base > cap */
    ck_assert_int_eq(b2c_backoff_seconds(1, 10, 300, -1, NAN), 5);
    ck_assert_int_eq(b2c_backoff_seconds(1, 10, 300, -1, -1.0), 5);
    ck_assert_int_eq(b2c_backoff_seconds(1, 10, 300, -1, 1.0), 10);
    ck_assert_int_eq(b2c_backoff_seconds(1, 10, 300, -1, 7.5), 10);
}
END_TEST

START_TEST(token_lifetimes)
{
    long long t = UT_NOW, life;

    /* refresh at 80%, but >= 30 s before expiry, but not before half way */
    ck_assert_int_eq(b2c_token_refresh_at(t, 3599), t + 2880);
    ck_assert_int_eq(b2c_token_refresh_at(t, 3600), t + 2880);
    ck_assert_int_eq(b2c_token_refresh_at(t, 150), t + 120);
    ck_assert_int_eq(b2c_token_refresh_at(t, 100), t + 70);
    ck_assert_int_eq(b2c_token_refresh_at(t, 60), t + 30);
    ck_assert_int_eq(b2c_token_refresh_at(t, 10), t + 5);
    ck_assert_int_eq(b2c_token_refresh_at(t, 2), t + 1);
    ck_assert_int_eq(b2c_token_refresh_at(t, 1), t + 0);
    ck_assert_int_eq(b2c_token_refresh_at(t, 0), t);
    ck_assert_int_eq(b2c_token_refresh_at(t, -5), t);
    ck_assert_int_eq(b2c_token_refresh_at(t, 86400), t + 69120);

    /* usable until 5 s (or a tenth of the life) before expiry */
    ck_assert_int_eq(b2c_token_usable_until(t, 3599), t + 3594);
    ck_assert_int_eq(b2c_token_usable_until(t, 60), t + 55);
    ck_assert_int_eq(b2c_token_usable_until(t, 50), t + 45);
    ck_assert_int_eq(b2c_token_usable_until(t, 49), t + 45);
    ck_assert_int_eq(b2c_token_usable_until(t, 10), t + 9);
    ck_assert_int_eq(b2c_token_usable_until(t, 9), t + 9);
    ck_assert_int_eq(b2c_token_usable_until(t, 1), t + 1);
    ck_assert_int_eq(b2c_token_usable_until(t, 0), t);
    ck_assert_int_eq(b2c_token_usable_until(t, -1), t);

    for (life = 1; life <= 100000; life++) {
        long long r = b2c_token_refresh_at(t, life),
                  u = b2c_token_usable_until(t, life);
        ck_assert_int_le(t, r);
        ck_assert_int_le(r, u);
        ck_assert_int_le(u, t + life);
        ck_assert_int_ge(u, t + life - 5);
        ck_assert_int_ge(r, t + life / 2);
        if (life >= 2)
            ck_assert_int_lt(r, u);
        if (life >= 60)
            ck_assert_int_le(r, t + life - 30);
    }
    /* no overflow at the edges */
    ck_assert_int_eq(b2c_token_refresh_at(LLONG_MAX - 10, 3600), LLONG_MAX);
    ck_assert_int_eq(b2c_token_usable_until(LLONG_MAX - 10, 3600), LLONG_MAX);
    ck_assert_int_eq(b2c_token_refresh_at(0, LLONG_MAX),
                     LLONG_MAX - LLONG_MAX / 5);
    ck_assert_int_eq(b2c_token_usable_until(0, LLONG_MAX), LLONG_MAX - 5);
}
END_TEST

/* ---------------------------------------------------------------------
 * authorities
 */

static void expect_endpoint(const char *authority, const char *endpoint)
{
    const char *err = "unset";
    const char *got = b2c_authority_token_endpoint(ut_pool, authority, &err);

    ck_assert_msg(got != NULL, "%s: %s", authority, err);
    ck_assert_ptr_null(err);
    ck_assert_str_eq(got, endpoint);
}

START_TEST(authorities)
{
    static const char *const junk[] = {
        "",
        "login.microsoftonline.com/t",
        "ftp://host/t",
        "https://",
        "https:///t",
        "https://host",
        "https://host/",
        "https://host//",
        "https://user@host/t",
        "https://user:pw@host/t",
        "https://host/t@x",
        "https://host/t?x=1",
        "https://host/t#frag",
        "https://host/t/?x",
        "https://host?x",
        "https://host/t/oauth2/v2.0/token",
        "https://host/t/oauth2/token",
        "https://host/t/oauth2",
        "https://host/t/oauth2/",
        "https://host/oauth2/v2.0",
        "https://host/v2.0",
        "https://host/t/v2.0/x",
        "https://host/oauth2/t",
        "https://host//t",
        "https://host/t//v2.0",
        "https://host/t/../x",
        "https://host/./t",
        "https://host/t x",
        "https://host/t\r\n",
        "https://host/t/.well-known/other",
        "https://host/t/.well-known",
        "https://host/t%2Fx",
        "https://ho st/t",
        "https://host\\t",
    };
    const char *err;
    size_t i;

    expect_endpoint(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/"
        "token");
    expect_endpoint(
        "https://login.microsoftonline.com/"
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47"
        "/oauth2/v2.0/token");
    expect_endpoint(
        "https://login.microsoftonline.com/TENANT/v2.0",
        "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token");
    expect_endpoint(
        "https://login.microsoftonline.com/TENANT/",
        "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token");
    expect_endpoint(
        "https://login.microsoftonline.com/TENANT/v2.0/",
        "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token");
    expect_endpoint(
        "https://login.microsoftonline.com/TENANT/oauth2/v2.0//",
        "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token");
    expect_endpoint("http://127.0.0.1:8080/tenant",
                    "http://127.0.0.1:8080/tenant/oauth2/v2.0/token");
    expect_endpoint("https://[::1]:8443/tenant/v2.0",
                    "https://[::1]:8443/tenant/oauth2/v2.0/token");
    /* Azure AD B2C: tenant and policy */
    expect_endpoint(
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_cc",
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_cc"
        "/oauth2/v2.0/token");
    expect_endpoint(
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_cc/v2.0/",
        "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_cc"
        "/oauth2/v2.0/token");

    /* discovery documents: the caller fetches them */
    err = "unset";
    ck_assert_ptr_null(b2c_authority_token_endpoint(
        ut_pool,
        "https://login.microsoftonline.com/TENANT/v2.0/.well-known/"
        "openid-configuration",
        &err));
    ck_assert_ptr_null(err);
    err = "unset";
    ck_assert_ptr_null(b2c_authority_token_endpoint(
        ut_pool,
        "https://accounts.example.com/.well-known/openid-configuration/",
        &err));
    ck_assert_ptr_null(err);

    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        err = NULL;
        ck_assert_msg(b2c_authority_token_endpoint(ut_pool, junk[i], &err)
                          == NULL,
                      "accepted %s", junk[i]);
        ck_assert_msg(err != NULL, "no error for %s", junk[i]);
    }
    err = NULL;
    ck_assert_ptr_null(b2c_authority_token_endpoint(ut_pool, NULL, &err));
    ck_assert_ptr_nonnull(err);
}
END_TEST

Suite *authority_backoff_suite(void)
{
    Suite *s = suite_create("authority_backoff");
    TCase *timing = tcase_create("timing");
    TCase *authority = tcase_create("authority");

    tcase_add_test(timing, retry_after_forms);
    tcase_add_test(timing, backoff);
    tcase_add_test(timing, token_lifetimes);
    suite_add_tcase(s, timing);

    tcase_add_checked_fixture(authority, ut_setup, ut_teardown);
    tcase_add_test(authority, authorities);
    suite_add_tcase(s, authority);
    return s;
}
