/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the one http(s) URL helper (b2c_url): schemes in any case,
 * ports, IPv6 literals, user info, queries and fragments, and origin
 * equality with default ports. */
#include "unit.h"
#include "b2c_url.h"

#include <string.h>

static b2c_url_t parse_ok(const char *url, unsigned flags)
{
    b2c_url_t u;
    const char *err = "unset";

    ck_assert_msg(b2c_url_parse(ut_pool, url, flags, &u, &err) == APR_SUCCESS,
                  "%s refused: %s", url, err);
    ck_assert_ptr_null(err);
    return u;
}

static void parse_refused(const char *url, unsigned flags)
{
    const char *err = NULL;

    ck_assert_msg(b2c_url_parse(ut_pool, url, flags, NULL, &err) == APR_EINVAL,
                  "%s accepted", url ? url : "(null)");
    ck_assert_ptr_nonnull(err);
}

START_TEST(schemes_any_case)
{
    b2c_url_t u = parse_ok("HTTPS://Login.Example.COM/t", 0);

    ck_assert_int_eq(u.https, 1);
    ck_assert_str_eq(u.scheme, "https");
    ck_assert_str_eq(u.host, "login.example.com");
    ck_assert_int_eq(u.port, 443);
    ck_assert_str_eq(u.path, "/t");
    u = parse_ok("HtTp://127.0.0.1/", 0);
    ck_assert_int_eq(u.https, 0);
    ck_assert_str_eq(u.scheme, "http");
    ck_assert_int_eq(u.port, 80);
    ck_assert(b2c_url_is_http(ut_pool, "HTTP://127.0.0.1:8080/x"));
    ck_assert(b2c_url_is_https(ut_pool, "hTTps://h/"));
    ck_assert(!b2c_url_is_https(ut_pool, "HTTP://h/"));
    ck_assert(!b2c_url_is_https(ut_pool, "ftp://h/"));
    ck_assert(!b2c_url_is_http(ut_pool, NULL));
}
END_TEST

START_TEST(ports)
{
    b2c_url_t u = parse_ok("https://h:8443/x", 0);

    ck_assert_int_eq(u.port, 8443);
    ck_assert_int_eq(parse_ok("http://h:443", 0).port, 443);
    ck_assert_ptr_null(parse_ok("http://h:443", 0).path);
    ck_assert_int_eq(parse_ok("https://h:/x", 0).port,
                     443); /* empty: default */
    parse_refused("https://h:0/x", 0);
    parse_refused("https://h:x/", 0);
    parse_refused("https://h:-1/", 0);
    parse_refused("https://h:99999/", 0);
}
END_TEST

START_TEST(ipv6_literals)
{
    b2c_url_t u = parse_ok("https://[::1]:8443/t", 0);

    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 8443);
    u = parse_ok("http://[2001:DB8::1]/", 0);
    ck_assert_str_eq(u.host, "2001:db8::1");
    ck_assert_int_eq(u.port, 80);
    parse_refused("http://[::1/", 0);
    parse_refused("http://[]/", 0);
    parse_refused("http://[zz::1]/", 0);
}
END_TEST

START_TEST(user_info)
{
    b2c_url_t u = parse_ok("https://user:pw@h/t", 0);

    ck_assert_str_eq(u.user, "user");
    ck_assert_str_eq(u.host, "h");
    ck_assert_ptr_null(parse_ok("https://h/t", 0).user);
    ck_assert_ptr_nonnull(parse_ok("https://@h/t", 0).user);
    parse_refused("https://user@h/t", B2C_URL_NO_USERINFO);
    parse_refused("https://@h/t", B2C_URL_NO_USERINFO);
    parse_refused("https://a@b@h/t", B2C_URL_NO_USERINFO);
    /* '@' in the path is no user info */
    ck_assert_ptr_null(parse_ok("https://h/t@x", B2C_URL_NO_USERINFO).user);
}
END_TEST

