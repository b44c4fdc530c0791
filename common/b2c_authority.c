/* SPDX-License-Identifier: Apache-2.0 */
/* MSAL-style authority URLs and the token endpoint they stand for
 * (see b2c_authority.h). */
#include "b2c_authority.h"
#include "b2c_url.h"

#include <apr_strings.h>
#include <string.h>

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && strncmp(s + len - n, suffix, n) == 0;
}

#define DISCOVERY_SUFFIX "/.well-known/openid-configuration"

const char *b2c_authority_token_endpoint(apr_pool_t *p, const char *authority,
                                         const char **err)
{
    const char *rest, *path, *seg;
    size_t len, plen;
    int oauth2_v2;

    *err = NULL;
    if (authority == NULL || *authority == '\0') {
        *err = "no authority URL";
        return NULL;
    }
    if (b2c_url_parse(p, authority,
                      B2C_URL_NO_USERINFO | B2C_URL_NO_QUERY
                          | B2C_URL_NO_FRAGMENT,
                      NULL, err)
        != APR_SUCCESS) {
        *err = apr_pstrcat(p, "the authority: ", *err, NULL);
        return NULL;
    }
    /* with no user info, query or fragment, the first '/' after "://"
     * starts the path */
    rest = strstr(authority, "://") + 3;
    len = strlen(authority);
    while (len > (size_t)(rest - authority) && authority[len - 1] == '/')
        len--;
    path = rest + strcspn(rest, "/");
    if (path > authority + len)
        path = authority + len;
    plen = (size_t)(authority + len - path);
    if (plen == 0) {
        *err = "the authority URL has no tenant path";
        return NULL;
    }
    /* path: RFC 3986 pchars except '@' (user info) and '%' plus '/';
     * '?' and '#' (query, fragment) and anything else are refused */
    if (strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789-._~!$&'()*+,;=:/")
        < plen) {
        *err = "the authority URL's path holds characters not allowed there "
               "(user info, query and fragment are not allowed)";
        return NULL;
    }
    if (ends_with(path, plen, DISCOVERY_SUFFIX))
        return NULL; /* a discovery document: the caller fetches it */
    oauth2_v2 = ends_with(path, plen, "/oauth2/v2.0");

    /* each segment non-empty, no dot segments, and no oauth2, v2.0 or
     * .well-known except in the suffixes we know: a token endpoint or a v1
     * authority must not turn into ".../token/oauth2/v2.0/token" */
    for (seg = path; seg < path + plen;) {
        const char *next =
            memchr(seg + 1, '/', (size_t)(path + plen - seg - 1));
        size_t slen = (size_t)((next ? next : path + plen) - seg - 1);
        const char *name = seg + 1;
        int last = next == NULL;
        int before_last =
            !last
            && memchr(next + 1, '/', (size_t)(path + plen - next - 1)) == NULL;

        if (slen == 0 || (slen == 1 && name[0] == '.')
            || (slen == 2 && name[0] == '.' && name[1] == '.')) {
            *err = "the authority URL has an empty or dot path segment";
            return NULL;
        }
        if ((slen == 6 && strncmp(name, "oauth2", 6) == 0
             && !(before_last && oauth2_v2))
            || (slen == 4 && strncmp(name, "v2.0", 4) == 0 && !last)
            || (slen == 11 && strncmp(name, ".well-known", 11) == 0)) {
            *err = "the authority URL is neither an authority (https://host/"
                   "TENANT[/v2.0]), nor .../oauth2/v2.0, nor a discovery URL";
            return NULL;
        }
        seg = next ? next : path + plen;
    }
    if (oauth2_v2) {
        if (plen == strlen("/oauth2/v2.0")) {
            *err = "the authority URL has no tenant before /oauth2/v2.0";
            return NULL;
        }
        return apr_pstrcat(p, apr_pstrndup(p, authority, len), "/token", NULL);
    }
    if (ends_with(path, plen, "/v2.0")) {
        if (plen == strlen("/v2.0")) {
            *err = "the authority URL has no tenant before /v2.0";
            return NULL;
        }
        len -= strlen("/v2.0");
    }
    return apr_pstrcat(p, apr_pstrndup(p, authority, len), "/oauth2/v2.0/token",
                       NULL);
}
