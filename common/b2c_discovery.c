/* SPDX-License-Identifier: Apache-2.0 */
/* OpenID Connect discovery documents (OpenID Connect Discovery 1.0 §3):
 * pull out the few members we use, copied into the caller's pool, and let
 * the (possibly large) JSON document go. */
#include "b2c_discovery.h"
#include "b2c_json.h"
#include "b2c_url.h"

#include <apr_strings.h>
#include <string.h>

/* An absolute http(s) URL without spaces or control characters, which
 * would otherwise travel into logs and HTTP requests. */
static int url_acceptable(apr_pool_t *p, const char *url)
{
    return url != NULL && b2c_url_is_http(p, url);
}

apr_status_t b2c_discovery_parse(apr_pool_t *p, const char *buf, size_t len,
                                 b2c_discovery_t **out, const char **err)
{
    apr_pool_t *tmp;
    json_t *root;
    const char *issuer, *jwks_uri, *token_endpoint;
    b2c_discovery_t *d;
    apr_status_t rv;

    *out = NULL;
    if ((rv = apr_pool_create(&tmp, p)) != APR_SUCCESS) {
        *err = "out of memory";
        return rv;
    }
    rv = b2c_json_parse_object(tmp, buf, len, &root, err);
    if (rv != APR_SUCCESS) {
        *err = apr_pstrcat(p, "discovery: ", *err, NULL);
        goto out;
    }
    issuer = b2c_json_string(root, "issuer");
    jwks_uri = b2c_json_string(root, "jwks_uri");
    token_endpoint = b2c_json_string(root, "token_endpoint");
    rv = APR_EINVAL;
    if (issuer == NULL || *issuer == '\0') {
        *err = "discovery: issuer missing or not a string";
        goto out;
    }
    if (jwks_uri == NULL || *jwks_uri == '\0') {
        *err = "discovery: jwks_uri missing or not a string";
        goto out;
    }
    if (!url_acceptable(tmp, jwks_uri)) {
        *err = "discovery: jwks_uri is not an http(s) URL";
        goto out;
    }
    d = apr_pcalloc(p, sizeof(*d));
    d->issuer = apr_pstrdup(p, issuer);
    d->jwks_uri = apr_pstrdup(p, jwks_uri);
    /* Optional, and only the token client needs it: a bad value is
     * dropped rather than failing the validator's metadata. */
    d->token_endpoint = url_acceptable(tmp, token_endpoint)
                            ? apr_pstrdup(p, token_endpoint)
                            : NULL;
    *out = d;
    rv = APR_SUCCESS;
out:
    apr_pool_destroy(tmp);
    return rv;
}
