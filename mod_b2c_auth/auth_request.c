/* SPDX-License-Identifier: Apache-2.0 */
/* The per-request state of mod_b2c_auth (see auth_request.h). */
#include "mod_b2c_auth.h"

#include <http_config.h>
#include <http_core.h>

b2c_auth_request_t *b2c_auth_request_get(request_rec *r, int create)
{
    b2c_auth_request_t *st =
        ap_get_module_config(r->request_config, &b2c_auth_module);
    request_rec *up = r;

    /* Sub-requests and internal redirects under the same configuration
     * skip authentication and inherit the user: inherit the claims too.
     * Only under the same configuration, as ap_process_request_internal
     * does for r->user: a redirect into a section that never checked a
     * token (another audience, Require all granted) inherits nothing. */
    while (!st && !create) {
        request_rec *from = up->prev ? up->prev : up->main;
        if (!from || from->per_dir_config != up->per_dir_config)
            break;
        up = from;
        st = ap_get_module_config(up->request_config, &b2c_auth_module);
    }
    if (!st && create) {
        st = apr_pcalloc(r->pool, sizeof(*st));
        ap_set_module_config(r->request_config, &b2c_auth_module, st);
    }
    return st;
}

int b2c_auth_is_bearer_request(request_rec *r)
{
    const char *type = ap_auth_type(r);
    return type && !strcasecmp(type, B2C_AUTH_TYPE);
}
