/* SPDX-License-Identifier: Apache-2.0 */
/* http(s) URL parsing and comparison on apr_uri_parse (see b2c_url.h). */
#include "b2c_url.h"

#include <apr_strings.h>
#include <apr_uri.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_CHARS                                                             \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"                     \
    "0123456789-._"

/* Spaces, control characters and backslashes: apr_uri_parse would take
 * them, libcurl or a log line would not, and '\' is read as '/' by some
 * parsers (a disguised host). */
static int clean(const char *url)
{
    for (; *url; url++) {
        unsigned char c = (unsigned char)*url;
        if (c <= 0x20 || c == 0x7f || c == '\\')
            return 0;
    }
    return 1;
}

/* apr_uri_parse leaves an IPv6 literal's brackets off hostname. */
static int host_ok(const char *host, int bracketed)
{
    if (*host == '\0')
        return 0;
    if (bracketed)
        return strspn(host, "0123456789abcdefABCDEF:.") == strlen(host)
               && strchr(host, ':') != NULL;
    return strspn(host, HOST_CHARS) == strlen(host);
}

apr_status_t b2c_url_parse(apr_pool_t *p, const char *url, unsigned flags,
                           b2c_url_t *out, const char **err)
{
    apr_uri_t u;
    b2c_url_t r;
    const char *hostinfo;
    char *host;

    *err = NULL;
    if (url == NULL || *url == '\0') {
        *err = "no URL";
        return APR_EINVAL;
    }
    if (!clean(url)) {
        *err = "the URL holds a space, control character or backslash";
        return APR_EINVAL;
    }
    if (apr_uri_parse(p, url, &u) != APR_SUCCESS) {
        *err = "the URL cannot be parsed";
        return APR_EINVAL;
    }
    memset(&r, 0, sizeof(r));
    if (u.scheme && strcasecmp(u.scheme, "https") == 0)
        r.https = 1;
    else if (!u.scheme || strcasecmp(u.scheme, "http") != 0) {
        *err = "the URL is not an http or https URL";
        return APR_EINVAL;
    }
    /* "http:x" has a scheme but no "//authority" */
    hostinfo = u.hostinfo;
    if (strncmp(url + strlen(u.scheme), "://", 3) != 0 || hostinfo == NULL
        || u.hostname == NULL
        || !host_ok(u.hostname, strchr(hostinfo, '[') != NULL)) {
        *err = "the URL has no valid host";
        return APR_EINVAL;
    }
    /* apr_uri_parse reads "-1" as 65535: digits only, 1 to 65535 */
    if (u.port_str && *u.port_str
        && (strspn(u.port_str, "0123456789") != strlen(u.port_str)
            || strlen(u.port_str) > 5 || atoi(u.port_str) < 1
            || atoi(u.port_str) > 65535)) {
        *err = "the URL has an invalid port";
        return APR_EINVAL;
    }
    r.scheme = r.https ? "https" : "http";
    host = apr_pstrdup(p, u.hostname);
    for (char *c = host; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    r.host = host;
    r.port = u.port_str && *u.port_str ? (apr_port_t)atoi(u.port_str)
                                       : (r.https ? 443 : 80);
    r.user = u.user || strchr(hostinfo, '@') ? (u.user ? u.user : "") : NULL;
    r.path = u.path && *u.path ? u.path : NULL;
    r.query = u.query;
    r.fragment = u.fragment;
    if ((flags & B2C_URL_NO_USERINFO) && r.user) {
        *err = "the URL has user info";
        return APR_EINVAL;
    }
    if ((flags & B2C_URL_NO_QUERY) && r.query) {
        *err = "the URL has a query";
        return APR_EINVAL;
    }
    if ((flags & B2C_URL_NO_FRAGMENT) && r.fragment) {
        *err = "the URL has a fragment";
        return APR_EINVAL;
    }
    if (out)
        *out = r;
    return APR_SUCCESS;
}

int b2c_url_is_http(apr_pool_t *p, const char *url)
{
    const char *err;
    return b2c_url_parse(p, url, 0, NULL, &err) == APR_SUCCESS;
}

int b2c_url_is_https(apr_pool_t *p, const char *url)
{
    b2c_url_t u;
    const char *err;
    return b2c_url_parse(p, url, 0, &u, &err) == APR_SUCCESS && u.https;
}

int b2c_url_same_origin(apr_pool_t *p, const char *a, const char *b)
{
    b2c_url_t ua, ub;
    const char *err;

    return b2c_url_parse(p, a, B2C_URL_NO_USERINFO, &ua, &err) == APR_SUCCESS
           && b2c_url_parse(p, b, B2C_URL_NO_USERINFO, &ub, &err) == APR_SUCCESS
           && ua.https == ub.https && ua.port == ub.port
           && strcmp(ua.host, ub.host) == 0;
}
