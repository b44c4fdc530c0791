/* SPDX-License-Identifier: Apache-2.0 */
/* Claims to the application: the fixups that put a validated token's
 * claims into the environment (CGI, PHP, SSI) and, when configured, into
 * request headers for a proxied backend, and that drop claim headers and
 * variables this request did not earn. */
#include "mod_b2c_auth.h"
#include "claim_export.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <http_config.h>

/* "x-b2c-claim-..." in any case, with '_' standing for '-' (CGI and some
 * backends treat them alike). */
static int is_claim_header(const char *name)
{
    static const char prefix[] = B2C_CLAIM_HEADER_PREFIX;
    size_t i;

    for (i = 0; i < sizeof(prefix) - 1; i++) {
        char c = name[i] == '_' ? '-' : name[i];
        if (!c || apr_tolower(c) != apr_tolower(prefix[i]))
            return 0;
    }
    return 1;
}

static void unset_matching(apr_pool_t *p, apr_table_t *t,
                           int (*match)(const char *))
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_array_header_t *doomed = NULL;
    int i;

    for (i = 0; i < arr->nelts; i++)
        if (e[i].key && match(e[i].key)) {
            if (!doomed)
                doomed = apr_array_make(p, 2, sizeof(const char *));
            APR_ARRAY_PUSH(doomed, const char *) = e[i].key;
        }
    for (i = 0; doomed && i < doomed->nelts; i++)
        apr_table_unset(t, APR_ARRAY_IDX(doomed, i, const char *));
}

/* B2C_CLAIM_*, and the REDIRECT_B2C_CLAIM_* (REDIRECT_REDIRECT_...) copies
 * httpd makes of an earlier request's variables on an internal redirect. */
static int is_claim_env(const char *name)
{
    while (!strncmp(name, "REDIRECT_", 9))
        name += 9;
    return !strncmp(name, B2C_CLAIM_ENV_PREFIX,
                    sizeof(B2C_CLAIM_ENV_PREFIX) - 1);
}

/* Claim headers can only come from us: drop whatever the client sent. */
int b2c_auth_strip_claim_headers(request_rec *r)
{
    if (b2c_auth_is_bearer_request(r))
        unset_matching(r->pool, r->headers_in, is_claim_header);
    return DECLINED;
}

/* Did a request this one was redirected from or is a sub-request of put
 * claim headers into the headers_in it shares or copied? */
static int inherits_claim_headers(request_rec *r)
{
    request_rec *up;

    for (up = r->prev ? r->prev : r->main; up;
         up = up->prev ? up->prev : up->main) {
        b2c_auth_request_t *st =
            ap_get_module_config(up->request_config, &b2c_auth_module);
        if (st && st->headers_exported)
            return 1;
    }
    return 0;
}

int b2c_auth_export_claims(request_rec *r)
{
    const b2c_auth_dir_conf_t *conf;
    b2c_auth_request_t *st;
    int env, headers, i, nheaders = 0, cut = 0;
    apr_size_t bytes = 0;

    if (!b2c_auth_is_bearer_request(r)) {
        /* an internal redirect shares r->headers_in with the request that
         * got our claim headers; a sub-request copied them: not for here */
        if ((r->prev || r->main) && inherits_claim_headers(r))
            unset_matching(r->pool, r->headers_in, is_claim_header);
        return DECLINED;
    }
    unset_matching(r->pool, r->headers_in, is_claim_header);
    unset_matching(r->pool, r->subprocess_env, is_claim_env);
    st = b2c_auth_request_get(r, 0);
    if (!st || st->outcome != B2C_REQ_VALID)
        return DECLINED;
    conf = ap_get_module_config(r->per_dir_config, &b2c_auth_module);
    env = conf->claims_env != 0; /* default on */
    headers = conf->claims_headers == 1;
    /* Rendered when the token was first seen, with distinct names; r holds
     * the verdict. Appending to the environment is enough: every claim
     * variable was unset above. */
    for (i = 0; i < st->nexports; i++) {
        const b2c_claim_export_t *x = &st->exports[i];
        apr_size_t len;
        if (env)
            apr_table_addn(r->subprocess_env, x->env, x->text);
        if (headers) {
            /* '-' rather than '_': CGI and many proxies drop names with '_' */
            char *h =
                apr_pstrcat(r->pool, B2C_CLAIM_HEADER_PREFIX,
                            x->env + sizeof(B2C_CLAIM_ENV_PREFIX) - 1, NULL);
            char *u;
            /* A backend refuses a request with too many or too large
             * header fields (httpd: 100 fields, 8190 bytes each, 431 or
             * 400): headers stop at the bounds, the environment does not. */
            len = strlen(h) + strlen(x->text) + 2;
            if (nheaders >= B2C_CLAIM_HEADERS_MAX
                || len > B2C_CLAIM_HEADER_MAX_BYTES
                || bytes + len > B2C_CLAIM_HEADERS_MAX_BYTES) {
                cut++;
                continue;
            }
            for (u = h; *u; u++)
                if (*u == '_')
                    *u = '-';
            /* set: header names compare without case ("Sub", "sub") */
            apr_table_setn(r->headers_in, h, x->text);
            nheaders++;
            bytes += len;
            st->headers_exported = 1;
        }
    }
    if (cut)
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            B2CLOGNO(
                01109) "%d claim header(s) not passed on: at most %d headers "
                       "of %d bytes each, %d bytes in all",
            cut, B2C_CLAIM_HEADERS_MAX, B2C_CLAIM_HEADER_MAX_BYTES,
            B2C_CLAIM_HEADERS_MAX_BYTES);
    return DECLINED;
}
