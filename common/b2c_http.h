/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded HTTP fetches with libcurl, for metadata, key sets and token
 * requests. No httpd headers. Every call is synchronous and bounded by a
 * total timeout and a body-size limit; redirects are never followed. */
#ifndef B2C_HTTP_H
#define B2C_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    long timeout_ms; /* total time for the exchange */
    long connect_timeout_ms;
    size_t max_body;     /* larger answers fail with APR_ENOSPC */
    const char *ca_file; /* NULL: the system store */
    /* Set for fetches a .htaccess file named: connect to no loopback,
     * link-local, private or other internal address (checked on the
     * address DNS gave, so an allowed name cannot lead inside) except the
     * numeric addresses listed in allowed_addrs (the operator named them). */
    int refuse_internal;
    const apr_array_header_t *allowed_addrs; /* of const char *, or NULL */
} b2c_http_options_t;

typedef struct {
    long status;      /* HTTP status, 0 when no answer */
    const char *body; /* NUL-terminated (the NUL is not in body_len) */
    size_t body_len;
    const char *content_type; /* may be NULL */
    const char *retry_after;  /* Retry-After header or NULL */
} b2c_http_response_t;

struct sockaddr;

/* 1 if sa is an address a customer's fetch must not reach: IPv4 0/8,
 * 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16, 224/3; IPv6
 * ::, ::1, fc00::/7, fe80::/10, ff00::/8, and IPv4-mapped forms of those. */
int b2c_http_address_is_internal(const struct sockaddr *sa);

/* Call once per process before any fetch (curl_global_init). */
apr_status_t b2c_http_global_init(void);

/* GET url. headers: NULL or a table of extra request headers. On transport
 * errors returns non-success with *err set (no URL query strings, no
 * credentials in it). A non-2xx answer is APR_SUCCESS with its status.
 * APR_EACCES when refuse_internal kept it from an internal address. */
apr_status_t b2c_http_get(apr_pool_t *p, const char *url,
                          const b2c_http_options_t *opts,
                          b2c_http_response_t *resp, const char **err);

/* POST an application/x-www-form-urlencoded body. */
apr_status_t b2c_http_post_form(apr_pool_t *p, const char *url,
                                const apr_table_t *headers, const char *form,
                                const b2c_http_options_t *opts,
                                b2c_http_response_t *resp, const char **err);

#endif
