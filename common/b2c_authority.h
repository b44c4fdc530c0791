/* SPDX-License-Identifier: Apache-2.0 */
/* MSAL-style authority URLs: which token endpoint an authority stands
 * for, or that it is a discovery document to fetch first. */
#ifndef B2C_AUTHORITY_H
#define B2C_AUTHORITY_H

#include <apr_pools.h>

/* Token endpoint for an MSAL-style authority:
 *   https://login.microsoftonline.com/TENANT/oauth2/v2.0 → .../oauth2/v2.0/token
 *   https://login.microsoftonline.com/TENANT            → .../TENANT/oauth2/v2.0/token
 *   https://login.microsoftonline.com/TENANT/v2.0       → .../TENANT/oauth2/v2.0/token
 * (trailing '/' ignored; TENANT may be several segments, as B2C's
 * TENANT/POLICY). NULL when url is a discovery document
 * (ends in /.well-known/openid-configuration): fetch it and use its
 * token_endpoint. *err set when the URL is none of these, is not http(s),
 * or has user info, a query or a fragment (a token endpoint URL itself is
 * refused too). */
const char *b2c_authority_token_endpoint(apr_pool_t *p, const char *authority,
                                         const char **err);

#endif
