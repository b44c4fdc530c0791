/* SPDX-License-Identifier: Apache-2.0 */
/* The one place http(s) URLs are checked: a parse on apr_uri_parse with
 * the scheme compared case-insensitively (as libcurl does), a host
 * required, and the few questions callers ask of a URL (is it https, do
 * two URLs share an origin). Every URL the modules fetch or compare goes
 * through here, so the configuration check and the fetch agree. */
#ifndef B2C_URL_H
#define B2C_URL_H

#include <apr_pools.h>
#include <apr_network_io.h>

/* Extra refusals on top of the always-on rules (see b2c_url_parse). */
#define B2C_URL_NO_USERINFO 0x1 /* "user@host" can disguise the host */
#define B2C_URL_NO_QUERY    0x2
#define B2C_URL_NO_FRAGMENT 0x4

typedef struct {
    int https;            /* 1 for https, 0 for http */
    const char *scheme;   /* "http" or "https", lower case */
    const char *host;     /* lower case; an IPv6 literal without [] */
    apr_port_t port;      /* as written, else 80 or 443 */
    const char *user;     /* user info as written, or NULL */
    const char *path;     /* as written, or NULL when empty */
    const char *query;    /* after '?', or NULL when there is no '?' */
    const char *fragment; /* after '#', or NULL when there is no '#' */
} b2c_url_t;

/* Parse an absolute http or https URL (scheme in any case). Always
 * refused: other schemes, no host, a host with characters other than
 * letters, digits, '-', '.', '_' (or an IPv6 literal in []), port 0 or a
 * non-numeric port, spaces, control characters and backslashes anywhere.
 * `flags` adds the B2C_URL_NO_* refusals. APR_EINVAL with *err (a short
 * phrase, no URL bytes) on refusal; out may be NULL. */
apr_status_t b2c_url_parse(apr_pool_t *p, const char *url, unsigned flags,
                           b2c_url_t *out, const char **err);

/* b2c_url_parse(url, 0) succeeds. */
int b2c_url_is_http(apr_pool_t *p, const char *url);

/* b2c_url_parse(url, 0) succeeds and the scheme is https. */
int b2c_url_is_https(apr_pool_t *p, const char *url);

/* Both parse with no user info, and scheme, host (case-insensitively) and
 * effective port are equal: "https://H" == "HTTPS://h:443/x". */
int b2c_url_same_origin(apr_pool_t *p, const char *a, const char *b);

#endif
