/* SPDX-License-Identifier: Apache-2.0 */
/* Fetching one URL's keys (see b2c_key_fetch.h). */
#include "b2c_key_fetch.h"

#include <apr_strings.h>

#include "b2c_discovery.h"
#include "b2c_http.h"
#include "b2c_url.h"

static apr_status_t fetch_json(apr_pool_t *p, const char *what, const char *url,
                               size_t max, b2c_http_options_t *ho,
                               b2c_http_response_t *resp, const char **err)
{
    apr_status_t rv;

    ho->max_body = max;
    rv = b2c_http_get(p, url, ho, resp, err);
    if (rv == APR_SUCCESS && resp->status != 200) {
        *err = apr_psprintf(p, "%s answered HTTP %ld", what, resp->status);
        rv = APR_EGENERAL;
    }
    else if (rv != APR_SUCCESS)
        *err = apr_psprintf(p, "%s fetch failed: %s", what, *err);
    return rv;
}

/* Discovery document, then its JWKS, from the identity platform. */
apr_status_t b2c_key_fetch_documents(apr_pool_t *p, const char *url,
                                     int jwks_same_origin,
                                     const apr_array_header_t *allowed_addrs,
                                     long timeout_ms, const char *ca_file,
                                     const char **issuer, const char **jwks,
                                     size_t *jwks_len, const char **err)
{
    b2c_http_options_t ho = { timeout_ms, timeout_ms,       0,
                              ca_file,    jwks_same_origin, allowed_addrs };
    b2c_http_response_t resp;
    b2c_discovery_t *disc;
    apr_status_t rv;

    rv = fetch_json(p, "discovery document", url, B2C_KEY_DISCOVERY_MAX_BYTES,
                    &ho, &resp, err);
    if (rv == APR_SUCCESS
        && (rv = b2c_discovery_parse(p, resp.body, resp.body_len, &disc, err))
               != APR_SUCCESS)
        *err = apr_psprintf(p, "discovery document rejected: %s", *err);
    if (rv == APR_SUCCESS && jwks_same_origin
        && !b2c_url_same_origin(p, url, disc->jwks_uri)) {
        *err = "discovery document rejected: its jwks_uri is on another host "
               "than the metadata URL set in .htaccess";
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS)
        rv = fetch_json(p, "JWKS", disc->jwks_uri, B2C_KEY_JWKS_MAX_BYTES, &ho,
                        &resp, err);
    if (rv == APR_SUCCESS) {
        *issuer = disc->issuer;
        *jwks = resp.body;
        *jwks_len = resp.body_len;
    }
    return rv;
}

const char *b2c_key_fetch_trust_key(apr_pool_t *p, const char *url,
                                    int same_origin, const char *ca_file,
                                    const apr_array_header_t *allowed_addrs)
{
    const char *addrs = "";

    if (same_origin && allowed_addrs)
        addrs = apr_array_pstrcat(p, allowed_addrs, ' ');
    return apr_pstrcat(p, same_origin ? "h" : "c", "\n",
                       ca_file ? "f:" : "system", ca_file ? ca_file : "", "\n",
                       addrs, "\n", url, NULL);
}