START_TEST(hosts_required)
{
    static const char *const junk[] = {
        "",
        "https://",
        "https:///t",
        "http://:80/",
        "https:h/t",
        "https:/h/t",
        "//h/t",
        "h/t",
        "https://ho st/t",
        "https://h/t x",
        "https://h/t\r\n",
        "https://h\\t/",
        "https://h%2e/",
        "https://h!/",
        "https://h/\t",
        "https://h\x7f/",
    };
    size_t i;

    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        parse_refused(junk[i], 0);
    parse_refused(NULL, 0);
}
END_TEST

START_TEST(other_schemes)
{
    static const char *const junk[] = {
        "ftp://h/",
        "file:///etc/passwd",
        "httpx://h/",
        "https+x://h/",
        "ldap://h/",
        "gopher://h/",
        "javascript:alert(1)",
        "data:,x",
        "ws://h/",
        "h:80/",
    };
    size_t i;

    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        parse_refused(junk[i], 0);
}
END_TEST

START_TEST(queries_and_fragments)
{
    b2c_url_t u = parse_ok("https://h/t?a=1#f", 0);

    ck_assert_str_eq(u.query, "a=1");
    ck_assert_str_eq(u.fragment, "f");
    ck_assert_str_eq(parse_ok("https://h/t#", 0).fragment, "");
    ck_assert_ptr_null(parse_ok("https://h/t", 0).fragment);
    ck_assert_ptr_null(parse_ok("https://h/t", 0).query);
    parse_refused("https://h/t#f", B2C_URL_NO_FRAGMENT);
    parse_refused("https://h/t#", B2C_URL_NO_FRAGMENT);
    parse_refused("https://h/t?x", B2C_URL_NO_QUERY);
    parse_refused("https://h?x", B2C_URL_NO_QUERY);
    parse_ok("https://h/t?x", B2C_URL_NO_FRAGMENT | B2C_URL_NO_USERINFO);
}
END_TEST

START_TEST(same_origin)
{
    ck_assert(b2c_url_same_origin(ut_pool, "https://H/x", "HTTPS://h:443/y?z"));
    ck_assert(b2c_url_same_origin(ut_pool, "http://h:80/", "http://h"));
    ck_assert(b2c_url_same_origin(ut_pool, "https://[::1]:8443/a",
                                  "https://[::1]:8443/b"));
    ck_assert(!b2c_url_same_origin(ut_pool, "https://h/", "http://h/"));
    ck_assert(!b2c_url_same_origin(ut_pool, "http://h:443/", "https://h/"));
    ck_assert(!b2c_url_same_origin(ut_pool, "https://h/", "https://h:8443/"));
    ck_assert(!b2c_url_same_origin(ut_pool, "https://h/", "https://h.evil/"));
    ck_assert(!b2c_url_same_origin(ut_pool, "https://h/", "https://evil/h/"));
    ck_assert(!b2c_url_same_origin(ut_pool, "https://h/", "https://h@evil/"));
    ck_assert(!b2c_url_same_origin(ut_pool, "https://u@h/", "https://u@h/"));
    ck_assert(!b2c_url_same_origin(ut_pool, "https://h/", "ftp://h/"));
    ck_assert(!b2c_url_same_origin(ut_pool, NULL, "https://h/"));
}
END_TEST

Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc = tcase_create("url");

    tcase_add_checked_fixture(tc, ut_setup, ut_teardown);
    tcase_add_test(tc, schemes_any_case);
    tcase_add_test(tc, ports);
    tcase_add_test(tc, ipv6_literals);
    tcase_add_test(tc, user_info);
    tcase_add_test(tc, hosts_required);
    tcase_add_test(tc, other_schemes);
    tcase_add_test(tc, queries_and_fragments);
    tcase_add_test(tc, same_origin);
    suite_add_tcase(s, tc);
    return s;
}
