/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: the http(s) URL helper (b2c_url_parse, b2c_url_is_http/
 * is_https, b2c_url_same_origin). The input is a URL, cut at a NUL; from
 * a first '\n' on it is two URLs for the origin comparison. Checked: an
 * accepted URL holds no blank, control character or backslash, its scheme
 * is http or https in some case, its host is non-empty and lower case, its
 * port 1..65535; the flags only ever refuse more; same_origin is
 * symmetric and reflexive for URLs without user info. */
#include "fuzz_common.h"
#include "b2c_url.h"

#include <string.h>
#include <strings.h>

static void check_one(apr_pool_t *p, const char *url)
{
    b2c_url_t u;
    const char *err = NULL, *c;
    unsigned flags;

    if (b2c_url_parse(p, url, 0, &u, &err) != APR_SUCCESS) {
        FZ_CHECK(err != NULL);
        FZ_CHECK(!b2c_url_is_http(p, url) && !b2c_url_is_https(p, url));
        for (flags = 1; flags < 8; flags++)
            FZ_CHECK(b2c_url_parse(p, url, flags, NULL, &err) != APR_SUCCESS);
        return;
    }
    FZ_CHECK(err == NULL);
    for (c = url; *c; c++)
        FZ_CHECK((unsigned char)*c > 0x20 && *c != 0x7f && *c != '\\');
    FZ_CHECK(strncasecmp(url, u.https ? "https://" : "http://", u.https ? 8 : 7)
             == 0);
    FZ_CHECK(u.host && *u.host);
    for (c = u.host; *c; c++)
        FZ_CHECK(!(*c >= 'A' && *c <= 'Z'));
    FZ_CHECK(u.port >= 1);
    FZ_CHECK(b2c_url_is_http(p, url) && b2c_url_is_https(p, url) == u.https);
    FZ_CHECK(
        (b2c_url_parse(p, url, B2C_URL_NO_USERINFO, NULL, &err) == APR_SUCCESS)
        == (u.user == NULL));
    FZ_CHECK(
        (b2c_url_parse(p, url, B2C_URL_NO_QUERY, NULL, &err) == APR_SUCCESS)
        == (u.query == NULL));
    FZ_CHECK(
        (b2c_url_parse(p, url, B2C_URL_NO_FRAGMENT, NULL, &err) == APR_SUCCESS)
        == (u.fragment == NULL));
    FZ_CHECK(b2c_url_same_origin(p, url, url) == (u.user == NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    char *a = (char *)fz_cstr(p, data, size), *b = strchr(a, '\n');

    if (b)
        *b++ = '\0';
    check_one(p, a);
    if (b) {
        check_one(p, b);
        FZ_CHECK(b2c_url_same_origin(p, a, b) == b2c_url_same_origin(p, b, a));
    }
    apr_pool_destroy(p);
    return 0;
}
